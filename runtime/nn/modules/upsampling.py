"""``R2Upsampling``: spatial interpolation of typed tensors."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from ..errors import ArgumentError
from ..field_type import FieldType
from ..geometric_tensor import GeometricTensor
from ._utils import require_choice, require_field_type
from .equivariant_module import EquivariantModule

__all__ = ["R2Upsampling"]


class R2Upsampling(EquivariantModule):
    """``torch.nn.functional.interpolate`` on typed tensors.

    ``mode`` is ``"bilinear"`` (default, equivariant) or ``"nearest"`` (not exactly
    equivariant). Give ``scale_factor`` (preferred: both axes scale alike) or ``size``.
    """

    def __init__(
        self,
        in_type: FieldType,
        scale_factor: Any = None,
        size: Any = None,
        mode: str = "bilinear",
        align_corners: bool = False,
    ) -> None:
        super().__init__()
        who = "R2Upsampling"
        self.in_type = self.out_type = require_field_type(in_type, who)
        require_choice(mode, ("bilinear", "nearest"), who, "mode")
        if (scale_factor is None) == (size is None):
            raise ArgumentError(f"{who}: give exactly one of 'scale_factor' and 'size'")
        self._scale_factor = scale_factor
        self._size = size
        self._mode = mode
        self._align_corners = bool(align_corners) if mode == "bilinear" else None

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        if x.dim() != 4:
            raise ArgumentError(
                f"R2Upsampling: 'input' must be 4-dimensional, got {tuple(x.shape)}"
            )
        y = F.interpolate(
            x,
            size=self._size,
            scale_factor=self._scale_factor,
            mode=self._mode,
            align_corners=self._align_corners,
        )
        return GeometricTensor(y, self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        b, c, h, w = self._check_shape(input_shape, min_dims=4)
        if self._size is not None:
            size = self._size
            oh, ow = (size, size) if isinstance(size, int) else tuple(size)
        else:
            sf = self._scale_factor
            sh, sw = (sf, sf) if isinstance(sf, (int, float)) else tuple(sf)
            oh, ow = math.floor(h * sh), math.floor(w * sw)
        return (b, c, oh, ow)

    def extra_repr(self) -> str:
        what = f"scale_factor={self._scale_factor}" if self._size is None else f"size={self._size}"
        return f"{self.in_type!r}, {what}, mode={self._mode!r}"

    def export(self) -> torch.nn.Upsample:
        """A ``torch.nn.Upsample`` with the same size/scale, mode and ``align_corners``."""
        self.eval()
        return torch.nn.Upsample(
            size=self._size,
            scale_factor=self._scale_factor,
            mode=self._mode,
            align_corners=self._align_corners,
        ).eval()
