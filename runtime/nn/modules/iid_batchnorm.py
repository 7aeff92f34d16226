"""``IIDBatchNorm1d`` / ``IIDBatchNorm2d``: escnn's batch norm for fields of any representation.

Fields are grouped by representation name; each group keeps, per field, a running mean of its
invariant part and one running variance shared by its channels (escnn's buffer and parameter
names: ``{name}_running_mean``, ``{name}_running_var``, ``{name}_weight``, ``{name}_bias``, with
``.`` in names written ``^``). For a batch ``x`` of fields of representation ``r``:

* mean: the batch mean of each field (over the batch and spatial axes) projected on the trivial
  irreps of ``r`` (``P = Q S Q^-1``, ``S`` selecting them); only for ``r`` containing the trivial
  irrep;
* variance: the unbiased batch variance of each channel (torch's ``var``, around the channel's own
  batch mean), averaged over the channels of the field: ``tr(Cov)/d``, invariant;
* output: ``(x - mean) * weight / sqrt(var + eps) + Q_trivial @ bias``.

Training uses the batch statistics and updates the running ones (``momentum``, or the cumulative
average when it is ``None``); eval uses the running ones; ``track_running_stats=False`` uses the
batch statistics in both modes.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import Parameter

from ..errors import ArgumentError, FieldTypeMismatchError
from ..field_type import FieldType
from ..geometric_tensor import GeometricTensor
from ._utils import long_tensor, require_field_type
from .equivariant_module import EquivariantModule

__all__ = ["IIDBatchNorm1d", "IIDBatchNorm2d"]


class _IIDBatchNorm(EquivariantModule):
    """What the 1d and 2d variants share; they differ in the input shapes and the export."""

    _who = "IIDBatchNorm"
    _export_class: type[torch.nn.Module] = torch.nn.BatchNorm1d

    def __init__(
        self,
        in_type: FieldType,
        eps: float = 1e-05,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
    ) -> None:
        super().__init__()
        require_field_type(in_type, self._who)
        if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not eps > 0:
            raise ArgumentError(f"{self._who}: 'eps' must be a positive number, got {eps!r}")
        if momentum is not None and (
            not isinstance(momentum, (int, float)) or isinstance(momentum, bool)
        ):
            raise ArgumentError(
                f"{self._who}: 'momentum' must be a number or None, got {momentum!r}"
            )
        self.space = in_type.gspace
        self.in_type = self.out_type = in_type
        self.eps, self.momentum = eps, momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        group = in_type.fibergroup
        self._groups: list[tuple[str, int, int, tuple[int, int] | None, bool]] = []
        fields_of: dict[str, list[int]] = {}
        reprs = in_type.representations
        for i, r in enumerate(reprs):
            fields_of.setdefault(r.name, []).append(i)
        for name, fields in fields_of.items():
            r = reprs[fields[0]]
            key = name.replace(".", "^")
            n, d = len(fields), r.size
            span = None
            if np.all(np.diff(fields) == 1):
                span = (int(in_type.fields_start[fields[0]]), int(in_type.fields_end[fields[-1]]))
            else:
                channels = in_type.fields_channels(fields)
                self.register_buffer(f"{key}_indices", long_tensor(channels), persistent=False)
            trivial, position = [], 0
            for irrep_name in r.irreps:
                irrep = group.irreps[irrep_name]
                if irrep.is_trivial():
                    trivial.append(position)
                position += irrep.size
            has_trivial = bool(trivial)
            if has_trivial:
                select = np.zeros((d, d))
                select[trivial, trivial] = 1.0
                avg = r.change_of_basis @ select @ r.change_of_basis_inv
                self.register_derived_buffer(f"{key}_avg", avg)
                self.register_derived_buffer(
                    f"{key}_change_of_basis", np.ascontiguousarray(r.change_of_basis[:, trivial])
                )
                self.register_buffer(f"{key}_running_mean", torch.zeros(n, d))
            self.register_buffer(f"{key}_running_var", torch.ones(n, 1))
            if self.affine:
                self.register_parameter(f"{key}_weight", Parameter(torch.ones(n, 1)))
                if has_trivial:
                    self.register_parameter(f"{key}_bias", Parameter(torch.zeros(n, len(trivial))))
            self._groups.append((key, n, d, span, has_trivial))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    # ------------------------------------------------------------------ resetting
    def reset_running_stats(self) -> None:
        """Running means to 0, running variances to 1, ``num_batches_tracked`` to 0."""
        with torch.no_grad():
            for key, _, _, _, has_trivial in self._groups:
                getattr(self, f"{key}_running_var").fill_(1)
                if has_trivial:
                    getattr(self, f"{key}_running_mean").zero_()
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """:meth:`reset_running_stats`, then weights to 1 and biases to 0."""
        self.reset_running_stats()
        if self.affine:
            with torch.no_grad():
                for key, _, _, _, has_trivial in self._groups:
                    getattr(self, f"{key}_weight").fill_(1)
                    if has_trivial:
                        getattr(self, f"{key}_bias").zero_()

    # ------------------------------------------------------------------ forward
    def _check_dims(self, x: torch.Tensor) -> None:
        raise NotImplementedError  # pragma: no cover - each variant says what it accepts

    def _batch_stats(
        self, part: torch.Tensor, key: str, has_trivial: bool
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        axes = (0, *range(3, part.dim()))
        mean = None
        centered = part
        if has_trivial:
            avg = getattr(self, f"{key}_avg")
            batch_mean = part.mean(dim=axes, keepdim=True).detach()
            full = torch.einsum("ij,bcj...->bci...", avg, batch_mean)
            centered = part - full
            mean = full.reshape(full.shape[1], full.shape[2])
        var = centered.var(dim=axes, unbiased=True).mean(dim=1, keepdim=True).detach()
        return mean, var

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        """Normalise ``input`` (see the module docstring)."""
        x = self._check_input(input)
        self._check_dims(x)
        factor = 0.0
        if self.training:
            self.num_batches_tracked += 1
            factor = (
                1.0 / float(self.num_batches_tracked.item())
                if self.momentum is None
                else float(self.momentum)
            )
        b, spatial = x.shape[0], x.shape[2:]
        ones = (1,) * len(spatial)
        out = torch.empty_like(x)
        for key, n, d, span, has_trivial in self._groups:
            if span is not None:
                part = x[:, span[0] : span[1]]
            else:
                part = x.index_select(1, getattr(self, f"{key}_indices"))
            part = part.reshape(b, n, d, *spatial)
            if not self.track_running_stats or self.training:
                mean, var = self._batch_stats(part, key, has_trivial)
                if self.track_running_stats:
                    with torch.no_grad():
                        running_var = getattr(self, f"{key}_running_var")
                        running_var.mul_(1 - factor).add_(factor * var)
                        if has_trivial:
                            running_mean = getattr(self, f"{key}_running_mean")
                            running_mean.mul_(1 - factor).add_(factor * mean)
            else:
                var = getattr(self, f"{key}_running_var")
                mean = getattr(self, f"{key}_running_mean") if has_trivial else None
            if has_trivial:
                part = part - mean.view(1, n, d, *ones)
            scale = 1.0 / (var + self.eps).sqrt()
            if self.affine:
                scale = getattr(self, f"{key}_weight") * scale
            part = part * scale.view(1, n, 1, *ones)
            if self.affine and has_trivial:
                q = getattr(self, f"{key}_change_of_basis")
                shift = torch.einsum("ij,cj->ci", q, getattr(self, f"{key}_bias"))
                part = part + shift.view(1, n, d, *ones)
            part = part.reshape(b, n * d, *spatial)
            if span is not None:
                out[:, span[0] : span[1]] = part
            else:
                out[:, getattr(self, f"{key}_indices")] = part
        return GeometricTensor(out, self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        return self._check_shape(input_shape)

    def export(self) -> torch.nn.Module:
        """Switch to eval mode and return the equivalent torch batch norm (running variance and
        weight repeated over each field's channels, bias ``Q_trivial @ bias``). Raises
        ``ValueError`` with ``track_running_stats=False`` (batch statistics are not those of a
        per-channel batch norm)."""
        if not self.track_running_stats:
            raise ValueError(
                f"{type(self).__name__}.export: needs track_running_stats=True (with batch "
                "statistics the module is not a per-channel batch norm)"
            )
        self.eval()
        like = self.num_batches_tracked.device
        dtype = next((p.dtype for p in self.parameters()), torch.get_default_dtype())
        size = self.in_type.size
        bn = self._export_class(size, self.eps, self.momentum, affine=self.affine)
        bn = bn.to(device=like, dtype=dtype)
        with torch.no_grad():
            bn.num_batches_tracked.copy_(self.num_batches_tracked)
            bn.running_mean.zero_()
            if self.affine:
                bn.bias.zero_()
            for key, n, d, span, has_trivial in self._groups:
                if span is not None:
                    channels = torch.arange(span[0], span[1], device=like)
                else:
                    channels = getattr(self, f"{key}_indices")
                var = getattr(self, f"{key}_running_var").expand(n, d).reshape(-1)
                bn.running_var[channels] = var.to(bn.running_var.dtype)
                if has_trivial:
                    bn.running_mean[channels] = getattr(self, f"{key}_running_mean").reshape(-1)
                if self.affine:
                    weight = getattr(self, f"{key}_weight").expand(n, d).reshape(-1)
                    bn.weight[channels] = weight
                    if has_trivial:
                        q = getattr(self, f"{key}_change_of_basis")
                        shift = torch.einsum("ij,cj->ci", q, getattr(self, f"{key}_bias"))
                        bn.bias[channels] = shift.reshape(-1)
        return bn.eval()

    def extra_repr(self) -> str:
        return (
            f"{self.in_type!r}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )


class IIDBatchNorm1d(_IIDBatchNorm):
    """escnn's ``IIDBatchNorm1d``: inputs ``(B, C)`` (e.g. on ``no_base_space(G)``) or
    ``(B, C, L)``; exports to ``torch.nn.BatchNorm1d``."""

    _who = "IIDBatchNorm1d"
    _export_class = torch.nn.BatchNorm1d

    def _check_dims(self, x: torch.Tensor) -> None:
        if x.dim() not in (2, 3):
            raise FieldTypeMismatchError(
                f"IIDBatchNorm1d: 'input' must have shape (B, C) or (B, C, L), got {tuple(x.shape)}"
            )

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        shape = self._check_shape(input_shape)
        if len(shape) not in (2, 3):
            raise FieldTypeMismatchError(
                f"IIDBatchNorm1d: 'input_shape' must be (B, C) or (B, C, L), got {shape}"
            )
        return shape


class IIDBatchNorm2d(_IIDBatchNorm):
    """escnn's ``IIDBatchNorm2d``: inputs ``(B, C, H, W)``; exports to ``torch.nn.BatchNorm2d``."""

    _who = "IIDBatchNorm2d"
    _export_class = torch.nn.BatchNorm2d

    def _check_dims(self, x: torch.Tensor) -> None:
        if x.dim() != 4:
            raise FieldTypeMismatchError(
                f"IIDBatchNorm2d: 'input' must have shape (B, C, H, W), got {tuple(x.shape)}"
            )

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        shape = self._check_shape(input_shape)
        if len(shape) != 4:
            raise FieldTypeMismatchError(
                f"IIDBatchNorm2d: 'input_shape' must be (B, C, H, W), got {shape}"
            )
        return shape
