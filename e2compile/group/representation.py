"""Immutable group representations that compare and hash by content.

A representation of a group ``G`` on ``R^n`` is stored as a list of irreducible representations
(by name) and an orthogonal or invertible change of basis ``Q``::

    rho(g) = Q @ block_diag(irrep_1(g), ..., irrep_k(g)) @ inv(Q)

Two representations are equal when they belong to the same group, list the same irreps in the same
order and have the same change of basis rounded to :data:`COB_DECIMALS` decimals. The name is a
label only and takes no part in equality.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._math import COB_DECIMALS, block_diagonal, rounded_key

if TYPE_CHECKING:  # pragma: no cover
    from .group import Group

__all__ = [
    "Representation",
    "IrreducibleRepresentation",
    "directsum",
    "change_basis",
    "disentangle",
    "COB_DECIMALS",
]


def _restore_representation(
    group: Group,
    name: str,
    irreps: tuple[str, ...],
    change_of_basis: np.ndarray,
    change_of_basis_inv: np.ndarray,
    supported_nonlinearities: frozenset[str],
    attributes: dict[str, Any],
) -> Representation:
    return Representation(
        group,
        name,
        irreps,
        change_of_basis,
        supported_nonlinearities,
        change_of_basis_inv=change_of_basis_inv,
        **attributes,
    )


def _restore_irrep(group: Group, irrep_id: tuple) -> IrreducibleRepresentation:
    return group.irrep(*irrep_id)


class Representation:
    """A real, finite-dimensional representation of a :class:`~e2compile.group.Group`.

    Args:
        group: the group being represented.
        name: a label (not part of the identity of the representation).
        irreps: names (or irrep objects) of the irreducible representations of ``group`` that the
            representation decomposes into, in order.
        change_of_basis: the invertible ``(size, size)`` matrix ``Q``.
        supported_nonlinearities: names of the non-linearities this representation supports.
        change_of_basis_inv: optional precomputed inverse of ``Q``.
        **attributes: free-form metadata kept in :attr:`attributes` (not part of identity).

    Instances are immutable; :meth:`__call__` returns a fresh matrix each time.
    """

    _frozen = False

    def __init__(
        self,
        group: Group,
        name: str,
        irreps: Iterable[str | Representation],
        change_of_basis: np.ndarray,
        supported_nonlinearities: Iterable[str] = (),
        change_of_basis_inv: np.ndarray | None = None,
        **attributes: Any,
    ) -> None:
        if not isinstance(getattr(group, "_irreps", None), dict):  # the table every Group has
            raise TypeError(f"group: expected a Group, got {type(group).__name__}")
        if not isinstance(name, str):
            raise TypeError(f"name: expected a str, got {type(name).__name__}")
        if isinstance(irreps, str):
            raise TypeError("irreps: expected a sequence of irrep names, got a single str")
        names: list[str] = []
        for irr in irreps:
            if isinstance(irr, IrreducibleRepresentation):
                if irr.group != group:
                    raise ValueError(
                        f"irreps: irrep {irr.name!r} belongs to {irr.group.name}, not {group.name}"
                    )
                names.append(irr.name)
            elif isinstance(irr, str):
                names.append(irr)
            else:
                raise TypeError(f"irreps: expected irrep names, got {type(irr).__name__}")
        if not names:
            raise ValueError("irreps: a representation needs at least one irrep")
        objs = []
        for n in names:
            irr = group._irreps.get(n)
            if irr is None and not isinstance(self, IrreducibleRepresentation):
                raise ValueError(f"irreps: {n!r} is not an irrep of {group.name}")
            objs.append(irr)
        if isinstance(self, IrreducibleRepresentation):
            size = int(attributes.pop("_size"))
        else:
            size = sum(o.size for o in objs)

        cob = np.array(change_of_basis, dtype=np.float64, copy=True)
        if cob.shape != (size, size):
            raise ValueError(
                f"change_of_basis: expected shape {(size, size)} for irreps {names}, "
                f"got {cob.shape}"
            )
        if not np.all(np.isfinite(cob)):
            raise ValueError("change_of_basis: contains non-finite values")
        if change_of_basis_inv is None:
            if np.allclose(cob.T @ cob, np.eye(size), atol=1e-10):
                cob_inv = cob.T.copy()
            else:
                try:
                    cob_inv = np.linalg.inv(cob)
                except np.linalg.LinAlgError as exc:
                    raise ValueError("change_of_basis: matrix is not invertible") from exc
                if not np.allclose(cob @ cob_inv, np.eye(size), atol=1e-8):
                    raise ValueError("change_of_basis: matrix is numerically singular")
        else:
            cob_inv = np.array(change_of_basis_inv, dtype=np.float64, copy=True)
            if cob_inv.shape != (size, size) or not np.allclose(
                cob @ cob_inv, np.eye(size), atol=1e-8
            ):
                raise ValueError("change_of_basis_inv: is not the inverse of change_of_basis")
        cob.setflags(write=False)
        cob_inv.setflags(write=False)

        if isinstance(supported_nonlinearities, str):
            supported_nonlinearities = (supported_nonlinearities,)
        nonlin = frozenset(str(x) for x in supported_nonlinearities)

        self.group = group
        self.name = name
        self.irreps: tuple[str, ...] = tuple(names)
        self.size = size
        self.change_of_basis = cob
        self.change_of_basis_inv = cob_inv
        self.supported_nonlinearities: frozenset[str] = nonlin
        self._attributes = dict(attributes)
        self._irrep_objs = tuple(objs)
        self._cob_key = rounded_key(cob)
        self._hash = hash((group, self.irreps, self._cob_key.tobytes()))
        self._identity_cob = bool(np.array_equal(self._cob_key, np.eye(size)))
        self._cache: dict[Any, np.ndarray] = {}
        self._frozen = True
        group._register(self)

    # -- immutability -------------------------------------------------------------------------
    def __setattr__(self, key: str, value: Any) -> None:
        if self._frozen:
            raise AttributeError(f"{type(self).__name__} is immutable (cannot set {key!r})")
        object.__setattr__(self, key, value)

    def __delattr__(self, key: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable (cannot delete {key!r})")

    def __getattr__(self, key: str) -> Any:
        # Only called when normal lookup fails: expose the metadata in ``attributes``.
        if key.startswith("_"):
            raise AttributeError(key)
        attrs = self.__dict__.get("_attributes")
        if attrs is not None and key in attrs:
            return attrs[key]
        raise AttributeError(f"{type(self).__name__} {self.__dict__.get('name')!r} has no {key!r}")

    def __reduce__(self):
        return (
            _restore_representation,
            (
                self.group,
                self.name,
                self.irreps,
                np.array(self.change_of_basis),
                np.array(self.change_of_basis_inv),
                self.supported_nonlinearities,
                dict(self._attributes),
            ),
        )

    def __copy__(self) -> Representation:
        return self

    def __deepcopy__(self, memo: dict) -> Representation:
        return self

    # -- identity -----------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Representation):
            return NotImplemented
        return (
            self._hash == other._hash
            and self.group == other.group
            and self.irreps == other.irreps
            and np.array_equal(self._cob_key, other._cob_key)
        )

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"{self.group.name}|[{self.name}]:{self.size}"

    # -- properties ---------------------------------------------------------------------------
    @property
    def attributes(self) -> dict[str, Any]:
        """A copy of the free-form metadata of this representation."""
        return dict(self._attributes)

    @property
    def irreducible(self) -> bool:
        """Whether the representation consists of a single irrep."""
        return len(self.irreps) == 1

    @property
    def change_of_basis_key(self) -> np.ndarray:
        """The change of basis rounded to :data:`COB_DECIMALS` decimals (read-only)."""
        return self._cob_key

    # -- evaluation ---------------------------------------------------------------------------
    def _evaluate(self, element: Any) -> np.ndarray:
        group = self.group
        blocks = [group._irrep_matrix(irr.id, element) for irr in self._irrep_objs]
        diag = blocks[0] if len(blocks) == 1 else block_diagonal(blocks)
        if self._identity_cob:
            return np.array(diag, dtype=np.float64)
        return self.change_of_basis @ diag @ self.change_of_basis_inv

    def __call__(self, element: Any) -> np.ndarray:
        """Return the ``(size, size)`` matrix representing ``element``."""
        e = self.group._check(element, "element")
        if self.group.continuous:
            return self._evaluate(e)
        m = self._cache.get(e)
        if m is None:
            m = self._evaluate(e)
            m.setflags(write=False)
            self._cache[e] = m
        return m.copy()

    def character(self, element: Any) -> float:
        """Return the trace of the matrix representing ``element``."""
        return float(np.trace(self(element)))

    def is_trivial(self) -> bool:
        """Whether every element acts as the identity (all irreps are the trivial irrep)."""
        trivial = self.group.trivial_representation.name
        return all(n == trivial for n in self.irreps)

    def contains_trivial(self) -> bool:
        """Whether the trivial irrep occurs in the decomposition."""
        trivial = self.group.trivial_representation.name
        return any(n == trivial for n in self.irreps)

    def restrict(self, id: Any) -> Representation:
        """Restrict to the subgroup identified by ``id`` (see :meth:`Group.subgroup`)."""
        return self.group.restrict_representation(id, self)

    def __add__(self, other: Representation) -> Representation:
        if not isinstance(other, Representation):
            return NotImplemented
        return directsum([self, other])


class IrreducibleRepresentation(Representation):
    """An irreducible representation of a group, identified within it by :attr:`id`.

    Irreps are created by the groups themselves; obtain them with ``group.irrep(*id)`` or
    ``group.irreps[name]``. Metadata such as ``frequency`` and ``flip_frequency`` is available both
    in :attr:`attributes` and as attributes of the object.
    """

    def __init__(
        self,
        group: Group,
        name: str,
        id: tuple,
        size: int,
        sum_of_squares_constituents: int,
        supported_nonlinearities: Iterable[str],
        **attributes: Any,
    ) -> None:
        object.__setattr__(self, "id", tuple(id))
        object.__setattr__(self, "sum_of_squares_constituents", int(sum_of_squares_constituents))
        super().__init__(
            group,
            name,
            [name],
            np.eye(size),
            supported_nonlinearities,
            change_of_basis_inv=np.eye(size),
            _size=size,
            **attributes,
        )
        object.__setattr__(self, "_irrep_objs", (self,))

    def __reduce__(self):
        return (_restore_irrep, (self.group, self.id))

    def _evaluate(self, element: Any) -> np.ndarray:
        return np.array(self.group._irrep_matrix(self.id, element), dtype=np.float64)

    @property
    def irreducible(self) -> bool:
        return True


# -- module-level constructors --------------------------------------------------------------------


def _check_reprs(reprs: Sequence[Representation], argname: str) -> Group:
    if isinstance(reprs, Representation):
        raise TypeError(f"{argname}: expected a list of representations, got a single one")
    reprs = list(reprs)
    if not reprs:
        raise ValueError(f"{argname}: at least one representation is required")
    for r in reprs:
        if not isinstance(r, Representation):
            raise TypeError(f"{argname}: expected Representation objects, got {type(r).__name__}")
    group = reprs[0].group
    for r in reprs[1:]:
        if r.group != group:
            raise ValueError(
                f"{argname}: representations of different groups ({group.name} and "
                f"{r.group.name}) cannot be combined"
            )
    return group


def directsum(
    reprs: Sequence[Representation],
    change_of_basis: np.ndarray | None = None,
    name: str | None = None,
) -> Representation:
    """Direct sum of representations of one group, optionally followed by a change of basis.

    The irreps are concatenated in order and the changes of basis stacked block-diagonally;
    ``change_of_basis`` (if given) multiplies the result from the left. The default name is
    ``"[a]_[b]_..."`` and the supported non-linearities are the intersection of the inputs'.
    """
    reprs = list(reprs) if not isinstance(reprs, Representation) else reprs
    group = _check_reprs(reprs, "reprs")
    if name is None:
        name = "_".join(f"[{r.name}]" for r in reprs)
    irreps: list[str] = []
    for r in reprs:
        irreps.extend(r.irreps)
    cob = block_diagonal([r.change_of_basis for r in reprs])
    cob_inv = block_diagonal([r.change_of_basis_inv for r in reprs])
    if change_of_basis is not None:
        extra = np.asarray(change_of_basis, dtype=np.float64)
        if extra.shape != cob.shape:
            raise ValueError(f"change_of_basis: expected shape {cob.shape}, got {extra.shape}")
        try:
            extra_inv = np.linalg.inv(extra)
        except np.linalg.LinAlgError as exc:
            raise ValueError("change_of_basis: matrix is not invertible") from exc
        cob = extra @ cob
        cob_inv = cob_inv @ extra_inv
    nonlin = frozenset.intersection(*[r.supported_nonlinearities for r in reprs])
    if len(reprs) > 1:
        # a vector-field non-linearity acts on one regular field, never on a sum of them
        nonlin -= {"vectorfield"}
    return Representation(group, name, irreps, cob, nonlin, change_of_basis_inv=cob_inv)


def change_basis(
    repr: Representation,
    change_of_basis: np.ndarray,
    name: str,
    supported_nonlinearities: Iterable[str] | None = None,
) -> Representation:
    """Return the representation ``g -> P @ repr(g) @ inv(P)`` for an invertible ``P``.

    ``supported_nonlinearities`` defaults to none, since a general change of basis breaks the
    structure most non-linearities rely on.
    """
    if not isinstance(repr, Representation):
        raise TypeError(f"repr: expected a Representation, got {type(repr).__name__}")
    p = np.asarray(change_of_basis, dtype=np.float64)
    if p.shape != (repr.size, repr.size):
        raise ValueError(f"change_of_basis: expected shape {(repr.size, repr.size)}, got {p.shape}")
    try:
        p_inv = np.linalg.inv(p)
    except np.linalg.LinAlgError as exc:
        raise ValueError("change_of_basis: matrix is not invertible") from exc
    return Representation(
        repr.group,
        name,
        repr.irreps,
        p @ repr.change_of_basis,
        supported_nonlinearities or (),
        change_of_basis_inv=repr.change_of_basis_inv @ p_inv,
    )


def _components(n_irreps: int, size: int, adjacency: np.ndarray) -> np.ndarray:
    """Connected components of the bipartite graph irreps <-> coordinates (union-find)."""
    parent = list(range(n_irreps + size))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(adjacency)):
        a, b = find(int(i)), find(n_irreps + int(j))
        if a != b:
            parent[max(a, b)] = min(a, b)
    return np.array([find(i) for i in range(n_irreps + size)])


def disentangle(repr: Representation) -> tuple[np.ndarray, list[Representation]]:
    """Split a representation into independent blocks using only a permutation of coordinates.

    Coordinates and irreps are grouped into the connected components of the sparsity pattern of
    the change of basis. Returns ``(P, reprs)`` where ``P`` is a permutation matrix such that
    ``P @ repr(g) @ P.T == directsum(reprs)(g)`` for every element ``g``. Blocks are ordered by
    their first irrep; a block made of one irrep with identity change of basis is returned as that
    irrep.
    """
    if not isinstance(repr, Representation):
        raise TypeError(f"repr: expected a Representation, got {type(repr).__name__}")
    group = repr.group
    irreps = [group.irreps[n] for n in repr.irreps]
    n_irr = len(irreps)
    starts = np.cumsum([0] + [i.size for i in irreps])
    nonzero = np.abs(repr.change_of_basis) > 10.0 ** (-COB_DECIMALS + 2)
    adjacency = np.zeros((n_irr, repr.size), dtype=bool)
    for k in range(n_irr):
        adjacency[k] = nonzero[:, starts[k] : starts[k + 1]].any(axis=1)
    labels = _components(n_irr, repr.size, adjacency)
    irrep_labels, row_labels = labels[:n_irr], labels[n_irr:]
    order: list[int] = []
    for lab in irrep_labels:
        if lab not in order:
            order.append(int(lab))

    perm = np.zeros((repr.size, repr.size), dtype=np.float64)
    out: list[Representation] = []
    pos = 0
    for b, lab in enumerate(order):
        irr_idx = [k for k in range(n_irr) if irrep_labels[k] == lab]
        rows = [r for r in range(repr.size) if row_labels[r] == lab]
        cols = [c for k in irr_idx for c in range(starts[k], starts[k + 1])]
        if len(rows) != len(cols):  # pragma: no cover - impossible for an invertible matrix
            raise ValueError("repr: change of basis is not invertible block-wise")
        sub = repr.change_of_basis[np.ix_(rows, cols)]
        if len(irr_idx) == 1 and np.allclose(sub, np.eye(len(rows)), atol=1e-12):
            out.append(irreps[irr_idx[0]])
        else:
            out.append(
                Representation(
                    group,
                    f"{repr.name}_{b}",
                    [irreps[k].name for k in irr_idx],
                    sub,
                    repr.supported_nonlinearities,
                )
            )
        perm[pos : pos + len(rows), rows] = np.eye(len(rows))
        pos += len(rows)
    return perm, out
