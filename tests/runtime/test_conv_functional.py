"""The expansion maths and the block layout, on synthetic bases (no compiler, no store).

A per-field reference implementation (the slow, obvious loop) defines what the batched expansion
must produce.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from runtime.nn.modules.conv import functional as F
from runtime.nn.modules.conv.basis_expansion import (
    BlocksBasisExpansion,
    SingleBlockBasisExpansion,
)
from tests.fake_artifacts import fake_artifact as make_fake_artifact

S = 9


@pytest.fixture(autouse=True, params=[None, "dense", "compact"])
def path(request, monkeypatch):
    """Every test runs with the path the FLOP count picks and with each path forced."""
    monkeypatch.setattr(SingleBlockBasisExpansion, "force_path", request.param)
    return request.param


@pytest.fixture(autouse=True)
def _float64():
    """Bases are stored in the default dtype: compare in float64."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@dataclass(frozen=True)
class FakeRepr:
    name: str
    size: int
    irreps: tuple[str, ...]


A = FakeRepr("a", 3, ("t", "u"))  # irreps of sizes 1 + 2
B = FakeRepr("b", 2, ("u",))
C = FakeRepr("c", 1, ("t",))


def fake_type(*reprs: FakeRepr) -> SimpleNamespace:
    return SimpleNamespace(representations=tuple(reprs), size=sum(r.size for r in reprs))


SIZES = {"t": 1, "u": 2}


def fake_artifact(in_repr: FakeRepr, out_repr: FakeRepr, dim: int, seed: int):
    rng = np.random.default_rng(seed)
    in_pos = rng.integers(0, len(in_repr.irreps), dim)
    out_pos = rng.integers(0, len(out_repr.irreps), dim)
    attributes = {
        "in_irrep_position": in_pos,
        "out_irrep_position": out_pos,
        "in_irrep": np.asarray([in_repr.irreps[i] for i in in_pos], dtype=str),
        "out_irrep": np.asarray([out_repr.irreps[o] for o in out_pos], dtype=str),
        "radius": rng.integers(0, 2, dim).astype(float),
    }
    return make_fake_artifact(
        [SIZES[n] for n in out_repr.irreps], [SIZES[n] for n in in_repr.irreps], attributes, S, rng
    )


DIMS = {("a", "a"): 5, ("a", "b"): 3, ("b", "a"): 4, ("b", "b"): 0, ("c", "a"): 2}


def generator(in_repr: FakeRepr, out_repr: FakeRepr) -> SimpleNamespace:
    dim = DIMS.get((in_repr.name, out_repr.name), 1)
    seed = hash((in_repr.name, out_repr.name)) % 1000
    return fake_artifact(in_repr, out_repr, dim, seed)


def reference_filter(expansion, in_type, out_type, weights: np.ndarray) -> np.ndarray:
    """The filter built field pair by field pair from the documented weight layout."""
    out = np.zeros((out_type.size, in_type.size, S))
    in_start = np.cumsum([0] + [r.size for r in in_type.representations])
    out_start = np.cumsum([0] + [r.size for r in out_type.representations])
    groups_in = list(dict.fromkeys(in_type.representations))
    groups_out = list(dict.fromkeys(out_type.representations))
    position = 0
    for out_repr in groups_out:
        out_fields = [f for f, r in enumerate(out_type.representations) if r == out_repr]
        for in_repr in groups_in:
            in_fields = [f for f, r in enumerate(in_type.representations) if r == in_repr]
            basis = generator(in_repr, out_repr).basis
            dim = basis.shape[0]
            for o in out_fields:
                for i in in_fields:
                    w = weights[position : position + dim]
                    position += dim
                    block = np.tensordot(w, basis, axes=1)
                    out[out_start[o] : out_start[o + 1], in_start[i] : in_start[i + 1]] = block
    assert position == weights.size == expansion.dimension()
    return out


