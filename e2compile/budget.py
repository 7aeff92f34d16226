"""Resource bounds of the compiler: estimate a basis from its spec, refuse what is too big.

Everything is estimated *before* anything is allocated, from numbers the spec (or a layer
description) already holds, and compared with one limit:

* ``E2C_MAX_BASIS_MB`` (default :data:`DEFAULT_LIMIT_MB` MiB; ``e2c compile --max-size``) bounds
  the compact artifact and every intermediate array of a compile (the sampled blocks, the changes of
  basis and their inverses, the tables of the group);
* ``E2C_MAX_IRREPS`` (default :data:`DEFAULT_MAX_IRREPS`) bounds the number of irreps a group may
  be built with, which is what the time to build ``C_N``/``D_N`` for huge ``N`` or
  ``SO(2)``/``O(2)`` for a huge ``maximum_frequency`` grows with (about 0.1 ms each).

The element count is an upper bound (every harmonic the cutoff allows, counted as if every pair of
irreps were 2x2, before the drop of elements that vanish on the grid): at most a few times the true
count. :class:`BasisTooLargeError` (a ``ValueError``) says what was estimated, the limit, and how to
raise it.

This module is generic: the per-family facts come from :mod:`e2compile.families` and each basis
kind brings its own estimate (:attr:`e2compile.kinds.BasisKind.estimate`, built from
:func:`element_bound` and :func:`compact_bytes`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Any

from .families import family as family_of
from .kinds import get_kind

__all__ = [
    "BLOCK_FLOATS",
    "DEFAULT_LIMIT_MB",
    "DEFAULT_MAX_IRREPS",
    "LIMIT_ENV",
    "IRREPS_ENV",
    "BasisTooLargeError",
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
    "max_irreps",
]

#: Default bound on an artifact and on any intermediate of its compile, in MiB.
DEFAULT_LIMIT_MB = 1024
#: Default bound on the number of irreps of a group built for a compile.
DEFAULT_MAX_IRREPS = 20_000
LIMIT_ENV = "E2C_MAX_BASIS_MB"
IRREPS_ENV = "E2C_MAX_IRREPS"

#: Floats of one element at one grid point: a padded 2x2 block.
BLOCK_FLOATS = 4
_BYTES_PER_IRREP = 2048
_SPEC_BYTES_PER_ENTRY = 64  # measured: about 1.8 KB of Python objects per irrep of C_N / SO(2)


class BasisTooLargeError(ValueError):
    """A compile would need more memory (or a bigger group) than the configured limit allows."""

    def __init__(self, what: str, estimate: float, limit: float, unit: str = "bytes"):
        self.what, self.estimate, self.limit = what, estimate, limit
        if unit == "bytes":
            amount = f"about {_human(estimate)}, above the limit of {_human(limit)}"
            how = f"{LIMIT_ENV}=<MiB> or `e2c compile --max-size <MiB>`"
        else:
            amount = f"{int(estimate)} {unit}, above the limit of {int(limit)}"
            how = f"{IRREPS_ENV}=<count>"
        super().__init__(
            f"{what} would need {amount}; refused before allocating (raise it with {how})"
        )

    def __reduce__(self):
        return (type(self), (self.what, self.estimate, self.limit))


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.3g} PiB"  # pragma: no cover


def _env_number(name: str, default: float) -> float:
    text = os.environ.get(name)
    if text is None or text.strip() == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"environment variable {name} must be a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"environment variable {name} must be a positive number, got {text!r}")
    return value


def limit_bytes() -> int:
    """The size limit in bytes (``E2C_MAX_BASIS_MB``, default :data:`DEFAULT_LIMIT_MB` MiB)."""
    return int(_env_number(LIMIT_ENV, DEFAULT_LIMIT_MB) * 2**20)


def max_irreps() -> int:
    """The bound on a group's irreps (``E2C_MAX_IRREPS``, default :data:`DEFAULT_MAX_IRREPS`)."""
    return int(_env_number(IRREPS_ENV, DEFAULT_MAX_IRREPS))


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
