"""Small numerical helpers shared by the group package (numpy only)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["COB_DECIMALS", "psi", "chi", "psichi", "block_diagonal", "rounded_key"]

#: Number of decimals a change of basis is rounded to before comparing or hashing representations.
COB_DECIMALS = 12

TWO_PI = 2.0 * math.pi


def psi(theta: float, k: int = 1, gamma: float = 0.0) -> np.ndarray:
    """Return the 2x2 matrix of the planar rotation by the angle ``k * theta + gamma``."""
    angle = k * theta + gamma
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]], dtype=np.float64)


def chi(s: int) -> np.ndarray:
    """Return ``diag(1, (-1)**s)``: the identity for even ``s``, the reflection ``y -> -y`` else."""
    return np.array([[1.0, 0.0], [0.0, -1.0 if int(s) % 2 else 1.0]], dtype=np.float64)


def psichi(theta: float, s: int, k: int = 1, gamma: float = 0.0) -> np.ndarray:
    """Return ``psi(theta, k, gamma) @ chi(s)``: a reflection (odd ``s``) followed by a rotation."""
    return psi(theta, k, gamma) @ chi(s)


def block_diagonal(blocks: Sequence[np.ndarray]) -> np.ndarray:
    """Stack square or rectangular 2-D blocks along the diagonal of a zero matrix."""
    rows = sum(b.shape[0] for b in blocks)
    cols = sum(b.shape[1] for b in blocks)
    out = np.zeros((rows, cols), dtype=np.float64)
    r = c = 0
    for b in blocks:
        out[r : r + b.shape[0], c : c + b.shape[1]] = b
        r += b.shape[0]
        c += b.shape[1]
    return out


def rounded_key(matrix: np.ndarray) -> np.ndarray:
    """Round ``matrix`` to :data:`COB_DECIMALS` decimals, mapping ``-0.0`` to ``0.0``."""
    out = np.round(np.asarray(matrix, dtype=np.float64), COB_DECIMALS) + 0.0
    out.setflags(write=False)
    return out


def angle_mod(theta: float) -> float:
    """Reduce an angle to ``[0, 2*pi)``, snapping values within 1e-12 of ``2*pi`` to 0."""
    t = math.fmod(float(theta), TWO_PI)
    if t < 0.0:
        t += TWO_PI
    if TWO_PI - t < 1e-12:
        t = 0.0
    return t


def angle_close(a: float, b: float, atol: float = 1e-9) -> bool:
    """Whether two angles describe the same rotation up to ``atol`` radians."""
    d = angle_mod(a - b)
    return min(d, TWO_PI - d) <= atol
