"""Homogeneous polynomials in two variables, stored as coefficient arrays.

A homogeneous polynomial of degree ``n`` is the array ``c`` of shape ``(..., n + 1)`` holding the
coefficients of ``x^n, x^(n-1) y, ..., y^n`` (leading axes are a batch, e.g. the ``c_out x c_in``
entries of a PDO); read as a differential operator, ``x`` is ``d/dx`` and ``y`` is ``d/dy``. The
functions here are exact algebra (binomial coefficients, no fitting) in float64, numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "monomials",
    "eval_polys",
    "multiply_polynomials",
    "expand_binomial",
    "transform_polynomial",
    "laplacian_power",
    "homogenized_cheby",
    "display_diffop",
]


def _degree(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    return int(value)


def _coefficients(value: Any, name: str = "coefficients") -> np.ndarray:
    array = np.asarray(value)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{name} must be a numeric array (..., n + 1), got {value!r}")
    if array.ndim == 0 or array.shape[-1] == 0:
        raise ValueError(f"{name} must have shape (..., n + 1) with n >= 0, got {array.shape}")
    if np.iscomplexobj(array):
        raise TypeError(f"{name} must be real, got a complex array")
    return array.astype(np.float64)


def _points(value: Any) -> np.ndarray:
    points = np.asarray(value, dtype=np.float64)
    if points.ndim != 2 or points.shape[0] != 2:
        raise ValueError(f"points must have shape (2, N), got {points.shape}")
    return points


def monomials(degree: int, points: np.ndarray) -> np.ndarray:
    """Values of ``x^(n-i) y^i`` (``i = 0..n``) at ``points`` ``(2, N)``: shape ``(n + 1, N)``."""
    n = _degree(degree, "degree")
    if n < 0:
        raise ValueError(f"degree must be non-negative, got {n}")
    points = _points(points)
    i = np.arange(n + 1)[:, None]
    return points[0] ** (n - i) * points[1] ** i


def eval_polys(coefficients: Sequence[np.ndarray], points: np.ndarray) -> np.ndarray:
    """Evaluate a list of polynomials ``(..., n_l + 1)`` (one shared batch shape ``...``, any
    degrees) at ``points`` ``(2, N)``: shape ``(L, ..., N)``."""
    points = _points(points)
    arrays = [_coefficients(c, f"coefficients[{index}]") for index, c in enumerate(coefficients)]
    if not arrays:
        raise ValueError("coefficients must hold at least one polynomial")
    batch = arrays[0].shape[:-1]
    if any(c.shape[:-1] != batch for c in arrays):
        shapes = sorted({c.shape[:-1] for c in arrays})
        raise ValueError(f"coefficients must share one batch shape, got {shapes}")
    return np.stack([c @ monomials(c.shape[-1] - 1, points) for c in arrays])


def multiply_polynomials(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The product of two polynomials ``(..., n + 1)`` and ``(..., m + 1)`` (batch axes
    broadcast): shape ``(..., n + m + 1)``."""
    a, b = _coefficients(a, "a"), _coefficients(b, "b")
    n, m = a.shape[-1] - 1, b.shape[-1] - 1
    try:
        batch = np.broadcast_shapes(a.shape[:-1], b.shape[:-1])
    except ValueError:
        raise ValueError(
            f"the batch shapes of a {a.shape[:-1]} and b {b.shape[:-1]} do not broadcast"
        ) from None
    out = np.zeros((*batch, n + m + 1))
    for i in range(n + 1):
        out[..., i : i + m + 1] += a[..., i : i + 1] * b
    return out


def expand_binomial(a: float, b: float, exponent: int) -> np.ndarray:
    """Coefficients of ``(a x + b y)^exponent``: shape ``(exponent + 1,)``."""
    k = _degree(exponent, "exponent")
    if k < 0:
        raise ValueError(f"exponent must be non-negative, got {k}")
    a, b = float(a), float(b)
    return np.array([math.comb(k, i) * a ** (k - i) * b**i for i in range(k + 1)])


