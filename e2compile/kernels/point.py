"""Analytic kernel bases for point clouds: the part of a point convolution known before any point.

A point convolution evaluates its filters at the displacement of every edge, which is only known
at run time, so nothing can be sampled ahead of time. What is known is the analytic form of every
basis element: a Gaussian ring times an angular harmonic of a single frequency ``f``,

    ``B(p) = exp(-(|p| - r)^2 / (2 sigma^2)) * (C cos(f phi) + S sin(f phi))``,

``phi = atan2(y, x)``,

with two constant ``O x I`` matrices ``C`` and ``S`` (changes of basis applied). At the origin only
the elements of frequency 0 survive (their value is ``C`` times the radial factor).

The angular elements come from the irreps-pair solutions of :mod:`.irreps_basis` (the same solver
as the pixel kernels): each harmonic is one frequency, so ``C`` and ``S`` are its values at
``phi = 0`` and ``phi = pi / (2 f)``. Each element is scaled so that the largest value of
``||C cos + S sin||_F`` over the circle is the size of its output irrep, and where a finite
group's 2x2 solution holds the same harmonic at frequencies ``mu`` and ``-mu`` the two are
replaced by their half sum and half difference (same span, half the energy). Both choices are
what escnn's point convolution does (docs/escnn_parity_point.md): its initialisation carries over
with the same filter statistics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .basis import EmptyBasisException
from .steerable_basis import SteerableKernelBasis

__all__ = ["PointBasis", "point_basis", "trivial_bias_basis"]


@dataclass(frozen=True)
class PointBasis:
    """The analytic basis of the kernels from ``in_repr`` to ``out_repr`` on points.

    Attributes:
        cos, sin: float64 ``(dim, O, I)``: the matrices ``C`` and ``S`` of every element.
        frequency: int64 ``(dim,)``: the angular frequency ``f >= 0``.
        radius, sigma: float64 ``(dim,)``: the element's ring and its Gaussian width.
        attributes: columns of length ``dim`` describing the elements, for basis filters and the
            initialisation: ``radius``, ``sigma``, ``frequency`` (signed, as the solver lists it),
            ``gamma``, ``in_irrep``, ``out_irrep``, ``in_irrep_position``, ``out_irrep_position``,
            ``inner_index``, ``ring``.
    """

    cos: np.ndarray
    sin: np.ndarray
    frequency: np.ndarray
    radius: np.ndarray
    sigma: np.ndarray
    attributes: dict[str, np.ndarray] = field(repr=False)

    @property
    def dim(self) -> int:
        return int(self.frequency.shape[0])

    def select(self, keep: np.ndarray) -> PointBasis:
        """The elements flagged in the boolean mask ``keep``."""
        keep = np.asarray(keep, dtype=bool)
        return PointBasis(
            self.cos[keep],
            self.sin[keep],
            self.frequency[keep],
            self.radius[keep],
            self.sigma[keep],
            {k: v[keep] for k, v in self.attributes.items()},
        )

    def sample(self, points: np.ndarray) -> np.ndarray:
        """Evaluate every element at ``points`` ``(P, 2)``: float64 ``(P, dim, O, I)`` (checks)."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        r = np.hypot(points[:, 0], points[:, 1])
        phi = np.arctan2(points[:, 1], points[:, 0])
        radial = np.exp(-0.5 * ((r[:, None] - self.radius) / self.sigma) ** 2)
        angle = phi[:, None] * self.frequency
        c, s = np.cos(angle), np.sin(angle)
        origin = r <= ORIGIN_RADIUS
        c[origin] = (self.frequency == 0).astype(np.float64)
        s[origin] = 0.0
        return (radial * c)[..., None, None] * self.cos + (radial * s)[..., None, None] * self.sin


#: Points closer to the origin than this count as the origin (escnn's threshold).
ORIGIN_RADIUS = 1e-9


