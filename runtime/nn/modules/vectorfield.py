"""Non-linearities that change the field type: ``VectorFieldNonLinearity``,
``GatedNonLinearity2`` (gates and gated fields in two tensors)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..errors import ArgumentError, ArgumentTypeError, FieldTypeMismatchError
from ..field_type import FieldType
from ..geometric_tensor import GeometricTensor
from ..grid import grid_exact_elements
from ._utils import long_tensor, require_field_type, spatial_view
from .equivariant_module import EquivariantModule

__all__ = ["VectorFieldNonLinearity", "GatedNonLinearity2"]


class VectorFieldNonLinearity(EquivariantModule):
    """Turn each regular field of C_N into a vector: the vector at angle ``2 pi r / N`` (``r``
    the channel of largest activation) scaled by that activation, or 0 where it is negative.
    The output fields transform by the frequency-1 irrep. Only for regular representations of
    cyclic groups with N >= 2.

    The vector is the first column of the frequency-1 irrep at ``r``, ``(cos, sin)(2 pi r / N)``;
    for N = 2 (``Rot2dOnR2(2)``, ``Flip2dOnR2``) that irrep is the one-dimensional sign irrep and
    each output field is the activation times ``cos(pi r) = +1 / -1``. C_1 (``TrivialOnR2``) has no
    frequency-1 irrep and is refused.
    """

    def __init__(self, in_type: FieldType, **kwargs: Any) -> None:
        super().__init__()
        who = "VectorFieldNonLinearity"
        require_field_type(in_type, who)
        group = in_type.fibergroup
        n = group.order()
        for i, r in enumerate(in_type.representations):
            if "vectorfield" not in r.supported_nonlinearities or r.size != n:
                raise ArgumentError(
                    f"{who}: field {i} of 'in_type' ({r.name!r}) is not the regular "
                    "representation of a cyclic group (no 'vectorfield' support)"
                )
        if n < 2:
            raise ArgumentError(
                f"{who}: 'in_type' lives on {in_type.gspace!r}, whose fiber group {group.name} has "
                "no frequency-1 irrep to output; expected regular fields of C_N with N >= 2"
            )
        irrep = in_type.gspace.irrep(1)
        self.in_type = in_type
        self.out_type = FieldType(in_type.gspace, [irrep] * len(in_type))
        # Row r: irrep(1)(r) applied to the first basis vector; regular channel r is element r.
        basis = np.stack([irrep(e)[:, 0] for e in group.elements])  # (N, irrep.size), float64
        directions = torch.from_numpy(basis).to(torch.get_default_dtype())
        self.register_buffer("_directions", directions, persistent=False)
        self._n = n

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        b, spatial = x.shape[0], x.shape[2:]
        fields = x.reshape(b, -1, self._n, *spatial)
        values, idx = fields.max(dim=2)
        values = values.clamp(min=0)  # a field whose channels are all negative gives 0 (as e2cnn)
        directions = self._directions.to(x.dtype)[idx]  # (B, F, *spatial, 2)
        out = values.unsqueeze(-1) * directions
        out = out.movedim(-1, 2).reshape(b, self.out_type.size, *spatial)
        return GeometricTensor(out, self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        shape = self._check_shape(input_shape)
        return (shape[0], self.out_type.size, *shape[2:])


class GatedNonLinearity2(EquivariantModule):
    """Gated non-linearity with gates and gated fields in two tensors.

    ``in_type`` is a pair ``(gates_type, gated_type)`` with as many trivial gate fields as gated
    fields; ``forward(gates, input)`` multiplies gated field ``i`` by ``sigmoid(gate_i - b_i)``.
    """

    def __init__(self, in_type: tuple[FieldType, FieldType], **kwargs: Any) -> None:
        super().__init__()
        who = "GatedNonLinearity2"
        if not isinstance(in_type, (tuple, list)) or len(in_type) != 2:
            raise ArgumentTypeError(f"{who}: 'in_type' must be a pair (gates_type, gated_type)")
        gates_type, gated_type = in_type
        require_field_type(gates_type, who, "in_type[0]")
        require_field_type(gated_type, who, "in_type[1]")
        if gates_type.gspace != gated_type.gspace:
            raise ArgumentError(f"{who}: the two field types live on different gspaces")
        if len(gates_type) != len(gated_type):
            raise ArgumentError(
                f"{who}: {len(gates_type)} gates for {len(gated_type)} gated fields (must match)"
            )
        for i, r in enumerate(gates_type.representations):
            if r.size != 1 or "gate" not in r.supported_nonlinearities:
                raise ArgumentError(f"{who}: gate field {i} ({r.name!r}) must be a trivial field")
        for i, r in enumerate(gated_type.representations):
            if "gated" not in r.supported_nonlinearities:
                raise ArgumentError(
                    f"{who}: field {i} of 'in_type[1]' ({r.name!r}) does not support 'gated'"
                )
        self.in_type = (gates_type, gated_type)
        self.out_type = gated_type
        self.register_buffer("_owner", long_tensor(gated_type.channel_fields()), persistent=False)
        self.bias = torch.nn.Parameter(torch.randn(len(gates_type)))

    def forward(self, gates: GeometricTensor, input: GeometricTensor) -> GeometricTensor:
        self._check_input(gates, "gates", self.in_type[0])
        self._check_input(input, "input", self.in_type[1])
        g = gates.tensor
        g = torch.sigmoid(g - spatial_view(self.bias, g.dim()))
        return GeometricTensor(input.tensor * g.index_select(1, self._owner), self.out_type)

    def evaluate_output_shape(self, gates_shape: tuple, input_shape: tuple) -> tuple:
        for name, shape, ftype in (
            ("gates_shape", gates_shape, self.in_type[0]),
            ("input_shape", input_shape, self.in_type[1]),
        ):
            if len(shape) < 2 or shape[1] != ftype.size:
                raise FieldTypeMismatchError(
                    f"GatedNonLinearity2: '{name}' {tuple(shape)} does not match {ftype!r}"
                )
        return tuple(input_shape)

    def check_equivariance(self, atol: float = 1e-7, rtol: float = 1e-5, **kwargs: Any) -> list:
        """As :meth:`EquivariantModule.check_equivariance` (float64 copy), for the two inputs."""
        gates_type, gated_type = self.in_type
        module = self._float64_copy()
        device = module.bias.device
        g = torch.randn(3, gates_type.size, 9, 9, dtype=torch.float64, device=device)
        x = torch.randn(3, gated_type.size, 9, 9, dtype=torch.float64, device=device)
        errors = []
        with torch.no_grad():
            ref = module(GeometricTensor(g, gates_type), GeometricTensor(x, gated_type)).tensor
            for e in grid_exact_elements(gated_type.gspace):
                out = module(
                    GeometricTensor(gates_type.transform(g, e), gates_type),
                    GeometricTensor(gated_type.transform(x, e), gated_type),
                ).tensor
                expected = gated_type.transform(ref, e)
                if not torch.allclose(out, expected, atol=atol, rtol=rtol):
                    err = (out - expected).abs().max().item()
                    raise AssertionError(f"GatedNonLinearity2: error {err:.3g} for element {e!r}")
                errors.append((e, (out - expected).abs().mean().item()))
        return errors
