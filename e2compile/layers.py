"""Layer descriptions: one convolution layer as plain data, turned into its :class:`BasisSpec`.

A layer description is a JSON object or TOML table such as
``{"gspace": "rot2d", "N": 8, "in": ["3*trivial"], "out": ["regular"], "kernel_size": 5}``
(fields in :data:`LAYER_FIELDS`, documented in docs/cli.md). It is how ``e2c compile`` reads spec
files and single-layer flags. Every problem with a description raises :class:`LayerError` naming
the offending field; unknown fields are an error, so a typo never falls back to a default.

Public API: :func:`spec_from_layer` (one description), :func:`read_layer_file` (the descriptions
of a JSON/TOML spec file) and :func:`specs_from_layer_file` (both together).
"""

from __future__ import annotations

import functools
import json
import operator
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .budget import BasisTooLargeError, check_group, check_layer_budget
from .families import FAMILIES
from .group import Representation
from .gspaces import GSpace
from .kinds import KIND_NAMES, get_kind
from .specs import BasisSpec, kernel_spec, pdo_spec

__all__ = [
    "LAYER_FIELDS",
    "LayerError",
    "describe_spec",
    "kind_flags",
    "kernel_spec_from_layer",
    "pdo_spec_from_layer",
    "read_layer_file",
    "spec_from_layer",
    "specs_from_layer_file",
]

#: The fields every layer description may have, whatever its kind.
_COMMON_FIELDS = {
    "gspace": "rot2d | fliprot2d | flip2d | trivial (or the class name, e.g. Rot2dOnR2)",
    "N": "rotation order (rot2d, fliprot2d); -1 for SO(2)/O(2)",
    "maximum_frequency": "irreps bound of SO(2)/O(2) (N = -1)",
    "axis": "flip axis in radians (fliprot2d, flip2d; default pi/2)",
    "in": "input representation: a name or a list of names, each optionally 'k*name'",
    "out": "output representation, same syntax as 'in'",
    "kernel_size": "kernel size (required for kernels; PDOs: or maximum_order)",
    "dilation": "dilation (default 1)",
    "maximum_offset": "bound on aliased frequencies (finite groups)",
    "kind": f"basis kind: {' | '.join(KIND_NAMES())} (default 'kernel')",
}


def _kind_fields() -> dict[str, dict[str, str]]:
    return {name: dict(get_kind(name).layer_fields) for name in KIND_NAMES()}


#: Every field a layer description may have, with a one-line meaning.
LAYER_FIELDS = dict(_COMMON_FIELDS)
for _fields in _kind_fields().values():
    LAYER_FIELDS.update(_fields)

_REQUIRED = ("gspace", "in", "out")


def kind_flags() -> list[tuple[str, type, str]]:
    """``(field, type, meaning)`` of the single-value layer fields the kinds declare beyond the
    kernel's flags, plus ``kind``: what ``e2c compile`` offers as single-layer flags."""
    flags = [("kind", str, _COMMON_FIELDS["kind"])]
    for name in KIND_NAMES():
        kind = get_kind(name)
        flags += [(f, kind.layer_types[f], kind.layer_fields[f]) for f in kind.layer_types]
    return flags


def describe_spec(spec: BasisSpec) -> dict[str, Any]:
    """The settings of ``spec``'s kind, by name (what ``e2c cache info`` shows)."""
    kind = get_kind(spec.kind)
    settings = {"kind": spec.kind, "kernel_size": spec.kernel_size, "dilation": spec.dilation}
    if kind.describe is not None:
        settings.update(kind.describe(spec))
    return settings


_MULTIPLE_RE = re.compile(r"\s*(?:(\d+)\s*\*\s*)?(\S.*?)\s*")


class LayerError(ValueError):
    """A layer description or spec file that cannot be turned into specs (the message says why
    and names the field, and for files the path and the layer's index)."""


def spec_from_layer(desc: Mapping[str, Any]) -> BasisSpec:
    """The :class:`BasisSpec` of one layer description (fields in :data:`LAYER_FIELDS`).

    Raises :class:`LayerError` for an unknown or missing field or a bad value.
    """
    if not isinstance(desc, Mapping):
        raise LayerError(f"a layer description is a table/object, not {type(desc).__name__}")
    unknown = sorted(set(desc) - set(LAYER_FIELDS))
    if unknown:
        raise LayerError(f"unknown field(s) {unknown}; known: {sorted(LAYER_FIELDS)}")
    missing = [f for f in _REQUIRED if desc.get(f) is None]
    if missing:
        raise LayerError(f"missing field(s) {missing}")
    try:
        kind = get_kind(desc.get("kind", "kernel"))
    except ValueError as exc:
        raise LayerError(str(exc)) from None
    foreign = sorted(set(desc) - set(_COMMON_FIELDS) - set(kind.layer_fields))
    if foreign:
        raise LayerError(f"field(s) {foreign} do not apply to kind {kind.name!r}")
    gspace = _build_gspace(desc)
    if kind.name == "kernel":  # the size estimate of the kernel kind (other kinds: at compile)
        _check_budget(gspace, desc)
    in_repr = _resolve_repr(gspace, desc["in"], "in")
    out_repr = _resolve_repr(gspace, desc["out"], "out")
    try:
        return kind.spec_from_layer(desc, gspace, in_repr, out_repr)
    except LayerError:
        raise
    except (TypeError, ValueError) as exc:  # the spec validators' messages name the field
        raise LayerError(str(exc)) from None


