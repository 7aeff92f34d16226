"""The one equivariance check every module test calls.

    from equivariance import assert_equivariant
    errors = assert_equivariant(module)                       # grid-exact elements, tight tol
    errors = assert_equivariant(conv, elements=[g], atol=..., rtol=..., spatial=33)  # any angle

Signature::

    assert_equivariant(module, in_type=None, out_type=None, *, elements=None, spatial=None,
                       batch=2, atol=1e-5, rtol=1e-5, fibers_only=False, x=None, seed=0,
                       mask=False)
        -> list[tuple[element, float]]      # (element, max |module(g.x) - g.module(x)|)

* ``in_type`` / ``out_type`` default to ``module.in_type`` / ``module.out_type``.
* ``elements`` defaults to the grid-exact testing elements of ``in_type`` (multiples of 90
  degrees and axis flips: exact up to float round-off), or with ``fibers_only`` to all its testing
  elements. A default that leaves only the identity of a non-trivial group (C3, C5, ...) is an
  error: such a check would test nothing. Other elements resample the grid (bicubic), so pass a
  tolerance that covers the interpolation error (and use ``mask=True``).
* ``spatial``: side of the random input (int or ``(H, W)``); default: the module's own choice
  (the smallest size from 9 on where strided windows cover the grid symmetrically).
* ``fibers_only``: compare with ``transform_fibers`` (no grid motion), for maps that act per pixel.
* ``x``: a ready input tensor (``B x in_type.size x H x W``) instead of a random one.
* ``mask``: multiply the random input by a smooth disc so that rotations by non-grid angles lose
  no content at the corners.

Each comparison uses a fresh copy of the input (modules may work in place), runs under
``torch.no_grad()`` in the module's current train/eval mode, checks the output type, and raises
``AssertionError`` naming the element and the errors when ``torch.allclose`` fails.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from runtime.nn import GeometricTensor
from runtime.nn.grid import grid_exact_elements

__all__ = ["assert_equivariant"]


def _disc(h: int, w: int, dtype: torch.dtype) -> torch.Tensor:
    ys = torch.arange(h, dtype=torch.float64) - (h - 1) / 2
    xs = torch.arange(w, dtype=torch.float64) - (w - 1) / 2
    r = torch.sqrt(ys[:, None] ** 2 + xs[None, :] ** 2)
    edge = 0.5 * (min(h, w) - 1) - 1.0
    return torch.clamp(edge - r, 0.0, 1.0).to(dtype) ** 2


def assert_equivariant(
    module: Any,
    in_type: Any = None,
    out_type: Any = None,
    *,
    elements: Any = None,
    spatial: int | tuple[int, int] | None = None,
    batch: int = 2,
    atol: float = 1e-5,
    rtol: float = 1e-5,
    fibers_only: bool = False,
    x: torch.Tensor | None = None,
    seed: int = 0,
    mask: bool = False,
) -> list[tuple[Any, float]]:
    in_type = in_type if in_type is not None else module.in_type
    out_type = out_type if out_type is not None else module.out_type
    if elements is None:
        gspace = in_type.gspace
        # fibre-only maps have no grid to move: every testing element is exact for them
        elements = gspace.testing_elements if fibers_only else grid_exact_elements(gspace)
        elements = list(elements)
        group = gspace.fibergroup
        identity = group.identity
        if group.order() != 1 and all(group.equal(g, identity) for g in elements):
            raise AssertionError(
                f"assert_equivariant: only the identity of {group.name} is exact on the grid, "
                "so the default check tests nothing; pass elements= (with a tolerance for the "
                "interpolation) or fibers_only=True"
            )
    elements = list(elements)
    assert elements, "assert_equivariant: no group element to test"
    if x is None:
        if spatial is None:
            size = getattr(module, "_equivariance_size", lambda: 11)()
            spatial = (size, size)
        elif isinstance(spatial, int):
            spatial = (spatial, spatial)
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(batch, in_type.size, *spatial, generator=gen)
        if mask:
            x = x * _disc(*spatial, x.dtype)
        param = next(iter(module.parameters()), None) if hasattr(module, "parameters") else None
        if param is not None:
            x = x.to(device=param.device, dtype=param.dtype)

    def act(t: torch.Tensor, ftype: Any, g: Any) -> torch.Tensor:
        return ftype.transform_fibers(t, g) if fibers_only else ftype.transform(t, g)

    errors = []
    with torch.no_grad():
        y = module(GeometricTensor(x.clone(), in_type))
        assert y.type == out_type, f"output type {y.type!r} != expected {out_type!r}"
        y_ref = y.tensor.clone()
        for g in elements:
            y_g = module(GeometricTensor(act(x, in_type, g), in_type)).tensor
            expected = act(y_ref, out_type, g)
            assert y_g.shape == expected.shape, (
                f"element {g!r}: output shapes differ {tuple(y_g.shape)} vs {tuple(expected.shape)}"
            )
            diff = (y_g - expected).abs()
            err = diff.max().item() if diff.numel() else 0.0
            scale = expected.abs().max().item() if expected.numel() else 0.0
            if not torch.allclose(y_g, expected, atol=atol, rtol=rtol):
                raise AssertionError(
                    f"{type(module).__name__} is not equivariant to element {g!r}: max abs error "
                    f"{err:.3g}, relative to the output's max {err / max(scale, 1e-30):.3g}, "
                    f"mean {diff.mean().item():.3g} (atol={atol}, rtol={rtol})"
                )
            if not math.isfinite(err):
                raise AssertionError(f"element {g!r}: non-finite output")
            errors.append((g, err))
    return errors
