"""Every sampled element solves the kernel constraint, for every family and random representations.

* on the grid (compiled artifacts): ``K(g p) = rho_out(g) K(p) rho_in(g)^-1`` to 1e-10 for the
  elements that map the grid onto itself (rotations by multiples of 90 degrees, reflections across
  axes at multiples of 45 degrees);
* analytically, on random points, for all testing elements;
* group averaging (Reynolds projection) leaves every element unchanged.
"""

from __future__ import annotations

import functools
import math
import operator
import uuid

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e2compile import gspaces, kernels
from e2compile.compiler import compile
from e2compile.group import Representation
from e2compile.kernels.kind import kernel_spec
from e2compile.kernels.testing import (
    analytic_equivariance_error,
    grid_equivariance_error,
    reynolds_error,
)

GRID_AXES = [k * math.pi / 4 for k in range(-4, 8)]
AXES = st.one_of(st.sampled_from(GRID_AXES), st.floats(-math.pi, 2 * math.pi))
KINDS = ["rot2d", "fliprot2d", "so2", "o2", "flip2d", "trivial"]


@st.composite
def gspace_strategy(draw, kinds=KINDS):
    kind = draw(st.sampled_from(kinds))
    if kind == "rot2d":
        return gspaces.Rot2dOnR2(draw(st.integers(2, 9)))
    if kind == "fliprot2d":
        return gspaces.FlipRot2dOnR2(draw(st.integers(2, 7)), axis=draw(AXES))
    if kind == "so2":
        return gspaces.Rot2dOnR2(-1, maximum_frequency=draw(st.integers(1, 4)))
    if kind == "o2":
        return gspaces.FlipRot2dOnR2(-1, axis=draw(AXES), maximum_frequency=draw(st.integers(1, 4)))
    if kind == "flip2d":
        return gspaces.Flip2dOnR2(axis=draw(AXES))
    return gspaces.TrivialOnR2()


@st.composite
def representation_strategy(draw, gspace):
    group = gspace.fibergroup
    pool = list(group.irreps.values())
    if group.order() > 0:
        pool.append(gspace.regular_repr)
    parts = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))
    return functools.reduce(operator.add, parts)


@st.composite
def problem(draw, kinds=KINDS):
    gspace = draw(gspace_strategy(kinds))
    return gspace, draw(representation_strategy(gspace)), draw(representation_strategy(gspace))


def analytic_basis(gspace, in_repr, out_repr, radii=(0.0, 1.0, 2.0), max_frequency=5):
    family, group = gspace.family, gspace.fibergroup
    sigma = 0.6
    if family == "rot2d" and group.order() < 0:
        return kernels.kernels_SO2_act_R2(in_repr, out_repr, list(radii), sigma)
    if family == "rot2d":
        return kernels.kernels_CN_act_R2(in_repr, out_repr, list(radii), sigma, max_frequency)
    if family == "fliprot2d" and group.order() < 0:
        return kernels.kernels_O2_act_R2(in_repr, out_repr, list(radii), sigma, gspace.axis)
    if family == "fliprot2d":
        return kernels.kernels_DN_act_R2(
            in_repr, out_repr, list(radii), sigma, gspace.axis, max_frequency
        )
    if family == "flip2d":
        return kernels.kernels_Flip_act_R2(
            in_repr, out_repr, list(radii), sigma, gspace.axis, max_frequency
        )
    return kernels.kernels_Trivial_act_R2(in_repr, out_repr, list(radii), sigma, max_frequency)


def _grid_check(gspace, in_repr, out_repr, kernel_size, **spec_args):
    try:
        artifact = compile(kernel_spec(gspace, in_repr, out_repr, kernel_size, **spec_args))
    except kernels.EmptyBasisException:
        return 0
    error, checked = grid_equivariance_error(
        artifact.basis,
        in_repr,
        out_repr,
        gspace,
        gspace.testing_elements,
        kernel_size,
        spec_args.get("dilation", 1),
    )
    assert error < 1e-10, (gspace.name, in_repr.name, out_repr.name, error)
    return checked


@settings(max_examples=60)
@given(problem(), st.sampled_from([3, 5]))
def test_compiled_basis_is_equivariant_on_the_grid(prob, kernel_size):
    gspace, in_repr, out_repr = prob
    _grid_check(gspace, in_repr, out_repr, kernel_size)


