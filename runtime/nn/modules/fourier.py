"""Fourier non-linearities (escnn 1.0.11's ``FourierPointwise``, ``FourierELU`` and their quotient
versions): sample band-limited fields on a grid of group elements, apply a function pointwise,
project back to Fourier coefficients.

The grid and the two matrices (``A``: coefficients to samples, ``Ainv``: samples to
coefficients) are a compiled basis of the ``grid`` kind (:mod:`e2compile.grids`), loaded from the
artifact store by key (compiled on a miss, never in offline mode), and held as derived buffers.
The field representations are the group's spectral regular (quotient) representations of the
listed irreps (``G.spectral_regular_representation``/``G.spectral_quotient_representation``);
``G.bl_irreps(L)`` lists the irreps of a band limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from ... import bases as _bases
from ..errors import ArgumentError, ArgumentTypeError
from ..field_type import FieldType
from ..geometric_tensor import GeometricTensor
from ._utils import require_choice
from .equivariant_module import EquivariantModule

__all__ = [
    "FourierPointwise",
    "FourierELU",
    "QuotientFourierPointwise",
    "QuotientFourierELU",
    "FourierExport",
]

#: function name -> (out-of-place, in-place) torch function (escnn's choices)
_FUNCTIONS = {
    "p_relu": (F.relu, F.relu_),
    "p_elu": (F.elu, F.elu_),
    "p_sigmoid": (torch.sigmoid, torch.sigmoid_),
    "p_tanh": (torch.tanh, torch.tanh_),
}


def _fourier_apply(
    x: torch.Tensor,
    A: torch.Tensor,
    Ainv: torch.Tensor,
    channels: int,
    function: str,
    inplace: bool,
) -> torch.Tensor:
    """``(B, channels·I, *spatial)`` -> ``(B, channels·O, *spatial)``: samples ``A x``, the
    function, coefficients ``Ainv y``, per field (any number of spatial dimensions)."""
    b, spatial = x.shape[0], x.shape[2:]
    x_hat = x.reshape(b, channels, A.shape[1], *spatial)
    samples = torch.einsum("bcf...,gf->bcg...", x_hat, A)
    samples = _FUNCTIONS[function][1 if inplace else 0](samples)
    y_hat = torch.einsum("bcg...,fg->bcf...", samples, Ainv)
    return y_hat.reshape(b, channels * Ainv.shape[0], *spatial)


class _FourierBase(EquivariantModule):
    """What the four modules share: arguments, representations, the grid spec and its matrices,
    the forward pass and the export. Subclasses only pass their arguments on."""

    def _build(
        self,
        gspace: Any,
        subgroup_id: Any,
        channels: int,
        irreps: Sequence[Any],
        grid: Any,
        grid_args: tuple,
        grid_kwargs: dict,
        function: str,
        inplace: bool,
        out_irreps: Sequence[Any] | None,
        normalize: bool,
    ) -> None:
        who = type(self).__name__
        if not hasattr(gspace, "fibergroup") or not hasattr(gspace, "family"):
            raise ArgumentTypeError(
                f"{who}: 'gspace' must be a gspace, got {type(gspace).__name__}"
            )
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise ArgumentError(f"{who}: 'channels' must be a positive int, got {channels!r}")
        require_choice(function, _FUNCTIONS, who, "function")
        G = gspace.fibergroup
        self.subgroup_id = subgroup_id
        self.space = gspace
        self.rho = self._representation(G, subgroup_id, irreps, "irreps")
        self.rho_out = (
            self.rho
            if out_irreps is None
            else self._representation(G, subgroup_id, out_irreps, "out_irreps")
        )
        self.in_type = FieldType(gspace, [self.rho] * channels)
        self.out_type = (
            self.in_type if out_irreps is None else FieldType(gspace, [self.rho_out] * channels)
        )
        if grid is None:
            try:
                grid = G.grid(*grid_args, **grid_kwargs)
            except (TypeError, ValueError) as exc:
                raise ArgumentError(
                    f"{who}: the grid arguments {grid_args} {grid_kwargs} do not make a grid of "
                    f"{G.name} (see {G.name}.grid): {exc}"
                ) from None
        from e2compile.grids import grid_spec  # the compiler's spec builder (numpy only)

        try:
            spec = grid_spec(
                gspace,
                list(irreps),
                grid,
                None if out_irreps is None else list(out_irreps),
                subgroup_id,
                bool(normalize),
            )
        except (TypeError, ValueError) as exc:
            raise ArgumentError(f"{who}: {exc}") from None
        self.grid = [G._check(g) for g in grid]
        self._channels = channels
        self._function = function
        self._inplace = bool(inplace)
        self._normalize = bool(normalize)
        self.spec = spec
        self.dry_run = _bases.collecting()
        if self.dry_run:
            _bases.record_spec(spec)
            return
        artifact = _bases.load_basis(spec)
        self.register_derived_buffer("A", artifact.A)
        self.register_derived_buffer("Ainv", artifact.Ainv)

    def _representation(self, G: Any, subgroup_id: Any, irreps: Any, argname: str) -> Any:
        who = type(self).__name__
        if isinstance(irreps, (str, bytes)) or not isinstance(irreps, Sequence):
            raise ArgumentTypeError(
                f"{who}: '{argname}' must be a list of irrep ids (e.g. {G.name}.bl_irreps(L)), "
                f"got {type(irreps).__name__}"
            )
        try:
            if subgroup_id is None:
                return G.spectral_regular_representation(*irreps)
            return G.spectral_quotient_representation(subgroup_id, *irreps)
        except TypeError as exc:
            raise ArgumentTypeError(f"{who}: '{argname}': {exc}") from None
        except ValueError as exc:
            raise ArgumentError(f"{who}: '{argname}': {exc}") from None

    def forward(self, input: GeometricTensor) -> GeometricTensor:
        x = self._check_input(input)
        if self.dry_run:
            raise RuntimeError(
                f"this {type(self).__name__} was built inside runtime.bases.collect_specs() (a "
                "dry run that only records specs); build it again outside the block to use it"
            )
        y = _fourier_apply(x, self.A, self.Ainv, self._channels, self._function, self._inplace)
        return GeometricTensor(y, self.out_type)

    def evaluate_output_shape(self, input_shape: tuple) -> tuple:
        shape = self._check_shape(input_shape)
        return (shape[0], self.out_type.size, *shape[2:])

    def export(self) -> FourierExport:
        """A plain torch module doing the same computation on tensors (in eval mode)."""
        self.eval()
        return FourierExport(
            self.A.detach().clone(),
            self.Ainv.detach().clone(),
            self._channels,
            self._function,
            self._inplace,
        ).eval()

    def extra_repr(self) -> str:
        quotient = "" if self.subgroup_id is None else f"subgroup_id={self.subgroup_id!r}, "
        return (
            f"{quotient}channels={self._channels}, irreps={self.rho.name!r}, "
            f"out_irreps={self.rho_out.name!r}, |grid|={len(self.grid)}, "
            f"function={self._function!r}, inplace={self._inplace}, "
            f"normalize={self._normalize}"
        )


class FourierPointwise(_FourierBase):
    """Sample each field (a band-limited function on the group, coefficients of
    ``G.spectral_regular_representation(*irreps)``) on ``G.grid(*grid_args, **grid_kwargs)``,
    apply ``function`` (``'p_relu'``, ``'p_elu'``, ``'p_sigmoid'``, ``'p_tanh'``) to the samples
    and project them back (onto ``out_irreps``, default ``irreps``); ``channels`` fields.

    Only approximately equivariant (exactly on the grid's elements). escnn 1.0.11's module, same
    arguments, defaults and numbers; ``inplace`` applies the function in place on the samples
    (never on the input).
    """

    def __init__(
        self,
        gspace: Any,
        channels: int,
        irreps: Sequence[Any],
        *grid_args: Any,
        function: str = "p_relu",
        inplace: bool = True,
        out_irreps: Sequence[Any] | None = None,
        normalize: bool = True,
        **grid_kwargs: Any,
    ) -> None:
        super().__init__()
        self._build(
            gspace, None, channels, irreps, None, grid_args, grid_kwargs,
            function, inplace, out_irreps, normalize,
        )  # fmt: skip


class FourierELU(FourierPointwise):
    """:class:`FourierPointwise` with ``function='p_elu'``."""

    def __init__(
        self,
        gspace: Any,
        channels: int,
        irreps: Sequence[Any],
        *grid_args: Any,
        inplace: bool = True,
        out_irreps: Sequence[Any] | None = None,
        normalize: bool = True,
        **grid_kwargs: Any,
    ) -> None:
        super().__init__(
            gspace, channels, irreps, *grid_args, function="p_elu", inplace=inplace,
            out_irreps=out_irreps, normalize=normalize, **grid_kwargs,
        )  # fmt: skip


class QuotientFourierPointwise(_FourierBase):
    """:class:`FourierPointwise` for functions on the quotient ``G/H`` (``H`` the subgroup
    ``subgroup_id``): fields of ``G.spectral_quotient_representation(subgroup_id, *irreps)``,
    sampled on ``grid`` (group elements) or ``G.grid(*grid_args, **grid_kwargs)``.
    escnn 1.0.11's module, same arguments, defaults and numbers."""

    def __init__(
        self,
        gspace: Any,
        subgroup_id: Any,
        channels: int,
        irreps: Sequence[Any],
        *grid_args: Any,
        grid: Sequence[Any] | None = None,
        function: str = "p_relu",
        inplace: bool = True,
        out_irreps: Sequence[Any] | None = None,
        normalize: bool = True,
        **grid_kwargs: Any,
    ) -> None:
        super().__init__()
        if subgroup_id is None:
            raise ArgumentError(f"{type(self).__name__}: 'subgroup_id' must be a subgroup id")
        self._build(
            gspace, subgroup_id, channels, irreps, grid, grid_args, grid_kwargs,
            function, inplace, out_irreps, normalize,
        )  # fmt: skip


class QuotientFourierELU(QuotientFourierPointwise):
    """:class:`QuotientFourierPointwise` with ``function='p_elu'``."""

    def __init__(
        self,
        gspace: Any,
        subgroup_id: Any,
        channels: int,
        irreps: Sequence[Any],
        *grid_args: Any,
        grid: Sequence[Any] | None = None,
        inplace: bool = True,
        out_irreps: Sequence[Any] | None = None,
        normalize: bool = True,
        **grid_kwargs: Any,
    ) -> None:
        super().__init__(
            gspace, subgroup_id, channels, irreps, *grid_args, grid=grid, function="p_elu",
            inplace=inplace, out_irreps=out_irreps, normalize=normalize, **grid_kwargs,
        )  # fmt: skip


class FourierExport(torch.nn.Module):
    """The exported Fourier non-linearity: the same computation on plain tensors
    ``(B, channels·I, *spatial)``, with ``A`` and ``Ainv`` as (persistent) buffers."""

    def __init__(
        self, A: torch.Tensor, Ainv: torch.Tensor, channels: int, function: str, inplace: bool
    ) -> None:
        super().__init__()
        require_choice(function, _FUNCTIONS, "FourierExport", "function")
        self.register_buffer("A", A)
        self.register_buffer("Ainv", Ainv)
        self.channels = int(channels)
        self.function = function
        self.inplace = bool(inplace)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _fourier_apply(x, self.A, self.Ainv, self.channels, self.function, self.inplace)

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, |grid|={self.A.shape[0]}, in={self.A.shape[1]}, "
            f"out={self.Ainv.shape[0]}, function={self.function!r}, inplace={self.inplace}"
        )
