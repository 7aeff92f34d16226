"""Analytic point-kernel bases (e2compile.kernels.point): equivariance at any point, the cutoffs,
the normalisation, and agreement with the irreps-pair solver they are built from."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e2compile import gspaces
from e2compile.families import family
from e2compile.kernels import EmptyBasisException
from e2compile.kernels.point import point_basis, trivial_bias_basis

RINGS, SIGMA, CUTOFFS = (0.0, 1.0, 2.0), (0.005, 0.6, 0.4), (0.0, 3.0, 6.0)

GSPACES = {
    "C1": lambda: gspaces.trivialOnR2(),
    "C3": lambda: gspaces.rot2dOnR2(3),
    "C4": lambda: gspaces.rot2dOnR2(4),
    "C5": lambda: gspaces.rot2dOnR2(5),
    "SO2": lambda: gspaces.rot2dOnR2(-1, 6),
    "flip": lambda: gspaces.flip2dOnR2(),
    "flip0.4": lambda: gspaces.flip2dOnR2(0.4),
    "D1": lambda: gspaces.flipRot2dOnR2(1),
    "D3": lambda: gspaces.flipRot2dOnR2(3, axis=0.3),
    "D4": lambda: gspaces.flipRot2dOnR2(4),
    "O2": lambda: gspaces.flipRot2dOnR2(-1, 6),
}


def _basis(gs, in_repr, out_repr, rings=RINGS, sigma=SIGMA, cutoffs=CUTOFFS):
    fam = family(gs.family)
    kwargs = {"axis": gs.axis} if fam.flips else {}
    solver = fam.irreps_basis(gs.fibergroup.order() < 0)
    return point_basis(solver, in_repr, out_repr, rings, sigma, cutoffs, **kwargs)


def _reprs(gs):
    group = gs.fibergroup
    if group.order() > 0:
        return [gs.trivial_repr, gs.regular_repr]
    irreps = list(group.irreps.values())[:4]
    return [irreps[0], irreps[1] + irreps[3], irreps[2]]


def _elements(gs):
    group = gs.fibergroup
    if group.order() > 0:
        return list(group.elements)
    angles = [2 * math.pi * k / 12 + 0.05 for k in range(12)]
    if gs.family == "fliprot2d":
        return [(f, a) for f in (0, 1) for a in angles]
    return angles


@pytest.mark.parametrize("name", sorted(GSPACES))
def test_equivariant_at_any_point(name):
    gs = GSPACES[name]()
    points = np.random.default_rng(1).normal(size=(9, 2)) * 1.5
    points[0] = 0.0  # the origin: only frequency 0 survives
    for a in _reprs(gs):
        for b in _reprs(gs):
            basis = _basis(gs, a, b)
            base = basis.sample(points)
            for g in _elements(gs):
                moved = basis.sample(points @ gs.action_matrix(g).T)
                expected = np.einsum("ab,pnbc,cd->pnad", b(g), base, np.linalg.inv(a(g)))
                np.testing.assert_allclose(moved, expected, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(sorted(GSPACES)),
    x=st.floats(-3, 3),
    y=st.floats(-3, 3),
    which=st.integers(0, 100),
)
def test_equivariant_at_random_points(name, x, y, which):
    gs = GSPACES[name]()
    reprs = _reprs(gs)
    a, b = reprs[which % len(reprs)], reprs[(which // 3) % len(reprs)]
    basis = _basis(gs, a, b)
    p = np.array([[x, y]])
    elements = _elements(gs)
    g = elements[which % len(elements)]
    moved = basis.sample(p @ gs.action_matrix(g).T)
    expected = np.einsum("ab,pnbc,cd->pnad", b(g), basis.sample(p), np.linalg.inv(a(g)))
    np.testing.assert_allclose(moved, expected, atol=1e-11)


@pytest.mark.parametrize("name", sorted(GSPACES))
def test_cutoffs_and_peak_norm(name):
    gs = GSPACES[name]()
    angles = np.linspace(0, 2 * np.pi, 721)[:-1]
    for a in _reprs(gs):
        for b in _reprs(gs):
            basis = _basis(gs, a, b)
            ring = basis.attributes["ring"]
            assert np.all(basis.frequency <= np.asarray(CUTOFFS)[ring])
            assert np.all(basis.frequency[basis.radius == 0.0] == 0)
            assert np.array_equal(basis.frequency, np.abs(basis.attributes["frequency"]))
            # peak Frobenius norm over the circle = size of the element's output irrep
            c, s = (
                np.cos(np.outer(angles, basis.frequency)),
                np.sin(np.outer(angles, basis.frequency)),
            )
            values = c[..., None, None] * basis.cos + s[..., None, None] * basis.sin
            peak = np.sqrt((values**2).sum(axis=(2, 3)).max(axis=0))
            sizes = [gs.fibergroup.irreps[n].size for n in basis.attributes["out_irrep"]]
            np.testing.assert_allclose(peak, sizes, rtol=1e-3)  # sampled every half degree
            assert np.all(peak <= np.asarray(sizes) * (1 + 1e-12))


def test_elements_are_the_solvers_harmonics_rescaled():
    """Between two irreps, each element is the irreps-pair solver's harmonic times a constant."""
    gs = gspaces.rot2dOnR2(-1, 6)
    group = gs.fibergroup
    i, o = group.irrep(1), group.irrep(2)
    basis = _basis(gs, i, o)
    solver = family("rot2d").irreps_basis(True)(group, i, o)
    angles = np.linspace(0.1, 6.0, 17)
    reference = solver.sample_angles(angles)  # (o, i, n, P)
    for k in range(basis.dim):
        mine = (
            np.cos(angles[:, None, None] * basis.frequency[k]) * basis.cos[k]
            + np.sin(angles[:, None, None] * basis.frequency[k]) * basis.sin[k]
        )
        theirs = np.moveaxis(reference[:, :, basis.attributes["inner_index"][k]], -1, 0)
        ratio = np.linalg.norm(mine) / np.linalg.norm(theirs)
        np.testing.assert_allclose(mine, ratio * theirs, atol=1e-12)
        np.testing.assert_allclose(ratio, 2 / math.sqrt(2))  # d_out / ||2x2 harmonic||


