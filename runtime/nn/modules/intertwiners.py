"""Expansion of learnable weights on bases of equivariant matrices (no spatial dimensions).

:class:`IntertwinerExpansion` is what escnn's ``BlocksBasisExpansion`` does for a gspace without
base space: for each pair ``(input representation name, output representation name)``, sorted as
strings, the basis of :func:`e2compile.group.intertwiner_basis` and one weight per (output field,
input field, basis element) of that pair. Shared by ``Linear`` and ``TensorProductModule``.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product
from typing import Any

import numpy as np
import torch

from ..errors import ArgumentError
from ._buffers import DerivedBuffers

__all__ = ["IntertwinerExpansion"]


def _group_by_name(reprs: Sequence[Any], argname: str) -> dict[str, tuple[Any, list[int]]]:
    groups: dict[str, tuple[Any, list[int]]] = {}
    for i, r in enumerate(reprs):
        known = groups.get(r.name)
        if known is None:
            groups[r.name] = (r, [i])
        elif known[0] == r:
            known[1].append(i)
        else:
            raise ArgumentError(
                f"{argname}: two different representations share the name {r.name!r}; the "
                "weights are shared by name, so give them distinct names"
            )
    return groups


def _field_offsets(reprs: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Channel offset and irrep offset of each field."""
    channels = np.cumsum([0] + [r.size for r in reprs])[:-1]
    irreps = np.cumsum([0] + [len(r.irreps) for r in reprs])[:-1]
    return channels, irreps


class IntertwinerExpansion(DerivedBuffers):
    """Maps a weight vector to an equivariant ``(out_size, in_size)`` matrix.

    Args:
        in_reprs: the representations of the input fields, in order.
        out_reprs: the representations of the output fields, in order.

    Weight layout (escnn's): blocks for each pair of representation names sorted as strings;
    inside a block ``(n_out_fields, n_in_fields, basis dim)``.
    """

    def __init__(self, in_reprs: Sequence[Any], out_reprs: Sequence[Any]) -> None:
        super().__init__()
        from e2compile.group import intertwiner_basis

        in_reprs, out_reprs = list(in_reprs), list(out_reprs)
        self.in_size = int(sum(r.size for r in in_reprs))
        self.out_size = int(sum(r.size for r in out_reprs))
        in_groups = _group_by_name(in_reprs, "in_type")
        out_groups = _group_by_name(out_reprs, "out_type")
        in_ch, _ = _field_offsets(in_reprs)
        out_ch, out_irr = _field_offsets(out_reprs)
        self._blocks: list[tuple[int, int, int, int, int]] = []
        out_position: list[np.ndarray] = []
        in_irrep: list[np.ndarray] = []
        start = 0
        for in_name, out_name in sorted(product(in_groups, out_groups)):
            (in_repr, in_fields), (out_repr, out_fields) = in_groups[in_name], out_groups[out_name]
            basis = intertwiner_basis(in_repr, out_repr)
            if basis.dim == 0:
                continue
            k = len(self._blocks)
            rows = np.concatenate(
                [np.arange(out_ch[o], out_ch[o] + out_repr.size) for o in out_fields]
            )
            cols = np.concatenate([np.arange(in_ch[i], in_ch[i] + in_repr.size) for i in in_fields])
            self.register_derived_buffer(f"_basis_{k}", basis.matrices)
            self.register_derived_buffer(f"_rows_{k}", torch.from_numpy(rows[:, None].copy()))
            self.register_derived_buffer(f"_cols_{k}", torch.from_numpy(cols[None, :].copy()))
            n_out, n_in, dim = len(out_fields), len(in_fields), basis.dim
            self._blocks.append((start, start + n_out * n_in * dim, n_out, n_in, dim))
            start += n_out * n_in * dim
            # attributes per coefficient, in the weight layout (out field, in field, element)
            pos = out_irr[np.asarray(out_fields)][:, None] + basis.out_irrep_position[None, :]
            out_position.append(np.repeat(pos[:, None, :], n_in, axis=1).reshape(-1))
            in_irrep.append(np.tile(basis.irrep, n_out * n_in))
        self._dimension = start
        self._columns = {
            "out_irreps_position": np.concatenate(out_position)
            if out_position
            else np.zeros(0, np.int64),
            "in_irrep": np.concatenate(in_irrep) if in_irrep else np.zeros(0, np.str_),
        }

    def dimension(self) -> int:
        """Number of weights."""
        return self._dimension

    def basis_columns(self, names: Sequence[str], codes: bool = False) -> dict[str, np.ndarray]:
        """Per-weight attributes (``out_irreps_position``: index of the output irrep in the whole
        output type; ``in_irrep``: input irrep name, or an integer code with ``codes``), as the
        initialisers of :mod:`runtime.nn.init` read them."""
        out = {}
        for name in names:
            if name not in self._columns:
                raise ArgumentError(f"basis_columns: unknown attribute {name!r}")
            col = self._columns[name]
            if codes and col.dtype.kind not in "iu":
                index: dict[str, int] = {}
                col = np.array([index.setdefault(v, len(index)) for v in col.tolist()], np.int64)
            out[name] = col
        return out

    def forward(self, weights: torch.Tensor) -> torch.Tensor:
        """The ``(out_size, in_size)`` matrix ``sum_k weights[k] * basis[k]``."""
        if weights.shape != (self._dimension,):
            raise ArgumentError(
                f"weights: expected shape ({self._dimension},), got {tuple(weights.shape)}"
            )
        matrix = weights.new_zeros(self.out_size, self.in_size)
        for k, (start, stop, n_out, n_in, dim) in enumerate(self._blocks):
            basis = getattr(self, f"_basis_{k}").to(weights.dtype)
            w = weights[start:stop].view(n_out, n_in, dim)
            block = torch.einsum("oid,dpq->opiq", w, basis)
            block = block.reshape(n_out * basis.shape[1], n_in * basis.shape[2])
            rows, cols = getattr(self, f"_rows_{k}"), getattr(self, f"_cols_{k}")
            matrix = matrix.index_put((rows, cols), block)
        return matrix
