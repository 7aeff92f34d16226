"""Reading the fields of a layer description (:mod:`e2compile.layers`), shared with the kind
modules that read their own fields: the error every bad description raises, the two readers, and
the sizes a kind's layer budget receives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = ["LayerError", "LayerSizes", "read_field", "read_floats"]


class LayerError(ValueError):
    """A layer description or spec file that cannot be turned into specs (the message says why
    and names the field, and for files the path and the layer's index)."""


class LayerSizes(NamedTuple):
    """The sizes and irreps counts of a layer's fields, known before they are built (what a
    kind's :attr:`~e2compile.kinds.BasisKind.layer_budget` receives)."""

    out_size: int
    in_size: int
    out_irreps: int
    in_irreps: int


def read_field(desc: Mapping[str, Any], name: str, convert: type, default: Any = None) -> Any:
    """``convert(desc[name])`` (``default`` when absent or ``None``); a failure names the field."""
    value = desc.get(name)
    if value is None:
        return default
    what = "an integer" if convert is int else "a number"
    try:
        if isinstance(value, bool):
            raise TypeError
        converted = convert(value)
        if convert is int and isinstance(value, float) and value != converted:
            raise ValueError  # never truncate 2.5 to 2 silently
        return converted
    except (TypeError, ValueError):
        raise LayerError(f"'{name}' must be {what}, got {value!r}") from None


def read_floats(desc: Mapping[str, Any], name: str) -> Any:
    """A number, or a list of numbers from a list or a comma-separated string (``None`` stays)."""
    value = desc.get(name)
    if value is None or isinstance(value, (int, float)):
        return value
    try:
        if isinstance(value, str):
            return [float(x) for x in value.split(",") if x.strip()]
        return [float(x) for x in value]
    except (TypeError, ValueError):
        raise LayerError(f"'{name}' must be a number or a list of numbers, got {value!r}") from None
