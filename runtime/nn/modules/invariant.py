"""Invariant maps: one scalar per field (``GroupPooling``: max, ``NormPool``: norm)."""

from __future__ import annotations

import torch

from ..field_type import FieldType
from ..geometric_tensor import GeometricTensor
from ._utils import field_reduce_sum, long_tensor, require_field_type, require_support, size_groups
from .equivariant_module import EquivariantModule
from .max_pool_channels import MaxPoolChannels

__all__ = ["GroupPooling", "NormPool"]


def _trivial_type(in_type: FieldType) -> FieldType:
    return FieldType(in_type.gspace, [in_type.gspace.trivial_repr] * len(in_type))


class GroupPooling(EquivariantModule):
    """Max over the channels of each field; every output field is trivial.

    Only for permutation representations (``'pointwise'`` support): regular, quotient, trivial.
    """

    def __init__(self, in_type: FieldType, **kwargs) -> None:
        super().__init__()
        require_support(in_type, "pointwise", "GroupPooling")
        self.in_type = in_type
        self.out_type = _trivial_type(in_type)
        groups = size_groups(in_type)
        self._groups = []
        for size, fields, _ in groups:
            names = None
            if len(groups) > 1:
                names = (f"_in_{size}", f"_out_{size}")
                channels = in_type.fields_channels(fields)
                self.register_buffer(names[0], long_tensor(channels), persistent=False)
                self.register_buffer(names[1], long_tensor(fields), persistent=False)
            self._groups.append((size, names))

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        b, n = x.shape[0], len(self.in_type)
        if len(self._groups) == 1:
            size = self._groups[0][0]
            y = x.reshape(b, n, size, *x.shape[2:]).amax(dim=2)
            return GeometricTensor(y, self.out_type)
        out = x.new_empty((b, n, *x.shape[2:]))
        for size, (in_name, out_name) in self._groups:
            part = x.index_select(1, getattr(self, in_name))
            y = part.reshape(b, -1, size, *x.shape[2:]).amax(dim=2)
            out.index_copy_(1, getattr(self, out_name), y)
        return GeometricTensor(out, self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        shape = self._check_shape(input_shape)
        return (shape[0], self.out_type.size, *shape[2:])

    def extra_repr(self) -> str:
        return repr(self.in_type)

    def export(self) -> MaxPoolChannels:
        """A :class:`MaxPoolChannels` (needs every field of the same size)."""
        self.eval()
        sizes = set(int(s) for s in self.in_type.field_sizes)
        if len(sizes) != 1:
            raise NotImplementedError(
                "GroupPooling.export: MaxPoolChannels needs all fields of the same size, "
                f"'in_type' has sizes {sorted(sizes)}"
            )
        return MaxPoolChannels(sizes.pop()).eval()


class NormPool(EquivariantModule):
    """The Euclidean norm of each field; every output field is trivial.

    Invariant for fields whose representation is orthogonal (``'norm'`` support).
    """

    def __init__(self, in_type: FieldType, **kwargs) -> None:
        super().__init__()
        require_field_type(in_type, "NormPool")
        require_support(in_type, "norm", "NormPool")
        self.in_type = in_type
        self.out_type = _trivial_type(in_type)
        self.register_buffer("_fields", long_tensor(in_type.channel_fields()), persistent=False)

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        sq = field_reduce_sum(x * x, self._fields, len(self.in_type))
        return GeometricTensor(torch.sqrt(sq), self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        shape = self._check_shape(input_shape)
        return (shape[0], self.out_type.size, *shape[2:])

    def extra_repr(self) -> str:
        return repr(self.in_type)
