"""Anti-aliased pooling: a Gaussian blur before subsampling (Zhang, "Making Convolutional
Networks Shift-Invariant Again", ICML 2019), and norm-based max pooling."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ArgumentError
from ..field_type import FieldType
from ..geometric_tensor import GeometricTensor
from ._utils import (
    field_reduce_sum,
    long_tensor,
    pair,
    require_support,
    windows_symmetric,
)
from .equivariant_module import EquivariantModule
from .pooling import _ChannelwisePool, _Pool2d

__all__ = ["PointwiseMaxPoolAntialiased", "PointwiseAvgPoolAntialiased", "NormMaxPool"]


def gaussian_filter(sigma: float, extent: float, channels: int = 1) -> np.ndarray:
    """A normalised Gaussian of std ``sigma`` (pixels) reaching ``extent`` standard deviations:
    ``s = 2 round(extent sigma) + 1`` pixels a side (Python's ``round``), symmetric under
    90-degree rotations and flips of the grid. Float64, shape ``(channels, 1, s, s)``: one copy
    per channel, the weight of a depthwise convolution."""
    size = 2 * int(round(extent * sigma)) + 1
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma**2))
    return np.repeat((g / g.sum())[None, None], channels, axis=0)


def _blur_conv(filt: torch.Tensor, stride: Any, padding: Any) -> torch.nn.Conv2d:
    channels, size = filt.shape[0], filt.shape[-1]
    conv = torch.nn.Conv2d(
        channels, channels, size, stride=stride, padding=padding, groups=channels, bias=False
    )
    conv = conv.to(device=filt.device, dtype=filt.dtype)
    with torch.no_grad():
        conv.weight.copy_(filt)
    conv.weight.requires_grad_(False)
    return conv


def _add_blur(module: EquivariantModule, sigma: float, extent: float) -> int:
    """Check ``sigma``, keep it as ``module.sigma`` and its :func:`gaussian_filter` (one copy per
    input channel) as the non-persistent buffer ``module.filter``; return the filter's size."""
    sigma = float(sigma)
    if not sigma > 0:
        raise ArgumentError(f"{type(module).__name__}: 'sigma' must be positive, got {sigma}")
    module.sigma = sigma
    filt = gaussian_filter(sigma, extent, module.in_type.size)
    module.register_derived_buffer("filter", filt)  # float64 source: exact after .double()
    return filt.shape[-1]


def _blur(x: torch.Tensor, filt: torch.Tensor, stride: Any, padding: Any) -> torch.Tensor:
    """Convolve every channel of ``x`` with its copy of the blur (depthwise): the forward of
    :func:`_blur_conv`."""
    return F.conv2d(x, filt.to(x.dtype), stride=stride, padding=padding, groups=x.shape[1])


class PointwiseMaxPoolAntialiased(_Pool2d):
    """Channel-wise max pooling with stride 1, then a Gaussian blur (std ``sigma``, ``2 round(4
    sigma) + 1`` pixels a side) applied with the pooling ``stride``. As in the reference library
    the blur pads by ``padding`` plus half its size, so ``padding`` counts twice in the output
    size. Only for fields that support pointwise non-linearities."""

    def __init__(
        self,
        in_type: FieldType,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        ceil_mode: bool = False,
        sigma: float = 0.6,
    ) -> None:
        super().__init__(in_type, kernel_size, stride, padding, dilation, ceil_mode, True)
        half = (_add_blur(self, sigma, 4.0) - 1) // 2
        self._blur_pad = tuple(p + half for p in self.padding)

    def _pooled(self, size: int, axis: int) -> int:
        """The length that the blur's windows, padded by half their size, slide over: the
        max-pooled length (stride 1) plus the extra padding."""
        k, p, d = self.kernel_size[axis], self.padding[axis], self.dilation[axis]
        return size + 4 * p - d * (k - 1)

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        y = self._max_pool(self._check_input(input), stride=1)
        y = _blur(y, self.filter, self.stride, self._blur_pad)
        return GeometricTensor(y, self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        b, c, h, w = self._check_shape(input_shape, min_dims=4)
        return (
            b,
            c,
            *((self._pooled(n, i) - 1) // self.stride[i] + 1 for i, n in enumerate((h, w))),
        )

    def _grid_symmetric(self, size: int) -> bool:
        return all((self._pooled(size, i) - 1) % self.stride[i] == 0 for i in range(2))

    def export(self) -> torch.nn.Sequential:
        """``MaxPool2d`` (stride 1) followed by a frozen depthwise ``Conv2d`` with the blur."""
        self.eval()
        blur = _blur_conv(self.filter, self.stride, self._blur_pad)
        return torch.nn.Sequential(self._torch_max_pool(stride=1), blur).eval()


class PointwiseAvgPoolAntialiased(_ChannelwisePool):
    """A Gaussian blur of every channel (std ``sigma``, ``2 round(3 sigma) + 1`` pixels a side,
    ``kernel_size``) applied with ``stride`` (``None``: the filter size); ``padding`` defaults to
    half the filter size, which keeps the size when ``stride=1``. Linear: any field type works."""

    def __init__(self, in_type: FieldType, sigma: float, stride: Any, padding: Any = None) -> None:
        super().__init__(in_type, pointwise=False)
        who = type(self).__name__
        size = _add_blur(self, sigma, 3.0)
        self.kernel_size = (size, size)
        self.stride = pair(size if stride is None else stride, "stride", who)
        self.padding = pair((size - 1) // 2 if padding is None else padding, "padding", who)

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        y = _blur(self._check_input(input), self.filter, self.stride, self.padding)
        return GeometricTensor(y, self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        b, c, h, w = self._check_shape(input_shape, min_dims=4)
        s = self.filter.shape[-1]
        return (
            b,
            c,
            *((n + 2 * self.padding[i] - s) // self.stride[i] + 1 for i, n in enumerate((h, w))),
        )

    def _grid_symmetric(self, size: int) -> bool:
        s = self.filter.shape[-1]
        return all(
            windows_symmetric(size, s, self.stride[i], self.padding[i], 1, False) for i in range(2)
        )

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}, stride={self.stride}, padding={self.padding}"

    def export(self) -> torch.nn.Conv2d:
        """A frozen depthwise ``torch.nn.Conv2d`` holding the blur filter."""
        self.eval()
        return _blur_conv(self.filter, self.stride, self.padding).eval()


class NormMaxPool(_Pool2d):
    """Max pooling by norm: in each window, every field keeps the vector with the largest norm.

    Needs fields whose representation supports ``'norm'`` non-linearities.
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
        require_support(in_type, "norm", "NormMaxPool")
        super().__init__(in_type, kernel_size, stride, padding, dilation, ceil_mode, False)
        self.register_buffer("_fields", long_tensor(in_type.channel_fields()), persistent=False)

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        b, c, h, w = x.shape
        norms = field_reduce_sum(x.detach() ** 2, self._fields, len(self.in_type))
        _, idx = self._max_pool(norms, return_indices=True)
        ho, wo = idx.shape[-2:]
        idx = idx.index_select(1, self._fields).reshape(b, c, ho * wo)
        y = x.reshape(b, c, h * w).gather(2, idx).reshape(b, c, ho, wo)
        return GeometricTensor(y, self.out_type)
