"""Steerable convolutions: ``R2Conv``, ``R2ConvTransposed``, ``R2Diffop`` and their basis
expansions."""

from __future__ import annotations

from .basis_expansion import (
    BasisExpansion,
    BlocksBasisExpansion,
    SingleBlockBasisExpansion,
    block_basisexpansion,
)
from .r2conv import R2Conv
from .r2conv_transposed import R2ConvTransposed
from .r2diffop import R2Diffop

__all__ = [
    "BasisExpansion",
    "BlocksBasisExpansion",
    "R2Conv",
    "R2ConvTransposed",
    "R2Diffop",
    "SingleBlockBasisExpansion",
    "block_basisexpansion",
]
