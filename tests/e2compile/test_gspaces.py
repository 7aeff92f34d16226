"""Laws of the gspaces: attributes, restriction, and exact/interpolated actions on fields."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e2compile.group import cyclic_group, dihedral_group, directsum, o2_group, so2_group
from e2compile.gspaces import Flip2dOnR2, FlipRot2dOnR2, GSpace, Rot2dOnR2, TrivialOnR2

HALF_PI = math.pi / 2


def spaces() -> list[GSpace]:
    return [
        Rot2dOnR2(4),
        Rot2dOnR2(8),
        Rot2dOnR2(-1, maximum_frequency=3),
        FlipRot2dOnR2(4),
        FlipRot2dOnR2(8, axis=0.0),
        FlipRot2dOnR2(-1, maximum_frequency=3),
        Flip2dOnR2(),
        Flip2dOnR2(axis=math.pi / 4),
        TrivialOnR2(),
    ]


def restrict_ids(space: GSpace) -> list:
    G = space.fibergroup
    if isinstance(space, Rot2dOnR2):
        return (
            [-1, 1, 2, 3]
            if G.continuous
            else [m for m in range(1, space.N + 1) if space.N % m == 0]
        )
    if isinstance(space, FlipRot2dOnR2):
        if G.continuous:
            return [
                (None, -1),
                (0.0, -1),
                (math.pi, -1),
                (None, 4),
                (None, 1),
                (math.pi / 2, 1),
                (0.0, 2),
            ]
        ids: list = []
        for m in range(1, space.N + 1):
            if space.N % m == 0:
                ids.append((None, m))
                ids.extend((k, m) for k in range(space.N // m))
        return ids
    if isinstance(space, Flip2dOnR2):
        return [1, 2]
    return [1]


def field_reprs(space: GSpace) -> list:
    G = space.fibergroup
    reps = list(G.irreps.values())[:4]
    if not G.continuous:
        reps.append(space.regular_repr)
    return reps


def exact_elements(space: GSpace) -> list:
    """Elements whose action on the grid is a multiple of a quarter turn (possibly with a flip)."""
    out = []
    for g in space.testing_elements:
        angle, _ = space.planar_action(g)
        q = angle / HALF_PI
        if abs(q - round(q)) < 1e-9:
            out.append(g)
    return out


# -- construction and attributes ------------------------------------------------------------------


def test_attributes_for_the_compiler() -> None:
    s = Rot2dOnR2(8)
    assert (s.family, s.N, s.axis, s.maximum_frequency) == ("rot2d", 8, None, None)
    assert s.fibergroup is cyclic_group(8) and s.name == "8-Rotations"
    s = Rot2dOnR2(-1, maximum_frequency=5)
    assert (s.family, s.N, s.axis, s.maximum_frequency) == ("rot2d", -1, None, 5)
    assert s.fibergroup == so2_group(5)
    assert Rot2dOnR2(-1).maximum_frequency == 10
    s = FlipRot2dOnR2(6)
    assert (s.family, s.N, s.axis, s.maximum_frequency) == ("fliprot2d", 6, HALF_PI, None)
    assert s.fibergroup is dihedral_group(6)
    s = FlipRot2dOnR2(-1, axis=0.25, maximum_frequency=4)
    assert (s.family, s.N, s.axis, s.maximum_frequency) == ("fliprot2d", -1, 0.25, 4)
    assert s.fibergroup == o2_group(4)
    s = Flip2dOnR2()
    assert (s.family, s.N, s.axis, s.maximum_frequency) == ("flip2d", 1, HALF_PI, None)
    assert s.fibergroup is cyclic_group(2)
    s = TrivialOnR2()
    assert (s.family, s.N, s.axis, s.maximum_frequency) == ("trivial", 1, None, None)
    assert s.fibergroup is cyclic_group(1)
    assert Rot2dOnR2().N == 8


def test_axis_is_reduced_modulo_pi() -> None:
    assert FlipRot2dOnR2(4, axis=3 * HALF_PI) == FlipRot2dOnR2(4, axis=HALF_PI)
    assert FlipRot2dOnR2(4, axis=-HALF_PI).axis == pytest.approx(HALF_PI)
    assert Flip2dOnR2(axis=math.pi).axis == 0.0


def test_equality_hash_and_pickling() -> None:
    for s in spaces():
        t = pickle.loads(pickle.dumps(s))
        assert t == s and hash(t) == hash(s) and t.fibergroup is s.fibergroup
        assert t.family == s.family and t.N == s.N and t.axis == s.axis
    assert FlipRot2dOnR2(4, axis=0.0) != FlipRot2dOnR2(4)
    assert Flip2dOnR2(axis=0.0) != Flip2dOnR2()
    assert Rot2dOnR2(4) != FlipRot2dOnR2(4) and Rot2dOnR2(4) == Rot2dOnR2(4)


def test_representation_accessors() -> None:
    s = FlipRot2dOnR2(4)
    G = s.fibergroup
    assert s.trivial_repr is G.trivial_representation
    assert s.regular_repr is G.regular_representation
    assert s.irrep(1, 1) is G.irrep(1, 1)
    assert s.irreps == G.irreps
    assert s.quotient_repr((None, 4)) is G.quotient_representation((None, 4))
    H = G.subgroup((None, 2))[0]
    assert s.induced_repr((None, 2), H.irrep(1)) == G.induced_representation((None, 2), H.irrep(1))
    assert list(s.testing_elements) == G.elements


@pytest.mark.parametrize(
    ("make", "exc", "name"),
    [
        (lambda: Rot2dOnR2(0), ValueError, "N"),
        (lambda: Rot2dOnR2(1), ValueError, "N"),
        (lambda: Rot2dOnR2(-2), ValueError, "N"),
        (lambda: Rot2dOnR2(4.0), TypeError, "N"),
        (lambda: Rot2dOnR2(4, maximum_frequency=3), ValueError, "maximum_frequency"),
        (lambda: FlipRot2dOnR2(0), ValueError, "N"),
        (lambda: FlipRot2dOnR2(), TypeError, "N"),
        (lambda: FlipRot2dOnR2(4, maximum_frequency=2), ValueError, "maximum_frequency"),
        (lambda: FlipRot2dOnR2(4, axis="x"), TypeError, "axis"),
        (lambda: FlipRot2dOnR2(4, axis=float("nan")), ValueError, "axis"),
        (lambda: Flip2dOnR2(fibergroup=cyclic_group(3)), TypeError, "fibergroup"),
        (lambda: Rot2dOnR2(fibergroup=dihedral_group(3)), TypeError, "fibergroup"),
    ],
)
def test_bad_construction(make, exc, name) -> None:
    with pytest.raises(exc, match=name):
        make()


# -- restriction ----------------------------------------------------------------------------------


def test_restrict_returns_the_documented_spaces() -> None:
    assert Rot2dOnR2(8).restrict(4)[0] == Rot2dOnR2(4)
    assert Rot2dOnR2(8).restrict(1)[0] == TrivialOnR2()
    assert Rot2dOnR2(-1, maximum_frequency=3).restrict(-1)[0] == Rot2dOnR2(-1, maximum_frequency=3)
    s = FlipRot2dOnR2(8)
    assert s.restrict((None, 4))[0] == Rot2dOnR2(4)
    assert s.restrict((None, 1))[0] == TrivialOnR2()
    assert s.restrict((0, 4))[0] == FlipRot2dOnR2(4)
    assert s.restrict((1, 4))[0] == FlipRot2dOnR2(4, axis=HALF_PI + math.pi / 8)
    assert s.restrict((2, 1))[0] == Flip2dOnR2(axis=HALF_PI + 2 * math.pi / 8)
    o = FlipRot2dOnR2(-1, maximum_frequency=3)
    assert o.restrict((None, -1))[0] == Rot2dOnR2(-1, maximum_frequency=3)
    assert o.restrict((0.5, -1))[0] == FlipRot2dOnR2(-1, axis=HALF_PI + 0.25, maximum_frequency=3)
    assert o.restrict((0.5, 3))[0] == FlipRot2dOnR2(3, axis=HALF_PI + 0.25)
    assert Flip2dOnR2().restrict(1)[0] == TrivialOnR2()
    assert Flip2dOnR2().restrict(2)[0] == Flip2dOnR2()
    assert TrivialOnR2().restrict(1)[0] == TrivialOnR2()


@pytest.mark.parametrize(
    ("space", "bad", "exc"),
    [
        (Rot2dOnR2(8), 3, ValueError),
        (Rot2dOnR2(8), (None, 2), TypeError),
        (FlipRot2dOnR2(8), (2, 4), ValueError),
        (FlipRot2dOnR2(8), 4, TypeError),
        (Flip2dOnR2(), 3, ValueError),
        (TrivialOnR2(), 2, ValueError),
    ],
)
def test_restrict_rejects_unknown_ids(space: GSpace, bad, exc) -> None:
    with pytest.raises(exc, match="id"):
        space.restrict(bad)


@pytest.mark.parametrize("space", spaces(), ids=str)
def test_featurefield_action_agrees_with_restriction(space: GSpace) -> None:
    rng = np.random.default_rng(0)
    for sid in restrict_ids(space):
        sub, parent, child = space.restrict(sid)
        assert pickle.loads(pickle.dumps(parent)) == parent
        for rep in field_reprs(space):
            res = rep.restrict(sid)
            assert res.group == sub.fibergroup
            x = rng.standard_normal((2, rep.size, 5, 5))
            for h in list(sub.testing_elements)[::7]:
                expected = space.featurefield_action(x, rep, parent(h))
                np.testing.assert_allclose(sub.featurefield_action(x, res, h), expected, atol=1e-9)


# -- the actions ----------------------------------------------------------------------------------


def test_basespace_action_is_exact_rot90_and_flips() -> None:
    x = np.arange(2 * 3 * 5 * 5, dtype=float).reshape(2, 3, 5, 5)
    c4 = Rot2dOnR2(4)
    for r in range(4):
        np.testing.assert_array_equal(c4.basespace_action(x, r), np.rot90(x, r, axes=(-2, -1)))
    so2 = Rot2dOnR2(-1)
    np.testing.assert_array_equal(so2.basespace_action(x, math.pi), np.rot90(x, 2, axes=(-2, -1)))
    d4 = FlipRot2dOnR2(4)  # vertical axis: x -> -x reverses the columns
    np.testing.assert_array_equal(d4.basespace_action(x, (1, 0)), x[..., ::-1])
    np.testing.assert_array_equal(
        d4.basespace_action(x, (1, 1)), np.rot90(x[..., ::-1], 1, axes=(-2, -1))
    )
    horizontal = FlipRot2dOnR2(4, axis=0.0)  # y -> -y reverses the rows
    np.testing.assert_array_equal(horizontal.basespace_action(x, (1, 0)), x[..., ::-1, :])
    # an axis at 3π/4 is the line y = -x, i.e. the main diagonal of the array: a transpose
    diagonal = Flip2dOnR2(axis=3 * math.pi / 4)
    np.testing.assert_array_equal(diagonal.basespace_action(x, 1), np.swapaxes(x, -1, -2))
    anti = Flip2dOnR2(axis=math.pi / 4)
    np.testing.assert_array_equal(
        anti.basespace_action(x, 1), np.swapaxes(x, -1, -2)[..., ::-1, ::-1]
    )
    np.testing.assert_array_equal(TrivialOnR2().basespace_action(x, 0), x)


@pytest.mark.parametrize("space", spaces(), ids=str)
def test_exact_elements_act_as_a_group_action(space: GSpace) -> None:
    G = space.fibergroup
    rng = np.random.default_rng(1)
    els = exact_elements(space)
    assert els
    for rep in field_reprs(space):
        x = rng.standard_normal((rep.size, 6, 6))
        for g in els[:8]:
            gx = space.featurefield_action(x, rep, g)
            for h in els[:8]:
                lhs = space.featurefield_action(gx, rep, h)
                rhs = space.featurefield_action(x, rep, G.combine(h, g))
                np.testing.assert_allclose(lhs, rhs, atol=1e-12)
            # the grid is only permuted: the multiset of channel norms is preserved exactly
            np.testing.assert_allclose(np.linalg.norm(gx), np.linalg.norm(x), rtol=1e-12)


def position_field(n: int) -> np.ndarray:
    """The vector field v(p) = p on an n x n grid centred at the origin, y pointing up."""
    c = (n - 1) / 2
    ys, xs = np.mgrid[0:n, 0:n]
    return np.stack([xs - c, c - ys]).astype(float)


@pytest.mark.parametrize(
    ("space", "rep_id"),
    [
        (Rot2dOnR2(4), (1,)),
        (Rot2dOnR2(8), (1,)),
        (Rot2dOnR2(-1, maximum_frequency=2), (1,)),
        (FlipRot2dOnR2(4, axis=0.0), (1, 1)),
        (FlipRot2dOnR2(-1, axis=0.0, maximum_frequency=2), (1, 1)),
    ],
    ids=str,
)
def test_the_position_field_is_invariant(space: GSpace, rep_id) -> None:
    # rho(g) v(g^-1 p) = g g^-1 p = p: checks that grid and channel conventions agree
    v = position_field(7)
    rep = space.irrep(*rep_id)
    for g in exact_elements(space):
        np.testing.assert_allclose(space.featurefield_action(v, rep, g), v, atol=1e-12)


@given(angle=st.floats(0.0, 2 * math.pi, allow_nan=False, exclude_max=True))
@settings(max_examples=10)
def test_interpolated_rotation_of_a_smooth_invariant_field(angle: float) -> None:
    # A wide centred Gaussian times the position field is rotation invariant; the order-2
    # interpolation must reproduce it closely away from the corners.
    n = 21
    v = position_field(n)
    r2 = (v**2).sum(axis=0)
    field = v * np.exp(-r2 / 20.0)
    space = Rot2dOnR2(-1, maximum_frequency=2)
    out = space.featurefield_action(field[None], space.irrep(1), angle)[0]
    assert out.shape == field.shape
    inside = r2 <= ((n - 1) / 2 - 1) ** 2  # points rotated in from outside the grid are 0
    np.testing.assert_allclose(out[:, inside], field[:, inside], atol=2e-2)


def test_interpolation_matches_rot90_at_quarter_turns() -> None:
    from e2compile.gspaces._action import _rotate_interpolated

    x = np.random.default_rng(2).standard_normal((2, 7, 7))
    for k in range(4):
        np.testing.assert_allclose(
            _rotate_interpolated(x, k * HALF_PI), np.rot90(x, k, axes=(-2, -1)), atol=1e-9
        )


def test_featurefield_action_errors() -> None:
    s = Rot2dOnR2(4)
    x = np.zeros((1, 2, 5, 5))
    with pytest.raises(ValueError, match="input"):
        s.featurefield_action(x, s.regular_repr, 1)
    with pytest.raises(ValueError, match="repr"):
        s.featurefield_action(x, Rot2dOnR2(8).irrep(1), 1)
    with pytest.raises(TypeError, match="repr"):
        s.featurefield_action(x, np.eye(2), 1)
    with pytest.raises(TypeError, match="element"):
        s.featurefield_action(x, s.irrep(1), 0.5)
    with pytest.raises(ValueError, match="element"):
        s.basespace_action(x, 4)
    with pytest.raises(ValueError, match="array"):
        s.basespace_action(np.zeros(3), 1)


def test_directsum_fields_transform_blockwise() -> None:
    s = FlipRot2dOnR2(4)
    a, b = s.regular_repr, s.irrep(1, 1)
    rep = directsum([a, b])
    x = np.random.default_rng(3).standard_normal((rep.size, 4, 4))
    g = (1, 3)
    out = s.featurefield_action(x, rep, g)
    np.testing.assert_allclose(out[: a.size], s.featurefield_action(x[: a.size], a, g))
    np.testing.assert_allclose(out[a.size :], s.featurefield_action(x[a.size :], b, g))
