"""Layer descriptions: one convolution layer as plain data, turned into its :class:`BasisSpec`.

A layer description is a JSON object or TOML table such as
``{"gspace": "rot2d", "N": 8, "in": ["3*trivial"], "out": ["regular"], "kernel_size": 5}``
(fields in :data:`LAYER_FIELDS`, documented in docs/cli.md). It is how ``e2c compile`` reads spec
files and single-layer flags. Every problem with a description raises :class:`LayerError` naming
the offending field; unknown fields are an error, so a typo never falls back to a default.

Public API: :func:`spec_from_layer` (one description), :func:`read_layer_file` (the descriptions
of a JSON/TOML spec file) and :func:`specs_from_layer_file` (both together). This module reads the
fields every kind shares (the gspace, the representations, the grid) and hands the rest to the
description's kind (:attr:`~e2compile.kinds.BasisKind.spec_from_layer`), whose module reads its own
fields with :func:`read_field` and :func:`read_floats`.
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

from .budget import (
    BasisTooLargeError,
    check_group,
    check_kernel_size,
    check_representation_size,
)
from .families import FAMILIES
from .group import Representation
from .gspaces import GSpace
from .kinds import DEFAULT_KIND, KIND_NAMES, get_kind
from .layer_fields import LayerError, LayerSizes, read_field, read_floats
from .specs import BasisSpec

__all__ = [
    "LAYER_FIELDS",
    "LayerError",
    "LayerSizes",
    "describe_spec",
    "kind_flags",
    "layer_fields_help",
    "read_field",
    "read_floats",
    "read_layer_file",
    "spec_from_layer",
    "specs_from_layer_file",
]


def _names(flag: str) -> str:
    return ", ".join(f.name for f in FAMILIES.values() if getattr(f, flag)) or "none"


#: The fields every layer description may have, whatever its kind.
_COMMON_FIELDS = {
    "gspace": f"{' | '.join(FAMILIES)} (or the gspace's class name)",
    "N": f"rotation order ({_names('rotations')}); -1 for the continuous group",
    "maximum_frequency": "irreps bound of the continuous group (N = -1)",
    "axis": f"flip axis in radians ({_names('flips')}; default pi/2)",
    "in": "input representation: a name (regular, trivial, an irrep such as irrep_1, or any "
    "built representation's) or a list of names, each optionally 'k*name'",
    "out": "output representation, same syntax as 'in'",
    "kernel_size": "kernel size: the k x k sampling grid",
    "dilation": "dilation (default 1)",
    "kind": f"basis kind: {' | '.join(KIND_NAMES())} (default {DEFAULT_KIND!r})",
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


def layer_fields_help(width: int = 76) -> list[list[str]]:
    """The fields of a layer description as help text, from the registries: one paragraph of
    lines (``name   meaning``, wrapped to ``width``) for the common fields, then one per kind."""
    import textwrap

    def paragraph(title: str, fields: dict[str, str]) -> list[str]:
        lines = [title]
        for name, meaning in fields.items():
            wrapped = textwrap.wrap(meaning, width - 22) or [""]
            lines.append(f"  {name:<19} {wrapped[0]}")
            lines += [f"  {'':<19} {more}" for more in wrapped[1:]]
        return lines

    required = ", ".join(_REQUIRED)
    paragraphs = [paragraph(f"Layer description fields ({required} required):", _COMMON_FIELDS)]
    for name, fields in _kind_fields().items():
        paragraphs.append(paragraph(f"Fields of kind {name!r}:", fields))
    return paragraphs


def describe_spec(spec: BasisSpec) -> dict[str, Any]:
    """The settings of ``spec``'s kind, by name (what ``e2c cache info`` shows): the grid and the
    kind's description (default: its options that are set)."""
    kind = get_kind(spec.kind)
    settings = {"kind": spec.kind, "kernel_size": spec.kernel_size, "dilation": spec.dilation}
    if kind.describe is not None:
        settings.update(kind.describe(spec))
    else:
        settings.update((k, v) for k, v in spec.options.to_json_obj().items() if v is not None)
    return settings


_MULTIPLE_RE = re.compile(r"\s*(?:(\d+)\s*\*\s*)?(\S.*?)\s*")