def _peak_norm(c: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``max_phi ||c cos(phi) + s sin(phi)||_F`` for stacks of matrices ``(n, a, b)``."""
    a = (c**2).sum(axis=(1, 2))
    b = (s**2).sum(axis=(1, 2))
    ab = (c * s).sum(axis=(1, 2))
    return np.sqrt((a + b) / 2 + np.sqrt(((a - b) / 2) ** 2 + ab**2))


def _normalised_pair(basis: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(C, S)`` ``(n, o, i)`` of an irreps-pair solution: its values at ``phi = 0`` and at a
    quarter period ``pi / (2 f)``, scaled to peak norm ``o`` (the output irrep's size)."""
    freq = np.abs(np.asarray(basis.harmonics.frequency, dtype=np.int64))
    quarter = np.where(freq > 0, math.pi / (2 * np.maximum(freq, 1)), 0.0)
    n = basis.dim
    c = np.moveaxis(basis.sample_angles(np.zeros(1))[..., 0], 2, 0)
    at_quarter = basis.sample_angles(quarter)  # (o, i, n, n): element k at angle k
    s = np.moveaxis(at_quarter[:, :, np.arange(n), np.arange(n)], 2, 0)
    s[freq == 0] = 0.0
    scale = basis.shape[0] / _peak_norm(c, s)
    c, s = c * scale[:, None, None], s * scale[:, None, None]
    for k1, k2 in _opposite_pairs(basis.harmonics):
        c[k1], c[k2] = (c[k1] + c[k2]) / 2, (c[k1] - c[k2]) / 2
        s[k1], s[k2] = (s[k1] + s[k2]) / 2, (s[k1] - s[k2]) / 2
    return c, s


def _opposite_pairs(harmonics: Any) -> list[tuple[int, int]]:
    """Pairs of elements of one 2x2 solution that differ only by the sign of their frequency
    (aliased frequencies ``mu`` and ``-mu`` of a finite group, e.g. C_4 irrep 1 to itself at
    ``|mu| = 2``)."""
    index = {
        (f, g, s): k
        for k, (f, g, s) in enumerate(zip(harmonics.frequency, harmonics.gamma, harmonics.s))
    }
    return [
        (k, index[(-f, g, s)])
        for (f, g, s), k in index.items()
        if f > 0 and s is not None and (-f, g, s) in index
    ]


def point_basis(
    irreps_basis: Any,
    in_repr: Any,
    out_repr: Any,
    rings: Sequence[float],
    sigma: Sequence[float],
    cutoffs: Sequence[float],
    **kwargs: Any,
) -> PointBasis:
    """The :class:`PointBasis` from ``in_repr`` to ``out_repr``.

    Args:
        irreps_basis: the irreps-pair solution of the group (a class of :mod:`.irreps_basis`).
        rings, sigma: ring radii and their Gaussian widths (one per ring).
        cutoffs: the largest frequency kept on each ring (an element of frequency ``f`` on ring
            ``i`` is kept when ``|f| <= cutoffs[i]``); finite groups alias frequencies up to
            ``int(max(cutoffs))``.
        **kwargs: forwarded to ``irreps_basis`` (``axis`` of the reflection groups).

    Elements are ordered by input irrep position, output irrep position, harmonic, then ring.
    Raises :class:`EmptyBasisException` when no element passes the cutoffs.
    """
    rings = np.asarray(rings, dtype=np.float64).reshape(-1)
    sigma = np.asarray(sigma, dtype=np.float64).reshape(-1)
    cutoffs = np.asarray(cutoffs, dtype=np.float64).reshape(-1)
    if not (rings.size == sigma.size == cutoffs.size) or rings.size == 0:
        raise ValueError(
            f"rings, sigma and cutoffs need one value per ring, got {rings.size}, {sigma.size} "
            f"and {cutoffs.size}"
        )
    max_frequency = int(math.floor(cutoffs.max()))
    if max_frequency < 0:
        raise EmptyBasisException("the frequency cutoff allows no frequency on any ring")
    if in_repr.group.order() > 0:  # finite groups alias frequencies: bound them
        kwargs = {"max_frequency": max_frequency, **kwargs}
    angular = SteerableKernelBasis(irreps_basis, in_repr, out_repr, **kwargs)
    columns = angular.attribute_columns()
    O, I = out_repr.size, in_repr.size
    q_out = np.asarray(out_repr.change_of_basis, dtype=np.float64)
    q_in_inv = np.asarray(in_repr.change_of_basis_inv, dtype=np.float64)

    # each irreps-pair solution once: its normalised (c, s), (n, 2, 2) in the top-left corner
    solved: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    dim = angular.dim
    c_all, s_all = np.zeros((dim, 2, 2)), np.zeros((dim, 2, 2))
    out_cols = np.zeros((dim, 2), dtype=np.int64)
    in_rows = np.zeros((dim, 2), dtype=np.int64)
    for _, _, i0, o0, start, basis in angular.blocks:
        if id(basis) not in solved:
            solved[id(basis)] = _normalised_pair(basis)
        c, s = solved[id(basis)]
        stop = start + basis.dim
        do, di = basis.shape
        c_all[start:stop, :do, :di], s_all[start:stop, :do, :di] = c, s
        # a one-dim irrep repeats its single row/column; the zero padding cancels the repeat
        out_cols[start:stop] = [o0, o0 + do - 1]
        in_rows[start:stop] = [i0, i0 + di - 1]
    q_o = np.moveaxis(q_out[:, out_cols], 0, 1)  # (dim, O, 2)
    q_i = q_in_inv[in_rows]  # (dim, 2, I)
    full_c = np.einsum("nao,noi,nib->nab", q_o, c_all, q_i)
    full_s = np.einsum("nao,noi,nib->nab", q_o, s_all, q_i)

    freq = np.abs(columns["frequency"])
    element, ring = np.nonzero(freq[:, None] <= cutoffs[None, :])  # element-major, then ring
    if element.size == 0:
        raise EmptyBasisException("no basis element passes the band-limiting filter")
    attributes = {
        "radius": rings[ring],
        "sigma": sigma[ring],
        "ring": ring,
        "frequency": columns["frequency"][element],
        "gamma": columns["gamma"][element],
        "in_irrep": columns["in_irrep"][element],
        "out_irrep": columns["out_irrep"][element],
        "in_irrep_position": columns["in_irrep_position"][element],
        "out_irrep_position": columns["out_irrep_position"][element],
        "inner_index": columns["inner_index"][element],
    }
    return PointBasis(
        cos=full_c[element].reshape(-1, O, I),
        sin=full_s[element].reshape(-1, O, I),
        frequency=np.abs(attributes["frequency"]),
        radius=attributes["radius"],
        sigma=attributes["sigma"],
        attributes=attributes,
    )


def trivial_bias_basis(out_repr: Any) -> np.ndarray:
    """``(O, n_trivial)``: one column per trivial irrep of ``out_repr``, its column of the change
    of basis (the bias of a field is this matrix times one parameter per trivial irrep)."""
    group = out_repr.group
    q = np.asarray(out_repr.change_of_basis, dtype=np.float64)
    columns, offset = [], 0
    for name in out_repr.irreps:
        irrep = group.irreps[name]
        if irrep.is_trivial():
            columns.append(q[:, offset])
        offset += irrep.size
    if not columns:
        return np.zeros((out_repr.size, 0))
    return np.stack(columns, axis=1)