def test_order_and_radial_profile():
    gs = gspaces.rot2dOnR2(4)
    basis = _basis(gs, gs.regular_repr, gs.trivial_repr)
    a = basis.attributes
    order = list(zip(a["in_irrep_position"], a["out_irrep_position"], a["inner_index"], a["ring"]))
    assert order == sorted(order)
    p = np.array([[1.3, 0.0]])
    value = basis.sample(p)[0]
    radial = np.exp(-0.5 * ((1.3 - basis.radius) / basis.sigma) ** 2)
    np.testing.assert_allclose(value, radial[:, None, None] * basis.cos, atol=1e-15)


def test_select_and_errors():
    gs = gspaces.rot2dOnR2(-1, 6)
    basis = _basis(gs, gs.irrep(1), gs.irrep(1))
    keep = basis.frequency == 0
    small = basis.select(keep)
    assert small.dim == int(keep.sum()) and np.all(small.frequency == 0)
    assert set(small.attributes) == set(basis.attributes)
    with pytest.raises(EmptyBasisException):
        _basis(gs, gs.irrep(0), gs.irrep(3), rings=(0.0, 0.5), sigma=(0.1, 0.1), cutoffs=(0, 1.5))
    with pytest.raises(EmptyBasisException):
        _basis(gs, gs.irrep(0), gs.irrep(0), rings=(1.0,), sigma=(0.1,), cutoffs=(-1.0,))
    with pytest.raises(ValueError, match="one value per ring"):
        _basis(gs, gs.irrep(0), gs.irrep(0), rings=(1.0, 2.0), sigma=(0.1,), cutoffs=(1.0, 2.0))


def test_trivial_bias_basis():
    gs = gspaces.rot2dOnR2(4)
    regular = gs.regular_repr
    np.testing.assert_allclose(trivial_bias_basis(regular), np.full((4, 1), 0.5))
    assert trivial_bias_basis(gs.irrep(1)).shape == (2, 0)
    both = gs.trivial_repr + gs.irrep(1) + gs.trivial_repr
    np.testing.assert_allclose(trivial_bias_basis(both), np.eye(4)[:, [0, 3]])


# (|frequency|, mean over the circle of ||B||_F^2) of the elements on the ring at radius 1,
# frequency cutoff 3, as escnn 1.0.11's R2PointConv samples them (measured with escnn)
ESCNN_RING_NORMS = [
    ("C4", (1,), (1,), [(0, 4), (0, 4), (2, 2), (2, 2), (2, 2), (2, 2)]),
    ("C4", (0,), (2,), [(2, 0.5), (2, 0.5)]),
    ("C4", (1,), (0,), [(1, 1), (1, 1), (3, 1), (3, 1)]),
    ("C5", (1,), (2,), [(1, 4), (1, 4), (2, 4), (2, 4), (3, 4), (3, 4)]),
    ("D4", (1, 1), (1, 1), [(0, 4), (2, 2), (2, 2)]),
    ("D4", (1, 0), (1, 1), [(1, 4), (3, 4)]),
    ("D3", (1, 1), (1, 1), [(0, 4), (1, 4), (2, 4), (3, 2), (3, 2)]),
    ("flip", (0,), (1,), [(1, 0.5), (2, 0.5), (3, 0.5)]),
    ("O2", (1, 1), (1, 2), [(1, 4), (3, 4)]),
    ("SO2", (1,), (1,), [(0, 4), (0, 4), (2, 4), (2, 4)]),
]


@pytest.mark.parametrize("name, i, o, expected", ESCNN_RING_NORMS)
def test_element_energy_matches_escnn(name, i, o, expected):
    gs = GSPACES[name]()
    basis = _basis(gs, gs.irrep(*i), gs.irrep(*o), rings=(1.0,), sigma=(0.5,), cutoffs=(3.0,))
    angles = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    c = np.cos(np.outer(angles, basis.frequency))[..., None, None]
    s = np.sin(np.outer(angles, basis.frequency))[..., None, None]
    energy = ((c * basis.cos + s * basis.sin) ** 2).sum(axis=(2, 3)).mean(axis=0)
    mine = sorted(zip(basis.frequency.tolist(), np.round(energy, 9).tolist()))
    assert mine == sorted((f, float(e)) for f, e in expected)
