"""Equivariant partial differential operators (PDOs) on the plane, compiled like kernels.

The public API of the reference library's ``diffops`` package: :class:`DiffopBasis`,
:class:`DiscretizationArgs`, :class:`TensorBasis`, :class:`LaplaceProfile`,
:class:`SteerableDiffopBasis`, the ``diffops_*_act_R2`` factories and ``store_cache``/``load_cache``
(backed by the artifact store), and the module ``utils`` of polynomial and discretisation helpers
(imported when first used). The compiled PDO kind (spec, compile function) is
:mod:`e2compile.diffops.kind`; conventions in docs/pdo.md. sympy (fd) and rbf (rbffd) are imported
only when a basis is discretised with them.
"""

from __future__ import annotations

import importlib
from typing import Any

from .basis import DiffopBasis, LaplaceProfile, SteerableDiffopBasis, TensorBasis
from .discretization import DiscretizationArgs
from .r2 import (
    diffops_CN_act_R2,
    diffops_DN_act_R2,
    diffops_Flip_act_R2,
    diffops_O2_act_R2,
    diffops_SO2_act_R2,
    diffops_Trivial_act_R2,
)
from .storage import load_cache, store_cache

__all__ = [
    "DiffopBasis",
    "DiscretizationArgs",
    "TensorBasis",
    "LaplaceProfile",
    "SteerableDiffopBasis",
    "diffops_O2_act_R2",
    "diffops_SO2_act_R2",
    "diffops_DN_act_R2",
    "diffops_CN_act_R2",
    "diffops_Flip_act_R2",
    "diffops_Trivial_act_R2",
    "store_cache",
    "load_cache",
]


def __getattr__(name: str) -> Any:
    if name == "utils":
        return importlib.import_module(f"{__name__}.utils")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
