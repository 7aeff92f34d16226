"""Band-limited regular and quotient representations in the spectral basis, and group grids.

A function on a group ``G`` (or on a quotient ``G/H``) band-limited to a list of irreps is a
vector of Fourier coefficients: each listed irrep ``ψ`` appears once per copy of it inside the
regular (quotient) representation, and the change of basis is the identity. escnn 1.0.11 calls
these ``spectral_regular_representation`` and ``spectral_quotient_representation``; this module
builds them, with escnn's irrep order, multiplicities and names, and the "delta at the identity"
vectors the Fourier non-linearities sample with (:func:`delta_vector`).

Copies of an irrep ``ψ`` (``d`` its size, ``s`` its ``sum_of_squares_constituents``):

* regular: ``d / s`` copies; copy ``j`` is ``√d · e_j``;
* quotient by ``H``: one copy per unit ``H``-invariant vector of ``ψ`` (``dim ψ^H / s`` of them):
  the standard basis vectors when ``H`` fixes all of ``ψ`` (only ``e_0`` when ``s = 2``), and for a
  two-dimensional ``ψ`` of rotation frequency ``k`` and a subgroup containing the reflection across
  the axis ``θ/2``, the vector ``(cos(kθ/2), sin(kθ/2))``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "irrep_ids",
    "copies",
    "delta_vector",
    "spectral_representation",
    "reflection_angle",
]

#: Entries of an averaged irrep below this are zero (the averages are exact up to round-off).
_EPS = 1e-9


def irrep_ids(group: Any, irreps: Sequence[Any], argname: str = "irreps") -> list[tuple]:
    """The canonical ids of ``irreps`` (ids as tuples or ints, or irreps of ``group``); a
    ``ValueError`` naming ``argname`` for an empty list, a duplicate or an unknown irrep."""
    from .representation import IrreducibleRepresentation

    if isinstance(irreps, (str, bytes)) or not isinstance(irreps, (Sequence, np.ndarray)):
        raise TypeError(f"{argname}: expected a list of irrep ids, got {type(irreps).__name__}")
    out: list[tuple] = []
    for irr in irreps:
        if isinstance(irr, IrreducibleRepresentation):
            if irr.group != group:
                raise ValueError(f"{argname}: {irr.name} is not an irrep of {group.name}")
            ident = tuple(irr.id)
        else:
            ident = tuple(irr) if isinstance(irr, (tuple, list)) else (irr,)
            try:
                ident = tuple(group.irrep(*ident).id)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{argname}: {exc}") from None
        if ident in out:
            raise ValueError(f"{argname}: the irrep {ident} is listed twice")
        out.append(ident)
    if not out:
        raise ValueError(f"{argname}: at least one irrep is needed")
    return out


def reflection_angle(group: Any, subgroup_id: Any) -> float | None:
    """``θ`` of the reflection ``r_θ f`` a subgroup contains (its axis is at ``θ/2``), or
    ``None`` for a subgroup of rotations only."""
    key = group._canonical_subgroup_id(subgroup_id)
    if not isinstance(key, tuple) or key[0] is None:
        return None
    if group.continuous:
        return float(key[0])
    return 2.0 * math.pi * key[0] / group.N


def _subgroup_elements(group: Any, subgroup_id: Any) -> list:
    sub, parent, _ = group.subgroup(subgroup_id)
    elements = sub.elements if not sub.continuous else sub._averaging_elements()
    return [parent(h) for h in elements]


def copies(group: Any, subgroup_id: Any, irrep_id: tuple, regular: bool) -> np.ndarray:
    """The copies of the irrep ``irrep_id`` in the spectral regular (``regular=True``) or
    quotient representation: an array ``(m, d)``, one vector per copy (see the module doc)."""
    irr = group.irrep(*irrep_id)
    d, s = irr.size, irr.sum_of_squares_constituents
    if regular:
        return math.sqrt(d) * np.eye(d)[: d // s]
    elements = _subgroup_elements(group, subgroup_id)
    projector = np.mean([irr(h) for h in elements], axis=0)
    rank = int(round(float(np.trace(projector))))
    if rank == 0:
        return np.zeros((0, d))
    if rank == d:
        return np.eye(d)[: d // s]
    # a two-dimensional irrep of D_N / O(2) and a subgroup with a reflection: one fixed line
    theta = reflection_angle(group, subgroup_id)
    if rank != 1 or d != 2 or theta is None:  # pragma: no cover - no such irrep/subgroup pair
        raise RuntimeError(f"unexpected invariant subspace of {irr.name} (rank {rank})")
    angle = irr.frequency * theta / 2.0
    vector = np.array([[math.cos(angle), math.sin(angle)]])
    if not np.allclose(projector @ vector[0], vector[0], atol=1e-7):  # pragma: no cover
        raise RuntimeError(f"the invariant vector of {irr.name} is not {vector[0]}")
    return vector


def spectral_representation(
    group: Any, subgroup_id: Any, irreps: Sequence[Any], name: str | None, regular: bool
) -> Any:
    """The spectral regular or quotient representation of the listed irreps (see the module
    documentation); cached on the group by its content and name."""
    from .representation import Representation

    ids = irrep_ids(group, irreps)
    key = group._canonical_subgroup_id(subgroup_id)
    if name is None:
        listed = "|".join(str(i) for i in ids)
        name = f"regular_[{listed}]" if regular else f"quotient[{subgroup_id}]_[{listed}]"
    if not isinstance(name, str):
        raise TypeError(f"name: expected a str or None, got {type(name).__name__}")
    cache_key = ("spectral", regular, key, tuple(ids), name)
    rep = group._builtin.get(cache_key)
    if rep is None:
        names: list[str] = []
        for ident in ids:
            m = len(copies(group, key, ident, regular))
            names += [group.irrep(*ident).name] * m
        if not names:
            raise ValueError(
                f"irreps: none of {ids} has a vector invariant under the subgroup "
                f"{subgroup_id!r}: the quotient representation would be empty"
            )
        size = sum(group.irreps[n].size for n in names)
        rep = Representation(
            group,
            name,
            names,
            np.eye(size),
            ("norm", "gated", "concatenated"),
            change_of_basis_inv=np.eye(size),
            spectral_irreps=tuple(ids),
            subgroup_id=key,
        )
        group._builtin[cache_key] = rep
        group._register(rep)
    return rep


def delta_vector(
    group: Any, subgroup_id: Any, irreps: Sequence[tuple], regular: bool, normalize: bool
) -> np.ndarray:
    """The coefficients of the delta at the identity, ``(size,)``: every copy of every listed
    irrep (:func:`copies`), concatenated in order; divided by its norm when ``normalize``."""
    parts = [copies(group, subgroup_id, tuple(i), regular).reshape(-1) for i in irreps]
    vector = np.concatenate(parts) if parts else np.zeros(0)
    if normalize:
        vector = vector / np.linalg.norm(vector)
    return vector
