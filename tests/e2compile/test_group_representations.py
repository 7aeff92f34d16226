"""Laws of representations: regular, quotient, induced, restricted, direct sums, disentangling."""

from __future__ import annotations

import math
import pickle
import subprocess
import sys

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
    IrreducibleRepresentation,
    Representation,
    change_basis,
    cyclic_group,
    dihedral_group,
    directsum,
    disentangle,
    o2_group,
    so2_group,
)

FINITE = [cyclic_group(n) for n in range(1, 13)] + [dihedral_group(n) for n in range(1, 9)]
SMALL_FINITE = [cyclic_group(n) for n in (1, 2, 3, 4, 6, 8)] + [
    dihedral_group(n) for n in (1, 2, 3, 4, 6)
]
CONTINUOUS = [so2_group(3), o2_group(3)]


def subgroup_ids(G: Group) -> list:
    """Every valid subgroup id of a finite group, and a representative set for SO(2)/O(2)."""
    if isinstance(G, CyclicGroup):
        return [m for m in range(1, G.N + 1) if G.N % m == 0]
    if isinstance(G, DihedralGroup):
        ids: list = []
        for m in range(1, G.N + 1):
            if G.N % m == 0:
                ids.append((None, m))
                ids.extend((k, m) for k in range(G.N // m))
        return ids
    if isinstance(G, SO2):
        return [-1, 1, 2, 3, 5]
    return [(None, -1), (0.0, -1), (0.9, -1), (None, 1), (None, 4), (0.0, 1), (1.3, 1), (0.4, 3)]


def pairs(G: Group, limit: int = 400) -> list:
    """Pairs of elements to check homomorphisms on (all pairs for small finite groups)."""
    els = list(G.testing_elements)
    if len(els) ** 2 <= limit:
        return [(a, b) for a in els for b in els]
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(els), size=(limit, 2))
    return [(els[i], els[j]) for i, j in idx]


def assert_orthogonal_homomorphism(rep: Representation, limit: int = 400) -> None:
    G = rep.group
    for a, b in pairs(G, limit):
        ra = rep(a)
        np.testing.assert_allclose(rep(G.combine(a, b)), ra @ rep(b), atol=1e-9)
        np.testing.assert_allclose(ra @ ra.T, np.eye(rep.size), atol=1e-9)


def multiplicities(rep: Representation) -> dict[str, int]:
    out = dict.fromkeys(rep.group.irreps, 0)
    for n in rep.irreps:
        out[n] += 1
    return out


def assert_canonical_order(rep: Representation) -> None:
    order = list(rep.group.irreps)
    positions = [order.index(n) for n in rep.irreps]
    assert positions == sorted(positions)


# -- regular --------------------------------------------------------------------------------------


@pytest.mark.parametrize("G", FINITE, ids=str)
def test_regular_representation(G: Group) -> None:
    R = G.regular_representation
    assert R is G.regular_representation and R.name == "regular" and R.size == G.order()
    assert G.representations["regular"] is R
    # irreps in group order, multiplicity = dim / sum_of_squares_constituents
    assert_canonical_order(R)
    for name, m in multiplicities(R).items():
        irr = G.irreps[name]
        assert m == irr.size // irr.sum_of_squares_constituents
    index = {g: i for i, g in enumerate(G.elements)}
    for h in G.elements:
        P = R(h)
        for g in G.elements:  # rho(h) e_g = e_{hg}
            e = np.zeros(G.order())
            e[index[g]] = 1.0
            np.testing.assert_allclose(P @ e, np.eye(G.order())[index[G.combine(h, g)]], atol=1e-9)
    assert_orthogonal_homomorphism(R)
    expected = {"pointwise", "norm", "gated", "concatenated"}
    if isinstance(G, CyclicGroup):
        expected.add("vectorfield")
    assert R.supported_nonlinearities == expected


def test_regular_representation_of_continuous_group_is_an_error() -> None:
    with pytest.raises(ValueError, match="regular"):
        so2_group().regular_representation  # noqa: B018


# -- quotient and induced -------------------------------------------------------------------------


@pytest.mark.parametrize("G", SMALL_FINITE + CONTINUOUS, ids=str)
def test_quotient_representations(G: Group) -> None:
    for sid in subgroup_ids(G):
        H, _, _ = G.subgroup(sid)
        if G.continuous and H.order() > 0:
            continue  # infinite index: not supported
        Q = G.quotient_representation(sid)
        assert Q.name.startswith("quotient[") and Q is G.quotient_representation(sid)
        index = 2 if isinstance(G, O2) and sid == (None, -1) else 1
        if not G.continuous:
            index = G.order() // H.order()
        assert Q.size == index == Q.attributes["quotient_size"]
        assert_canonical_order(Q)
        assert_orthogonal_homomorphism(Q, limit=150)
        for g in G.testing_elements[:8]:
            M = Q(g)  # a permutation matrix
            np.testing.assert_allclose(np.sort(M, axis=1)[:, -1], 1.0, atol=1e-9)
            np.testing.assert_allclose(np.abs(M).sum(axis=1), 1.0, atol=1e-9)
        assert {"pointwise", "induced_norm_1", "induced_gated_1", "induced_gate"} <= set(
            Q.supported_nonlinearities
        )
    if not G.continuous:
        # the quotient by the trivial subgroup has the size of the regular representation
        assert G.quotient_representation(subgroup_ids(G)[0]).size == G.order()


def test_quotient_by_trivial_subgroup_contains_the_regular_multiplicities() -> None:
    G = dihedral_group(5)
    Q = G.quotient_representation((None, 1))
    assert multiplicities(Q) == multiplicities(G.regular_representation)
    assert G.quotient_representation((0, 5)).is_trivial()


def test_quotient_name() -> None:
    assert cyclic_group(8).quotient_representation(2).name == "quotient[2]"
    assert dihedral_group(4).quotient_representation((None, 2)).name == "quotient[(None, 2)]"
    H = cyclic_group(2)
    ind = dihedral_group(4).induced_representation((None, 2), H.irrep(1))
    assert ind.name == "induced[(None, 2)][irrep_1]"


def frobenius_cases() -> list:
    cases = []
    for G in SMALL_FINITE + [o2_group(3), so2_group(3)]:
        for sid in subgroup_ids(G):
            H, _, _ = G.subgroup(sid)
            if G.continuous and H.order() > 0:
                continue
            for name in H.irreps:
                cases.append((G, sid, name))
    return cases


@pytest.mark.parametrize(
    ("G", "sid", "irrep"), frobenius_cases(), ids=lambda x: str(x) if not isinstance(x, str) else x
)
def test_induced_representations(G: Group, sid, irrep: str) -> None:
    H, _, _ = G.subgroup(sid)
    psi = H.irreps[irrep]
    ind = G.induced_representation(sid, psi)
    assert ind.attributes["induced_from"] == psi
    assert ind.size == psi.size * ind.attributes["quotient_size"]
    assert_canonical_order(ind)
    assert_orthogonal_homomorphism(ind, limit=60)
    # agrees with the natural coset-block construction
    for g in list(G.testing_elements)[:: max(1, len(G.testing_elements) // 7)]:
        np.testing.assert_allclose(ind(g), G._induced_matrix(sid, psi, g), atol=1e-9)
    # Frobenius reciprocity (real form): m_G(rho in Ind psi) s_rho == m_H(psi in Res rho) s_psi
    m_ind = multiplicities(ind)
    for name, rho in G.irreps.items():
        res = rho.restrict(sid)
        m_res = sum(1 for n in res.irreps if n == irrep)
        assert (
            m_ind[name] * rho.sum_of_squares_constituents == m_res * psi.sum_of_squares_constituents
        )


def test_induced_from_a_reducible_representation() -> None:
    G = dihedral_group(4)
    H = cyclic_group(4)
    rep = H.regular_representation
    ind = G.induced_representation((None, 4), rep)
    assert ind.size == 8
    assert multiplicities(ind) == multiplicities(G.regular_representation)
    assert_orthogonal_homomorphism(ind)


def test_induction_errors() -> None:
    G = dihedral_group(4)
    with pytest.raises(ValueError, match="repr"):
        G.induced_representation((None, 2), cyclic_group(4).irrep(1))
    with pytest.raises(TypeError, match="repr"):
        G.induced_representation((None, 2), "irrep_1")
    with pytest.raises(ValueError, match="subgroup_id"):
        o2_group(3).quotient_representation((None, 4))
    with pytest.raises(ValueError, match="subgroup_id"):
        so2_group(3).quotient_representation(2)


# -- restriction ----------------------------------------------------------------------------------


def representations_of(G: Group) -> list[Representation]:
    reps: list[Representation] = list(G.irreps.values())
    if not G.continuous:
        reps.append(G.regular_representation)
    else:
        reps.append(directsum(reps[:3]))
    return reps


@pytest.mark.parametrize("G", FINITE + CONTINUOUS, ids=str)
def test_restriction_matches_the_parent_on_mapped_elements(G: Group) -> None:
    for sid in subgroup_ids(G):
        H, parent, child = G.subgroup(sid)
        assert G.subgroup(sid)[0] is H
        elements = list(H.testing_elements)
        # maps invert each other and parent is a homomorphism
        for h in elements:
            assert H.equal(child(parent(h)), h)
        for h1, h2 in pairs(H, limit=60):
            assert G.equal(parent(H.combine(h1, h2)), G.combine(parent(h1), parent(h2)))
        if not G.continuous:
            image = {parent(h) for h in H.elements}
            assert len(image) == H.order()
            for g in G.elements:
                assert (child(g) is None) == (g not in image)
        for rep in representations_of(G):
            res = rep.restrict(sid)
            assert res.group == H and res.size == rep.size
            assert res.name == f"{G.name}:{rep.name}"
            assert res == G.restrict_representation(sid, rep)
            for h in elements[:: max(1, len(elements) // 13)]:
                np.testing.assert_allclose(res(h), rep(parent(h)), atol=1e-9)


def test_restricting_to_the_trivial_subgroup_allows_pointwise() -> None:
    res = cyclic_group(4).irrep(1).restrict(1)
    assert res.is_trivial() and "pointwise" in res.supported_nonlinearities


def test_restriction_errors() -> None:
    with pytest.raises(ValueError, match="repr"):
        cyclic_group(4).restrict_representation(2, cyclic_group(8).irrep(1))
    with pytest.raises(TypeError, match="repr"):
        cyclic_group(4).restrict_representation(2, "irrep_1")


# -- direct sums, change of basis, identity -------------------------------------------------------


@given(data=st.data())
@settings(max_examples=20)
def test_directsum_is_block_diagonal(data: st.DataObject) -> None:
    G = data.draw(st.sampled_from(SMALL_FINITE + CONTINUOUS))
    pool = representations_of(G)
    reps = data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4))
    s = directsum(reps)
    assert s.size == sum(r.size for r in reps)
    assert s.name == "_".join(f"[{r.name}]" for r in reps)
    shared = frozenset.intersection(*[r.supported_nonlinearities for r in reps])
    if len(reps) > 1:
        shared -= {"vectorfield"}
    assert s.supported_nonlinearities == shared
    g = data.draw(st.sampled_from(list(G.testing_elements)))
    blocks = [r(g) for r in reps]
    expected = np.zeros((s.size, s.size))
    p = 0
    for b in blocks:
        expected[p : p + len(b), p : p + len(b)] = b
        p += len(b)
    np.testing.assert_allclose(s(g), expected, atol=1e-9)
    assert_orthogonal_homomorphism(s, limit=20)
    if len(reps) == 2:
        assert reps[0] + reps[1] == s


def test_a_sum_of_regular_fields_is_not_one_vector_field() -> None:
    regular = cyclic_group(8).regular_representation
    assert "vectorfield" in directsum([regular]).supported_nonlinearities
    twice = directsum([regular, regular])
    assert "vectorfield" not in twice.supported_nonlinearities
    assert "pointwise" in twice.supported_nonlinearities


def test_directsum_errors() -> None:
    with pytest.raises(ValueError, match="reprs"):
        directsum([cyclic_group(4).irrep(1), cyclic_group(8).irrep(1)])
    with pytest.raises(ValueError, match="reprs"):
        directsum([])
    with pytest.raises(TypeError, match="reprs"):
        directsum([cyclic_group(4).irrep(1), np.eye(2)])
    with pytest.raises(ValueError, match="reprs"):
        cyclic_group(4).irrep(1) + dihedral_group(4).irrep(1, 1)
    with pytest.raises(ValueError, match="change_of_basis"):
        directsum([cyclic_group(4).irrep(1)], change_of_basis=np.eye(3))


def test_equality_and_hash_by_content() -> None:
    G = dihedral_group(3)
    R = G.regular_representation
    same = Representation(G, "another name", R.irreps, R.change_of_basis, [])
    assert same == R and hash(same) == hash(R)
    perturbed = Representation(G, "regular", R.irreps, R.change_of_basis + 1e-14, [])
    assert perturbed == R  # rounded to COB_DECIMALS
    other = change_basis(R, np.diag([1.0, -1.0, 1.0, 1.0, 1.0, 1.0]), "flipped")
    assert other != R and other.irreps == R.irreps
    assert directsum([G.irrep(0, 0), G.irrep(1, 1)]) != directsum([G.irrep(1, 1), G.irrep(0, 0)])
    # same irreps and basis in another group are different
    assert cyclic_group(4).irrep(0) != cyclic_group(5).irrep(0)
    irr = G.irrep(1, 1)
    assert Representation(G, "x", ["irrep_1,1"], np.eye(2)) == irr
    assert len({R, same, perturbed, other}) == 2


def test_representations_are_immutable() -> None:
    R = cyclic_group(4).regular_representation
    with pytest.raises(AttributeError):
        R.name = "x"
    with pytest.raises(AttributeError):
        R.size = 3
    with pytest.raises(ValueError):
        R.change_of_basis[0, 0] = 2.0
    m = R(1)
    m[0, 0] = 5.0  # evaluation returns a fresh array
    assert R(1)[0, 0] != 5.0


def test_representation_constructor_validation() -> None:
    G = cyclic_group(4)
    with pytest.raises(ValueError, match="irreps"):
        Representation(G, "r", ["irrep_7"], np.eye(2))
    with pytest.raises(ValueError, match="irreps"):
        Representation(G, "r", [], np.eye(0))
    with pytest.raises(ValueError, match="change_of_basis"):
        Representation(G, "r", ["irrep_1"], np.eye(3))
    with pytest.raises(ValueError, match="change_of_basis"):
        Representation(G, "r", ["irrep_1"], np.zeros((2, 2)))
    with pytest.raises(TypeError, match="group"):
        Representation("C4", "r", ["irrep_1"], np.eye(2))
    with pytest.raises(ValueError, match="irreps"):
        Representation(G, "r", [dihedral_group(4).irrep(1, 1)], np.eye(2))


def test_non_orthogonal_change_of_basis() -> None:
    G = cyclic_group(6)
    P = np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0]])
    base = directsum([G.irrep(1), G.irrep(3)])
    rep = change_basis(base, P, "skewed", ["norm"])
    for g in G.elements:
        np.testing.assert_allclose(rep(g), P @ base(g) @ np.linalg.inv(P), atol=1e-9)
    assert rep.supported_nonlinearities == {"norm"}
    assert change_basis(base, P, "x").supported_nonlinearities == frozenset()


