"""escnn 1.0.11's group helpers for Fourier non-linearities: grids, band limits, and the spectral
regular and quotient representations (group laws, escnn's irreps, names and delta vectors)."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e2compile.group import cyclic_group, dihedral_group, o2_group, so2_group
from e2compile.group.spectral import copies

DATA = Path(__file__).resolve().parents[1] / "data" / "escnn_quotient_vectors.json"
TWO_PI = 2 * math.pi


# ----------------------------------------------------------------------------------- grids
def test_regular_grids_list_escnn_elements_in_escnn_order():
    assert cyclic_group(8).grid("regular", 4) == [0, 2, 4, 6]
    assert dihedral_group(6).grid("regular", 3) == [(0, 0), (0, 2), (0, 4), (1, 0), (1, 2), (1, 4)]
    assert so2_group().grid(4) == [0.0, math.pi / 2, math.pi, 3 * math.pi / 2]
    assert so2_group().grid(6) == [i * 2 * np.pi / 6 for i in range(6)]  # bit for bit
    o2 = o2_group()
    assert o2.grid(3) == [(f, i * 2 * np.pi / 3) for f in range(2) for i in range(3)]
    assert o2.grid_so2(3) == [(0, i * 2 * np.pi / 3) for i in range(3)]


def test_random_grids_draw_as_escnn_does():
    # escnn 1.0.11: so2_group().grid(3, 'rand', seed=0) -> [3.4483, 4.4937, 3.7873]
    assert np.allclose(so2_group().grid(3, "rand", seed=0), [3.44830, 4.49367, 3.78727], atol=1e-5)
    rng = np.random.RandomState(5)
    expected = []
    for _ in range(4):
        f = rng.randint(0, 2)
        expected.append((int(f), rng.random() * TWO_PI))
    assert o2_group().grid(4, "rand", seed=5) == expected
    assert o2_group().grid(4, type="rand", seed=np.random.RandomState(5)) == expected
    # C_N/D_N draw from numpy's global state, as escnn's G.sample() does
    np.random.seed(3)  # noqa: NPY002
    expected_c = [int(np.random.randint(0, 7)) for _ in range(5)]  # noqa: NPY002
    expected_d = [(int(np.random.randint(0, 2)), int(np.random.randint(0, 7)))  # noqa: NPY002
                  for _ in range(2)]  # fmt: skip
    np.random.seed(3)  # noqa: NPY002
    assert cyclic_group(7).grid("rand", 5) == expected_c
    assert dihedral_group(7).grid("rand", 2) == expected_d


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: cyclic_group(8).grid("regular", 3), "dividing 8"),
        (lambda: dihedral_group(4).grid("thomson", 4), "not recognized"),
        (lambda: so2_group().grid(8, "ico"), "not recognized"),
        (lambda: so2_group().grid(0), "positive"),
        (lambda: o2_group().grid(4, "rand", seed="x"), "seed"),
        (lambda: cyclic_group(8).bl_irreps(5), "at most 4"),
        (lambda: so2_group(3).bl_irreps(4), "at most 3"),
        (lambda: o2_group().bl_irreps(-1), ">= 0"),
    ],
)
def test_bad_grid_and_band_limit_arguments_are_named(call, error):
    with pytest.raises((ValueError, TypeError), match=error):
        call()


# ----------------------------------------------------------------------------- band limits
def test_band_limited_irreps_and_regular_representations():
    assert cyclic_group(8).bl_irreps(2) == [(0,), (1,), (2,)]
    d8 = [(0, 0), (1, 0), (1, 1), (1, 2), (1, 3), (1, 4), (0, 4)]
    assert dihedral_group(8).bl_irreps(4) == d8
    assert dihedral_group(7).bl_irreps(3) == [(0, 0), (1, 0), (1, 1), (1, 2), (1, 3)]
    assert so2_group().bl_irreps(2) == [(0,), (1,), (2,)]
    assert o2_group().bl_irreps(1) == [(0, 0), (1, 0), (1, 1)]
    so2 = so2_group().bl_regular_representation(2)
    assert so2.name == "regular_2" and so2.size == 5
    o2 = o2_group().bl_regular_representation(2)
    assert o2.name == "regular_2" and o2.size == 10
    ids = [o2.group.irreps[n].id for n in o2.irreps]
    assert ids == [(0, 0), (1, 0), (1, 1), (1, 1), (1, 2), (1, 2)]
    assert np.array_equal(o2.change_of_basis, np.eye(10))


def test_spectral_representations_follow_escnn_names_and_multiplicities():
    d4 = dihedral_group(4)
    rho = d4.spectral_regular_representation(*d4.bl_irreps(2))
    assert rho.name == "regular_[(0, 0)|(1, 0)|(1, 1)|(1, 2)|(0, 2)]" and rho.size == 8
    assert [d4.irreps[n].id for n in rho.irreps] == [
        (0, 0), (1, 0), (1, 1), (1, 1), (1, 2), (0, 2)
    ]  # fmt: skip
    so2 = so2_group()
    assert so2.spectral_regular_representation((0,), (1,), (2,)).name == "regular_[(0,)|(1,)|(2,)]"
    q = so2.spectral_quotient_representation(2, *so2.bl_irreps(4))
    assert q.name == "quotient[2]_[(0,)|(1,)|(2,)|(3,)|(4,)]"
    assert [so2.irreps[n].id for n in q.irreps] == [(0,), (2,), (4,)]
    assert so2.spectral_regular_representation((1,), (0,)).irreps == ("irrep_1", "irrep_0")
    assert so2.spectral_regular_representation((0,), name="mine").name == "mine"
    o2 = o2_group()
    bl = o2.bl_quotient_representation(2, (None, -1))
    assert bl.name == "quotient[(None, -1)]_2" and bl.irreps == ("irrep_0,0", "irrep_1,0")


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: so2_group().spectral_regular_representation(), "at least one"),
        (lambda: so2_group().spectral_regular_representation((1,), (1,)), "twice"),
        (lambda: so2_group(3).spectral_regular_representation((4,)), "not an irrep"),
        (lambda: so2_group().spectral_quotient_representation(-1, (1,), (2,)), "empty"),
        (lambda: cyclic_group(6).spectral_quotient_representation(4, (0,)), "divide"),
    ],
)
def test_bad_spectral_arguments_are_named(call, error):
    with pytest.raises(ValueError, match=error):
        call()


# ------------------------------------------------------------------------------- group laws
def _reps():
    c6, d6, so2, o2 = cyclic_group(6), dihedral_group(6), so2_group(6), o2_group(6)
    return [
        c6.spectral_regular_representation(*c6.bl_irreps(3)),
        d6.spectral_regular_representation(*d6.bl_irreps(3)),
        d6.spectral_quotient_representation((1, 1), *d6.bl_irreps(3)),
        so2.bl_regular_representation(4),
        so2.spectral_quotient_representation(3, *so2.bl_irreps(6)),
        o2.bl_regular_representation(3),
        o2.bl_quotient_representation(4, (1.0, 1)),
    ]


def _elements(group, a, b):
    if group.elements is not None:
        return group.elements[a % group.order()], group.elements[b % group.order()]
    if group.name == "SO(2)":
        return a, b
    return (int(a > 0), a), (int(b > 0), b)


@settings(max_examples=25, deadline=None)
@given(st.floats(-7, 7), st.floats(-7, 7))
def test_spectral_representations_are_orthogonal_homomorphisms(a, b):
    for rho in _reps():
        G = rho.group
        g, h = _elements(G, int(a * 10) if G.elements else a, int(b * 10) if G.elements else b)
        assert np.allclose(rho(g) @ rho(h), rho(G.combine(g, h)), atol=1e-12)
        assert np.allclose(rho(g) @ rho(g).T, np.eye(rho.size), atol=1e-12)


# ---------------------------------------------------------------------------- delta vectors
def _group(name):
    return {
        "so2": so2_group(6), "o2": o2_group(6), "c6": cyclic_group(6), "d6": dihedral_group(6),
        "c8": cyclic_group(8), "d4": dihedral_group(4),
    }[name]  # fmt: skip


CASES = json.loads(DATA.read_text())


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['group']}/{c['sg']}")
def test_quotient_copies_are_escnns_invariant_vectors(case):
    """escnn 1.0.11's ``HomSpace._dirac_kernel_ft`` vectors (measured: tests/data), and they are
    invariant under the subgroup."""
    G = _group(case["group"])
    sg = tuple(case["sg"]) if isinstance(case["sg"], list) else case["sg"]
    rho = G.spectral_quotient_representation(sg, *[tuple(i) for i in case["ids"]])
    assert [G.irreps[n].id for n in rho.irreps] == [tuple(i) for i in case["irreps"]]
    sub, parent, _ = G.subgroup(sg)
    elements = sub.elements if sub.elements is not None else sub.testing_elements
    for ident, vectors in case["vecs"].items():
        irrep = G.irrep(*ast.literal_eval(ident))
        ours = copies(G, sg, irrep.id, False)
        assert np.allclose(ours, np.array(vectors).reshape(ours.shape), atol=1e-12)
        for h in elements:
            assert np.allclose(irrep(parent(h)) @ ours.T, ours.T, atol=1e-9)


def test_regular_copies_carry_the_square_root_of_the_dimension():
    assert np.allclose(copies(so2_group(), 1, (2,), True), [[math.sqrt(2), 0.0]])
    assert np.allclose(copies(o2_group(), (None, 1), (1, 2), True), math.sqrt(2) * np.eye(2))
    assert np.allclose(copies(dihedral_group(4), (None, 1), (1, 0), True), [[1.0]])
