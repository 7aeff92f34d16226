"""The registry of basis kinds: what makes a kernel basis or a PDO basis, declared once per kind.

A kind is defined in one module that exposes ``KIND``, a :class:`BasisKind`: how a
:class:`~e2compile.specs.BasisSpec` of that kind is validated, how it is compiled, which attribute
columns its artifacts carry, and which fields a layer description of it may have. This module only
maps kind names to those modules (imported on first use), so adding a kind is one new module plus
one line in :data:`_MODULES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BasisKind", "KIND_NAMES", "get_kind", "register_kind"]

#: kind name -> module that defines its ``KIND``.
_MODULES: dict[str, str] = {
    "kernel": "e2compile.kernels.kind",
    "pdo": "e2compile.diffops.kind",
}

_LOADED: dict[str, BasisKind] = {}


@dataclass(frozen=True)
class BasisKind:
    """Everything the compiler, the store bridge and the layer descriptions need about a kind.

    Attributes:
        name: the kind string of :attr:`BasisSpec.kind`.
        columns: the artifact's attribute columns, name -> numpy kind (``"f"``, ``"i"``, ``"U"``),
            in order.
        validate: ``validate(spec, put)`` checks and normalises the kind's fields of a spec
            (``put(name, value)`` replaces a field); it raises ``ValueError``/``TypeError``
            naming the field.
        compile: ``compile(spec) -> BasisArtifact``.
        layer_fields: the extra fields of a layer description of this kind, with their meaning.
        layer_types: the Python type (``int``, ``float``, ``str``) of each field of
            ``layer_fields`` that is a single value (the command line's flags use it).
        spec_from_layer: ``spec_from_layer(desc, gspace, in_repr, out_repr) -> BasisSpec`` for a
            layer description (the gspace and representations are already resolved).
        describe: ``describe(spec) -> dict`` of the kind's settings, for ``e2c cache info``.
    """

    name: str
    columns: Mapping[str, str]
    validate: Callable[[Any, Callable[[str, Any], None]], None]
    compile: Callable[[Any], Any]
    layer_fields: Mapping[str, str] = field(default_factory=dict)
    layer_types: Mapping[str, type] = field(default_factory=dict)
    spec_from_layer: Callable[..., Any] | None = None
    describe: Callable[[Any], dict[str, Any]] | None = None


def KIND_NAMES() -> tuple[str, ...]:  # noqa: N802 - reads like the constant it replaces
    """The registered kind names."""
    return tuple(_MODULES)


def register_kind(name: str, module: str) -> None:
    """Register the kind ``name`` defined (as ``KIND``) in ``module``."""
    _MODULES[name] = module
    _LOADED.pop(name, None)


def get_kind(name: Any) -> BasisKind:
    """The :class:`BasisKind` called ``name``; ``ValueError`` naming ``kind`` if unknown."""
    kind = _LOADED.get(name) if isinstance(name, str) else None
    if kind is not None:
        return kind
    if not isinstance(name, str) or name not in _MODULES:
        raise ValueError(f"kind must be one of {tuple(_MODULES)}, got {name!r}")
    kind = importlib.import_module(_MODULES[name]).KIND
    if kind.name != name:
        raise RuntimeError(f"module {_MODULES[name]} defines kind {kind.name!r}, not {name!r}")
    _LOADED[name] = kind
    return kind
