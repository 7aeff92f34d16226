"""The concrete G-spaces on the plane: rotations, rotations and flips, flips only, nothing."""

from __future__ import annotations

import math
from typing import Any

from ..group import (
    O2,
    SO2,
    CyclicGroup,
    DihedralGroup,
    Group,
    cyclic_group,
    dihedral_group,
    o2_group,
    so2_group,
    trivial_group,
)
from ..group._checks import is_int
from .gspace import GeneralOnR2, GSpace, normalize_axis

__all__ = ["Rot2dOnR2", "FlipRot2dOnR2", "Flip2dOnR2", "TrivialOnR2"]

_TWO_PI = 2.0 * math.pi


def _check_N(N: Any) -> int:
    if not is_int(N):
        raise TypeError(f"N: expected an int (> 1, or -1 for continuous rotations), got {N!r}")
    N = int(N)
    if N == -1 or N > 1:
        return N
    if N == 1:
        raise ValueError("N: must be > 1 or -1; N = 1 has no rotations (use a flip/trivial gspace)")
    raise ValueError(f"N: must be an int > 1 or -1 (continuous rotations), got {N}")


class Rot2dOnR2(GeneralOnR2):
    """Rotations of the plane: ``C_N`` (``N > 1``) or SO(2) (``N = -1``, irreps bounded by
    ``maximum_frequency``, default 10)."""

    family = "rot2d"

    def __init__(
        self,
        N: int | None = 8,
        maximum_frequency: int | None = None,
        fibergroup: Group | None = None,
    ) -> None:
        if fibergroup is not None:
            if not isinstance(fibergroup, (CyclicGroup, SO2)):
                raise TypeError(f"fibergroup: expected C_N or SO(2), got {fibergroup!r}")
            if maximum_frequency is not None:
                raise ValueError("maximum_frequency: cannot be set together with fibergroup")
        else:
            N = _check_N(N)
            if N == -1:
                fibergroup = so2_group(maximum_frequency)
            else:
                if maximum_frequency is not None:
                    raise ValueError(
                        "maximum_frequency: only valid for continuous rotations (N = -1)"
                    )
                fibergroup = cyclic_group(N)
        if fibergroup.continuous:
            name = "Continuous-Rotations"
        else:
            name = f"{fibergroup.order()}-Rotations"
        super().__init__(fibergroup, name, None)

    @classmethod
    def _from_fibergroup(cls, fibergroup: Group, axis: float | None) -> Rot2dOnR2:
        return cls(fibergroup=fibergroup)

    def _planar_action(self, element: Any) -> tuple[float, bool]:
        e = self.fibergroup._check(element, "element")
        if self.fibergroup.continuous:
            return e, False
        return _TWO_PI * e / self.N, False

    def restrict(self, id: Any) -> tuple[GSpace, Any, Any]:
        """``id`` is an int ``M`` (``C_M``, ``M`` dividing ``N``; ``-1`` keeps SO(2)); ``M = 1``
        gives :class:`TrivialOnR2`."""
        sub, parent, child = self.fibergroup.subgroup(id)
        if sub.order() == 1:
            return TrivialOnR2(fibergroup=sub), parent, child
        return Rot2dOnR2(fibergroup=sub), parent, child


