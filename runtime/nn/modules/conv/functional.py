"""Stateless maths of the basis expansion: learnable coefficients x sampled bases -> filters.

Nothing here owns state: the modules in :mod:`.basis_expansion` and :mod:`.base` hold the basis
tensors and the index layout, and call these functions. The expansion of a layer is a handful of
large tensor operations, independent of the number of fields:

* per distinct ``(in_repr, out_repr)`` pair of the layer (every field pair that shares a basis is
  expanded at once), either one matrix product with the dense basis (:func:`expand_block`) or, for
  a compact basis, one batched product in the irreps basis followed by the two changes of basis
  (:func:`expand_compact`), whichever a FLOP count (:func:`compact_costs`) says is cheaper,
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
#: compact path, and each element of its intermediates (written, permuted, read back, and again in
#: the backward pass: memory-bound work). Measured on a 2-core x86 CPU: a multiply-add of the dense
#: path's one large matrix product costs about 0.6 ns, the compact path's memory-bound steps 17-100
#: multiply-adds per intermediate element (about 100 for 7x7 C16 regular fields, where the compact
#: path measured 10% slower per training step); with 64, C8-C16/D8 layers up to 7x7 stay dense and
#: the layers with a very big dense basis (D16 regular, k >= 7) go compact.
LAUNCH_COST = 50_000
ELEMENT_COST = 64


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
    """The tensors of a compact basis, grouped by pair of irreps (see
    :mod:`e2compile.kernels.compact`).

    ``pair_blocks`` ``(Q, M, 4 S)``: the blocks of the (at most ``M``) elements of each of the
    ``Q`` irreps pairs that have any, zero-padded; ``coefficient_index`` ``(Q, M)``: which
    coefficient multiplies each (``dim`` for padding); ``pair_index`` ``(Q,)``: the flat index
    ``out_irrep * n_in_irreps + in_irrep`` of each pair, or ``None`` when every pair is present in
    order; ``q_out`` ``(O, 2 n_out_irreps)`` and ``q_in`` ``(2 n_in_irreps, I)``: the padded changes
    of basis; ``in_first``: apply ``q_in`` before ``q_out`` (chosen by FLOP count).
    """

    pair_blocks: Tensor
    coefficient_index: Tensor
    pair_index: Tensor | None
    q_out: Tensor
    q_in: Tensor
    in_first: bool


def compact_costs(
    fields: int, dim: int, pairs: int, per_pair: int, o: int, i: int, n_o: int, n_i: int, s: int
) -> dict[str, float]:
    """Estimated cost of expanding ``fields`` field pairs: ``dense`` (one product with the dense
    ``(dim, O, I, S)`` basis) and the compact path with ``q_out`` first (``out_first``) or ``q_in``
    first (``in_first``): multiply-adds plus :data:`LAUNCH_COST` per extra launch and
    :data:`ELEMENT_COST` per element of the intermediates."""
    blocks = fields * pairs * per_pair * 4 * s
    gathered = fields * pairs * per_pair
    final = fields * o * i * s
    common = blocks + 6 * LAUNCH_COST + ELEMENT_COST * (gathered + 2 * fields * pairs * 4 * s)
    out_mid = fields * o * 2 * n_i * s  # after q_out
    in_mid = fields * 2 * n_o * i * s  # after q_in
    return {
        "dense": float(fields) * dim * o * i * s,
        "out_first": common
        + fields * s * (o * 2 * n_o * 2 * n_i + o * 2 * n_i * i)
        + ELEMENT_COST * 2 * (out_mid + final),
        "in_first": common
        + fields * s * (2 * n_o * 2 * n_i * i + o * 2 * n_o * i)
        + ELEMENT_COST * 2 * (in_mid + final),
    }


def expand_compact(coefficients: Tensor, basis: CompactBasis, n_out: int, n_in: int) -> Tensor:
    """As :func:`expand_block`, through a compact basis: the irreps-space filter of every field
    pair (one batched product over the irreps pairs), then ``Q_out (.) Q_in``.

    Returns ``(n_out * O, n_in * I, S)``.
    """
    pairs, per_pair, s4 = basis.pair_blocks.shape
    s = s4 // 4
    o, two_no = basis.q_out.shape
    two_ni, i = basis.q_in.shape
    n_o, n_i = two_no // 2, two_ni // 2
    fields = n_out * n_in
    flat = coefficients.reshape(fields, -1)
    flat = torch.cat([flat, flat.new_zeros(fields, 1)], dim=1)  # the padding coefficient
    gathered = flat.index_select(1, basis.coefficient_index.reshape(-1))
    gathered = gathered.view(fields, pairs, per_pair).transpose(0, 1)  # (Q, F, M)
    per_pair_filters = torch.bmm(gathered, basis.pair_blocks)  # (Q, F, 4 S)
    if basis.pair_index is not None:
        full = per_pair_filters.new_zeros(n_o * n_i, fields, s4)
        per_pair_filters = full.index_copy(0, basis.pair_index, per_pair_filters)
    k = per_pair_filters.view(n_o, n_i, fields, 2, 2, s)  # (o, i, F, x, y, p)
    if basis.in_first:
        t = k.permute(2, 0, 3, 5, 1, 4).reshape(-1, two_ni) @ basis.q_in  # (F, o, x, p | I)
        t = t.view(n_out, n_in, two_no, s, i).permute(2, 0, 1, 4, 3).reshape(two_no, -1)
        out = (basis.q_out @ t).view(o, n_out, n_in, i, s).transpose(0, 1)  # (a, O, b, I, p)
    else:
        t = basis.q_out @ k.permute(0, 3, 2, 1, 4, 5).reshape(two_no, -1)  # (O | F, i, y, p)
        t = t.view(o, n_out, n_in, two_ni, s).permute(1, 0, 2, 4, 3)  # (a, O, b, p, iy)
        out = (t.reshape(-1, two_ni) @ basis.q_in).view(n_out, o, n_in, s, i).transpose(-1, -2)
    return out.reshape(n_out * o, n_in * i, s)


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
