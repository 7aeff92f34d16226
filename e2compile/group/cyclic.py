"""The cyclic group C_N of rotations by multiples of 2π/N."""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Hashable
from typing import Any, ClassVar

import numpy as np

from ._checks import check_band_limit, check_grid_size, check_int, check_order, is_int
from ._math import psi
from .group import ElementList, Group
from .representation import IrreducibleRepresentation

__all__ = ["CyclicGroup", "cyclic_group", "trivial_group"]

#: Non-linearities of the trivial irrep of a finite group.
TRIVIAL_NONLINEARITIES = ("pointwise", "gate", "norm", "gated", "concatenated")


class FiniteRotationGroup(Group):
    """What ``C_N`` and ``D_N`` share: the parameter ``N`` (the number of rotations), the name
    ``<letter>N`` and the list of elements, all of which are testing elements."""

    #: The letter of the name and the identity element.
    _letter: ClassVar[str]
    _identity_element: ClassVar[Any]

    @classmethod
    def _canonical_params(cls, N: int) -> tuple:
        return (check_order(N, "N"),)

    def _setup(self) -> None:
        self.N = self._params[0]
        self.rotation_order = self.N
        self.name = f"{self._letter}{self.N}"
        self.identity = self._identity_element
        self._elements = self._element_list()

    @abstractmethod
    def _element_list(self) -> list:
        """Every element, in canonical order."""

    def order(self) -> int:
        return len(self._elements)

    @property
    def elements(self) -> list:
        return list(self._elements)

    @property
    def testing_elements(self) -> ElementList:
        return ElementList(self._elements)

    def _build_quotient_representations(self) -> None:
        """Build, and so list in :attr:`representations`, the quotient representations that the
        reference library builds with this (private) method, for code that calls it: those of
        the subgroups with ``n`` rotations for every divisor ``2 <= n < ceil(sqrt(N))`` of ``N``
        (for ``D_N``, with the reflection axes 0 and 1)."""
        for n in range(2, math.ceil(math.sqrt(self.N))):
            if self.N % n == 0:
                for subgroup_id in self._subgroups_with_rotations(n):
                    self.quotient_representation(subgroup_id)

    @abstractmethod
    def _subgroups_with_rotations(self, n: int) -> list:
        """Ids of the subgroups with ``n`` rotations that :meth:`_build_quotient_representations`
        uses."""


class CyclicGroup(FiniteRotationGroup):
    """The cyclic group ``C_N``; element ``r`` (an int in ``0..N-1``) is the rotation by
    ``2πr/N``.

    Irreps ``irrep_k`` for ``k = 0..N//2``: one-dimensional for ``k = 0`` and ``k = N/2``,
    otherwise the 2x2 rotation by ``k·2πr/N``.
    """

    _letter = "C"
    _identity_element = 0
    _regular_extra_nonlin = frozenset({"vectorfield"})

    def _element_list(self) -> list[int]:
        return list(range(self.N))

    def _subgroups_with_rotations(self, n: int) -> list[int]:
        return [n]

    def _build_irreps(self) -> list[IrreducibleRepresentation]:
        out = []
        N = self.N
        for k in range(N // 2 + 1):
            one_dim = k == 0 or 2 * k == N
            if k == 0:
                nl: tuple[str, ...] = TRIVIAL_NONLINEARITIES
            elif one_dim:
                nl = ("norm", "gated", "concatenated")
            else:
                nl = ("norm", "gated")
            out.append(
                IrreducibleRepresentation(
                    self,
                    f"irrep_{k}",
                    (k,),
                    1 if one_dim else 2,
                    1 if one_dim else 2,
                    nl,
                    frequency=k,
                )
            )
        return out

    def _check(self, element: Any, argname: str = "element") -> int:
        return check_int(element, argname, 0, self.N, f"an element of {self.name}")

    def _combine(self, a: int, b: int) -> int:
        return (a + b) % self.N

    def _inverse(self, a: int) -> int:
        return (-a) % self.N

    @property
    def _trivial_id(self) -> tuple:
        return (0,)

    def _irrep_matrix(self, irrep_id: tuple, element: int) -> np.ndarray:
        (k,) = irrep_id
        if k == 0:
            return np.ones((1, 1))
        if 2 * k == self.N:
            return np.array([[-1.0 if element % 2 else 1.0]])
        return psi(2.0 * math.pi * element / self.N, k)

    # -- grids and band limits (escnn's names) ------------------------------------------------
    def grid(self, type: str, N: int) -> list[int]:
        """``N`` elements of the group: ``type='regular'``: the rotations by multiples of
        ``2π/N`` (``N`` must divide the order), ``'rand'``: ``N`` elements drawn with numpy's
        global random state (escnn 1.0.11's method and draws)."""
        N = check_grid_size(N)
        if type == "regular":
            if self.N % N:
                raise ValueError(f"N: a regular grid of {self.name} needs N dividing {self.N}")
            return [i * (self.N // N) for i in range(N)]
        if type == "rand":
            return [int(np.random.randint(0, self.N)) for _ in range(N)]  # noqa: NPY002 - escnn
        raise ValueError(f'type: grid type "{type}" not recognized (regular, rand)')

    def bl_irreps(self, L: int) -> list[tuple[int]]:
        """The ids of the irreps of frequency at most ``L`` (``0 <= L <= N // 2``)."""
        L = check_band_limit(L, self.N // 2)
        return [(k,) for k in range(L + 1)]

    @property
    def subgroup_trivial_id(self) -> int:
        return 1

    # -- subgroups ----------------------------------------------------------------------------
    def _canonical_subgroup_id(self, id: Any) -> Hashable:
        if not is_int(id):
            raise TypeError(
                f"id: subgroups of {self.name} are identified by an int M dividing {self.N}, "
                f"got {id!r}"
            )
        M = int(id)
        if M < 1 or self.N % M != 0:
            raise ValueError(f"id: {M} does not divide N={self.N} in {self.name}")
        return M

    def _build_subgroup(self, M: Hashable) -> tuple[Group, Any, Any]:
        from . import maps  # imported on the first subgroup: its 20 classes cost an import

        sub = cyclic_group(M)
        if M == self.N:
            return sub, maps.IdentityMap(self), maps.IdentityMap(self)
        return (
            sub,
            maps.CyclicInCyclicParent(sub, self.N, M),
            maps.CyclicInCyclicChild(self, self.N, M),
        )


def cyclic_group(N: int) -> CyclicGroup:
    """The shared instance of ``C_N``."""
    return CyclicGroup(N)


def trivial_group() -> CyclicGroup:
    """The trivial group, i.e. ``C_1``."""
    return CyclicGroup(1)
