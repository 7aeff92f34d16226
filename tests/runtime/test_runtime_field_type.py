"""FieldType: value semantics, channel bookkeeping, change of basis, restriction, transforms."""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest
import torch

from e2compile import gspaces
from runtime import nn
from runtime.nn.grid import grid_exact_elements

GSPACES = {
    "C8": lambda: gspaces.Rot2dOnR2(8),
    "C4": lambda: gspaces.Rot2dOnR2(4),
    "SO2": lambda: gspaces.Rot2dOnR2(-1, maximum_frequency=4),
    "D4": lambda: gspaces.FlipRot2dOnR2(4),
    "D4_axis0": lambda: gspaces.FlipRot2dOnR2(4, axis=0.0),
    "O2": lambda: gspaces.FlipRot2dOnR2(-1, maximum_frequency=3),
    "Flip": lambda: gspaces.Flip2dOnR2(),
    "Trivial": lambda: gspaces.TrivialOnR2(),
}


def mixed_type(gs) -> nn.FieldType:
    """Regular, every irrep and trivial fields (the regular one only for finite groups)."""
    reps = [gs.trivial_repr]
    if gs.fibergroup.order() > 0:
        reps.append(gs.regular_repr)
    reps += list(gs.fibergroup.irreps.values())[:4]
    reps.append(gs.trivial_repr)
    return nn.FieldType(gs, reps)


def test_repr_matches_the_reference_grammar():
    s = gspaces.Rot2dOnR2(8)
    assert (
        repr(nn.FieldType(s, [s.trivial_repr] * 3)) == "[8-Rotations: {irrep_0, irrep_0, irrep_0}]"
    )
    assert repr(nn.FieldType(s, [s.regular_repr])) == "[8-Rotations: {regular}]"


def test_sizes_offsets_and_names():
    s = gspaces.Rot2dOnR2(4)
    t = nn.FieldType(s, [s.regular_repr] * 2 + [s.irrep(1)] * 2 + [s.trivial_repr] * 3)
    assert len(t) == 7 and t.size == 15
    assert t.fields_start.tolist() == [0, 4, 8, 10, 12, 13, 14]
    assert t.fields_end.tolist() == [4, 8, 10, 12, 13, 14, 15]
    assert t.fields_names() == ["regular"] * 2 + ["irrep_1"] * 2 + ["irrep_0"] * 3
    assert list(t) == list(t.representations)
    assert t.fibergroup is s.fibergroup and t.gspace is s
    assert t.channel_fields().tolist() == [0] * 4 + [1] * 4 + [2, 2, 3, 3, 4, 5, 6]
    assert t.testing_elements is s.testing_elements or list(t.testing_elements) == list(
        s.testing_elements
    )


def test_value_semantics_and_new_types():
    s = gspaces.Rot2dOnR2(4)
    a = nn.FieldType(s, [s.regular_repr, s.irrep(1)])
    b = nn.FieldType(gspaces.Rot2dOnR2(4), [s.regular_repr, s.irrep(1)])
    assert a == b and hash(a) == hash(b)
    assert a != nn.FieldType(s, [s.irrep(1), s.regular_repr])
    c = a + nn.FieldType(s, [s.trivial_repr])
    assert c.fields_names() == ["regular", "irrep_1", "irrep_0"] and c.size == 7
    assert c.index_select([2, 0]).fields_names() == ["irrep_0", "regular"]
    assert c.sorted().fields_names() == ["irrep_0", "irrep_1", "regular"]
    groups = c.group_by_labels(["x", "y", "x"])
    assert list(groups) == ["x", "y"]
    assert groups["x"].fields_names() == ["regular", "irrep_0"]
    assert copy.deepcopy(a) is a and copy.copy(a) is a
    for blob in (pickle.dumps(a), pickle.dumps(a, protocol=2)):
        assert pickle.loads(blob) == a


def test_irreps_and_change_of_basis():
    s = gspaces.FlipRot2dOnR2(4)
    t = nn.FieldType(s, [s.regular_repr, s.irrep(1, 1), s.trivial_repr])
    irreps = []
    for r in t:
        irreps += list(r.irreps)
    assert t.irreps == irreps
    cob = t.change_of_basis
    assert type(cob).__name__.startswith("coo")
    dense = t.get_dense_change_of_basis().double().numpy()
    blocks = np.zeros((t.size, t.size))
    for r, a, b in zip(t, t.fields_start, t.fields_end):
        blocks[a:b, a:b] = r.change_of_basis
    np.testing.assert_allclose(dense, blocks, atol=1e-6)
    inv = t.get_dense_change_of_basis_inv().double().numpy()
    np.testing.assert_allclose(dense @ inv, np.eye(t.size), atol=1e-5)


def test_representation_is_the_direct_sum():
    s = gspaces.Rot2dOnR2(4)
    t = nn.FieldType(s, [s.regular_repr, s.irrep(1), s.trivial_repr])
    rep = t.representation
    assert rep is t.representation  # built once
    assert rep.size == t.size
    for g in s.testing_elements:
        np.testing.assert_allclose(
            rep(g), t.fiber_matrix(g, dtype=torch.float64).numpy(), atol=1e-10
        )


