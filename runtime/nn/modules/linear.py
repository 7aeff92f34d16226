"""``Linear``: escnn's equivariant linear layer between field types with no base space."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.nn import Parameter

from ..errors import ArgumentError, FieldTypeMismatchError
from ..field_type import FieldType
from ..geometric_tensor import GeometricTensor
from ._expansion_cache import ExpansionCache
from ._utils import require_choice, require_field_type
from .equivariant_module import EquivariantModule
from .intertwiners import IntertwinerExpansion

__all__ = ["Linear"]


def require_no_base_space(ftype: FieldType, who: str, argname: str) -> None:
    """Raise unless ``ftype`` lives on a gspace with no base space (``no_base_space(G)``)."""
    if getattr(ftype.gspace, "dimensionality", None) != 0:
        raise ArgumentError(
            f"{who}: '{argname}' must live on a gspace with no base space "
            f"(e2compile.gspaces.no_base_space(G)), got {ftype.gspace.name!r}"
        )


def trivial_bias_expansion(out_type: FieldType) -> np.ndarray:
    """``(out_type.size, n)``: for each trivial irrep of the output (field after field), the
    column of its field's change of basis; a bias ``b`` is added as ``expansion @ b``."""
    group = out_type.fibergroup
    columns = []
    start = 0
    for r in out_type.representations:
        offset = 0
        for name in r.irreps:
            irrep = group.irreps[name]
            if irrep.is_trivial():
                col = np.zeros(out_type.size)
                col[start : start + r.size] = r.change_of_basis[:, offset]
                columns.append(col)
            offset += irrep.size
        start += r.size
    return np.stack(columns, axis=1) if columns else np.zeros((out_type.size, 0))


class Linear(ExpansionCache, EquivariantModule):
    """G-equivariant linear map between two field types of a gspace with no base space.

    Args:
        in_type: the input field type (on ``no_base_space(G)``); inputs are ``(B, in_type.size)``.
        out_type: the output field type, on the same gspace.
        bias: add a learnable bias to the trivial irreps of the output (only those are invariant).
        basisexpansion: only ``'blocks'`` (escnn's only choice).
        recompute: accepted for escnn's signature; the bases are computed at build time anyway.
        initialize: draw the weights with the generalized He initialisation.

    The matrix is ``sum_k weights[k] * basis[k]`` over escnn's basis of equivariant matrices (see
    :class:`~runtime.nn.modules.intertwiners.IntertwinerExpansion`), with escnn's weight layout:
    the same elements in the same order. The identity maps of D_N/O(2) irreps are ``+I`` here,
    while escnn's (from numerically computed Clebsch–Gordan coefficients) are sometimes ``-I``,
    so an escnn checkpoint's weights on those elements change sign (see
    ``benchmarks/parity_escnn_linear.py``); C_N/SO(2) weights and the bias load as they are. In
    eval mode the matrix and the expanded bias are cached (rebuilt when a parameter changes).
    """

    def __init__(
        self,
        in_type: FieldType,
        out_type: FieldType,
        bias: bool = True,
        basisexpansion: str = "blocks",
        recompute: bool = False,
        initialize: bool = True,
    ) -> None:
        super().__init__()
        require_field_type(in_type, "Linear", "in_type")
        require_field_type(out_type, "Linear", "out_type")
        require_no_base_space(in_type, "Linear", "in_type")
        if out_type.gspace != in_type.gspace:
            raise ArgumentError(
                f"Linear: 'out_type' lives on {out_type.gspace.name!r}, 'in_type' on "
                f"{in_type.gspace.name!r}; they must share the gspace"
            )
        require_choice(basisexpansion, {"blocks"}, "Linear", "basisexpansion")
        self.in_type, self.out_type = in_type, out_type
        self.space = in_type.gspace
        self._basisexpansion = IntertwinerExpansion(
            in_type.representations, out_type.representations
        )
        self.weights = Parameter(torch.zeros(self._basisexpansion.dimension()))
        expansion = trivial_bias_expansion(out_type) if bias else np.zeros((out_type.size, 0))
        if expansion.shape[1]:
            self.register_derived_buffer("bias_expansion", expansion)
            self.bias = Parameter(torch.zeros(expansion.shape[1]))
        else:
            self.bias = None
            self.bias_expansion = None
        if initialize:
            self.reset_parameters()

    @property
    def basisexpansion(self) -> IntertwinerExpansion:
        """The submodule that expands ``weights`` into the ``(out_size, in_size)`` matrix."""
        return self._basisexpansion

    def reset_parameters(self) -> None:
        """Generalized He initialisation of ``weights`` (escnn's default); zero bias."""
        from .. import init

        if self.weights.numel():
            init.generalized_he_init(self.weights.data, self._basisexpansion)
        if self.bias is not None:
            with torch.no_grad():
                self.bias.zero_()
        self._cache = None

    def expand_parameters(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The matrix ``(out_size, in_size)`` and the expanded bias (``None`` without bias)."""
        matrix = self._basisexpansion(self.weights)
        bias = None if self.bias is None else self.bias_expansion.to(self.bias.dtype) @ self.bias
        return matrix, bias

    @property
    def matrix(self) -> torch.Tensor | None:
        """The matrix cached in eval mode (``None`` in train mode)."""
        return None if self.training else self._cached()[0]

    @property
    def expanded_bias(self) -> torch.Tensor | None:
        """The bias cached in eval mode (``None`` in train mode or without bias)."""
        return None if self.training else self._cached()[1]

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        """``input.tensor @ matrix.T + bias`` for an input of shape ``(B, in_type.size)``."""
        x = self._check_input(input)
        if x.dim() != 2:
            raise FieldTypeMismatchError(
                f"Linear: 'input' must have shape (B, {self.in_type.size}), got {tuple(x.shape)}"
            )
        matrix, bias = self._expanded()
        return GeometricTensor(torch.nn.functional.linear(x, matrix, bias), self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        shape = self._check_shape(input_shape)
        if len(shape) != 2:
            raise FieldTypeMismatchError(
                f"Linear: 'input_shape' must be (B, {self.in_type.size}), got {shape}"
            )
        return (shape[0], self.out_type.size)

    def export(self) -> torch.nn.Linear:
        """Switch to eval mode and return an equivalent ``torch.nn.Linear``."""
        self.eval()
        matrix, bias = self._cached()
        linear = torch.nn.Linear(self.in_type.size, self.out_type.size, bias=bias is not None)
        linear = linear.to(device=matrix.device, dtype=matrix.dtype)
        with torch.no_grad():
            linear.weight.copy_(matrix)
            if bias is not None:
                linear.bias.copy_(bias)
        return linear.eval()

    def check_equivariance(
        self, atol: float = 1e-6, rtol: float = 1e-6, elements: Any = None, batch: int = 10
    ) -> list[tuple[Any, float]]:
        """:meth:`EquivariantModule.check_equivariance` on random ``(batch, in_size)`` inputs
        (float64), over every testing element of the group by default."""
        return super().check_equivariance(atol=atol, rtol=rtol, elements=elements, batch=batch)