@pytest.mark.parametrize(
    "make",
    [
        lambda: gspaces.Rot2dOnR2(8),
        lambda: gspaces.Rot2dOnR2(-1, maximum_frequency=3),
        lambda: gspaces.FlipRot2dOnR2(4),
        lambda: gspaces.FlipRot2dOnR2(8, axis=math.pi / 4),
        lambda: gspaces.FlipRot2dOnR2(-1, axis=0.0, maximum_frequency=3),
        lambda: gspaces.Flip2dOnR2(),
        lambda: gspaces.Flip2dOnR2(axis=3 * math.pi / 4),
    ],
)
def test_grid_symmetries_are_exercised(make):
    gspace = make()
    regular = gspace.regular_repr if gspace.fibergroup.order() > 0 else None
    irreps = list(gspace.fibergroup.irreps.values())
    rep = regular if regular is not None else functools.reduce(operator.add, irreps)
    # a dilated 5x5 grid too: the symmetries of the grid do not depend on the dilation
    assert _grid_check(gspace, rep, rep, 5) >= 2
    assert _grid_check(gspace, rep, rep, 3, dilation=2) >= 2


@settings(max_examples=60)
@given(problem(), st.integers(0, 2**32 - 1))
def test_analytic_equivariance_on_random_points(prob, seed):
    gspace, in_repr, out_repr = prob
    points = np.random.default_rng(seed).normal(scale=1.5, size=(2, 12))
    points[:, 0] = 0.0  # the origin is a point too
    try:
        basis = analytic_basis(gspace, in_repr, out_repr)
    except kernels.EmptyBasisException:
        return
    error = analytic_equivariance_error(
        basis, in_repr, out_repr, gspace, gspace.testing_elements, points
    )
    assert error < 1e-10


@settings(max_examples=60)
@given(problem(), st.integers(0, 2**32 - 1))
def test_group_averaging_leaves_elements_unchanged(prob, seed):
    gspace, in_repr, out_repr = prob
    points = np.random.default_rng(seed).normal(scale=1.5, size=(2, 8))
    try:
        basis = analytic_basis(gspace, in_repr, out_repr)
    except kernels.EmptyBasisException:
        return
    group = gspace.fibergroup
    elements = group.elements if group.order() > 0 else group.testing_elements
    error = reynolds_error(basis, in_repr, out_repr, gspace, elements, points)
    assert error < 1e-9


@given(st.sampled_from(KINDS), st.integers(0, 2**32 - 1))
def test_custom_change_of_basis(kind, seed):
    rng = np.random.default_rng(seed)
    gspace = {
        "rot2d": lambda: gspaces.Rot2dOnR2(4),
        "fliprot2d": lambda: gspaces.FlipRot2dOnR2(3, axis=math.pi / 4),
        "so2": lambda: gspaces.Rot2dOnR2(-1, maximum_frequency=2),
        "o2": lambda: gspaces.FlipRot2dOnR2(-1, maximum_frequency=2),
        "flip2d": lambda: gspaces.Flip2dOnR2(axis=0.0),
        "trivial": lambda: gspaces.TrivialOnR2(),
    }[kind]()
    group = gspace.fibergroup
    names = [name for name in group.irreps][:3]
    size = sum(group.irreps[n].size for n in names)
    # generic (not orthogonal) but well conditioned: U diag(d) V with d in [0.5, 2]
    u, _ = np.linalg.qr(rng.normal(size=(size, size)))
    v, _ = np.linalg.qr(rng.normal(size=(size, size)))
    q = u @ np.diag(rng.uniform(0.5, 2.0, size)) @ v
    rep = Representation(group, f"custom_{uuid.uuid4().hex}", names, q, set())
    other = functools.reduce(operator.add, list(group.irreps.values())[:2])
    # the analytic basis handles any change of basis; compiled specs refuse non-orthogonal ones
    with pytest.raises(ValueError, match="in_repr: change_of_basis must be orthogonal"):
        kernel_spec(gspace, rep, other, 5)
    orthogonal = Representation(group, f"custom_{uuid.uuid4().hex}", names, u @ v, set())
    _grid_check(gspace, orthogonal, other, 5)
    _grid_check(gspace, other, orthogonal, 3)
    points = rng.normal(size=(2, 6))
    basis = analytic_basis(gspace, rep, rep)
    error = analytic_equivariance_error(basis, rep, rep, gspace, gspace.testing_elements, points)
    assert error < 1e-9


