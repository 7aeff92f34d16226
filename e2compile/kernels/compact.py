"""Compact (factored) bases: sampled in the irreps basis, expanded through the changes of basis.

A representation is ``rho = Q (+)_j psi_j Q^-1``, so every element of an equivariant kernel basis is
``B_n(x) = Q_out[:, o_n] b_n(x) Q_in^-1[i_n, :]`` where ``b_n`` is a small ``d_out x d_in`` block
between one output irrep (columns ``o_n`` of ``Q_out``) and one input irrep (rows ``i_n`` of
``Q_in^-1``). The compact form stores, per element, that block sampled on the grid, and once per
basis the two changes of basis; its size grows with the number of elements, not with ``O * I``.

Layout (shared by every kind whose elements live in one irreps block, e.g. kernels and PDOs):

* ``blocks``: float64 ``(dim, 2, 2, P)``; element ``n``'s block in its top-left
  ``d_out x d_in`` corner, zeros elsewhere (irreps of the planar groups have size 1 or 2);
* ``out_irrep_position``/``in_irrep_position`` (attribute columns): the irreps the block joins;
* ``q_out`` ``(O, O)`` and ``q_in_inv`` ``(I, I)``; ``out_irrep_sizes``/``in_irrep_sizes``.

:func:`padded_changes_of_basis` gives every irrep two slots so that the whole irreps-space filter is
one ``(2 n_out_irreps) x (2 n_in_irreps)`` block matrix per point, and
``filter = Q_out_pad @ K_pad @ Q_in_pad`` (:func:`expand_dense` is the numpy version).
:func:`slot_layout` regroups the blocks by output slot (row of ``Q_out``) for the run-time
expansion, which multiplies by ``Q_in`` first, sums the elements of each slot and applies ``Q_out``
last.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = [
    "BLOCK",
    "block_norms",
    "dense_chunks",
    "expand_dense",
    "irrep_offsets",
    "padded_changes_of_basis",
    "slot_layout",
]

#: Side of the padded block: the largest irrep of a planar group.
BLOCK = 2


def irrep_offsets(sizes: np.ndarray) -> np.ndarray:
    """First row of each irrep inside its representation."""
    sizes = np.asarray(sizes, dtype=np.int64)
    return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)


def padded_changes_of_basis(
    q_out: np.ndarray, out_sizes: np.ndarray, q_in_inv: np.ndarray, in_sizes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(Q_out_pad (O, 2 n_out), Q_in_pad (2 n_in, I))``: the columns of ``Q_out`` and the rows
    of ``Q_in^-1`` of irrep ``j`` at slots ``2j, 2j+1`` (zero where the irrep has size 1)."""
    out_sizes = np.asarray(out_sizes, dtype=np.int64)
    in_sizes = np.asarray(in_sizes, dtype=np.int64)
    qo = np.zeros((q_out.shape[0], BLOCK * out_sizes.size))
    for j, (start, size) in enumerate(zip(irrep_offsets(out_sizes), out_sizes)):
        qo[:, BLOCK * j : BLOCK * j + size] = q_out[:, start : start + size]
    qi = np.zeros((BLOCK * in_sizes.size, q_in_inv.shape[1]))
    for j, (start, size) in enumerate(zip(irrep_offsets(in_sizes), in_sizes)):
        qi[BLOCK * j : BLOCK * j + size] = q_in_inv[start : start + size]
    return qo, qi


