"""e2compile: the ahead-of-time compiler of E(2)-steerable kernel and PDO bases.

Public subpackages mirror the reference library: ``group``, ``gspaces``, ``kernels`` and
``diffops``. They are imported lazily so that ``import e2compile`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = (
    "group",
    "gspaces",
    "kernels",
    "diffops",
    "specs",
    "artifact",
    "assembly",
    "compiler",
    "layers",
    "kinds",
    "families",
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