def test_restrict():
    s = gspaces.FlipRot2dOnR2(8)
    t = nn.FieldType(s, [s.regular_repr, s.trivial_repr])
    r = t.restrict((None, 4))
    assert r.gspace.fibergroup.order() == 4
    assert r.size == t.size and len(r) == len(t)
    x = torch.randn(2, t.size, 5, 5)
    sub = r.gspace
    for g in sub.testing_elements:
        # rotations of C4 inside D8: element r of C4 is (0, 2r) of D8
        np.testing.assert_allclose(
            r.fiber_matrix(g, dtype=torch.float64).numpy(),
            t.fiber_matrix((0, 2 * g), dtype=torch.float64).numpy(),
            atol=1e-10,
        )
    assert nn.GeometricTensor(x, t).restrict((None, 4)).type == r


def test_bad_arguments_are_named():
    s = gspaces.Rot2dOnR2(4)
    other = gspaces.Rot2dOnR2(8)
    with pytest.raises(ValueError, match="representations"):
        nn.FieldType(s, [])
    with pytest.raises(ValueError, match=r"representations\[1\]"):
        nn.FieldType(s, [s.trivial_repr, other.regular_repr])
    with pytest.raises(ValueError, match="different gspaces"):
        nn.FieldType(s, [s.trivial_repr]) + nn.FieldType(other, [other.trivial_repr])
    with pytest.raises(ValueError, match="labels"):
        nn.FieldType(s, [s.trivial_repr]).group_by_labels(["a", "b"])
    with pytest.raises(ValueError, match="input"):
        nn.FieldType(s, [s.regular_repr]).transform(torch.zeros(1, 3, 4, 4), 1)


@pytest.mark.parametrize("name", sorted(GSPACES))
def test_transform_matches_the_gspace_action(name):
    """Our torch transform equals the gspace's numpy feature-field action: exactly on the
    grid-exact elements, to round-off on interpolated angles (same order-2 spline)."""
    gs = GSPACES[name]()
    t = mixed_type(gs)
    x = torch.randn(2, t.size, 7, 8, dtype=torch.float64)
    exact = grid_exact_elements(gs)
    assert exact
    others = [g for g in gs.testing_elements if g not in exact][:6]
    for g in exact + others:
        ours = t.transform(x, g).numpy()
        ref = gs.featurefield_action(x.numpy(), t.representation, g)
        np.testing.assert_allclose(ours, ref, atol=1e-9, err_msg=f"element {g!r}")
    for g in exact:
        torch.testing.assert_close(t.transform(x, g).float(), t.transform(x.float(), g))


@pytest.mark.parametrize("name", ["C8", "D4_axis0", "O2"])
def test_transform_is_an_action(name):
    """transform(transform(x, a), b) == transform(x, b.a) exactly on grid-exact elements."""
    gs = GSPACES[name]()
    G = gs.fibergroup
    t = mixed_type(gs)
    x = torch.randn(1, t.size, 5, 5, dtype=torch.float64)
    els = grid_exact_elements(gs)
    for a in els:
        for b in els:
            lhs = t.transform(t.transform(x, a), b)
            rhs = t.transform(x, G.combine(b, a))
            torch.testing.assert_close(lhs, rhs, atol=1e-10, rtol=0)


def test_transform_at_other_angles_interpolates_smoothly():
    gs = GSPACES["SO2"]()
    t = nn.FieldType(gs, [gs.trivial_repr, gs.irrep(1)])
    n = 41
    c = (n - 1) / 2
    ys, xs = torch.meshgrid(
        c - torch.arange(n, dtype=torch.float64),
        torch.arange(n, dtype=torch.float64) - c,
        indexing="ij",
    )
    bump = torch.exp(-((xs - 6.0) ** 2 + (ys - 2.0) ** 2) / 20.0)
    x = torch.stack([bump, bump, 0 * bump])[None]
    theta = 2 * math.pi / 13
    y = t.transform(x, theta)
    # the bump's centre moved to R(theta) (6, 2); the vector (1, 0) rotated to angle theta
    cx, cy = 6 * math.cos(theta) - 2 * math.sin(theta), 6 * math.sin(theta) + 2 * math.cos(theta)
    moved = torch.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / 20.0)
    torch.testing.assert_close(y[0, 0], moved, atol=2e-3, rtol=0)
    torch.testing.assert_close(y[0, 1], moved * math.cos(theta), atol=2e-3, rtol=0)
    torch.testing.assert_close(y[0, 2], moved * math.sin(theta), atol=2e-3, rtol=0)


def test_transform_keeps_device_dtype_and_gradient():
    gs = gspaces.Rot2dOnR2(8)
    t = nn.FieldType(gs, [gs.regular_repr] * 2)
    x = torch.randn(2, t.size, 9, 9, requires_grad=True)
    for g in (2, 1):
        y = t.transform(x, g)
        assert y.dtype == x.dtype and y.device == x.device and y.shape == x.shape
        y.sum().backward()
        assert x.grad is not None
    assert t.fiber_matrix(1) is t.fiber_matrix(1)  # cached per element
