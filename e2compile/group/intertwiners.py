"""Equivariant linear maps between representations, and tensor products of representations.

* :func:`endomorphism_basis`: the maps commuting with one irrep: the identity, and for the 2-dim
  irreps of ``C_N`` and SO(2) (complex type) also the quarter turn ``J = [[0, -1], [1, 0]]``.
* :func:`intertwiner_basis`: a basis of the linear maps ``W`` with
  ``out_repr(g) W = W in_repr(g)`` for every ``g``, in escnn's order and normalisation (what its
  ``Linear`` layer expands): for each input irrep position (outer) and output irrep position
  (inner) holding the same irrep, one element per endomorphism, moved through the two changes of
  basis and scaled to squared Frobenius norm equal to the irrep's size.
* :func:`tensor_product`: ``g -> kron(r1(g), r2(g))`` decomposed into irreps (its
  Clebsch–Gordan change of basis), computed by projecting onto the irreps over a set of group
  elements that averages products of irreps exactly (all elements of a finite group; a fine
  enough rotation grid for SO(2)/O(2)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .representation import IrreducibleRepresentation, Representation

__all__ = ["IntertwinerBasis", "endomorphism_basis", "intertwiner_basis", "tensor_product"]

# escnn drops elements whose squared norm after normalisation is at most this
_DROP_SQUARED_NORM = 1e-2


def endomorphism_basis(irrep: IrreducibleRepresentation) -> np.ndarray:
    """The maps commuting with ``irrep``, shape ``(k, d, d)``: ``[I]``, or ``[I, J]`` for an irrep
    of complex type (``sum_of_squares_constituents == 2``)."""
    if not isinstance(irrep, IrreducibleRepresentation):
        raise TypeError(f"irrep: expected an IrreducibleRepresentation, got {type(irrep).__name__}")
    d = irrep.size
    if irrep.sum_of_squares_constituents == 1:
        return np.eye(d)[None]
    if d != 2:  # pragma: no cover - the planar groups have no other complex irreps
        raise ValueError(f"irrep: complex irreps of size {d} are not supported")
    return np.stack([np.eye(2), np.array([[0.0, -1.0], [1.0, 0.0]])])


@dataclass(frozen=True, eq=False)
class IntertwinerBasis:
    """A basis of the equivariant maps ``in_repr -> out_repr``.

    ``matrices`` is float64 ``(dim, out_repr.size, in_repr.size)``; the columns (length ``dim``)
    say where each element comes from: ``in_irrep_position`` / ``out_irrep_position`` (index of
    the irrep in ``in_repr.irreps`` / ``out_repr.irreps``), ``irrep`` (its name; both ends carry
    the same irrep) and ``s`` (index of the endomorphism).
    """

    in_repr: Representation
    out_repr: Representation
    matrices: np.ndarray
    in_irrep_position: np.ndarray
    out_irrep_position: np.ndarray
    irrep: np.ndarray
    s: np.ndarray

    @property
    def dim(self) -> int:
        """Number of basis elements."""
        return int(self.matrices.shape[0])

    def __len__(self) -> int:
        return self.dim


def _offsets(repr: Representation) -> list[int]:
    sizes = [repr.group.irreps[name].size for name in repr.irreps]
    return list(np.cumsum([0, *sizes]))


def intertwiner_basis(in_repr: Representation, out_repr: Representation) -> IntertwinerBasis:
    """A basis of the linear maps from ``in_repr`` to ``out_repr`` that commute with the group.

    Elements are ordered by input irrep position, then output irrep position, then endomorphism
    (escnn's order); each is ``Q_out[:, o] E Q_in^-1[i, :]`` for an endomorphism ``E`` of the
    irrep at both positions, divided by ``sqrt(||.||_F^2 / d)`` (``d`` the irrep's size), and kept
    if its squared norm is then above 1e-2.
    """
    for argname, r in (("in_repr", in_repr), ("out_repr", out_repr)):
        if not isinstance(r, Representation):
            raise TypeError(f"{argname}: expected a Representation, got {type(r).__name__}")
    if in_repr.group != out_repr.group:
        raise ValueError(
            f"out_repr: belongs to {out_repr.group.name}, but in_repr to {in_repr.group.name}"
        )
    irreps = in_repr.group.irreps
    in_off, out_off = _offsets(in_repr), _offsets(out_repr)
    q_out, q_in_inv = out_repr.change_of_basis, in_repr.change_of_basis_inv
    mats, cols = [], []
    for ii, name_in in enumerate(in_repr.irreps):
        for oo, name_out in enumerate(out_repr.irreps):
            if name_in != name_out:
                continue
            irrep = irreps[name_in]
            left = q_out[:, out_off[oo] : out_off[oo + 1]]
            right = q_in_inv[in_off[ii] : in_off[ii + 1], :]
            for s, endo in enumerate(endomorphism_basis(irrep)):
                b = left @ endo @ right
                sq = float(np.sum(b * b)) / irrep.size
                norm = np.sqrt(sq) if sq >= 1e-15 else 0.0
                if norm >= 1e-6:
                    b = b / norm
                if float(np.sum(b * b)) <= _DROP_SQUARED_NORM:
                    continue
                mats.append(b)
                cols.append((ii, oo, name_in, s))
    matrices = np.stack(mats) if mats else np.zeros((0, out_repr.size, in_repr.size))
    matrices.setflags(write=False)

    def column(k: int, dtype: type) -> np.ndarray:
        out = np.array([c[k] for c in cols], dtype=dtype)
        out.setflags(write=False)
        return out

    return IntertwinerBasis(
        in_repr,
        out_repr,
        matrices,
        column(0, np.int64),
        column(1, np.int64),
        column(2, np.str_) if cols else np.zeros(0, dtype=np.str_),
        column(3, np.int64),
    )


def tensor_product(
    r1: Representation, r2: Representation, name: str | None = None
) -> Representation:
    """The representation ``g -> kron(r1(g), r2(g))`` (index ``i * r2.size + j``), decomposed
    into irreps: its ``change_of_basis`` holds the Clebsch–Gordan coefficients, its irreps come
    in the group's canonical order. Default name ``"{r1.name}_tensor_{r2.name}"``.

    For SO(2)/O(2) the product of frequencies ``a`` and ``b`` contains frequency ``a + b``, which
    the group object must hold (its ``maximum_frequency``); otherwise a ``ValueError`` says so.
    """
    for argname, r in (("r1", r1), ("r2", r2)):
        if not isinstance(r, Representation):
            raise TypeError(f"{argname}: expected a Representation, got {type(r).__name__}")
    group = r1.group
    if r2.group != group:
        raise ValueError(f"r2: belongs to {r2.group.name}, but r1 to {group.name}")
    if group.continuous:
        top = max(group.irreps[n].frequency for n in r1.irreps) + max(
            group.irreps[n].frequency for n in r2.irreps
        )
        if top > group.maximum_frequency:
            raise ValueError(
                f"tensor_product: the product of {r1.name!r} and {r2.name!r} contains frequency "
                f"{top}, above the maximum_frequency {group.maximum_frequency} of {group.name}; "
                f"use a group built with maximum_frequency >= {top}"
            )
    elements = group._averaging_elements()
    mats = np.stack([np.kron(r1(g), r2(g)) for g in elements])
    irreps, q = group._decompose(mats, "tensor_product")
    if name is None:
        name = f"{r1.name}_tensor_{r2.name}"
    return Representation(group, name, irreps, q, frozenset(), change_of_basis_inv=q.T)