def kernel_spec_from_layer(
    desc: Mapping[str, Any], gspace: GSpace, in_repr: Representation, out_repr: Representation
) -> BasisSpec:
    """The kernel spec of a layer description whose gspace and representations are resolved."""
    if desc.get("kernel_size") is None:
        raise LayerError("missing field(s) ['kernel_size']")
    cutoff = desc.get("frequencies_cutoff")
    if isinstance(cutoff, str):
        try:
            cutoff = float(cutoff)
        except ValueError:
            pass  # a policy name
    return kernel_spec(
        gspace,
        in_repr,
        out_repr,
        _field(desc, "kernel_size", int),
        dilation=_field(desc, "dilation", int, default=1),
        rings=_float_list(desc, "rings"),
        sigma=_float_list(desc, "sigma"),
        frequencies_cutoff=cutoff,
        maximum_offset=_field(desc, "maximum_offset", int),
    )


def pdo_spec_from_layer(
    desc: Mapping[str, Any], gspace: GSpace, in_repr: Representation, out_repr: Representation
) -> BasisSpec:
    """The PDO spec of a layer description whose gspace and representations are resolved."""
    return pdo_spec(
        gspace,
        in_repr,
        out_repr,
        kernel_size=_field(desc, "kernel_size", int),
        accuracy=_field(desc, "accuracy", int),
        maximum_order=_field(desc, "maximum_order", int),
        maximum_power=_field(desc, "maximum_power", int),
        maximum_offset=_field(desc, "maximum_offset", int),
        dilation=_field(desc, "dilation", int, default=1),
        method=str(desc.get("method") or "fd"),
        smoothing=_field(desc, "smoothing", float),
        angle_offset=_field(desc, "angle_offset", float),
        phi=str(desc.get("phi") or "ga"),
    )


