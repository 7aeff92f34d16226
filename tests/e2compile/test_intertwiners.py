"""Intertwiner bases and tensor products (e2compile.group.intertwiners), checked by group laws."""

from __future__ import annotations

import itertools
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e2compile.group import (
    cyclic_group,
    dihedral_group,
    directsum,
    endomorphism_basis,
    intertwiner_basis,
    o2_group,
    so2_group,
    tensor_product,
)
from e2compile.gspaces import GSpace0D, no_base_space, rot2dOnR2


def _finite_group(kind: str, n: int):
    return cyclic_group(n) if kind == "C" else dihedral_group(n)


def _reps(group):
    """A few representations of a finite group: every irrep, the regular one, a quotient."""
    reps = list(group.irreps.values()) + [group.regular_representation]
    if group.order() % 2 == 0:
        sub = 2 if group.name.startswith("C") else (None, 2)
        if group.name.startswith("C") or group.rotation_order % 2 == 0:
            reps.append(group.quotient_representation(sub))
    return reps


def _hom_dim(group, a, b) -> int:
    """dim Hom_G(a, b) from characters (finite groups)."""
    return int(round(np.mean([np.trace(a(g)) * np.trace(b(g)) for g in group.elements])))


finite = st.tuples(st.sampled_from("CD"), st.integers(1, 7))


@settings(max_examples=25, deadline=None)
@given(finite)
def test_endomorphisms_commute_with_every_irrep(spec):
    group = _finite_group(*spec)
    for irrep in group.irreps.values():
        basis = endomorphism_basis(irrep)
        assert basis.shape[0] == irrep.sum_of_squares_constituents
        for g in group.elements:
            for e in basis:
                assert np.allclose(irrep(g) @ e, e @ irrep(g), atol=1e-12)


