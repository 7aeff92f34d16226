"""Factories of equivariant kernel bases on the plane, one per symmetry group family.

Each returns a :class:`~e2compile.kernels.PolarBasis`: Gaussian rings (``radii``, ``sigma``)
times the angular :class:`~e2compile.kernels.SteerableKernelBasis` of the pair of representations.
The signatures follow the reference library (e2cnn) so that code written against it ports
unchanged. For finite groups, ``max_frequency`` bounds ``|mu|`` and ``max_offset`` bounds ``|t|``
in the aliased frequencies ``mu = k + t N``; at least one must be given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .basis import GaussianRadialProfile, KernelBasis, PolarBasis
from .irreps_basis import (
    CyclicIrrepsBasis,
    DihedralIrrepsBasis,
    FlipIrrepsBasis,
    IrrepsBasis,
    O2IrrepsBasis,
    SO2IrrepsBasis,
    TrivialIrrepsBasis,
)
from .steerable_basis import SteerableKernelBasis

__all__ = [
    "kernels_SO2_act_R2",
    "kernels_O2_act_R2",
    "kernels_CN_act_R2",
    "kernels_DN_act_R2",
    "kernels_Flip_act_R2",
    "kernels_Trivial_act_R2",
]


def _group_of(in_repr: Any, out_repr: Any) -> Any:
    for name, r in (("in_repr", in_repr), ("out_repr", out_repr)):
        if not hasattr(r, "group") or not hasattr(r, "irreps"):
            raise TypeError(f"{name} must be a Representation, got {type(r).__name__}")
    if in_repr.group != out_repr.group:
        raise ValueError(
            f"out_repr belongs to {out_repr.group.name} but in_repr to {in_repr.group.name}"
        )
    return in_repr.group


def _axis(axis: Any) -> float:
    axis = float(axis)
    if not math.isfinite(axis):
        raise ValueError(f"axis must be a finite angle, got {axis}")
    return axis


def _kernels(
    irreps_basis: type[IrrepsBasis],
    in_repr: Any,
    out_repr: Any,
    radii: Sequence[float],
    sigma: Sequence[float] | float,
    **params: Any,
) -> KernelBasis:
    """Gaussian rings times the angular basis that ``irreps_basis`` builds for every pair of
    irreps. The group and the frequency bounds are checked before any pair is solved; ``params``
    (``axis``, ``max_frequency``, ``max_offset``) go to ``irreps_basis``."""
    group = _group_of(in_repr, out_repr)
    irreps_basis.check_arguments(group, params.get("max_frequency"), params.get("max_offset"))
    if "axis" in params:
        params["axis"] = _axis(params["axis"])
    angular = SteerableKernelBasis(irreps_basis, in_repr, out_repr, **params)
    return PolarBasis(GaussianRadialProfile(radii, sigma), angular)


def kernels_SO2_act_R2(
    in_repr: Any, out_repr: Any, radii: Sequence[float], sigma: Sequence[float] | float
) -> KernelBasis:
    """Kernels equivariant under all rotations (SO(2)) between two of its representations."""
    return _kernels(SO2IrrepsBasis, in_repr, out_repr, radii, sigma)


def kernels_O2_act_R2(
    in_repr: Any,
    out_repr: Any,
    radii: Sequence[float],
    sigma: Sequence[float] | float,
    axis: float = math.pi / 2,
) -> KernelBasis:
    """Kernels equivariant under rotations and the reflection across ``axis`` (O(2))."""
    return _kernels(O2IrrepsBasis, in_repr, out_repr, radii, sigma, axis=axis)


def kernels_CN_act_R2(
    in_repr: Any,
    out_repr: Any,
    radii: Sequence[float],
    sigma: Sequence[float] | float,
    max_frequency: int | None = None,
    max_offset: int | None = None,
) -> KernelBasis:
    """Kernels equivariant under the N rotations of the cyclic group C_N."""
    return _kernels(
        CyclicIrrepsBasis,
        in_repr,
        out_repr,
        radii,
        sigma,
        max_frequency=max_frequency,
        max_offset=max_offset,
    )


def kernels_DN_act_R2(
    in_repr: Any,
    out_repr: Any,
    radii: Sequence[float],
    sigma: Sequence[float] | float,
    axis: float = math.pi / 2,
    max_frequency: int | None = None,
    max_offset: int | None = None,
) -> KernelBasis:
    """Kernels equivariant under the dihedral group D_N (reflection across ``axis``)."""
    return _kernels(
        DihedralIrrepsBasis,
        in_repr,
        out_repr,
        radii,
        sigma,
        axis=axis,
        max_frequency=max_frequency,
        max_offset=max_offset,
    )


def kernels_Flip_act_R2(
    in_repr: Any,
    out_repr: Any,
    radii: Sequence[float],
    sigma: Sequence[float] | float,
    axis: float = math.pi / 2,
    max_frequency: int | None = None,
    max_offset: int | None = None,
) -> KernelBasis:
    """Kernels equivariant under the reflection across ``axis`` (group C_2 = {e, f})."""
    return _kernels(
        FlipIrrepsBasis,
        in_repr,
        out_repr,
        radii,
        sigma,
        axis=axis,
        max_frequency=max_frequency,
        max_offset=max_offset,
    )


def kernels_Trivial_act_R2(
    in_repr: Any,
    out_repr: Any,
    radii: Sequence[float],
    sigma: Sequence[float] | float,
    max_frequency: int | None = None,
    max_offset: int | None = None,
) -> KernelBasis:
    """Unconstrained kernels (trivial group C_1), expanded in circular harmonics."""
    return _kernels(
        TrivialIrrepsBasis,
        in_repr,
        out_repr,
        radii,
        sigma,
        max_frequency=max_frequency,
        max_offset=max_offset,
    )