def read_layer_file(path: str | os.PathLike[str]) -> list[Any]:
    """The layer descriptions of a spec file: JSON (a list, one object, or ``{"layers": [...]}``)
    or, for a ``.toml`` suffix, TOML (``[[layers]]`` tables).

    The descriptions are returned as read (check them with :func:`spec_from_layer`). Raises
    :class:`LayerError` when the file does not parse or has the wrong shape, ``OSError`` when it
    cannot be read.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise LayerError(f"{path}: {exc}") from None
    if path.suffix.lower() == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            try:
                import tomli as tomllib  # type: ignore[no-redef]
            except ImportError:
                raise LayerError(
                    f"{path}: TOML spec files need Python 3.11+ or the tomli package"
                ) from None
        parse: Callable[[str], Any] = tomllib.loads
    else:
        parse = json.loads
    try:
        data = parse(text)
    except ValueError as exc:
        raise LayerError(f"{path}: {exc}") from None
    if isinstance(data, dict) and set(data) == {"layers"}:
        data = data["layers"]
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise LayerError(f"{path}: expected a list of layer descriptions or {{'layers': [...]}}")
    return data


def specs_from_layer_file(path: str | os.PathLike[str]) -> list[BasisSpec]:
    """The spec of every layer of a spec file, in order (see :func:`read_layer_file`).

    A bad layer raises :class:`LayerError` naming the file and the layer's index.
    """
    specs = []
    for i, desc in enumerate(read_layer_file(path)):
        try:
            specs.append(spec_from_layer(desc))
        except LayerError as exc:
            raise LayerError(f"{path}: layer {i}: {exc}") from None
    return specs


# ------------------------------------------------------------------------------------- fields


def _field(desc: Mapping[str, Any], name: str, convert: type, default: Any = None) -> Any:
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


def _float_list(desc: Mapping[str, Any], name: str) -> Any:
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


def _build_gspace(desc: Mapping[str, Any]) -> GSpace:
    name = str(desc.get("gspace", ""))
    fam = next((f for f in FAMILIES.values() if name.lower() in (f.name, f.gspace.lower())), None)
    if fam is None:
        raise LayerError(f"unknown gspace {name!r}: one of {', '.join(FAMILIES)}")
    kwargs: dict[str, Any] = {}
    if fam.rotations:
        if desc.get("N") is None:
            raise LayerError(f"gspace {fam.name} needs N")
        kwargs["N"] = _field(desc, "N", int)
        if desc.get("maximum_frequency") is not None:
            kwargs["maximum_frequency"] = _field(desc, "maximum_frequency", int)
    else:
        for key in ("N", "maximum_frequency"):
            if desc.get(key) is not None:
                raise LayerError(f"gspace {fam.name} takes no {key}")
    if desc.get("axis") is not None:
        if not fam.flips:
            raise LayerError(f"gspace {fam.name} takes no axis")
        kwargs["axis"] = _field(desc, "axis", float)
    N = kwargs.get("N", {"flip2d": 2, "trivial": 1}.get(fam.name))
    check_group(fam.name, N, kwargs.get("maximum_frequency"))  # before the group is built
    try:
        return fam.gspace_class()(**kwargs)
    except (TypeError, ValueError) as exc:  # the gspace's messages name its parameter
        raise LayerError(str(exc)) from None


def _parse_names(names: Any, field: str) -> list[tuple[int, str]]:
    """``[(multiplicity, name), ...]`` of a representation field."""
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names:
        raise LayerError(f"'{field}' must be a representation name or a non-empty list of names")
    parsed = []
    for item in names:
        m = _MULTIPLE_RE.fullmatch(str(item))
        if m is None:
            raise LayerError(f"'{field}': {item!r} is not a representation name")
        count = int(m.group(1) or 1)
        if count < 1:
            raise LayerError(f"'{field}': multiplicity must be positive in {item!r}")
        parsed.append((count, m.group(2)))
    return parsed


def _size_of(group: Any, name: str) -> tuple[int, int]:
    """``(size, number of irreps)`` of a named representation, without building it (zeros
    when the name is unknown: the resolution reports it)."""
    if name == "regular":
        order = group.order()
        if order <= 0:
            return 0, 0
        sizes = [irrep.size for irrep in group.irreps.values()]
        # the real regular representation holds each irrep as often as it is absolutely
        # irreducible (real-type irreps: their size; the 2-dim irreps of C_N: once)
        rotations_only = getattr(group, "N", None) == order and order > 2
        return order, sum(1 if rotations_only else size for size in sizes)
    if name == "trivial":
        return 1, 1
    if name in group.irreps:
        return group.irreps[name].size, 1
    if name in group.representations:
        rep = group.representations[name]
        return rep.size, len(rep.irreps)
    return 0, 0


def _check_budget(gspace: GSpace, desc: Mapping[str, Any]) -> None:
    """Refuse a layer whose basis is too big from the sizes of its fields, before building them."""
    group = gspace.fibergroup
    sizes = {}
    for f in ("out", "in"):
        parts = [(count, *_size_of(group, name)) for count, name in _parse_names(desc[f], f)]
        sizes[f] = (sum(c * s for c, s, _ in parts), sum(c * n for c, _, n in parts))
    cutoff = desc.get("frequencies_cutoff")
    if isinstance(cutoff, str):
        try:
            cutoff = float(cutoff)
        except ValueError:
            pass
    n = group.order()
    try:
        check_layer_budget(
            gspace.family,
            -1 if n < 0 else max(n // (2 if gspace.family == "fliprot2d" else 1), 1),
            _field(desc, "kernel_size", int),
            sizes["out"][0],
            sizes["in"][0],
            sizes["out"][1],
            sizes["in"][1],
            rings=_float_list(desc, "rings"),
            frequencies_cutoff=cutoff,
            maximum_offset=_field(desc, "maximum_offset", int),
        )
    except BasisTooLargeError:
        raise
    except (TypeError, ValueError):
        pass  # a malformed value: kernel_spec names the field in its own message


def _resolve_repr(gspace: GSpace, names: Any, field: str) -> Representation:
    """The direct sum named by ``names``: a name or a list of names, each optionally ``k*name``."""
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names:
        raise LayerError(f"'{field}' must be a representation name or a non-empty list of names")
    group = gspace.fibergroup
    parts = []
    for item in names:
        m = _MULTIPLE_RE.fullmatch(str(item))
        if m is None:
            raise LayerError(f"'{field}': {item!r} is not a representation name")
        count, name = int(m.group(1) or 1), m.group(2)
        try:
            if name == "regular":
                rep = gspace.regular_repr
            elif name == "trivial":
                rep = gspace.trivial_repr
            elif name in group.irreps:
                rep = group.irreps[name]
            elif name in group.representations:
                rep = group.representations[name]
            else:
                known = sorted({"regular", "trivial", *group.irreps, *group.representations})
                raise LayerError(
                    f"'{field}': unknown representation {name!r} of {group.name}: {known}"
                )
        except LayerError:
            raise
        except (TypeError, ValueError) as exc:  # e.g. no regular representation of SO(2)
            raise LayerError(f"'{field}': {exc}") from None
        if count < 1:
            raise LayerError(f"'{field}': multiplicity must be positive in {item!r}")
        parts += [rep] * count
    return functools.reduce(operator.add, parts)