@pytest.mark.parametrize("group", [so2_group(), o2_group()], ids=["SO2", "O2"])
def test_endomorphisms_continuous(group):
    for irrep in group.irreps.values():
        for g in group.testing_elements:
            for e in endomorphism_basis(irrep):
                assert np.allclose(irrep(g) @ e, e @ irrep(g), atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(finite, st.data())
def test_intertwiner_basis_is_equivariant_complete_and_normalised(spec, data):
    group = _finite_group(*spec)
    reps = _reps(group)
    a = data.draw(st.sampled_from(reps))
    b = data.draw(st.sampled_from(reps))
    basis = intertwiner_basis(a, b)
    assert basis.dim == _hom_dim(group, a, b)
    assert basis.matrices.shape == (basis.dim, b.size, a.size)
    for g in group.elements:
        for m in basis.matrices:
            assert np.allclose(b(g) @ m, m @ a(g), atol=1e-10)
    if basis.dim:
        flat = basis.matrices.reshape(basis.dim, -1)
        assert np.linalg.matrix_rank(flat) == basis.dim
        sizes = np.array([group.irreps[n].size for n in basis.irrep])
        assert np.allclose((flat**2).sum(axis=1), sizes)


def test_intertwiner_basis_order_and_values_are_escnn_s():
    """C4: regular + irrep_1 + trivial -> irrep_1 + regular (values read from escnn 1.0.11)."""
    G = cyclic_group(4)
    basis = intertwiner_basis(G.irrep(1), G.irrep(1))
    assert np.allclose(basis.matrices, [np.eye(2), [[0, -1], [1, 0]]])
    reg = intertwiner_basis(G.regular_representation, G.regular_representation)
    assert reg.dim == 4
    assert np.allclose(reg.matrices[0], np.full((4, 4), 0.25))
    assert list(reg.in_irrep_position) == [0, 1, 1, 2]
    assert list(reg.s) == [0, 0, 1, 0]
    d4 = intertwiner_basis(dihedral_group(4).irrep(1, 1), dihedral_group(4).irrep(1, 1))
    assert np.allclose(d4.matrices, [np.eye(2)])


def test_intertwiner_basis_errors():
    with pytest.raises(TypeError, match="in_repr"):
        intertwiner_basis("x", cyclic_group(2).trivial_representation)
    with pytest.raises(ValueError, match="out_repr"):
        intertwiner_basis(cyclic_group(2).trivial_representation, cyclic_group(3).irrep(0))
    with pytest.raises(TypeError, match="irrep"):
        endomorphism_basis(cyclic_group(4).regular_representation)


@settings(max_examples=20, deadline=None)
@given(finite, st.data())
def test_tensor_product_is_the_kronecker_product(spec, data):
    group = _finite_group(*spec)
    reps = list(group.irreps.values()) + [group.regular_representation]
    a = data.draw(st.sampled_from(reps))
    b = data.draw(st.sampled_from(reps))
    t = tensor_product(a, b)
    assert t.size == a.size * b.size
    q = t.change_of_basis
    assert np.allclose(q @ q.T, np.eye(t.size), atol=1e-10)
    for g in group.elements:
        assert np.allclose(t(g), np.kron(a(g), b(g)), atol=1e-10)
    for g, h in itertools.islice(itertools.product(group.elements, repeat=2), 30):
        assert np.allclose(t(group.combine(g, h)), t(g) @ t(h), atol=1e-10)


@pytest.mark.parametrize("k,l", [(0, 3), (1, 1), (1, 2), (3, 2)])
def test_tensor_product_so2_clebsch_gordan(k, l):
    G = so2_group()
    t = tensor_product(G.irrep(k), G.irrep(l))
    expected = {k + l, abs(k - l)}
    got = {G.irreps[n].frequency for n in t.irreps}
    assert got == expected
    if k == l and k:
        assert t.irreps.count("irrep_0") == 2
    for theta in np.linspace(0, 2 * np.pi, 13):
        assert np.allclose(t(theta), np.kron(G.irrep(k)(theta), G.irrep(l)(theta)), atol=1e-10)


def test_tensor_product_o2():
    G = o2_group()
    a = directsum([G.irrep(0, 0), G.irrep(1, 1), G.irrep(1, 2)])
    t = tensor_product(a, a)
    for g in G.testing_elements[::7]:
        assert np.allclose(t(g), np.kron(a(g), a(g)), atol=1e-10)
    assert sorted(set(t.irreps)) == sorted(
        {"irrep_0,0", "irrep_1,0", "irrep_1,1", "irrep_1,2", "irrep_1,3", "irrep_1,4"}
    )


def test_tensor_product_needs_the_frequencies():
    G = so2_group(3)
    with pytest.raises(ValueError, match="maximum_frequency"):
        tensor_product(G.irrep(2), G.irrep(2))
    with pytest.raises(TypeError, match="r2"):
        tensor_product(G.irrep(1), None)
    with pytest.raises(ValueError, match="r2"):
        tensor_product(G.irrep(1), so2_group(4).irrep(1))


# -- no_base_space ---------------------------------------------------------------------------


@pytest.mark.parametrize("G", [cyclic_group(5), dihedral_group(3), so2_group(), o2_group()])
def test_no_base_space(G):
    gs = no_base_space(G)
    assert isinstance(gs, GSpace0D)
    assert gs.dimensionality == 0 and gs.name == G.name and gs.fibergroup is G
    assert gs == no_base_space(G) and hash(gs) == hash(no_base_space(G))
    assert gs != rot2dOnR2(4)
    assert pickle.loads(pickle.dumps(gs)) == gs
    r = list(G.irreps.values())[1]
    x = np.arange(3 * r.size, dtype=float).reshape(3, r.size)
    for g in G.testing_elements[:5]:
        assert np.array_equal(gs.basespace_action(x, g), x)
        assert np.allclose(gs.featurefield_action(x, r, g), x @ r(g).T)
    with pytest.raises(ValueError, match="input"):
        gs.featurefield_action(np.zeros((2, r.size + 1)), r, G.identity)


def test_no_base_space_restrict_and_errors():
    gs = no_base_space(dihedral_group(4))
    sub, parent, child = gs.restrict((None, 4))
    assert sub == no_base_space(cyclic_group(4))
    assert parent(1) == (0, 1)
    with pytest.raises(TypeError, match="G"):
        no_base_space("C4")
    with pytest.raises(ValueError, match="repr"):
        gs.featurefield_action(np.zeros((1, 2)), cyclic_group(3).irrep(1), (0, 0))
