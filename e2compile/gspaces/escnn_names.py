"""escnn's names for the planar G-spaces, so that 2D escnn code ports by changing its imports.

escnn 1.0.11 builds its 2D gspaces with four factory functions instead of classes. These return
our existing classes:

* ``rot2dOnR2(N=-1, maximum_frequency=6)``: :class:`Rot2dOnR2` (``C_N``, or SO(2) for
  ``N = -1``); ``N = 1`` gives :class:`TrivialOnR2`, as escnn's ``C_1``.
* ``flipRot2dOnR2(N=-1, maximum_frequency=6, axis=π/2)``: :class:`FlipRot2dOnR2` (``D_N``, or
  O(2) for ``N = -1``); ``N = 1`` gives :class:`Flip2dOnR2` across ``axis``, as escnn's ``C_2``.
* ``flip2dOnR2(axis=π/2)``: :class:`Flip2dOnR2`; ``trivialOnR2()``: :class:`TrivialOnR2`.

``axis`` is the angle of the reflection line, so the flip ``(1, 0)`` acts on the plane as in
escnn. ``maximum_frequency`` only matters for ``N = -1`` (escnn ignores it for finite ``N``; so do
we, after checking it). escnn's SO(2)/O(2) build any irrep on demand, whereas ours hold the irreps
up to their ``maximum_frequency``: the continuous group is therefore built with at least the
default bound of ``so2_group()``/``o2_group()``, so that escnn's default arguments give the same
group object as those factories (and representations from either fit the gspace).
"""

from __future__ import annotations

import math
from typing import Any

from ..group import o2_group, so2_group
from ..group._checks import check_max_frequency, is_int
from .r2 import Flip2dOnR2, FlipRot2dOnR2, Rot2dOnR2, TrivialOnR2

__all__ = ["rot2dOnR2", "flipRot2dOnR2", "flip2dOnR2", "trivialOnR2"]


def _check_escnn_N(N: Any) -> int:
    if not is_int(N):
        raise TypeError(f"N: expected an int (> 0, or -1 for continuous rotations), got {N!r}")
    N = int(N)
    if N != -1 and N < 1:
        raise ValueError(f"N: must be a positive int or -1 (continuous rotations), got {N}")
    return N


def rot2dOnR2(N: int = -1, maximum_frequency: int = 6) -> Rot2dOnR2 | TrivialOnR2:
    """Rotations of the plane by multiples of ``2π/N`` (``C_N``), or all rotations (SO(2)) for
    ``N = -1``; escnn's factory of the same name and arguments."""
    N = _check_escnn_N(N)
    maximum_frequency = check_max_frequency(maximum_frequency)
    if N == -1:
        bound = max(maximum_frequency, so2_group().maximum_frequency)
        return Rot2dOnR2(-1, maximum_frequency=bound)
    if N == 1:
        return TrivialOnR2()
    return Rot2dOnR2(N)


def flipRot2dOnR2(
    N: int = -1, maximum_frequency: int = 6, axis: float = math.pi / 2
) -> FlipRot2dOnR2 | Flip2dOnR2:
    """Reflections across the line at angle ``axis`` together with the rotations of
    ``rot2dOnR2(N)`` (``D_N``; O(2) for ``N = -1``); escnn's factory of the same name and
    arguments."""
    N = _check_escnn_N(N)
    maximum_frequency = check_max_frequency(maximum_frequency)
    if N == -1:
        bound = max(maximum_frequency, o2_group().maximum_frequency)
        return FlipRot2dOnR2(-1, maximum_frequency=bound, axis=axis)
    if N == 1:
        return Flip2dOnR2(axis=axis)
    return FlipRot2dOnR2(N, axis=axis)


def flip2dOnR2(axis: float = math.pi / 2) -> Flip2dOnR2:
    """Reflections across the line through the origin at angle ``axis`` (radians; default the
    vertical axis); escnn's factory of the same name."""
    return Flip2dOnR2(axis=axis)


def trivialOnR2() -> TrivialOnR2:
    """The plane with no rotation or reflection symmetry; escnn's factory of the same name."""
    return TrivialOnR2()
