"""``EquivariantModule``: base class of the modules that map typed tensors to typed tensors."""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from typing import Any

import torch

from ..errors import ArgumentTypeError, FieldTypeMismatchError
from ..field_type import FieldType
from ..geometric_tensor import GeometricTensor
from ..grid import grid_exact_elements
from ._buffers import DerivedBuffers

__all__ = ["EquivariantModule"]


class EquivariantModule(DerivedBuffers, ABC):
    """A ``torch.nn.Module`` whose input and output are :class:`GeometricTensor` s.

    Subclasses set ``in_type`` and ``out_type`` (:class:`FieldType`) and implement ``forward``
    and :meth:`evaluate_output_shape`; most implement :meth:`export` too.
    """

    in_type: FieldType
    out_type: FieldType

    @abstractmethod
    def forward(self, *input: Any) -> Any: ...

    @abstractmethod
    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        """The shape of the output for an input of shape ``input_shape``."""

    def export(self) -> torch.nn.Module:
        """Convert to an equivalent pure PyTorch module (in eval mode)."""
        raise NotImplementedError(f"{type(self).__name__} does not support export() yet")

    # ------------------------------------------------------------------ helpers for subclasses
    def _check_input(
        self, input: Any, argname: str = "input", expected: FieldType | None = None
    ) -> torch.Tensor:
        """Validate ``input`` against ``expected`` (default ``self.in_type``); return its tensor.

        Raises ``ArgumentTypeError`` / ``FieldTypeMismatchError`` (also ``AssertionError`` s, as
        the reference library asserted ``input.type == self.in_type``)."""
        what = "in_type" if expected is None else "the field type"
        expected = self.in_type if expected is None else expected
        if not isinstance(input, GeometricTensor):
            raise ArgumentTypeError(
                f"{type(self).__name__}: '{argname}' must be a GeometricTensor, got "
                f"{type(input).__name__}; wrap it with GeometricTensor(tensor, module.in_type)"
            )
        if input.type != expected:
            raise FieldTypeMismatchError(
                f"{type(self).__name__}: '{argname}' has field type {input.type!r}, but the "
                f"module expects {what} {expected!r}"
            )
        return input.tensor

    def _check_shape(self, input_shape: tuple, min_dims: int = 2) -> tuple:
        shape = tuple(input_shape)
        if len(shape) < min_dims or shape[1] != self.in_type.size:
            raise FieldTypeMismatchError(
                f"{type(self).__name__}: 'input_shape' {shape} does not match in_type "
                f"{self.in_type!r} ({self.in_type.size} channels in dimension 1)"
            )
        return shape

    def _grid_symmetric(self, size: int) -> bool:
        """Whether an input of ``size x size`` pixels keeps the module exactly equivariant to
        90-degree rotations and flips (strided windows must cover the grid symmetrically)."""
        return True

    def _equivariance_size(self) -> int:
        for size in range(9, 65):
            if self._grid_symmetric(size):
                return size
        return 11

    # ------------------------------------------------------------------ testing
    #: modules that draw random numbers in train mode (dropout) are checked in eval mode: a
    #: random mask is equivariant only in distribution
    _random_in_training = False

    def _float64_copy(self) -> EquivariantModule:
        """A float64 copy of this module (the module itself is neither cast nor run)."""
        module = copy.deepcopy(self).to(torch.float64)
        for m in module.modules():
            if getattr(m, "_random_in_training", False):
                m.eval()
        return module

    def _tensor_device(self) -> torch.device | None:
        """The device of the module's first parameter (or buffer); ``None`` if it has none."""
        like = next(iter(self.parameters()), None)
        if like is None:
            like = next(iter(self.buffers()), None)
        return None if like is None else like.device

    def _equivariance_gspace(self) -> Any:
        """The gspace whose elements :meth:`check_equivariance` tests by default."""
        return self.in_type.gspace

    def _transform_input(self, x: torch.Tensor, g: Any) -> torch.Tensor:
        """Act with ``g`` (an element of :meth:`_equivariance_gspace`) on an input tensor."""
        return self.in_type.transform(x, g)

    def check_equivariance(
        self,
        atol: float = 1e-7,
        rtol: float = 1e-5,
        elements: Any = None,
        spatial: int | None = None,
        batch: int = 3,
    ) -> list[tuple[Any, float]]:
        """Compare ``self(x.transform(g))`` with ``self(x).transform(g)`` on a random input.

        The check runs on a float64 copy of the module (its mode included; the module itself is
        not touched, e.g. batch-norm statistics do not move), so float32 round-off can not make a
        correct module fail the default tolerances and a real equivariance error stands out by
        many orders of magnitude. By default ``g`` runs over the testing elements that map the
        pixel grid onto itself (multiples of 90 degrees, axis flips), where equivariance is
        exact; pass ``elements`` to choose others. ``spatial`` is the side of the random input
        (default: the smallest size from 9 on for which strided windows cover the grid
        symmetrically). Raises ``AssertionError`` when ``torch.allclose(.., atol, rtol)`` fails
        for an element; returns ``[(element, mean absolute error), ...]``.
        """
        module = self._float64_copy()
        size = spatial or self._equivariance_size()
        device = module._tensor_device()
        spatial_shape = (size,) * self.in_type.gspace.dimensionality  # none without a base space
        x = torch.randn(
            batch, self.in_type.size, *spatial_shape, dtype=torch.float64, device=device
        )
        if elements is None:
            elements = grid_exact_elements(self._equivariance_gspace())
        errors = []
        with torch.no_grad():
            ref = module(GeometricTensor(x.clone(), module.in_type)).tensor
            for g in elements:
                x_g = GeometricTensor(module._transform_input(x, g), module.in_type)
                out1 = module(x_g).tensor
                out2 = module.out_type.transform(ref, g)
                err = (out1 - out2).abs()
                if not torch.allclose(out1, out2, atol=atol, rtol=rtol):
                    raise AssertionError(
                        f"{type(self).__name__}: equivariance error for element {g!r} too high: "
                        f"max {err.max().item():.3g}, mean {err.mean().item():.3g} "
                        f"(atol={atol}, rtol={rtol}, computed in float64)"
                    )
                errors.append((g, err.mean().item()))
        return errors
