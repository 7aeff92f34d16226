"""``_RdConvBase``: the shared base of the steerable layers R2Conv, R2ConvTransposed and R2Diffop.

Like ``torch.nn.modules.conv._ConvNd`` it owns the arguments the three layers have in common: it
validates and stores them, allocates the parameters and calls :meth:`reset_parameters`. The layers
keep their documented signatures (defaults are spelled only there) and pass everything on; each
says only how to build the basis spec of a pair of representations (``_basis_spec``) and how to
convolve. ``_PlainConvBase`` is that second half for R2Conv and R2Diffop (``conv2d``, output shape,
``Conv2d`` export); R2ConvTransposed has its own (``conv_transpose2d``).

State of a layer:

* ``weights`` (and ``bias``, one entry per trivial irrep of the output type): the only tensors in
  ``state_dict``, with the same keys in train and eval mode;
* the sampled bases, in the basis expansion submodule, as non-persistent buffers;
* in eval mode, the expanded filter (contiguous) and bias (``filter``, ``expanded_bias``),
  cached by :class:`~runtime.nn.modules._expansion_cache.ExpansionCache` (shared with
  ``Linear`` and ``TensorProductModule``): checked against the current parameters before every
  use, so in-place weight changes never leave it stale, and used whenever no gradient has to
  reach the parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as tF
from torch.nn import Parameter

from ...errors import ArgumentError
from ...geometric_tensor import GeometricTensor
from .._expansion_cache import ExpansionCache
from .._utils import pair, require_field_type
from ..equivariant_module import EquivariantModule
from . import functional as F
from .basis_expansion import BasisExpansion, BlocksBasisExpansion

__all__ = ["_PlainConvBase", "_RdConvBase"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _positive_int(value: Any, argname: str, who: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ArgumentError(f"{who}: '{argname}' must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_groups(field_type: Any, groups: int, argname: str, who: str) -> Any:
    """The type of one group of a grouped convolution (all groups must be equal)."""
    n = len(field_type)
    if n % groups:
        raise ArgumentError(f"{who}: {n} fields of '{argname}' can not be split in {groups} groups")
    size = n // groups
    reps = field_type.representations
    if any(reps[i] != reps[i % size] for i in range(size, n)):
        raise ArgumentError(
            f"{who}: the {groups} groups of '{argname}' must hold the same representations "
            "in the same order"
        )
    return field_type.index_select(list(range(size))) if groups > 1 else field_type


class _RdConvBase(ExpansionCache, EquivariantModule):
    """Shared machinery of steerable convolutions; see :class:`~runtime.nn.R2Conv` for the
    arguments, which subclasses pass by keyword (``spec_kwargs`` go to ``_basis_spec``).
    Subclasses set ``_transposed`` and implement ``_conv_forward``, ``evaluate_output_shape``,
    ``_grid_symmetric`` and ``export``; R2Diffop overrides ``_basis_spec`` and ``_empty_hint``.
    """

    _transposed = False
    #: What to suggest when a layer's basis is empty.
    _empty_hint = (
        "allow more frequencies (frequencies_cutoff), rings, a larger kernel or a looser "
        "basis_filter"
    )

    def __init__(
        self,
        in_type: Any,
        out_type: Any,
        kernel_size: int,
        *,
        padding: int | tuple[int, int],
        stride: int,
        dilation: int,
        padding_mode: str,
        groups: int,
        bias: bool,
        basisexpansion: str,
        recompute: bool,
        basis_filter: Callable[[dict], bool] | None,
        initialize: bool,
        output_padding: int | tuple[int, int] = 0,
        **spec_kwargs: Any,
    ):
        super().__init__()
        who = type(self).__name__
        require_field_type(in_type, who, "in_type")
        require_field_type(out_type, who, "out_type")
        if in_type.gspace != out_type.gspace:
            raise ArgumentError(
                f"{who}: in_type and out_type live on different gspaces "
                f"({in_type.gspace.name!r} and {out_type.gspace.name!r})"
            )
        if padding_mode not in _PADDING_MODES:
            raise ArgumentError(
                f"{who}: 'padding_mode' must be one of {_PADDING_MODES}, got {padding_mode!r}"
            )
        if basisexpansion != "blocks":
            raise ArgumentError(
                f"{who}: unknown 'basisexpansion' {basisexpansion!r} (only 'blocks')"
            )
        self.space = in_type.gspace
        self.in_type = in_type
        self.out_type = out_type
        self.kernel_size = _positive_int(kernel_size, "kernel_size", who)
        self.stride = _positive_int(stride, "stride", who)
        self.dilation = _positive_int(dilation, "dilation", who)
        self.groups = _positive_int(groups, "groups", who)
        self.padding = padding if isinstance(padding, int) else pair(padding, "padding", who)
        pad_h, pad_w = pair(padding, "padding", who)
        if min(pad_h, pad_w) < 0:
            raise ArgumentError(f"{who}: 'padding' must be non-negative, got {padding!r}")
        self._padding_pair = (pad_h, pad_w)
        self.padding_mode = padding_mode
        if self._transposed:
            out_pad = pair(output_padding, "output_padding", who)
            if not all(0 <= p < max(self.stride, self.dilation) for p in out_pad):
                raise ArgumentError(
                    f"{who}: 'output_padding' must be smaller than stride or dilation, got "
                    f"{output_padding!r}"
                )
            self.output_padding = output_padding if isinstance(output_padding, int) else out_pad
        self._spec_kwargs = spec_kwargs
        group_in = _check_groups(in_type, self.groups, "in_type", who)
        group_out = _check_groups(out_type, self.groups, "out_type", who)
        # The filter maps one input group to all outputs (conv) or all inputs to one output
        # group (transposed): torch's grouped convolutions split it per group.
        expansion_in, expansion_out = (
            (in_type, group_out) if self._transposed else (group_in, out_type)
        )
        self._basisexpansion = BlocksBasisExpansion(
            expansion_in,
            expansion_out,
            self._basis_spec,
            basis_filter=basis_filter,
            recompute=recompute,
        )
        if self._basisexpansion.dimension() == 0 and not self._basisexpansion.dry_run:
            raise ArgumentError(
                f"{who}: the equivariant basis from {in_type} to {out_type} is empty "
                f"with kernel_size={kernel_size}, dilation={dilation} and the sampling options "
                f"{ {k: v for k, v in spec_kwargs.items() if v is not None} }; "
                f"{self._empty_hint}"
            )
        self.weights = Parameter(torch.zeros(self._basisexpansion.dimension()))
        self._init_bias(bias)
        if initialize and not self._basisexpansion.dry_run:
            self.reset_parameters()

    # ---------------------------------------------------------------------------- construction

    def _basis_spec(self, in_repr: Any, out_repr: Any) -> Any:
        """The ``BasisSpec`` of the kernels from ``in_repr`` to ``out_repr``."""
        from e2compile.kernels.kind import kernel_spec

        options = dict(self._spec_kwargs)
        if options.get("rings") is not None:
            # users give radii in pixels of the dilated grid (as the reference does); specs
            # hold them in grid units
            options["rings"] = [float(r) / self.dilation for r in options["rings"]]
        return kernel_spec(
            self.space, in_repr, out_repr, self.kernel_size, dilation=self.dilation, **options
        )

    def _init_bias(self, bias: bool) -> None:
        """One bias per trivial irrep of ``out_type``, mapped to channels by a sparse matrix."""
        empty = np.zeros(0, dtype=np.int64)
        rows = cols = empty
        values = np.zeros(0)
        n_bias = 0
        if bias and not self._basisexpansion.dry_run:
            bases = self._basisexpansion.bias_bases()
            out = self.out_type
            n_trivial = np.asarray([bases[r].shape[1] for r in out.representations])
            bias_start = np.concatenate([[0], np.cumsum(n_trivial)[:-1]])
            parts_r, parts_c, parts_v = [], [], []
            fields_of: dict[Any, list[int]] = {}
            for field, representation in enumerate(out.representations):
                fields_of.setdefault(representation, []).append(field)
            for representation, fields in fields_of.items():
                r, c = np.nonzero(bases[representation])
                fields = np.asarray(fields)
                parts_r.append((out.fields_start[fields][:, None] + r).ravel())
                parts_c.append((bias_start[fields][:, None] + c).ravel())
                parts_v.append(np.tile(bases[representation][r, c], fields.size))
            n_bias = int(n_trivial.sum())
            rows = np.concatenate(parts_r).astype(np.int64)
            cols = np.concatenate(parts_c).astype(np.int64)
            values = np.concatenate(parts_v)
        if n_bias:
            self.bias = Parameter(torch.zeros(n_bias))
        else:
            self.register_parameter("bias", None)
        self.register_derived_buffer("_bias_rows", rows)
        self.register_derived_buffer("_bias_cols", cols)
        self.register_derived_buffer("_bias_values", values)

    def reset_parameters(self) -> None:
        """Generalized He initialisation of ``weights`` (see :mod:`runtime.nn.init`); zero bias."""
        from ... import init

        init.generalized_he_init(self.weights.data, self._basisexpansion)
        if self.bias is not None:
            with torch.no_grad():
                self.bias.zero_()
        self._cache = None

    @property
    def basisexpansion(self) -> BasisExpansion:
        """The submodule that expands ``weights`` into a ``(C_out, C_in, k*k)`` filter."""
        return self._basisexpansion

    # ------------------------------------------------------------------------------ expansion

    def expand_parameters(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The filter (in the layout of ``torch.nn.functional.conv2d``/``conv_transpose2d``) and
        the expanded bias (``None`` without bias), built from the current parameters."""
        k = self.kernel_size
        filt = self._basisexpansion(self.weights)
        filt = filt.reshape(filt.shape[0], filt.shape[1], k, k)
        if self._transposed:
            filt = filt.transpose(0, 1)
        bias = None
        if self.bias is not None:
            bias = F.expand_bias(
                self.bias, self._bias_rows, self._bias_cols, self._bias_values, self.out_type.size
            )
        return filt, bias

    def _can_expand(self) -> bool:
        return not self._basisexpansion.dry_run

    def _for_cache(
        self, expanded: tuple[torch.Tensor, torch.Tensor | None]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        filt, bias = expanded
        return filt.contiguous(), bias

    @property
    def filter(self) -> torch.Tensor | None:
        """The expanded filter cached in eval mode (``None`` in train mode)."""
        return None if self.training else self._cached()[0]

    @property
    def expanded_bias(self) -> torch.Tensor | None:
        """The expanded bias cached in eval mode (``None`` in train mode or without bias)."""
        return None if self.training else self._cached()[1]

    # -------------------------------------------------------------------------------- forward

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        """Convolve ``input`` (of type ``in_type``) with the expanded filter and bias."""
        x = self._check_input(input)
        filt, bias = self._expanded()
        return GeometricTensor(self._conv_forward(x, filt, bias), self.out_type)

    def _export(self, cls: type[torch.nn.Module], **options: Any) -> torch.nn.Module:
        """Switch to eval mode and return a ``cls`` (torch convolution) holding the cached
        filter and bias; ``options`` are the variant's extra constructor arguments."""
        self.eval()
        filt, bias = self._cached()
        conv = cls(
            self.in_type.size,
            self.out_type.size,
            self.kernel_size,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            groups=self.groups,
            bias=bias is not None,
            device=filt.device,
            dtype=filt.dtype,
            **options,
        )
        with torch.no_grad():
            conv.weight.copy_(filt)
            if bias is not None:
                conv.bias.copy_(bias)
        return conv.eval()

    def _conv_forward(
        self, x: torch.Tensor, filt: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        """Convolve the plain tensor ``x`` with the expanded ``filt`` and ``bias``."""
        raise NotImplementedError

    # ------------------------------------------------------------------------------- printing

    def extra_repr(self) -> str:
        s = f"{self.in_type!r}, {self.out_type!r}, kernel_size={self.kernel_size}"
        s += f", stride={self.stride}"
        if self._padding_pair != (0, 0):
            s += f", padding={self.padding}"
        if getattr(self, "output_padding", 0) not in (0, (0, 0)):
            s += f", output_padding={self.output_padding}"
        if self.dilation != 1:
            s += f", dilation={self.dilation}"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode!r}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s

    def __repr__(self) -> str:
        # one line, like the documented reprs: the basis expansion submodule is not listed
        return f"{type(self).__name__}({self.extra_repr()})"


class _PlainConvBase(_RdConvBase):
    """The (not transposed) convolution of R2Conv and R2Diffop, which differ only in their basis:
    ``conv2d`` after explicit padding for the non-zero padding modes, and ``torch.nn.Conv2d``
    for export."""

    def _conv_forward(
        self, x: torch.Tensor, filt: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        padding = self._padding_pair
        if self.padding_mode != "zeros":
            pad_h, pad_w = padding
            x = tF.pad(x, (pad_w, pad_w, pad_h, pad_h), mode=self.padding_mode)
            padding = (0, 0)
        return tF.conv2d(x, filt, bias, self.stride, padding, self.dilation, self.groups)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        shape = self._check_shape(input_shape, min_dims=4)
        span = self.dilation * (self.kernel_size - 1)
        spatial = tuple(
            (size + 2 * p - span - 1) // self.stride + 1
            for size, p in zip(shape[2:], self._padding_pair)
        )
        return (shape[0], self.out_type.size, *spatial)

    def _grid_symmetric(self, size: int) -> bool:
        span = self.dilation * (self.kernel_size - 1)
        return all((size + 2 * p - span - 1) % self.stride == 0 for p in self._padding_pair)

    def export(self) -> torch.nn.Conv2d:
        """An equivalent ``torch.nn.Conv2d`` (same padding mode) holding the expanded filter."""
        return self._export(torch.nn.Conv2d, padding_mode=self.padding_mode)
