"""Structural modules: identity, restriction, field permutation, circular mask."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..errors import ArgumentError
from ..field_type import FieldType
from ..geometric_tensor import GeometricTensor
from ._utils import long_tensor, require_field_type
from .equivariant_module import EquivariantModule

__all__ = [
    "IdentityModule",
    "RestrictionModule",
    "ReshuffleModule",
    "MaskModule",
    "DisentangleModule",
]


class IdentityModule(EquivariantModule):
    """Return the input unchanged (``in_type`` is also the output type)."""

    def __init__(self, in_type: FieldType) -> None:
        super().__init__()
        self.in_type = self.out_type = require_field_type(in_type, "IdentityModule")

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        self._check_input(input)
        return input

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        return self._check_shape(input_shape)

    def export(self) -> torch.nn.Identity:
        """A ``torch.nn.Identity``."""
        self.eval()
        return torch.nn.Identity().eval()


class RestrictionModule(EquivariantModule):
    """Retype the input to the subgroup ``id`` of the fiber group (the data is not touched)."""

    def __init__(self, in_type: FieldType, id: Any) -> None:
        super().__init__()
        self.in_type = require_field_type(in_type, "RestrictionModule")
        self._id = id
        self.out_type = in_type.restrict(id)

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        return GeometricTensor(self._check_input(input), self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        return self._check_shape(input_shape)

    def extra_repr(self) -> str:
        return f"{self.in_type!r}, id={self._id!r}"

    def export(self) -> torch.nn.Identity:
        """A ``torch.nn.Identity``."""
        self.eval()
        return torch.nn.Identity().eval()

    def _equivariance_gspace(self) -> Any:
        # checked on the subgroup's elements, each acting on the input as its parent element
        return self.out_type.gspace

    def _transform_input(self, x: torch.Tensor, g: Any) -> torch.Tensor:
        parent = self.in_type.gspace.restrict(self._id)[1]
        return self.in_type.transform(x, parent(g))


class ReshuffleModule(EquivariantModule):
    """Permute the fields: output field ``i`` is input field ``permutation[i]``."""

    def __init__(self, in_type: FieldType, permutation: Sequence[int]) -> None:
        super().__init__()
        require_field_type(in_type, "ReshuffleModule")
        perm = [int(p) for p in permutation]
        if sorted(perm) != list(range(len(in_type))):
            raise ArgumentError(
                f"ReshuffleModule: 'permutation' must be a permutation of 0..{len(in_type) - 1}, "
                f"got {perm}"
            )
        self.in_type = in_type
        self.out_type = in_type.index_select(perm)
        self._permutation = perm
        channels = in_type.fields_channels(perm)
        self.register_buffer("_channels", long_tensor(channels), persistent=False)

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        return GeometricTensor(x.index_select(1, self._channels), self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        return self._check_shape(input_shape)


def _circular_mask(size: int, margin: float) -> torch.Tensor:
    c = (size - 1) / 2
    t = (c - margin / 100.0 * c) ** 2
    coords = torch.arange(size, dtype=torch.float64, device="cpu") - c
    r2 = coords[:, None] ** 2 + coords[None, :] ** 2
    mask = torch.where(r2 > t, torch.exp((t - r2) / 4.0), torch.ones_like(r2))
    return mask.reshape(1, 1, size, size)


class MaskModule(EquivariantModule):
    """Multiply every channel by a ``S x S`` disc mask: 1 inside radius ``c (1 - margin/100)``
    (``c = (S-1)/2``), then a Gaussian decay ``exp((t - r^2) / 4)`` with ``t`` that radius
    squared. Inputs must be ``B x C x S x S``.
    """

    def __init__(self, in_type: FieldType, S: int, margin: float = 0.0) -> None:
        super().__init__()
        self.in_type = self.out_type = require_field_type(in_type, "MaskModule")
        self.S = int(S)
        self.margin = float(margin)
        mask = _circular_mask(self.S, self.margin).to(torch.get_default_dtype())
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        if x.dim() != 4 or tuple(x.shape[-2:]) != (self.S, self.S):
            raise ArgumentError(
                f"MaskModule: 'input' must have shape (B, C, {self.S}, {self.S}), got "
                f"{tuple(x.shape)}"
            )
        return GeometricTensor(x * self.mask.to(x.dtype), self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        return self._check_shape(input_shape)

    def extra_repr(self) -> str:
        return f"S={self.S}, margin={self.margin}"

    def _equivariance_size(self) -> int:
        return self.S


class DisentangleModule(EquivariantModule):
    """Split each field into the independent blocks of its representation
    (``e2compile.group.disentangle``) by permuting its channels; the output type lists the
    blocks' representations, field after field."""

    def __init__(self, in_type: FieldType) -> None:
        super().__init__()
        from e2compile.group import disentangle

        require_field_type(in_type, "DisentangleModule")
        self.in_type = in_type
        found: dict[int, tuple] = {}
        reps: list = []
        channels: list[int] = []
        for r, start in zip(in_type.representations, in_type.fields_start):
            hit = found.get(id(r))
            if hit is None:
                perm, blocks = disentangle(r)
                source = np.argmax(np.abs(perm), axis=1)  # output channel i reads source[i]
                if not np.allclose(perm[np.arange(r.size), source], 1.0):
                    raise ArgumentError(
                        f"DisentangleModule: the disentangling map of {r.name!r} is not a "
                        "permutation"
                    )
                hit = found[id(r)] = (source, blocks)
            reps.extend(hit[1])
            channels.extend(int(start) + hit[0])
        self.out_type = FieldType(in_type.gspace, reps)
        self._identity = channels == list(range(in_type.size))
        self.register_buffer("_channels", long_tensor(channels), persistent=False)

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        if not self._identity:
            x = x.index_select(1, self._channels)
        return GeometricTensor(x, self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        return self._check_shape(input_shape)
