"""The dihedral group D_N of N rotations and N reflections."""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

import numpy as np

from ._checks import check_band_limit, check_grid_size, check_int, check_pair, is_int
from ._math import psichi
from .cyclic import TRIVIAL_NONLINEARITIES, FiniteRotationGroup, cyclic_group
from .group import Group
from .representation import IrreducibleRepresentation

__all__ = ["DihedralGroup", "dihedral_group"]


class DihedralGroup(FiniteRotationGroup):
    """The dihedral group ``D_N``.

    An element is a pair ``(f, r)`` with ``f`` in ``{0, 1}`` and ``r`` in ``0..N-1``: the
    reflection ``f`` (if ``f == 1``) followed by the rotation by ``2πr/N``. Irreps
    ``irrep_{j},{k}`` (flip frequency ``j``, rotation frequency ``k``) come in the order ``(0,0)``,
    ``(1,k)`` for ``k = 0..N//2``, then ``(0, N/2)`` when ``N`` is even; ``(1, k)`` with
    ``0 < k < N/2`` is two-dimensional.
    """

    _letter = "D"
    _identity_element = (0, 0)

    def _element_list(self) -> list[tuple[int, int]]:
        return [(f, r) for f in range(2) for r in range(self.N)]

    def _subgroups_with_rotations(self, n: int) -> list[tuple[int, int]]:
        return [(0, n), (1, n)]

    def _irrep_ids(self) -> list[tuple[int, int]]:
        N = self.N
        ids = [(0, 0)] + [(1, k) for k in range(N // 2 + 1)]
        if N % 2 == 0:
            ids.append((0, N // 2))
        return ids

    def _build_irreps(self) -> list[IrreducibleRepresentation]:
        out = []
        for j, k in self._irrep_ids():
            two_dim = 0 < k and 2 * k != self.N
            if (j, k) == (0, 0):
                nl: tuple[str, ...] = TRIVIAL_NONLINEARITIES
            elif two_dim:
                nl = ("norm", "gated")
            else:
                nl = ("norm", "gated", "concatenated")
            out.append(
                IrreducibleRepresentation(
                    self,
                    f"irrep_{j},{k}",
                    (j, k),
                    2 if two_dim else 1,
                    1,
                    nl,
                    frequency=k,
                    flip_frequency=j,
                )
            )
        return out

    def _check(self, element: Any, argname: str = "element") -> tuple[int, int]:
        f, r = check_pair(element, argname, f"an element of {self.name}")
        f = check_int(f, argname, 0, 2, "the flip component")
        r = check_int(r, argname, 0, self.N, "the rotation component")
        return (f, r)

    def _combine(self, a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
        f1, r1 = a
        f2, r2 = b
        return ((f1 + f2) % 2, (r1 + (-1 if f1 else 1) * r2) % self.N)

    def _inverse(self, a: tuple[int, int]) -> tuple[int, int]:
        f, r = a
        return (f, r if f else (-r) % self.N)

    @property
    def _trivial_id(self) -> tuple:
        return (0, 0)

    def _irrep_matrix(self, irrep_id: tuple, element: tuple[int, int]) -> np.ndarray:
        j, k = irrep_id
        f, r = element
        if k == 0 or 2 * k == self.N:
            v = -1.0 if (j * f + (r if k else 0)) % 2 else 1.0
            return np.array([[v]])
        return psichi(2.0 * math.pi * r / self.N, f, k)

    # -- grids and band limits (escnn's names) ------------------------------------------------
    def grid(self, type: str, N: int) -> list[tuple[int, int]]:
        """``type='regular'``: the ``N`` rotations by multiples of ``2π/N`` (``N`` must divide
        the number of rotations), then the ``N`` reflections composed with them (``2N``
        elements); ``'rand'``: ``N`` elements drawn with numpy's global random state (escnn
        1.0.11's method and draws)."""
        N = check_grid_size(N)
        if type == "regular":
            if self.N % N:
                raise ValueError(f"N: a regular grid of {self.name} needs N dividing {self.N}")
            r = self.N // N
            return [(0, i * r) for i in range(N)] + [(1, i * r) for i in range(N)]
        if type == "rand":
            out = []
            for _ in range(N):
                f = int(np.random.randint(0, 2))  # noqa: NPY002 - escnn's draws
                out.append((f, int(np.random.randint(0, self.N))))  # noqa: NPY002
            return out
        raise ValueError(f'type: grid type "{type}" not recognized (regular, rand)')

    def bl_irreps(self, L: int) -> list[tuple[int, int]]:
        """The ids of the irreps of rotation frequency at most ``L`` (``0 <= L <= N // 2``):
        ``(0,0)``, ``(1,k)`` for ``k <= L``, and ``(0, N/2)`` when ``L = N/2``."""
        L = check_band_limit(L, self.N // 2)
        ids = [(0, 0)] + [(1, k) for k in range(L + 1)]
        if self.N % 2 == 0 and L == self.N // 2:
            ids.append((0, L))
        return ids

    @property
    def subgroup_trivial_id(self) -> tuple[None, int]:
        return (None, 1)

    # -- subgroups ----------------------------------------------------------------------------
    def _canonical_subgroup_id(self, id: Any) -> Hashable:
        if not isinstance(id, (tuple, list)) or len(id) != 2:
            raise TypeError(
                f"id: subgroups of {self.name} are identified by a pair (k, M), got {id!r}"
            )
        k, M = id
        if not is_int(M):
            raise TypeError(f"id: M must be an int dividing {self.N}, got {M!r}")
        M = int(M)
        if M < 1 or self.N % M != 0:
            raise ValueError(f"id: M={M} does not divide N={self.N}")
        if k is not None:
            if not is_int(k):
                raise TypeError(f"id: k must be None or an int, got {k!r}")
            k = int(k)
            if not 0 <= k < self.N // M:
                raise ValueError(f"id: k={k} must be in [0, {self.N // M - 1}] for M={M}")
        return (k, M)

    def _order_restricted_pieces(
        self, sub: Group, names: list[str], q: np.ndarray
    ) -> tuple[list[str], np.ndarray]:
        # a 2-dim irrep restricted to a dihedral subgroup may split into two 1-dim irreps of
        # the same rotation frequency: list flip frequency 0 first (as the reference library
        # does; the subgroup's canonical order puts (1, M/2) before (0, M/2))
        if not isinstance(sub, DihedralGroup) or len(names) != 2 or q.shape[1] != 2:
            return names, q
        ids = [sub.irreps[n].id for n in names]
        if ids[0][1] == ids[1][1] and ids[0][0] > ids[1][0]:
            return names[::-1], q[:, ::-1].copy()
        return names, q

    def _build_subgroup(self, id: Hashable) -> tuple[Group, Any, Any]:
        from . import maps  # imported on the first subgroup: its 20 classes cost an import

        k, M = id
        N = self.N
        if k is None:
            sub = cyclic_group(M)
            return (
                sub,
                maps.CyclicInDihedralParent(sub, N, M),
                maps.CyclicInDihedralChild(self, N, M),
            )
        if M == 1:
            sub = cyclic_group(2)
            return sub, maps.FlipInDihedralParent(sub, N, k), maps.FlipInDihedralChild(self, N, k)
        sub = dihedral_group(M)
        if M == N and k == 0:
            return sub, maps.IdentityMap(self), maps.IdentityMap(self)
        return (
            sub,
            maps.DihedralInDihedralParent(sub, N, M, k),
            maps.DihedralInDihedralChild(self, N, M, k),
        )


def dihedral_group(N: int) -> DihedralGroup:
    """The shared instance of ``D_N``."""
    return DihedralGroup(N)
