"""Where kernels are sampled and which frequencies each ring may carry.

Units: ring radii and the frequency cutoff live in *grid units*, the spacing of the k x k
sampling grid before dilation. With dilation ``d`` the grid points are ``d`` pixels apart and a
ring of radius ``r`` (grid units) is centred ``r * d`` pixels from the origin; the widths
``sigma`` are in pixels (not scaled by ``d``). Evaluating the cutoff in grid units means a
dilated kernel carries the same frequencies as the undilated one (no aliasing on the outer,
dilated ring).

The cutoff is only ever evaluated at the ring radii (:func:`ring_cutoffs`), so a user's callable
is resolved once, to its values there (:func:`resolve_cutoff`): that tuple keys and compiles the
basis exactly as the callable would.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "CUTOFF_POLICIES",
    "LEGACY_POLICY_CODES",
    "grid_points",
    "default_rings",
    "default_sigma",
    "PolicyCutoff",
    "LinearCutoff",
    "cutoff_function",
    "resolve_cutoff",
    "ring_cutoffs",
]

#: Named band-limiting policies (``-1``, ``-2``, ``-3`` in the reference library).
CUTOFF_POLICIES = ("fco1", "fco2", "fco3")

#: The reference library's numeric codes for the named policies.
LEGACY_POLICY_CODES = {-1: "fco1", -2: "fco2", -3: "fco3"}


def grid_points(kernel_size: int, dilation: int = 1) -> np.ndarray:
    """Sampling points of a ``kernel_size`` x ``kernel_size`` grid, shape ``(2, k*k)``.

    Row-major from the top row: point ``(x d - o, -y d + o)`` for row ``y`` and column ``x``,
    with ``o = d (k - 1) / 2`` so that the grid is centred on the origin.
    """
    k, d = int(kernel_size), int(dilation)
    o = d * (k - 1) / 2
    idx = np.arange(k, dtype=np.float64) * d
    xs = np.tile(idx - o, k)
    ys = np.repeat(-idx + o, k)
    return np.stack([xs, ys])


def default_rings(kernel_size: int) -> tuple[float, ...]:
    """``ceil(k/2)`` rings at radii ``0, 1, 2, ...`` grid units.

    The outermost ring is at ``(k - 1) // 2``, as in the reference library (for odd ``k`` this is
    ``(k - 1) / 2``, the circle inscribed in the grid).
    """
    return tuple(float(i) for i in range(math.ceil(kernel_size / 2)))


def default_sigma(rings: tuple[float, ...]) -> tuple[float, ...]:
    """0.6 for every ring but the last, 0.4 for the last, 0.005 for a ring at the origin."""
    sigma = [0.6] * (len(rings) - 1) + [0.4]
    return tuple(0.005 if r == 0.0 else s for r, s in zip(rings, sigma))


class PolicyCutoff:
    """A named band-limiting policy; ``R = kernel_size // 2`` is the radius of the last ring.

    * ``fco1``: 0 at the origin, 2 on the last ring, ``2r - ((r + 1) mod 2)`` elsewhere;
    * ``fco2``: as ``fco1`` but 1 on the last ring;
    * ``fco3``: 0 at the origin, 1 on the last ring, 2 elsewhere;

    all capped at ``2r`` (``fco1``, ``fco2``).
    """

    def __init__(self, name: str, max_radius: float):
        if name not in CUTOFF_POLICIES:
            raise ValueError(f"unknown frequency cutoff policy {name!r}; known: {CUTOFF_POLICIES}")
        self.name = name
        self.max_radius = float(max_radius)

    def __call__(self, r: float) -> float:
        if r == 0.0:
            return 0
        if self.name == "fco3":
            return 1 if r == self.max_radius else 2
        last = 2 if self.name == "fco1" else 1
        return min(2 * r, last if r == self.max_radius else 2 * r - (r + 1) % 2)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PolicyCutoff) and (self.name, self.max_radius) == (
            other.name,
            other.max_radius,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.max_radius))

    def __repr__(self) -> str:
        return f"PolicyCutoff({self.name!r}, max_radius={self.max_radius})"


class LinearCutoff:
    """Frequencies up to ``factor * r`` on a ring of radius ``r`` (grid units)."""

    def __init__(self, factor: float):
        self.factor = float(factor)

    def __call__(self, r: float) -> float:
        return self.factor * r

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LinearCutoff) and self.factor == other.factor

    def __hash__(self) -> int:
        return hash(self.factor)

    def __repr__(self) -> str:
        return f"LinearCutoff({self.factor})"


def cutoff_function(
    frequencies_cutoff: str | float | Callable[[float], float], kernel_size: int
) -> Callable[[float], float]:
    """The maximum frequency allowed on a ring, as a function of its radius in grid units."""
    if callable(frequencies_cutoff):
        return frequencies_cutoff
    if isinstance(frequencies_cutoff, str):
        return PolicyCutoff(frequencies_cutoff, kernel_size // 2)
    return LinearCutoff(frequencies_cutoff)


def ring_cutoffs(
    frequencies_cutoff: str | float | Sequence[float], kernel_size: int, rings: Sequence[float]
) -> np.ndarray:
    """The maximum frequency allowed on each ring, float64 ``(len(rings),)``: the one place a
    cutoff is evaluated (a policy name, a factor ``c`` of ``f(r) = c r``, or a resolved callable:
    its values on the rings, :func:`resolve_cutoff`)."""
    if isinstance(frequencies_cutoff, (tuple, list)):
        return np.asarray(frequencies_cutoff, dtype=np.float64).reshape(len(rings))
    cutoff = cutoff_function(frequencies_cutoff, kernel_size)
    return np.array([float(cutoff(float(r))) for r in rings], dtype=np.float64)


def resolve_cutoff(
    frequencies_cutoff: Any, rings: Sequence[float], decimals: int
) -> str | float | tuple[float, ...]:
    """The value a spec holds for a user's ``frequencies_cutoff``: a policy name (``None`` means
    ``"fco1"``; ``-1``, ``-2``, ``-3`` name ``fco1``..``fco3``), a non-negative factor ``c``, or
    for a callable ``f(r)`` (radius in grid units) its values on ``rings``, rounded to
    ``decimals`` (a basis depends on the cutoff only through them); a sequence is taken as those
    values, one per ring.

    Raises ``ValueError`` naming ``frequencies_cutoff`` (and, for a callable that raises or
    returns a non-finite value, the ring).
    """
    if frequencies_cutoff is None:
        return "fco1"
    if isinstance(frequencies_cutoff, str):
        if frequencies_cutoff not in CUTOFF_POLICIES:
            raise ValueError(
                f"frequencies_cutoff must be one of {CUTOFF_POLICIES}, a number or a callable, "
                f"got {frequencies_cutoff!r}"
            )
        return frequencies_cutoff
    if callable(frequencies_cutoff):
        return tuple(
            _ring_value(frequencies_cutoff, i, float(r), decimals) for i, r in enumerate(rings)
        )
    if isinstance(frequencies_cutoff, (tuple, list, np.ndarray)):
        return tuple(frequencies_cutoff)  # checked and rounded by the kind's validation
    if isinstance(frequencies_cutoff, bool) or not isinstance(
        frequencies_cutoff, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            f"frequencies_cutoff must be a policy name, a number or a callable, "
            f"got {frequencies_cutoff!r}"
        )
    value = float(frequencies_cutoff)
    if not math.isfinite(value):
        raise ValueError(f"frequencies_cutoff must be finite, got {value}")
    if value in LEGACY_POLICY_CODES:
        return LEGACY_POLICY_CODES[int(value)]
    if value < 0:
        raise ValueError(
            f"frequencies_cutoff must be non-negative (or -1/-2/-3 for the named policies), "
            f"got {value}"
        )
    return value + 0.0


def _ring_value(
    function: Callable[[float], Any], index: int, radius: float, decimals: int
) -> float:
    """``function(radius)`` as a finite float rounded to ``decimals``; errors name the ring."""
    where = f"on ring {index} (radius {radius:g} grid units)"
    try:
        value = function(radius)
    except Exception as exc:  # noqa: BLE001 - the user's function
        raise ValueError(f"frequencies_cutoff raised {type(exc).__name__}: {exc} {where}") from exc
    try:
        if isinstance(value, (bool, str, bytes)):
            raise TypeError
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"frequencies_cutoff returned {value!r} {where}: expected a number"
        ) from None
    if not math.isfinite(value):
        raise ValueError(f"frequencies_cutoff returned {value} {where}: it must be finite")
    return float(np.round(value, decimals)) + 0.0
