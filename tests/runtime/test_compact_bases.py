"""Compact (factored) artifacts against the dense pipelines of before (kernels and PDOs).

The expanded filters of layers built from compact artifacts must equal the dense expansion of
before (``tests/dense_reference.py``) with the same weights, on every gspace family, mixed field
types, quotient and induced representations, dilation, basis filters and transposed convolution;
every runtime path (dense, compact with either change of basis first) must agree. PDO artifacts
(every discretisation) expand to the dense PDO basis of before, and PDO artifacts stored dense
before they became compact are still read.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from cache import Record
from e2compile import gspaces
from e2compile.compiler import BasisArtifact, compile
from e2compile.diffops.kind import pdo_spec
from e2compile.kernels import compact
from e2compile.kernels.kind import kernel_spec
from e2compile.specs import ALGORITHM_VERSION
from runtime import bases, nn
from runtime.nn.modules.conv import functional as F
from runtime.nn.modules.conv.basis_expansion import SingleBlockBasisExpansion
from tests.dense_reference import dense_basis

PATHS = [None, "dense", "compact"]


@pytest.fixture(autouse=True)
def _float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _types(gs):
    """Mixed input/output types with regular, irreps, quotient, induced and trivial fields."""
    family, g = gs.family, gs.fibergroup
    if family == "rot2d" and gs.N > 0:
        induced = gs.induced_repr(2, g.subgroup(2)[0].irrep(1))
        reps_in = [gs.regular_repr, gs.irrep(1), gs.trivial_repr, gs.quotient_repr(2)]
        reps_out = [gs.trivial_repr, induced, gs.irrep(1), gs.regular_repr]
    elif family == "rot2d":
        reps_in = [gs.irrep(0), gs.irrep(1), gs.irrep(2), gs.irrep(1)]
        reps_out = [gs.irrep(1), gs.irrep(0), gs.irrep(3)]
    elif family == "fliprot2d" and gs.N > 0:
        induced = gs.induced_repr((None, 2), g.subgroup((None, 2))[0].irrep(1))
        reps_in = [gs.regular_repr, gs.irrep(1, 1), induced, gs.quotient_repr((None, 2))]
        reps_out = [gs.irrep(1, 0), gs.regular_repr, gs.trivial_repr, gs.irrep(1, 1)]
    elif family == "fliprot2d":
        reps_in = [gs.irrep(0, 0), gs.irrep(1, 0), gs.irrep(1, 1), gs.irrep(1, 2)]
        reps_out = [gs.irrep(1, 1), gs.irrep(0, 0), gs.irrep(1, 0)]
    elif family == "flip2d":
        reps_in = [gs.regular_repr, gs.trivial_repr, gs.irrep(1)]
        reps_out = [gs.irrep(1), gs.regular_repr, gs.trivial_repr]
    else:
        reps_in, reps_out = [gs.trivial_repr] * 2, [gs.trivial_repr] * 3
    return nn.FieldType(gs, reps_in), nn.FieldType(gs, reps_out)


SPACES = {
    "C6": lambda: gspaces.Rot2dOnR2(6),
    "SO2": lambda: gspaces.Rot2dOnR2(-1, maximum_frequency=4),
    "D4": lambda: gspaces.FlipRot2dOnR2(4),
    "O2": lambda: gspaces.FlipRot2dOnR2(-1, maximum_frequency=3),
    "Flip": lambda: gspaces.Flip2dOnR2(axis=0.3),
    "Trivial": lambda: gspaces.TrivialOnR2(),
}


def dense_reference_filter(conv) -> torch.Tensor:
    """The layer's filter as version 1 expanded it: dense bases, one product per pair."""
    expansion = conv.basisexpansion
    bases = [
        [torch.from_numpy(dense_basis(block.spec)[block.attributes["element"]]) for block in row]
        for row in expansion._grid()
    ]
    filt = F.expand_filter(
        conv.weights, bases, expansion._slots, expansion._out_index, expansion._in_index
    )
    k = conv.kernel_size
    filt = filt.reshape(filt.shape[0], filt.shape[1], k, k)
    return filt.transpose(0, 1) if conv._transposed else filt


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b).norm() / b.norm()).detach())


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("space", SPACES)
def test_filters_equal_the_dense_expansion(space, path, monkeypatch):
    monkeypatch.setattr(SingleBlockBasisExpansion, "force_path", path)
    gs = SPACES[space]()
    in_type, out_type = _types(gs)
    for cls, kwargs in (
        (nn.R2Conv, {"kernel_size": 5}),
        (nn.R2Conv, {"kernel_size": 3, "dilation": 2}),
        (nn.R2ConvTransposed, {"kernel_size": 5}),
    ):
        conv = cls(in_type, out_type, **kwargs)
        blocks = [b for b in conv.basisexpansion.blocks if b.dimension()]
        assert path is None or all(b.path == path for b in blocks)
        filt, _ = conv.expand_parameters()
        assert _relative(filt, dense_reference_filter(conv)) < 1e-12, (cls, kwargs)


