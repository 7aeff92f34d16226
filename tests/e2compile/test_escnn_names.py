"""escnn's 2D gspace and group names (``rot2dOnR2`` & co., ``so2_group(maximum_frequency=...)``):
the right gspaces and groups from escnn's argument names and defaults, clear errors otherwise."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e2compile import group, gspaces
from e2compile.gspaces import (
    Flip2dOnR2,
    FlipRot2dOnR2,
    Rot2dOnR2,
    TrivialOnR2,
    flip2dOnR2,
    flipRot2dOnR2,
    rot2dOnR2,
    trivialOnR2,
)


def _planar_matrix(gs, element) -> np.ndarray:
    angle, flip = gs.planar_action(element)
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]]) @ np.diag([1.0, -1.0 if flip else 1.0])


def test_defaults_are_escnns_continuous_groups():
    so2 = rot2dOnR2()
    assert type(so2) is Rot2dOnR2 and so2.N == -1
    # escnn's default arguments land on the same group object as the group factories, so
    # representations built from ``group.so2_group()`` fit the gspace
    assert so2.fibergroup is group.so2_group()
    o2 = flipRot2dOnR2()
    assert type(o2) is FlipRot2dOnR2 and o2.N == -1
    assert o2.fibergroup is group.o2_group()
    assert o2.axis == pytest.approx(math.pi / 2)


def test_keyword_arguments_as_in_escnn():
    assert rot2dOnR2(N=8) == Rot2dOnR2(8)
    assert flipRot2dOnR2(N=4, axis=0.0) == FlipRot2dOnR2(4, axis=0.0)
    assert flipRot2dOnR2(N=4) == FlipRot2dOnR2(4)
    assert flip2dOnR2(axis=0.0) == Flip2dOnR2(axis=0.0)
    assert flip2dOnR2() == Flip2dOnR2()
    assert trivialOnR2() == TrivialOnR2()
    # positional order N, maximum_frequency, axis
    assert flipRot2dOnR2(6, 6, 0.3).axis == pytest.approx(0.3)


def test_maximum_frequency_ignored_for_finite_N_as_in_escnn():
    assert rot2dOnR2(N=8, maximum_frequency=3) == Rot2dOnR2(8)
    assert flipRot2dOnR2(N=4, maximum_frequency=2) == FlipRot2dOnR2(4)


def test_maximum_frequency_bounds_the_continuous_irreps():
    small = rot2dOnR2(N=-1, maximum_frequency=3)
    assert small.fibergroup is group.so2_group()  # at least the default bound
    big = rot2dOnR2(N=-1, maximum_frequency=15)
    assert big.irrep(15).size == 2
    assert flipRot2dOnR2(-1, maximum_frequency=14).irrep(1, 14).size == 2


def test_N_equal_1_gives_escnns_C1_and_flip_spaces():
    assert type(rot2dOnR2(N=1)) is TrivialOnR2
    flip = flipRot2dOnR2(N=1, axis=0.25)
    assert type(flip) is Flip2dOnR2 and flip.axis == pytest.approx(0.25)
    assert flip.fibergroup == group.cyclic_group(2)


@pytest.mark.parametrize(
    "gs, element, matrix",
    [
        # what escnn 1.0.11's basespace_action gives for these elements
        (lambda: flipRot2dOnR2(4), (1, 3), [[0.0, 1.0], [1.0, 0.0]]),
        (lambda: flipRot2dOnR2(4, axis=0.0), (1, 3), [[0.0, -1.0], [-1.0, 0.0]]),
        (lambda: flip2dOnR2(), 1, [[-1.0, 0.0], [0.0, 1.0]]),
        (lambda: flip2dOnR2(axis=0.0), 1, [[1.0, 0.0], [0.0, -1.0]]),
        (lambda: flipRot2dOnR2(N=1), 1, [[-1.0, 0.0], [0.0, 1.0]]),
        (lambda: rot2dOnR2(8), 7, [[0.5**0.5, 0.5**0.5], [-(0.5**0.5), 0.5**0.5]]),
    ],
)
def test_action_on_the_plane_matches_escnn(gs, element, matrix):
    np.testing.assert_allclose(_planar_matrix(gs(), element), matrix, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(N=st.integers(2, 40), axis=st.floats(0.0, 3.0))
def test_finite_groups(N, axis):
    assert rot2dOnR2(N).fibergroup is group.cyclic_group(N)
    gs = flipRot2dOnR2(N, axis=axis)
    assert gs.fibergroup is group.dihedral_group(N)
    # the flip acts as the reflection across the line at angle ``axis``
    direction = np.array([math.cos(axis), math.sin(axis)])
    np.testing.assert_allclose(_planar_matrix(gs, (1, 0)) @ direction, direction, atol=1e-12)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: rot2dOnR2(0), ValueError, "N"),
        (lambda: rot2dOnR2(-2), ValueError, "N"),
        (lambda: rot2dOnR2(2.0), TypeError, "N"),
        (lambda: rot2dOnR2(True), TypeError, "N"),
        (lambda: flipRot2dOnR2(-3), ValueError, "N"),
        (lambda: flipRot2dOnR2("4"), TypeError, "N"),
        (lambda: rot2dOnR2(-1, maximum_frequency=-1), ValueError, "maximum_frequency"),
        (lambda: rot2dOnR2(8, maximum_frequency=2.5), TypeError, "maximum_frequency"),
        (lambda: flipRot2dOnR2(-1, maximum_frequency=-2), ValueError, "maximum_frequency"),
        (lambda: flipRot2dOnR2(4, axis="a"), TypeError, "axis"),
        (lambda: flip2dOnR2(axis=float("nan")), ValueError, "axis"),
    ],
)
def test_bad_arguments(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_exported_from_gspaces():
    for name in ("rot2dOnR2", "flipRot2dOnR2", "flip2dOnR2", "trivialOnR2"):
        assert name in gspaces.__all__ and callable(getattr(gspaces, name))


def test_group_factories_take_escnns_argument_names():
    assert group.cyclic_group(N=8) is group.CyclicGroup(8)
    assert group.dihedral_group(N=4) is group.DihedralGroup(4)
    assert group.trivial_group().order() == 1
    assert group.so2_group(maximum_frequency=3).maximum_frequency == 3
    assert group.o2_group(maximum_frequency=3).irrep(1, 3).size == 2


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: group.cyclic_group(N=0), ValueError, "N"),
        (lambda: group.dihedral_group(N=2.5), TypeError, "N"),
        (lambda: group.so2_group(maximum_frequency=-1), ValueError, "maximum_frequency"),
        (lambda: group.o2_group(maximum_frequency=2.5), TypeError, "maximum_frequency"),
    ],
)
def test_group_factories_bad_arguments(call, error, words):
    with pytest.raises(error, match=words):
        call()
