"""escnn 1.0.11's Fourier non-linearities: equivariance (exact on the grid, measured off it),
shapes, bad input, export, the store (offline builds, dry-run collection)."""

from __future__ import annotations

import math

import pytest
import torch

from cache import Store
from e2compile import compiler, gspaces
from runtime import bases, nn
from runtime.nn.modules.fourier import FourierExport
from tests.equivariance import assert_equivariant

ANGLES = [2 * math.pi * i / 64 for i in range(64)]
#: largest |F(g x) - g F(x)| measured off the grid on N(0, 1) inputs (L <= 3, |grid| >= 16:
#: 0.008-0.048), with a factor 2 of margin
OFF_GRID_ATOL = 0.1


@pytest.fixture(autouse=True)
def store_dir(tmp_path, monkeypatch):
    root = tmp_path / "store"
    monkeypatch.setenv("E2C_CACHE_DIR", str(root))
    monkeypatch.delenv("E2C_OFFLINE", raising=False)
    monkeypatch.delenv("E2C_CACHE_PATH", raising=False)
    bases.MEMO.clear()
    yield root
    bases.MEMO.clear()


def _x(module, *spatial, batch=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, module.in_type.size, *spatial, generator=gen)


# ------------------------------------------------------------------------------- equivariance
@pytest.mark.parametrize("N", [4, 5, 8])
@pytest.mark.parametrize("function", ["p_relu", "p_elu", "p_sigmoid", "p_tanh"])
def test_finite_groups_are_exact_on_every_element_with_the_whole_group_as_grid(N, function):
    for gs in (gspaces.rot2dOnR2(N), gspaces.flipRot2dOnR2(N)):
        G = gs.fibergroup
        m = nn.FourierPointwise(gs, 3, G.bl_irreps(N // 2), "regular", N, function=function)
        assert len(m.grid) == G.order()
        assert_equivariant(m, elements=G.elements, fibers_only=True, atol=1e-5)
        if N % 4 == 0:  # the plane moves exactly too
            assert_equivariant(m, atol=1e-5)


def test_finite_quotients_are_exact_on_every_element():
    cases = [
        (gspaces.rot2dOnR2(6), 2), (gspaces.rot2dOnR2(8), 4), (gspaces.flipRot2dOnR2(6), (1, 1)),
        (gspaces.flipRot2dOnR2(6), (0, 2)), (gspaces.flipRot2dOnR2(4), (None, 2)),
    ]  # fmt: skip
    for gs, sg in cases:
        G = gs.fibergroup
        m = nn.QuotientFourierELU(gs, sg, 2, G.bl_irreps(G.N // 2), "regular", G.N)
        assert_equivariant(m, elements=G.elements, fibers_only=True, atol=1e-5)


@pytest.mark.parametrize("L, N", [(1, 16), (2, 16), (3, 32)])
def test_continuous_groups_exact_on_grid_angles_and_close_between(L, N):
    for gs in (gspaces.rot2dOnR2(-1), gspaces.flipRot2dOnR2(-1)):
        G = gs.fibergroup
        m = nn.FourierELU(gs, 3, G.bl_irreps(L), N=N)
        flips = [0] if G.name == "SO(2)" else [0, 1]
        on = [2 * math.pi * i / N for i in range(N)]
        wrap = (lambda a: a) if G.name == "SO(2)" else (lambda a: None)
        grid = [wrap(a) or (f, a) for f in flips for a in on] if flips != [0] else on
        sweep = ANGLES if G.name == "SO(2)" else [(f, a) for f in flips for a in ANGLES]
        assert_equivariant(m, elements=grid, fibers_only=True, atol=1e-5, spatial=5)
        assert_equivariant(m, elements=sweep, fibers_only=True, atol=OFF_GRID_ATOL, spatial=5)
        assert_equivariant(m, atol=1e-5)  # 90-degree rotations and flips, moving the plane


@pytest.mark.parametrize(
    "make, subgroup",
    [(gspaces.rot2dOnR2, 2), (gspaces.rot2dOnR2, 1), (gspaces.flipRot2dOnR2, (0.0, 1)),
     (gspaces.flipRot2dOnR2, (None, -1)), (gspaces.flipRot2dOnR2, (None, 2))],
)  # fmt: skip
def test_continuous_quotients_sweep(make, subgroup):
    gs = make(-1)
    G = gs.fibergroup
    m = nn.QuotientFourierPointwise(gs, subgroup, 2, G.bl_irreps(2), 16, function="p_elu")
    sweep = ANGLES if G.name == "SO(2)" else [(f, a) for f in range(2) for a in ANGLES]
    assert_equivariant(m, elements=sweep, fibers_only=True, atol=OFF_GRID_ATOL, spatial=5)


def test_explicit_quotient_grid_and_out_irreps():
    gs = gspaces.flipRot2dOnR2(-1)
    G = gs.fibergroup
    grid = [(0, 2 * math.pi * i / 8) for i in range(8)]
    m = nn.QuotientFourierELU(gs, (0.0, 1), 2, G.bl_irreps(3), grid=grid, out_irreps=G.bl_irreps(1))
    assert m.grid == grid and m.out_type.size == 2 * m.rho_out.size
    assert_equivariant(m, elements=grid, fibers_only=True, atol=1e-5, spatial=3)


# ----------------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("spatial", [(), (4,), (3, 5), (2, 3, 2)])
def test_any_number_of_spatial_dimensions(spatial):
    gs = gspaces.rot2dOnR2(-1)
    G = gs.fibergroup
    m = nn.FourierELU(gs, 3, G.bl_irreps(2), N=8, out_irreps=G.bl_irreps(1))
    x = _x(m, *spatial)
    y = m(nn.GeometricTensor(x, m.in_type))
    assert y.shape == (2, 9, *spatial) == m.evaluate_output_shape(x.shape)
    # a field's output depends on that field (and pixel) only
    x2 = x.clone()
    x2[:, 5:10] = 0.0
    y2 = m(nn.GeometricTensor(x2, m.in_type)).tensor
    assert torch.equal(y2[:, :3], y.tensor[:, :3]) and torch.equal(y2[:, 6:], y.tensor[:, 6:])


def test_inplace_never_touches_the_input_and_gradients_flow():
    gs = gspaces.rot2dOnR2(8)
    G = gs.fibergroup
    for function in ("p_relu", "p_elu", "p_sigmoid", "p_tanh"):
        m = nn.FourierPointwise(gs, 2, G.bl_irreps(3), "regular", 8, function=function)
        x = _x(m, 3, 3).requires_grad_()
        before = x.detach().clone()
        m(nn.GeometricTensor(x, m.in_type)).tensor.sum().backward()
        assert torch.equal(x.detach(), before) and x.grad is not None


def test_matrices_are_derived_float32_buffers_outside_the_state_dict():
    gs = gspaces.flipRot2dOnR2(4)
    m = nn.FourierELU(gs, 2, gs.fibergroup.bl_irreps(2), "regular", 4)
    assert m.A.dtype == torch.float32 and m.A.shape == (8, 8) and m.Ainv.shape == (8, 8)
    assert m.state_dict() == {} or set(m.state_dict()) == set()
    assert m.double().A.dtype == torch.float64


# --------------------------------------------------------------------------------- bad input
def test_bad_arguments_and_inputs_are_named():
    gs = gspaces.rot2dOnR2(-1)
    G = gs.fibergroup
    with pytest.raises(ValueError, match="'function' must be one of") as info:
        nn.FourierPointwise(gs, 2, G.bl_irreps(1), N=8, function="p_swish")
    assert isinstance(info.value, AssertionError)
    with pytest.raises(ValueError, match="'channels'"):
        nn.FourierELU(gs, 0, G.bl_irreps(1), N=8)
    with pytest.raises(TypeError, match="'gspace'"):
        nn.FourierELU(G, 2, G.bl_irreps(1), N=8)
    with pytest.raises(TypeError, match="'irreps'"):
        nn.FourierELU(gs, 2, "irrep_1", N=8)
    with pytest.raises(ValueError, match="twice"):
        nn.FourierELU(gs, 2, [(1,), (1,)], N=8)
    with pytest.raises(ValueError, match="grid arguments"):
        nn.FourierELU(gs, 2, G.bl_irreps(1), N=8, type="ico")
    with pytest.raises(ValueError, match="grid arguments"):
        nn.FourierELU(gspaces.rot2dOnR2(8), 2, [(0,), (1,)])  # C_N grids need type and N
    with pytest.raises(ValueError, match="subgroup_id"):
        nn.QuotientFourierELU(gs, None, 2, G.bl_irreps(1), N=8)
    with pytest.raises(ValueError, match="empty"):
        nn.QuotientFourierELU(gs, -1, 2, [(1,), (2,)], N=8)
    m = nn.FourierELU(gs, 2, G.bl_irreps(1), N=8)
    other = nn.FieldType(gs, [gs.trivial_repr] * m.in_type.size)
    with pytest.raises(AssertionError, match="in_type"):
        m(nn.GeometricTensor(torch.zeros(1, m.in_type.size, 3, 3), other))
    with pytest.raises(ValueError, match="input_shape"):
        m.evaluate_output_shape((1, 5, 3, 3))


# ------------------------------------------------------------------------------------ export
def test_export_computes_the_same_on_plain_tensors():
    for gs in (gspaces.rot2dOnR2(-1), gspaces.flipRot2dOnR2(6)):
        G = gs.fibergroup
        args = {"N": 12} if G.name == "SO(2)" else {"type": "regular", "N": 6}
        m = nn.FourierPointwise(gs, 3, G.bl_irreps(2), function="p_elu", **args)
        exported = m.export()
        assert isinstance(exported, FourierExport) and not exported.training
        assert set(exported.state_dict()) == {"A", "Ainv"}
        x = _x(m, 4, 4)
        assert torch.equal(exported(x), m(nn.GeometricTensor(x, m.in_type)).tensor)


# ------------------------------------------------------------------------------------- store
def _refuse_compiling(monkeypatch):
    def refuse(spec):
        raise AssertionError(f"the compiler was called for {spec.key[:12]}")

    monkeypatch.setattr(compiler, "compile", refuse)


def _fourier_net():
    gs = gspaces.rot2dOnR2(-1)
    G = gs.fibergroup
    return [
        nn.FourierELU(gs, 2, G.bl_irreps(2), N=8),
        nn.QuotientFourierELU(gs, 2, 2, G.bl_irreps(2), N=8, out_irreps=[(0,), (2,)]),
    ]


def test_dry_run_collects_the_grid_specs_and_an_offline_build_reads_them(store_dir, monkeypatch):
    from runtime.aot import compile_many

    with bases.collect_specs() as collection:
        dry = _fourier_net()
    assert [s.kind for s in collection.specs] == ["grid", "grid"]
    with pytest.raises(RuntimeError, match="collect_specs"):
        dry[0](nn.GeometricTensor(torch.zeros(1, 10), dry[0].in_type))
    compile_many(collection.specs, Store(store_dir))
    assert set(Store(store_dir).keys()) == {s.key for s in collection.specs}
    bases.MEMO.clear()
    monkeypatch.setenv("E2C_OFFLINE", "1")
    _refuse_compiling(monkeypatch)
    regular, quotient = _fourier_net()
    x = torch.randn(2, regular.in_type.size, 3, 3)
    assert regular(nn.GeometricTensor(x, regular.in_type)).shape == (2, 10, 3, 3)
    x = torch.randn(2, quotient.in_type.size)
    assert quotient(nn.GeometricTensor(x, quotient.in_type)).shape == (2, 6)


def test_offline_miss_is_named(monkeypatch):
    monkeypatch.setenv("E2C_OFFLINE", "1")
    gs = gspaces.rot2dOnR2(-1)
    with pytest.raises(bases.OfflineBasisMissError):
        nn.FourierELU(gs, 2, gs.fibergroup.bl_irreps(1), N=7)