def test_character_and_triviality() -> None:
    G = dihedral_group(4)
    R = G.regular_representation
    assert R.character(G.identity) == pytest.approx(8.0)
    assert R.character((1, 1)) == pytest.approx(0.0, abs=1e-9)
    assert R.contains_trivial() and not R.is_trivial()
    assert not G.irrep(1, 1).contains_trivial()
    assert directsum([G.trivial_representation] * 3).is_trivial()


def test_representations_registry() -> None:
    G = cyclic_group(7)
    R = G.regular_representation
    reps = G.representations
    assert isinstance(reps, dict) and reps["regular"] is R and reps["irrep_1"] is G.irrep(1)


# -- pickling -------------------------------------------------------------------------------------


@pytest.mark.parametrize("G", SMALL_FINITE + CONTINUOUS, ids=str)
def test_representations_pickle_to_equal_objects(G: Group) -> None:
    reps = representations_of(G)
    sid = subgroup_ids(G)[-1 if len(subgroup_ids(G)) < 2 else 1]
    reps.append(G.restrict_representation(sid, reps[-1]))
    H, parent, child = G.subgroup(sid)
    if not G.continuous or isinstance(G, O2):
        qid = (None, -1) if isinstance(G, O2) else sid
        reps.append(G.quotient_representation(qid))
        Hq = G.subgroup(qid)[0]
        reps.append(G.induced_representation(qid, list(Hq.irreps.values())[-1]))
    for rep in reps:
        clone = pickle.loads(pickle.dumps(rep))
        assert clone == rep and hash(clone) == hash(rep)
        assert (
            clone.name == rep.name
            and clone.supported_nonlinearities == rep.supported_nonlinearities
        )
        assert type(clone) is type(rep)
        g = rep.group.testing_elements[-1]
        np.testing.assert_allclose(clone(g), rep(g))
        if isinstance(rep, IrreducibleRepresentation):
            assert clone is rep
    for fn in (parent, child):
        assert pickle.loads(pickle.dumps(fn)) == fn
    h = H.testing_elements[-1]
    assert pickle.loads(pickle.dumps(parent))(h) == parent(h)


