"""PDO bases: the analytic constraint, the discretisations, the compiled kind and its spec.

* The polynomials of every basis satisfy ``P(g x) = rho_out(g) P(x) rho_in(g)^-1`` for every
  testing element of every family (checked on random points, not through a grid).
* FD stencils are exact on polynomials up to the stencil's order; d/dx differentiates along +x
  of the grid (columns to the right) and d/dy along +y (rows upwards).
* The Gaussian discretisation's width is ``smoothing``: measured as the standard deviation of
  the compiled order-0 stencil.
* Specs key every PDO setting; bad arguments raise errors naming the argument.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e2compile import diffops, gspaces
from e2compile.compiler import compile
from e2compile.diffops.basis import evaluate_homogeneous
from e2compile.diffops.discretization import DiscretizationArgs, monomial_stencils
from e2compile.diffops.kind import pdo_spec, resolve_sizes
from e2compile.kernels.sampling import grid_points
from e2compile.specs import BasisSpec

SPACES = {
    "C4": lambda: gspaces.Rot2dOnR2(4),
    "C3": lambda: gspaces.Rot2dOnR2(3),
    "SO2": lambda: gspaces.Rot2dOnR2(-1, maximum_frequency=3),
    "D4": lambda: gspaces.FlipRot2dOnR2(4),
    "D3": lambda: gspaces.FlipRot2dOnR2(3, axis=math.pi / 5),
    "O2": lambda: gspaces.FlipRot2dOnR2(-1, maximum_frequency=3),
    "Flip": lambda: gspaces.Flip2dOnR2(),
    "Flip0": lambda: gspaces.Flip2dOnR2(axis=0.0),
    "Trivial": lambda: gspaces.TrivialOnR2(),
}


def _reprs(gs):
    group = gs.fibergroup
    irreps = list(group.irreps.values())[:3]
    if group.order() > 0:
        return [gs.regular_repr, irreps[-1]]
    return irreps[1:]


def _factory(gs, in_repr, out_repr, max_power, discretization=None):
    discretization = discretization or DiscretizationArgs()
    group = gs.fibergroup
    bounds = dict(max_frequency=4)
    if gs.family == "rot2d":
        if group.order() > 0:
            return diffops.diffops_CN_act_R2(in_repr, out_repr, max_power, **bounds,
                                             discretization=discretization)  # fmt: skip
        return diffops.diffops_SO2_act_R2(in_repr, out_repr, max_power, discretization)
    if gs.family == "fliprot2d":
        if group.order() > 0:
            return diffops.diffops_DN_act_R2(in_repr, out_repr, max_power, gs.axis, **bounds,
                                             discretization=discretization)  # fmt: skip
        return diffops.diffops_O2_act_R2(in_repr, out_repr, max_power, gs.axis, discretization)
    if gs.family == "flip2d":
        return diffops.diffops_Flip_act_R2(in_repr, out_repr, max_power, gs.axis, **bounds,
                                           discretization=discretization)  # fmt: skip
    return diffops.diffops_Trivial_act_R2(in_repr, out_repr, max_power, **bounds,
                                          discretization=discretization)  # fmt: skip


def _polynomial_values(coefficients, points):
    """P(x) on points (2, P) for coefficients (O, I, n+1)."""
    radii = np.hypot(points[0], points[1])
    angles = np.arctan2(points[1], points[0])
    n = coefficients.shape[-1] - 1
    return evaluate_homogeneous(coefficients, angles) * radii**n


@pytest.mark.parametrize("space", SPACES)
def test_analytic_pdos_satisfy_the_constraint(space):
    gs = SPACES[space]()
    points = np.random.default_rng(0).normal(size=(2, 7))
    for in_repr in _reprs(gs):
        for out_repr in _reprs(gs):
            basis = _factory(gs, in_repr, out_repr, 1)
            assert basis.dim > 0 and basis.shape == (out_repr.size, in_repr.size)
            for g in gs.testing_elements:
                angle, flip = gs.planar_action(g)
                c, s = math.cos(angle), math.sin(angle)
                matrix = np.array([[c, -s], [s, c]]) @ np.diag([1.0, -1.0 if flip else 1.0])
                rho_out, rho_in_inv = out_repr(g), in_repr(gs.fibergroup.inverse(g))
                for coefficients in basis.coefficients:
                    moved = _polynomial_values(coefficients, matrix @ points)
                    expected = np.einsum(
                        "ab,bcp,cd->adp", rho_out, _polynomial_values(coefficients, points),
                        rho_in_inv,
                    )  # fmt: skip
                    assert np.allclose(moved, expected, atol=1e-9), (space, g)


def test_orders_powers_and_pretty_print():
    gs = gspaces.Rot2dOnR2(4)
    basis = diffops.diffops_CN_act_R2(gs.trivial_repr, gs.trivial_repr, 2, max_frequency=4)
    columns = basis.attribute_columns()
    # frequencies 0 and 4 (cos, sin) times Laplacian powers 0..2
    assert sorted(zip(columns["frequency"].tolist(), columns["power"].tolist())) == sorted(
        [(0, j) for j in range(3)] + [(4, j) for j in range(3)] * 2
    )
    assert np.array_equal(columns["order"], np.abs(columns["frequency"]) + 2 * columns["power"])
    assert basis.maximum_order == 8
    text = basis.pretty_print()
    assert "x² + y²" in text and text.count("element") == basis.dim
    laplace = diffops.LaplaceProfile(2)
    assert laplace.coefficients[2][0, 0].tolist() == [1.0, 0.0, 2.0, 0.0, 1.0]


# ------------------------------------------------------------------------------- stencils
@settings(max_examples=25, deadline=None)
@given(
    st.integers(3, 7),
    st.integers(1, 2),
    st.data(),
)
def test_fd_stencils_are_exact_on_polynomials(kernel_size, dilation, data):
    points = grid_points(kernel_size, dilation)
    order = data.draw(st.integers(0, kernel_size - 1))
    stencils = monomial_stencils(order, points, DiscretizationArgs("fd"))
    x0 = np.array(data.draw(st.tuples(st.integers(-3, 3), st.integers(-3, 3))), dtype=float)
    # every monomial x^a y^b with a, b < k: the stencil gives the exact derivative at x0
    for a in range(kernel_size):
        for b in range(kernel_size):
            values = (x0[0] + points[0]) ** a * (x0[1] + points[1]) ** b
            for i in range(order + 1):
                da, db = order - i, i
                exact = (
                    math.perm(a, da) * x0[0] ** (a - da) * math.perm(b, db) * x0[1] ** (b - db)
                    if da <= a and db <= b
                    else 0.0
                )
                assert stencils[i] @ values == pytest.approx(exact, abs=1e-6 * (1 + abs(exact)))


@pytest.mark.parametrize(
    "method", ["fd", pytest.param("rbffd", marks=pytest.mark.extra("pdo")), "gauss"]
)
def test_stencil_orientation_follows_the_grid(method):
    """On the image f(row, col) = col, d/dx is +1; on f = -row (y up), d/dy is +1."""
    import torch

    args = DiscretizationArgs(method, smoothing=1.0 if method == "gauss" else None)
    k = 5 if method != "gauss" else 11
    stencils = monomial_stencils(1, grid_points(k), args)
    rows, cols = np.mgrid[0:15, 0:15].astype(float)
    for image, index in ((cols, 0), (-rows, 1)):
        weight = torch.from_numpy(stencils[index].reshape(1, 1, k, k))
        out = torch.nn.functional.conv2d(torch.from_numpy(image)[None, None], weight)
        assert np.allclose(out.numpy(), 1.0, atol=1e-3)
        other = torch.from_numpy(stencils[1 - index].reshape(1, 1, k, k))
        out = torch.nn.functional.conv2d(torch.from_numpy(image)[None, None], other)
        assert np.allclose(out.numpy(), 0.0, atol=1e-9)


@pytest.mark.parametrize("smoothing", [0.8, 1.3, 2.0])
def test_gaussian_width_is_the_smoothing(smoothing):
    """The compiled identity PDO (order 0) is the Gaussian: its measured standard deviation, in
    pixels, along each axis, is ``smoothing``."""
    gs = gspaces.Rot2dOnR2(4)
    k = 2 * int(math.ceil(5 * smoothing)) + 1  # the grid holds +-5 standard deviations
    spec = pdo_spec(gs, gs.trivial_repr, gs.trivial_repr, kernel_size=k, maximum_order=0,
                    method="gauss", smoothing=smoothing)  # fmt: skip
    artifact = compile(spec)
    assert artifact.dim == 1
    stencil = artifact.basis[0, 0, 0]
    points = grid_points(k)
    weights = stencil / stencil.sum()
    for axis in (0, 1):
        measured = math.sqrt(float(weights @ points[axis] ** 2))
        assert measured == pytest.approx(smoothing, rel=2e-3)


# -------------------------------------------------------------------------------- specs
def test_every_pdo_setting_changes_the_key():
    gs = gspaces.FlipRot2dOnR2(4)
    r = gs.regular_repr
    base = dict(kernel_size=5)
    specs = [
        pdo_spec(gs, r, r, **base),
        pdo_spec(gs, r, r, kernel_size=5, maximum_order=3),
        pdo_spec(gs, r, r, **base, maximum_power=1),
        pdo_spec(gs, r, r, **base, method="rbffd"),
        pdo_spec(gs, r, r, **base, method="rbffd", phi="phs3"),
        pdo_spec(gs, r, r, **base, method="gauss", smoothing=1.0),
        pdo_spec(gs, r, r, **base, method="gauss", smoothing=1.5),
        pdo_spec(gs, r, r, **base, angle_offset=0.1),
        pdo_spec(gs, r, r, **base, dilation=2),
        pdo_spec(gs, r, r, **base, maximum_offset=0),
        pdo_spec(gspaces.FlipRot2dOnR2(4, axis=0.0), r, r, **base),
        pdo_spec(gs, r, r, kernel_size=7),
    ]
    assert len({s.key for s in specs}) == len(specs)
    # settings that do not change the numbers do not change the key either
    assert pdo_spec(gs, r, r, **base, phi="phs3").key == specs[0].key
    assert pdo_spec(gs, r, r, kernel_size=5, accuracy=2).key == specs[0].key
    assert pdo_spec(gs, r, r, maximum_order=4).key == specs[0].key
    for spec in specs:
        assert BasisSpec.from_json(spec.canonical_json()) == spec


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (dict(kernel_size=5, accuracy=2, maximum_order=4), ValueError, "set at most two"),
        (dict(), ValueError, "kernel_size or maximum_order must be set"),
        (dict(kernel_size=5, method="gauss"), ValueError, "smoothing must be set"),
        (dict(kernel_size=5, method="spectral"), ValueError, "method must be one of"),
        (dict(kernel_size=5, method="rbffd", phi="gaussian"), ValueError, "phi must be one of"),
        (dict(kernel_size=5, maximum_order=5), ValueError, "maximum_order 5 needs a kernel_size"),
        (dict(kernel_size=2, accuracy=4), ValueError, "kernel_size 2 is too small for accuracy"),
        (dict(kernel_size=5, maximum_power=-1), ValueError, "maximum_power must be >= 0"),
        (dict(kernel_size=5, smoothing=-1.0, method="gauss"), ValueError, "smoothing must be"),
        (dict(kernel_size="5"), TypeError, "kernel_size must be an integer"),
    ],
)
def test_bad_pdo_settings_name_the_argument(kwargs, error, pattern):
    gs = gspaces.Rot2dOnR2(4)
    with pytest.raises(error, match=pattern):
        pdo_spec(gs, gs.regular_repr, gs.regular_repr, **kwargs)


def test_resolve_sizes_rule():
    assert resolve_sizes(5, None, None) == (5, 4)
    assert resolve_sizes(None, None, 3) == (4, 3)
    assert resolve_sizes(None, 3, 4) == (7, 4)
    assert resolve_sizes(9, None, 4) == (9, 4)
    assert resolve_sizes(5, 3, None) == (5, 2)


def test_a_hand_made_pdo_spec_must_be_canonical():
    gs = gspaces.Rot2dOnR2(4)
    spec = pdo_spec(gs, gs.regular_repr, gs.regular_repr, kernel_size=3)
    options = spec.options.to_json_obj()
    with pytest.raises(ValueError, match="holds only the settings its method uses"):
        spec.replace(options={**options, "smoothing": 1.0})
    with pytest.raises(ValueError, match="holds only the settings its method uses"):
        spec.replace(smoothing=1.0)
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['sigma'\] of a pdo spec"):
        spec.replace(options={**options, "sigma": 1.0})
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['rings', 'sigma'\]"):
        spec.replace(rings=(0.0,), sigma=(0.6,))


@pytest.mark.extra("pdo")
def test_compile_is_deterministic_and_columns_are_the_pdo_kinds():
    gs = gspaces.FlipRot2dOnR2(3)
    spec = pdo_spec(gs, gs.regular_repr, gs.irrep(1, 1), kernel_size=5, method="rbffd")
    a, b = compile(spec), compile(spec)
    assert a == b and a.dim > 0
    assert list(a.attributes) == [
        "order", "power", "frequency", "gamma", "s", "offset", "in_irrep", "out_irrep",
        "in_irrep_position", "out_irrep_position", "inner_index",
    ]  # fmt: skip
    assert np.all(a.attributes["order"] <= 4)
    again = type(a).from_record(*a.to_record())
    assert again == a
    info = next(a.element_attributes())
    assert {"order", "power", "frequency", "in_irrep_idx"} <= set(info)


@pytest.mark.parametrize("a, b", [(0, 0), (1, 0), (2, 1), (3, 1), (0, 4), (2, 2)])
def test_closed_form_gaussian_rbf_derivatives_match_sympy(a, b):
    import sympy

    from e2compile.diffops.discretization import _GaussianDerivative

    x0, x1, c0, c1, eps = sympy.symbols("x0 x1 c0 c1 eps")
    expr = sympy.exp(-(eps**2) * ((x0 - c0) ** 2 + (x1 - c1) ** 2))
    exact = sympy.lambdify((x0, x1, c0, c1, eps), sympy.diff(expr, x0, a, x1, b))
    values = (np.array([0.3, -1.2]), np.array([-0.7, 2.0]), 0.1, 0.2, 1.3)
    assert np.allclose(_GaussianDerivative(a, b)(*values), exact(*values), rtol=1e-12)
