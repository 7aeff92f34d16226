"""The reference library's ``diffops.utils`` helpers, on this package's polynomials and stencils.

* Size rules: ``required_points`` / ``largest_possible_order`` / ``guaranteed_accuracy`` agree
  with each other and with the stencils (a derivative of order n with accuracy a is exact on
  polynomials of degree < n + a), symmetric point sets are symmetric.
* ``discretize_*``: exact on polynomials, even/odd, the same numbers as the bases' stencils (fd in
  the reference's layout, which ``np.rot90`` turns into the cross-correlation filter).
* Polynomial algebra: evaluation, products, substitution ``P(A^T x)`` (matches moving the
  points), Laplacian powers, Chebyshev polynomials, text.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import correlate2d

from e2compile import diffops
from e2compile.diffops import utils
from e2compile.diffops.discretization import DiscretizationArgs, monomial_stencils
from e2compile.diffops.kind import resolve_sizes
from e2compile.diffops.utils import (
    discretize_1d_monomial,
    discretize_2d_monomial,
    discretize_homogeneous_polynomial,
    display_diffop,
    eval_polys,
    expand_binomial,
    guaranteed_accuracy,
    homogenized_cheby,
    laplacian_power,
    largest_possible_order,
    multiply_polynomials,
    required_points,
    symmetric_points,
    transform_polynomial,
)
from e2compile.group import cyclic_group
from e2compile.kernels.sampling import grid_points

ROOT = Path(__file__).resolve().parents[2]


def _rotation(theta: float) -> np.ndarray:
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, -s], [s, c]])


def _image_grid(n: int) -> np.ndarray:
    """The points of a (2n+1)^2 image, rows from top (y = n) to bottom, as grid_points."""
    x = np.arange(-n, n + 1)
    return np.stack(np.meshgrid(x, -x)).reshape(2, -1).astype(float)


def _derivative(poly: np.ndarray, a: int, b: int) -> np.ndarray:
    """Coefficients of d^a/dx^a d^b/dy^b of a homogeneous polynomial (zero: ``[0.]``)."""
    n = poly.size - 1
    if a + b > n:
        return np.zeros(1)
    out = np.zeros(n - a - b + 1)
    for j in range(out.size):  # x^(n-a-b-j) y^j comes from x^(n-b-j) y^(j+b)
        out[j] = poly[j + b] * math.perm(n - b - j, a) * math.perm(j + b, b)
    return out


# -------------------------------------------------------------------------- the module
def test_the_module_is_reachable_like_the_reference():
    assert diffops.utils is utils
    assert utils.store_cache is diffops.store_cache and utils.load_cache is diffops.load_cache
    namespace: dict = {}
    exec("from e2compile.diffops.utils import *", namespace)
    assert set(utils.__all__) <= set(namespace)


def test_the_helpers_import_no_heavy_maths():
    """The package does not import the helpers, and the helpers import no sympy/rbf/scipy."""
    code = (
        "import sys, json\n"
        "import e2compile.diffops, e2compile.kernels\n"
        "first = 'e2compile.diffops.utils' in sys.modules\n"
        "import e2compile.diffops.utils\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'sympy', 'rbf', 'scipy'})\n"
        "print(json.dumps([first, heavy]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)  # fmt: skip
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [False, []]


# -------------------------------------------------------------------------- size rules
@settings(max_examples=40, deadline=None)
@given(order=st.integers(0, 8), accuracy=st.integers(1, 6))
def test_size_rules_agree(order, accuracy):
    points = required_points(order, accuracy)
    assert points == order + accuracy - (accuracy % 2 == 0)
    assert largest_possible_order(points, accuracy) >= order
    assert required_points(largest_possible_order(points, accuracy), accuracy) <= points
    assert guaranteed_accuracy(points, order) >= accuracy
    # the compiler's size rule is the same one
    assert resolve_sizes(None, accuracy, order) == (points, order)


@settings(max_examples=40, deadline=None)
@given(order=st.integers(0, 7), accuracy=st.integers(1, 5), dilation=st.sampled_from([1, 2, 0.5]))
def test_a_stencil_of_the_required_size_has_the_promised_accuracy(order, accuracy, dilation):
    """Error O(h^a) for d^n means exact on every monomial of degree below n + a."""
    nodes = symmetric_points(required_points(order, accuracy), dilation)
    weights = discretize_1d_monomial(order, nodes)
    assert weights.shape == (len(nodes),)
    for degree in range(order + accuracy):
        exact = math.factorial(order) if degree == order else 0.0
        terms = weights * np.asarray(nodes) ** degree
        # float64 cancellation: the error scales with the size of the terms that cancel
        tolerance = 1e-8 + 1e-12 * np.abs(terms).sum()
        assert terms.sum() == pytest.approx(exact, abs=tolerance)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 12), dilation=st.floats(0.25, 4))
def test_symmetric_points(n, dilation):
    points = np.array(symmetric_points(n, dilation))
    assert points.shape == (n,)
    np.testing.assert_allclose(points, -points[::-1], atol=1e-12)
    np.testing.assert_allclose(np.diff(points), dilation)


@pytest.mark.parametrize("n", range(7))
def test_1d_stencils_are_even_or_odd_exactly(n):
    nodes = symmetric_points(required_points(n, 2))
    weights = discretize_1d_monomial(n, nodes)
    assert np.array_equal(weights, (-1) ** n * weights[::-1])


# ---------------------------------------------------------------------- discretisation
def test_2d_monomials_are_products_of_1d_stencils():
    xs, ys = symmetric_points(5), symmetric_points(3)
    stencil = discretize_2d_monomial(2, 1, (xs, ys))
    assert stencil.shape == (5, 3)
    np.testing.assert_array_equal(
        stencil, np.outer(discretize_1d_monomial(2, xs), discretize_1d_monomial(1, ys))
    )


@pytest.mark.parametrize("n", range(6))
def test_fd_discretisation_is_exact_on_polynomials(n):
    """The reference layout turned by np.rot90 is the cross-correlation filter of the operator,
    exact on polynomials of low degree."""
    size = required_points(n, 2) | 1  # odd
    points = _image_grid(size // 2)
    rng = np.random.default_rng(n)
    coefficients = rng.normal(size=n + 1)
    kernel = np.rot90(discretize_homogeneous_polynomial(points, coefficients).reshape(size, size))
    grid = _image_grid(12)
    inner = _image_grid(12 - size // 2)
    for degree in range(3):
        poly = rng.normal(size=degree + 1)
        values = eval_polys([poly], grid).reshape(25, 25)
        result = correlate2d(values, kernel, mode="valid")
        derivative = sum(coefficients[k] * _derivative(poly, n - k, k) for k in range(n + 1))
        expected = eval_polys([np.atleast_1d(derivative)], inner)[0]
        np.testing.assert_allclose(result.reshape(-1), expected, atol=1e-8)


@pytest.mark.parametrize("method", ["fd", "gauss", "rbffd"])
def test_discretisation_gives_the_basis_stencils(method):
    """The same numbers as DiffopBasis/compiled PDOs: identical for rbffd and gauss; for fd the
    reference's layout, i.e. the basis stencil on a grid_points grid turned by -90 degrees."""
    k = 5
    points = grid_points(k)
    coefficients = np.array([0.5, 0.0, -2.0, 1.0])
    args = DiscretizationArgs(method, smoothing=1.0 if method == "gauss" else None)
    stencil = coefficients @ monomial_stencils(3, points, args)
    got = discretize_homogeneous_polynomial(points, coefficients, smoothing=args.smoothing,
                                            method=method)  # fmt: skip
    if method == "fd":
        np.testing.assert_array_equal(np.rot90(got.reshape(k, k)), stencil.reshape(k, k))
    else:
        np.testing.assert_allclose(got, stencil, atol=1e-12)


