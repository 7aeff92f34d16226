"""nn.Linear on no_base_space(G): equivariance, escnn's basis and layout, export, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from e2compile.group import cyclic_group, dihedral_group, o2_group, so2_group
from e2compile.gspaces import no_base_space, rot2dOnR2
from runtime.nn import (
    ArgumentError,
    ArgumentTypeError,
    FieldType,
    FieldTypeMismatchError,
    GeometricTensor,
    Linear,
)
from tests.equivariance import assert_equivariant

ANGLES = [2 * math.pi * i / 17 + 0.1 for i in range(17)]


def _group(kind: str, n: int):
    return {"C": cyclic_group, "D": dihedral_group}[kind](n)


def _finite_reps(G):
    return list(G.irreps.values()) + [G.regular_representation]


def _continuous_reps(G):
    return [r for r in G.irreps.values() if r.frequency <= 3]


def _all_elements(G):
    return (
        list(G.elements)
        if not G.continuous
        else (ANGLES if G == so2_group() else [(f, a) for f in (0, 1) for a in ANGLES])
    )


@settings(max_examples=20, deadline=None)
@given(st.sampled_from("CD"), st.integers(1, 6), st.data())
def test_linear_equivariant_on_every_element_of_finite_groups(kind, n, data):
    G = _group(kind, n)
    gs = no_base_space(G)
    reps = _finite_reps(G)
    fields = st.lists(st.sampled_from(reps), min_size=1, max_size=3)
    in_type = FieldType(gs, data.draw(fields))
    out_type = FieldType(gs, data.draw(fields))
    lin = Linear(in_type, out_type)
    with torch.no_grad():
        if lin.bias is not None:
            lin.bias.normal_()
    for mode in (True, False):
        lin.train(mode)
        assert_equivariant(lin, spatial=(), elements=G.elements, batch=4)


@pytest.mark.parametrize("G", [so2_group(), o2_group()], ids=["SO2", "O2"])
def test_linear_equivariant_on_angle_sweep(G):
    gs = no_base_space(G)
    reps = _continuous_reps(G)
    lin = Linear(FieldType(gs, reps + reps[:2]), FieldType(gs, reps[::-1]))
    with torch.no_grad():
        lin.bias.normal_()
    errors = assert_equivariant(lin, spatial=(), elements=_all_elements(G), batch=8)
    assert max(e for _, e in errors) < 1e-5
    assert lin.check_equivariance()


def test_basis_layout_is_escnn_s():
    """C4 (regular, irrep_1, trivial) -> (irrep_1, regular): 11 weights, escnn's order (pairs of
    representation names sorted as strings), values read from escnn 1.0.11."""
    G = cyclic_group(4)
    gs = no_base_space(G)
    fi = FieldType(gs, [G.regular_representation, G.irrep(1), G.trivial_representation])
    fo = FieldType(gs, [G.irrep(1), G.regular_representation])
    lin = Linear(fi, fo)
    assert lin.weights.shape == (11,)
    basis = []
    for k in range(11):
        w = torch.zeros(11)
        w[k] = 1
        basis.append(lin.basisexpansion(w).numpy())
    basis = np.array(basis)
    assert np.allclose(basis[0][2:, 6], 0.5) and np.count_nonzero(basis[0]) == 4  # trivial -> reg
    assert np.allclose(basis[1][:2, 4:6], np.eye(2))  # irrep_1 -> irrep_1: I, then J
    assert np.allclose(basis[2][:2, 4:6], [[0, -1], [1, 0]])
    assert np.allclose(basis[7][2:, :4], 0.25)  # regular -> regular, trivial part first
    assert np.allclose(basis[10][2:, :4], 0.25 * np.outer([1, -1, 1, -1], [1, -1, 1, -1]))
    assert torch.allclose(lin.bias_expansion[:, 0], torch.tensor([0, 0, 0.5, 0.5, 0.5, 0.5]))


def test_weights_shared_by_representation_name_across_fields():
    G = cyclic_group(3)
    gs = no_base_space(G)
    t = FieldType(gs, [G.irrep(1), G.trivial_representation, G.irrep(1)])
    lin = Linear(t, t)
    # pairs: (irrep_0, irrep_0) 1x1x1, (irrep_1, irrep_1) 2x2x2
    assert lin.weights.shape == (1 + 8,)


def test_generalized_he_init_std():
    G = cyclic_group(4)
    gs = no_base_space(G)
    lin = Linear(FieldType(gs, [G.regular_representation] * 8), FieldType(gs, [G.irrep(1)] * 4))
    from runtime.nn import init

    c = lin.basisexpansion.basis_columns(["out_irreps_position", "in_irrep"], codes=True)
    std = init.generalized_he_std(c["out_irreps_position"], c["in_irrep"])
    assert np.allclose(std, 1 / math.sqrt(1 * 16))  # one input irrep id, 8 fields x 2 elements
    torch.manual_seed(0)
    lin.reset_parameters()
    assert 0.15 < lin.weights.std().item() < 0.35


def test_export_and_eval_cache():
    G = dihedral_group(3)
    gs = no_base_space(G)
    fi = FieldType(gs, [G.regular_representation, G.irrep(1, 1)])
    fo = FieldType(gs, [G.regular_representation, G.trivial_representation])
    lin = Linear(fi, fo)
    with torch.no_grad():
        lin.bias.normal_()
    x = torch.randn(5, fi.size)
    y = lin(GeometricTensor(x, fi)).tensor
    exported = lin.export()
    assert isinstance(exported, torch.nn.Linear) and not lin.training
    assert torch.allclose(exported(x), y, atol=1e-6)
    assert torch.allclose(lin.matrix, exported.weight) and lin.expanded_bias is not None
    with torch.no_grad():
        lin.weights.mul_(2)  # the eval cache follows the parameters
    assert torch.allclose(
        lin(GeometricTensor(x, fi)).tensor - lin.expanded_bias, 2 * (y - exported.bias)
    )
    lin.train()
    assert lin.matrix is None


def test_no_bias_without_trivial_output():
    G = cyclic_group(4)
    gs = no_base_space(G)
    lin = Linear(FieldType(gs, [G.regular_representation]), FieldType(gs, [G.irrep(1)]))
    assert lin.bias is None
    assert set(lin.state_dict()) == {"weights"}
    assert lin.export().bias is None
    lin2 = Linear(
        FieldType(gs, [G.regular_representation]),
        FieldType(gs, [G.regular_representation]),
        bias=False,
    )
    assert lin2.bias is None


def test_state_dict_round_trip():
    G = so2_group()
    gs = no_base_space(G)
    t = FieldType(gs, [G.irrep(0), G.irrep(1), G.irrep(2)])
    a, b = Linear(t, t), Linear(t, t)
    b.load_state_dict(a.state_dict())
    x = torch.randn(3, t.size)
    assert torch.equal(a(GeometricTensor(x, t)).tensor, b(GeometricTensor(x, t)).tensor)


def test_bad_arguments_and_inputs():
    G = cyclic_group(4)
    gs = no_base_space(G)
    t = FieldType(gs, [G.regular_representation])
    with pytest.raises(ArgumentTypeError, match="in_type"):
        Linear("t", t)
    r2 = rot2dOnR2(4)
    with pytest.raises(ArgumentError, match="no base space"):
        Linear(FieldType(r2, [r2.regular_repr]), FieldType(r2, [r2.regular_repr]))
    with pytest.raises(ArgumentError, match="gspace"):
        Linear(t, FieldType(no_base_space(cyclic_group(2)), [cyclic_group(2).irrep(0)]))
    with pytest.raises(ArgumentError, match="basisexpansion"):
        Linear(t, t, basisexpansion="single")
    with pytest.raises(AssertionError):  # escnn asserted
        Linear(t, t, basisexpansion="single")
    lin = Linear(t, t)
    with pytest.raises(FieldTypeMismatchError, match="shape"):
        lin(GeometricTensor(torch.randn(2, 4, 3), t))
    with pytest.raises(FieldTypeMismatchError):
        lin(GeometricTensor(torch.randn(2, 2), FieldType(gs, [G.irrep(1)])))
    with pytest.raises(ArgumentTypeError):
        lin(torch.randn(2, 4))
    assert lin.evaluate_output_shape((7, 4)) == (7, 4)
    with pytest.raises(FieldTypeMismatchError):
        lin.evaluate_output_shape((7, 4, 1))


def test_field_type_transform_without_base_space():
    G = so2_group()
    gs = no_base_space(G)
    t = FieldType(gs, [G.irrep(1)])
    x = torch.tensor([[1.0, 0.0]])
    y = GeometricTensor(x, t).transform(math.pi / 2).tensor
    assert torch.allclose(y, torch.tensor([[0.0, 1.0]]), atol=1e-7)


@pytest.mark.parametrize("make", ["Linear", "TensorProductModule", "IIDBatchNorm1d"])
def test_check_equivariance_works_without_a_base_space(make):
    import runtime.nn as nn

    gs = no_base_space(dihedral_group(3))
    t = FieldType(gs, [gs.regular_repr] * 2)  # uniform, as TensorProductModule needs
    module = nn.IIDBatchNorm1d(t) if make == "IIDBatchNorm1d" else getattr(nn, make)(t, t)
    errors = module.check_equivariance()
    assert [g for g, _ in errors] == list(gs.testing_elements)  # every element acts exactly
    assert max(e for _, e in errors) < 1e-9


class _OneEntryOff(Linear):
    """A Linear whose matrix gains one entry that no equivariant map has."""

    def expand_parameters(self):
        matrix, bias = super().expand_parameters()
        off = torch.zeros_like(matrix)
        off[0, 1] = 1.0
        return matrix + off, bias


def test_check_equivariance_catches_a_module_that_breaks_it():
    gs = no_base_space(cyclic_group(4))
    t = FieldType(gs, [gs.regular_repr])
    with pytest.raises(AssertionError, match="equivariance error"):
        _OneEntryOff(t, t).check_equivariance()
