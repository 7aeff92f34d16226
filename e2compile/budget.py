"""Resource bounds of the compiler: estimate a basis from its spec, refuse what is too big.

Everything is estimated *before* anything is allocated, from numbers the spec (or a layer
description) already holds, and compared with the :class:`Limits` in effect:

* ``max_bytes`` (default :data:`DEFAULT_LIMIT_MB` MiB) bounds the compact artifact and every
  intermediate array of a compile (the sampled blocks, the changes of basis and their inverses, the
  tables of the group);
* ``max_irreps`` (default :data:`DEFAULT_MAX_IRREPS`) bounds the number of irreps a group may
  be built with, which is what the time to build ``C_N``/``D_N`` for huge ``N`` or
  ``SO(2)``/``O(2)`` for a huge ``maximum_frequency`` grows with (about 0.1 ms each).

The compiler never reads the environment: the limits in effect are the defaults, or those of the
innermost ``with limited(Limits(...)):`` block. The runtime and ``e2c`` enter one with the limits
their settings name (environment variables, ``e2c compile --max-size``: docs/cli.md; see
``runtime.bases.compiler_limits``).

The element count is an upper bound (every harmonic the cutoff allows, counted as if every pair of
irreps were 2x2, before the drop of elements that vanish on the grid): at most a few times the true
count. :class:`BasisTooLargeError` (a ``ValueError``) says what was estimated, the limit, and how to
raise it.

This module is generic: the per-family facts come from :mod:`e2compile.families` and each basis
kind brings its own estimate (:attr:`e2compile.kinds.BasisKind.estimate`, built from
:func:`element_bound` and :func:`compact_bytes`).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .families import family as family_of
from .kinds import get_kind

__all__ = [
    "BLOCK_FLOATS",
    "DEFAULT_LIMIT_MB",
    "DEFAULT_MAX_IRREPS",
    "BasisTooLargeError",
    "Limits",
    "basis_label",
    "check_budget",
    "check_group",
    "check_kernel_size",
    "check_representation_size",
    "check_spec_budget",
    "compact_bytes",
    "element_bound",
    "estimate_spec_bytes",
    "limit_bytes",
    "limited",
    "limits",
    "max_irreps",
]

#: Default bound on an artifact and on any intermediate of its compile, in MiB.
DEFAULT_LIMIT_MB = 1024
#: Default bound on the number of irreps of a group built for a compile.
DEFAULT_MAX_IRREPS = 20_000

#: Floats of one element at one grid point: a padded 2x2 block.
BLOCK_FLOATS = 4
_BYTES_PER_IRREP = 2048
_SPEC_BYTES_PER_ENTRY = 64  # measured: about 1.8 KB of Python objects per irrep of C_N / SO(2)


@dataclass(frozen=True)
class Limits:
    """The bounds a compile works within, and how a user raises each (for the error message)."""

    max_bytes: int = DEFAULT_LIMIT_MB * 2**20
    max_irreps: int = DEFAULT_MAX_IRREPS
    how_bytes: str = "`with e2compile.budget.limited(Limits(max_bytes=...))`"
    how_irreps: str = "`with e2compile.budget.limited(Limits(max_irreps=...))`"

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_irreps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"Limits: {name} must be a positive int, got {value!r}")


_DEFAULT_LIMITS = Limits()
_LIMITS: contextvars.ContextVar[Limits | None] = contextvars.ContextVar("e2c_limits", default=None)


def limits() -> Limits:
    """The limits in effect (the innermost :func:`limited` block's, else the defaults)."""
    return _LIMITS.get() or _DEFAULT_LIMITS


@contextlib.contextmanager
def limited(bounds: Limits) -> Iterator[Limits]:
    """Compile (and validate specs) under ``bounds`` inside the block."""
    if not isinstance(bounds, Limits):
        raise TypeError(f"'bounds' must be a Limits, got {type(bounds).__name__}")
    token = _LIMITS.set(bounds)
    try:
        yield bounds
    finally:
        _LIMITS.reset(token)


class BasisTooLargeError(ValueError):
    """A compile would need more memory (or a bigger group) than the configured limit allows."""

    def __init__(
        self, what: str, estimate: float, limit: float, unit: str = "bytes", how: str | None = None
    ):
        self.what, self.estimate, self.limit, self.unit = what, estimate, limit, unit
        if how is None:
            how = limits().how_bytes if unit == "bytes" else limits().how_irreps
        self.how = how
        if unit == "bytes":
            amount = f"about {_human(estimate)}, above the limit of {_human(limit)}"
        else:
            amount = f"{_count(estimate)} {unit}, above the limit of {_count(limit)}"
        super().__init__(
            f"{what} would need {amount}; refused before allocating (raise it with {how})"
        )

    def __reduce__(self):
        return (type(self), (self.what, self.estimate, self.limit, self.unit, self.how))


def _human(n: float) -> str:
    """``n`` bytes for people: at most four significant digits whatever its size."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            if unit == "B":
                return f"{int(n)} B"
            return f"{n:.1f} {unit}" if abs(n) < 10_000 else f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"  # pragma: no cover


def _count(n: float) -> str:
    return str(int(n)) if abs(n) < 1e15 else f"{n:.3g}"


def limit_bytes() -> int:
    """The size limit in bytes (:func:`limits`' ``max_bytes``)."""
    return limits().max_bytes


def max_irreps() -> int:
    """The bound on a group's irreps (:func:`limits`' ``max_irreps``)."""
    return limits().max_irreps


def check_budget(nbytes: float, what: str) -> None:
    """Raise :class:`BasisTooLargeError` when ``nbytes`` exceeds :func:`limit_bytes`."""
    limit = limit_bytes()
    if nbytes > limit:
        raise BasisTooLargeError(what, nbytes, limit)


def check_kernel_size(kernel_size: int) -> None:
    """A single element sampled on a ``kernel_size`` grid must fit (checked before the grid and
    the default rings are built)."""
    check_budget(
        float(kernel_size) ** 2 * BLOCK_FLOATS * 8,
        f"one basis element on a {kernel_size}x{kernel_size} grid",
    )


def check_group(family: str, N: int, maximum_frequency: int | None = None) -> None:
    """Refuse to build a group with more irreps (or irreps tables) than the limits allow."""
    n = family_of(family).irreps_count(int(N), maximum_frequency)
    name = f"the group of {family} with N={N}" + (
        f", maximum_frequency={maximum_frequency}" if N == -1 else ""
    )
    bound = max_irreps()
    if n > bound:
        raise BasisTooLargeError(name, n, bound, unit="irreps")
    check_budget(n * _BYTES_PER_IRREP, f"the irreps tables of {name}")


def check_representation_size(size: int, what: str) -> None:
    """A representation of ``size`` holds its change of basis and inverse (``2 size^2`` floats),
    and a spec holds the matrix again as Python floats and JSON text (about 64 bytes an entry)."""
    check_budget(float(size) ** 2 * (2 * 8 + _SPEC_BYTES_PER_ENTRY), f"{what} (size {size})")


def element_bound(
    family: str,
    N: int,
    cutoffs: Iterable[float],
    maximum_offset: int | None,
    n_out_irreps: int,
    n_in_irreps: int,
) -> int:
    """Upper bound on the number of elements (before the drop of vanishing ones) of a basis made
    of one harmonic family per pair of irreps, frequency bound and aliasing offset: ``cutoffs``
    holds the largest frequency of each ring (kernels) or power (PDOs); negative or non-finite
    ones add nothing."""
    fam = family_of(family)
    per_ring = 0
    for f in cutoffs:
        f = float(f)
        if not math.isfinite(f) or f < 0:
            continue
        if N == -1:
            offsets = 1
        else:
            offsets = int(2 * math.floor(f) // fam.period(N)) + 1
            if maximum_offset is not None:
                offsets = min(offsets, 2 * maximum_offset + 1)
        per_ring += fam.harmonics_per_pair * offsets
    return n_out_irreps * n_in_irreps * per_ring


def compact_bytes(spec: Any, elements: int) -> dict[str, int]:
    """Bytes of a compact artifact of at most ``elements`` elements: ``"blocks"`` and
    ``"changes of basis"`` (both matrices and the inverse)."""
    o, i = spec.out_repr.size, spec.in_repr.size
    return {
        "blocks": elements * BLOCK_FLOATS * spec.kernel_size**2 * 8,
        "changes of basis": (o * o + 2 * i * i) * 8,
    }


def basis_label(what: str, family: str, N: int, out_size: int, in_size: int, kernel_size: int,
                *details: str) -> str:  # fmt: skip
    """How a refusal names a basis: ``what (family, N=.., OxI, kernel_size=k, details...)``."""
    extra = "".join(f", {d}" for d in details)
    return f"{what} ({family}, N={N}, {out_size}x{in_size}, kernel_size={kernel_size}{extra})"


def estimate_spec_bytes(spec: Any) -> dict[str, int]:
    """The estimated bytes of a compile of ``spec``, by part (its kind's estimate; empty for a
    kind without one)."""
    estimate = get_kind(spec.kind).estimate
    return {} if estimate is None else estimate(spec)[1]


def check_spec_budget(spec: Any) -> None:
    """Refuse a spec whose compile would exceed the limits, before anything is built: its grid,
    its group and its kind's estimate."""
    check_kernel_size(spec.kernel_size)
    check_group(spec.family, spec.N, spec.maximum_frequency)
    estimate = get_kind(spec.kind).estimate
    if estimate is not None:
        what, parts = estimate(spec)
        check_budget(sum(parts.values()), what)
