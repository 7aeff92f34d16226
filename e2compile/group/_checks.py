"""Argument validation shared by the concrete groups."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_INT_TYPES = (int, np.integer)
_REAL_TYPES = (int, float, np.integer, np.floating)


def is_int(x: Any) -> bool:
    return isinstance(x, _INT_TYPES) and not isinstance(x, (bool, np.bool_))


def check_int(x: Any, argname: str, low: int, high: int, what: str) -> int:
    """Return ``int(x)`` for an integer in ``[low, high)``; TypeError/ValueError otherwise."""
    if not is_int(x):
        raise TypeError(f"{argname}: {what} must be an int, got {type(x).__name__} {x!r}")
    v = int(x)
    if not low <= v < high:
        raise ValueError(f"{argname}: {what} must be in [{low}, {high - 1}], got {v}")
    return v


def check_real(x: Any, argname: str, what: str) -> float:
    """Return ``float(x)`` for a finite real number; TypeError/ValueError otherwise."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, _REAL_TYPES):
        raise TypeError(f"{argname}: {what} must be a real number, got {type(x).__name__} {x!r}")
    v = float(x)
    if not math.isfinite(v):
        raise ValueError(f"{argname}: {what} must be finite, got {v}")
    return v


def check_pair(x: Any, argname: str, what: str) -> tuple[Any, Any]:
    if isinstance(x, np.ndarray):
        x = tuple(x.tolist())
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise TypeError(f"{argname}: {what} must be a pair (f, r), got {type(x).__name__} {x!r}")
    return x[0], x[1]


def check_order(x: Any, argname: str = "N") -> int:
    if not is_int(x):
        raise TypeError(f"{argname}: must be a positive int, got {type(x).__name__} {x!r}")
    if int(x) < 1:
        raise ValueError(f"{argname}: must be a positive int, got {int(x)}")
    return int(x)


def check_max_frequency(x: Any, argname: str = "maximum_frequency") -> int:
    if not is_int(x):
        raise TypeError(f"{argname}: must be a non-negative int, got {type(x).__name__} {x!r}")
    if int(x) < 0:
        raise ValueError(f"{argname}: must be a non-negative int, got {int(x)}")
    return int(x)


def check_grid_size(x: Any, argname: str = "N") -> int:
    """The number of points of a group grid: a positive int."""
    return check_order(x, argname)


def check_band_limit(x: Any, maximum: int | None = None, argname: str = "L") -> int:
    """A band limit: an int in ``[0, maximum]`` (no upper bound when ``maximum`` is None)."""
    if not is_int(x):
        raise TypeError(f"{argname}: must be a non-negative int, got {type(x).__name__} {x!r}")
    v = int(x)
    if v < 0 or (maximum is not None and v > maximum):
        bound = "" if maximum is None else f" and at most {maximum}"
        raise ValueError(f"{argname}: must be >= 0{bound}, got {v}")
    return v
