"""Spatial pooling applied channel by channel (max, average, adaptive)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ..field_type import FieldType
from ..geometric_tensor import GeometricTensor
from ._utils import pair, pool_out, require_field_type, require_support, windows_symmetric
from .equivariant_module import EquivariantModule

__all__ = [
    "PointwiseMaxPool",
    "PointwiseAvgPool",
    "PointwiseAdaptiveAvgPool",
    "PointwiseAdaptiveMaxPool",
]


class _Pool2d(EquivariantModule):
    def __init__(self, in_type, kernel_size, stride, padding, dilation, ceil_mode, pointwise):
        super().__init__()
        who = type(self).__name__
        if pointwise:
            require_support(in_type, "pointwise", who)
        else:
            require_field_type(in_type, who)
        self.in_type = self.out_type = in_type
        self.kernel_size = pair(kernel_size, "kernel_size", who)
        self.stride = pair(stride if stride is not None else kernel_size, "stride", who)
        self.padding = pair(padding, "padding", who)
        self.dilation = pair(dilation, "dilation", who)
        self.ceil_mode = bool(ceil_mode)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        shape = self._check_shape(input_shape, min_dims=4)
        b, c, h, w = shape
        k, s, p, d = self.kernel_size, self.stride, self.padding, self.dilation
        return (
            b,
            c,
            pool_out(h, k[0], s[0], p[0], d[0], self.ceil_mode),
            pool_out(w, k[1], s[1], p[1], d[1], self.ceil_mode),
        )

    def _grid_symmetric(self, size: int) -> bool:
        k, s, p, d = self.kernel_size, self.stride, self.padding, self.dilation
        return all(
            windows_symmetric(size, k[i], s[i], p[i], d[i], self.ceil_mode) for i in range(2)
        )


class PointwiseMaxPool(_Pool2d):
    """Max pooling of every channel independently (``torch.nn.MaxPool2d`` on typed tensors).

    Only for fields that support pointwise non-linearities.
    """

    def __init__(
        self,
        in_type: FieldType,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__(in_type, kernel_size, stride, padding, dilation, ceil_mode, True)

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        y = F.max_pool2d(
            x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode
        )
        return GeometricTensor(y, self.out_type)

    def export(self) -> torch.nn.MaxPool2d:
        """A ``torch.nn.MaxPool2d`` with the same window, stride, padding, dilation, ceil_mode."""
        self.eval()
        return torch.nn.MaxPool2d(
            self.kernel_size, self.stride, self.padding, self.dilation, ceil_mode=self.ceil_mode
        ).eval()


class PointwiseAvgPool(_Pool2d):
    """Average pooling of every channel (``torch.nn.AvgPool2d``); linear, so any field works."""

    def __init__(
        self,
        in_type: FieldType,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__(in_type, kernel_size, stride, padding, 1, ceil_mode, False)

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        y = F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode)
        return GeometricTensor(y, self.out_type)

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"ceil_mode={self.ceil_mode}"
        )

    def export(self) -> torch.nn.AvgPool2d:
        """A ``torch.nn.AvgPool2d`` with the same window, stride, padding and ceil_mode."""
        self.eval()
        return torch.nn.AvgPool2d(
            self.kernel_size, self.stride, self.padding, ceil_mode=self.ceil_mode
        ).eval()


class _AdaptivePool(EquivariantModule):
    def __init__(self, in_type: FieldType, output_size: Any, pointwise: bool) -> None:
        super().__init__()
        who = type(self).__name__
        if pointwise:
            require_support(in_type, "pointwise", who)
        else:
            require_field_type(in_type, who)
        self.in_type = self.out_type = in_type
        self.output_size = pair(output_size, "output_size", who)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        shape = self._check_shape(input_shape, min_dims=4)
        return (shape[0], shape[1], *self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class PointwiseAdaptiveAvgPool(_AdaptivePool):
    """Adaptive average pooling of every channel (``torch.nn.AdaptiveAvgPool2d``)."""

    def __init__(self, in_type: FieldType, output_size: Any) -> None:
        super().__init__(in_type, output_size, False)

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        return GeometricTensor(F.adaptive_avg_pool2d(x, self.output_size), self.out_type)

    def export(self) -> torch.nn.AdaptiveAvgPool2d:
        """A ``torch.nn.AdaptiveAvgPool2d`` with the same output size."""
        self.eval()
        return torch.nn.AdaptiveAvgPool2d(self.output_size).eval()


class PointwiseAdaptiveMaxPool(_AdaptivePool):
    """Adaptive max pooling of every channel (``torch.nn.AdaptiveMaxPool2d``); only for fields
    that support pointwise non-linearities."""

    def __init__(self, in_type: FieldType, output_size: Any) -> None:
        super().__init__(in_type, output_size, True)

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        return GeometricTensor(F.adaptive_max_pool2d(x, self.output_size), self.out_type)

    def export(self) -> torch.nn.AdaptiveMaxPool2d:
        """A ``torch.nn.AdaptiveMaxPool2d`` with the same output size."""
        self.eval()
        return torch.nn.AdaptiveMaxPool2d(self.output_size).eval()
