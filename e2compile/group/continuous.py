"""The continuous groups SO(2) (planar rotations) and O(2) (rotations and reflections).

Both carry a ``maximum_frequency`` bounding the irreps that exist in the group object (default 10,
as in the reference library).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, ClassVar

import numpy as np

from ._checks import (
    check_band_limit,
    check_grid_size,
    check_int,
    check_max_frequency,
    check_pair,
    check_real,
    is_int,
)
from ._math import TWO_PI, angle_close, angle_mod, psi, psichi
from .cyclic import cyclic_group
from .dihedral import dihedral_group
from .group import ElementList, Group
from .representation import IrreducibleRepresentation

__all__ = ["SO2", "O2", "so2_group", "o2_group"]

DEFAULT_MAXIMUM_FREQUENCY = 10
_TESTING_ANGLES = [TWO_PI * i / 52 for i in range(52)]


def _averaging_order(maximum_frequency: int) -> int:
    # products of two irreps have frequency <= 2F: a cyclic subgroup of order > 2F averages them
    # exactly.
    return max(16, 4 * maximum_frequency + 4)


class ContinuousRotationGroup(Group):
    """What SO(2) and O(2) share: the parameter ``maximum_frequency`` (default 10) bounding the
    irreps the group object holds, and no list of elements."""

    continuous = True
    #: The group's name and identity element.
    _group_name: ClassVar[str]
    _identity_element: ClassVar[Any]

    @classmethod
    def _canonical_params(cls, maximum_frequency: int | None = DEFAULT_MAXIMUM_FREQUENCY) -> tuple:
        if maximum_frequency is None:
            maximum_frequency = DEFAULT_MAXIMUM_FREQUENCY
        return (check_max_frequency(maximum_frequency),)

    def _setup(self) -> None:
        self.maximum_frequency = self._params[0]
        self.rotation_order = -1
        self.name = self._group_name
        self.identity = self._identity_element

    def order(self) -> int:
        return -1

    @property
    def elements(self) -> None:
        return None

    def bl_irreps(self, L: int) -> list[tuple]:
        """The ids of the irreps of rotation frequency at most ``L`` (escnn 1.0.11's method;
        ``L`` is bounded by the group's ``maximum_frequency``)."""
        L = check_band_limit(L, self.maximum_frequency)
        return self._bl_irreps(L)

    def bl_regular_representation(self, L: int) -> Any:
        """The regular representation band-limited to frequency ``L``, named ``regular_{L}``:
        :meth:`spectral_regular_representation` of :meth:`bl_irreps` ``(L)``."""
        return self.spectral_regular_representation(*self.bl_irreps(L), name=f"regular_{L}")

    def _rotation_grid(self, N: int, type: str, seed: Any) -> list[float]:
        N = check_grid_size(N)
        if type == "regular":
            return [i * 2 * np.pi / N for i in range(N)]
        if type == "rand":
            rng = _random_state(seed)
            return [rng.random() * 2 * np.pi for _ in range(N)]
        raise ValueError(f"type: grid type {type!r} not recognized (regular, rand)")


class SO2(ContinuousRotationGroup):
    """The group SO(2) of planar rotations; an element is an angle in radians.

    Irreps ``irrep_k``, ``k = 0..maximum_frequency``: trivial for ``k = 0``, otherwise the 2x2
    rotation by ``kθ``.
    """

    _group_name = "SO(2)"
    _identity_element = 0.0

    def _build_irreps(self) -> list[IrreducibleRepresentation]:
        out = [
            IrreducibleRepresentation(
                self, "irrep_0", (0,), 1, 1, ("pointwise", "gate", "norm", "gated"), frequency=0
            )
        ]
        for k in range(1, self.maximum_frequency + 1):
            out.append(
                IrreducibleRepresentation(
                    self, f"irrep_{k}", (k,), 2, 2, ("norm", "gated"), frequency=k
                )
            )
        return out

    @property
    def testing_elements(self) -> ElementList:
        return ElementList(_TESTING_ANGLES)

    def _averaging_elements(self) -> list:
        M = _averaging_order(self.maximum_frequency)
        return [TWO_PI * i / M for i in range(M)]

    def _check(self, element: Any, argname: str = "element") -> float:
        return angle_mod(check_real(element, argname, "an element of SO(2) (an angle)"))

    def _combine(self, a: float, b: float) -> float:
        return angle_mod(a + b)

    def _inverse(self, a: float) -> float:
        return angle_mod(-a)

    def _equal(self, a: float, b: float) -> bool:
        return angle_close(a, b)

    def grid(self, N: int, type: str = "regular", seed: Any = None) -> list[float]:
        """``N`` angles: ``type='regular'``: ``i·2π/N``; ``'rand'``: uniform, drawn from
        ``np.random.RandomState(seed)`` for an int seed, numpy's global state for ``None``, or
        the given ``RandomState`` (escnn 1.0.11's method and draws)."""
        return [self._check(t) for t in self._rotation_grid(N, type, seed)]

    def _bl_irreps(self, L: int) -> list[tuple]:
        return [(k,) for k in range(L + 1)]

    @property
    def subgroup_trivial_id(self) -> int:
        return 1

    @property
    def _trivial_id(self) -> tuple:
        return (0,)

    def _irrep_matrix(self, irrep_id: tuple, element: float) -> np.ndarray:
        (k,) = irrep_id
        if k == 0:
            return np.ones((1, 1))
        return psi(element, k)

    def _canonical_subgroup_id(self, id: Any) -> Hashable:
        if not is_int(id):
            raise TypeError(f"id: subgroups of SO(2) are identified by an int M, got {id!r}")
        M = int(id)
        if M != -1 and M < 1:
            raise ValueError(f"id: M must be a positive int (C_M) or -1 (SO(2)), got {M}")
        return M

    def _build_subgroup(self, M: Hashable) -> tuple[Group, Any, Any]:
        from . import maps  # imported on the first subgroup: its 20 classes cost an import

        if M == -1:
            return self, maps.IdentityMap(self), maps.IdentityMap(self)
        sub = cyclic_group(M)
        return sub, maps.CyclicInSO2Parent(sub, M), maps.CyclicInSO2Child(self, M)

    def _coset_representatives(self, subgroup_id: Hashable) -> list:
        if subgroup_id == -1:
            return [0.0]
        return super()._coset_representatives(subgroup_id)


class O2(ContinuousRotationGroup):
    """The group O(2); an element is a pair ``(f, θ)``: the reflection ``f`` (if ``f == 1``)
    followed by the rotation by ``θ``.

    Irreps ``irrep_{j},{k}``: ``(0,0)`` trivial, ``(1,0)`` the sign of the reflection, and
    ``(1,k)`` for ``k = 1..maximum_frequency`` two-dimensional.
    """

    _group_name = "O(2)"
    _identity_element = (0, 0.0)

    def _build_irreps(self) -> list[IrreducibleRepresentation]:
        out = [
            IrreducibleRepresentation(
                self,
                "irrep_0,0",
                (0, 0),
                1,
                1,
                ("pointwise", "gate", "norm", "gated"),
                frequency=0,
                flip_frequency=0,
            ),
            IrreducibleRepresentation(
                self, "irrep_1,0", (1, 0), 1, 1, ("norm", "gated"), frequency=0, flip_frequency=1
            ),
        ]
        for k in range(1, self.maximum_frequency + 1):
            out.append(
                IrreducibleRepresentation(
                    self,
                    f"irrep_1,{k}",
                    (1, k),
                    2,
                    1,
                    ("norm", "gated"),
                    frequency=k,
                    flip_frequency=1,
                )
            )
        return out

    @property
    def testing_elements(self) -> ElementList:
        return ElementList([(f, a) for f in range(2) for a in _TESTING_ANGLES])

    def _averaging_elements(self) -> list:
        M = _averaging_order(self.maximum_frequency)
        return [(f, TWO_PI * i / M) for f in range(2) for i in range(M)]

    def _check(self, element: Any, argname: str = "element") -> tuple[int, float]:
        f, theta = check_pair(element, argname, "an element of O(2)")
        f = check_int(f, argname, 0, 2, "the flip component")
        theta = angle_mod(check_real(theta, argname, "the rotation angle"))
        return (f, theta)

    def _combine(self, a: tuple[int, float], b: tuple[int, float]) -> tuple[int, float]:
        f1, t1 = a
        f2, t2 = b
        return ((f1 + f2) % 2, angle_mod(t1 + (-t2 if f1 else t2)))

    def _inverse(self, a: tuple[int, float]) -> tuple[int, float]:
        f, t = a
        return (f, t if f else angle_mod(-t))

    def _equal(self, a: tuple[int, float], b: tuple[int, float]) -> bool:
        return a[0] == b[0] and angle_close(a[1], b[1])

    def grid(self, N: int, type: str = "regular", seed: Any = None) -> list[tuple[int, float]]:
        """``type='regular'``: the ``N`` rotations ``(0, i·2π/N)``, then the reflections
        ``(1, i·2π/N)`` (``2N`` elements); ``'rand'``: ``N`` elements, each a flip and an angle
        drawn in turn from the random state chosen by ``seed`` as for SO(2) (escnn 1.0.11's
        method and draws)."""
        if type == "rand":
            N = check_grid_size(N)
            rng = _random_state(seed)
            out = []
            for _ in range(N):
                f = int(rng.randint(0, 2))
                out.append((f, rng.random() * 2 * np.pi))
            return [self._check(g) for g in out]
        angles = self._rotation_grid(N, type, seed)
        return [self._check((f, t)) for f in range(2) for t in angles]

    def grid_so2(self, N: int, type: str = "regular", seed: Any = None) -> list[tuple[int, float]]:
        """The rotations ``(0, θ)`` of SO(2)'s :meth:`SO2.grid` (escnn 1.0.11's method)."""
        return [self._check((0, t)) for t in self._rotation_grid(N, type, seed)]

    def _bl_irreps(self, L: int) -> list[tuple]:
        return [(0, 0)] + [(1, k) for k in range(L + 1)]

    def bl_quotient_representation(self, L: int, subgroup_id: Any, name: str | None = None) -> Any:
        """The quotient representation on ``O(2)/H`` band-limited to frequency ``L``, named
        ``quotient[{subgroup_id}]_{L}`` unless ``name`` is given (escnn 1.0.11's method)."""
        if name is None:
            name = f"quotient[{subgroup_id}]_{L}"
        return self.spectral_quotient_representation(subgroup_id, *self.bl_irreps(L), name=name)

    @property
    def subgroup_trivial_id(self) -> tuple[None, int]:
        return (None, 1)

    @property
    def _trivial_id(self) -> tuple:
        return (0, 0)

    def _irrep_matrix(self, irrep_id: tuple, element: tuple[int, float]) -> np.ndarray:
        j, k = irrep_id
        f, theta = element
        if k == 0:
            return np.array([[-1.0 if j * f else 1.0]])
        return psichi(theta, f, k)

    def _canonical_subgroup_id(self, id: Any) -> Hashable:
        if not isinstance(id, (tuple, list)) or len(id) != 2:
            raise TypeError(f"id: subgroups of O(2) are identified by a pair (θ, M), got {id!r}")
        theta, M = id
        if not is_int(M):
            raise TypeError(f"id: M must be an int (or -1), got {M!r}")
        M = int(M)
        if M != -1 and M < 1:
            raise ValueError(f"id: M must be a positive int or -1, got {M}")
        if theta is not None:
            theta = angle_mod(check_real(theta, "id", "the flip axis θ"))
        return (theta, M)

    def _build_subgroup(self, id: Hashable) -> tuple[Group, Any, Any]:
        from . import maps  # imported on the first subgroup: its 20 classes cost an import

        theta, M = id
        if theta is None:
            if M == -1:
                sub = so2_group(self.maximum_frequency)
                return sub, maps.SO2InO2Parent(sub), maps.SO2InO2Child(self)
            sub = cyclic_group(M)
            return sub, maps.CyclicInO2Parent(sub, M), maps.CyclicInO2Child(self, M)
        if M == -1:
            if theta == 0.0:
                return self, maps.IdentityMap(self), maps.IdentityMap(self)
            return self, maps.O2InO2Parent(self, theta), maps.O2InO2Child(self, theta)
        if M == 1:
            sub = cyclic_group(2)
            return sub, maps.FlipInO2Parent(sub, theta), maps.FlipInO2Child(self, theta)
        sub = dihedral_group(M)
        return sub, maps.DihedralInO2Parent(sub, M, theta), maps.DihedralInO2Child(self, M, theta)

    def _coset_representatives(self, subgroup_id: Hashable) -> list:
        theta, M = subgroup_id
        if M == -1:
            return [(0, 0.0)] if theta is not None else [(0, 0.0), (1, 0.0)]
        return super()._coset_representatives(subgroup_id)


def _random_state(seed: Any) -> Any:
    """escnn's choice of random numbers: a fresh ``RandomState(seed)`` for an int, numpy's global
    state for ``None``, or the given ``RandomState``."""
    if is_int(seed):
        return np.random.RandomState(int(seed))
    if seed is None:
        return np.random
    if isinstance(seed, np.random.RandomState):
        return seed
    raise TypeError(f"seed: expected an int, None or a numpy RandomState, got {seed!r}")


def so2_group(maximum_frequency: int = DEFAULT_MAXIMUM_FREQUENCY) -> SO2:
    """The shared instance of SO(2) with irreps up to ``maximum_frequency``."""
    return SO2(maximum_frequency)


def o2_group(maximum_frequency: int = DEFAULT_MAXIMUM_FREQUENCY) -> O2:
    """The shared instance of O(2) with irreps up to ``maximum_frequency``."""
    return O2(maximum_frequency)
