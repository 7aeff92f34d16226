"""Dropout of whole fields (``FieldDropout``) or of single channels (``PointwiseDropout``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import ArgumentError
from ..field_type import FieldType
from ..geometric_tensor import GeometricTensor
from ._utils import long_tensor, require_field_type, require_support
from .equivariant_module import EquivariantModule

__all__ = ["FieldDropout", "PointwiseDropout"]


def _check_p(p: float, who: str) -> float:
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ArgumentError(f"{who}: dropout probability 'p' must be in [0, 1], got {p}")
    return p


class FieldDropout(EquivariantModule):
    """Dropout applied to each field independently at every pixel: with probability ``p`` all
    channels of a field at one pixel are zeroed together, the kept ones are scaled by
    ``1/(1-p)``. The mask has shape ``(batch, fields, H, W)``, one draw per field and pixel (as in
    the reference library), so the channel means of train and eval mode agree."""

    _random_in_training = True

    def __init__(self, in_type: FieldType, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        self.in_type = self.out_type = require_field_type(in_type, "FieldDropout")
        self.p = _check_p(p, "FieldDropout")
        self.inplace = bool(inplace)
        self.register_buffer("_fields", long_tensor(in_type.channel_fields()), persistent=False)

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        if not self.training or self.p == 0.0:
            return GeometricTensor(x, self.out_type)
        shape = (x.shape[0], len(self.in_type)) + tuple(x.shape[2:])
        if self.p == 1.0:
            mask = x.new_zeros(shape)
        else:
            mask = x.new_empty(shape).bernoulli_(1.0 - self.p) / (1.0 - self.p)
        mask = mask.index_select(1, self._fields)
        out = x.mul_(mask) if self.inplace else x * mask
        return GeometricTensor(out, self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        return self._check_shape(input_shape)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"

    def export(self) -> torch.nn.Identity:
        """A ``torch.nn.Identity``: what this module computes in eval mode (exported modules are
        for inference; torch has no field-wise dropout)."""
        self.eval()
        return torch.nn.Identity().eval()


class PointwiseDropout(EquivariantModule):
    """``torch.nn.functional.dropout`` on every channel; needs pointwise-compatible fields."""

    _random_in_training = True

    def __init__(self, in_type: FieldType, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        require_support(in_type, "pointwise", "PointwiseDropout")
        self.in_type = self.out_type = in_type
        self.p = _check_p(p, "PointwiseDropout")
        self.inplace = bool(inplace)

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        return GeometricTensor(F.dropout(x, self.p, self.training, self.inplace), self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        return self._check_shape(input_shape)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"

    def export(self) -> torch.nn.Dropout:
        """A ``torch.nn.Dropout`` with the same ``p`` and ``inplace``, in eval mode."""
        self.eval()
        return torch.nn.Dropout(self.p, self.inplace).eval()
