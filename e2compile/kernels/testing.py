"""Checks that a kernel basis solves the constraint ``K(g x) = rho_out(g) K(x) rho_in(g)^-1``.

Used by the test-suite and handy when adding a group family. Group elements follow the encodings
of docs/conventions.md: C_N ``r`` (rotation by ``2 pi r / N``), D_N ``(f, r)`` = ``r^r f^f``,
SO(2) an angle, O(2) ``(f, angle)``, the flip group C_2 ``f`` in {0, 1}; the flip reflects across
the gspace's ``axis``. How an element moves the plane is the gspace's own
(:meth:`~e2compile.gspaces.GeneralOnR2.action_matrix`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .sampling import grid_points

__all__ = [
    "grid_permutation",
    "grid_equivariance_error",
    "analytic_equivariance_error",
    "reynolds_error",
]


def grid_permutation(matrix: np.ndarray, kernel_size: int, dilation: int = 1) -> np.ndarray | None:
    """``perm`` with ``matrix @ p_i == p_perm[i]`` on the grid, or ``None`` if the grid moves."""
    points = grid_points(kernel_size, dilation)
    moved = matrix @ points
    distance = np.abs(moved[:, :, None] - points[:, None, :]).max(axis=0)  # (P, P)
    perm = distance.argmin(axis=1)
    if np.all(distance[np.arange(points.shape[1]), perm] < 1e-12):
        return perm
    return None


def _conjugate(rho_out: np.ndarray, kernels: np.ndarray, rho_in_inv: np.ndarray) -> np.ndarray:
    # kernels: (O, I, ...) -> rho_out K rho_in^-1
    moved = np.tensordot(rho_out, kernels, axes=(1, 0))
    return np.moveaxis(np.tensordot(moved, rho_in_inv, axes=(1, 0)), -1, 1)


def grid_equivariance_error(
    basis: np.ndarray,
    in_repr: Any,
    out_repr: Any,
    gspace: Any,
    elements: Iterable[Any],
    kernel_size: int,
    dilation: int = 1,
) -> tuple[float, int]:
    """Worst error over the elements that map the grid onto itself, and how many there were.

    ``basis`` has shape ``(dim, O, I, k*k)`` (a compiled artifact's basis).
    """
    worst, checked = 0.0, 0
    kernels = np.moveaxis(np.asarray(basis), 0, 2)  # (O, I, dim, P)
    for g in elements:
        perm = grid_permutation(gspace.action_matrix(g), kernel_size, dilation)
        if perm is None:
            continue
        checked += 1
        expected = _conjugate(
            np.asarray(out_repr(g)), kernels, np.linalg.inv(np.asarray(in_repr(g)))
        )
        actual = kernels[..., perm]  # K(g p_i) sits at grid index perm[i]
        worst = max(worst, float(np.abs(actual - expected).max(initial=0.0)))
    return worst, checked


def analytic_equivariance_error(
    kernel_basis: Any,
    in_repr: Any,
    out_repr: Any,
    gspace: Any,
    elements: Iterable[Any],
    points: np.ndarray,
) -> float:
    """Worst error of ``K(g p) = rho_out(g) K(p) rho_in(g)^-1`` over elements and points."""
    reference = kernel_basis.sample(points)
    worst = 0.0
    for g in elements:
        moved = kernel_basis.sample(gspace.action_matrix(g) @ points)
        expected = _conjugate(
            np.asarray(out_repr(g)), reference, np.linalg.inv(np.asarray(in_repr(g)))
        )
        worst = max(worst, float(np.abs(moved - expected).max(initial=0.0)))
    return worst


def reynolds_error(
    kernel_basis: Any,
    in_repr: Any,
    out_repr: Any,
    gspace: Any,
    elements: Iterable[Any],
    points: np.ndarray,
) -> float:
    """Largest change of an element under group averaging ``mean_g rho_out(g)^-1 K(g p) rho_in(g)``.

    For a finite group pass all elements; for SO(2)/O(2) an equally spaced sample finer than twice
    the largest frequency averages exactly.
    """
    elements = list(elements)
    reference = kernel_basis.sample(points)
    total = np.zeros_like(reference)
    for g in elements:
        moved = kernel_basis.sample(gspace.action_matrix(g) @ points)
        total += _conjugate(np.linalg.inv(np.asarray(out_repr(g))), moved, np.asarray(in_repr(g)))
    return float(np.abs(total / len(elements) - reference).max(initial=0.0))