def test_fd_layout_is_x_major_over_sorted_coordinates():
    xs, ys = np.array([-1.0, 0.0, 1.0]), np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    points = np.stack(np.meshgrid(xs, -ys)).reshape(2, -1)
    rng = np.random.default_rng(3)
    shuffled = points[:, rng.permutation(points.shape[1])]
    expected = discretize_2d_monomial(1, 2, (xs, ys)).reshape(-1)  # d^3/dx dy^2
    for grid in (points, shuffled):
        got = discretize_homogeneous_polynomial(grid, np.array([0.0, 0.0, 1.0, 0.0]))
        np.testing.assert_allclose(got, expected, atol=1e-12)


def test_the_zero_operator_is_zero_anywhere():
    points = np.random.default_rng(0).normal(size=(2, 7))  # not a grid
    assert np.array_equal(discretize_homogeneous_polynomial(points, np.zeros(3)), np.zeros(7))


# ------------------------------------------------------------------------- polynomials
polys = st.integers(0, 6).flatmap(
    lambda n: st.lists(st.floats(-3, 3), min_size=n + 1, max_size=n + 1).map(np.array)
)
points_2d = st.integers(0, 2**16).map(lambda seed: np.random.default_rng(seed).normal(size=(2, 9)))


def test_eval_polys_shapes_and_values():
    rng = np.random.default_rng(0)
    coefficients = [rng.normal(size=(3, 2, n + 1)) for n in (0, 2, 5)]
    points = rng.normal(size=(2, 7))
    values = eval_polys(coefficients, points)
    assert values.shape == (3, 3, 2, 7)
    x, y = points
    for c, v in zip(coefficients, values):
        n = c.shape[-1] - 1
        direct = sum(c[..., i, None] * x ** (n - i) * y**i for i in range(n + 1))
        np.testing.assert_allclose(v, direct, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(a=polys, b=polys, points=points_2d)
def test_products_evaluate_to_products(a, b, points):
    product = multiply_polynomials(a, b)
    assert product.shape == (a.size + b.size - 1,)
    values = eval_polys([product, a, b], np.asarray(points))
    np.testing.assert_allclose(values[0], values[1] * values[2], atol=1e-8)


def test_products_broadcast_over_batch_axes():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3, 2, 4)), rng.normal(size=3)
    np.testing.assert_allclose(multiply_polynomials(a, b)[1, 0], multiply_polynomials(a[1, 0], b))