@pytest.mark.parametrize("restriction", [(0, 1), (2, 2), (None, 4), (0, 4)])
def test_restricted_representations(restriction):
    # restricted regular representations: many irreps and a non-trivial change of basis
    d8 = gspaces.FlipRot2dOnR2(8)
    sub, _, _ = d8.restrict(restriction)
    rep = d8.regular_repr.restrict(restriction)
    assert _grid_check(sub, rep, rep, 3) >= 2
    points = np.random.default_rng(0).normal(size=(2, 5))
    basis = analytic_basis(sub, rep, sub.trivial_repr)
    error = analytic_equivariance_error(
        basis, rep, sub.trivial_repr, sub, sub.testing_elements, points
    )
    assert error < 1e-10


def test_empty_basis_raises():
    o2 = gspaces.FlipRot2dOnR2(-1, maximum_frequency=2)
    trivial, sign = o2.irrep(0, 0), o2.irrep(1, 0)
    with pytest.raises(kernels.EmptyBasisException):
        kernels.kernels_O2_act_R2(trivial, sign, [0.0, 1.0], 0.6)
    # compiled, an empty basis is a valid artifact with no element (a zero block of the filter)
    assert compile(kernel_spec(o2, trivial, sign, 5)).dim == 0
    # a 2x2 grid has no point at the origin: the only ring (radius 0) vanishes everywhere
    c4 = gspaces.Rot2dOnR2(4)
    empty = compile(kernel_spec(c4, c4.trivial_repr, c4.trivial_repr, 2))
    assert empty.basis.shape == (0, 1, 1, 4) and empty.bias_basis.shape == (1, 1)


def test_bad_factory_arguments():
    c4, d4 = gspaces.Rot2dOnR2(4), gspaces.FlipRot2dOnR2(4)
    with pytest.raises(ValueError, match="max_frequency or max_offset"):
        kernels.kernels_CN_act_R2(c4.regular_repr, c4.regular_repr, [1.0], 0.6)
    with pytest.raises(ValueError, match="different groups|belongs to"):
        kernels.kernels_CN_act_R2(c4.regular_repr, d4.regular_repr, [1.0], 0.6, 2)
    with pytest.raises(TypeError):
        kernels.kernels_DN_act_R2(c4.regular_repr, c4.regular_repr, [1.0], 0.6, max_frequency=2)
    with pytest.raises(ValueError, match="sigma"):
        kernels.kernels_CN_act_R2(c4.regular_repr, c4.regular_repr, [1.0], -0.6, 2)


def test_basis_iteration_yields_attribute_dicts():
    d4 = gspaces.FlipRot2dOnR2(4)
    basis = kernels.kernels_DN_act_R2(
        d4.regular_repr, d4.irrep(1, 1), [0.0, 1.0], [0.005, 0.6], max_frequency=2
    )
    attrs = list(basis)
    assert len(attrs) == basis.dim == len(basis)
    assert attrs[3] == basis[3]
    for key in ("radius", "sigma", "frequency", "gamma", "in_irrep", "out_irrep", "idx"):
        assert key in attrs[0]
    assert basis.sample(np.zeros((2, 4))).shape == (2, 8, basis.dim, 4)


@pytest.mark.parametrize("axis", [0.0, 1.2e-10, 1e-9])
def test_an_axis_near_a_grid_axis_is_not_taken_for_one(axis):
    """Regression: an axis 1e-10 off a grid axis used to pass as grid-exact (the point-matching
    tolerance was 1e-9), so the check compared a basis moved by 1e-10 and failed at 1.2e-10."""
    space = gspaces.FlipRot2dOnR2(-1, axis=axis, maximum_frequency=4)
    checked = _grid_check(space, space.trivial_repr, space.irrep(1, 1), 3)
    assert checked == (8 if axis == 0.0 else 4)  # the flips only at the exact axis
