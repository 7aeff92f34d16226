"""Equivariant partial differential operators (PDOs) on the plane, compiled like kernels.

The public API of the reference library's ``diffops`` package: :class:`DiffopBasis`,
:class:`DiscretizationArgs`, :class:`TensorBasis`, :class:`LaplaceProfile`,
:class:`SteerableDiffopBasis`, the ``diffops_*_act_R2`` factories, ``store_cache``/``load_cache``
(implemented by the runtime: :mod:`e2compile.diffops.storage`) and the module ``utils`` of
polynomial and discretisation helpers. The compiled PDO kind (spec, compile function) is
:mod:`e2compile.diffops.kind`; conventions in docs/pdo.md. sympy (fd) and rbf (rbffd) are imported
only when a basis is discretised with them.

Every name is imported on first use (a module-level ``__getattr__``), so that importing one
submodule (``e2compile.diffops.storage``, which the runtime does at import) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Every public name and the submodule defining it.
_EXPORTS = {
    "DiffopBasis": "basis",
    "TensorBasis": "basis",
    "LaplaceProfile": "basis",
    "SteerableDiffopBasis": "basis",
    "DiscretizationArgs": "discretization",
    "diffops_O2_act_R2": "r2",
    "diffops_SO2_act_R2": "r2",
    "diffops_DN_act_R2": "r2",
    "diffops_CN_act_R2": "r2",
    "diffops_Flip_act_R2": "r2",
    "diffops_Trivial_act_R2": "r2",
    "store_cache": "storage",
    "load_cache": "storage",
}
_SUBMODULES = ("utils",)

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_SUBMODULES})