def test_basis_filter_and_float32(monkeypatch):
    gs = gspaces.FlipRot2dOnR2(8)
    t = nn.FieldType(gs, [gs.regular_repr] * 2 + [gs.irrep(1, 2)])
    torch.set_default_dtype(torch.float32)
    for path in PATHS:
        monkeypatch.setattr(SingleBlockBasisExpansion, "force_path", path)
        conv = nn.R2Conv(t, t, 5, basis_filter=lambda attr: attr["frequency"] != 1)
        filt, _ = conv.expand_parameters()
        assert filt.dtype == torch.float32
        ref = dense_reference_filter(conv.double())
        assert _relative(filt.double(), ref) < 1e-6, path


@given(
    n=st.sampled_from([2, 3, 4, 8]),
    k=st.integers(1, 6),
    dilation=st.integers(1, 2),
    flip=st.booleans(),
)
def test_compact_artifact_expands_to_the_dense_basis(n, k, dilation, flip):
    gs = gspaces.FlipRot2dOnR2(n) if flip else gspaces.Rot2dOnR2(n)
    r = gs.regular_repr
    spec = kernel_spec(gs, r, gs.quotient_repr((None, n) if flip else n) + r, k, dilation=dilation)
    artifact = compile(spec)
    want = dense_basis(spec)
    assert artifact.basis.shape == want.shape
    if want.size:
        assert np.abs(artifact.basis - want).max() <= 1e-12 * np.abs(want).max()


def test_artifact_is_small_and_the_dense_array_is_never_formed():
    gs = gspaces.FlipRot2dOnR2(16)
    spec = kernel_spec(gs, gs.regular_repr, gs.regular_repr, 5)
    artifact = compile(spec)
    dense_bytes = artifact.dim * 32 * 32 * 25 * 8
    assert artifact.nbytes * 50 < dense_bytes  # 69 MiB dense, about 0.3 MiB compact
    rows = np.arange(0, artifact.dim, 7)
    np.testing.assert_array_equal(artifact.dense_basis(rows), artifact.basis[rows])
    chunks = list(
        compact.dense_chunks(
            artifact.blocks,
            artifact.attributes["out_irrep_position"],
            artifact.attributes["in_irrep_position"],
            *artifact.padded_changes_of_basis(),
            chunk_bytes=2**20,
        )
    )
    assert len(chunks) > 1 and all(c.nbytes <= 2**20 for _, c in chunks)


def test_old_dense_records_are_refused_with_a_clear_message():
    gs = gspaces.Rot2dOnR2(4)
    artifact = compile(kernel_spec(gs, gs.regular_repr, gs.regular_repr, 3))
    arrays, meta = artifact.to_record()
    old_spec = meta["spec"].replace(
        f'"algorithm_version":{ALGORITHM_VERSION}', '"algorithm_version":1'
    )
    old = dict(meta, spec=old_spec, format="e2compile.basis/1", algorithm_version=1)
    dense = {k: v for k, v in arrays.items() if k.startswith("attr.") or k == "bias_basis"}
    with pytest.raises(ValueError, match="algorithm_version 1"):
        BasisArtifact.from_record(dict(dense, basis=artifact.basis), old)


def test_bad_compact_arrays_are_rejected():
    gs = gspaces.Rot2dOnR2(4)
    artifact = compile(kernel_spec(gs, gs.regular_repr, gs.irrep(1), 3))
    arrays, meta = artifact.to_record()
    for name, value, match in (
        ("blocks", arrays["blocks"][..., :4], "blocks"),
        ("q_out", np.eye(3), "q_out"),
        ("out_irrep_sizes", np.asarray([3]), "out_irrep_sizes"),
        ("attr.out_irrep_position", arrays["attr.out_irrep_position"] + 5, "outside"),
    ):
        with pytest.raises(ValueError, match=match):
            BasisArtifact.from_record(dict(arrays, **{name: value}), meta)
    del arrays["q_in_inv"]
    with pytest.raises(ValueError, match="q_in_inv"):
        BasisArtifact.from_record(arrays, meta)


