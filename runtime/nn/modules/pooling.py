"""Spatial pooling applied channel by channel (max, average, adaptive)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

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


class _ChannelwisePool(EquivariantModule):
    """Pooling of every channel on its own: the output type is the input type. Max pooling
    (``pointwise=True``) needs fields that support pointwise non-linearities; average pooling is
    linear and takes any field type."""

    def __init__(self, in_type: FieldType, pointwise: bool) -> None:
        super().__init__()
        who = type(self).__name__
        if pointwise:
            require_support(in_type, "pointwise", who)
        else:
            require_field_type(in_type, who)
        self.in_type = self.out_type = in_type


class _Pool2d(_ChannelwisePool):
    """A pooling window (``kernel_size``, ``stride``, ``padding``, ``dilation``, ``ceil_mode``)."""

    def __init__(self, in_type, kernel_size, stride, padding, dilation, ceil_mode, pointwise):
        super().__init__(in_type, pointwise)
        who = type(self).__name__
        self.kernel_size = pair(kernel_size, "kernel_size", who)
        self.stride = pair(stride if stride is not None else kernel_size, "stride", who)
        self.padding = pair(padding, "padding", who)
        self.dilation = pair(dilation, "dilation", who)
        self.ceil_mode = bool(ceil_mode)

    def _max_pool(self, x: torch.Tensor, stride: Any = None, return_indices: bool = False) -> Any:
        """``F.max_pool2d`` over this module's windows (``stride`` overrides the module's)."""
        stride = self.stride if stride is None else stride
        return F.max_pool2d(
            x,
            self.kernel_size,
            stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            return_indices=return_indices,
        )

    def _torch_max_pool(self, stride: Any = None) -> torch.nn.MaxPool2d:
        """The ``torch.nn.MaxPool2d`` of :meth:`_max_pool`."""
        stride = self.stride if stride is None else stride
        return torch.nn.MaxPool2d(
            self.kernel_size, stride, self.padding, self.dilation, ceil_mode=self.ceil_mode
        )

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
        return GeometricTensor(self._max_pool(self._check_input(input)), self.out_type)

    def export(self) -> torch.nn.MaxPool2d:
        """A ``torch.nn.MaxPool2d`` with the same window, stride, padding, dilation, ceil_mode."""
        self.eval()
        return self._torch_max_pool().eval()


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


class _AdaptivePool(_ChannelwisePool):
    """Adaptive pooling to ``output_size``; a subclass names the torch function and module."""

    _pointwise: ClassVar[bool]
    _pool: ClassVar[Callable[[torch.Tensor, Any], torch.Tensor]]
    _torch_class: ClassVar[type[torch.nn.Module]]

    def __init__(self, in_type: FieldType, output_size: Any) -> None:
        super().__init__(in_type, self._pointwise)
        self.output_size = pair(output_size, "output_size", type(self).__name__)

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        return GeometricTensor(self._pool(x, self.output_size), self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        shape = self._check_shape(input_shape, min_dims=4)
        return (shape[0], shape[1], *self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"

    def export(self) -> torch.nn.Module:
        """The torch module (``torch.nn.Adaptive*Pool2d``) with the same output size."""
        self.eval()
        return self._torch_class(self.output_size).eval()


class PointwiseAdaptiveAvgPool(_AdaptivePool):
    """Adaptive average pooling of every channel (``torch.nn.AdaptiveAvgPool2d``)."""

    _pointwise = False
    _pool = staticmethod(F.adaptive_avg_pool2d)
    _torch_class = torch.nn.AdaptiveAvgPool2d


class PointwiseAdaptiveMaxPool(_AdaptivePool):
    """Adaptive max pooling of every channel (``torch.nn.AdaptiveMaxPool2d``); only for fields
    that support pointwise non-linearities."""

    _pointwise = True
    _pool = staticmethod(F.adaptive_max_pool2d)
    _torch_class = torch.nn.AdaptiveMaxPool2d
