"""Transformations of signals sampled on a square grid by rotations and reflections of the plane.

Array layout: the last two axes are (rows, columns); row ``i`` is at height ``y = cy - i`` and
column ``j`` at ``x = j - cx`` (``y`` points up), so a positive angle rotates counterclockwise as
the array is displayed. The transformed signal is ``(g·f)(x) = f(g⁻¹ x)``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["transform_grid"]

_HALF_PI = math.pi / 2.0


def transform_grid(array: np.ndarray, angle: float, flip: bool) -> np.ndarray:
    """Apply ``x -> R(angle) @ diag(1, -1)**flip @ x`` to a signal on the grid.

    The reflection (``y -> -y``) reverses the rows exactly; a rotation by a multiple of π/2 uses
    ``np.rot90`` (exact); any other angle is interpolated with scipy's order-2 spline, keeping the
    grid size (points mapped from outside the grid are 0).
    """
    out = np.asarray(array)
    if out.ndim < 2:
        raise ValueError(f"array: expected at least 2 dimensions (..., H, W), got {out.shape}")
    if flip:
        out = out[..., ::-1, :]
    quarter = angle / _HALF_PI
    k = round(quarter)
    if abs(quarter - k) < 1e-9:
        out = np.rot90(out, k % 4, axes=(-2, -1))
        return np.array(out, copy=True)
    return _rotate_interpolated(out, angle)


def _rotate_interpolated(array: np.ndarray, angle: float) -> np.ndarray:
    from scipy import ndimage  # lazy: scipy is only needed for non-grid-aligned angles

    h, w = array.shape[-2:]
    c, s = math.cos(angle), math.sin(angle)
    # output index (i, j) samples the input at matrix @ (i, j) + offset (inverse rotation)
    matrix = np.array([[c, s], [-s, c]])
    center = np.array([(h - 1) / 2.0, (w - 1) / 2.0])
    offset = center - matrix @ center
    # remove floating-point noise so that grid points are not pushed just outside the grid
    matrix[np.abs(matrix) < 1e-14] = 0.0
    snapped = np.round(offset)
    offset = np.where(np.abs(offset - snapped) < 1e-12, snapped, offset)
    flat = np.ascontiguousarray(array, dtype=np.float64).reshape(-1, h, w)
    out = np.empty_like(flat)
    for b in range(flat.shape[0]):
        ndimage.affine_transform(
            flat[b], matrix, offset=offset, output=out[b], order=2, mode="constant", cval=0.0
        )
    return out.reshape(array.shape)
