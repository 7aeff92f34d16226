"""Stateless maths of the basis expansion: learnable coefficients x sampled bases -> filters.

Nothing here owns state: the modules in :mod:`.basis_expansion` and :mod:`.base` hold the basis
tensors and the index layout, and call these functions. The expansion of a layer is a handful of
large tensor operations, independent of the number of fields:

* per distinct ``(in_repr, out_repr)`` pair of the layer (every field pair that shares a basis is
  expanded at once), either one matrix product with the dense basis (:func:`expand_block`) or, for
  a compact basis, three products through the changes of basis (:func:`expand_compact`),
  whichever a cost model (:func:`compact_costs`) says is cheaper,
* one concatenation that lays the pair blocks out in "grouped" channel order (fields sorted by
  representation, first appearance first),
* at most one ``index_select`` per axis that moves the channels back into the field type's order
  (skipped when the type is already grouped, the common case),
* for the bias, one gather, one product and one ``index_add``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import Tensor

__all__ = [
    "CompactBasis",
    "compact_costs",
    "expand_block",
    "expand_compact",
    "assemble_blocks",
    "expand_filter",
    "expand_bias",
]

#: Cost model of :func:`compact_costs`, in multiply-add equivalents: each extra kernel launch of the
#: compact path, and each element of its intermediates (the half-expanded basis and the per-slot
#: sums: written, read back, and again in the backward pass). Fitted on a 2-core x86 CPU
#: (``benchmarks/expansion_paths.py --grid``, forward plus backward, one thread): the dense path's
#: large product runs at about 0.1 ns a multiply-add; the compact path costs about 16-32
#: multiply-adds per intermediate element and 0.1-0.15 ms of fixed overhead (launches). Consequence:
#: 3x3 layers with few field pairs stay dense, 3x3 layers with many field pairs go compact (the two
#: measure alike there: both are memory-bound) and regular-field layers from 5x5 go compact (2-5
#: times faster).
LAUNCH_COST = 250_000
ELEMENT_COST = 32
#: Cost of streaming one element of the dense basis (read in the forward and again in the backward
#: pass), whatever the number of field pairs: with few of them the dense product is a
#: matrix-vector product, bound by reading the basis, not by its multiply-adds. Measured on the
#: same CPU for a single D16 regular field pair (k = 5, 9, 13): the dense path took 1.7-4.6 times
#: the compact one, where multiply-adds alone predicted the opposite.
DENSE_READ_COST = 8


def expand_block(coefficients: Tensor, basis: Tensor, n_out: int, n_in: int) -> Tensor:
    """Expand the coefficients of every field pair sharing one basis.

    ``coefficients`` holds ``n_out * n_in * dim`` numbers laid out as ``(n_out, n_in, dim)``;
    ``basis`` is ``(dim, O, I, S)``. Returns ``(n_out * O, n_in * I, S)`` where row block ``a`` and
    column block ``b`` is ``sum_d coefficients[a, b, d] * basis[d]``.
    """
    dim, o, i, s = basis.shape
    if dim == 0:
        return coefficients.new_zeros(n_out * o, n_in * i, s)
    flat = coefficients.reshape(n_out * n_in, dim) @ basis.reshape(dim, o * i * s)
    # (n_out, n_in, O, I, S) -> (n_out, O, n_in, I, S); a free view when n_in == 1 or O == 1
    return flat.view(n_out, n_in, o, i, s).transpose(1, 2).reshape(n_out * o, n_in * i, s)


class CompactBasis(NamedTuple):
    """The tensors of a compact basis, grouped by output slot (see
    :func:`e2compile.kernels.compact.slot_layout`).

    ``slot_blocks`` ``(O * M, 2, S)``: for each of the ``O`` output slots (rows of ``q_out``) the
    row of the block of its (at most ``M``) elements, zero-padded; ``in_index`` ``(O * M,)``: the
    input irrep of each; ``q_in`` ``(n_in_irreps, I, 2)``: the rows of ``Q_in^-1`` of each input
    irrep, transposed and padded to two; ``coefficient_index`` ``(O, M)``: which coefficient
    multiplies each (any for padding); ``q_out`` ``(O, O)``: the output change of basis.
    """

    slot_blocks: Tensor
    in_index: Tensor
    q_in: Tensor
    coefficient_index: Tensor
    q_out: Tensor


def compact_costs(fields: int, dim: int, per_slot: int, o: int, i: int, s: int) -> dict[str, float]:
    """Estimated cost of expanding ``fields`` field pairs of a basis of ``dim`` elements with
    ``(O, I, S)`` filters: ``dense`` (one product with the dense ``(dim, O, I, S)`` basis) and
    ``compact`` (:func:`expand_compact`, ``per_slot`` elements per output slot after padding):
    multiply-adds plus :data:`ELEMENT_COST` per element of the compact path's intermediates,
    :data:`LAUNCH_COST` per extra launch and :data:`DENSE_READ_COST` per element of the dense
    basis."""
    half = o * per_slot * i * s  # the slots' half-expanded basis
    products = fields * half + fields * o * o * i * s + 2 * half
    memory = ELEMENT_COST * (half + fields * o * i * s)
    return {
        "dense": float(fields + DENSE_READ_COST) * dim * o * i * s,
        "compact": float(products + memory + 4 * LAUNCH_COST),
    }


def expand_compact(coefficients: Tensor, basis: CompactBasis, n_out: int, n_in: int) -> Tensor:
    """As :func:`expand_block`, through a compact basis, in three products and no permuted copy
    of a filter-sized intermediate: the half-expanded basis of every output slot (its blocks'
    rows times ``Q_in``, independent of the coefficients), the sum over each slot's elements for
    every field pair (one batched product), then ``Q_out`` for every output field (one batched
    product that writes the filter in its final layout).

    The sum is laid out output field first, ``(n_out, O, n_in, I S)`` (the batched product
    broadcasts the half-expanded basis: ``n_out`` copies of it) when there are many input fields
    per slot element, else slot first, ``(O, n_out, n_in, I S)`` (the last product then reads
    strided slices, and its backward pass copies the gradient once). Returns
    ``(n_out * O, n_in * I, S)``.
    """
    o, m = basis.coefficient_index.shape
    s = basis.slot_blocks.shape[-1]
    i = basis.q_in.shape[1]
    q_in = basis.q_in.index_select(0, basis.in_index)  # (O M, I, 2)
    half = torch.bmm(q_in, basis.slot_blocks).view(o, m, i * s)
    flat = coefficients.reshape(n_out, n_in, -1)
    gathered = flat.index_select(2, basis.coefficient_index.reshape(-1)).view(n_out, n_in, o, m)
    if n_out > 1 and 2 * n_in >= 3 * m:  # (a, O, b, I S)
        per_slot = torch.matmul(gathered.transpose(1, 2), half)
        out = torch.matmul(basis.q_out, per_slot.view(n_out, o, n_in * i * s))
    else:  # (O, a, b, I S); Q_out takes the (O, b I S) slice of each output field a
        per_slot = torch.bmm(gathered.view(n_out * n_in, o, m).transpose(0, 1), half)
        per_slot = per_slot.view(o, n_out, n_in * i * s).transpose(0, 1)
        out = torch.matmul(basis.q_out, per_slot)
    return out.view(n_out * o, n_in * i, s)


def assemble_blocks(blocks: Sequence[Sequence[Tensor]]) -> Tensor:
    """Lay out a grid of blocks (rows: output groups, columns: input groups) as one tensor."""
    rows = [row[0] if len(row) == 1 else torch.cat(list(row), dim=1) for row in blocks]
    return rows[0] if len(rows) == 1 else torch.cat(rows, dim=0)


def expand_filter(
    weights: Tensor,
    bases: Sequence[Sequence[Tensor | Callable[[Tensor, int, int], Tensor]]],
    slots: Sequence[Sequence[tuple[int, int, int, int]]],
    out_index: Tensor | None = None,
    in_index: Tensor | None = None,
) -> Tensor:
    """Expand a layer's flat weight vector into its filter ``(C_out, C_in, S)``.

    ``bases[a][b]`` is the basis of output group ``a`` and input group ``b`` (a dense basis
    tensor, or a callable ``(coefficients, n_out, n_in) -> block``) and
    ``slots[a][b] = (start, stop, n_out, n_in)`` where its coefficients lie in ``weights`` and how
    many output/input fields the two groups hold. ``out_index``/``in_index`` map each channel of the
    field type to its position in grouped order (``None``: the type is already grouped).
    """
    blocks = [
        [
            basis(weights[start:stop], n_out, n_in)
            if callable(basis)
            else expand_block(weights[start:stop], basis, n_out, n_in)
            for basis, (start, stop, n_out, n_in) in zip(brow, srow)
        ]
        for brow, srow in zip(bases, slots)
    ]
    filt = assemble_blocks(blocks)
    if out_index is not None:
        filt = filt.index_select(0, out_index)
    if in_index is not None:
        filt = filt.index_select(1, in_index)
    return filt


def expand_bias(bias: Tensor, rows: Tensor, cols: Tensor, values: Tensor, channels: int) -> Tensor:
    """Expand the bias of the trivial irreps into a per-channel bias of length ``channels``.

    The map is sparse: ``expanded[rows[n]] += values[n] * bias[cols[n]]``, where ``values`` are the
    non-zero entries of each output field's change of basis at its trivial irreps.
    """
    return bias.new_zeros(channels).index_add(0, rows, values * bias.index_select(0, cols))