# -- disentangle ----------------------------------------------------------------------------------


def assert_disentangles(rep: Representation) -> list[Representation]:
    P, parts = disentangle(rep)
    np.testing.assert_allclose(P @ P.T, np.eye(rep.size), atol=1e-12)
    assert set(np.unique(P)) <= {0.0, 1.0}
    total = directsum(parts)
    for g in rep.group.testing_elements[:: max(1, len(rep.group.testing_elements) // 12)]:
        np.testing.assert_allclose(P @ rep(g) @ P.T, total(g), atol=1e-9)
    return parts


def test_disentangle_undoes_a_permutation() -> None:
    G = cyclic_group(4)
    base = directsum([G.irrep(1), G.regular_representation, G.trivial_representation])
    perm = np.eye(base.size)[np.random.default_rng(1).permutation(base.size)]
    mixed = change_basis(base, perm, "mixed")
    parts = assert_disentangles(mixed)
    assert sorted(p.size for p in parts) == [1, 2, 4]
    assert G.irrep(1) in parts and G.trivial_representation in parts


@pytest.mark.parametrize("G", SMALL_FINITE + CONTINUOUS, ids=str)
def test_disentangle_reconstructs(G: Group) -> None:
    reps = representations_of(G)
    parts = assert_disentangles(directsum(reps))
    assert len(parts) >= len(reps)
    for irr in G.irreps.values():
        assert assert_disentangles(irr) == [irr]


def test_disentangle_errors() -> None:
    with pytest.raises(TypeError, match="repr"):
        disentangle(np.eye(2))


def test_import_is_light() -> None:
    code = (
        "import sys, e2compile.group, e2compile.gspaces; "
        "bad = [m for m in ('scipy', 'torch', 'sympy') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_angles_are_canonical() -> None:
    G = so2_group()
    assert G.combine(math.pi, math.pi) == pytest.approx(0.0, abs=1e-12)
    assert G.equal(-0.5, 2 * math.pi - 0.5)
    O = o2_group()
    assert O.equal((1, -0.5), (1, 2 * math.pi - 0.5))
    assert not O.equal((1, 0.5), (0, 0.5))
