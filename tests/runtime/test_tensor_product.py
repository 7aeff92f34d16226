"""nn.TensorProductModule: equivariance, the per-field quadratic form, bad input."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from e2compile.group import cyclic_group, dihedral_group, directsum, o2_group, so2_group
from e2compile.gspaces import flipRot2dOnR2, no_base_space, rot2dOnR2
from runtime.nn import ArgumentError, FieldType, GeometricTensor, TensorProductModule
from tests.equivariance import assert_equivariant

ANGLES = [2 * math.pi * i / 17 + 0.1 for i in range(17)]


@settings(max_examples=15, deadline=None)
@given(st.sampled_from("CD"), st.integers(2, 6), st.data())
def test_equivariant_on_every_element_of_finite_groups(kind, n, data):
    G = cyclic_group(n) if kind == "C" else dihedral_group(n)
    gs = no_base_space(G)
    reps = list(G.irreps.values()) + [G.regular_representation]
    in_repr = data.draw(st.sampled_from(reps))
    out_repr = data.draw(st.sampled_from(reps))
    try:
        tp = TensorProductModule.construct(gs, 3, in_repr, out_repr)
    except ArgumentError as exc:  # no map from in ⊗ in to out
        assert "empty" in str(exc)
        return
    for mode in (True, False):
        tp.train(mode)
        assert_equivariant(tp, spatial=(), elements=G.elements, batch=4, atol=1e-4)


@pytest.mark.parametrize("G", [so2_group(), o2_group()], ids=["SO2", "O2"])
def test_equivariant_on_angle_sweep(G):
    gs = no_base_space(G)
    irreps = [r for r in G.irreps.values() if r.frequency <= 2]
    r = directsum(irreps, name="band2")
    tp = TensorProductModule(FieldType(gs, [r] * 2), FieldType(gs, [r] * 2))
    elements = ANGLES if G == so2_group() else [(f, a) for f in (0, 1) for a in ANGLES]
    errors = assert_equivariant(tp, spatial=(), elements=elements, batch=6, atol=1e-4)
    assert max(e for _, e in errors) < 1e-4


@pytest.mark.parametrize("gs", [rot2dOnR2(4), flipRot2dOnR2(4)], ids=["C4", "D4"])
def test_equivariant_on_the_plane(gs):
    G = gs.fibergroup
    tp = TensorProductModule.construct(gs, 2, G.regular_representation, G.regular_representation)
    assert_equivariant(tp, spatial=7, atol=1e-4)


def test_forward_is_the_per_field_quadratic_form():
    G = cyclic_group(3)
    gs = no_base_space(G)
    reg = G.regular_representation
    tp = TensorProductModule.construct(gs, 2, reg, G.irrep(1))
    assert tp.hidden_type.size == 2 * 9
    x = torch.randn(4, 6)
    y = tp(GeometricTensor(x, tp.in_type)).tensor
    m = tp.expand_parameters().reshape(2, 2, 9)
    for c in range(2):
        xc = x[:, 3 * c : 3 * c + 3]
        kron = torch.einsum("bi,bo->bio", xc, xc).reshape(4, 9)
        assert torch.allclose(y[:, 2 * c : 2 * c + 2], kron @ m[c].T, atol=1e-5)
    # every field has its own weights: layout (C, 1, dim)
    dim = tp.weights.numel() // 2
    with torch.no_grad():
        tp.weights[:dim] = 0
    y = tp(GeometricTensor(x, tp.in_type)).tensor
    assert torch.all(y[:, :2] == 0) and torch.any(y[:, 2:] != 0)


def test_eval_cache_and_no_export():
    G = dihedral_group(3)
    gs = no_base_space(G)
    tp = TensorProductModule.construct(gs, 2, G.irrep(1, 1), G.regular_representation)
    x = GeometricTensor(torch.randn(3, 4), tp.in_type)
    y = tp(x).tensor
    tp.eval()
    assert tp.matrix is not None
    assert torch.allclose(tp(x).tensor, y, atol=1e-6)
    with pytest.raises(NotImplementedError):
        tp.export()


def test_bad_arguments():
    G = cyclic_group(4)
    gs = no_base_space(G)
    reg = G.regular_representation
    uniform = FieldType(gs, [reg] * 2)
    with pytest.raises(ArgumentError, match="uniform"):
        TensorProductModule(FieldType(gs, [reg, G.irrep(1)]), uniform)
    with pytest.raises(ArgumentError, match="as many"):
        TensorProductModule(uniform, FieldType(gs, [reg] * 3))
    with pytest.raises(ArgumentError, match="empty"):
        TensorProductModule.construct(gs, 1, G.irrep(2), G.irrep(1))  # psi_2 ⊗ psi_2 is trivial
    with pytest.raises(ArgumentError, match="maximum_frequency"):
        S = so2_group(3)
        TensorProductModule.construct(no_base_space(S), 1, S.irrep(2), S.irrep(1))
    with pytest.raises(ArgumentError, match="channels"):
        TensorProductModule.construct(gs, 0, reg, reg)
    with pytest.raises(ArgumentError, match="gspace"):
        TensorProductModule(uniform, FieldType(rot2dOnR2(4), [rot2dOnR2(4).regular_repr] * 2))
