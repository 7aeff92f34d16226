"""Kernel bases between arbitrary representations, assembled from irreps-pair bases.

A representation is ``rho(g) = Q (+)_k psi_k(g) Q^-1``. A kernel between two block-diagonal
(irreps) representations is equivariant exactly when each of its irreps blocks is; the solution for
the original representations follows by conjugating with the changes of basis:
``K(x) = Q_out K_irreps(x) Q_in^-1``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .basis import EmptyBasisException, KernelBasis, polar_coordinates

__all__ = ["SteerableKernelBasis"]


def _object_column(values: list) -> np.ndarray:
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


class SteerableKernelBasis(KernelBasis):
    """Angular basis of the equivariant kernels from ``in_repr`` to ``out_repr``.

    Args:
        irreps_basis: class (or factory) building the basis for one pair of irreps, called as
            ``irreps_basis(group, in_irrep, out_irrep, **kwargs)``; pairs whose basis is empty
            are skipped.
        in_repr, out_repr: representations of the same group.
        in_change_of_basis, out_change_of_basis: optional matrices that replace the
            representations' own changes of basis (the compiler passes the rounded matrices of a
            spec so that the sampled numbers depend on the spec alone).
        **kwargs: forwarded to ``irreps_basis``.

    Elements are ordered by input irrep position, then output irrep position, then the order of
    the irreps-pair basis.
    """

    def __init__(
        self,
        irreps_basis: Any,
        in_repr: Any,
        out_repr: Any,
        *,
        in_change_of_basis: np.ndarray | None = None,
        out_change_of_basis: np.ndarray | None = None,
        **kwargs: Any,
    ):
        if in_repr.group != out_repr.group:
            raise ValueError(
                f"in_repr and out_repr belong to different groups: {in_repr.group.name} and "
                f"{out_repr.group.name}"
            )
        group = in_repr.group
        self.group = group
        self.in_repr = in_repr
        self.out_repr = out_repr

        self.irreps_bases: dict[tuple[str, str], KernelBasis] = {}
        for i_name in dict.fromkeys(in_repr.irreps):
            for o_name in dict.fromkeys(out_repr.irreps):
                try:
                    self.irreps_bases[(i_name, o_name)] = irreps_basis(
                        group, group.irreps[i_name], group.irreps[o_name], **kwargs
                    )
                except EmptyBasisException:
                    pass

        in_sizes = [group.irreps[name].size for name in in_repr.irreps]
        out_sizes = [group.irreps[name].size for name in out_repr.irreps]
        in_offsets = np.concatenate([[0], np.cumsum(in_sizes)]).astype(int)
        out_offsets = np.concatenate([[0], np.cumsum(out_sizes)]).astype(int)

        # (in position, out position, in offset, out offset, first element, irreps basis)
        self.blocks: list[tuple[int, int, int, int, int, KernelBasis]] = []
        dim = 0
        for ii, i_name in enumerate(in_repr.irreps):
            for oo, o_name in enumerate(out_repr.irreps):
                basis = self.irreps_bases.get((i_name, o_name))
                if basis is not None:
                    self.blocks.append(
                        (ii, oo, int(in_offsets[ii]), int(out_offsets[oo]), dim, basis)
                    )
                    dim += basis.dim
        super().__init__(dim, (out_repr.size, in_repr.size))

        q_in = in_repr.change_of_basis if in_change_of_basis is None else in_change_of_basis
        q_out = out_repr.change_of_basis if out_change_of_basis is None else out_change_of_basis
        q_in = np.asarray(q_in, dtype=np.float64)
        q_out = np.asarray(q_out, dtype=np.float64)
        if q_in.shape != (in_repr.size,) * 2 or q_out.shape != (out_repr.size,) * 2:
            raise ValueError("change of basis matrices do not match the representation sizes")
        if in_change_of_basis is None and hasattr(in_repr, "change_of_basis_inv"):
            q_in_inv = np.asarray(in_repr.change_of_basis_inv, dtype=np.float64)
        else:
            q_in_inv = np.linalg.inv(q_in)
        self._in_inv = None if np.array_equal(q_in_inv, np.eye(in_repr.size)) else q_in_inv
        self._out = None if np.array_equal(q_out, np.eye(out_repr.size)) else q_out

    def sample_angles(self, angles: np.ndarray, origin: np.ndarray | None = None) -> np.ndarray:
        """Evaluate on angles ``(P,)``; ``origin`` flags points at the origin."""
        return np.moveaxis(self.sample_angles_stacked(angles, origin), 0, 2)

    def sample_angles_stacked(
        self, angles: np.ndarray, origin: np.ndarray | None = None
    ) -> np.ndarray:
        """As :meth:`sample_angles`, element-major: shape ``(dim, O, I, P)``.

        Each irreps block only meets the columns of ``Q_out`` and the rows of ``Q_in^-1`` of its
        two irreps, so the change of basis is applied block by block.
        """
        angles = np.asarray(angles, dtype=np.float64).reshape(-1)
        out = np.zeros((self.dim, self.shape[0], self.shape[1], angles.shape[0]))
        cache: dict[int, np.ndarray] = {}
        eye_out, eye_in = np.eye(self.shape[0]), np.eye(self.shape[1])
        for _, _, i0, o0, start, basis in self.blocks:
            values = cache.get(id(basis))
            if values is None:
                values = cache[id(basis)] = basis.sample_angles(angles, origin)
            o_size, i_size = basis.shape
            stop = start + basis.dim
            if self._out is None and self._in_inv is None:
                out[start:stop, o0 : o0 + o_size, i0 : i0 + i_size] = np.moveaxis(values, 2, 0)
                continue
            q_out = (eye_out if self._out is None else self._out)[:, o0 : o0 + o_size]
            q_in_inv = (eye_in if self._in_inv is None else self._in_inv)[i0 : i0 + i_size]
            out[start:stop] = np.einsum("ao,oinp,ib->nabp", q_out, values, q_in_inv)
        return out

    def _sample(self, points: np.ndarray) -> np.ndarray:
        if points.shape[0] == 1:  # angles, as the reference's angular bases take them
            return self.sample_angles(points[0])
        _, angles, origin = polar_coordinates(points)
        return self.sample_angles(angles, origin)

    def attribute_columns(self) -> dict[str, np.ndarray]:
        rows: dict[str, list] = {
            "frequency": [],
            "gamma": [],
            "s": [],
            "offset": [],
            "in_irrep": [],
            "out_irrep": [],
            "in_irrep_position": [],
            "out_irrep_position": [],
            "inner_index": [],
            "shape": [],
        }
        for ii, oo, _, _, _, basis in self.blocks:
            cols = basis.attribute_columns()
            n = basis.dim
            rows["frequency"].extend(cols["frequency"].tolist())
            rows["gamma"].extend(cols["gamma"].tolist())
            rows["s"].extend(cols["s"].tolist() if "s" in cols else [None] * n)
            rows["offset"].extend(cols["offset"].tolist() if "offset" in cols else [None] * n)
            rows["in_irrep"].extend([self.in_repr.irreps[ii]] * n)
            rows["out_irrep"].extend([self.out_repr.irreps[oo]] * n)
            rows["in_irrep_position"].extend([ii] * n)
            rows["out_irrep_position"].extend([oo] * n)
            rows["inner_index"].extend(range(n))
            rows["shape"].extend([basis.shape] * n)
        columns = {
            "frequency": np.asarray(rows["frequency"], dtype=np.int64),
            "gamma": np.asarray(rows["gamma"], dtype=np.float64),
            "s": _object_column(rows["s"]),
            "offset": _object_column(rows["offset"]),
            "in_irrep": np.asarray(rows["in_irrep"], dtype=str),
            "out_irrep": np.asarray(rows["out_irrep"], dtype=str),
            "in_irrep_position": np.asarray(rows["in_irrep_position"], dtype=np.int64),
            "out_irrep_position": np.asarray(rows["out_irrep_position"], dtype=np.int64),
            "inner_index": np.asarray(rows["inner_index"], dtype=np.int64),
            "shape": _object_column(rows["shape"]),
        }
        # names used by the reference library, kept so that ported basis filters work unchanged
        columns["in_irrep_idx"] = columns["in_irrep_position"]
        columns["out_irrep_idx"] = columns["out_irrep_position"]
        columns["inner_idx"] = columns["inner_index"]
        columns["idx"] = np.arange(self.dim)
        return columns

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, SteerableKernelBasis)
            and self.in_repr == other.in_repr
            and self.out_repr == other.out_repr
            and self.irreps_bases == other.irreps_bases
        )

    def __hash__(self) -> int:
        return hash((self.in_repr, self.out_repr, tuple(sorted(self.irreps_bases))))
