"""Modules for induced representations (norm, gated, pooling, batch norm) and ``GNormBatchNorm``.

An induced representation ``Ind_H^G rho`` acts, in its natural basis, on ``quotient_size``
consecutive copies of ``rho`` (the *sub-fields*, one per coset of ``H``) by permuting the blocks
and transforming each by ``rho``. The representations advertise this with the non-linearity
names ``induced_norm_{d}`` / ``induced_gated_{d}`` (``d`` = sub-field size) and ``induced_gate``
(quotient representations: one scalar gate per coset).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..errors import ArgumentError
from ..field_type import FieldType
from ..geometric_tensor import GeometricTensor
from ._utils import (
    field_reduce_sum,
    long_tensor,
    require_choice,
    require_field_type,
    spatial_view,
    split_gates,
    update_running_var,
)
from .batchnorm import NormBatchNorm, _ResettableNorm
from .equivariant_module import EquivariantModule
from .invariant import _trivial_type
from .nonlinearities import _NORM

__all__ = [
    "InducedNormNonLinearity",
    "InducedGatedNonLinearity1",
    "InducedNormPool",
    "InducedNormBatchNorm",
    "GNormBatchNorm",
]


def _subfield_size(rep, prefix: str, who: str, index: int, argname: str = "in_type") -> int:
    """The sub-field size ``d`` read from the ``{prefix}_{d}`` non-linearity of ``rep``."""
    names = [n for n in rep.supported_nonlinearities if n.startswith(prefix + "_")]
    if not names:
        raise ArgumentError(
            f"{who}: field {index} of '{argname}' has representation {rep.name!r}, which does not "
            f"support '{prefix}' non-linearities (supported: "
            f"{sorted(rep.supported_nonlinearities)})"
        )
    try:
        d = int(names[0][len(prefix) + 1 :])
    except ValueError as exc:  # pragma: no cover - malformed metadata
        raise ArgumentError(f"{who}: malformed non-linearity name {names[0]!r}") from exc
    if d <= 0 or rep.size % d:
        raise ArgumentError(
            f"{who}: field {index} of '{argname}' ({rep.name!r}, size {rep.size}) is not made of "
            f"sub-fields of size {d}"
        )
    return d


def _subfield_index(
    sizes: Sequence[int], sub_sizes: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """``(channel -> sub-field, sub-field -> field)`` for fields split into equal sub-fields."""
    counts = np.array([s // d for s, d in zip(sizes, sub_sizes)], dtype=np.int64)
    sub_field = np.repeat(np.arange(len(sizes), dtype=np.int64), counts)
    channel_sub = np.repeat(
        np.arange(int(counts.sum()), dtype=np.int64), np.repeat(np.asarray(sub_sizes), counts)
    )
    return channel_sub, sub_field


class _InducedNorm(EquivariantModule):
    """Shared set-up: the ``induced_norm`` check and the sub-field bookkeeping."""

    def _setup(self, in_type: FieldType) -> None:
        who = type(self).__name__
        require_field_type(in_type, who)
        reps = in_type.representations
        sub_sizes = [_subfield_size(r, "induced_norm", who, i) for i, r in enumerate(reps)]
        channel_sub, sub_field = _subfield_index([r.size for r in reps], sub_sizes)
        self.in_type = in_type
        self._n_sub = len(sub_field)
        self.register_buffer("_sub", long_tensor(channel_sub), persistent=False)
        self.register_buffer("_sub_field", long_tensor(sub_field), persistent=False)

    def _sub_norms(self, x: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
        sq = field_reduce_sum(x * x, self._sub, self._n_sub)
        return torch.sqrt(sq.clamp_min(eps) if eps else sq)


class InducedNormNonLinearity(_InducedNorm):
    """Norm non-linearity applied to every sub-field of induced fields.

    Each sub-field ``v`` is rescaled by ``f(|v| - b) / |v|`` with ``function`` in ``n_relu``,
    ``n_sigmoid``, ``squash`` (no bias). With ``bias=True`` there is one learnable bias per
    induced field, shared by its sub-fields. Fields must support ``induced_norm_{d}``.
    """

    def __init__(self, in_type: FieldType, function: str = "n_relu", bias: bool = True) -> None:
        require_choice(function, _NORM, "InducedNormNonLinearity", "function")
        if function == "squash" and bias:
            raise ArgumentError(
                "InducedNormNonLinearity: the 'squash' function takes no bias; pass bias=False"
            )
        super().__init__()
        self._setup(in_type)
        self.out_type = in_type
        self._function = function
        if bias:
            self.bias = torch.nn.Parameter(torch.full((len(in_type),), 0.1))
        else:
            self.register_parameter("bias", None)
        self.eps = 1e-12

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        norms = self._sub_norms(x, self.eps)
        arg = norms
        if self.bias is not None:
            arg = norms - spatial_view(self.bias.index_select(0, self._sub_field), x.dim())
        scale = _NORM[self._function](arg) / norms
        return GeometricTensor(x * scale.index_select(1, self._sub), self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        return self._check_shape(input_shape)

    def extra_repr(self) -> str:
        return f"{self.in_type!r}, function={self._function!r}, bias={self.bias is not None}"


class InducedNormPool(_InducedNorm):
    """Invariant pooling of induced fields: the largest norm among each field's sub-fields.

    Every output field is trivial. Fields must support ``induced_norm_{d}``.
    """

    def __init__(self, in_type: FieldType, **kwargs) -> None:
        super().__init__()
        self._setup(in_type)
        self.out_type = _trivial_type(in_type)

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        norms = self._sub_norms(x)
        index = spatial_view(self._sub_field, x.dim()).expand_as(norms)
        out = norms.new_zeros((x.shape[0], len(self.in_type), *x.shape[2:]))
        out = out.scatter_reduce(1, index, norms, reduce="amax", include_self=False)
        return GeometricTensor(out, self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        shape = self._check_shape(input_shape)
        return (shape[0], self.out_type.size, *shape[2:])

    def extra_repr(self) -> str:
        return repr(self.in_type)


class InducedGatedNonLinearity1(EquivariantModule):
    """Gated non-linearity for induced fields, gated coset by coset.

    Gate fields are quotient fields (``induced_gate`` support: one scalar per coset of the
    subgroup); the i-th gate field drives the i-th gated field (``induced_gated_{d}`` support),
    multiplying its k-th sub-field by ``sigmoid(gate_k - bias)``, with one learnable bias per
    gate field. A gate and its gated field must be induced from the same subgroup. ``gates``
    labels every field ``"gate"`` or ``"gated"`` (default: first half gates, second half gated);
    ``drop_gates=False`` keeps the gates (replaced by their sigmoid) in the output.
    """

    def __init__(
        self,
        in_type: FieldType,
        gates: Sequence[str] | None = None,
        drop_gates: bool = True,
        **kwargs,
    ) -> None:
        super().__init__()
        who = "InducedGatedNonLinearity1"
        require_field_type(in_type, who)
        gate_idx, gated_idx = split_gates(in_type, gates, who)
        reps = in_type.representations
        sub_sizes = []
        for i, j in zip(gate_idx, gated_idx):
            gate, gated = reps[i], reps[j]
            if "induced_gate" not in gate.supported_nonlinearities:
                raise ArgumentError(
                    f"{who}: gate field {i} ({gate.name!r}) of 'in_type' does not support "
                    "'induced_gate' (it must be a quotient field)"
                )
            d = _subfield_size(gated, "induced_gated", who, j)
            if gated.size // d != gate.size:
                raise ArgumentError(
                    f"{who}: gated field {j} ({gated.name!r}) has {gated.size // d} sub-fields but "
                    f"its gate field {i} ({gate.name!r}) has {gate.size} gates"
                )
            sub_a = gate.attributes.get("subgroup_id")
            sub_b = gated.attributes.get("subgroup_id")
            if sub_a != sub_b:
                raise ArgumentError(
                    f"{who}: gate field {i} is induced from subgroup {sub_a!r} but gated field "
                    f"{j} from subgroup {sub_b!r}; they must match"
                )
            sub_sizes.append(d)
        self.in_type = in_type
        self.drop_gates = bool(drop_gates)
        self.out_type = in_type.index_select(gated_idx) if drop_gates else in_type
        gate_channels = in_type.fields_channels(gate_idx)
        gated_channels = in_type.fields_channels(gated_idx)
        # the k-th gate channel drives the k-th sub-field of the gated channels
        owner, _ = _subfield_index([reps[j].size for j in gated_idx], sub_sizes)
        gate_field = np.repeat(np.arange(len(gate_idx)), [reps[i].size for i in gate_idx])
        self.register_buffer("_gate_ch", long_tensor(gate_channels), persistent=False)
        self.register_buffer("_gate_field", long_tensor(gate_field), persistent=False)
        self.register_buffer("_gated_ch", long_tensor(gated_channels), persistent=False)
        self.register_buffer("_gated_owner", long_tensor(owner), persistent=False)
        self.bias = torch.nn.Parameter(torch.randn(len(gate_idx)))

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        bias = spatial_view(self.bias.index_select(0, self._gate_field), x.dim())
        g = torch.sigmoid(x.index_select(1, self._gate_ch) - bias)
        gated = x.index_select(1, self._gated_ch) * g.index_select(1, self._gated_owner)
        if self.drop_gates:
            return GeometricTensor(gated, self.out_type)
        out = x.index_copy(1, self._gated_ch, gated).index_copy(1, self._gate_ch, g)
        return GeometricTensor(out, self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        shape = self._check_shape(input_shape)
        return (shape[0], self.out_type.size, *shape[2:])

    def extra_repr(self) -> str:
        return f"{self.in_type!r}, drop_gates={self.drop_gates}"


class InducedNormBatchNorm(NormBatchNorm):
    """Batch norm for induced fields of isometric representations without trivial irreps.

    The mean is zero by symmetry; one variance ``E[|v|^2] / size`` per induced field (so shared
    by all its sub-fields) is tracked, and a learnable scale per field applies when ``affine``.
    Fields must support ``induced_norm_{d}``. ``export()`` gives a ``torch.nn.BatchNorm2d``.
    """

    def __init__(
        self,
        in_type: FieldType,
        eps: float = 1e-05,
        momentum: float = 0.1,
        affine: bool = True,
    ) -> None:
        who = "InducedNormBatchNorm"
        require_field_type(in_type, who)
        for i, r in enumerate(in_type.representations):
            _subfield_size(r, "induced_norm", who, i)
            if r.contains_trivial():
                raise ArgumentError(
                    f"{who}: field {i} of 'in_type' ({r.name!r}) contains a trivial irrep; its "
                    "mean is not zero by symmetry"
                )
        super().__init__(in_type, eps=eps, momentum=momentum, affine=affine)


class GNormBatchNorm(_ResettableNorm, EquivariantModule):
    """Batch norm for fields of any representation, normalising each irrep separately.

    Each field is mapped to its irrep basis (``change_of_basis_inv``). Trivial irreps are
    centred with their batch mean (tracked in ``running_mean``) and get a learnable bias when
    ``affine``; every irrep occurrence is divided by its standard deviation
    ``sqrt(E[|v|^2] / size)`` (tracked in ``running_var``) and scaled by a learnable weight when
    ``affine``. The result is mapped back with ``change_of_basis``.
    """

    def __init__(
        self,
        in_type: FieldType,
        eps: float = 1e-05,
        momentum: float | None = 0.1,
        affine: bool = True,
    ) -> None:
        super().__init__()
        require_field_type(in_type, "GNormBatchNorm")
        self.in_type = self.out_type = in_type
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        channel_slot, slot_sizes, trivial_channels = [], [], []
        c = in_type.size
        q = np.zeros((c, c))
        q_inv = np.zeros((c, c))
        for r, start in zip(in_type.representations, in_type.fields_start):
            start = int(start)
            q[start : start + r.size, start : start + r.size] = r.change_of_basis
            q_inv[start : start + r.size, start : start + r.size] = r.change_of_basis_inv
            offset = start
            for name in r.irreps:
                irrep = r.group.irreps[name]
                if irrep.is_trivial():
                    trivial_channels.append(offset)
                channel_slot.extend([len(slot_sizes)] * irrep.size)
                slot_sizes.append(irrep.size)
                offset += irrep.size
        self._identity = bool(np.allclose(q, np.eye(c), atol=1e-12))
        self.register_derived_buffer("_q", np.asarray(q, dtype=np.float64))
        self.register_derived_buffer("_q_inv", np.asarray(q_inv, dtype=np.float64))
        self.register_buffer("_slot", long_tensor(channel_slot), persistent=False)
        self.register_derived_buffer("_slot_sizes", np.asarray(slot_sizes, dtype=np.float64))
        self.register_buffer("_trivial", long_tensor(trivial_channels), persistent=False)
        n_slots, n_trivial = len(slot_sizes), len(trivial_channels)
        self._n_slots = n_slots
        self.register_buffer("running_mean", torch.zeros(n_trivial))
        self.register_buffer("running_var", torch.ones(n_slots))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        if affine:
            self.weight = torch.nn.Parameter(torch.ones(n_slots))
            self.bias = torch.nn.Parameter(torch.zeros(n_trivial))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def _change(self, m: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self._identity:
            return x
        return torch.einsum("ij,bj...->bi...", m.to(x.dtype), x)

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        z = self._change(self._q_inv, x)
        dims = [0, *range(2, x.dim())]
        has_trivial = self._trivial.numel() > 0
        if self.training:
            mean = z.index_select(1, self._trivial).mean(dim=dims) if has_trivial else None
        else:
            mean = self.running_mean.to(z.dtype)
        if has_trivial:
            full_mean = z.new_zeros(z.shape[1]).index_copy(0, self._trivial, mean)
            z = z - spatial_view(full_mean, z.dim())
        if self.training:
            sq = field_reduce_sum(z * z, self._slot, self._n_slots)
            count = sq.numel() // self._n_slots
            var = sq.mean(dim=dims) / self._slot_sizes.to(sq.dtype)
            with torch.no_grad():
                m = update_running_var(self, var, count)
                if has_trivial:
                    self.running_mean.mul_(1 - m).add_(
                        mean.detach().to(self.running_mean.dtype), alpha=m
                    )
        else:
            var = self.running_var.to(z.dtype)
        scale = torch.rsqrt(var + self.eps)
        if self.weight is not None:
            scale = scale * self.weight
        z = z * spatial_view(scale.index_select(0, self._slot), z.dim())
        if self.bias is not None and has_trivial:
            full_bias = z.new_zeros(z.shape[1]).index_copy(0, self._trivial, self.bias)
            z = z + spatial_view(full_bias, z.dim())
        return GeometricTensor(self._change(self._q, z), self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        return self._check_shape(input_shape)

    def extra_repr(self) -> str:
        return f"{self.in_type!r}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"
