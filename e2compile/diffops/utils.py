"""The reference library's ``diffops.utils``: polynomial and discretisation helpers for PDOs.

Polynomials are coefficient arrays ``(..., n + 1)`` over ``x^n, x^(n-1) y, ..., y^n``
(:mod:`e2compile.diffops.polynomials`); stencils come from the discretisation of the PDO bases
(:mod:`e2compile.diffops.discretization`), so these helpers give the numbers the compiled bases use.
The finite-difference size rules assume points placed symmetrically around 0.

One layout differs from the rest of the package, as in the reference library:
:func:`discretize_homogeneous_polynomial` with ``method="fd"`` returns the stencil ordered
x-major over the sorted grid coordinates (see there), not in the order of ``points``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .discretization import (
    DiscretizationArgs,
    fd_weights,
    grid_axes,
    guaranteed_accuracy,
    largest_possible_order,
    monomial_stencils,
    required_points,
    symmetric_points,
)
from .polynomials import (
    display_diffop,
    eval_polys,
    expand_binomial,
    homogenized_cheby,
    laplacian_power,
    multiply_polynomials,
    transform_polynomial,
)
from .storage import load_cache, store_cache

__all__ = [
    "discretize_homogeneous_polynomial",
    "discretize_1d_monomial",
    "discretize_2d_monomial",
    "required_points",
    "largest_possible_order",
    "guaranteed_accuracy",
    "symmetric_points",
    "eval_polys",
    "multiply_polynomials",
    "expand_binomial",
    "transform_polynomial",
    "laplacian_power",
    "homogenized_cheby",
    "display_diffop",
    "store_cache",
    "load_cache",
]


def discretize_1d_monomial(n: int, points: Sequence[float]) -> np.ndarray:
    """The finite-difference stencil of ``d^n/dx^n`` at 0 on the 1-D ``points`` (distinct; all
    of them are used, so it is exact on polynomials of degree below ``len(points)``), in the
    order of ``points``."""
    return fd_weights(n, points)


def discretize_2d_monomial(
    n_x: int, n_y: int, points: tuple[Sequence[float], Sequence[float]]
) -> np.ndarray:
    """The finite-difference stencil of ``d^(n_x+n_y) / dx^n_x dy^n_y`` at 0 on the tensor grid
    ``points = (xs, ys)``: shape ``(len(xs), len(ys))``, entry ``[i, j]`` for ``(xs[i], ys[j])``."""
    if (
        not isinstance(points, (tuple, list))
        or len(points) != 2
        or any(np.ndim(axis) != 1 for axis in points)
    ):
        raise ValueError("points must be a pair (xs, ys) of 1-D coordinate sequences")
    return np.multiply.outer(fd_weights(n_x, points[0]), fd_weights(n_y, points[1]))


def discretize_homogeneous_polynomial(
    points: np.ndarray,
    coefficients: np.ndarray,
    smoothing: float | None = None,
    phi: str = "ga",
    method: str = "fd",
) -> np.ndarray:
    """The stencil ``(N,)`` of the homogeneous PDO ``coefficients`` ``(n + 1,)`` on ``points``
    ``(2, N)``, discretised as :class:`~e2compile.diffops.DiffopBasis` does with
    ``DiscretizationArgs(method, smoothing, phi=phi)``.

    * ``"rbffd"`` and ``"gauss"``: entry ``k`` is the weight of ``points[:, k]``. ``"gauss"``
      uses this package's Gaussian (``smoothing`` is its standard deviation, docs/pdo.md).
    * ``"fd"``: ``points`` must form a full tensor grid with sorted coordinates ``xs`` and
      ``ys``; entry ``i * len(ys) + j`` is the weight of the point ``(xs[i], ys[j])`` (the
      reference library's layout). For the square grid of
      :func:`~e2compile.kernels.sampling.grid_points` (rows from top to bottom), reshaping the
      result to ``(k, k)`` gives the stencil in image layout rotated by -90 degrees:
      ``np.rot90(result.reshape(k, k))`` is the cross-correlation filter.

    The zero operator gives zeros, whatever the points.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[0] != 2 or points.shape[1] == 0:
        raise ValueError(f"points must have shape (2, N) with N > 0, got {points.shape}")
    c = np.asarray(coefficients, dtype=np.float64)
    if c.ndim != 1 or c.size == 0:
        raise ValueError(f"coefficients must have shape (n + 1,), got {c.shape}")
    args = DiscretizationArgs(method, smoothing, None, phi)
    nonzero = np.flatnonzero(c)
    if nonzero.size == 0:
        return np.zeros(points.shape[1])
    stencil = c[nonzero] @ monomial_stencils(c.size - 1, points, args, nonzero)
    if args.method != "fd":
        return stencil
    _, ys, ix, iy = grid_axes(points)
    out = np.empty_like(stencil)
    out[ix * ys.size + iy] = stencil
    return out