@settings(max_examples=30, deadline=None)
@given(a=st.floats(-2, 2), b=st.floats(-2, 2), k=st.integers(0, 6), points=points_2d)
def test_expand_binomial(a, b, k, points):
    x, y = points
    values = eval_polys([expand_binomial(a, b, k)], points)[0]
    np.testing.assert_allclose(values, (a * x + b * y) ** k, atol=1e-8)


@settings(max_examples=40, deadline=None)
@given(c=polys, seed=st.integers(0, 2**16), points=points_2d)
def test_transform_substitutes_the_transposed_matrix(c, seed, points):
    a = np.random.default_rng(seed).normal(size=(2, 2))
    moved = transform_polynomial(c, a)
    assert moved.shape == c.shape
    np.testing.assert_allclose(eval_polys([moved], points), eval_polys([c], a.T @ points),
                               atol=1e-8 * (1 + np.abs(c).sum()) * 50)  # fmt: skip


@settings(max_examples=30, deadline=None)
@given(c=polys, theta=st.floats(-7, 7), phi=st.floats(-7, 7), points=points_2d)
def test_rotating_the_polynomial_matches_rotating_the_points(c, theta, phi, points):
    """transform(P, R(theta)) is P rotated by theta: its value at R(theta) p is P(p); and two
    rotations compose."""
    rotated = transform_polynomial(c, _rotation(theta))
    np.testing.assert_allclose(eval_polys([rotated], _rotation(theta) @ points),
                               eval_polys([c], points), atol=1e-8)  # fmt: skip
    twice = transform_polynomial(transform_polynomial(c, _rotation(theta)), _rotation(phi))
    np.testing.assert_allclose(twice, transform_polynomial(c, _rotation(theta + phi)), atol=1e-9)


