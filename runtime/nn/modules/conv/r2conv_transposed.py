"""``R2ConvTransposed``: the transposed G-steerable planar convolution."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as tF

from .base import _RdConvBase

__all__ = ["R2ConvTransposed"]


class R2ConvTransposed(_RdConvBase):
    """Transposed G-steerable convolution (e.g. for learned upsampling).

    The kernel basis is the one :class:`~runtime.nn.R2Conv` uses for the same arguments (same
    spec, same artifact): a steerable kernel from ``in_type`` to ``out_type`` stays equivariant
    when applied with ``conv_transpose2d``. With ``stride > 1`` the zero-insertion of a transposed
    convolution can produce checkerboard artefacts; upsampling followed by ``R2Conv`` avoids them.

    Arguments are those of :class:`~runtime.nn.R2Conv` plus ``output_padding`` (extra rows and
    columns added on one side of the output, smaller than ``stride`` or ``dilation``); only zero
    padding exists for transposed convolutions.
    """

    _transposed = True

    def __init__(
        self,
        in_type: Any,
        out_type: Any,
        kernel_size: int,
        padding: int | tuple[int, int] = 0,
        output_padding: int | tuple[int, int] = 0,
        stride: int = 1,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = True,
        basisexpansion: str = "blocks",
        sigma: float | list[float] | None = None,
        frequencies_cutoff: float | Callable[[float], float] | None = None,
        rings: list[float] | None = None,
        maximum_offset: int | None = None,
        recompute: bool = False,
        basis_filter: Callable[[dict], bool] | None = None,
        initialize: bool = True,
    ):
        super().__init__(
            in_type,
            out_type,
            kernel_size,
            padding=padding,
            stride=stride,
            dilation=dilation,
            padding_mode="zeros",  # the only mode of a transposed convolution
            groups=groups,
            bias=bias,
            basisexpansion=basisexpansion,
            recompute=recompute,
            basis_filter=basis_filter,
            initialize=initialize,
            output_padding=output_padding,
            sigma=sigma,
            frequencies_cutoff=frequencies_cutoff,
            rings=rings,
            maximum_offset=maximum_offset,
        )

    def _conv_forward(
        self, x: torch.Tensor, filt: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        return tF.conv_transpose2d(
            x,
            filt,
            bias,
            self.stride,
            self._padding_pair,
            self.output_padding,
            self.groups,
            self.dilation,
        )

    def _output_padding_pair(self) -> tuple[int, int]:
        op = self.output_padding
        return (op, op) if isinstance(op, int) else tuple(op)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        shape = self._check_shape(input_shape, min_dims=4)
        span = self.dilation * (self.kernel_size - 1)
        spatial = tuple(
            (size - 1) * self.stride - 2 * p + span + op + 1
            for size, p, op in zip(shape[2:], self._padding_pair, self._output_padding_pair())
        )
        return (shape[0], self.out_type.size, *spatial)

    def _grid_symmetric(self, size: int) -> bool:
        # output_padding adds rows/columns on one side only: no exact 90-degree symmetry
        return self._output_padding_pair() == (0, 0)

    def export(self) -> torch.nn.ConvTranspose2d:
        """An equivalent ``torch.nn.ConvTranspose2d`` (same ``output_padding``)."""
        return self._export(torch.nn.ConvTranspose2d, output_padding=self.output_padding)