def test_slot_layout_rebuilds_the_dense_basis():
    gs = gspaces.FlipRot2dOnR2(4)
    spec = kernel_spec(gs, gs.regular_repr + gs.irrep(1, 1), gs.irrep(0, 0) + gs.regular_repr, 3)
    artifact = compile(spec)
    out_position = artifact.attributes["out_irrep_position"]
    in_position = artifact.attributes["in_irrep_position"]
    slot_blocks, index, in_index = compact.slot_layout(
        artifact.blocks, out_position, in_position, artifact.out_irrep_sizes
    )
    o, i = artifact.shape
    assert slot_blocks.shape[:2] == index.shape == in_index.shape
    assert slot_blocks.shape[0] == o and slot_blocks.shape[2:] == (2, artifact.points)
    counts = np.bincount(out_position, minlength=artifact.out_irrep_sizes.size)
    assert index.shape[1] == counts.max()
    _, q_in = artifact.padded_changes_of_basis()
    half = np.einsum("smyp,smyi->smip", slot_blocks, q_in.reshape(-1, 2, i)[in_index])
    dense = np.zeros((artifact.dim, o, i, artifact.points))
    for s, m in zip(*np.nonzero(np.abs(slot_blocks).sum(axis=(2, 3)))):
        dense[index[s, m]] += np.einsum("o,ip->oip", artifact.q_out[:, s], half[s, m])
    np.testing.assert_allclose(dense, artifact.basis, atol=1e-12)


@pytest.mark.parametrize("n_out, n_in", [(1, 1), (3, 1), (1, 4), (2, 3), (3, 40), (5, 2)])
def test_both_compact_layouts_match_the_dense_product_and_its_gradient(n_out, n_in):
    """``expand_compact`` lays its sums out output field first when there are many input fields
    (``(3, 40)`` here) and slot first otherwise: values and gradients equal the dense product."""
    gs = gspaces.Rot2dOnR2(4)
    artifact = compile(kernel_spec(gs, gs.regular_repr, gs.regular_repr + gs.irrep(1), 3))
    blocks = {}
    for path in ("dense", "compact"):
        SingleBlockBasisExpansion.force_path = path
        try:
            blocks[path] = SingleBlockBasisExpansion(artifact)
        finally:
            SingleBlockBasisExpansion.force_path = None
    assert blocks["compact"].coefficient_index.shape[1] * 3 <= 2 * 40  # (3, 40): outputs first
    weights = torch.randn(n_out * n_in * artifact.dim, requires_grad=True)
    probe = torch.randn(n_out * artifact.shape[0], n_in * artifact.shape[1], artifact.points)
    results = {}
    for path, block in blocks.items():
        filt = block.expand(weights, n_out, n_in)
        (grad,) = torch.autograd.grad((filt * probe).sum(), weights)
        results[path] = filt.detach(), grad
    for got, want in zip(results["compact"], results["dense"]):
        assert _relative(got, want) < 1e-12


def test_runtime_buffers_shrink_and_rebuild():
    torch.set_default_dtype(torch.float32)
    gs = gspaces.FlipRot2dOnR2(16)
    t = nn.FieldType(gs, [gs.regular_repr] * 4)
    conv = nn.R2Conv(t, t, 7)
    (block,) = conv.basisexpansion.blocks
    assert block.path != "dense"
    dense_bytes = block.dimension() * 32 * 32 * 49 * 4
    assert block.buffer_bytes() * 20 < dense_bytes
    before, _ = conv.expand_parameters()
    with torch.device("meta"):
        empty = nn.R2Conv(t, t, 7)
    empty.to_empty(device="cpu")
    empty.load_state_dict(conv.state_dict())
    after, _ = empty.expand_parameters()
    torch.testing.assert_close(before, after)
    double = conv.double()  # re-derived in float64 from the artifact, not widened float32
    assert double.basisexpansion.blocks[0].slot_blocks.dtype == torch.float64
    assert _relative(double.expand_parameters()[0], dense_reference_filter(double)) < 1e-12


def test_cost_model_paths_and_bad_force_path(monkeypatch):
    """Regular fields at 7x7 go compact (their buffers shrink by about O/2 * 8), a first layer of
    trivial fields stays dense; an unknown ``force_path`` is refused by name."""
    gs = gspaces.Rot2dOnR2(16)
    trivial = nn.FieldType(gs, [gs.trivial_repr] * 3)
    regular = nn.FieldType(gs, [gs.regular_repr] * 8)
    (first,) = nn.R2Conv(trivial, regular, 7).basisexpansion.blocks
    (inner,) = nn.R2Conv(regular, regular, 7).basisexpansion.blocks
    assert (first.path, inner.path) == ("dense", "compact")
    assert inner.buffer_bytes() * 40 < inner.dimension() * 16 * 16 * 49 * 8
    # one big field pair: reading its dense basis dominates, so it goes compact too
    d16 = gspaces.FlipRot2dOnR2(16)
    single = nn.FieldType(d16, [d16.regular_repr])
    (big,) = nn.R2Conv(single, single, 5).basisexpansion.blocks
    assert big.path == "compact" and big.buffer_bytes() * 10 < big.dimension() * 32 * 32 * 25 * 4
    monkeypatch.setattr(SingleBlockBasisExpansion, "force_path", "in_first")
    with pytest.raises(ValueError, match="force_path"):
        nn.R2Conv(regular, regular, 3)