def spec_from_layer(desc: Mapping[str, Any]) -> BasisSpec:
    """The :class:`BasisSpec` of one layer description (fields in :data:`LAYER_FIELDS`).

    Raises :class:`LayerError` for an unknown or missing field or a bad value.
    """
    if not isinstance(desc, Mapping):
        raise LayerError(f"a layer description is a table/object, not {type(desc).__name__}")
    known = set(_COMMON_FIELDS).union(*_kind_fields().values())  # kinds registered since too
    unknown = sorted(set(desc) - known)
    if unknown:
        raise LayerError(f"unknown field(s) {unknown}; known: {sorted(known)}")
    missing = [f for f in _REQUIRED if desc.get(f) is None]
    if missing:
        raise LayerError(f"missing field(s) {missing}")
    try:
        kind = get_kind(desc.get("kind", DEFAULT_KIND))
    except ValueError as exc:
        raise LayerError(str(exc)) from None
    foreign = sorted(set(desc) - set(_COMMON_FIELDS) - set(kind.layer_fields))
    if foreign:
        raise LayerError(f"field(s) {foreign} do not apply to kind {kind.name!r}")
    if kind.spec_from_layer is None:
        raise LayerError(f"kind {kind.name!r} has no layer descriptions")
    gspace = _build_gspace(desc)
    _check_budget(gspace, desc, kind.layer_budget)
    in_repr = _resolve_repr(gspace, desc["in"], "in")
    out_repr = _resolve_repr(gspace, desc["out"], "out")
    try:
        return kind.spec_from_layer(desc, gspace, in_repr, out_repr)
    except LayerError:
        raise
    except (TypeError, ValueError) as exc:  # the spec validators' messages name the field
        raise LayerError(str(exc)) from None


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


def _build_gspace(desc: Mapping[str, Any]) -> GSpace:
    name = str(desc.get("gspace", ""))
    fam = next((f for f in FAMILIES.values() if name.lower() in (f.name, f.gspace.lower())), None)
    if fam is None:
        raise LayerError(f"unknown gspace {name!r}: one of {', '.join(FAMILIES)}")
    kwargs: dict[str, Any] = {}
    if fam.rotations:
        if desc.get("N") is None:
            raise LayerError(f"gspace {fam.name} needs N")
        kwargs["N"] = read_field(desc, "N", int)
        if desc.get("maximum_frequency") is not None:
            kwargs["maximum_frequency"] = read_field(desc, "maximum_frequency", int)
    else:
        for key in ("N", "maximum_frequency"):
            if desc.get(key) is not None:
                raise LayerError(f"gspace {fam.name} takes no {key}")
    if desc.get("axis") is not None:
        if not fam.flips:
            raise LayerError(f"gspace {fam.name} takes no axis")
        kwargs["axis"] = read_field(desc, "axis", float)
    N = kwargs.get("N", fam.fixed_N)
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
        # the real regular representation holds each irrep size / sum_of_squares_constituents
        # times (real-type irreps: their size; the complex-type 2-dim irreps of C_N: once)
        irreps = group.irreps.values()
        return order, sum(i.size // i.sum_of_squares_constituents for i in irreps)
    if name == "trivial":
        return 1, 1
    if name in group.irreps:
        return group.irreps[name].size, 1
    if name in group.representations:
        rep = group.representations[name]
        return rep.size, len(rep.irreps)
    return 0, 0


def _check_budget(gspace: GSpace, desc: Mapping[str, Any], layer_budget: Any) -> None:
    """Refuse a layer whose basis is too big from the sizes of its fields, before building them:
    the grid and both representations, then the kind's own bound (``layer_budget``)."""
    group = gspace.fibergroup
    try:
        if desc.get("kernel_size") is not None:
            check_kernel_size(read_field(desc, "kernel_size", int))
        sizes = {}
        for f in ("out", "in"):
            parts = [(count, *_size_of(group, name)) for count, name in _parse_names(desc[f], f)]
            sizes[f] = (sum(c * s for c, s, _ in parts), sum(c * n for c, _, n in parts))
        check_representation_size(sizes["in"][0], "the input representation")
        check_representation_size(sizes["out"][0], "the output one")
        if layer_budget is not None:
            layer_budget(
                desc, gspace, LayerSizes(sizes["out"][0], sizes["in"][0], sizes["out"][1],
                                         sizes["in"][1]),
            )  # fmt: skip
    except BasisTooLargeError:
        raise
    except (TypeError, ValueError):
        pass  # a malformed value: the kind's builder names the field in its own message


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
