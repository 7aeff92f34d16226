"""How a fiber-group element moves a feature field, in torch (any device, differentiable).

The base space is sampled on a pixel grid with rows from ``+y`` downwards and columns along
``+x`` (the kernel grid convention of the compiler). An element acts on the plane as the gspace
says (``gspace.planar_action(element) -> (angle, flip)``: the linear map ``R(angle) @ F**flip``,
where ``F`` is the reflection ``y -> -y``, the row flip; a flip across the gspace's axis ``a`` is
``R(2a) @ F``). Feature fields transform as ``[g.f](x) = rho(g) f(g^-1 x)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

__all__ = [
    "quarter_turns",
    "is_grid_exact",
    "grid_exact_elements",
    "apply_fiber",
    "transform_grid",
]

_TOL = 1e-9


def quarter_turns(angle: float) -> int | None:
    """``k`` in 0..3 when ``angle`` is ``k * pi/2`` modulo ``2 pi`` (up to rounding), else None."""
    q = angle / (math.pi / 2)
    k = round(q)
    if abs(q - k) > _TOL * max(1.0, abs(q)):
        return None
    return k % 4


def is_grid_exact(gspace: Any, element: Any) -> bool:
    """Whether ``element`` maps the pixel grid onto itself (multiples of 90 degrees, flips);
    without a base space (``no_base_space``) every element is."""
    if gspace.dimensionality == 0:
        return True
    return quarter_turns(gspace.planar_action(element)[0]) is not None


def grid_exact_elements(gspace: Any, elements: Any = None) -> list:
    """The elements of ``elements`` (default: ``gspace.testing_elements``) that are grid-exact."""
    if elements is None:
        elements = gspace.testing_elements
    return [g for g in elements if is_grid_exact(gspace, g)]


def apply_fiber(field_type: Any, input: torch.Tensor, element: Any) -> torch.Tensor:
    """``rho(element)`` applied to dim 1 of ``input`` as one matmul (any number of dims)."""
    mat = field_type.fiber_matrix(element, input.device, input.dtype)
    shape = input.shape
    if field_type.uniform:
        d = mat.shape[0]
        x = input.reshape(shape[0], shape[1] // d, d, -1)
        return torch.matmul(mat, x).reshape(shape)
    x = input.reshape(shape[0], shape[1], -1)
    return torch.matmul(mat, x).reshape(shape)


def transform_grid(input: torch.Tensor, gspace: Any, element: Any) -> torch.Tensor:
    """Move the last two (spatial) dims of ``input`` by ``element``'s action on the plane.

    The reflection reverses the rows and multiples of 90 degrees use ``rot90``: exact. Other
    angles rotate around the grid centre by order-2 spline interpolation (same size; points that
    come from outside the grid are 0), matching the gspace's numpy ``featurefield_action``.
    """
    angle, flip = gspace.planar_action(element)
    out = input.flip(-2) if flip else input
    k = quarter_turns(angle)
    if k is not None:
        return torch.rot90(out, k, dims=(-2, -1)) if k else out
    return _rotate_spline(out, angle)


# Interpolation tables, keyed by (size, angle, device, dtype); bounded like the fiber cache.
_TABLES: dict = {}
_TABLES_SIZE = 64
_EDGE_TOL = 1e-9


def _cached(key: tuple, build: Any) -> Any:
    hit = _TABLES.get(key)
    if hit is None:
        if len(_TABLES) >= _TABLES_SIZE:
            _TABLES.clear()
        hit = _TABLES[key] = build()
    return hit


def _prefilter(n: int) -> np.ndarray:
    """Inverse of the quadratic B-spline sampling matrix on ``n`` points, mirror boundaries."""
    if n == 1:
        return np.ones((1, 1))
    a = np.zeros((n, n))
    for i in range(n):
        for j, w in ((i - 1, 0.125), (i, 0.75), (i + 1, 0.125)):
            a[i, _mirror(j, n)] += w
    return np.linalg.inv(a)


def _mirror(j: Any, n: int) -> Any:
    if n == 1:
        return j * 0
    period = 2 * (n - 1)
    j = np.abs(j) % period
    return np.where(j > n - 1, period - j, j)


def _quadratic_taps(pos: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (3, P) and weights (3, P) of the quadratic B-spline at positions ``pos``."""
    m = np.floor(pos + 0.5)
    t = pos - m
    weights = np.stack([0.5 * (t - 0.5) ** 2, 0.75 - t**2, 0.5 * (t + 0.5) ** 2])
    index = np.stack([_mirror((m + d).astype(np.int64), n) for d in (-1, 0, 1)])
    return index, weights


def _spline_tables(h: int, w: int, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Flat input indices (9, h*w) and weights (9, h*w) of a rotation by ``angle``."""
    c, s = math.cos(angle), math.sin(angle)
    rows, cols = np.meshgrid(
        np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij"
    )
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    x, y = cols - cx, cy - rows
    # output point p reads the input at R(-angle) p
    src_col = (c * x + s * y + cx).ravel()
    src_row = (cy - (-s * x + c * y)).ravel()
    inside = (
        (src_row >= -_EDGE_TOL)
        & (src_row <= h - 1 + _EDGE_TOL)
        & (src_col >= -_EDGE_TOL)
        & (src_col <= w - 1 + _EDGE_TOL)
    )
    ri, rw = _quadratic_taps(src_row, h)
    ci, cw = _quadratic_taps(src_col, w)
    index = (ri[:, None] * w + ci[None, :]).reshape(9, -1)
    weight = (rw[:, None] * cw[None, :] * inside).reshape(9, -1)
    return index, weight


def _rotate_spline(input: torch.Tensor, angle: float) -> torch.Tensor:
    h, w = input.shape[-2:]
    dev, dt = input.device, input.dtype
    wdt = dt if dt.is_floating_point else torch.get_default_dtype()

    def tensors() -> tuple:
        index, weight = _spline_tables(h, w, angle)
        return (
            torch.as_tensor(_prefilter(h), dtype=wdt, device=dev),
            torch.as_tensor(_prefilter(w).T, dtype=wdt, device=dev),
            torch.as_tensor(index.reshape(-1), device=dev),
            torch.as_tensor(weight, dtype=wdt, device=dev),
        )

    ph, pwt, index, weight = _cached((h, w, float(angle), dev, wdt), tensors)
    x = input.reshape(-1, h, w).to(wdt)
    coeff = torch.matmul(torch.matmul(ph, x), pwt).reshape(x.shape[0], h * w)
    taps = coeff.index_select(1, index).reshape(x.shape[0], 9, h * w)
    out = (taps * weight).sum(dim=1)
    return out.reshape(input.shape).to(dt)
