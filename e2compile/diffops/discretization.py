"""Stencils of monomial partial derivatives: how a PDO becomes a filter on a grid.

A PDO ``sum_i c_i d^n / dx^(n-i) dy^i`` is discretised linearly: its stencil is
``sum_i c_i w_(n-i, i)`` where ``w_(a, b)`` is the stencil of the monomial ``d^(a+b)/dx^a dy^b``.
A stencil ``w`` on points ``p_1..p_P`` approximates the derivative at ``x`` by
``sum_k w_k f(x + p_k)``: the layout of a kernel sampled on the same points, so that a stencil is
used exactly like a sampled kernel (cross-correlation). Points are in the plane's coordinates
(x to the right, y up), as :func:`e2compile.kernels.sampling.grid_points` gives them: the stencil
of d/dx differentiates along +x of the grid, the stencil of d/dy along +y.

Methods (``DiscretizationArgs.method``):

* ``"fd"``: finite differences. On a tensor grid the stencil of ``d^a/dx^a d^b/dy^b`` is the
  product of the 1-D finite-difference weights (sympy, exact rationals) of order ``a`` on the
  grid's x coordinates and of order ``b`` on its y coordinates, using every point of the row and
  column: exact on polynomials of degree < k in each variable.
* ``"rbffd"``: RBF-FD weights (the ``rbf`` package) from all the points, RBF ``phi``, polynomial
  augmentation of the derivative's order.
* ``"gauss"``: derivatives of a normalised Gaussian of standard deviation ``smoothing`` pixels:
  the PDO applied to the input smoothed by that Gaussian, ``w(p) = (D G)(-p)``.

Everything is float64 and deterministic; sympy and rbf are imported only when used.
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "DiscretizationArgs",
    "METHODS",
    "RBF_NAMES",
    "monomial_stencils",
    "fd_weights",
    "grid_axes",
    "required_points",
    "largest_possible_order",
    "guaranteed_accuracy",
    "symmetric_points",
]

#: The discretisation methods.
METHODS = ("fd", "rbffd", "gauss")

#: RBF abbreviations of the rbf package accepted as ``phi``.
RBF_NAMES = (
    "ga", "exp", "se", "iq", "imq", "mq", "mat32", "mat52",
    "phs1", "phs2", "phs3", "phs4", "phs5", "phs6", "phs7", "phs8",
    "wen10", "wen11", "wen12", "wen30", "wen31", "wen32",
)  # fmt: skip


@dataclass(frozen=True)
class DiscretizationArgs:
    """How PDOs are discretised (immutable; validated on construction).

    Attributes:
        method: ``"fd"`` (default), ``"rbffd"`` or ``"gauss"``.
        smoothing: standard deviation in pixels of the Gaussian (required by ``"gauss"``, which
            is the only method it affects).
        angle_offset: if not ``None``, every PDO is rotated by this many radians.
        phi: the RBF of ``"rbffd"`` (one of :data:`RBF_NAMES`, default Gaussian ``"ga"``).
    """

    method: str = "fd"
    smoothing: float | None = None
    angle_offset: float | None = None
    phi: str = "ga"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if not isinstance(self.phi, str) or self.phi not in RBF_NAMES:
            raise ValueError(f"phi must be one of the RBF names {RBF_NAMES}, got {self.phi!r}")
        if self.smoothing is not None:
            smoothing = _finite(self.smoothing, "smoothing")
            if smoothing <= 0:
                raise ValueError(f"smoothing must be positive (pixels), got {smoothing}")
            object.__setattr__(self, "smoothing", smoothing)
        if self.method == "gauss" and self.smoothing is None:
            raise ValueError("smoothing must be set (standard deviation in pixels) for 'gauss'")
        if self.angle_offset is not None:
            object.__setattr__(self, "angle_offset", _finite(self.angle_offset, "angle_offset"))

    def canonical(self) -> DiscretizationArgs:
        """The same discretisation with the settings that do not change the numbers dropped
        (``smoothing`` outside ``"gauss"``, ``phi`` outside ``"rbffd"``, a zero offset)."""
        return DiscretizationArgs(
            self.method,
            self.smoothing if self.method == "gauss" else None,
            self.angle_offset if self.angle_offset else None,
            self.phi if self.method == "rbffd" else "ga",
        )


def _finite(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value + 0.0


def monomial_stencils(
    order: int,
    points: np.ndarray,
    args: DiscretizationArgs,
    indices: Sequence[int] | None = None,
) -> np.ndarray:
    """Stencils of ``d^order / dx^(order-i) dy^i`` for ``i = 0..order`` (or only the ``i`` in
    ``indices``): shape ``(order+1, P)`` (``(len(indices), P)``).

    ``points`` has shape ``(2, P)``; ``"fd"`` needs them to form a full tensor grid.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[0] != 2 or points.shape[1] == 0:
        raise ValueError(f"points must have shape (2, P) with P > 0, got {points.shape}")
    order = int(order)
    if order < 0:
        raise ValueError(f"order must be non-negative, got {order}")
    indices = range(order + 1) if indices is None else [int(i) for i in indices]
    if any(not 0 <= i <= order for i in indices):
        raise ValueError(f"indices must lie in 0..{order}, got {list(indices)}")
    if args.method == "fd":
        return _fd(order, points, indices)
    if args.method == "gauss":
        return _gauss(order, points, args.smoothing, indices)
    return _rbffd(order, points, args.phi, indices)


