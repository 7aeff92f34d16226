"""Groups, their irreducible representations and representations built from them.

Pure numpy. The API follows the reference library ``e2cnn.group``: cyclic and dihedral groups,
SO(2) and O(2); irreps by name (``G.irreps``) or id (``G.irrep(*id)``); regular, quotient,
induced and restricted representations; ``directsum``, ``change_basis`` and ``disentangle``.
"""

from __future__ import annotations

from ._math import COB_DECIMALS, chi, psi, psichi
from .continuous import O2, SO2, o2_group, so2_group
from .cyclic import CyclicGroup, cyclic_group, trivial_group
from .dihedral import DihedralGroup, dihedral_group
from .from_matrices import build_from_discrete_group_representation
from .group import Group
from .intertwiners import (
    IntertwinerBasis,
    endomorphism_basis,
    intertwiner_basis,
    tensor_product,
)
from .representation import (
    IrreducibleRepresentation,
    Representation,
    change_basis,
    directsum,
    disentangle,
)

__all__ = [
    "COB_DECIMALS",
    "Group",
    "CyclicGroup",
    "DihedralGroup",
    "SO2",
    "O2",
    "cyclic_group",
    "dihedral_group",
    "so2_group",
    "o2_group",
    "trivial_group",
    "Representation",
    "IrreducibleRepresentation",
    "directsum",
    "change_basis",
    "disentangle",
    "build_from_discrete_group_representation",
    "psi",
    "chi",
    "psichi",
    "IntertwinerBasis",
    "endomorphism_basis",
    "intertwiner_basis",
    "tensor_product",
]
