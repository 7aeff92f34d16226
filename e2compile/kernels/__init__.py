"""Steerable kernel bases on the plane: analytic solutions of the kernel constraint.

``kernels_*_act_R2`` build the basis of equivariant kernels between two representations of a planar
symmetry group, as Gaussian rings times the angular solution. ``psi``/``chi``/``psichi`` (also in
the module ``utils``, as in the reference library) give batched rotation and reflection matrices.
Everything here is numpy only.
"""

from __future__ import annotations

from .basis import EmptyBasisException, GaussianRadialProfile, KernelBasis, PolarBasis
from .harmonics import (
    Harmonics,
    flip_harmonics,
    flip_rotation_harmonics,
    rotation_harmonics,
    sample_harmonics,
)
from .irreps_basis import (
    CyclicIrrepsBasis,
    DihedralIrrepsBasis,
    FlipIrrepsBasis,
    IrrepsBasis,
    O2IrrepsBasis,
    SO2IrrepsBasis,
    TrivialIrrepsBasis,
)
from .r2 import (
    kernels_CN_act_R2,
    kernels_DN_act_R2,
    kernels_Flip_act_R2,
    kernels_O2_act_R2,
    kernels_SO2_act_R2,
    kernels_Trivial_act_R2,
)
from .steerable_basis import SteerableKernelBasis
from .utils import chi, psi, psichi

__all__ = [
    "EmptyBasisException",
    "KernelBasis",
    "GaussianRadialProfile",
    "PolarBasis",
    "SteerableKernelBasis",
    "IrrepsBasis",
    "CyclicIrrepsBasis",
    "TrivialIrrepsBasis",
    "SO2IrrepsBasis",
    "DihedralIrrepsBasis",
    "O2IrrepsBasis",
    "FlipIrrepsBasis",
    "Harmonics",
    "rotation_harmonics",
    "flip_rotation_harmonics",
    "flip_harmonics",
    "sample_harmonics",
    "kernels_SO2_act_R2",
    "kernels_O2_act_R2",
    "kernels_CN_act_R2",
    "kernels_DN_act_R2",
    "kernels_Flip_act_R2",
    "kernels_Trivial_act_R2",
    "psi",
    "chi",
    "psichi",
]