# ---------------------------------------------------------------------------- accuracy
# Central finite differences on points placed symmetrically around 0: P points give the
# derivative of order n with an error of order h^(P - n), and one order more when P - n is odd
# (the symmetric stencil's "boosted" accuracy, e.g. 3 points give d/dx and d^2/dx^2 to h^2).


def _natural(value: Any, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def required_points(order: int, accuracy: int) -> int:
    """Points per axis that a symmetric stencil needs for a derivative of ``order`` with error
    ``O(h^accuracy)``: ``order + accuracy``, one less when ``accuracy`` is even."""
    order = _natural(order, "order")
    accuracy = _natural(accuracy, "accuracy", minimum=1)
    return order + accuracy - (1 if accuracy % 2 == 0 else 0)


def largest_possible_order(num_points: int, accuracy: int) -> int:
    """The largest derivative order that ``num_points`` symmetric points give with error
    ``O(h^accuracy)`` (the inverse of :func:`required_points`)."""
    num_points = _natural(num_points, "num_points", minimum=1)
    accuracy = _natural(accuracy, "accuracy", minimum=1)
    order = num_points - accuracy + (1 if accuracy % 2 == 0 else 0)
    if order < 0:
        raise ValueError(
            f"{num_points} points cannot reach accuracy {accuracy} for any order (order 0 "
            f"needs {required_points(0, accuracy)})"
        )
    return order


def guaranteed_accuracy(num_points: int, order: int) -> int:
    """The accuracy (error ``O(h^a)``) of the derivative of ``order`` on ``num_points`` symmetric
    points: ``num_points - order``, one more when that is odd."""
    num_points = _natural(num_points, "num_points", minimum=1)
    order = _natural(order, "order")
    if order >= num_points:
        raise ValueError(f"a derivative of order {order} needs more than {num_points} points")
    accuracy = num_points - order
    return accuracy + accuracy % 2


def symmetric_points(n: int, dilation: float = 1) -> list[float]:
    """``n`` equally spaced coordinates ``dilation`` apart, symmetric around 0 (e.g.
    ``[-1, 0, 1]`` for 3, ``[-0.5, 0.5]`` for 2)."""
    n = _natural(n, "n", minimum=1)
    dilation = _finite(dilation, "dilation")
    if dilation <= 0:
        raise ValueError(f"dilation must be positive, got {dilation}")
    return [(i - (n - 1) / 2) * dilation for i in range(n)]


# ------------------------------------------------------------------------------------ fd
def fd_weights(order: int, nodes: Sequence[float]) -> np.ndarray:
    """Weights ``w`` with ``sum_k w_k f(nodes_k) = f^(order)(0)`` for every polynomial of degree
    below ``len(nodes)`` (exact rationals, then float64), in the order of ``nodes``."""
    order = _natural(order, "order")
    values = np.asarray(nodes, dtype=np.float64).reshape(-1)
    if not np.isfinite(values).all():
        raise ValueError("nodes must be finite")
    if np.unique(values).size != values.size:
        raise ValueError(f"nodes must be distinct, got {values.tolist()}")
    return np.array(_fd_weights_1d(order, tuple(values.tolist())))


@functools.lru_cache(maxsize=256)
def _fd_weights_1d(order: int, nodes: tuple[float, ...]) -> tuple[float, ...]:
    """Weights of the ``order``-th derivative at 0 from values at ``nodes`` (exact, sympy)."""
    import sympy

    if order >= len(nodes):
        raise ValueError(
            f"a derivative of order {order} needs more than {len(nodes)} points per axis: "
            "use a larger kernel_size or a smaller maximum_order"
        )
    exact = [sympy.Rational(x) for x in nodes]  # grid coordinates are exact binary fractions
    weights = sympy.finite_diff_weights(order, exact, 0)[order][-1]
    return tuple(float(w) for w in weights)


def grid_axes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(xs, ys, ix, iy)``: the sorted coordinates of a full tensor grid ``(2, P)`` (any point
    order) and each point's position in them; raises if the points are not such a grid."""
    xs, ys = np.unique(points[0]), np.unique(points[1])
    ix = np.searchsorted(xs, points[0])
    iy = np.searchsorted(ys, points[1])
    if xs.size * ys.size != points.shape[1] or np.unique(ix * ys.size + iy).size != ix.size:
        raise ValueError("the 'fd' discretisation needs the points of a full tensor grid")
    return xs, ys, ix, iy


def _fd(order: int, points: np.ndarray, indices: Sequence[int]) -> np.ndarray:
    xs, ys, ix, iy = grid_axes(points)
    out = np.empty((len(indices), points.shape[1]))
    for row, i in enumerate(indices):
        wx = np.asarray(_fd_weights_1d(order - i, tuple(xs.tolist())))
        wy = np.asarray(_fd_weights_1d(i, tuple(ys.tolist())))
        out[row] = wx[ix] * wy[iy]
    return out


# --------------------------------------------------------------------------------- gauss
def _gaussian_derivative_1d(order: int, x: np.ndarray, sigma: float) -> np.ndarray:
    """``d^order/dx^order`` of the normalised 1-D Gaussian of standard deviation ``sigma``."""
    from numpy.polynomial import hermite_e

    sigma = np.float64(sigma)  # overflow gives inf (checked by the caller), never an exception
    u = x / sigma
    g = np.exp(-0.5 * u * u) / (math.sqrt(2 * math.pi) * sigma)
    coefficients = np.zeros(order + 1)
    coefficients[order] = 1.0
    return (-1.0 / sigma) ** order * hermite_e.hermeval(u, coefficients) * g


def _gauss(order: int, points: np.ndarray, sigma: float, indices: Sequence[int]) -> np.ndarray:
    # w(p) = (D G)(-p): the correlation stencil of the convolution with D G
    x, y = -points[0], -points[1]
    out = np.empty((len(indices), points.shape[1]))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for row, i in enumerate(indices):
            gx = _gaussian_derivative_1d(order - i, x, sigma)
            out[row] = gx * _gaussian_derivative_1d(i, y, sigma)
    if not np.isfinite(out).all():
        raise ValueError(
            f"smoothing={sigma!r} is too small: the Gaussian's derivatives of order {order} "
            "overflow float64 on the grid; use a larger smoothing (about 0.5 to 2 pixels)"
        )
    return out


# --------------------------------------------------------------------------------- rbffd
def _rbffd(order: int, points: np.ndarray, phi: str, indices: Sequence[int]) -> np.ndarray:
    try:
        from rbf.pde.fd import weights
    except ImportError as exc:  # pragma: no cover - the package is a dependency of 'pdo'
        raise ImportError(
            "the 'rbffd' discretisation needs the rbf package (pip install treverhines-rbf)"
        ) from exc
    n_poly = (order + 1) * (order + 2) // 2
    if n_poly > points.shape[1]:
        raise ValueError(
            f"RBF-FD of order {order} needs at least {n_poly} points, got {points.shape[1]}"
        )
    diffs = np.array([[order - i, i] for i in indices]).reshape(-1, 2)
    stencil = points.T[None]  # (1, P, 2)
    center = np.zeros((1, 2))
    out = np.empty((len(indices), points.shape[1]))
    if phi == "ga":
        _add_gaussian_derivatives(order)
    # lambdified piecewise RBFs (phs, matern...) evaluate both branches: the unused one may
    # divide by zero at the centre, which the selection discards
    with _lambdified_rbf_derivatives(), np.errstate(divide="ignore", invalid="ignore"):
        for i, diff in enumerate(diffs):
            out[i] = weights(center, stencil, diff, phi=phi, order=order)[0]
    return out


_RBF_LOCK = threading.Lock()


class _GaussianDerivative:
    """``d^a/dx0^a d^b/dx1^b exp(-eps^2 |x - c|^2)`` in closed form (picklable, vectorised).

    The Gaussian RBF is separable: each factor's derivative is
    ``(-eps)^n H_n(eps u) exp(-(eps u)^2)`` with ``H_n`` the physicists' Hermite polynomial.
    """

    def __init__(self, a: int, b: int):
        self.a, self.b = a, b

    def __call__(self, x0: Any, x1: Any, c0: Any, c1: Any, eps: Any) -> np.ndarray:
        from numpy.polynomial import hermite

        def factor(n: int, u: np.ndarray) -> np.ndarray:
            t = eps * u
            coefficients = np.zeros(n + 1)
            coefficients[n] = 1.0
            return (-eps) ** n * hermite.hermval(t, coefficients) * np.exp(-t * t)

        x0, x1, c0, c1, eps = np.broadcast_arrays(*(np.asarray(v, float) for v in
                                                    (x0, x1, c0, c1, eps)))  # fmt: skip
        return factor(self.a, x0 - c0) * factor(self.b, x1 - c1)


def _add_gaussian_derivatives(order: int) -> None:
    """Give the rbf package's Gaussian RBF (``"ga"``, ``exp(-(eps r)^2)``) the closed-form
    derivatives up to ``order`` that it lacks, instead of differentiating it symbolically with
    sympy (seconds per derivative). The package's RBF-FD weights use them unchanged."""
    import rbf.basis

    phi = rbf.basis.get_rbf("ga")
    cache = getattr(phi, "_cache", None)
    if not isinstance(cache, dict):  # another rbf version: let it differentiate symbolically
        return
    with _RBF_LOCK:
        for n in range(order + 1):
            for i in range(n + 1):
                cache.setdefault((n - i, i), _GaussianDerivative(n - i, i))


@contextlib.contextmanager
def _lambdified_rbf_derivatives() -> Iterator[None]:
    """Let the rbf package turn RBF derivatives into numpy functions with sympy's ``lambdify``.

    By default it compiles each derivative it has not precompiled into a C extension
    (``ufuncify``), which takes seconds per derivative (about a minute for the derivatives of
    order 4 of a 5x5 stencil); ``lambdify`` gives the same values at once. The package's own
    symbolic derivative and limit logic is kept; only the code generation changes.
    """
    import rbf.basis
    from sympy import lambdify

    def numpy_function(args: Any, expr: Any, backend: str = "numpy", tempdir: Any = None) -> Any:
        return lambdify(args, expr, modules=["numpy"])

    with _RBF_LOCK:
        original = rbf.basis.ufuncify
        rbf.basis.ufuncify = numpy_function
        try:
            yield
        finally:
            rbf.basis.ufuncify = original
