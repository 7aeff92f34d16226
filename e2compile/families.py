"""The registry of gspace families: every fact the compiler keys on per family, defined once.

A family (``"rot2d"``, ``"fliprot2d"``, ``"flip2d"``, ``"trivial"``) names a kind of planar
symmetry; ``gspace.family`` says which one a gspace belongs to. Specs, the kernel and PDO
compilers, the size estimates, the layer descriptions, the equivariance check and the CLI read
the facts from here instead of repeating the family strings; how an element moves the plane is
the gspace's own ``planar_action``.

Adding a family: its group (:mod:`e2compile.group`), its gspace (:mod:`e2compile.gspaces`, with
``family`` and ``planar_action``), its irreps-pair basis (:mod:`e2compile.kernels.irreps_basis`)
and one :class:`Family` in :data:`FAMILIES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
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
        harmonics_per_pair: harmonic families of a pair of irreps on one ring, before aliasing
            (an upper bound: the size estimates of :mod:`e2compile.budget`).
        finite_irreps, continuous_irreps: the number of irreps (an upper bound) of the finite
            group of parameter ``N`` and of the continuous one of ``maximum_frequency``, known
            before the group is built.
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
    harmonics_per_pair: int
    finite_irreps: Callable[[int], int]
    continuous_irreps: Callable[[int], int] | None = None

    def irreps_count(self, N: int, maximum_frequency: int | None = None) -> int:
        """How many irreps the group of ``N`` (-1: continuous, of ``maximum_frequency``) has at
        most, without building it."""
        if N == -1:
            if self.continuous_irreps is None:
                raise ValueError(f"the {self.name} family has no continuous group")
            return self.continuous_irreps(maximum_frequency or 0)
        return self.finite_irreps(self.fixed_N or N)

    def period(self, N: int) -> int:
        """The period of the aliased frequencies of the finite group of ``N`` (its rotations)."""
        return N if self.rotations else 1

    def spec_N(self, gspace: Any) -> int:
        """The ``N`` a spec holds for ``gspace``: -1 when continuous, else the parameter of the
        finite group (:attr:`fixed_N` for the families without rotations)."""
        if gspace.fibergroup.order() < 0:
            return -1
        return self.fixed_N or int(gspace.N)

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


def _cyclic_irreps(N: int) -> int:
    return N // 2 + 1


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        # rotation harmonics: 2 phases x 2 signs per pair; C_N: trivial, N//2 - 1 two-dim and
        # (N even) the sign irrep; SO(2): frequencies 0..maximum_frequency
        Family("rot2d", "Rot2dOnR2", True, False, None, "cyclic_group", "so2_group",
               "CyclicIrrepsBasis", "SO2IrrepsBasis", harmonics_per_pair=4,
               finite_irreps=_cyclic_irreps, continuous_irreps=lambda m: m + 1),
        # D_N: at most four one-dim irreps and N//2 - 1 two-dim ones; O(2): two one-dim more
        Family("fliprot2d", "FlipRot2dOnR2", True, True, None, "dihedral_group", "o2_group",
               "DihedralIrrepsBasis", "O2IrrepsBasis", harmonics_per_pair=2,
               finite_irreps=lambda N: N // 2 + 3, continuous_irreps=lambda m: m + 2),
        Family("flip2d", "Flip2dOnR2", False, True, 2, "cyclic_group", None,
               "FlipIrrepsBasis", None, harmonics_per_pair=2, finite_irreps=_cyclic_irreps),
        Family("trivial", "TrivialOnR2", False, False, 1, "cyclic_group", None,
               "TrivialIrrepsBasis", None, harmonics_per_pair=2, finite_irreps=_cyclic_irreps),
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
