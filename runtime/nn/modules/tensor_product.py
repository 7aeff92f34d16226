"""``TensorProductModule``: escnn's learnable quadratic non-linearity."""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import Parameter

from ..errors import ArgumentError
from ..field_type import FieldType
from ..geometric_tensor import GeometricTensor
from ._expansion_cache import ExpansionCache
from ._utils import require_field_type
from .equivariant_module import EquivariantModule
from .intertwiners import IntertwinerExpansion

__all__ = ["TensorProductModule"]


class TensorProductModule(ExpansionCache, EquivariantModule):
    """Each field ``x_c`` (representation ``rho``) becomes ``M_c kron(x_c, x_c)``, with ``M_c`` a
    learnable equivariant map from ``rho ⊗ rho`` to the output representation (its own weights
    for every field ``c``, no bias). Pointwise: works for any number of spatial dimensions.

    Args:
        in_type: a uniform field type (every field the same representation).
        out_type: a uniform field type on the same gspace with as many fields.
        initialize: draw the weights with the generalized He initialisation.

    ``rho ⊗ rho`` is :func:`e2compile.group.tensor_product` (our Clebsch–Gordan decomposition);
    the maps are expanded on :func:`e2compile.group.intertwiner_basis` with escnn's layout
    ``(C, 1, dim)``. escnn decomposes the product with its own Clebsch–Gordan coefficients, so its
    basis spans the same maps in a different basis: an escnn checkpoint maps onto these weights by
    a fixed linear change of coordinates per field, not one to one.
    """

    def __init__(self, in_type: FieldType, out_type: FieldType, initialize: bool = True) -> None:
        super().__init__()
        who = "TensorProductModule"
        require_field_type(in_type, who, "in_type")
        require_field_type(out_type, who, "out_type")
        if out_type.gspace != in_type.gspace:
            raise ArgumentError(
                f"{who}: 'out_type' lives on {out_type.gspace.name!r}, 'in_type' on "
                f"{in_type.gspace.name!r}; they must share the gspace"
            )
        for argname, ftype in (("in_type", in_type), ("out_type", out_type)):
            if not ftype.uniform:
                raise ArgumentError(
                    f"{who}: '{argname}' must be uniform (every field the same representation), "
                    f"got {ftype!r}"
                )
        if len(in_type) != len(out_type):
            raise ArgumentError(
                f"{who}: 'in_type' has {len(in_type)} fields, 'out_type' {len(out_type)}; they "
                "must have as many"
            )
        from e2compile.group import tensor_product

        self.in_type, self.out_type = in_type, out_type
        self.gspace = in_type.gspace
        self._C = len(in_type)
        in_repr = in_type.representations[0]
        try:
            hidden = tensor_product(in_repr, in_repr)
        except ValueError as exc:
            raise ArgumentError(f"{who}: 'in_type': {exc}") from exc
        self.hidden_type = FieldType(self.gspace, [hidden] * self._C)
        self._basisexpansion = IntertwinerExpansion([hidden], out_type.representations)
        if self._basisexpansion.dimension() == 0:
            raise ArgumentError(
                f"{who}: no equivariant map from {in_repr.name} ⊗ {in_repr.name} (irreps "
                f"{sorted(set(hidden.irreps))}) to {out_type.representations[0].name}; the "
                "basis is empty"
            )
        self.weights = Parameter(torch.randn(self._basisexpansion.dimension()))
        if initialize:
            self.reset_parameters()

    @classmethod
    def construct(
        cls, gspace: Any, channels: int, in_repr: Any, out_repr: Any, initialize: bool = True
    ) -> TensorProductModule:
        """The module on ``channels`` copies of ``in_repr`` and of ``out_repr``."""
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise ArgumentError(
                f"TensorProductModule.construct: 'channels' must be a positive int, got "
                f"{channels!r}"
            )
        in_type = FieldType(gspace, [in_repr] * channels)
        out_type = FieldType(gspace, [out_repr] * channels)
        return cls(in_type, out_type, initialize=initialize)

    @property
    def basisexpansion(self) -> IntertwinerExpansion:
        """The submodule expanding ``weights`` into the ``(C * d_out, d_in ** 2)`` matrix."""
        return self._basisexpansion

    def reset_parameters(self) -> None:
        """Generalized He initialisation of ``weights`` (escnn's default)."""
        from .. import init

        init.generalized_he_init(self.weights.data, self._basisexpansion)
        self._cache = None

    def expand_parameters(self) -> torch.Tensor:
        """The matrix ``(out_type.size, d_in ** 2)``: the ``C`` maps stacked."""
        return self._basisexpansion(self.weights)

    @property
    def matrix(self) -> torch.Tensor | None:
        """The matrix cached in eval mode (``None`` in train mode)."""
        return None if self.training else self._cached()

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        """``y_c = M_c kron(x_c, x_c)`` for every field ``c`` (at every point)."""
        x = self._check_input(input)
        b, spatial = x.shape[0], x.shape[2:]
        d_in = self.in_type.representations[0].size
        d_out = self.out_type.representations[0].size
        fields = x.reshape(b, self._C, d_in, *spatial)
        product = torch.einsum("bci...,bco...->bcio...", fields, fields)
        product = product.reshape(b, self._C, d_in * d_in, *spatial)
        matrix = self._expanded().reshape(self._C, d_out, d_in * d_in)
        y = torch.einsum("coi,bci...->bco...", matrix, product)
        return GeometricTensor(y.reshape(b, self._C * d_out, *spatial), self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        shape = self._check_shape(input_shape)
        return (shape[0], self.out_type.size, *shape[2:])
