"""A gspace with no base space: a group acting on single feature vectors (escnn's ``GSpace0D``).

Fields over it are plain vectors (tensors ``(B, C)``); a group element acts on them by the
representation only. What equivariant MLPs (``nn.Linear``, ``nn.IIDBatchNorm1d``) are built on.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..group import Group, Representation
from .gspace import GSpace

__all__ = ["GSpace0D", "no_base_space"]


class GSpace0D(GSpace):
    """The group ``fibergroup`` acting on a single point (``dimensionality`` 0); named after the
    group, equal to another ``GSpace0D`` of the same group."""

    dimensionality = 0

    def __init__(self, fibergroup: Group) -> None:
        if not isinstance(fibergroup, Group):
            raise TypeError(f"G: expected a Group, got {type(fibergroup).__name__}")
        super().__init__(fibergroup, fibergroup.name, None)
        self.basespace = "R^0"

    @classmethod
    def _from_fibergroup(cls, fibergroup: Group, axis: float | None) -> GSpace0D:
        return cls(fibergroup)

    def restrict(self, id: Any) -> tuple[GSpace0D, Any, Any]:
        """``(GSpace0D(subgroup), parent_map, child_map)`` for the subgroup ``id`` of the group."""
        sub, parent, child = self.fibergroup.subgroup(id)
        return GSpace0D(sub), parent, child

    def basespace_action(self, input: np.ndarray, element: Any) -> np.ndarray:
        """There is no base space: ``input`` is returned unchanged (``element`` is checked)."""
        self.fibergroup._check(element, "element")
        return np.asarray(input)

    def featurefield_action(
        self, input: np.ndarray, repr: Representation, element: Any
    ) -> np.ndarray:
        """Transform feature vectors of shape ``(..., repr.size)`` by ``repr(element)``."""
        if not isinstance(repr, Representation):
            raise TypeError(f"repr: expected a Representation, got {type(repr).__name__}")
        if repr.group != self.fibergroup:
            raise ValueError(
                f"repr: belongs to {repr.group.name}, not to the group {self.fibergroup.name}"
            )
        arr = np.asarray(input)
        if arr.ndim < 1 or arr.shape[-1] != repr.size:
            raise ValueError(
                f"input: expected shape (..., {repr.size}) for a field of size {repr.size}, "
                f"got {arr.shape}"
            )
        return np.einsum("ij,...j->...i", repr(element), arr)


def no_base_space(G: Group) -> GSpace0D:
    """The gspace of ``G`` acting on a single point (no base space); escnn's factory of the same
    name. Its field types describe vectors, e.g. the features of an equivariant MLP."""
    return GSpace0D(G)