# ------------------------------------------------------------------------------------ PDOs
PDO_METHODS = {
    "fd": {},
    "rbffd": {"method": "rbffd"},
    "gauss": {"method": "gauss", "smoothing": 1.0},
}
PDO_GRIDS = [
    {"kernel_size": 5},
    {"kernel_size": 3, "dilation": 2},
    {"kernel_size": 5, "maximum_order": 3, "maximum_power": 1, "angle_offset": 0.3},
]


@pytest.mark.parametrize(
    "method", ["fd", pytest.param("rbffd", marks=pytest.mark.extra("pdo")), "gauss"]
)
@pytest.mark.parametrize("space", SPACES)
def test_compact_pdo_artifacts_expand_to_the_dense_basis(space, method):
    gs = SPACES[space]()
    in_type, out_type = _types(gs)
    ins = {r.name: r for r in in_type.representations}.values()
    outs = {r.name: r for r in out_type.representations}.values()
    compared = 0
    for grid in PDO_GRIDS:
        for in_repr in ins:
            for out_repr in outs:
                spec = pdo_spec(gs, in_repr, out_repr, **grid, **PDO_METHODS[method])
                artifact = compile(spec)
                want = dense_basis(spec)
                assert artifact.dim == want.shape[0], (grid, in_repr, out_repr)
                if want.size:
                    assert artifact.compact and artifact.blocks.shape[0] == artifact.dim
                    got = artifact.dense_basis()
                    assert np.abs(got - want).max() <= 1e-6 * np.abs(want).max()
                    compared += 1
    assert compared >= len(PDO_GRIDS)


@pytest.mark.parametrize("path", [None, "dense", "compact"])
@pytest.mark.parametrize("space", SPACES)
def test_pdo_filters_equal_the_dense_expansion(space, path, monkeypatch):
    monkeypatch.setattr(SingleBlockBasisExpansion, "force_path", path)
    gs = SPACES[space]()
    in_type, out_type = _types(gs)
    for kwargs in ({"kernel_size": 5}, {"kernel_size": 3, "dilation": 2, "smoothing": 1.0}):
        layer = nn.R2Diffop(in_type, out_type, **kwargs)
        blocks = [b for b in layer.basisexpansion.blocks if b.dimension()]
        assert path is None or all(b.path == path for b in blocks)
        filt, _ = layer.expand_parameters()
        assert _relative(filt, dense_reference_filter(layer)) < 1e-12, kwargs


def test_pdo_artifacts_stored_dense_before_keep_working(tmp_path, monkeypatch):
    """PDO artifacts stored dense (before PDOs became compact) have the key of the compact ones:
    the same spec and algorithm version define the same numbers. They are read back as dense
    artifacts and give the same layers."""
    gs = gspaces.FlipRot2dOnR2(4)
    t = nn.FieldType(gs, [gs.regular_repr, gs.irrep(1, 1), gs.trivial_repr])
    torch.manual_seed(0)
    new = nn.R2Diffop(t, t, kernel_size=5)
    specs = {block.spec.key: block.spec for block in new.basisexpansion.blocks}
    monkeypatch.setenv("E2C_CACHE_DIR", str(tmp_path))
    store = bases.default_store()
    try:
        for key, spec in specs.items():
            artifact = bases.load_basis(spec)  # the compact one, from the memo
            assert artifact.compact
            old = BasisArtifact(
                spec,
                basis=dense_basis(spec),
                attributes=artifact.attributes,
                bias_basis=artifact.bias_basis,
            )
            arrays, meta = old.to_record()
            assert "blocks" not in arrays and meta["format"] == "e2compile.basis/1"
            store.put(Record(key, arrays, meta))
        bases.MEMO.clear()
        layer = nn.R2Diffop(t, t, kernel_size=5)
        assert all(not bases.load_basis(spec).compact for spec in specs.values())
        assert all(block.path == "dense" for block in layer.basisexpansion.blocks)
        assert layer.weights.numel() == new.weights.numel()
        layer.load_state_dict(new.state_dict())
        assert _relative(layer.expand_parameters()[0], new.expand_parameters()[0]) < 1e-12
    finally:
        bases.MEMO.clear()  # later tests must not see the dense artifacts
