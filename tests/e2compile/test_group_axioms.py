"""Laws of the groups and their irreps: axioms, homomorphisms, characters, validation, pickling."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e2compile.group import (
    O2,
    SO2,
    CyclicGroup,
    DihedralGroup,
    Group,
    chi,
    cyclic_group,
    dihedral_group,
    o2_group,
    psi,
    psichi,
    so2_group,
    trivial_group,
)

FINITE = [cyclic_group(n) for n in range(1, 13)] + [dihedral_group(n) for n in range(1, 9)]
CONTINUOUS = [so2_group(3), o2_group(3), so2_group(), o2_group()]
ALL = FINITE + CONTINUOUS


def element_strategy(G: Group) -> st.SearchStrategy:
    """Any element of ``G``, in its canonical encoding."""
    angle = st.floats(0.0, 2 * math.pi, allow_nan=False, exclude_max=True)
    if isinstance(G, CyclicGroup):
        return st.integers(0, G.N - 1)
    if isinstance(G, DihedralGroup):
        return st.tuples(st.integers(0, 1), st.integers(0, G.N - 1))
    if isinstance(G, SO2):
        return angle
    return st.tuples(st.integers(0, 1), angle)


groups = st.sampled_from(ALL)


# -- identity of groups ---------------------------------------------------------------------------


def test_factories_return_shared_instances() -> None:
    assert cyclic_group(15) is cyclic_group(15)
    assert CyclicGroup(15) == cyclic_group(15)
    assert hash(CyclicGroup(15)) == hash(cyclic_group(15))
    assert DihedralGroup(N=6) is dihedral_group(6)
    assert trivial_group() == cyclic_group(1)
    assert so2_group() == SO2(10) and o2_group() == O2(10)
    assert so2_group(3) != so2_group(4)
    assert cyclic_group(4) != dihedral_group(4)
    assert cyclic_group(2) != dihedral_group(1)


@pytest.mark.parametrize("G", ALL, ids=str)
def test_groups_pickle_to_the_shared_instance(G: Group) -> None:
    H = pickle.loads(pickle.dumps(G))
    assert H == G and H is G and hash(H) == hash(G)


def test_names_and_orders() -> None:
    assert cyclic_group(5).name == "C5" and cyclic_group(5).order() == 5
    assert dihedral_group(5).name == "D5" and dihedral_group(5).order() == 10
    assert so2_group().name == "SO(2)" and so2_group().order() == -1
    assert o2_group().name == "O(2)" and o2_group().order() == -1
    for G in FINITE:
        assert not G.continuous
        assert len(G.elements) == G.order() == len(set(G.elements))
        assert list(G.testing_elements) == G.elements
        assert G.testing_elements() == G.elements  # callable, as in the reference
    for G in CONTINUOUS:
        assert G.continuous and G.elements is None
    assert len(so2_group().testing_elements) == 52
    assert len(o2_group().testing_elements) == 104
    assert so2_group().maximum_frequency == 10 and o2_group(3).maximum_frequency == 3
    assert cyclic_group(3).identity == 0 and dihedral_group(3).identity == (0, 0)


# -- axioms ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("G", FINITE, ids=str)
def test_finite_group_axioms(G: Group) -> None:
    elements = G.elements
    index = set(elements)
    e = G.identity
    for a in elements:
        assert G.combine(a, e) == a == G.combine(e, a)
        assert G.combine(a, G.inverse(a)) == e == G.combine(G.inverse(a), a)
        for b in elements:
            ab = G.combine(a, b)
            assert ab in index
            for c in elements:
                assert G.combine(ab, c) == G.combine(a, G.combine(b, c))


@given(data=st.data())
@settings(max_examples=40)
def test_continuous_group_axioms(data: st.DataObject) -> None:
    G = data.draw(st.sampled_from(CONTINUOUS))
    a, b, c = (data.draw(element_strategy(G)) for _ in range(3))
    assert G.is_element(G.combine(a, b))
    assert G.equal(G.combine(G.combine(a, b), c), G.combine(a, G.combine(b, c)))
    assert G.equal(G.combine(a, G.identity), a) and G.equal(G.combine(G.identity, a), a)
    assert G.equal(G.combine(a, G.inverse(a)), G.identity)
    assert G.equal(G.combine(G.inverse(a), a), G.identity)


def test_dihedral_product_follows_the_convention() -> None:
    D = dihedral_group(5)
    # (f1, r1)(f2, r2) = (f1 + f2, r1 + (-1)^f1 r2)
    assert D.combine((1, 1), (0, 2)) == (1, 4)
    assert D.combine((0, 1), (1, 2)) == (1, 3)
    assert D.inverse((0, 2)) == (0, 3) and D.inverse((1, 2)) == (1, 2)
    O = o2_group()
    assert O.equal(O.combine((1, 0.5), (0, 0.25)), (1, 0.25))


# -- irreps ---------------------------------------------------------------------------------------


def test_irrep_names_and_canonical_order() -> None:
    assert list(cyclic_group(5).irreps) == ["irrep_0", "irrep_1", "irrep_2"]
    assert list(cyclic_group(4).irreps) == ["irrep_0", "irrep_1", "irrep_2"]
    assert list(dihedral_group(4).irreps) == [
        "irrep_0,0",
        "irrep_1,0",
        "irrep_1,1",
        "irrep_1,2",
        "irrep_0,2",
    ]
    assert list(dihedral_group(5).irreps) == ["irrep_0,0", "irrep_1,0", "irrep_1,1", "irrep_1,2"]
    assert list(so2_group(2).irreps) == ["irrep_0", "irrep_1", "irrep_2"]
    assert list(o2_group(2).irreps) == ["irrep_0,0", "irrep_1,0", "irrep_1,1", "irrep_1,2"]
    assert isinstance(cyclic_group(3).irreps, dict)


@pytest.mark.parametrize("G", ALL, ids=str)
def test_irrep_attributes(G: Group) -> None:
    for name, irr in G.irreps.items():
        assert irr.name == name and irr.group is G
        assert G.irrep(*irr.id) is irr
        assert irr.frequency == irr.id[-1] == irr.attributes["frequency"]
        flips = isinstance(G, (DihedralGroup, O2))
        assert len(irr.id) == (2 if flips else 1)
        if flips:
            assert irr.flip_frequency == irr.id[0] == irr.attributes["flip_frequency"]
            assert irr.sum_of_squares_constituents == 1
        else:
            assert irr.sum_of_squares_constituents == irr.size
        assert irr.irreducible and irr.irreps == (name,)
    assert G.trivial_representation.is_trivial()
    assert G.trivial_representation is G.irrep(*((0,) * len(G.trivial_representation.id)))


def test_supported_nonlinearities_follow_the_conventions() -> None:
    triv = {"pointwise", "gate", "norm", "gated", "concatenated"}
    C = cyclic_group(4)
    assert C.irrep(0).supported_nonlinearities == triv
    assert C.irrep(2).supported_nonlinearities == {"norm", "gated", "concatenated"}
    assert C.irrep(1).supported_nonlinearities == {"norm", "gated"}
    D = dihedral_group(4)
    assert D.irrep(0, 0).supported_nonlinearities == triv
    for one_dim in [(1, 0), (1, 2), (0, 2)]:
        assert D.irrep(*one_dim).supported_nonlinearities == {"norm", "gated", "concatenated"}
    assert D.irrep(1, 1).supported_nonlinearities == {"norm", "gated"}
    assert so2_group().irrep(0).supported_nonlinearities == triv - {"concatenated"}
    assert so2_group().irrep(3).supported_nonlinearities == {"norm", "gated"}
    assert o2_group().irrep(0, 0).supported_nonlinearities == triv - {"concatenated"}
    assert o2_group().irrep(1, 0).supported_nonlinearities == {"norm", "gated"}
    assert o2_group().irrep(1, 2).supported_nonlinearities == {"norm", "gated"}


@given(data=st.data())
@settings(max_examples=60)
def test_irreps_are_orthogonal_homomorphisms(data: st.DataObject) -> None:
    G = data.draw(groups)
    a = data.draw(element_strategy(G))
    b = data.draw(element_strategy(G))
    for irr in G.irreps.values():
        ra, rb = irr(a), irr(b)
        assert ra.shape == (irr.size, irr.size)
        np.testing.assert_allclose(irr(G.combine(a, b)), ra @ rb, atol=1e-9)
        np.testing.assert_allclose(ra @ ra.T, np.eye(irr.size), atol=1e-9)
        np.testing.assert_allclose(irr(G.identity), np.eye(irr.size), atol=1e-12)
        assert math.isclose(irr.character(a), float(np.trace(ra)), abs_tol=1e-12)


def test_irrep_matrices_follow_the_conventions() -> None:
    C = cyclic_group(8)
    np.testing.assert_allclose(C.irrep(3)(2), psi(2 * np.pi * 2 / 8, 3))
    D = dihedral_group(6)
    np.testing.assert_allclose(D.irrep(1, 2)((1, 1)), psichi(2 * np.pi / 6, 1, 2))
    assert D.irrep(0, 3)((1, 1))[0, 0] == -1 and D.irrep(1, 3)((1, 1))[0, 0] == 1
    assert D.irrep(1, 0)((1, 4))[0, 0] == -1
    np.testing.assert_allclose(so2_group().irrep(2)(0.3), psi(0.3, 2))
    np.testing.assert_allclose(o2_group().irrep(1, 2)((1, 0.3)), psi(0.3, 2) @ chi(1))


@pytest.mark.parametrize("G", FINITE, ids=str)
def test_finite_characters_are_orthonormal(G: Group) -> None:
    irreps = list(G.irreps.values())
    chars = np.array([[irr.character(g) for g in G.elements] for irr in irreps])
    gram = chars @ chars.T / G.order()
    expected = np.diag([irr.sum_of_squares_constituents for irr in irreps])
    np.testing.assert_allclose(gram, expected, atol=1e-9)
    # the irreps exhaust the group: sum of dim^2 / sos == |G|
    assert sum(i.size**2 // i.sum_of_squares_constituents for i in irreps) == G.order()


def test_psi_chi_psichi() -> None:
    np.testing.assert_allclose(psi(0.2, k=3, gamma=0.1), psi(0.7))
    np.testing.assert_allclose(chi(0), np.eye(2))
    np.testing.assert_allclose(chi(1), np.diag([1.0, -1.0]))
    np.testing.assert_allclose(psichi(0.4, 1, k=2), psi(0.8) @ chi(1))


# -- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("G", "bad", "exc"),
    [
        (cyclic_group(4), 4, ValueError),
        (cyclic_group(4), -1, ValueError),
        (cyclic_group(4), 1.0, TypeError),
        (cyclic_group(4), "1", TypeError),
        (cyclic_group(4), True, TypeError),
        (dihedral_group(4), 1, TypeError),
        (dihedral_group(4), (2, 0), ValueError),
        (dihedral_group(4), (0, 4), ValueError),
        (dihedral_group(4), (0, 1, 2), TypeError),
        (dihedral_group(4), (0.0, 1), TypeError),
        (so2_group(), "a", TypeError),
        (so2_group(), float("nan"), ValueError),
        (so2_group(), (0, 1.0), TypeError),
        (o2_group(), 0.5, TypeError),
        (o2_group(), (3, 0.5), ValueError),
        (o2_group(), (0, float("inf")), ValueError),
    ],
)
def test_bad_elements_raise_naming_the_argument(G: Group, bad: object, exc: type) -> None:
    assert not G.is_element(bad)
    with pytest.raises(exc, match="element"):
        G.irreps[list(G.irreps)[-1]](bad)
    with pytest.raises(exc, match="element"):
        G.inverse(bad)
    with pytest.raises(exc, match="e2"):
        G.combine(G.identity, bad)


@pytest.mark.parametrize(
    ("factory", "arg", "exc", "name"),
    [
        (cyclic_group, 0, ValueError, "N"),
        (CyclicGroup, -3, ValueError, "N"),
        (dihedral_group, 0, ValueError, "N"),
        (cyclic_group, 2.0, TypeError, "N"),
        (so2_group, -1, ValueError, "maximum_frequency"),
        (o2_group, 1.5, TypeError, "maximum_frequency"),
    ],
)
def test_bad_group_parameters(factory, arg, exc, name) -> None:
    with pytest.raises(exc, match=name):
        factory(arg)


def test_unknown_irrep_ids() -> None:
    with pytest.raises(ValueError, match="id"):
        cyclic_group(4).irrep(3)
    with pytest.raises(ValueError, match="id"):
        dihedral_group(4).irrep(0, 1)
    with pytest.raises(ValueError, match="id"):
        dihedral_group(4).irrep(2)
    with pytest.raises(ValueError, match="id"):
        so2_group(3).irrep(4)
    with pytest.raises(TypeError, match="id"):
        o2_group().irrep(1, 0.5)


@pytest.mark.parametrize(
    ("G", "bad", "exc"),
    [
        (cyclic_group(6), 4, ValueError),
        (cyclic_group(6), 0, ValueError),
        (cyclic_group(6), (None, 2), TypeError),
        (dihedral_group(6), 3, TypeError),
        (dihedral_group(6), (None, 4), ValueError),
        (dihedral_group(6), (2, 3), ValueError),
        (dihedral_group(6), (0.5, 3), TypeError),
        (so2_group(), (None, 2), TypeError),
        (so2_group(), 0, ValueError),
        (o2_group(), (None, 0), ValueError),
        (o2_group(), ("a", 2), TypeError),
        (o2_group(), 2, TypeError),
    ],
)
def test_unknown_subgroup_ids(G: Group, bad: object, exc: type) -> None:
    with pytest.raises(exc, match="id"):
        G.subgroup(bad)
    with pytest.raises(exc, match="id"):
        G.restrict_representation(bad, G.trivial_representation)


@given(
    factory=st.sampled_from([cyclic_group, dihedral_group]),
    N=st.integers(1, 30),
    data=st.data(),
)
@settings(max_examples=30)
def test_axioms_and_regular_multiplicities_for_any_order(factory, N: int, data) -> None:
    G = factory(N)
    a, b, c = (data.draw(element_strategy(G)) for _ in range(3))
    assert G.combine(G.combine(a, b), c) == G.combine(a, G.combine(b, c))
    assert G.combine(a, G.inverse(a)) == G.identity
    R = G.regular_representation
    np.testing.assert_allclose(R(G.combine(a, b)), R(a) @ R(b), atol=1e-9)
    counts = {name: R.irreps.count(name) for name in G.irreps}
    assert counts == {n: i.size // i.sum_of_squares_constituents for n, i in G.irreps.items()}
    assert sum(G.irreps[n].size for n in R.irreps) == G.order()
