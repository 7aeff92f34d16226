"""Stateless maths of the basis expansion: learnable coefficients x sampled bases -> filters.

Nothing here owns state: the modules in :mod:`.basis_expansion` and :mod:`.base` hold the basis
tensors and the index layout, and call these functions. The expansion of a layer is a handful of
large tensor operations, independent of the number of fields:

* one matrix product per distinct ``(in_repr, out_repr)`` pair of the layer (every field pair that
  shares a basis is expanded at once),
* one concatenation that lays the pair blocks out in "grouped" channel order (fields sorted by
  representation, first appearance first),
* at most one ``index_select`` per axis that moves the channels back into the field type's order
  (skipped when the type is already grouped, the common case),
* for the bias, one gather, one product and one ``index_add``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["expand_block", "assemble_blocks", "expand_filter", "expand_bias"]


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


def assemble_blocks(blocks: Sequence[Sequence[Tensor]]) -> Tensor:
    """Lay out a grid of blocks (rows: output groups, columns: input groups) as one tensor."""
    rows = [row[0] if len(row) == 1 else torch.cat(list(row), dim=1) for row in blocks]
    return rows[0] if len(rows) == 1 else torch.cat(rows, dim=0)


def expand_filter(
    weights: Tensor,
    bases: Sequence[Sequence[Tensor]],
    slots: Sequence[Sequence[tuple[int, int, int, int]]],
    out_index: Tensor | None = None,
    in_index: Tensor | None = None,
) -> Tensor:
    """Expand a layer's flat weight vector into its filter ``(C_out, C_in, S)``.

    ``bases[a][b]`` is the basis of output group ``a`` and input group ``b`` and
    ``slots[a][b] = (start, stop, n_out, n_in)`` where its coefficients lie in ``weights`` and how
    many output/input fields the two groups hold. ``out_index``/``in_index`` map each channel of the
    field type to its position in grouped order (``None``: the type is already grouped).
    """
    blocks = [
        [
            expand_block(weights[start:stop], basis, n_out, n_in)
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