class FlipRot2dOnR2(GeneralOnR2):
    """Rotations and reflections of the plane: ``D_N`` (``N > 1``) or O(2) (``N = -1``).

    The group element ``(1, 0)`` is the reflection across the line through the origin at angle
    ``axis`` (radians, reduced to ``[0, π)``; default ``π/2``, the vertical axis).
    """

    family = "fliprot2d"

    def __init__(
        self,
        N: int | None = None,
        maximum_frequency: int | None = None,
        axis: float = math.pi / 2,
        fibergroup: Group | None = None,
    ) -> None:
        if fibergroup is not None:
            if not isinstance(fibergroup, (DihedralGroup, O2)):
                raise TypeError(f"fibergroup: expected D_N or O(2), got {fibergroup!r}")
            if maximum_frequency is not None:
                raise ValueError("maximum_frequency: cannot be set together with fibergroup")
        else:
            if N is None:
                raise TypeError("N: required (an int > 1, or -1 for O(2))")
            N = _check_N(N)
            if N == -1:
                fibergroup = o2_group(maximum_frequency)
            else:
                if maximum_frequency is not None:
                    raise ValueError(
                        "maximum_frequency: only valid for continuous rotations (N = -1)"
                    )
                fibergroup = dihedral_group(N)
        axis = normalize_axis(axis)
        if fibergroup.continuous:
            name = f"Flip_Continuous-Rotations(f={axis:.5f})"
        else:
            name = f"Flip_{fibergroup.rotation_order}-Rotations(f={axis:.5f})"
        super().__init__(fibergroup, name, axis)

    @classmethod
    def _from_fibergroup(cls, fibergroup: Group, axis: float | None) -> FlipRot2dOnR2:
        return cls(fibergroup=fibergroup, axis=axis)

    def _planar_action(self, element: Any) -> tuple[float, bool]:
        f, r = self.fibergroup._check(element, "element")
        angle = r if self.fibergroup.continuous else _TWO_PI * r / self.N
        if f:
            angle += 2.0 * self.axis
        return angle, bool(f)

    def restrict(self, id: Any) -> tuple[GSpace, Any, Any]:
        """``id = (k, M)``: ``k = None`` drops the reflections; otherwise the new axis is
        ``axis + k·π/N`` (D_N, int ``k``) or ``axis + k/2`` (O(2), float ``k``). ``M`` is the
        number of rotations (dividing ``N`` for D_N; ``-1`` keeps SO(2)/O(2)); ``M = 1`` gives
        :class:`Flip2dOnR2` or :class:`TrivialOnR2`."""
        G = self.fibergroup
        k, M = G._canonical_subgroup_id(id)
        sub, parent, child = G.subgroup((k, M))
        if k is None:
            if sub.order() == 1:
                return TrivialOnR2(fibergroup=sub), parent, child
            return Rot2dOnR2(fibergroup=sub), parent, child
        shift = k / 2.0 if G.continuous else k * math.pi / self.N
        new_axis = self.axis + shift
        if M == 1:
            return Flip2dOnR2(axis=new_axis, fibergroup=sub), parent, child
        return FlipRot2dOnR2(axis=new_axis, fibergroup=sub), parent, child


class Flip2dOnR2(GeneralOnR2):
    """Reflections of the plane across the line at angle ``axis``; the fiber group is ``C_2``
    (element 1 is the reflection)."""

    family = "flip2d"

    def __init__(self, axis: float = math.pi / 2, fibergroup: Group | None = None) -> None:
        if fibergroup is None:
            fibergroup = cyclic_group(2)
        elif fibergroup != cyclic_group(2):
            raise TypeError(f"fibergroup: expected C_2, got {fibergroup!r}")
        axis = normalize_axis(axis)
        super().__init__(fibergroup, f"Flips(f={axis:.5f})", axis)
        self.N = 1

    @classmethod
    def _from_fibergroup(cls, fibergroup: Group, axis: float | None) -> Flip2dOnR2:
        return cls(axis=axis, fibergroup=fibergroup)

    def _planar_action(self, element: Any) -> tuple[float, bool]:
        s = self.fibergroup._check(element, "element")
        return (2.0 * self.axis if s else 0.0), bool(s)

    def restrict(self, id: Any) -> tuple[GSpace, Any, Any]:
        """``id = 1`` gives :class:`TrivialOnR2`, ``id = 2`` the space itself."""
        sub, parent, child = self.fibergroup.subgroup(id)
        if sub.order() == 1:
            return TrivialOnR2(fibergroup=sub), parent, child
        return self, parent, child


class TrivialOnR2(GeneralOnR2):
    """The plane with no symmetry besides translations; the fiber group is ``C_1``."""

    family = "trivial"

    def __init__(self, fibergroup: Group | None = None) -> None:
        if fibergroup is None:
            fibergroup = trivial_group()
        elif fibergroup != trivial_group():
            raise TypeError(f"fibergroup: expected the trivial group C_1, got {fibergroup!r}")
        super().__init__(fibergroup, "Trivial", None)
        self.N = 1

    @classmethod
    def _from_fibergroup(cls, fibergroup: Group, axis: float | None) -> TrivialOnR2:
        return cls(fibergroup=fibergroup)

    def _planar_action(self, element: Any) -> tuple[float, bool]:
        self.fibergroup._check(element, "element")
        return 0.0, False

    def restrict(self, id: Any) -> tuple[GSpace, Any, Any]:
        """Only ``id = 1`` (the space itself)."""
        sub, parent, child = self.fibergroup.subgroup(id)
        return self, parent, child
