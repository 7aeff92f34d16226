"""Batch normalisation: ``InnerBatchNorm`` (permutation fields) and ``NormBatchNorm`` (norms)."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import ArgumentError
from ..field_type import FieldType
from ..geometric_tensor import GeometricTensor
from ._utils import (
    field_reduce_sum,
    long_tensor,
    require_field_type,
    require_support,
    size_groups,
    spatial_view,
    update_running_var,
)
from .equivariant_module import EquivariantModule

__all__ = ["InnerBatchNorm", "NormBatchNorm"]


class _ResettableNorm:
    """``reset_running_stats`` and ``reset_parameters`` as torch's batch norms have them, for the
    modules that keep ``running_mean``/``running_var``/``num_batches_tracked`` and the affine
    ``weight``/``bias`` themselves."""

    def reset_running_stats(self) -> None:
        """Running means to 0, running variances to 1, ``num_batches_tracked`` to 0."""
        with torch.no_grad():
            for name, value in (
                ("running_mean", 0),
                ("running_var", 1),
                ("num_batches_tracked", 0),
            ):
                buffer = getattr(self, name, None)
                if buffer is not None:
                    buffer.fill_(value)

    def reset_parameters(self) -> None:
        """:meth:`reset_running_stats`, then the affine weight to 1 and bias to 0."""
        self.reset_running_stats()
        with torch.no_grad():
            for name, value in (("weight", 1), ("bias", 0)):
                parameter = getattr(self, name, None)
                if parameter is not None:
                    parameter.fill_(value)


class InnerBatchNorm(EquivariantModule):
    """Batch norm whose statistics are shared by the channels of a field.

    Mean and variance are taken over the batch, the grid and the channels of each field, so
    fields whose representation permutes channels (``'pointwise'`` support) stay equivariant.
    Fields of the same size share one ``BatchNorm3d`` submodule named ``batch_norm_[size]``.
    """

    def __init__(
        self,
        in_type: FieldType,
        eps: float = 1e-05,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
    ) -> None:
        super().__init__()
        require_support(in_type, "pointwise", "InnerBatchNorm")
        self.in_type = self.out_type = in_type
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        self._groups = []
        for size, fields, span in size_groups(in_type):
            name = f"batch_norm_[{size}]"
            bn = torch.nn.BatchNorm3d(len(fields), eps, momentum, affine, track_running_stats)
            self.add_module(name, bn)
            index_name = None
            if span is None:
                index_name = f"_index_{size}"
                channels = in_type.fields_channels(fields)
                self.register_buffer(index_name, long_tensor(channels), persistent=False)
            self._groups.append((name, size, span, index_name))
        self._whole = len(self._groups) == 1 and self._groups[0][2] is not None

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        b = x.shape[0]
        if self._whole:
            name, size = self._groups[0][:2]
            y = getattr(self, name)(x.reshape(b, -1, size, math.prod(x.shape[2:]), 1))
            return GeometricTensor(y.reshape(x.shape), self.out_type)
        out = torch.empty_like(x)
        for name, size, span, index_name in self._groups:
            if span is not None:
                part = x[:, span[0] : span[1]]
            else:
                part = x.index_select(1, getattr(self, index_name))
            y = getattr(self, name)(part.reshape(b, -1, size, math.prod(x.shape[2:]), 1))
            y = y.reshape(part.shape)
            if span is not None:
                out[:, span[0] : span[1]] = y
            else:
                out.index_copy_(1, getattr(self, index_name), y)
        return GeometricTensor(out, self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        return self._check_shape(input_shape)

    def _norms(self) -> list[torch.nn.BatchNorm3d]:
        return [getattr(self, name) for name, *_ in self._groups]

    def reset_running_stats(self) -> None:
        """Reset the running statistics of every field size (as ``torch.nn.BatchNorm3d``)."""
        for bn in self._norms():
            bn.reset_running_stats()

    def reset_parameters(self) -> None:
        """Reset the running statistics and the affine parameters (weight 1, bias 0)."""
        for bn in self._norms():
            bn.reset_parameters()

    def __repr__(self) -> str:
        # one line, like the reference: the per-size BatchNorm3d children are an implementation
        # detail (they still show in named_modules() and state_dict()).
        return f"{self._get_name()}({self.extra_repr()})"

    def extra_repr(self) -> str:
        return (
            f"{self.in_type!r}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )

    def _per_channel(self, attr: str) -> torch.Tensor:
        first = getattr(self, self._groups[0][0])
        ref = getattr(first, attr)
        out = ref.new_empty(self.in_type.size)
        for name, size, span, index_name in self._groups:
            values = getattr(getattr(self, name), attr).detach().repeat_interleave(size)
            if span is not None:
                out[span[0] : span[1]] = values
            else:
                out[getattr(self, index_name)] = values
        return out

    def export(self) -> torch.nn.BatchNorm2d:
        """A ``torch.nn.BatchNorm2d`` over all channels with the field statistics repeated."""
        self.eval()
        if not self.track_running_stats:
            raise NotImplementedError(
                "InnerBatchNorm.export: with track_running_stats=False the statistics are shared "
                "within fields at evaluation time, which BatchNorm2d cannot express"
            )
        bn = torch.nn.BatchNorm2d(
            self.in_type.size, self.eps, self.momentum, self.affine, self.track_running_stats
        )
        first = getattr(self, self._groups[0][0])
        device = first.running_mean.device
        bn = bn.to(device=device, dtype=first.running_mean.dtype)
        with torch.no_grad():
            bn.running_mean.copy_(self._per_channel("running_mean"))
            bn.running_var.copy_(self._per_channel("running_var"))
            bn.num_batches_tracked.copy_(first.num_batches_tracked)
            if self.affine:
                bn.weight.copy_(self._per_channel("weight"))
                bn.bias.copy_(self._per_channel("bias"))
        return bn.eval()


class NormBatchNorm(_ResettableNorm, EquivariantModule):
    """Batch norm of the fields' norms for isometric representations without trivial irreps.

    The mean of such fields is zero by symmetry, so only a per-field variance
    ``E[|v|^2] / size`` is tracked and each field is divided by its standard deviation (then
    scaled by a learnable weight when ``affine``).
    """

    def __init__(
        self,
        in_type: FieldType,
        eps: float = 1e-05,
        momentum: float = 0.1,
        affine: bool = True,
    ) -> None:
        super().__init__()
        require_field_type(in_type, "NormBatchNorm")
        require_support(in_type, "norm", "NormBatchNorm")
        for i, r in enumerate(in_type.representations):
            if r.contains_trivial():
                raise ArgumentError(
                    f"NormBatchNorm: field {i} of 'in_type' ({r.name!r}) contains a trivial "
                    "irrep; its mean is not zero by symmetry"
                )
        self.in_type = self.out_type = in_type
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        n = len(in_type)
        self.register_buffer("running_var", torch.ones(n))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        if affine:
            self.weight = torch.nn.Parameter(torch.ones(n))
        else:
            self.register_parameter("weight", None)
        self.register_buffer("_fields", long_tensor(in_type.channel_fields()), persistent=False)
        self.register_derived_buffer("_sizes", np.asarray(in_type.field_sizes, dtype=np.float64))

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        n = len(self.in_type)
        if self.training:
            sq = field_reduce_sum(x * x, self._fields, n)
            dims = [0, *range(2, x.dim())]
            count = sq.numel() // n
            var = sq.mean(dim=dims) / self._sizes.to(sq.dtype)
            with torch.no_grad():
                update_running_var(self, var, count)
        else:
            var = self.running_var
        scale = torch.rsqrt(var + self.eps)
        if self.weight is not None:
            scale = scale * self.weight
        return GeometricTensor(x * spatial_view(scale[self._fields], x.dim()), self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        return self._check_shape(input_shape)

    def extra_repr(self) -> str:
        return f"{self.in_type!r}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"

    def export(self) -> torch.nn.BatchNorm2d:
        """An equivalent (in eval mode) ``torch.nn.BatchNorm2d``: zero mean and bias, the field
        variance and weight repeated over each field's channels."""
        self.eval()
        c = self.in_type.size
        bn = torch.nn.BatchNorm2d(c, self.eps, self.momentum, self.affine)
        bn = bn.to(device=self.running_var.device, dtype=self.running_var.dtype)
        with torch.no_grad():
            bn.running_mean.zero_()
            bn.running_var.copy_(self.running_var[self._fields])
            bn.num_batches_tracked.copy_(self.num_batches_tracked)
            if self.affine:
                bn.weight.copy_(self.weight[self._fields])
                bn.bias.zero_()
        return bn.eval()
