"""Small helpers shared by the modules: validation and channel bookkeeping."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..errors import ArgumentError, ArgumentTypeError
from ..field_type import FieldType

# The checks below raise ArgumentError / ArgumentTypeError: ValueError / TypeError that are also
# AssertionError, as the reference library asserted these conditions (see ..errors).


def require_field_type(in_type: Any, who: str, argname: str = "in_type") -> FieldType:
    """Return ``in_type`` if it is a :class:`FieldType`, else raise ``ArgumentTypeError``."""
    if not isinstance(in_type, FieldType):
        raise ArgumentTypeError(
            f"{who}: '{argname}' must be a FieldType, got {type(in_type).__name__}"
        )
    return in_type


def require_choice(value: Any, choices: Any, who: str, argname: str) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise ``ArgumentError``."""
    if value not in choices:
        raise ArgumentError(f"{who}: '{argname}' must be one of {sorted(choices)}, got {value!r}")
    return value


def require_support(in_type: FieldType, kind: str, who: str, argname: str = "in_type") -> None:
    """Raise unless every field of ``in_type`` supports the non-linearity ``kind``."""
    require_field_type(in_type, who, argname)
    for i, r in enumerate(in_type.representations):
        if kind not in r.supported_nonlinearities:
            raise ArgumentError(
                f"{who}: field {i} of '{argname}' has representation {r.name!r}, which does not "
                f"support '{kind}' non-linearities (supported: "
                f"{sorted(r.supported_nonlinearities)})"
            )


def split_gates(
    in_type: FieldType, gates: Sequence[str] | None, who: str
) -> tuple[list[int], list[int]]:
    """Indices of the ``'gate'`` and of the ``'gated'`` fields of a gated non-linearity.

    ``gates`` labels each field of ``in_type``; ``None`` means the first half are gates and the
    second half the fields they gate. There must be as many gates as gated fields.
    """
    n = len(in_type)
    if gates is None:
        if n % 2:
            raise ArgumentError(f"{who}: 'in_type' must have an even number of fields, has {n}")
        gates = ["gate"] * (n // 2) + ["gated"] * (n // 2)
    gates = list(gates)
    if len(gates) != n or any(g not in ("gate", "gated") for g in gates):
        raise ArgumentError(
            f"{who}: 'gates' must list 'gate' or 'gated' for each of the {n} fields"
        )
    gate_idx = [i for i, g in enumerate(gates) if g == "gate"]
    gated_idx = [i for i, g in enumerate(gates) if g == "gated"]
    if len(gate_idx) != len(gated_idx):
        raise ArgumentError(
            f"{who}: {len(gate_idx)} gates for {len(gated_idx)} gated fields; they must match"
        )
    return gate_idx, gated_idx


def update_running_var(module: torch.nn.Module, var: torch.Tensor, count: int) -> float:
    """Count one more batch and fold its (unbiased) variance into ``module.running_var``.

    ``var`` is the biased batch variance over ``count`` values; returns the momentum used
    (``module.momentum``, or the cumulative average's ``1 / batches`` when it is ``None``), so that
    other running statistics can be updated with the same weight.
    """
    module.num_batches_tracked += 1
    m = module.momentum
    if m is None:
        m = 1.0 / float(module.num_batches_tracked)
    unbiased = var.detach() * (count / max(count - 1, 1))
    module.running_var.mul_(1 - m).add_(unbiased.to(module.running_var.dtype), alpha=m)
    return m


def pair(value: Any, argname: str, who: str) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ArgumentError(f"{who}: '{argname}' must be an int or a pair, got {value!r}")
        return int(value[0]), int(value[1])
    return int(value), int(value)


def size_groups(in_type: FieldType) -> list[tuple[int, np.ndarray, tuple[int, int] | None]]:
    """Fields grouped by size: ``[(size, field indices, (c0, c1) if contiguous else None)]``.

    Sizes come in increasing order; a group is contiguous when its fields are consecutive, so
    that its channels are the slice ``c0:c1``.
    """
    sizes = in_type.field_sizes
    out = []
    for s in sorted(set(sizes.tolist())):  # not np.unique: it imports numpy.ma (~0.1 s)
        fields = np.flatnonzero(sizes == s)
        contiguous = bool(np.all(np.diff(fields) == 1))
        span = None
        if contiguous:
            span = (int(in_type.fields_start[fields[0]]), int(in_type.fields_end[fields[-1]]))
        out.append((int(s), fields, span))
    return out


def long_tensor(values: Any) -> torch.Tensor:
    return torch.from_numpy(np.array(values, dtype=np.int64))


def field_reduce_sum(x: torch.Tensor, channel_fields: torch.Tensor, n_fields: int) -> torch.Tensor:
    """Sum channels of ``x`` (dim 1) into their fields: ``(B, C, ...) -> (B, n_fields, ...)``."""
    out = x.new_zeros((x.shape[0], n_fields, *x.shape[2:]))
    return out.index_add(1, channel_fields, x)


def spatial_view(t: torch.Tensor, ndim: int) -> torch.Tensor:
    """Reshape a per-field vector ``(F,)`` to broadcast against ``(B, F, *spatial)``."""
    return t.reshape(1, -1, *([1] * (ndim - 2)))


def pool_out(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """Output length of torch's max/avg pooling along one axis."""
    span = size + 2 * p - d * (k - 1) - 1
    if ceil_mode:
        out = -(-span // s) + 1
        if (out - 1) * s >= size + p:
            out -= 1
    else:
        out = span // s + 1
    return out


def windows_symmetric(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> bool:
    """Whether pooling windows on ``size`` pixels are symmetric under reversing the axis."""
    n = pool_out(size, k, s, p, d, ceil_mode)
    first = -p
    last = -p + (n - 1) * s + d * (k - 1)
    return first + last == size - 1
