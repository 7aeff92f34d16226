"""The abstract :class:`Group` and the group-independent representation machinery.

Concrete groups (:mod:`.cyclic`, :mod:`.dihedral`, :mod:`.so2`, :mod:`.o2`) only describe their
elements, irreps and subgroups; building regular, quotient, induced and restricted representations
is done here once for all of them.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np

from ._math import block_diagonal
from .representation import IrreducibleRepresentation, Representation

__all__ = ["Group", "ElementList"]

_INSTANCES: dict[tuple, Group] = {}
_LOCK = threading.RLock()


class ElementList(list):
    """A list of group elements that can also be called (``G.testing_elements()``) for
    compatibility with code written for the reference library, where it is a method."""

    def __call__(self) -> ElementList:
        return self


def _induced_nonlinearities(repr: Representation) -> frozenset[str]:
    nl = repr.supported_nonlinearities
    out = {x for x in ("pointwise", "concatenated", "norm", "gated") if x in nl}
    if "norm" in nl:
        out.add(next((x for x in nl if x.startswith("induced_norm")), f"induced_norm_{repr.size}"))
    if "gated" in nl:
        out.add(
            next((x for x in nl if x.startswith("induced_gated")), f"induced_gated_{repr.size}")
        )
    if "gate" in nl or "induced_gate" in nl:
        out.add("induced_gate")
    return frozenset(out)


class Group(ABC):
    """A compact group together with its (real) irreducible representations.

    Groups are value objects: they compare and hash by ``(class, parameters)`` and constructing the
    same parameters twice returns the same shared instance, so representations built on one are
    visible from the other. Subclasses implement the element encoding, the irreps and the
    subgroups; everything else is shared.
    """

    #: Whether the group has infinitely many elements.
    continuous: bool = False

    # -- construction ---------------------------------------------------------------------------
    def __new__(cls, *args: Any, **kwargs: Any) -> Group:
        if cls is Group or getattr(cls, "__abstractmethods__", None):
            raise TypeError(f"cannot instantiate abstract class {cls.__name__}")
        params = cls._canonical_params(*args, **kwargs)
        key = (cls, params)
        with _LOCK:
            inst = _INSTANCES.get(key)
            if inst is None:
                inst = super().__new__(cls)
                inst._params = params
                inst._irreps = {}
                inst._irreps_by_id = {}
                inst._representations = {}
                inst._builtin = {}
                inst._subgroups = {}
                inst._restricted_irreps = {}
                inst._setup()
                for irr in inst._build_irreps():
                    inst._irreps[irr.name] = irr
                    inst._irreps_by_id[irr.id] = irr
                _INSTANCES[key] = inst
        return inst

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: B027
        """All the work happens in ``__new__``, which returns a shared, fully built instance."""

    @classmethod
    @abstractmethod
    def _canonical_params(cls, *args: Any, **kwargs: Any) -> tuple:
        """Validate the constructor arguments and return them as a hashable tuple."""

    @abstractmethod
    def _setup(self) -> None:
        """Set ``name``, ``identity`` and any parameter-derived attributes."""

    @abstractmethod
    def _build_irreps(self) -> list[IrreducibleRepresentation]:
        """Return the irreps in canonical order."""

    def __reduce__(self):
        return (type(self), self._params)

    def __copy__(self) -> Group:
        return self

    def __deepcopy__(self, memo: dict) -> Group:
        return self

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Group):
            return NotImplemented
        return type(self) is type(other) and self._params == other._params

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._params))

    def __repr__(self) -> str:
        return self.name

    # -- elements -------------------------------------------------------------------------------
    @abstractmethod
    def order(self) -> int:
        """Number of elements, or -1 for a continuous group."""

    @property
    @abstractmethod
    def elements(self) -> list | None:
        """All elements (finite groups) or ``None`` (continuous groups)."""

    @property
    @abstractmethod
    def testing_elements(self) -> ElementList:
        """A finite set of elements to test equivariance on (all elements if finite)."""

    @abstractmethod
    def _check(self, element: Any, argname: str = "element") -> Hashable:
        """Validate ``element`` and return its canonical encoding, or raise TypeError/ValueError
        naming ``argname``."""

    @abstractmethod
    def _combine(self, a: Any, b: Any) -> Any:
        """Product of two canonical elements."""

    @abstractmethod
    def _inverse(self, a: Any) -> Any:
        """Inverse of a canonical element."""

    def _equal(self, a: Any, b: Any) -> bool:
        return a == b

    def combine(self, e1: Any, e2: Any, *others: Any) -> Any:
        """Product ``e1 · e2 · ...`` of group elements."""
        out = self._combine(self._check(e1, "e1"), self._check(e2, "e2"))
        for i, e in enumerate(others):
            out = self._combine(out, self._check(e, f"others[{i}]"))
        return out

    def inverse(self, element: Any) -> Any:
        """Inverse of a group element."""
        return self._inverse(self._check(element, "element"))

    def is_element(self, element: Any) -> bool:
        """Whether ``element`` is a valid encoding of an element of this group."""
        try:
            self._check(element, "element")
        except (TypeError, ValueError):
            return False
        return True

    def equal(self, e1: Any, e2: Any) -> bool:
        """Whether two encodings denote the same element (with tolerance for angles)."""
        return self._equal(self._check(e1, "e1"), self._check(e2, "e2"))

    def _averaging_elements(self) -> list:
        """Elements over which averaging computes exact invariants of this group's irreps."""
        return list(self.elements)

    # -- irreps ---------------------------------------------------------------------------------
    @property
    def irreps(self) -> dict[str, IrreducibleRepresentation]:
        """The irreps of the group, name -> irrep, in canonical order."""
        return dict(self._irreps)

    def irrep(self, *id: Any) -> IrreducibleRepresentation:
        """The irrep with identifier ``id`` (``irrep(k)`` or ``irrep(j, k)``)."""
        key = self._canonical_irrep_id(id)
        irr = self._irreps_by_id.get(key)
        if irr is None:
            valid = ", ".join(str(k) for k in self._irreps_by_id)
            raise ValueError(f"id: {id!r} is not an irrep of {self.name}; valid ids: {valid}")
        return irr

    def _canonical_irrep_id(self, id: tuple) -> tuple:
        out = []
        for x in id:
            if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)):
                raise TypeError(f"id: irrep ids are integers, got {id!r}")
            out.append(int(x))
        return tuple(out)

    @abstractmethod
    def _irrep_matrix(self, irrep_id: tuple, element: Any) -> np.ndarray:
        """Matrix of the irrep ``irrep_id`` at a canonical element."""

    @property
    def representations(self) -> dict[str, Representation]:
        """Representations built so far on this group, name -> representation; a finite group
        always lists its irreps and ``"regular"`` (as the reference library does)."""
        if not self.continuous and "regular" not in self._builtin:
            self.regular_representation  # noqa: B018 - builds and registers it
        return dict(self._representations)

    def _register(self, repr: Representation) -> None:
        with _LOCK:
            self._representations.setdefault(repr.name, repr)

    @property
    @abstractmethod
    def _trivial_id(self) -> tuple:
        """Identifier of the trivial irrep."""

    @property
    def trivial_representation(self) -> IrreducibleRepresentation:
        """The trivial irrep."""
        return self._irreps_by_id[self._trivial_id]

    # -- subgroups ------------------------------------------------------------------------------
    def subgroup(self, id: Any) -> tuple[Group, Any, Any]:
        """Return ``(subgroup, parent_map, child_map)`` for the subgroup identified by ``id``.

        ``parent_map`` maps a subgroup element to the same element in this group; ``child_map``
        maps an element of this group to the subgroup, or to ``None`` when it is not in it. Both
        are picklable objects.
        """
        key = self._canonical_subgroup_id(id)
        cached = self._subgroups.get(key)
        if cached is None:
            cached = self._build_subgroup(key)
            self._subgroups[key] = cached
        return cached

    @abstractmethod
    def _canonical_subgroup_id(self, id: Any) -> Hashable:
        """Validate a subgroup id (ValueError/TypeError naming ``id``) and normalise it."""

    @abstractmethod
    def _build_subgroup(self, id: Hashable) -> tuple[Group, Any, Any]:
        """Build ``(subgroup, parent_map, child_map)`` for a canonical id."""

    def _coset_representatives(self, subgroup_id: Hashable) -> list:
        """Representatives of the left cosets ``gH`` (the first is the identity)."""
        if self.continuous:
            raise ValueError(
                f"subgroup_id: the subgroup {subgroup_id!r} of {self.name} has infinite index; "
                "induction is only supported from subgroups of finite index"
            )
        sub, parent, _ = self.subgroup(subgroup_id)
        sub_elems = [parent(h) for h in sub.elements]
        seen: set = set()
        reps = []
        for g in self.elements:
            if g in seen:
                continue
            reps.append(g)
            for h in sub_elems:
                seen.add(self._combine(g, h))
        return reps

    # -- representations ------------------------------------------------------------------------
    def _decompose(self, matrices: np.ndarray, what: str) -> tuple[list[str], np.ndarray]:
        """Decompose an orthogonal representation given on :meth:`_averaging_elements`.

        ``matrices`` has shape ``(len(elements), n, n)``. Returns the irrep names (canonical order,
        with multiplicity) and an orthogonal ``Q`` with ``matrices[i] = Q ⊕irreps(g_i) Q^T``.
        """
        elements = self._averaging_elements()
        count, n, _ = matrices.shape
        chars = np.trace(matrices, axis1=1, axis2=2)
        names: list[str] = []
        columns: list[np.ndarray] = []
        found = 0
        perp = np.eye(n)
        for irr in self._irreps.values():
            rho = self._irrep_samples(irr.id, elements)
            mult = float(np.mean(chars * np.trace(rho, axis1=1, axis2=2)))
            mult /= irr.sum_of_squares_constituents
            m = int(round(mult))
            if abs(mult - m) > 1e-6 or m < 0:
                raise ValueError(  # pragma: no cover - guards against bad input matrices
                    f"{what}: not a representation of {self.name} (multiplicity {mult:.6f} of "
                    f"{irr.name})"
                )
            if m == 0:
                continue
            d = irr.size
            # candidate intertwiners X_{k,c} = mean_g V(g)[:, k] outer rho(g)[:, c]
            cand = np.einsum("gik,gjc->kcij", matrices, rho) / count
            got = 0
            for k in range(n):
                for c in range(d):
                    y = perp @ cand[k, c]
                    a = float(np.trace(y.T @ y)) / d
                    if a < 1e-8:
                        continue
                    y = y / np.sqrt(a)
                    columns.append(y)
                    names.append(irr.name)
                    perp = perp - y @ y.T
                    got += 1
                    if got == m:
                        break
                if got == m:
                    break
            if got != m:  # pragma: no cover - numerical failure
                raise ValueError(f"{what}: could not isolate {m} copies of {irr.name}")
            found += m * d
        if found != n:
            raise ValueError(f"{what}: decomposition into irreps of {self.name} is incomplete")
        q = np.concatenate(columns, axis=1)
        q[np.abs(q) < 1e-14] = 0.0
        return names, q

    def _irrep_samples(self, irrep_id: tuple, elements: list) -> np.ndarray:
        return np.stack([self._irrep_matrix(irrep_id, e) for e in elements])

    @property
    def regular_representation(self) -> Representation:
        """The regular representation (finite groups only), acting on functions on the group by
        permuting the basis vectors ``e_g``: ``rho(h) e_g = e_{hg}``."""
        if self.continuous:
            raise ValueError(
                f"regular_representation: {self.name} is continuous and has no (finite) "
                "regular representation"
            )
        rep = self._builtin.get("regular")
        if rep is None:
            elements = self.elements
            order = len(elements)
            names: list[str] = []
            cols = []
            for irr in self._irreps.values():
                mult = irr.size // irr.sum_of_squares_constituents
                samples = self._irrep_samples(irr.id, elements)  # (|G|, d, d)
                for c in range(mult):
                    cols.append(np.sqrt(irr.size / order) * samples[:, :, c])
                    names.append(irr.name)
            q = np.concatenate(cols, axis=1)
            nonlin = {"pointwise", "norm", "gated", "concatenated"} | self._regular_extra_nonlin
            rep = Representation(self, "regular", names, q, nonlin, change_of_basis_inv=q.T)
            self._builtin["regular"] = rep
        return rep

    _regular_extra_nonlin: frozenset[str] = frozenset()

    def quotient_representation(self, subgroup_id: Any) -> Representation:
        """The permutation representation on the cosets ``G/H`` of the subgroup ``subgroup_id``
        (the representation induced from the trivial irrep of ``H``), named
        ``quotient[{subgroup_id}]``."""
        sub, _, _ = self.subgroup(subgroup_id)
        return self._induce(subgroup_id, sub.trivial_representation, quotient=True)

    def induced_representation(self, subgroup_id: Any, repr: Representation) -> Representation:
        """The representation induced from the representation ``repr`` of the subgroup
        ``subgroup_id`` (which must have finite index), named ``induced[{id}][{repr.name}]``.

        In its natural basis the induced representation acts block-wise on one copy of ``repr``
        per coset, permuting the blocks.
        """
        return self._induce(subgroup_id, repr, quotient=False)

    def _induce(self, subgroup_id: Any, repr: Representation, quotient: bool) -> Representation:
        key = self._canonical_subgroup_id(subgroup_id)
        sub, _, _ = self.subgroup(key)
        if not isinstance(repr, Representation):
            raise TypeError(f"repr: expected a Representation, got {type(repr).__name__}")
        if repr.group != sub:
            raise ValueError(
                f"repr: belongs to {repr.group.name}, not to the subgroup {sub.name} "
                f"identified by {subgroup_id!r}"
            )
        cache_key = ("induced", key, repr)
        rep = self._builtin.get(cache_key)
        if rep is None:
            reps = self._coset_representatives(key)
            elements = self._averaging_elements()
            mats = np.stack([self._induced_matrix(key, repr, g, reps) for g in elements])
            names, q = self._decompose(mats, "repr")
            name = f"quotient[{key}]" if quotient else f"induced[{key}][{repr.name}]"
            rep = Representation(
                self,
                name,
                names,
                q,
                _induced_nonlinearities(repr),
                change_of_basis_inv=q.T,
                subgroup_id=key,
                induced_from=repr,
                quotient_size=len(reps),
            )
            self._builtin[cache_key] = rep
        return rep

    def _induced_matrix(
        self, subgroup_id: Any, repr: Representation, element: Any, reps: list | None = None
    ) -> np.ndarray:
        """The induced representation at ``element`` in its natural (coset-block) basis."""
        key = self._canonical_subgroup_id(subgroup_id)
        _, _, child = self.subgroup(key)
        if reps is None:
            reps = self._coset_representatives(key)
        g = self._check(element, "element")
        d = repr.size
        out = np.zeros((d * len(reps), d * len(reps)))
        inv_reps = [self._inverse(r) for r in reps]
        for j, rj in enumerate(reps):
            grj = self._combine(g, rj)
            for i, ri_inv in enumerate(inv_reps):
                h = child(self._combine(ri_inv, grj))
                if h is not None:
                    out[i * d : (i + 1) * d, j * d : (j + 1) * d] = repr(h)
                    break
            else:  # pragma: no cover - would mean the representatives are wrong
                raise RuntimeError("coset of an element not found")
        return out

    # -- band-limited (spectral) representations, escnn's names -------------------------------
    @property
    @abstractmethod
    def subgroup_trivial_id(self) -> Any:
        """The id of the trivial subgroup (escnn's name)."""

    def spectral_regular_representation(self, *irreps: Any, name: str | None = None) -> Any:
        """The part of the regular representation made of the listed irreps (ids or irreps),
        in the spectral basis: each irrep ``ψ`` repeated ``dim ψ / sum_of_squares_constituents``
        times, in the order given, change of basis the identity; named
        ``regular_[(0,)|(1,)|...]`` unless ``name`` is given (escnn 1.0.11's method)."""
        from .spectral import spectral_representation

        return spectral_representation(self, self.subgroup_trivial_id, irreps, name, True)

    def spectral_quotient_representation(
        self, subgroup_id: Any, *irreps: Any, name: str | None = None
    ) -> Any:
        """The part of the quotient representation on ``G/H`` (``H`` the subgroup
        ``subgroup_id``) made of the listed irreps, in the spectral basis: each irrep repeated
        once per ``H``-invariant copy (irreps without one are left out), change of basis the
        identity; named ``quotient[{subgroup_id}]_[...]`` unless ``name`` is given (escnn
        1.0.11's method)."""
        from .spectral import spectral_representation

        return spectral_representation(self, subgroup_id, irreps, name, False)

    def restrict_representation(self, id: Any, repr: Representation) -> Representation:
        """Restrict ``repr`` to the subgroup identified by ``id``; the result is named
        ``"{group}:{name}"`` and keeps the supported non-linearities."""
        if not isinstance(repr, Representation):
            raise TypeError(f"repr: expected a Representation, got {type(repr).__name__}")
        if repr.group != self:
            raise ValueError(f"repr: belongs to {repr.group.name}, not to {self.name}")
        key = self._canonical_subgroup_id(id)
        sub, _, _ = self.subgroup(key)
        blocks = []
        names: list[str] = []
        for irr_name in repr.irreps:
            sub_names, q = self._restrict_irrep(key, irr_name)
            blocks.append(q)
            names.extend(sub_names)
        cob = repr.change_of_basis @ block_diagonal(blocks)
        cob_inv = block_diagonal([b.T for b in blocks]) @ repr.change_of_basis_inv
        nonlin = set(repr.supported_nonlinearities)
        triv = sub.trivial_representation.name
        if all(n == triv for n in names):
            nonlin.add("pointwise")
        return Representation(
            sub, f"{self.name}:{repr.name}", names, cob, nonlin, change_of_basis_inv=cob_inv
        )

    def _restrict_irrep(self, id: Hashable, irrep_name: str) -> tuple[list[str], np.ndarray]:
        cache_key = (id, irrep_name)
        out = self._restricted_irreps.get(cache_key)
        if out is None:
            sub, parent, _ = self.subgroup(id)
            irr = self._irreps[irrep_name]
            elements = sub._averaging_elements()
            mats = np.stack([self._irrep_matrix(irr.id, parent(h)) for h in elements])
            out = self._order_restricted_pieces(sub, *sub._decompose(mats, "repr"))
            self._restricted_irreps[cache_key] = out
        return out

    def _order_restricted_pieces(
        self, sub: Group, names: list[str], q: np.ndarray
    ) -> tuple[list[str], np.ndarray]:
        """The order in which one restricted irrep lists its subgroup irreps (default: the
        subgroup's canonical order); subclasses follow the reference library where it differs."""
        return names, q


def _all_instances() -> Iterable[Group]:  # used by tests
    return list(_INSTANCES.values())