def slot_layout(
    blocks: np.ndarray, out_position: np.ndarray, in_position: np.ndarray, out_sizes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The blocks regrouped by output slot: ``(slot_blocks, coefficient_index, in_index)``.

    Output irrep ``j`` of size ``d`` owns the slots (rows of ``Q_out``, unpadded) ``offset_j`` to
    ``offset_j + d - 1``. Slot ``s = offset_j + x`` lists the elements ``n`` with
    ``out_position[n] == j`` in increasing order, zero-padded to ``M``, the largest count:

    * ``slot_blocks`` ``(O, M, BLOCK, P)``: row ``x`` of each element's block,
      ``blocks[n, x]`` (its input side in the first ``d_in`` entries), zero for padding;
    * ``coefficient_index`` ``(O, M)`` int64: the element ``n`` (``0`` for padding: its block is
      zero);
    * ``in_index`` ``(O, M)`` int64: the element's input irrep ``in_position[n]`` (``0`` for
      padding).

    Then ``filter = Q_out @ sum_m w[index[s, m]] * (slot_blocks[s, m] @ Q_in_pad[in irrep])`` slot
    by slot, which equals ``sum_n w[n] * Q_out[:, o_n] @ blocks[n] @ Q_in^-1[i_n, :]``.
    """
    out_sizes = np.asarray(out_sizes, dtype=np.int64)
    out_position = np.asarray(out_position, dtype=np.int64)
    in_position = np.asarray(in_position, dtype=np.int64)
    dim, points = blocks.shape[0], blocks.shape[-1]
    counts = np.bincount(out_position, minlength=out_sizes.size)
    width = int(counts.max()) if dim else 0
    order = np.argsort(out_position, kind="stable")  # elements grouped by output irrep, in order
    rank = np.empty(dim, dtype=np.int64)
    rank[order] = np.arange(dim) - np.repeat(np.cumsum(counts) - counts, counts)
    slots = int(out_sizes.sum())
    slot_blocks = np.zeros((slots, width, BLOCK, points))
    coefficient_index = np.zeros((slots, width), dtype=np.int64)
    in_index = np.zeros((slots, width), dtype=np.int64)
    first_slot = irrep_offsets(out_sizes)
    for x in range(BLOCK):
        member = np.flatnonzero(out_sizes[out_position] > x)  # the elements with a row x
        slot = first_slot[out_position[member]] + x
        slot_blocks[slot, rank[member]] = blocks[member, x]
        coefficient_index[slot, rank[member]] = member
        in_index[slot, rank[member]] = in_position[member]
    return slot_blocks, coefficient_index, in_index


def block_norms(
    blocks: np.ndarray,
    out_position: np.ndarray,
    in_position: np.ndarray,
    qo_pad: np.ndarray,
    qi_pad: np.ndarray,
    chunk_bytes: int = 64 * 2**20,
) -> np.ndarray:
    """Squared Frobenius norm (summed over points) of every dense element, without forming it.

    ``||Q_o b Q_i||^2 = sum_p tr(b_p^T G_o b_p H_i)`` with the 2x2 Gram matrices
    ``G_o = Q_o^T Q_o`` and ``H_i = Q_i Q_i^T`` of the two irreps' slots, in chunks of about
    ``chunk_bytes`` of blocks (two temporaries of that size).
    """
    grams_out = np.stack(
        [qo_pad[:, BLOCK * j : BLOCK * j + BLOCK] for j in range(qo_pad.shape[1] // BLOCK)]
    )
    grams_out = np.einsum("axj,axk->ajk", grams_out, grams_out)  # Q_o^T Q_o per irrep
    grams_in = qi_pad.reshape(-1, BLOCK, qi_pad.shape[1])
    grams_in = np.einsum("ajx,akx->ajk", grams_in, grams_in)  # Q_i Q_i^T per irrep
    out = np.empty(blocks.shape[0])
    step = max(1, chunk_bytes // max(1, blocks[0].nbytes))
    for start in range(0, blocks.shape[0], step):
        b = blocks[start : start + step]
        g = grams_out[out_position[start : start + step]]
        h = grams_in[in_position[start : start + step]]
        gbh = np.einsum("nxwp,nwy->nxyp", np.einsum("nxz,nzwp->nxwp", g, b), h)
        out[start : start + step] = np.einsum("nxyp,nxyp->n", b, gbh)
    return out


def dense_chunks(
    blocks: np.ndarray,
    out_position: np.ndarray,
    in_position: np.ndarray,
    qo_pad: np.ndarray,
    qi_pad: np.ndarray,
    chunk_bytes: int = 64 * 2**20,
) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, dense[start:stop])`` chunks of the dense ``(dim, O, I, P)`` basis, each at most
    about ``chunk_bytes`` (one element at least), so callers can stream it."""
    dim, _, _, points = blocks.shape
    o, i = qo_pad.shape[0], qi_pad.shape[1]
    # the BLOCK columns of Q_o (rows of Q_i) of each irrep slot: (n_o, O, 2) and (n_i, 2, I)
    q_out = qo_pad.reshape(o, -1, BLOCK).transpose(1, 0, 2)
    q_in = qi_pad.reshape(-1, BLOCK, i)
    step = max(1, chunk_bytes // max(1, o * i * points * 8))
    for start in range(0, dim, step):
        stop = min(dim, start + step)
        # Q_o[slot] @ b_p @ Q_i[slot] for every element and point, as two contractions over the
        # irrep slots (einsum's loops, not one tiny matrix product per element and point)
        q_o = q_out[np.asarray(out_position[start:stop], dtype=np.int64)]  # (n, O, 2)
        q_i = q_in[np.asarray(in_position[start:stop], dtype=np.int64)]  # (n, 2, I)
        half = np.einsum("nax,nxjp->najp", q_o, blocks[start:stop])  # (n, O, 2, P)
        yield start, np.einsum("najp,njb->nabp", half, q_i)  # memory order: einsum's choice


def expand_dense(artifact: Any, elements: np.ndarray | None = None) -> np.ndarray:
    """The dense sampled basis ``(dim, O, I, k*k)`` of a compact artifact (float64).

    ``elements`` (indices) selects a subset. This is what tools that draw or compare filters call;
    it allocates the whole dense array, so mind large bases (see :func:`dense_chunks`).
    """
    blocks = artifact.blocks
    out_position = artifact.attributes["out_irrep_position"]
    in_position = artifact.attributes["in_irrep_position"]
    if elements is not None:
        elements = np.asarray(elements, dtype=np.int64)
        blocks, out_position, in_position = (
            blocks[elements],
            out_position[elements],
            in_position[elements],
        )
    qo, qi = artifact.padded_changes_of_basis()
    out = None
    for start, chunk in dense_chunks(blocks, out_position, in_position, qo, qi):
        if start == 0 and chunk.shape[0] == blocks.shape[0]:  # one chunk: no second copy
            return np.ascontiguousarray(chunk)
        if out is None:
            out = np.empty((blocks.shape[0], qo.shape[0], qi.shape[1], blocks.shape[3]))
        out[start : start + chunk.shape[0]] = chunk
    return np.empty((0, qo.shape[0], qi.shape[1], blocks.shape[3])) if out is None else out
