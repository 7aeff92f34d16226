"""``ConcatenatedNonLinearity``: a function applied to every channel and to its opposite."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from e2compile.group import build_from_discrete_group_representation

from ..errors import ArgumentError
from ..field_type import FieldType
from ..geometric_tensor import GeometricTensor
from ._utils import require_choice, require_support
from .equivariant_module import EquivariantModule

__all__ = ["ConcatenatedNonLinearity"]

_FUNCTIONS = {"c_relu": torch.relu, "c_sigmoid": torch.sigmoid, "c_tanh": torch.tanh}


def concatenated_representation(representation: Any) -> Any:
    """The representation of ``[f(x), f(-x)]`` (channels interleaved) for a representation of
    signed permutation matrices: each ``1`` becomes the 2x2 identity, each ``-1`` the 2x2 swap.
    Named ``concatenated_<name>``; supports what the input supports plus ``'pointwise'``, except
    ``'vectorfield'`` (which only the regular representation of C_N supports)."""
    group = representation.group
    if group.continuous:
        raise ArgumentError(
            f"ConcatenatedNonLinearity: {representation.name!r} is a representation of the "
            f"continuous group {group.name}"
        )
    n = representation.size
    swap = np.array([[0.0, 1.0], [1.0, 0.0]])
    matrices = {}
    for g in group.elements:
        m = representation(g)
        rounded = np.round(m)
        if (
            not np.allclose(m, rounded, atol=1e-9)
            or not np.array_equal(np.abs(rounded).sum(axis=0), np.ones(n))
            or not np.array_equal(np.abs(rounded).sum(axis=1), np.ones(n))
        ):
            raise ArgumentError(
                f"ConcatenatedNonLinearity: {representation.name!r} is not a signed permutation "
                f"at element {g!r}"
            )
        out = np.zeros((2 * n, 2 * n))
        for i, j in zip(*np.nonzero(rounded)):
            out[2 * i : 2 * i + 2, 2 * j : 2 * j + 2] = np.eye(2) if rounded[i, j] > 0 else swap
        matrices[g] = out
    # a permutation representation: pointwise non-linearities apply; 'vectorfield' does not
    # carry over (it needs the regular representation itself, and this one has twice its size)
    supported = (set(representation.supported_nonlinearities) | {"pointwise"}) - {"vectorfield"}
    return build_from_discrete_group_representation(
        matrices, f"concatenated_{representation.name}", group, supported
    )


class ConcatenatedNonLinearity(EquivariantModule):
    """For every channel ``x``, output ``function(x)`` and ``function(-x)`` (channels doubled,
    interleaved). ``function``: ``'c_relu'``, ``'c_sigmoid'`` or ``'c_tanh'``. The input fields
    must support ``'concatenated'`` (signed permutation representations of a finite group); the
    output field of a representation ``rho`` is ``concatenated_<rho.name>``.
    """

    def __init__(self, in_type: FieldType, function: str = "c_relu") -> None:
        super().__init__()
        require_support(in_type, "concatenated", "ConcatenatedNonLinearity")
        require_choice(function, _FUNCTIONS, "ConcatenatedNonLinearity", "function")
        self.in_type = in_type
        self.space = in_type.gspace
        self._function_name = function
        self._function = _FUNCTIONS[function]
        out = {r: concatenated_representation(r) for r in dict.fromkeys(in_type.representations)}
        self.out_type = FieldType(in_type.gspace, [out[r] for r in in_type.representations])

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        out = torch.stack([self._function(x), self._function(-x)], dim=2)
        return GeometricTensor(out.flatten(1, 2), self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        shape = self._check_shape(input_shape)
        return (shape[0], self.out_type.size, *shape[2:])

    def extra_repr(self) -> str:
        return f"{self.in_type!r}, function={self._function_name!r}"
