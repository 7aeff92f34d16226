"""Picklable maps between the elements of a group and those of one of its subgroups.

Each map is a small frozen dataclass (never a lambda) so that groups, gspaces and whatever holds
their maps can be pickled. ``*Parent`` maps send a subgroup element to the parent group; ``*Child``
maps send a parent element to the subgroup, or to ``None`` when it is not in the subgroup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._math import TWO_PI, angle_close, angle_mod

__all__ = [
    "IdentityMap",
    "CyclicInCyclicParent",
    "CyclicInCyclicChild",
    "CyclicInDihedralParent",
    "CyclicInDihedralChild",
    "DihedralInDihedralParent",
    "DihedralInDihedralChild",
    "FlipInDihedralParent",
    "FlipInDihedralChild",
    "CyclicInSO2Parent",
    "CyclicInSO2Child",
    "CyclicInO2Parent",
    "CyclicInO2Child",
    "SO2InO2Parent",
    "SO2InO2Child",
    "DihedralInO2Parent",
    "DihedralInO2Child",
    "FlipInO2Parent",
    "FlipInO2Child",
    "O2InO2Parent",
    "O2InO2Child",
]

_TOL = 1e-9


def _multiple(theta: float, step: float, m: int) -> int | None:
    """Return ``r`` in ``0..m-1`` with ``theta == r * step (mod 2 pi)``, else ``None``."""
    x = angle_mod(theta) / step
    r = int(round(x))
    if abs(x - r) * step > _TOL:
        return None
    return r % m


@dataclass(frozen=True)
class IdentityMap:
    """Identity on the elements of ``group`` (used when the subgroup is the group itself)."""

    group: Any

    def __call__(self, e: Any) -> Any:
        return self.group._check(e, "element")


# -- C_M < C_N ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CyclicInCyclicParent:
    sub: Any
    N: int
    M: int

    def __call__(self, r: Any) -> int:
        return (self.sub._check(r, "element") * (self.N // self.M)) % self.N


@dataclass(frozen=True)
class CyclicInCyclicChild:
    parent: Any
    N: int
    M: int

    def __call__(self, r: Any) -> int | None:
        r = self.parent._check(r, "element")
        step = self.N // self.M
        return r // step if r % step == 0 else None


# -- C_M < D_N ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CyclicInDihedralParent:
    sub: Any
    N: int
    M: int

    def __call__(self, r: Any) -> tuple[int, int]:
        return (0, (self.sub._check(r, "element") * (self.N // self.M)) % self.N)


@dataclass(frozen=True)
class CyclicInDihedralChild:
    parent: Any
    N: int
    M: int

    def __call__(self, e: Any) -> int | None:
        f, r = self.parent._check(e, "element")
        step = self.N // self.M
        return r // step if f == 0 and r % step == 0 else None


# -- D_M < D_N (flip axis rotated by k) ---------------------------------------------------------


@dataclass(frozen=True)
class DihedralInDihedralParent:
    sub: Any
    N: int
    M: int
    k: int

    def __call__(self, e: Any) -> tuple[int, int]:
        f, r = self.sub._check(e, "element")
        return (f, (r * (self.N // self.M) + f * self.k) % self.N)


@dataclass(frozen=True)
class DihedralInDihedralChild:
    parent: Any
    N: int
    M: int
    k: int

    def __call__(self, e: Any) -> tuple[int, int] | None:
        f, r = self.parent._check(e, "element")
        r = (r - f * self.k) % self.N
        step = self.N // self.M
        return (f, r // step) if r % step == 0 else None


# -- C_2 (one reflection) < D_N -----------------------------------------------------------------


@dataclass(frozen=True)
class FlipInDihedralParent:
    sub: Any
    N: int
    k: int

    def __call__(self, s: Any) -> tuple[int, int]:
        s = self.sub._check(s, "element")
        return (s, (s * self.k) % self.N)


@dataclass(frozen=True)
class FlipInDihedralChild:
    parent: Any
    N: int
    k: int

    def __call__(self, e: Any) -> int | None:
        f, r = self.parent._check(e, "element")
        return f if r == (f * self.k) % self.N else None


# -- C_M < SO(2) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CyclicInSO2Parent:
    sub: Any
    M: int

    def __call__(self, r: Any) -> float:
        return angle_mod(self.sub._check(r, "element") * TWO_PI / self.M)


@dataclass(frozen=True)
class CyclicInSO2Child:
    parent: Any
    M: int

    def __call__(self, theta: Any) -> int | None:
        return _multiple(self.parent._check(theta, "element"), TWO_PI / self.M, self.M)


# -- subgroups of O(2) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CyclicInO2Parent:
    sub: Any
    M: int

    def __call__(self, r: Any) -> tuple[int, float]:
        return (0, angle_mod(self.sub._check(r, "element") * TWO_PI / self.M))


@dataclass(frozen=True)
class CyclicInO2Child:
    parent: Any
    M: int

    def __call__(self, e: Any) -> int | None:
        f, theta = self.parent._check(e, "element")
        if f:
            return None
        return _multiple(theta, TWO_PI / self.M, self.M)


@dataclass(frozen=True)
class SO2InO2Parent:
    sub: Any

    def __call__(self, theta: Any) -> tuple[int, float]:
        return (0, self.sub._check(theta, "element"))


@dataclass(frozen=True)
class SO2InO2Child:
    parent: Any

    def __call__(self, e: Any) -> float | None:
        f, theta = self.parent._check(e, "element")
        return None if f else theta


@dataclass(frozen=True)
class DihedralInO2Parent:
    sub: Any
    M: int
    axis: float

    def __call__(self, e: Any) -> tuple[int, float]:
        f, r = self.sub._check(e, "element")
        return (f, angle_mod(r * TWO_PI / self.M + f * self.axis))


@dataclass(frozen=True)
class DihedralInO2Child:
    parent: Any
    M: int
    axis: float

    def __call__(self, e: Any) -> tuple[int, int] | None:
        f, theta = self.parent._check(e, "element")
        r = _multiple(theta - f * self.axis, TWO_PI / self.M, self.M)
        return None if r is None else (f, r)


@dataclass(frozen=True)
class FlipInO2Parent:
    sub: Any
    axis: float

    def __call__(self, s: Any) -> tuple[int, float]:
        s = self.sub._check(s, "element")
        return (s, angle_mod(s * self.axis))


@dataclass(frozen=True)
class FlipInO2Child:
    parent: Any
    axis: float

    def __call__(self, e: Any) -> int | None:
        f, theta = self.parent._check(e, "element")
        return f if angle_close(theta, f * self.axis, _TOL) else None


@dataclass(frozen=True)
class O2InO2Parent:
    sub: Any
    axis: float

    def __call__(self, e: Any) -> tuple[int, float]:
        f, theta = self.sub._check(e, "element")
        return (f, angle_mod(theta + f * self.axis))


@dataclass(frozen=True)
class O2InO2Child:
    parent: Any
    axis: float

    def __call__(self, e: Any) -> tuple[int, float]:
        f, theta = self.parent._check(e, "element")
        return (f, angle_mod(theta - f * self.axis))
