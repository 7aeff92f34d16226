"""Batched planar rotation and reflection matrices, as the reference library's ``kernels.utils``.

Unlike :func:`e2compile.group.psi` (one ``2 x 2`` matrix), these evaluate many matrices at once
and return arrays of shape ``(2, 2, K, T)``: ``K`` frequencies/phases (or flip flags) times
``T`` angles, the layout in which kernel bases are sampled (see
:func:`e2compile.kernels.sample_harmonics`). Every function accepts ``out=`` to write into an
existing array of that shape.
"""

from __future__ import annotations

import numpy as np

__all__ = ["psi", "chi", "psichi"]


def _real(value: object, name: str) -> np.ndarray:
    """``value`` as a flat float64 array of finite numbers (a scalar gives one entry)."""
    array = np.asarray(value)
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise TypeError(f"{name} must be real numbers, got {value!r}")
    array = array.astype(np.float64).reshape(-1)
    if array.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite, got {value!r}")
    return array


def _flip_signs(s: object) -> np.ndarray:
    """``(-1)^s`` as a column ``(S, 1)`` for flip flags ``s`` in {0, 1}."""
    flags = np.asarray(s)
    if flags.dtype == bool or not np.issubdtype(flags.dtype, np.integer):
        if not (np.issubdtype(flags.dtype, np.floating) and np.all(flags == np.round(flags))):
            raise TypeError(f"s must be flip flags 0 or 1, got {s!r}")
    flags = flags.reshape(-1)
    if flags.size == 0 or not np.isin(flags, (0, 1)).all():
        raise ValueError(f"s must be flip flags 0 or 1, got {s!r}")
    return np.where(flags == 1, -1.0, 1.0).reshape(-1, 1)


def _output(out: np.ndarray | None, rows: int, columns: int) -> np.ndarray:
    shape = (2, 2, rows, columns)
    if out is None:
        return np.empty(shape)
    if not isinstance(out, np.ndarray) or out.shape != shape:
        got = out.shape if isinstance(out, np.ndarray) else type(out).__name__
        raise ValueError(f"out must be an array of shape {shape}, got {got}")
    return out


def _angles(theta: object, k: object, gamma: object) -> np.ndarray:
    """``k * theta + gamma`` of shape ``(K, T)``: ``k`` and ``gamma`` broadcast to ``K`` rows."""
    theta = _real(theta, "theta").reshape(1, -1)
    k = _real(k, "k").reshape(-1, 1)
    gamma = _real(gamma, "gamma").reshape(-1, 1)
    if k.shape[0] != gamma.shape[0] and 1 not in (k.shape[0], gamma.shape[0]):
        raise ValueError(
            f"k and gamma must have the same length (or one of them one), got {k.shape[0]} "
            f"and {gamma.shape[0]}"
        )
    return k * theta + gamma


def psi(
    theta: float | np.ndarray,
    k: int | np.ndarray = 1,
    gamma: float | np.ndarray = 0.0,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Rotation matrices by the angles ``k * theta + gamma``: shape ``(2, 2, K, T)``.

    ``theta`` holds ``T`` angles (a scalar is one), ``k`` and ``gamma`` hold ``K`` frequencies
    and phases (either may be a scalar, shared by all rows). Entry ``[:, :, i, j]`` is
    ``[[cos a, -sin a], [sin a, cos a]]`` with ``a = k_i theta_j + gamma_i``.
    """
    return psichi(theta, 0, k, gamma, out)


def chi(s: int | np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The matrices ``diag(1, (-1)^s)`` for flip flags ``s`` in {0, 1}: shape ``(2, 2, S, 1)``.

    ``s = 1`` is the reflection ``y -> -y``, ``s = 0`` the identity.
    """
    signs = _flip_signs(s)
    out = _output(out, signs.shape[0], 1)
    out[0, 0], out[0, 1], out[1, 0], out[1, 1] = 1.0, 0.0, 0.0, signs
    return out


def psichi(
    theta: float | np.ndarray,
    s: int | np.ndarray,
    k: int | np.ndarray = 1,
    gamma: float | np.ndarray = 0.0,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """``psi(theta, k, gamma) @ chi(s)`` over the first two axes: shape ``(2, 2, K, T)``.

    Entry ``[:, :, i, j]`` is ``[[cos a, -z sin a], [sin a, z cos a]]`` with
    ``a = k_i theta_j + gamma_i`` and ``z = (-1)^s_i``; ``s`` is a scalar or has ``K`` entries.
    """
    angles = _angles(theta, k, gamma)
    signs = _flip_signs(s)
    if signs.shape[0] not in (1, angles.shape[0]):
        raise ValueError(
            f"s must have one entry or one per row ({angles.shape[0]}), got {signs.shape[0]}"
        )
    rows = max(angles.shape[0], signs.shape[0])
    return rotation_reflection(angles, signs, _output(out, rows, angles.shape[1]))


def rotation_reflection(angles: np.ndarray, signs: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Write ``[[cos a, -z sin a], [sin a, z cos a]]`` into ``out`` ``(2, 2, K, T)`` for angles
    ``a`` and signs ``z`` broadcasting to ``(K, T)``; unchecked (the samplers' inner loop)."""
    cos, sin = np.cos(angles), np.sin(angles)
    out[0, 0], out[0, 1] = cos, -signs * sin
    out[1, 0], out[1, 1] = sin, signs * cos
    return out