@pytest.mark.parametrize(
    "in_reprs, out_reprs",
    [
        ((A,), (A,)),
        ((A, A, A), (A, A)),
        ((A, B, A, C), (B, A, B)),
        ((C, A, B), (A, C, A, B, A)),
    ],
)
def test_blocks_expansion_matches_per_field_reference(in_reprs, out_reprs):
    in_type, out_type = fake_type(*in_reprs), fake_type(*out_reprs)
    expansion = BlocksBasisExpansion(in_type, out_type, generator)
    weights = torch.randn(expansion.dimension(), dtype=torch.float64)
    got = expansion(weights).numpy()
    want = reference_filter(expansion, in_type, out_type, weights.numpy())
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_blocks_expansion_gradient_flows():
    in_type, out_type = fake_type(B, A), fake_type(A, B)
    expansion = BlocksBasisExpansion(in_type, out_type, generator)
    weights = torch.randn(expansion.dimension(), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(expansion, (weights,))


def test_grouped_types_need_no_permutation():
    expansion = BlocksBasisExpansion(fake_type(A, A, C), fake_type(B, B), generator)
    assert expansion._in_index is None and expansion._out_index is None
    mixed = BlocksBasisExpansion(fake_type(A, C, A), fake_type(B, A, B), generator)
    assert mixed._in_index is not None and mixed._out_index is not None


def test_expand_block_layout():
    basis = torch.randn(4, 2, 3, S, dtype=torch.float64)
    coefficients = torch.randn(5 * 6 * 4, dtype=torch.float64)
    block = F.expand_block(coefficients, basis, 5, 6)
    want = torch.einsum("abd,doip->aobip", coefficients.view(5, 6, 4), basis).reshape(10, 18, S)
    torch.testing.assert_close(block, want)
    empty = F.expand_block(coefficients[:0], basis[:0], 5, 6)
    assert empty.shape == (10, 18, S) and not empty.any()


def test_expand_bias_is_sparse_matrix_product():
    rows = torch.tensor([0, 1, 2, 5, 5])
    cols = torch.tensor([0, 0, 1, 1, 2])
    values = torch.tensor([1.0, -1.0, 0.5, 2.0, 3.0])
    bias = torch.tensor([1.0, 2.0, 3.0])
    dense = torch.zeros(6, 3)
    dense[rows, cols] = values
    torch.testing.assert_close(F.expand_bias(bias, rows, cols, values, 6), dense @ bias)


def test_basis_columns_and_info_agree():
    in_type, out_type = fake_type(A, B, A), fake_type(B, A, C)
    expansion = BlocksBasisExpansion(in_type, out_type, generator)
    names = expansion.get_basis_names()
    assert len(names) == len(set(names)) == expansion.dimension()
    info = list(expansion.get_basis_info())
    columns = expansion.basis_columns(["out_irreps_position", "in_field", "in_irrep"])
    assert [i["out_irreps_position"] for i in info] == columns["out_irreps_position"].tolist()
    assert [i["in_field"] for i in info] == columns["in_field"].tolist()
    assert [i["in_irrep"] for i in info] == columns["in_irrep"].tolist()
    # global irrep position = irreps of the preceding fields + position inside the field
    n_irreps = np.cumsum([0] + [len(r.irreps) for r in out_type.representations])
    for row in info:
        local = row["out_irrep_position"]
        assert row["out_irreps_position"] == n_irreps[row["out_field"]] + local
    k = 7
    assert expansion.get_element_info(k) == expansion.get_element_info(names[k]) == info[k]


def test_single_block_expansion_and_filter():
    artifact = fake_artifact(A, B, 6, seed=3)
    block = SingleBlockBasisExpansion(artifact)
    w = torch.randn(2, 6, dtype=torch.float64)
    torch.testing.assert_close(
        block(w), torch.einsum("nd,doip->noip", w, torch.from_numpy(artifact.basis))
    )
    assert block.get_element_info("4")["element"] == 4
    assert len(block.get_basis_names()) == 6
    assert "sampled_basis" not in block.state_dict()
    with pytest.raises(TypeError, match="points"):
        SingleBlockBasisExpansion(artifact, points=np.zeros((2, S)))
