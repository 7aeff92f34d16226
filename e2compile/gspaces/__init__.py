"""G-spaces: symmetry groups acting on the plane and on feature fields over it.

Mirrors ``e2cnn.gspaces``: :class:`Rot2dOnR2`, :class:`FlipRot2dOnR2`, :class:`Flip2dOnR2` and
:class:`TrivialOnR2`, and escnn's factory names for them (``rot2dOnR2``, ``flipRot2dOnR2``,
``flip2dOnR2``, ``trivialOnR2``), plus escnn's ``no_base_space(G)`` (:class:`GSpace0D`, no base
space). Importing this package needs numpy only; scipy is imported on demand for interpolated
(non grid-aligned) rotations.
"""

from __future__ import annotations

from .escnn_names import flip2dOnR2, flipRot2dOnR2, rot2dOnR2, trivialOnR2
from .gspace import GeneralOnR2, GSpace
from .r0 import GSpace0D, no_base_space
from .r2 import Flip2dOnR2, FlipRot2dOnR2, Rot2dOnR2, TrivialOnR2

__all__ = [
    "GSpace",
    "GeneralOnR2",
    "Rot2dOnR2",
    "FlipRot2dOnR2",
    "Flip2dOnR2",
    "TrivialOnR2",
    "rot2dOnR2",
    "flipRot2dOnR2",
    "flip2dOnR2",
    "trivialOnR2",
    "GSpace0D",
    "no_base_space",
]
