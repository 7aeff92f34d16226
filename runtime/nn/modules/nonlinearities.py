"""Non-linearities: pointwise (``ReLU``, ``ELU``, ``PointwiseNonLinearity``), norm and gated."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..errors import ArgumentError
from ..field_type import FieldType
from ..geometric_tensor import GeometricTensor
from ._utils import (
    field_reduce_sum,
    long_tensor,
    require_choice,
    require_support,
    spatial_view,
    split_gates,
)
from .equivariant_module import EquivariantModule

__all__ = [
    "ReLU",
    "ELU",
    "PointwiseNonLinearity",
    "NormNonLinearity",
    "GatedNonLinearity1",
]


class _Pointwise(EquivariantModule):
    """A scalar function applied to every channel; needs permutation-like representations."""

    def __init__(self, in_type: FieldType) -> None:
        super().__init__()
        require_support(in_type, "pointwise", type(self).__name__)
        self.in_type = in_type
        self.out_type = in_type

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        return self._check_shape(input_shape)


class ReLU(_Pointwise):
    """ReLU on every channel. Only for fields that support pointwise non-linearities."""

    def __init__(self, in_type: FieldType, inplace: bool = False) -> None:
        super().__init__(in_type)
        self._inplace = bool(inplace)

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        return GeometricTensor(F.relu(x, inplace=self._inplace), self.out_type)

    def extra_repr(self) -> str:
        return f"inplace={self._inplace}, type={self.in_type!r}"

    def export(self) -> torch.nn.ReLU:
        """A ``torch.nn.ReLU`` with the same ``inplace`` flag."""
        self.eval()
        return torch.nn.ReLU(inplace=self._inplace).eval()


class ELU(_Pointwise):
    """ELU on every channel. Only for fields that support pointwise non-linearities."""

    def __init__(self, in_type: FieldType, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__(in_type)
        self._alpha = float(alpha)
        self._inplace = bool(inplace)

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        return GeometricTensor(F.elu(x, alpha=self._alpha, inplace=self._inplace), self.out_type)

    def extra_repr(self) -> str:
        return f"alpha={self._alpha}, inplace={self._inplace}, type={self.in_type!r}"

    def export(self) -> torch.nn.ELU:
        """A ``torch.nn.ELU`` with the same ``alpha`` and ``inplace``."""
        self.eval()
        return torch.nn.ELU(alpha=self._alpha, inplace=self._inplace).eval()


_POINTWISE = {
    "p_relu": (torch.relu, torch.nn.ReLU),
    "p_elu": (F.elu, torch.nn.ELU),
    "p_sigmoid": (torch.sigmoid, torch.nn.Sigmoid),
    "p_tanh": (torch.tanh, torch.nn.Tanh),
}


class PointwiseNonLinearity(_Pointwise):
    """A scalar function on every channel: ``function`` in ``p_relu``, ``p_elu``,
    ``p_sigmoid``, ``p_tanh``."""

    def __init__(self, in_type: FieldType, function: str = "p_relu") -> None:
        require_choice(function, _POINTWISE, "PointwiseNonLinearity", "function")
        super().__init__(in_type)
        self._function = function

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        return GeometricTensor(_POINTWISE[self._function][0](x), self.out_type)

    def extra_repr(self) -> str:
        return f"function={self._function!r}, type={self.in_type!r}"

    def export(self) -> torch.nn.Module:
        """The matching ``torch.nn`` activation module."""
        self.eval()
        return _POINTWISE[self._function][1]().eval()


def _n_relu(t: torch.Tensor) -> torch.Tensor:
    return torch.relu(t)


def _squash(t: torch.Tensor) -> torch.Tensor:
    return t / (1.0 + t)


_NORM = {"n_relu": _n_relu, "n_sigmoid": torch.sigmoid, "squash": _squash}


class NormNonLinearity(EquivariantModule):
    """Rescale each field by ``f(|v| - b) / |v|``: ``function`` in ``n_relu``, ``n_sigmoid``,
    ``squash`` (no bias), with one learnable bias ``b`` per field when ``bias=True``.

    Needs fields whose representation supports ``'norm'`` non-linearities (orthogonal ones).
    """

    def __init__(self, in_type: FieldType, function: str = "n_relu", bias: bool = True) -> None:
        require_choice(function, _NORM, "NormNonLinearity", "function")
        if function == "squash" and bias:
            raise ArgumentError(
                "NormNonLinearity: the 'squash' function takes no bias; pass bias=False"
            )
        super().__init__()
        require_support(in_type, "norm", "NormNonLinearity")
        self.in_type = self.out_type = in_type
        self._function = function
        self.register_buffer("_fields", long_tensor(in_type.channel_fields()), persistent=False)
        if bias:
            self.bias = torch.nn.Parameter(torch.full((len(in_type),), 0.1))
        else:
            self.register_parameter("bias", None)
        self.eps = 1e-12

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        sq = field_reduce_sum(x * x, self._fields, len(self.in_type))
        norms = torch.sqrt(sq.clamp_min(self.eps))
        arg = norms if self.bias is None else norms - spatial_view(self.bias, x.dim())
        scale = _NORM[self._function](arg) / norms
        return GeometricTensor(x * scale.index_select(1, self._fields), self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        return self._check_shape(input_shape)

    def extra_repr(self) -> str:
        return f"{self.in_type!r}, function={self._function!r}, bias={self.bias is not None}"


class GatedNonLinearity1(EquivariantModule):
    """Multiply each gated field by ``sigmoid(gate - bias)`` of its scalar gate field.

    ``gates`` labels every field ``"gate"`` or ``"gated"`` (default: first half gates, second
    half gated); the i-th gate drives the i-th gated field. Gates must be trivial fields. With
    ``drop_gates=True`` the output holds only the gated fields; otherwise the input's fields,
    with the gates replaced by their sigmoid.
    """

    def __init__(
        self,
        in_type: FieldType,
        gates: Sequence[str] | None = None,
        drop_gates: bool = True,
        **kwargs,
    ) -> None:
        super().__init__()
        who = "GatedNonLinearity1"
        gate_idx, gated_idx = split_gates(in_type, gates, who)
        reps = in_type.representations
        for i in gate_idx:
            if reps[i].size != 1 or "gate" not in reps[i].supported_nonlinearities:
                raise ArgumentError(
                    f"{who}: gate field {i} ({reps[i].name!r}) must be a trivial field"
                )
        for i in gated_idx:
            if "gated" not in reps[i].supported_nonlinearities:
                raise ArgumentError(
                    f"{who}: field {i} ({reps[i].name!r}) of 'in_type' does not support 'gated'"
                )
        self.in_type = in_type
        self.drop_gates = bool(drop_gates)
        self.out_type = in_type.index_select(gated_idx) if drop_gates else in_type
        start = in_type.fields_start
        gate_channels = [int(start[i]) for i in gate_idx]
        gated_channels = in_type.fields_channels(gated_idx)
        owner = [k for k, i in enumerate(gated_idx) for _ in range(reps[i].size)]
        self.register_buffer("_gate_ch", long_tensor(gate_channels), persistent=False)
        self.register_buffer("_gated_ch", long_tensor(gated_channels), persistent=False)
        self.register_buffer("_gated_owner", long_tensor(owner), persistent=False)
        self.bias = torch.nn.Parameter(torch.randn(len(gate_idx)))

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        g = torch.sigmoid(x.index_select(1, self._gate_ch) - spatial_view(self.bias, x.dim()))
        gated = x.index_select(1, self._gated_ch) * g.index_select(1, self._gated_owner)
        if self.drop_gates:
            return GeometricTensor(gated, self.out_type)
        out = x.index_copy(1, self._gated_ch, gated).index_copy(1, self._gate_ch, g)
        return GeometricTensor(out, self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        shape = self._check_shape(input_shape)
        return (shape[0], self.out_type.size, *shape[2:])
