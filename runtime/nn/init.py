"""Initialisers of the learnable coefficients of steerable convolutions.

Both are vectorised over the per-coefficient attribute columns of a basis expansion
(:meth:`~runtime.nn.modules.conv.basis_expansion.BasisExpansion.basis_columns`): their cost is a
few numpy passes over the weight vector, whatever the number of fields. Random numbers come from
torch's generator, so ``torch.manual_seed`` makes them reproducible.
"""

from __future__ import annotations

import numpy as np
import torch

from .errors import ArgumentError

__all__ = ["generalized_he_init", "deltaorthonormal_init", "generalized_he_std"]


def generalized_he_std(
    out_position: np.ndarray, in_irrep: np.ndarray, multiplicity: np.ndarray | None = None
) -> np.ndarray:
    """Standard deviation of each coefficient under the generalized He initialisation.

    ``out_position[w]`` identifies the output irrep that coefficient ``w`` reaches (its position
    in the whole output type), ``in_irrep[w]`` names (or codes) its input irrep.
    ``std[w] = 1 / sqrt(n_in(o) * n_basis(i, o))`` with ``n_in(o)`` the number of distinct input
    irreps reaching ``o`` and ``n_basis(i, o)`` the number of coefficients from irrep ``i`` to
    ``o``. ``multiplicity[w]`` (default 1) lets one row stand for that many coefficients.
    """
    if out_position.size == 0:
        return np.empty(0)
    if in_irrep.dtype.kind not in "iu":
        in_irrep = np.unique(in_irrep, return_inverse=True)[1].reshape(-1)
    n_codes = int(in_irrep.max()) + 1
    key = out_position.astype(np.int64) * n_codes + in_irrep
    size = (int(out_position.max()) + 1) * n_codes
    counts = np.bincount(key, weights=multiplicity, minlength=size)
    n_inputs = (counts.reshape(-1, n_codes) > 0).sum(axis=1)
    return 1.0 / np.sqrt(n_inputs[out_position] * counts[key])


def _check(tensor: torch.Tensor, basisexpansion) -> None:
    if tensor.shape != (basisexpansion.dimension(),):
        raise ArgumentError(
            f"tensor of shape {tuple(tensor.shape)} does not hold the "
            f"{basisexpansion.dimension()} coefficients of the basis expansion"
        )


def _he_blocks(basisexpansion) -> list[tuple[int, int, int, torch.Tensor]]:
    """``[(start, stop, repeats, std of the block's elements)]`` for a blocks expansion.

    Every output field of a group sees the same counts, so the std is computed per (output group,
    element) with the input fields counted as multiplicities, then repeated over field pairs.
    """
    blocks = basisexpansion.block_columns(["out_irrep_position", "in_irrep"], codes=True)
    if not blocks:
        return []
    group = np.concatenate([np.full(c["in_irrep"].size, s.out_group) for s, c in blocks])
    position = np.concatenate([c["out_irrep_position"] for s, c in blocks])
    output = group * (int(position.max(initial=0)) + 1) + position
    std = generalized_he_std(
        output,
        np.concatenate([c["in_irrep"] for s, c in blocks]),
        np.concatenate([np.full(c["in_irrep"].size, s.n_in) for s, c in blocks]),
    )
    bounds = np.cumsum([0] + [c["in_irrep"].size for s, c in blocks])
    return [
        (s.start, s.stop, s.n_out * s.n_in, torch.from_numpy(std[lo:hi]))
        for (s, c), lo, hi in zip(blocks, bounds[:-1], bounds[1:])
    ]


def _he_std_vector(basisexpansion, size: int) -> torch.Tensor:
    """The std of every coefficient (float64, length ``size``) under the generalized He init."""
    if not hasattr(basisexpansion, "block_columns"):
        c = basisexpansion.basis_columns(["out_irreps_position", "in_irrep"], codes=True)
        return torch.from_numpy(generalized_he_std(c["out_irreps_position"], c["in_irrep"]))
    std = torch.zeros(size, dtype=torch.float64)
    for start, stop, repeats, block_std in _he_blocks(basisexpansion):
        std[start:stop] = block_std.repeat(repeats)
    return std


