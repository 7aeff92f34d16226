"""Angular kernel bases between two irreducible representations, one class per group family.

Each class resolves the two irreps of its group, asks :mod:`e2compile.kernels.harmonics` for the
analytic solution and samples it. They are the building blocks that
:class:`~e2compile.kernels.SteerableKernelBasis` instantiates for every pair of irreps.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from .basis import KernelBasis, polar_coordinates
from .harmonics import (
    Harmonics,
    flip_harmonics,
    flip_rotation_harmonics,
    rotation_harmonics,
    sample_harmonics,
)

__all__ = [
    "IrrepsBasis",
    "CyclicIrrepsBasis",
    "SO2IrrepsBasis",
    "DihedralIrrepsBasis",
    "O2IrrepsBasis",
    "FlipIrrepsBasis",
    "TrivialIrrepsBasis",
]


def resolve_irrep(group: Any, irrep: Any, argument: str) -> Any:
    """Turn a name, an id (int or tuple) or an irrep object into an irrep of ``group``."""
    if isinstance(irrep, str):
        try:
            return group.irreps[irrep]
        except KeyError:
            raise ValueError(f"{argument}: {group.name} has no irrep named {irrep!r}") from None
    if isinstance(irrep, (int, np.integer)) and not isinstance(irrep, bool):
        return group.irrep(int(irrep))
    if isinstance(irrep, tuple):
        return group.irrep(*irrep)
    if not hasattr(irrep, "size") or not hasattr(irrep, "frequency"):
        raise TypeError(f"{argument} must be an irrep, its name or its id, got {irrep!r}")
    if getattr(irrep, "group", group) != group:
        raise ValueError(f"{argument} is an irrep of {irrep.group.name}, not of {group.name}")
    return irrep


def _check_bounds(max_frequency: int | None, max_offset: int | None) -> None:
    for name, value in (("max_frequency", max_frequency), ("max_offset", max_offset)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0
        ):
            raise ValueError(f"{name} must be a non-negative integer or None, got {value!r}")
    if max_frequency is None and max_offset is None:
        raise ValueError(
            "the basis of a finite group needs max_frequency or max_offset to be finite"
        )


def _check_group(group: Any, cls_name: str, expected: str, **order: int) -> None:
    from e2compile import group as groups

    cls = getattr(groups, cls_name)
    if not isinstance(group, cls):
        raise TypeError(f"expected a group of type {expected}, got {group!r}")
    if "order" in order and group.order() != order["order"]:
        raise TypeError(f"expected {expected}, got {group.name}")


class IrrepsBasis(KernelBasis):
    """Angular basis solving the kernel constraint between ``in_irrep`` and ``out_irrep``.

    Attributes:
        group, in_irrep, out_irrep: the group and the two irreps.
        harmonics: the analytic solution (:class:`~e2compile.kernels.harmonics.Harmonics`).
        axis: angle (radians, counter-clockwise from the x axis) the harmonics are measured from;
            the reflection axis for groups with flips, 0 otherwise.
        max_frequency, max_offset: the bounds on the aliased frequencies (finite groups only).

    Each subclass names the group family it solves for in the class attributes below, which
    :meth:`check_arguments` checks (also before any pair is solved, by the ``kernels_*_act_R2``
    factories).
    """

    #: The group family: the class name in :mod:`e2compile.group`, how messages name it, and an
    #: order the group must have (``None``: any).
    group_type: ClassVar[str] = ""
    group_description: ClassVar[str] = ""
    group_order: ClassVar[int | None] = None
    #: Finite groups alias frequencies: their bases need ``max_frequency`` or ``max_offset``.
    finite: ClassVar[bool] = False

    def __init__(
        self, group: Any, in_irrep: Any, out_irrep: Any, harmonics: Harmonics, axis: float = 0.0
    ):
        self.group = group
        self.in_irrep = in_irrep
        self.out_irrep = out_irrep
        self.harmonics = harmonics
        self.axis = float(axis)
        super().__init__(len(harmonics), (out_irrep.size, in_irrep.size))

    @classmethod
    def check_arguments(
        cls, group: Any, max_frequency: int | None = None, max_offset: int | None = None
    ) -> None:
        """Raise unless ``group`` is of this basis's family (and, for a finite group, unless the
        frequency bounds are valid)."""
        order = {} if cls.group_order is None else {"order": cls.group_order}
        _check_group(group, cls.group_type, cls.group_description, **order)
        if cls.finite:
            _check_bounds(max_frequency, max_offset)

    def _resolve_pair(
        self,
        group: Any,
        in_irrep: Any,
        out_irrep: Any,
        max_frequency: int | None = None,
        max_offset: int | None = None,
    ) -> tuple[Any, Any]:
        """Check the arguments (:meth:`check_arguments`) and return the two irreps; finite
        families keep the bounds as attributes."""
        self.check_arguments(group, max_frequency, max_offset)
        if self.finite:
            self.max_frequency, self.max_offset = max_frequency, max_offset
        return (
            resolve_irrep(group, in_irrep, "in_irrep"),
            resolve_irrep(group, out_irrep, "out_irrep"),
        )

    def sample_angles(self, angles: np.ndarray, origin: np.ndarray | None = None) -> np.ndarray:
        """Evaluate on angles ``(P,)``; ``origin`` flags points at the origin."""
        return sample_harmonics(
            self.harmonics, self.shape[0], self.shape[1], angles, origin, axis=self.axis
        )

    def _sample(self, points: np.ndarray) -> np.ndarray:
        if points.shape[0] == 1:  # angles, as the reference's angular bases take them
            return self.sample_angles(points[0])
        _, angles, origin = polar_coordinates(points)
        return self.sample_angles(angles, origin)

    def attribute_columns(self) -> dict[str, np.ndarray]:
        h = self.harmonics
        columns = {
            "frequency": np.asarray(h.frequency, dtype=np.int64),
            "gamma": np.asarray(h.gamma, dtype=np.float64),
        }
        if any(s is not None for s in h.s):
            columns["s"] = np.asarray(h.s, dtype=object)
        if any(t is not None for t in h.offset):
            columns["offset"] = np.asarray(h.offset, dtype=object)
        columns["idx"] = np.arange(self.dim)
        return columns

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and self.group == other.group
            and self.in_irrep == other.in_irrep
            and self.out_irrep == other.out_irrep
            and self.axis == other.axis
            and self.harmonics == other.harmonics
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.in_irrep.name, self.out_irrep.name, self.harmonics))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.group.name}: {self.in_irrep.name} -> "
            f"{self.out_irrep.name}, dim={self.dim})"
        )


class CyclicIrrepsBasis(IrrepsBasis):
    """Irreps basis of the cyclic group C_N (N rotations by multiples of 2 pi / N)."""

    group_type, group_description, finite = "CyclicGroup", "a cyclic group C_N", True

    def __init__(
        self,
        group: Any,
        in_irrep: Any,
        out_irrep: Any,
        max_frequency: int | None = None,
        max_offset: int | None = None,
    ):
        i, o = self._resolve_pair(group, in_irrep, out_irrep, max_frequency, max_offset)
        h = rotation_harmonics(
            i.size, i.frequency, o.size, o.frequency, group.order(), max_frequency, max_offset
        )
        super().__init__(group, i, o, h)


class TrivialIrrepsBasis(CyclicIrrepsBasis):
    """Unconstrained kernels: the basis of C_1 (every harmonic ``cos``/``sin`` of ``mu >= 0``)."""

    group_description, group_order = "the trivial group C_1", 1


class SO2IrrepsBasis(IrrepsBasis):
    """Irreps basis of SO(2): one frequency per block family, no aliasing."""

    group_type, group_description = "SO2", "SO(2)"

    def __init__(self, group: Any, in_irrep: Any, out_irrep: Any):
        i, o = self._resolve_pair(group, in_irrep, out_irrep)
        h = rotation_harmonics(i.size, i.frequency, o.size, o.frequency, -1)
        super().__init__(group, i, o, h)


class DihedralIrrepsBasis(IrrepsBasis):
    """Irreps basis of D_N; ``axis`` is the angle of the reflection axis of the flip element."""

    group_type, group_description, finite = "DihedralGroup", "a dihedral group D_N", True

    def __init__(
        self,
        group: Any,
        in_irrep: Any,
        out_irrep: Any,
        axis: float = math.pi / 2,
        max_frequency: int | None = None,
        max_offset: int | None = None,
    ):
        i, o = self._resolve_pair(group, in_irrep, out_irrep, max_frequency, max_offset)
        h = flip_rotation_harmonics(
            i.size,
            i.frequency,
            i.flip_frequency,
            o.size,
            o.frequency,
            o.flip_frequency,
            group.order() // 2,
            max_frequency,
            max_offset,
        )
        super().__init__(group, i, o, h, axis=axis)


class O2IrrepsBasis(IrrepsBasis):
    """Irreps basis of O(2); ``axis`` is the angle of the reflection axis of the flip element."""

    group_type, group_description = "O2", "O(2)"

    def __init__(self, group: Any, in_irrep: Any, out_irrep: Any, axis: float = math.pi / 2):
        i, o = self._resolve_pair(group, in_irrep, out_irrep)
        h = flip_rotation_harmonics(
            i.size, i.frequency, i.flip_frequency, o.size, o.frequency, o.flip_frequency, -1
        )
        super().__init__(group, i, o, h, axis=axis)


class FlipIrrepsBasis(IrrepsBasis):
    """Irreps basis of the reflection group C_2 = {e, f}, f reflecting across ``axis``."""

    group_type, group_description, finite = "CyclicGroup", "the reflection group C_2", True
    group_order = 2

    def __init__(
        self,
        group: Any,
        in_irrep: Any,
        out_irrep: Any,
        axis: float = math.pi / 2,
        max_frequency: int | None = None,
        max_offset: int | None = None,
    ):
        i, o = self._resolve_pair(group, in_irrep, out_irrep, max_frequency, max_offset)
        h = flip_harmonics(i.frequency, o.frequency, max_frequency, max_offset)
        super().__init__(group, i, o, h, axis=axis)
