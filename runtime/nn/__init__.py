"""The runtime's ``nn`` package, API-compatible with ``e2cnn.nn``.

Importing it is cheap: no sympy, no scipy (the sparse change of basis imports scipy on first
use) and no kernel compiler (loaded on a basis-store miss only).
"""

from .errors import ArgumentError, ArgumentTypeError, FieldTypeMismatchError, SlicingError
from .field_type import FieldType
from .geometric_tensor import GeometricTensor, tensor_directsum
from .modules import *  # noqa: F403
from .modules import __all__ as _modules_all

__all__ = [
    "FieldType",
    "GeometricTensor",
    "tensor_directsum",
    "ArgumentError",
    "ArgumentTypeError",
    "FieldTypeMismatchError",
    "SlicingError",
    *_modules_all,
]

# steerable convolutions and initialisers
from . import init  # noqa: E402
from .modules.conv import (  # noqa: E402
    BasisExpansion,
    BlocksBasisExpansion,
    R2Conv,
    R2ConvTransposed,
    R2Diffop,
    SingleBlockBasisExpansion,
    block_basisexpansion,
)

__all__ += [
    "init",
    "BasisExpansion",
    "BlocksBasisExpansion",
    "R2Conv",
    "R2ConvTransposed",
    "R2Diffop",
    "SingleBlockBasisExpansion",
    "block_basisexpansion",
]
