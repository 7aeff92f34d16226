"""G-spaces: a symmetry group acting on the plane R^2 and, through representations, on fields."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..group import Group, IrreducibleRepresentation, Representation
from ._action import transform_grid

__all__ = ["GSpace", "GeneralOnR2"]


def _restore_gspace(cls: type, fibergroup: Group, axis: float | None) -> GSpace:
    return cls._from_fibergroup(fibergroup, axis)


class GSpace:
    """A fiber group acting on a base space; feature fields transform under its representations.

    Attributes keyed on by the compiler: :attr:`family`, :attr:`N` (number of rotations, -1 when
    continuous), :attr:`axis` (flip families only) and :attr:`maximum_frequency` (continuous
    groups only). Equality and hashing use ``(class, fibergroup, axis)``.
    """

    family: str = ""
    dimensionality: int = 2

    def __init__(self, fibergroup: Group, name: str, axis: float | None = None) -> None:
        if not isinstance(fibergroup, Group):
            raise TypeError(f"fibergroup: expected a Group, got {type(fibergroup).__name__}")
        self.fibergroup = fibergroup
        self.name = name
        self.axis = axis
        self.N = -1 if fibergroup.continuous else int(getattr(fibergroup, "rotation_order", 1))
        self.maximum_frequency = fibergroup.maximum_frequency if fibergroup.continuous else None
        self.basespace = "R^2"

    @classmethod
    def _from_fibergroup(cls, fibergroup: Group, axis: float | None) -> GSpace:
        raise NotImplementedError  # pragma: no cover - every concrete class overrides it

    def __reduce__(self):
        return (_restore_gspace, (type(self), self.fibergroup, self.axis))

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, GSpace):
            return NotImplemented
        return (
            type(self) is type(other)
            and self.fibergroup == other.fibergroup
            and self.axis == other.axis
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.fibergroup, self.axis))

    def __repr__(self) -> str:
        return self.name

    # -- representations ------------------------------------------------------------------------
    @property
    def trivial_repr(self) -> IrreducibleRepresentation:
        """The trivial representation of the fiber group (scalar fields)."""
        return self.fibergroup.trivial_representation

    @property
    def regular_repr(self) -> Representation:
        """The regular representation of the (finite) fiber group."""
        return self.fibergroup.regular_representation

    @property
    def irreps(self) -> dict[str, IrreducibleRepresentation]:
        """The irreps of the fiber group, name -> irrep."""
        return self.fibergroup.irreps

    @property
    def representations(self) -> dict[str, Representation]:
        """The representations built so far on the fiber group."""
        return self.fibergroup.representations

    def irrep(self, *id: Any) -> IrreducibleRepresentation:
        """The irrep of the fiber group with identifier ``id``."""
        return self.fibergroup.irrep(*id)

    def quotient_repr(self, subgroup_id: Any) -> Representation:
        """The quotient representation of the fiber group w.r.t. the subgroup ``subgroup_id``."""
        return self.fibergroup.quotient_representation(subgroup_id)

    def induced_repr(self, subgroup_id: Any, repr: Representation) -> Representation:
        """The representation induced from ``repr`` of the subgroup ``subgroup_id``."""
        return self.fibergroup.induced_representation(subgroup_id, repr)

    @property
    def testing_elements(self) -> list:
        """Elements of the fiber group to test equivariance on."""
        return self.fibergroup.testing_elements

    def restrict(self, id: Any) -> tuple[GSpace, Any, Any]:
        """Return ``(subspace, parent_map, child_map)`` for the subgroup ``id``."""
        raise NotImplementedError  # pragma: no cover

    # -- actions --------------------------------------------------------------------------------
    def basespace_action(self, input: np.ndarray, element: Any) -> np.ndarray:
        """Move a signal on the grid (shape ``(..., H, W)``) by ``element``; channels untouched."""
        raise NotImplementedError  # pragma: no cover

    def featurefield_action(
        self, input: np.ndarray, repr: Representation, element: Any
    ) -> np.ndarray:
        """Transform a field of shape ``(..., C, H, W)``: mix the channels by ``repr(element)``
        and move the grid by :meth:`basespace_action`."""
        if not isinstance(repr, Representation):
            raise TypeError(f"repr: expected a Representation, got {type(repr).__name__}")
        if repr.group != self.fibergroup:
            raise ValueError(
                f"repr: belongs to {repr.group.name}, not to the fiber group "
                f"{self.fibergroup.name} of {self.name}"
            )
        arr = np.asarray(input)
        if arr.ndim < 3 or arr.shape[-3] != repr.size:
            raise ValueError(
                f"input: expected shape (..., {repr.size}, H, W) for a field of size "
                f"{repr.size}, got {arr.shape}"
            )
        matrix = repr(element)
        moved = self.basespace_action(arr, element)
        return np.einsum("ij,...jhw->...ihw", matrix, moved)


class GeneralOnR2(GSpace):
    """A subgroup of O(2) acting on R^2 by rotations and reflections around the origin."""

    def planar_action(self, element: Any) -> tuple[float, bool]:
        """How ``element`` acts on the plane: ``(angle, flip)`` such that it maps ``x`` to
        ``R(angle) @ diag(1, -1)**flip @ x`` (``angle`` in radians, counterclockwise; ``flip``:
        the reflection ``y -> -y`` comes first). A flip across the axis ``a`` has
        ``angle = 2a + rotation``. Raises for anything that is not an element of the fiber group.

        The one source of the geometric action: :meth:`basespace_action`,
        :meth:`action_matrix` (and through it the constraint checks of
        :mod:`e2compile.kernels.testing`) and the torch runtime (``runtime.nn.grid``) all use it.
        """
        return self._planar_action(element)

    def _planar_action(self, element: Any) -> tuple[float, bool]:
        """:meth:`planar_action`, implemented by each concrete gspace."""
        raise NotImplementedError  # pragma: no cover

    def action_matrix(self, element: Any) -> np.ndarray:
        """The 2x2 float64 matrix (``(x, y)`` coordinates) of ``element`` acting on the plane:
        ``R(angle) @ diag(1, -1)**flip`` of :meth:`planar_action`."""
        angle, flip = self.planar_action(element)
        c, s = math.cos(angle), math.sin(angle)
        rotation = np.array([[c, -s], [s, c]])
        return rotation @ np.diag([1.0, -1.0]) if flip else rotation

    def basespace_action(self, input: np.ndarray, element: Any) -> np.ndarray:
        angle, flip = self.planar_action(element)
        return transform_grid(input, angle, flip)


def normalize_axis(axis: Any) -> float:
    """Validate a reflection axis (radians) and reduce it to ``[0, π)``."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(
        axis, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"axis: expected a real angle in radians, got {type(axis).__name__}")
    a = float(axis)
    if not math.isfinite(a):
        raise ValueError(f"axis: must be finite, got {a}")
    a = math.fmod(a, math.pi)
    if a < 0:
        a += math.pi
    if math.pi - a < 1e-12:
        a = 0.0
    return a