def transform_polynomial(coefficients: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """The polynomials ``x -> P(A^T x)`` for ``P`` given by ``coefficients`` ``(..., n + 1)`` and
    ``A = matrix`` ``(2, 2)``: same shape.

    ``x`` is replaced by ``A[0, 0] x + A[1, 0] y`` and ``y`` by ``A[0, 1] x + A[1, 1] y`` (the
    reference library's convention). For a rotation ``A = R(theta)`` this is ``P(R(-theta) x)``,
    the polynomial (and PDO) rotated by ``theta``.
    """
    c = _coefficients(coefficients)
    a = np.asarray(matrix, dtype=np.float64)
    if a.shape != (2, 2) or not np.isfinite(a).all():
        raise ValueError(f"matrix must be a finite 2x2 array, got shape {a.shape}")
    n = c.shape[-1] - 1
    rows = [
        multiply_polynomials(expand_binomial(a[0, 0], a[1, 0], n - i),
                             expand_binomial(a[0, 1], a[1, 1], i))
        for i in range(n + 1)
    ]  # fmt: skip
    return c @ np.stack(rows)  # row i: the image of the monomial x^(n-i) y^i


def laplacian_power(k: int) -> np.ndarray:
    """Coefficients of ``(x^2 + y^2)^k``, the ``k``-th power of the Laplacian: ``(2k + 1,)``."""
    k = _degree(k, "k")
    if k < 0:
        raise ValueError(f"k must be non-negative, got {k}")
    out = np.zeros(2 * k + 1)
    out[::2] = [math.comb(k, t) for t in range(k + 1)]
    return out


def homogenized_cheby(n: int, kind: str = "t") -> np.ndarray:
    """The homogeneous polynomial of degree ``|n|`` equal to ``cos(n theta)`` (``kind="t"``,
    Chebyshev's ``T``) or ``sin(n theta)`` (``kind="u"``, ``sin(theta) U_(|n|-1)``) on the unit
    circle, i.e. the real or imaginary part of ``(x + i y)^n`` for ``n >= 0``.

    A negative ``n`` gives the same degree ``|n|``; only the sign of the ``"u"`` polynomial
    changes (``sin(n theta)`` is odd in ``n``).
    """
    n = _degree(n, "n")
    if not isinstance(kind, str) or kind.lower() not in ("t", "u"):
        raise ValueError(f"kind must be 't' or 'u', got {kind!r}")
    degree, sign = abs(n), (1 if n >= 0 else -1)
    out = np.zeros(degree + 1)
    # (x + i y)^d = sum_j binom(d, j) i^j x^(d-j) y^j: even j are real, odd j imaginary
    first = 0 if kind.lower() == "t" else 1
    for j in range(first, degree + 1, 2):
        out[j] = math.comb(degree, j) * (-1) ** (j // 2)
    return out if first == 0 else sign * out


_SUPERSCRIPTS = {1: "", 2: "²", 3: "³"}


def _power(variable: str, exponent: int) -> str:
    if exponent == 0:
        return ""
    return variable + _SUPERSCRIPTS.get(exponent, f"^{exponent}")


def display_diffop(coefficients: np.ndarray) -> str:
    """One polynomial ``(n + 1,)`` as text, e.g. ``"x² + 2xy - 0.5 y²"`` (``x`` for ``d/dx``,
    coefficients rounded to two decimals, ``"0"`` when every one rounds to zero)."""
    c = _coefficients(coefficients)
    if c.ndim != 1:
        raise ValueError(f"coefficients must be one polynomial (n + 1,), got shape {c.shape}")
    n = c.size - 1
    terms: list[str] = []
    for i, value in enumerate(c.tolist()):
        value = round(value, 2) + 0.0
        if value == 0:
            continue
        x, y = _power("x", n - i), _power("y", i)
        monomial = x + (" " if "^" in x and y else "") + y
        magnitude = abs(value)
        number = str(int(magnitude)) if magnitude.is_integer() else str(magnitude)
        if not monomial:
            body = number
        elif number == "1":
            body = monomial
        else:
            body = number + ("" if magnitude.is_integer() else " ") + monomial
        sign = "-" if value < 0 else "+"
        terms.append(("-" + body) if not terms and sign == "-" else
                     body if not terms else f" {sign} {body}")  # fmt: skip
    return "".join(terms) if terms else "0"
