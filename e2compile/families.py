"""The registry of gspace families: every fact the compiler keys on per family, defined once.

A family (``"rot2d"``, ``"fliprot2d"``, ``"flip2d"``, ``"trivial"``) names a kind of planar
symmetry; ``gspace.family`` says which one a gspace belongs to. Specs, the kernel and PDO
compilers, the layer descriptions and the CLI read the facts from here instead of repeating the
family strings.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

__all__ = ["Family", "FAMILIES", "family", "family_names"]


@dataclass(frozen=True)
class Family:
    """One gspace family.

    Attributes:
        name: the family string (``gspace.family``, ``BasisSpec.family``).
        gspace: class name in :mod:`e2compile.gspaces`.
        rotations: whether the family has a rotation order ``N`` (-1: continuous).
        flips: whether the family has a reflection (and so a reflection ``axis``).
        fixed_N: ``N`` of the families without rotations (2 for the flips, 1 for trivial).
        finite_group, continuous_group: factory names in :mod:`e2compile.group` (the continuous one
            ``None`` when the family has no continuous member).
        finite_basis, continuous_basis: irreps-pair basis class names in
            :mod:`e2compile.kernels` (shared by the kernel and PDO kinds).
    """

    name: str
    gspace: str
    rotations: bool
    flips: bool
    fixed_N: int | None
    finite_group: str
    continuous_group: str | None
    finite_basis: str
    continuous_basis: str | None

    def build_group(self, N: int, maximum_frequency: int | None = None) -> Any:
        """The fiber group (shared instance from the group factories)."""
        from . import group as groups

        if N == -1:
            if self.continuous_group is None:
                raise ValueError(f"the {self.name} family has no continuous group")
            return getattr(groups, self.continuous_group)(maximum_frequency)
        if self.fixed_N is not None:
            return getattr(groups, self.finite_group)(self.fixed_N)
        return getattr(groups, self.finite_group)(N)

    def irreps_basis(self, continuous: bool) -> Any:
        """The irreps-pair basis class of the family's finite or continuous group."""
        name = self.continuous_basis if continuous else self.finite_basis
        if name is None:
            raise ValueError(f"the {self.name} family has no continuous group")
        return getattr(importlib.import_module("e2compile.kernels"), name)

    def gspace_class(self) -> type:
        return getattr(importlib.import_module("e2compile.gspaces"), self.gspace)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("rot2d", "Rot2dOnR2", True, False, None, "cyclic_group", "so2_group",
               "CyclicIrrepsBasis", "SO2IrrepsBasis"),
        Family("fliprot2d", "FlipRot2dOnR2", True, True, None, "dihedral_group", "o2_group",
               "DihedralIrrepsBasis", "O2IrrepsBasis"),
        Family("flip2d", "Flip2dOnR2", False, True, 2, "cyclic_group", None,
               "FlipIrrepsBasis", None),
        Family("trivial", "TrivialOnR2", False, False, 1, "cyclic_group", None,
               "TrivialIrrepsBasis", None),
    )
}  # fmt: skip


def family_names() -> tuple[str, ...]:
    return tuple(FAMILIES)


def family(name: Any) -> Family:
    """The :class:`Family` called ``name``; a clear ``ValueError`` for an unknown one."""
    try:
        return FAMILIES[name]
    except (KeyError, TypeError):
        raise ValueError(f"family must be one of {tuple(FAMILIES)}, got {name!r}") from None
