"""nn.R2PointConv: escnn's point convolution on plain torch scatters.

Equivariance on every element of C_N / D_N and a sweep of SO(2) / O(2) angles (point clouds are
moved exactly, so the check is tight), the mean aggregation against a per-edge loop, edge order,
shapes, defaults, the initialisation and bad input. Parity with escnn itself:
benchmarks/parity_escnn_point.py (docs/escnn_parity_point.md).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from e2compile import gspaces
from runtime import nn
from runtime.nn.modules.pointconv import resolve_rings, resolve_sigma

GSPACES = {
    "C1": lambda: gspaces.trivialOnR2(),
    "C2": lambda: gspaces.rot2dOnR2(2),
    "C3": lambda: gspaces.rot2dOnR2(3),
    "C4": lambda: gspaces.rot2dOnR2(4),
    "C8": lambda: gspaces.rot2dOnR2(8),
    "SO2": lambda: gspaces.rot2dOnR2(-1, 4),
    "flip": lambda: gspaces.flip2dOnR2(),
    "D1": lambda: gspaces.flipRot2dOnR2(1),
    "D2": lambda: gspaces.flipRot2dOnR2(2),
    "D3": lambda: gspaces.flipRot2dOnR2(3, axis=0.3),
    "D4": lambda: gspaces.flipRot2dOnR2(4),
    "D6": lambda: gspaces.flipRot2dOnR2(6),
    "O2": lambda: gspaces.flipRot2dOnR2(-1, 4),
}


def _types(gs):
    group = gs.fibergroup
    if group.order() > 0:
        ti = nn.FieldType(gs, [gs.regular_repr, gs.trivial_repr])
        to = nn.FieldType(gs, [gs.trivial_repr, gs.regular_repr])
    else:
        irreps = list(group.irreps.values())
        ti = nn.FieldType(gs, [irreps[0], irreps[2], irreps[1]])
        to = nn.FieldType(gs, [irreps[3], irreps[0], irreps[2]])
    return ti, to


def _elements(gs):
    group = gs.fibergroup
    if group.order() > 0:
        return list(group.elements)
    angles = [2 * math.pi * k / 24 + 0.01 for k in range(24)]
    if gs.family == "fliprot2d":
        return [(f, a) for f in (0, 1) for a in angles]
    return angles


def _cloud(n=10, seed=0, reach=2.0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    coords = (torch.rand(n, 2, generator=g, dtype=dtype) - 0.5) * 3
    close = torch.cdist(coords, coords) <= reach
    return coords, close.nonzero().T.contiguous()


@pytest.mark.parametrize("name", sorted(GSPACES))
def test_equivariant_on_every_element(name):
    gs = GSPACES[name]()
    ti, to = _types(gs)
    torch.manual_seed(0)
    conv = nn.R2PointConv(ti, to, width=2.0, n_rings=3).double()
    with torch.no_grad():
        conv.bias.normal_()
    coords, edges = _cloud()
    x = nn.GeometricTensor(torch.randn(coords.shape[0], ti.size, dtype=torch.float64), ti, coords)
    y = conv(x, edges)
    assert y.tensor.abs().max() > 1e-3
    for g in _elements(gs):
        moved = conv(x.transform(g), edges)
        expected = y.transform(g)
        torch.testing.assert_close(moved.coords, expected.coords)
        torch.testing.assert_close(moved.tensor, expected.tensor, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("name", ["C4", "D3", "SO2", "O2"])
def test_check_equivariance(name):
    gs = GSPACES[name]()
    ti, to = _types(gs)
    conv = nn.R2PointConv(ti, to, width=1.5, n_rings=4)
    elements = None if gs.fibergroup.order() > 0 else _elements(gs)[::5]
    errors = conv.check_equivariance(elements=elements, points=8)
    assert len(errors) == len(elements or gs.testing_elements)
    assert max(e for _, e in errors) < 1e-12  # run in float64


def _loop_reference(conv, x, coords, edges):
    """Per-edge loop: mean over incoming edges of K(coords[src] - coords[dst]) x[src], + bias."""
    P = x.shape[0]
    out = torch.zeros(P, conv.out_type.size, dtype=x.dtype)
    count = [0] * P
    for src, dst in edges.T.tolist():
        k = conv.expand_filter((coords[src] - coords[dst]).unsqueeze(0))[0]
        out[dst] += k @ x[src]
        count[dst] += 1
    for p in range(P):
        out[p] /= max(count[p], 1)
    return out + conv.expand_bias()


def test_mean_aggregation_and_isolated_points():
    gs = gspaces.rot2dOnR2(-1, 6)
    ti = nn.FieldType(gs, [gs.irrep(0), gs.irrep(1)])
    to = nn.FieldType(gs, [gs.irrep(0), gs.irrep(2), gs.irrep(1)])
    torch.manual_seed(1)
    conv = nn.R2PointConv(ti, to, width=2.0, n_rings=3).double()
    with torch.no_grad():
        conv.bias.normal_()
    coords = torch.randn(7, 2, dtype=torch.float64)
    x = torch.randn(7, ti.size, dtype=torch.float64)
    edges = torch.tensor([[0, 1, 2, 3, 3, 5, 0, 4], [1, 1, 1, 2, 4, 4, 4, 4]])
    y = conv(nn.GeometricTensor(x, ti, coords), edges).tensor
    torch.testing.assert_close(y, _loop_reference(conv, x, coords, edges))
    for isolated in (0, 3, 5, 6):  # no incoming edge: the bias alone
        torch.testing.assert_close(y[isolated], conv.expand_bias())
    # a given edge_delta replaces the coordinates
    delta = coords[edges[0]] - coords[edges[1]]
    y2 = conv(nn.GeometricTensor(x, ti), edges, edge_delta=delta).tensor
    torch.testing.assert_close(y2, y)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), name=st.sampled_from(["C4", "D3", "O2", "SO2"]))
def test_edge_order_does_not_matter(seed, name):
    ti, to = _types(GSPACES[name]())
    torch.manual_seed(seed % 1000)
    conv = nn.R2PointConv(ti, to, width=2.0, n_rings=3).double()
    coords, edges = _cloud(n=10, seed=seed)
    x = nn.GeometricTensor(torch.randn(10, ti.size, dtype=torch.float64), ti, coords)
    perm = torch.randperm(edges.shape[1], generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(conv(x, edges[:, perm]).tensor, conv(x, edges).tensor)


@settings(max_examples=20, deadline=None)
@given(
    points=st.integers(1, 12),
    edges=st.integers(0, 40),
    seed=st.integers(0, 10_000),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_shapes_and_coords(points, edges, seed, dtype):
    gs = gspaces.flipRot2dOnR2(4)
    ti, to = _types(gs)
    conv = nn.R2PointConv(ti, to, rings=[0.0, 1.0], sigma=0.5).to(dtype)
    g = torch.Generator().manual_seed(seed)
    coords = torch.rand(points, 2, generator=g, dtype=dtype)
    edge_index = torch.randint(0, points, (2, edges), generator=g)
    x = nn.GeometricTensor(torch.randn(points, ti.size, generator=g, dtype=dtype), ti, coords)
    y = conv(x, edge_index)
    assert y.type == to and y.tensor.shape == (points, to.size) and y.tensor.dtype == dtype
    assert y.coords is coords
    assert conv.evaluate_output_shape((points, ti.size)) == (points, to.size)


def test_gradients_flow_to_weights_bias_and_coords():
    gs = gspaces.rot2dOnR2(8)
    ti, to = _types(gs)
    conv = nn.R2PointConv(ti, to, width=2.0, n_rings=3)
    coords, edges = _cloud(dtype=torch.float32)
    coords.requires_grad_(True)
    x = nn.GeometricTensor(torch.randn(coords.shape[0], ti.size), ti, coords)
    conv(x, edges).tensor.square().sum().backward()
    assert conv.weights.grad.abs().sum() > 0 and conv.bias.grad.abs().sum() > 0
    assert coords.grad.abs().sum() > 0
    assert set(conv.state_dict()) == {"weights", "bias"}


def test_escnn_defaults_and_weight_counts():
    """Rings, widths and weight counts as escnn 1.0.11 builds them (its counts measured by
    benchmarks/parity_escnn_point.py)."""
    assert resolve_rings(1.5, 4, None) == [0.0, 0.5, 1.0, 1.5]
    third = resolve_rings(1.0, 4, None)[1]
    assert third == float(np.float32(1 / 3)) and third != 1 / 3  # float32 linspace, as escnn
    assert resolve_sigma(None, [0.0, 1.0, 2.0]) == [0.005, 0.6, 0.4]
    assert resolve_sigma(None, [0.5, 1.0]) == [0.6, 0.4]
    assert resolve_sigma(0.3, [0.0, 1.0]) == [0.3, 0.3]

    so2 = gspaces.rot2dOnR2(-1, 6)
    ti = nn.FieldType(so2, [so2.irrep(0), so2.irrep(1)])
    to = nn.FieldType(so2, [so2.irrep(0), so2.irrep(2), so2.irrep(1)])
    conv = nn.R2PointConv(ti, to, width=2.0, n_rings=3)
    assert conv.weights.numel() == 33
    # the ring at radius 0 keeps frequency 0 only; cutoff 3 r elsewhere
    for a in conv.basis_attributes():
        assert a["irrep:frequency"] <= 3 * a["radius"] + 1e-12
    c8 = gspaces.rot2dOnR2(8)
    ti = nn.FieldType(c8, [c8.regular_repr, c8.trivial_repr])
    to = nn.FieldType(c8, [c8.regular_repr] * 2)
    assert nn.R2PointConv(ti, to, width=2.0, n_rings=3).weights.numel() == 378
    d4 = gspaces.flipRot2dOnR2(4)
    ti = nn.FieldType(d4, [d4.regular_repr, d4.trivial_repr])
    to = nn.FieldType(d4, [d4.regular_repr, d4.irrep(1, 1)])
    assert nn.R2PointConv(ti, to, width=1.5, n_rings=4).weights.numel() == 225


def test_frequency_cutoff_and_basis_filter():
    gs = gspaces.trivialOnR2()  # every frequency solves the constraint
    t = nn.FieldType(gs, [gs.trivial_repr])
    wide = nn.R2PointConv(t, t, rings=[0.0, 1.0, 2.0], frequencies_cutoff=lambda r: 4 * r)
    narrow = nn.R2PointConv(t, t, rings=[0.0, 1.0, 2.0], frequencies_cutoff=1.0)
    assert max(a["irrep:frequency"] for a in wide.basis_attributes()) == 8
    assert max(a["irrep:frequency"] for a in narrow.basis_attributes()) == 2
    kept = nn.R2PointConv(t, t, width=2.0, n_rings=3, basis_filter=lambda a: a["radius"] > 0)
    assert all(a["radius"] > 0 for a in kept.basis_attributes())
    assert kept.weights.numel() < nn.R2PointConv(t, t, width=2.0, n_rings=3).weights.numel()


def test_initialisation():
    gs = gspaces.rot2dOnR2(4)
    ti, to = _types(gs)
    torch.manual_seed(0)
    a = nn.R2PointConv(ti, to, width=2.0, n_rings=3)
    b = nn.R2PointConv(ti, to, width=2.0, n_rings=3, initialize=False)
    assert a.weights.abs().sum() > 0 and b.weights.abs().sum() == 0
    assert a.bias is not None and a.bias.abs().sum() == 0
    # generalized He: 1 / sqrt(n_in(o) n_basis(i, o)) per weight, empirically
    draws = []
    for _ in range(300):
        b.reset_parameters()
        draws.append(b.weights.detach().clone())
    std = torch.stack(draws).std(0).double().numpy()
    np.testing.assert_allclose(std, b._weight_std(), rtol=0.25)
    assert nn.R2PointConv(ti, nn.FieldType(gs, [gs.irrep(1)]), width=2.0, n_rings=3).bias is None
    assert nn.R2PointConv(ti, to, width=2.0, n_rings=3, bias=False).bias is None


def test_double_and_meta_materialisation():
    gs = gspaces.flipRot2dOnR2(3)
    ti, to = _types(gs)
    conv = nn.R2PointConv(ti, to, width=2.0, n_rings=3)
    coords, edges = _cloud(dtype=torch.float64)
    x = torch.randn(coords.shape[0], ti.size, dtype=torch.float64)
    double = conv.double()
    assert double._pair0_cos.dtype == torch.float64
    with torch.device("meta"):
        lazy = nn.R2PointConv(ti, to, width=2.0, n_rings=3, initialize=False)
    lazy = lazy.to_empty(device="cpu").double()
    lazy.load_state_dict(double.state_dict())
    torch.testing.assert_close(
        lazy(nn.GeometricTensor(x, ti, coords), edges).tensor,
        double(nn.GeometricTensor(x, ti, coords), edges).tensor,
    )


# ----------------------------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def c4():
    gs = gspaces.rot2dOnR2(4)
    ti, to = _types(gs)
    return gs, ti, to, nn.R2PointConv(ti, to, width=2.0, n_rings=3)


def test_bad_forward_input(c4):
    gs, ti, to, conv = c4
    coords = torch.rand(5, 2)
    x = nn.GeometricTensor(torch.randn(5, ti.size), ti, coords)
    good = torch.tensor([[0, 1], [1, 2]])
    cases = [
        (torch.tensor([0, 1, 2]), "shape \\(2, edges\\)"),
        (torch.zeros(3, 2, dtype=torch.long), "shape \\(2, edges\\)"),
        (good.float(), "integers"),
        (good.bool(), "integers"),
        (torch.tensor([[0, 5], [1, 2]]), "5 points"),
        (torch.tensor([[0, -1], [1, 2]]), "5 points"),
    ]
    for edge_index, message in cases:
        with pytest.raises(ValueError, match=message) as info:
            conv(x, edge_index)
        assert isinstance(info.value, AssertionError) and "'edge_index'" in str(info.value)
    with pytest.raises(TypeError, match="edge_index"):
        conv(x, [[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="coords"):
        conv(nn.GeometricTensor(torch.randn(5, ti.size), ti), good)
    with pytest.raises(ValueError, match="edge_delta"):
        conv(x, good, edge_delta=torch.zeros(3, 2))
    with pytest.raises(ValueError, match="edge_delta"):
        conv(x, good, edge_delta=torch.zeros(2, 3))
    with pytest.raises(AssertionError):  # the wrong field type, as escnn asserts
        conv(nn.GeometricTensor(torch.randn(5, to.size), to, coords), good)
    with pytest.raises(TypeError):
        conv(torch.randn(5, ti.size), good)
    with pytest.raises(ValueError, match="points"):
        conv(nn.GeometricTensor(torch.randn(5, ti.size, 3), ti), good)


def test_bad_constructor_arguments(c4):
    gs, ti, to, _ = c4
    bad = [
        ({}, "'width' and 'n_rings' or 'rings'"),
        ({"width": 2.0, "n_rings": 3, "rings": [0.0, 1.0]}, "not both"),
        ({"width": 2.0}, "'width' and 'n_rings'"),
        ({"width": -1.0, "n_rings": 3}, "'width' must be positive"),
        ({"width": 2.0, "n_rings": 0}, "'n_rings'"),
        ({"rings": []}, "'rings'"),
        ({"rings": [-1.0, 1.0]}, "'rings'"),
        ({"rings": "01"}, "'rings'"),
        ({"rings": [0.0, 1.0], "sigma": [0.1]}, "'sigma' needs one width per ring"),
        ({"rings": [0.0, 1.0], "sigma": -0.1}, "'sigma' must be positive"),
        ({"rings": [0.0, 1.0], "frequencies_cutoff": "fco1"}, "'frequencies_cutoff'"),
        ({"rings": [0.0, 1.0], "frequencies_cutoff": lambda r: math.inf}, "frequencies_cutoff"),
        ({"rings": [0.0, 1.0], "frequencies_cutoff": lambda r: "3"}, "frequencies_cutoff"),
        ({"rings": [0.0, 1.0], "basis_filter": 3}, "'basis_filter'"),
        ({"rings": [0.0, 1.0], "basis_filter": lambda a: False}, "empty"),
        ({"rings": [0.0, 1.0], "groups": 0}, "'groups'"),
    ]
    for kwargs, message in bad:
        with pytest.raises(ValueError, match=message) as info:
            nn.R2PointConv(ti, to, **kwargs)
        assert isinstance(info.value, AssertionError)
    with pytest.raises(NotImplementedError):
        nn.R2PointConv(ti, to, groups=2, width=2.0, n_rings=3)
    with pytest.raises(TypeError):
        nn.R2PointConv(ti.representations, to, width=2.0, n_rings=3)
    other = gspaces.rot2dOnR2(8)
    with pytest.raises(ValueError, match="different gspaces"):
        nn.R2PointConv(ti, nn.FieldType(other, [other.trivial_repr]), width=2.0, n_rings=3)


def test_chunked_filters_give_the_same_values_and_gradients(monkeypatch):
    from runtime.nn.modules import pointconv

    gs = gspaces.flipRot2dOnR2(4)
    ti, to = _types(gs)
    torch.manual_seed(3)
    conv = nn.R2PointConv(ti, to, width=2.0, n_rings=3).double()
    coords, edges = _cloud(n=12)
    x = torch.randn(12, ti.size, dtype=torch.float64, requires_grad=True)

    def run():
        conv.zero_grad()
        x.grad = None
        y = conv(nn.GeometricTensor(x, ti, coords), edges).tensor
        y.square().sum().backward()
        return y.detach(), conv.weights.grad.clone(), x.grad.clone()

    whole = run()
    monkeypatch.setattr(pointconv, "FILTER_CHUNK", 50)  # a few edges per chunk
    for a, b in zip(run(), whole):
        torch.testing.assert_close(a, b)
    with torch.no_grad():
        y = conv(nn.GeometricTensor(x, ti, coords), edges).tensor
    torch.testing.assert_close(y, whole[0])


def test_recompute_derives_the_same_basis():
    gs = gspaces.rot2dOnR2(4)
    ti, to = _types(gs)
    torch.manual_seed(0)
    a = nn.R2PointConv(ti, to, width=2.0, n_rings=3)
    torch.manual_seed(0)
    b = nn.R2PointConv(ti, to, width=2.0, n_rings=3, recompute=True)
    assert a._pairs[0]["basis"] is not b._pairs[0]["basis"]
    torch.testing.assert_close(a.weights, b.weights)
    for name, buffer in a.named_buffers():
        torch.testing.assert_close(buffer, dict(b.named_buffers())[name])
