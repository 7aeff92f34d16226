"""``EquivariantModule``: base class of the modules that map typed tensors to typed tensors."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch

from ..field_type import FieldType
from ..geometric_tensor import GeometricTensor
from ..grid import grid_exact_elements

__all__ = ["EquivariantModule"]


class EquivariantModule(torch.nn.Module, ABC):
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
    def _check_input(self, input: Any, argname: str = "input") -> torch.Tensor:
        """Validate ``input`` against ``self.in_type`` and return its tensor."""
        if not isinstance(input, GeometricTensor):
            raise TypeError(
                f"{type(self).__name__}: '{argname}' must be a GeometricTensor, got "
                f"{type(input).__name__}; wrap it with GeometricTensor(tensor, module.in_type)"
            )
        if input.type != self.in_type:
            raise ValueError(
                f"{type(self).__name__}: '{argname}' has field type {input.type!r}, but the "
                f"module expects in_type {self.in_type!r}"
            )
        return input.tensor

    def _check_shape(self, input_shape: tuple, min_dims: int = 2) -> tuple:
        shape = tuple(input_shape)
        if len(shape) < min_dims or shape[1] != self.in_type.size:
            raise ValueError(
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
    def check_equivariance(
        self,
        atol: float = 1e-7,
        rtol: float = 1e-5,
        elements: Any = None,
        spatial: int | None = None,
        batch: int = 3,
    ) -> list[tuple[Any, float]]:
        """Compare ``self(x.transform(g))`` with ``self(x).transform(g)`` on a random input.

        By default ``g`` runs over the testing elements of ``in_type`` that map the pixel grid
        onto itself (multiples of 90 degrees, axis flips), where equivariance is exact; pass
        ``elements`` to choose others. ``spatial`` is the side of the random input (default: the
        smallest size from 9 on for which strided windows cover the grid symmetrically).
        Raises ``AssertionError`` when an error exceeds the tolerance; returns
        ``[(element, mean absolute error), ...]``.
        """
        size = spatial or self._equivariance_size()
        like = next(iter(self.parameters()), None)
        if like is None:
            like = next(iter(self.buffers()), None)
        kwargs = {} if like is None else {"device": like.device}
        if like is not None and like.is_floating_point():
            kwargs["dtype"] = like.dtype
        x = torch.randn(batch, self.in_type.size, size, size, **kwargs)
        if elements is None:
            elements = grid_exact_elements(self.in_type.gspace)
        errors = []
        with torch.no_grad():
            ref = self(GeometricTensor(x.clone(), self.in_type)).tensor
            for g in elements:
                x_g = GeometricTensor(self.in_type.transform(x, g), self.in_type)
                out1 = self(x_g).tensor
                out2 = self.out_type.transform(ref, g)
                err = (out1 - out2).abs()
                if not torch.allclose(out1, out2, atol=atol, rtol=rtol):
                    raise AssertionError(
                        f"{type(self).__name__}: equivariance error for element {g!r} too high: "
                        f"max {err.max().item():.3g}, mean {err.mean().item():.3g}"
                    )
                errors.append((g, err.mean().item()))
        return errors