def test_the_angle_offset_of_a_basis_is_the_rotation():
    regular = cyclic_group(4).regular_representation
    plain = diffops.diffops_CN_act_R2(regular, regular, 1, max_frequency=3)
    rotated = DiscretizationArgs(angle_offset=0.3)
    offset = diffops.diffops_CN_act_R2(regular, regular, 1, max_frequency=3, discretization=rotated)
    for a, b in zip(plain.coefficients, offset.coefficients):
        np.testing.assert_allclose(b, transform_polynomial(a, _rotation(0.3)), atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(j=st.integers(0, 5), k=st.integers(0, 5), theta=st.floats(-7, 7), points=points_2d)
def test_laplacian_powers(j, k, theta, points):
    x, y = points
    np.testing.assert_allclose(eval_polys([laplacian_power(k)], points)[0], (x * x + y * y) ** k,
                               rtol=1e-10)  # fmt: skip
    np.testing.assert_allclose(multiply_polynomials(laplacian_power(j), laplacian_power(k)),
                               laplacian_power(j + k))  # fmt: skip
    # invariant under every rotation and the reflection
    np.testing.assert_allclose(transform_polynomial(laplacian_power(k), _rotation(theta)),
                               laplacian_power(k), atol=1e-9 * 4**k)  # fmt: skip
    np.testing.assert_allclose(transform_polynomial(laplacian_power(k), np.diag([1.0, -1.0])),
                               laplacian_power(k))  # fmt: skip


@pytest.mark.parametrize("n", [-5, -2, 0, 1, 3, 6])
def test_homogenized_chebyshev(n):
    t, u = homogenized_cheby(n, "t"), homogenized_cheby(n, "U")
    assert t.shape == u.shape == (abs(n) + 1,)
    theta = np.linspace(0, 2 * np.pi, 13)
    circle = np.stack([np.cos(theta), np.sin(theta)])
    np.testing.assert_allclose(eval_polys([t], circle)[0], np.cos(n * theta), atol=1e-10)
    np.testing.assert_allclose(eval_polys([u], circle)[0], np.sin(n * theta), atol=1e-10)
    # |(x + iy)^n|^2 = (x^2 + y^2)^|n|
    np.testing.assert_allclose(multiply_polynomials(t, t) + multiply_polynomials(u, u),
                               laplacian_power(abs(n)), atol=1e-9)  # fmt: skip


@pytest.mark.parametrize(
    "coefficients, text",
    [
        (laplacian_power(1), "x² + y²"),
        ([1.0, -2.0, 1.0], "x² - 2xy + y²"),
        ([0.0, 1.0], "y"),
        ([2.0, 0.0], "2x"),
        ([-1.0], "-1"),
        ([0.5], "0.5"),
        ([0.0, 0.0, 0.0], "0"),
        ([1e-4, 0.0], "0"),
        ([0.0, 1.0, 0.0, 0.0, 0.0, 0.0], "x^4 y"),
        ([0.0, -1.0, 0.0, 0.0, 0.25], "-x³y + 0.25 y^4"),
    ],
)
def test_display(coefficients, text):
    assert display_diffop(np.array(coefficients)) == text


def test_pretty_print_shows_the_operators():
    basis = diffops.LaplaceProfile(1)
    assert basis.pretty_print() == "element 0 (order 0):\n  [1]\nelement 1 (order 2):\n  [x² + y²]"


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: required_points(-1, 2), ValueError, "order must be at least 0"),
        (lambda: required_points(2, 0), ValueError, "accuracy must be at least 1"),
        (lambda: required_points(True, 2), TypeError, "order must be an integer"),
        (lambda: largest_possible_order(2, 4), ValueError, "cannot reach accuracy 4"),
        (lambda: guaranteed_accuracy(3, 3), ValueError, "needs more than 3 points"),
        (lambda: symmetric_points(0), ValueError, "n must be at least 1"),
        (lambda: symmetric_points(3, -1.0), ValueError, "dilation must be positive"),
        (lambda: discretize_1d_monomial(3, [-1.0, 0.0, 1.0]), ValueError, "needs more than 3"),
        (lambda: discretize_1d_monomial(1, [0.0, 0.0, 1.0]), ValueError, "distinct"),
        (lambda: discretize_2d_monomial(1, 1, [0.0, 1.0]), ValueError, "pair"),
        (lambda: discretize_homogeneous_polynomial(np.zeros((3, 4)), np.ones(2)), ValueError,
         r"points must have shape \(2, N\)"),
        (lambda: discretize_homogeneous_polynomial(grid_points(3), np.ones((2, 2))), ValueError,
         r"coefficients must have shape \(n \+ 1,\)"),
        (lambda: discretize_homogeneous_polynomial(grid_points(3), np.ones(2), method="x"),
         ValueError, "method must be one of"),
        (lambda: discretize_homogeneous_polynomial(np.eye(2), np.ones(2)), ValueError,
         "full tensor grid"),
        (lambda: discretize_homogeneous_polynomial(grid_points(3), np.ones(2), method="gauss"),
         ValueError, "smoothing must be set"),
        (lambda: eval_polys([np.ones(2)], np.ones((3, 2))), ValueError, r"points must have"),
        (lambda: eval_polys([np.ones((2, 2)), np.ones((3, 2))], np.ones((2, 2))), ValueError,
         "one batch shape"),
        (lambda: eval_polys([], np.ones((2, 2))), ValueError, "at least one"),
        (lambda: eval_polys([np.ones(0)], np.ones((2, 2))), ValueError, "n >= 0"),
        (lambda: transform_polynomial(np.ones(3), np.eye(3)), ValueError, "2x2"),
        (lambda: multiply_polynomials(np.ones((2, 3)), np.ones((3, 3))), ValueError,
         "do not broadcast"),
        (lambda: laplacian_power(-1), ValueError, "non-negative"),
        (lambda: homogenized_cheby(2, "v"), ValueError, "kind must be"),
        (lambda: homogenized_cheby(1.5), TypeError, "n must be an integer"),
        (lambda: display_diffop(np.ones((2, 2))), ValueError, "one polynomial"),
        (lambda: expand_binomial(1.0, 1.0, -1), ValueError, "non-negative"),
    ],
)  # fmt: skip
def test_bad_input_is_refused(call, error, match):
    with pytest.raises(error, match=match):
        call()