def generalized_he_init(tensor: torch.Tensor, basisexpansion, cache: bool = False) -> None:
    """Fill ``tensor`` (the coefficients of ``basisexpansion``) with generalized He initialisation.

    Each coefficient is drawn from ``N(0, std^2)`` with the ``std`` of :func:`generalized_he_std`,
    which makes every output irrep's expected squared norm independent of the number and the type
    of the input fields. For a :class:`BlocksBasisExpansion` the std is computed per basis element
    (not per coefficient) and repeated over the field pairs of each block. The draw is one
    in-place ``normal_`` and one multiplication; ``cache=True`` keeps the std vector on
    ``basisexpansion`` (not in a global) for the next call, which then costs only these two.
    """
    _check(tensor, basisexpansion)
    std = getattr(basisexpansion, "_he_std", None) if cache else None
    if std is None:
        std = _he_std_vector(basisexpansion, tensor.shape[0])
        if cache:
            basisexpansion._he_std = std
    with torch.no_grad():
        tensor.normal_().mul_(std.to(device=tensor.device, dtype=tensor.dtype))


def _semi_orthogonal(rows: int, cols: int, complex_type: bool) -> torch.Tensor:
    """A random ``rows x cols`` matrix with orthonormal rows or columns (Haar distributed).

    Real (float64) or, for ``complex_type``, complex (complex128). A 1x1 draw is a uniformly random
    sign (or phase): the diagonal of ``R`` fixes the sign ambiguity of the QR decomposition.
    """
    dtype = torch.complex128 if complex_type else torch.float64
    tall = rows >= cols
    gaussian = torch.randn((rows, cols) if tall else (cols, rows), dtype=dtype)
    q, r = torch.linalg.qr(gaussian)
    diagonal = torch.diagonal(r)
    q = q * (diagonal / diagonal.abs())
    return q if tall else q.mH


def deltaorthonormal_init(tensor: torch.Tensor, basisexpansion) -> None:
    """Fill ``tensor`` with a delta-orthogonal initialisation.

    Only the elements sampled at radius 0 that map an irrep to the same irrep get non-zero
    coefficients; for every irrep ``psi`` these coefficients, arranged as a matrix over the
    (output position, input position) pairs of ``psi``, are a random semi-orthogonal matrix (real
    for irreps with a one-dimensional endomorphism space, complex for the two-dimensional ones,
    whose two radius-0 elements act as the real and imaginary unit). The filter then is an
    orthogonal map concentrated at the centre of the kernel.
    """
    _check(tensor, basisexpansion)
    names = ["in_irrep", "out_irrep", "in_irreps_position", "out_irreps_position", "radius"]
    c = basisexpansion.basis_columns(names, codes=True)
    values = np.zeros(tensor.shape[0])
    if values.size:
        in_code, out_code = c["in_irrep"], c["out_irrep"]
        selected = np.flatnonzero((in_code == out_code) & (c["radius"] == 0))
        irrep = in_code[selected]
        ip = c["in_irreps_position"][selected]
        op = c["out_irreps_position"][selected]
        # rank of each element inside its (irrep, output position, input position) group
        order = np.lexsort((selected, ip, op, irrep))
        keys = np.stack([irrep[order], op[order], ip[order]])
        starts = np.flatnonzero(np.r_[True, np.any(keys[:, 1:] != keys[:, :-1], axis=0)])
        sizes = np.diff(np.r_[starts, order.size])
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size) - np.repeat(starts, sizes)
        for code in sorted(set(irrep.tolist())):  # not np.unique: it imports numpy.ma
            mine = irrep == code
            op_values, op_index = np.unique(op[mine], return_inverse=True)
            ip_values, ip_index = np.unique(ip[mine], return_inverse=True)
            endomorphisms = int(rank[mine].max()) + 1
            q = _semi_orthogonal(op_values.size, ip_values.size, endomorphisms == 2).numpy()
            parts = [q.real, q.imag] if endomorphisms == 2 else [q.real]
            mine_rank = rank[mine]
            drawn = np.zeros(mine_rank.size)
            for part_index, part in enumerate(parts):
                hit = mine_rank == part_index
                drawn[hit] = part[op_index[hit], ip_index[hit]]
            values[selected[mine]] = drawn
    with torch.no_grad():
        tensor.copy_(torch.from_numpy(values))
