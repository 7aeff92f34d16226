"""Factories of equivariant PDO bases on the plane, one per symmetry group family.

Each returns a :class:`~e2compile.diffops.TensorBasis`: the angular solutions of the family as
homogeneous polynomials times the powers of the Laplacian up to ``max_power``. Signatures follow
the reference library so that ported code runs unchanged. For finite groups ``max_frequency``
bounds ``|mu|`` and ``max_offset`` bounds ``|t|`` in the aliased frequencies ``mu = k + t N``; at
least one must be given.
"""

from __future__ import annotations

import math
from typing import Any

from ..families import FAMILIES
from .basis import TensorBasis
from .discretization import DiscretizationArgs

__all__ = [
    "diffops_SO2_act_R2",
    "diffops_O2_act_R2",
    "diffops_CN_act_R2",
    "diffops_DN_act_R2",
    "diffops_Flip_act_R2",
    "diffops_Trivial_act_R2",
]

_DEFAULT = DiscretizationArgs()


def _basis(
    family: str,
    continuous: bool,
    in_repr: Any,
    out_repr: Any,
    max_power: int,
    discretization: DiscretizationArgs,
    **params: Any,
) -> TensorBasis:
    for name, r in (("in_repr", in_repr), ("out_repr", out_repr)):
        if not hasattr(r, "group") or not hasattr(r, "irreps"):
            raise TypeError(f"{name} must be a Representation, got {type(r).__name__}")
    irreps_basis = FAMILIES[family].irreps_basis(continuous)
    irreps_basis.check_arguments(
        in_repr.group, params.get("max_frequency"), params.get("max_offset")
    )
    if "axis" in params:
        params["axis"] = float(params["axis"])
        if not math.isfinite(params["axis"]):
            raise ValueError(f"axis must be a finite angle, got {params['axis']}")
    return TensorBasis(irreps_basis, in_repr, out_repr, max_power, discretization, **params)


def diffops_SO2_act_R2(
    in_repr: Any, out_repr: Any, max_power: int, discretization: DiscretizationArgs = _DEFAULT
) -> TensorBasis:
    """PDOs equivariant under all rotations (SO(2))."""
    return _basis("rot2d", True, in_repr, out_repr, max_power, discretization)


def diffops_O2_act_R2(
    in_repr: Any,
    out_repr: Any,
    max_power: int,
    axis: float = math.pi / 2,
    discretization: DiscretizationArgs = _DEFAULT,
) -> TensorBasis:
    """PDOs equivariant under rotations and the reflection across ``axis`` (O(2))."""
    return _basis("fliprot2d", True, in_repr, out_repr, max_power, discretization, axis=axis)


def diffops_CN_act_R2(
    in_repr: Any,
    out_repr: Any,
    max_power: int,
    max_frequency: int | None = None,
    max_offset: int | None = None,
    discretization: DiscretizationArgs = _DEFAULT,
) -> TensorBasis:
    """PDOs equivariant under the N rotations of C_N."""
    return _basis(
        "rot2d", False, in_repr, out_repr, max_power, discretization,
        max_frequency=max_frequency, max_offset=max_offset,
    )  # fmt: skip


def diffops_DN_act_R2(
    in_repr: Any,
    out_repr: Any,
    max_power: int,
    axis: float = math.pi / 2,
    max_frequency: int | None = None,
    max_offset: int | None = None,
    discretization: DiscretizationArgs = _DEFAULT,
) -> TensorBasis:
    """PDOs equivariant under D_N (reflection across ``axis``)."""
    return _basis(
        "fliprot2d", False, in_repr, out_repr, max_power, discretization,
        axis=axis, max_frequency=max_frequency, max_offset=max_offset,
    )  # fmt: skip


def diffops_Flip_act_R2(
    in_repr: Any,
    out_repr: Any,
    max_power: int,
    axis: float = math.pi / 2,
    max_frequency: int | None = None,
    max_offset: int | None = None,
    discretization: DiscretizationArgs = _DEFAULT,
) -> TensorBasis:
    """PDOs equivariant under the reflection across ``axis``."""
    return _basis(
        "flip2d", False, in_repr, out_repr, max_power, discretization,
        axis=axis, max_frequency=max_frequency, max_offset=max_offset,
    )  # fmt: skip


def diffops_Trivial_act_R2(
    in_repr: Any,
    out_repr: Any,
    max_power: int,
    max_frequency: int | None = None,
    max_offset: int | None = None,
    discretization: DiscretizationArgs = _DEFAULT,
) -> TensorBasis:
    """Unconstrained PDOs (the trivial group)."""
    return _basis(
        "trivial", False, in_repr, out_repr, max_power, discretization,
        max_frequency=max_frequency, max_offset=max_offset,
    )  # fmt: skip
