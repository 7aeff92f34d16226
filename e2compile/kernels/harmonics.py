"""Analytic solutions of the kernel constraint for one pair of irreducible representations.

For a planar symmetry group G acting on R^2, a kernel between irreps must satisfy
``K(g x) = rho_out(g) K(x) rho_in(g)^-1``. Since G only moves the angle of ``x``, the constraint
fixes the angular dependence of ``K`` up to a finite (or, for finite groups, countable) set of
harmonics (Weiler & Cesa, *General E(2)-Equivariant Steerable CNNs*, NeurIPS 2019, appendix).

Each harmonic is described by its angular frequency ``mu``, a phase ``gamma`` in {0, pi/2}, a flag
``s`` selecting the reflected solution of a 2x2 block (``None`` for other shapes) and, for finite
groups, the offset ``t`` of the aliased frequency ``mu = base + t N``. The functions here only need
frequencies, flip frequencies and irrep sizes; no group object is involved.

Sampling a harmonic at angle ``phi`` uses ``a = mu (phi - axis) + gamma`` and

* 2x2: ``[[cos a, -z sin a], [sin a, z cos a]]`` with ``z = -1`` if ``s == 1`` else ``1``
* 1x2 (scalar output, planar input): ``[cos a, sin a]``
* 2x1 (planar output, scalar input): ``[cos a, sin a]^T``
* 1x1: ``cos a``

and every element of non-zero frequency vanishes at the origin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .utils import rotation_reflection

__all__ = [
    "Harmonics",
    "aliased_offsets",
    "rotation_harmonics",
    "flip_rotation_harmonics",
    "flip_harmonics",
    "sample_harmonics",
]

HALF_PI = math.pi / 2


@dataclass(frozen=True)
class Harmonics:
    """The angular elements of one irreps-pair basis, as parallel tuples."""

    frequency: tuple[int, ...]
    gamma: tuple[float, ...]
    s: tuple[int | None, ...]
    offset: tuple[int | None, ...]

    def __len__(self) -> int:
        return len(self.frequency)


class _Builder:
    def __init__(self) -> None:
        self.rows: list[tuple[int, float, int | None, int | None]] = []

    def add(self, mu: int, gamma: float, s: int | None, t: int | None) -> None:
        self.rows.append((int(mu), float(gamma), s, t))

    def build(self) -> Harmonics:
        if not self.rows:
            return Harmonics((), (), (), ())
        mu, gamma, s, t = zip(*self.rows)
        return Harmonics(tuple(mu), tuple(gamma), tuple(s), tuple(t))


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def aliased_offsets(
    base: int,
    period: int,
    max_frequency: int | None = None,
    max_offset: int | None = None,
    non_negative: bool = False,
) -> range:
    """Offsets ``t`` such that ``mu = base + t * period`` respects the bounds.

    ``|mu| <= max_frequency`` (or ``0 <= mu <= max_frequency`` when ``non_negative``) and
    ``|t| <= max_offset``; at least one of the two bounds is required.
    """
    if period < 1:
        raise ValueError(f"period must be a positive integer, got {period}")
    if max_frequency is None and max_offset is None:
        raise ValueError("either max_frequency or max_offset must be given for a finite group")
    lo, hi = None, None
    if max_frequency is not None:
        low_mu = 0 if non_negative else -max_frequency
        lo = _ceil_div(low_mu - base, period)
        hi = (max_frequency - base) // period
    if max_offset is not None:
        lo = -max_offset if lo is None else max(lo, -max_offset)
        hi = max_offset if hi is None else min(hi, max_offset)
        if non_negative:
            lo = max(lo, _ceil_div(-base, period))
    return range(lo, hi + 1)


def _offsets(base, N, max_frequency, max_offset, non_negative=False):
    """``(mu, t)`` pairs; continuous groups (``N < 0``) have the single frequency ``base``."""
    if N < 0:
        return [(base, None)]
    return [
        (base + t * N, t)
        for t in aliased_offsets(base, N, max_frequency, max_offset, non_negative=non_negative)
    ]


def _check_sizes(in_size: int, out_size: int) -> None:
    if in_size not in (1, 2) or out_size not in (1, 2):
        raise ValueError(f"irreps of planar groups have size 1 or 2, got {out_size}x{in_size}")


def _check_scalar_frequency(frequency: int, N: int, which: str) -> None:
    ok = frequency == 0 or (N > 0 and N % 2 == 0 and frequency == N // 2)
    if not ok:
        raise ValueError(
            f"a one-dimensional {which} irrep must have frequency 0 (or N/2 for even N), "
            f"got {frequency}"
        )


def rotation_harmonics(
    in_size: int,
    in_frequency: int,
    out_size: int,
    out_frequency: int,
    N: int,
    max_frequency: int | None = None,
    max_offset: int | None = None,
) -> Harmonics:
    """Harmonics solving the constraint of C_N (``N >= 1``) or SO(2) (``N = -1``).

    Rotations leave both phases free, so every solution appears with ``gamma = 0`` and
    ``gamma = pi/2``; a 2x2 block has the two families ``mu = m - n`` (``s = 0``) and
    ``mu = m + n`` (``s = 1``).
    """
    _check_sizes(in_size, out_size)
    n, m = int(in_frequency), int(out_frequency)
    b = _Builder()
    if in_size == 2 and out_size == 2:
        for gamma in (0.0, HALF_PI):
            for s in (0, 1):
                base = m - n if s == 0 else m + n
                for mu, t in _offsets(base, N, max_frequency, max_offset):
                    b.add(mu, gamma, s, t)
    elif in_size == 2 or out_size == 2:
        scalar, which = (m, "output") if out_size == 1 else (n, "input")
        _check_scalar_frequency(scalar, N, which)
        for gamma in (0.0, HALF_PI):
            for mu, t in _offsets(n + m, N, max_frequency, max_offset):
                b.add(mu, gamma, None, t)
    else:
        _check_scalar_frequency(n, N, "input")
        _check_scalar_frequency(m, N, "output")
        for gamma in (0.0, HALF_PI):
            for mu, t in _offsets(m - n, N, max_frequency, max_offset, non_negative=True):
                if mu > 0 or gamma == 0.0:  # sin(0) vanishes identically
                    b.add(mu, gamma, None, t)
    return b.build()


def flip_rotation_harmonics(
    in_size: int,
    in_frequency: int,
    in_flip: int,
    out_size: int,
    out_frequency: int,
    out_flip: int,
    N: int,
    max_frequency: int | None = None,
    max_offset: int | None = None,
) -> Harmonics:
    """Harmonics solving the constraint of D_N (``N >= 1``) or O(2) (``N = -1``).

    The reflection fixes the phase: 2x2 blocks use ``gamma = 0``, mixed blocks use the flip
    frequency of their one-dimensional irrep, scalar blocks use the parity of the two flip
    frequencies. Angles are measured from the reflection axis (see :func:`sample_harmonics`).
    """
    _check_sizes(in_size, out_size)
    n, m = int(in_frequency), int(out_frequency)
    fi, fo = int(in_flip), int(out_flip)
    b = _Builder()
    if in_size == 2 and out_size == 2:
        for s in (0, 1):
            base = m - n if s == 0 else m + n
            for mu, t in _offsets(base, N, max_frequency, max_offset):
                b.add(mu, 0.0, s, t)
    elif in_size == 2 or out_size == 2:
        if out_size == 1:
            _check_scalar_frequency(m, N, "output")
            gamma = fo * HALF_PI
        else:
            _check_scalar_frequency(n, N, "input")
            gamma = fi * HALF_PI
        for mu, t in _offsets(n + m, N, max_frequency, max_offset):
            b.add(mu, gamma, None, t)
    else:
        _check_scalar_frequency(n, N, "input")
        _check_scalar_frequency(m, N, "output")
        gamma = ((fi + fo) % 2) * HALF_PI
        for mu, t in _offsets(m - n, N, max_frequency, max_offset, non_negative=True):
            if mu > 0 or gamma == 0.0:
                b.add(mu, gamma, None, t)
    return b.build()


def flip_harmonics(
    in_frequency: int,
    out_frequency: int,
    max_frequency: int | None = None,
    max_offset: int | None = None,
) -> Harmonics:
    """Harmonics for the reflection group {e, f} (both irreps one-dimensional).

    Any frequency ``mu >= 0`` is allowed; the phase is ``pi/2`` exactly when the two irreps
    differ (the kernel must then be odd with respect to the axis).
    """
    gamma = ((int(in_frequency) + int(out_frequency)) % 2) * HALF_PI
    b = _Builder()
    for t in aliased_offsets(0, 1, max_frequency, max_offset, non_negative=True):
        if t > 0 or gamma == 0.0:
            b.add(t, gamma, None, t)
    return b.build()


def sample_harmonics(
    harmonics: Harmonics,
    out_size: int,
    in_size: int,
    angles: np.ndarray,
    origin: np.ndarray | None = None,
    axis: float = 0.0,
) -> np.ndarray:
    """Evaluate harmonics at ``angles`` (shape ``(P,)``); returns ``(out_size, in_size, dim, P)``.

    Entries flagged in ``origin`` are points at the origin: only frequency-0 elements are non-zero
    there (their value does not depend on the angle).
    """
    angles = np.asarray(angles, dtype=np.float64).reshape(-1)
    dim, P = len(harmonics), angles.shape[0]
    mu = np.asarray(harmonics.frequency, dtype=np.float64).reshape(-1, 1)
    gamma = np.asarray(harmonics.gamma, dtype=np.float64).reshape(-1, 1)
    if origin is None:
        origin = np.zeros(P, dtype=bool)
    origin = np.asarray(origin, dtype=bool).reshape(-1)
    theta = np.where(origin, 0.0, angles - axis)
    a = mu * theta[None, :] + gamma
    out = np.empty((out_size, in_size, dim, P))
    if out_size == 2 and in_size == 2:
        z = np.array([-1.0 if s == 1 else 1.0 for s in harmonics.s]).reshape(-1, 1)
        return _vanish_at_origin(rotation_reflection(a, z, out), mu, origin)
    cos, sin = np.cos(a), np.sin(a)
    if out_size == 1 and in_size == 2:
        out[0, 0], out[0, 1] = cos, sin
    elif out_size == 2 and in_size == 1:
        out[0, 0], out[1, 0] = cos, sin
    elif out_size == 1 and in_size == 1:
        out[0, 0] = cos
    else:
        raise ValueError(f"unsupported block shape {out_size}x{in_size}")
    return _vanish_at_origin(out, mu, origin)


def _vanish_at_origin(out: np.ndarray, mu: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """Zero the elements of non-zero frequency ``mu`` ``(dim, 1)`` at the ``origin`` points."""
    if origin.any():
        out[:, :, (mu != 0) & origin[None, :]] = 0.0
    return out
