"""The registry of basis kinds: what makes a kernel basis or a PDO basis, declared once per kind.

A kind is defined in one module that exposes ``KIND``, a :class:`BasisKind`: the options a
:class:`~e2compile.specs.BasisSpec` of that kind holds (a :class:`KindOptions` dataclass) and how
they are validated, how the spec is compiled and its size estimated, which attribute columns its
artifacts carry, which fields a layer description of it may have, and what the runtime does after
it built one. This module only maps kind names to those modules (imported on first use, by name:
the registry imports no kind), so adding a kind is one new module plus one line in
:data:`_MODULES` (or one :func:`register_kind` call).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any

__all__ = [
    "DEFAULT_KIND",
    "BasisKind",
    "KindOptions",
    "KIND_NAMES",
    "get_kind",
    "register_kind",
]

#: kind name -> module that defines its ``KIND``.
_MODULES: dict[str, str] = {
    "kernel": "e2compile.kernels.kind",
    "pdo": "e2compile.diffops.kind",
    "grid": "e2compile.grids",
}

#: The kind of a spec or layer description that names none.
DEFAULT_KIND = "kernel"

_LOADED: dict[str, BasisKind] = {}


@dataclass(frozen=True)
class KindOptions:
    """The options of a spec, by kind: a frozen dataclass whose fields are JSON values (``None``,
    ``bool``, ``str``, ``int``, ``float`` or tuples of them), all part of the spec's key.

    A kind subclasses it with its own fields; this base class (no field) serves kinds that have
    no option. Values are normalised by the kind's :attr:`BasisKind.validate`.
    """

    def to_json_obj(self) -> dict[str, Any]:
        """The options as a JSON object (tuples become lists)."""
        return {f.name: _to_json(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_json_obj(cls, obj: Mapping[str, Any], kind: str = "") -> KindOptions:
        """Inverse of :meth:`to_json_obj`; ``ValueError`` naming unknown or missing options."""
        if not isinstance(obj, Mapping):
            raise TypeError(f"options must be an object, got {type(obj).__name__}")
        known = {f.name: f for f in fields(cls)}
        of = f" of a {kind} spec" if kind else ""
        unknown = sorted(set(obj) - set(known))
        if unknown:
            raise ValueError(f"unknown option(s) {unknown}{of}; known: {sorted(known)}")
        missing = sorted(
            name
            for name, f in known.items()
            if name not in obj and f.default is MISSING and f.default_factory is MISSING
        )
        if missing:
            raise ValueError(f"missing option(s) {missing}{of}")
        return cls(**{name: _from_json(value) for name, value in obj.items()})

    def replace(self, **changes: Any) -> KindOptions:
        """A copy with some options changed (validated again by the spec that holds it)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown option(s) {unknown}; known: {sorted(known)}")
        return replace(self, **changes)


def _to_json(value: Any) -> Any:
    return [_to_json(v) for v in value] if isinstance(value, tuple) else value


def _from_json(value: Any) -> Any:
    return tuple(_from_json(v) for v in value) if isinstance(value, list) else value


@dataclass(frozen=True)
class BasisKind:
    """Everything the compiler, the store bridge and the layer descriptions need about a kind.

    Attributes:
        name: the kind string of :attr:`BasisSpec.kind`.
        columns: the artifact's attribute columns, name -> numpy kind (``"f"``, ``"i"``, ``"U"``),
            in order.
        compile: ``compile(spec) -> BasisArtifact``.
        options: the kind's :class:`KindOptions` subclass (the type of ``spec.options``).
        validate: ``validate(spec) -> options``: checks the kind's options of a spec whose common
            fields are already normalised and returns them normalised; raises
            ``ValueError``/``TypeError`` naming the option. ``None``: nothing to check.
        estimate: ``estimate(spec) -> (what, bytes by part)``: an upper bound of the compile's
            memory, computed before anything is built (:func:`e2compile.budget.check_spec_budget`
            refuses it above the limit; ``what`` names the basis in the message). ``None``: only
            the generic bounds (grid, group) apply.
        layer_fields: the extra fields of a layer description of this kind, with their meaning.
        layer_types: the Python type (``int``, ``float``, ``str``) of each field of
            ``layer_fields`` that is a single value (the command line's flags use it).
        spec_from_layer: ``spec_from_layer(desc, gspace, in_repr, out_repr) -> BasisSpec`` for a
            layer description (the gspace and representations are already resolved).
        layer_budget: ``layer_budget(desc, gspace, sizes)`` refuses a layer description whose
            basis would be too big before its representations are built (``sizes``: a
            :class:`e2compile.layers.LayerSizes`); ``None``: checked when compiled.
        describe: ``describe(spec) -> dict`` of the kind's settings, for ``e2c cache info``
            (default: the options).
        after_build: ``after_build(spec)``, called by the runtime each time a layer built (loaded
            or compiled) a basis of this kind.
        artifact: the class of the kind's compiled value when it is not a
            :class:`~e2compile.artifact.BasisArtifact` (``compile`` returns it; it has
            ``to_record()``, ``from_record(arrays, meta)``, ``key`` and ``nbytes``); ``None``:
            a ``BasisArtifact``.
    """

    name: str
    columns: Mapping[str, str]
    compile: Callable[[Any], Any]
    options: type[KindOptions] = KindOptions
    validate: Callable[[Any], KindOptions] | None = None
    estimate: Callable[[Any], tuple[str, dict[str, int]]] | None = None
    layer_fields: Mapping[str, str] = field(default_factory=dict)
    layer_types: Mapping[str, type] = field(default_factory=dict)
    spec_from_layer: Callable[..., Any] | None = None
    layer_budget: Callable[[Any, Any, Any], None] | None = None
    describe: Callable[[Any], dict[str, Any]] | None = None
    after_build: Callable[[Any], None] | None = None
    artifact: type | None = None


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
