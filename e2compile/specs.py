"""``BasisSpec``: the canonical, hashable description of one compiled basis artifact.

A spec holds everything that changes the sampled numbers, by content: the gspace family and its
parameters, both representations as irrep ids plus change of basis (rounded to ``COB_DECIMALS``),
the grid, rings, widths, frequency cutoff, maximum offset, the kind's options (PDO settings) and
the compiler's algorithm version.
``spec.key`` is the SHA-256 of ``spec.canonical_json()``: sorted keys, no whitespace, floats written
with ``repr`` (shortest round-trip form), so the key is the same in every process and on every
machine. A callable frequency cutoff cannot be serialised: such a spec compiles but has no key.

Units: ``rings`` and the frequency cutoff are in grid units (spacing of the undilated grid); the
sampled ring of radius ``r`` sits ``r * dilation`` pixels from the centre; ``sigma`` is in pixels.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, NamedTuple

import numpy as np

from .families import family, family_names
from .kernels.sampling import (
    CUTOFF_POLICIES,
    LEGACY_POLICY_CODES,
    cutoff_function,
    default_rings,
    default_sigma,
)
from .kinds import KIND_NAMES, get_kind

__all__ = [
    "ALGORITHM_VERSION",
    "COB_DECIMALS",
    "FAMILIES",
    "KINDS",
    "BasisSpec",
    "RepresentationSpec",
    "SpecRepresentations",
    "UnkeyableSpecError",
    "kernel_spec",
    "pdo_spec",
    "gspace_fields",
    "build_group",
]

#: Version of the sampling algorithm; bump it whenever compiled numbers change for a given spec.
ALGORITHM_VERSION = 2  # 2: compact (factored) artifacts

#: Decimals the changes of basis are rounded to before hashing (and before sampling).
COB_DECIMALS = 12

#: The gspace families and basis kinds (the registries are :mod:`e2compile.families` and
#: :mod:`e2compile.kinds`).
FAMILIES = family_names()
KINDS = KIND_NAMES()

#: How far from orthogonal (max entry of ``Q Q^T - I``) a change of basis may be.
_ORTHOGONAL_TOLERANCE = 1e-9


class UnkeyableSpecError(ValueError):
    """Raised when asking for the key or JSON of a spec that holds a callable cutoff."""


def _int(value: Any, name: str, *, minimum: int | None = None, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value + 0.0  # -0.0 -> 0.0


def _round_matrix(matrix: Any, name: str) -> tuple[tuple[float, ...], ...]:
    array = np.asarray(matrix, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] != array.shape[1] or array.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty square matrix, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    array = np.round(array, COB_DECIMALS) + 0.0
    return tuple(tuple(float(v) for v in row) for row in array)


@dataclass(frozen=True)
class RepresentationSpec:
    """A representation by content: its irreps (ids, in order) and its change of basis."""

    irreps: tuple[tuple[int, ...], ...]
    change_of_basis: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        irreps = tuple(tuple(_int(i, "irrep id") for i in irrep) for irrep in self.irreps)
        if not irreps:
            raise ValueError("a representation needs at least one irrep")
        object.__setattr__(self, "irreps", irreps)
        object.__setattr__(
            self, "change_of_basis", _round_matrix(self.change_of_basis, "change_of_basis")
        )

    @classmethod
    def from_representation(cls, representation: Any) -> RepresentationSpec:
        group = representation.group
        ids = tuple(tuple(group.irreps[name].id) for name in representation.irreps)
        return cls(ids, representation.change_of_basis)

    @property
    def size(self) -> int:
        return len(self.change_of_basis)

    def matrix(self) -> np.ndarray:
        """The (rounded) change of basis as a float64 array."""
        return np.array(self.change_of_basis, dtype=np.float64)

    def to_json_obj(self) -> dict[str, Any]:
        return {
            "irreps": [list(i) for i in self.irreps],
            "change_of_basis": [list(row) for row in self.change_of_basis],
        }


def _json_scalar(value: Any, name: str) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _float(value, name)
    if isinstance(value, (list, tuple)):
        return tuple(_json_scalar(v, name) for v in value)
    raise TypeError(f"{name} must hold JSON scalars or sequences of them, got {value!r}")


class SpecRepresentations(NamedTuple):
    """What :meth:`BasisSpec.build_representations` returns."""

    group: Any
    in_repr: Any
    out_repr: Any


@dataclass(frozen=True)
class BasisSpec:
    """Canonical description of one basis artifact (see the module docstring).

    Construct with :func:`kernel_spec` or :func:`pdo_spec` (which resolve every default) or
    :meth:`from_json`. The constructor is the single validator: common fields here, the kind's
    own fields by its :class:`~e2compile.kinds.BasisKind`; it refuses an ``algorithm_version``
    other than :data:`ALGORITHM_VERSION` and non-orthogonal changes of basis. Fields are
    normalised on construction, so two specs that sample the same numbers compare equal.

    Attributes:
        family: ``"rot2d"``, ``"fliprot2d"``, ``"flip2d"`` or ``"trivial"``.
        N: number of rotations (-1 for SO(2)/O(2); 2 for ``flip2d``; 1 for ``trivial``).
        axis: reflection axis in radians for the flip families, else ``None``.
        maximum_frequency: the continuous group's maximum irrep frequency, else ``None``.
        in_repr, out_repr: :class:`RepresentationSpec` of the input and output fields.
        kind: a registered basis kind (:mod:`e2compile.kinds`): ``"kernel"`` or ``"pdo"``.
        kernel_size, dilation: the sampling grid.
        rings: ring radii in grid units; sigma: ring widths in pixels (one per ring).
        frequencies_cutoff: policy name (``"fco1"``...), a factor ``c`` (``f(r) = c r``), or
            ``None`` when ``cutoff_callable`` holds a user function (the spec is then unkeyable).
        maximum_offset: bound on ``|t|`` of aliased frequencies (finite groups), or ``None``.
        algorithm_version: :data:`ALGORITHM_VERSION` of the compiler that defines the numbers.
        options: extra kind-specific settings as sorted ``(name, value)`` pairs (part of the key).
        cutoff_callable: the user's cutoff function when ``frequencies_cutoff`` is ``None``.
    """

    family: str
    N: int
    axis: float | None
    maximum_frequency: int | None
    in_repr: RepresentationSpec
    out_repr: RepresentationSpec
    kind: str = "kernel"
    kernel_size: int = 3
    dilation: int = 1
    rings: tuple[float, ...] = ()
    sigma: tuple[float, ...] = ()
    frequencies_cutoff: str | float | None = "fco1"
    maximum_offset: int | None = None
    algorithm_version: int = ALGORITHM_VERSION
    options: tuple[tuple[str, Any], ...] = ()
    cutoff_callable: Callable[[float], float] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        fam = family(self.family)
        put("N", _int(self.N, "N"))
        if self.N == 0 or self.N < -1:
            raise ValueError(f"N must be positive or -1 (continuous), got {self.N}")
        if fam.fixed_N is not None and self.N != fam.fixed_N:
            raise ValueError(f"the {fam.name} family has N = {fam.fixed_N}, got N = {self.N}")
        if self.N == -1 and fam.continuous_group is None:
            raise ValueError(f"the {fam.name} family has no continuous group (N = -1)")
        if fam.flips:
            if self.axis is None:
                raise ValueError(f"the {fam.name} family needs a reflection axis")
            put("axis", _float(self.axis, "axis"))
        elif self.axis is not None:
            raise ValueError(f"the {fam.name} family has no reflection axis")
        if self.N == -1:
            put("maximum_frequency", _int(self.maximum_frequency, "maximum_frequency", minimum=0))
        elif self.maximum_frequency is not None:
            raise ValueError("maximum_frequency only applies to continuous groups (N = -1)")
        for name in ("in_repr", "out_repr"):
            value = getattr(self, name)
            if isinstance(value, dict):
                value = RepresentationSpec(value["irreps"], value["change_of_basis"])
            if not isinstance(value, RepresentationSpec):
                raise TypeError(f"{name} must be a RepresentationSpec, got {type(value).__name__}")
            q = value.matrix()
            if not np.allclose(q @ q.T, np.eye(len(q)), rtol=0.0, atol=_ORTHOGONAL_TOLERANCE):
                raise ValueError(
                    f"{name}: change_of_basis must be orthogonal (Q Q^T = I within "
                    f"{_ORTHOGONAL_TOLERANCE}); the compiler only handles orthogonal changes of "
                    "basis, as every representation of the group library has"
                )
            put(name, value)
        kind = get_kind(self.kind)
        put("kernel_size", _int(self.kernel_size, "kernel_size", minimum=1))
        put("dilation", _int(self.dilation, "dilation", minimum=1))
        if self.N == -1 and self.maximum_offset is not None:
            raise ValueError("maximum_offset only applies to finite groups")
        put("maximum_offset", _int(self.maximum_offset, "maximum_offset", minimum=0, optional=True))
        version = _int(self.algorithm_version, "algorithm_version", minimum=1)
        if version != ALGORITHM_VERSION:
            raise ValueError(
                f"algorithm_version {version} is not this compiler's ({ALGORITHM_VERSION}): its "
                "numbers would be stored under a key that claims another algorithm; rebuild the "
                "spec (e.g. with kernel_spec/pdo_spec) or use the matching compiler version"
            )
        put("algorithm_version", version)
        options = dict(self.options)
        if len(options) != len(self.options):
            raise ValueError("options has duplicate names")
        for name in options:
            if not isinstance(name, str):
                raise TypeError(f"option names must be strings, got {name!r}")
        put("options", tuple(sorted((k, _json_scalar(v, k)) for k, v in options.items())))
        put("rings", tuple(self.rings))
        put("sigma", tuple(self.sigma))
        kind.validate(self, put)

    # ----------------------------------------------------------------------------- identity
    @property
    def keyable(self) -> bool:
        """Whether the spec can be serialised and keyed (no callable cutoff)."""
        return self.cutoff_callable is None

    def to_json_obj(self) -> dict[str, Any]:
        if not self.keyable:
            raise UnkeyableSpecError(
                "this BasisSpec uses a callable frequencies_cutoff, which cannot be serialised "
                "or hashed: it compiles, but cannot be keyed or stored; use a policy name "
                f"{CUTOFF_POLICIES} or a number instead"
            )
        obj: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "cutoff_callable":
                continue
            value = getattr(self, f.name)
            if isinstance(value, RepresentationSpec):
                value = value.to_json_obj()
            elif f.name == "options":
                value = {k: list(v) if isinstance(v, tuple) else v for k, v in value}
            elif isinstance(value, tuple):
                value = list(value)
            obj[f.name] = value
        return obj

    def canonical_json(self) -> str:
        """Deterministic JSON (sorted keys, no whitespace, ``repr`` floats)."""
        return json.dumps(
            self.to_json_obj(),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=True,
            allow_nan=False,
        )

    @property
    def key(self) -> str:
        """SHA-256 hex digest of :meth:`canonical_json`."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    @classmethod
    def from_json(cls, text: str | bytes) -> BasisSpec:
        """Inverse of :meth:`canonical_json` (accepts any JSON with the same fields)."""
        obj = json.loads(text)
        if not isinstance(obj, dict):
            raise ValueError("a BasisSpec JSON must be an object")
        known = {f.name for f in fields(cls)} - {"cutoff_callable"}
        unknown = set(obj) - known
        if unknown:
            raise ValueError(f"unknown BasisSpec fields: {sorted(unknown)}")
        obj = dict(obj)
        for name in ("in_repr", "out_repr"):
            r = obj[name]
            obj[name] = RepresentationSpec(r["irreps"], r["change_of_basis"])
        obj["options"] = tuple((obj.get("options") or {}).items())
        return cls(**obj)

    def replace(self, **changes: Any) -> BasisSpec:
        """A copy with some fields changed (re-validated and re-normalised)."""
        return replace(self, **changes)

    # ----------------------------------------------------------------------------- derived
    @property
    def continuous(self) -> bool:
        return self.N == -1

    def cutoff_function(self) -> Callable[[float], float]:
        """Maximum frequency allowed on a ring, as a function of its radius in grid units."""
        if self.frequencies_cutoff is None:
            return self.cutoff_callable
        return cutoff_function(self.frequencies_cutoff, self.kernel_size)

    def build_group(self) -> Any:
        """The fiber group (shared instance)."""
        return build_group(self.family, self.N, self.maximum_frequency)

    def build_representations(self) -> SpecRepresentations:
        """Rebuild ``(group, in_repr, out_repr)`` from the spec's content.

        Representations already known to the group with the same content are returned as they
        are; otherwise new ones are built from the irreps and the (rounded) change of basis.
        """
        group = self.build_group()
        reprs = []
        for which, content in (("in", self.in_repr), ("out", self.out_repr)):
            names = tuple(group.irrep(*i).name for i in content.irreps)
            q = content.matrix()
            found = None
            for candidate in list(group.representations.values()):
                cob = np.asarray(candidate.change_of_basis)
                if (
                    tuple(candidate.irreps) == names
                    and cob.shape == q.shape
                    and np.array_equal(np.round(cob, COB_DECIMALS) + 0.0, q)
                ):
                    found = candidate
                    break
            if found is None:
                found = _new_representation(group, list(names), q, which)
            reprs.append(found)
        return SpecRepresentations(group, reprs[0], reprs[1])


def _new_representation(group: Any, names: list[str], q: np.ndarray, which: str) -> Any:
    """A representation with exactly the spec's content (named after a digest of it)."""
    from .group import Representation

    digest = hashlib.sha256(
        json.dumps([names, q.tolist()], separators=(",", ":")).encode("utf-8")
    ).hexdigest()[:12]
    irreps = [group.irreps[name] for name in dict.fromkeys(names)]
    nonlinearities = frozenset.intersection(
        *[frozenset(irrep.supported_nonlinearities) for irrep in irreps]
    )
    return Representation(group, f"spec_{which}[{digest}]", names, q, nonlinearities)


def build_group(family_name: str, N: int, maximum_frequency: int | None = None) -> Any:
    """The fiber group of a gspace family (shared instances from the group factories)."""
    return family(family_name).build_group(N, maximum_frequency)


# --------------------------------------------------------------------------------- kernel_spec


def _check_representation(gspace: Any, representation: Any, name: str) -> None:
    if not (hasattr(representation, "group") and hasattr(representation, "irreps")):
        raise TypeError(f"{name} must be a Representation, got {type(representation).__name__}")
    if representation.group != gspace.fibergroup:
        raise ValueError(
            f"{name} is a representation of {representation.group.name}, but the gspace "
            f"{gspace.name} acts through {gspace.fibergroup.name}"
        )


def _resolve_cutoff(frequencies_cutoff: Any) -> tuple[Any, Any]:
    """(frequencies_cutoff field, cutoff_callable field)."""
    if frequencies_cutoff is None:
        return "fco1", None
    if isinstance(frequencies_cutoff, str):
        if frequencies_cutoff not in CUTOFF_POLICIES:
            raise ValueError(
                f"frequencies_cutoff must be one of {CUTOFF_POLICIES}, a number or a callable, "
                f"got {frequencies_cutoff!r}"
            )
        return frequencies_cutoff, None
    if callable(frequencies_cutoff):
        return None, frequencies_cutoff
    value = _float(frequencies_cutoff, "frequencies_cutoff")
    if value in LEGACY_POLICY_CODES:
        return LEGACY_POLICY_CODES[int(value)], None
    if value < 0:
        raise ValueError(
            f"frequencies_cutoff must be non-negative (or -1/-2/-3 for the named policies), "
            f"got {value}"
        )
    return value, None


def kernel_spec(
    gspace: Any,
    in_repr: Any,
    out_repr: Any,
    kernel_size: int,
    dilation: int = 1,
    rings: Sequence[float] | None = None,
    sigma: Sequence[float] | float | None = None,
    frequencies_cutoff: str | float | Callable[[float], float] | None = None,
    maximum_offset: int | None = None,
) -> BasisSpec:
    """The :class:`BasisSpec` of the kernel basis from ``in_repr`` to ``out_repr`` on ``gspace``.

    Defaults (docs/conventions.md): ``rings`` = ``ceil(k/2)`` radii ``0, 1, ...`` (grid units);
    ``sigma`` = 0.6 per ring, 0.4 for the last, 0.005 for a ring at the origin (a number applies to
    every ring); ``frequencies_cutoff`` = policy ``"fco1"`` (``-1``, ``-2``, ``-3`` name the
    policies ``fco1``, ``fco2``, ``fco3``; another number ``c`` means ``f(r) = c r``; a callable
    ``f(r)`` of the radius in grid units is allowed but makes the spec unkeyable);
    ``maximum_offset`` = no bound beyond the cutoff (finite groups only).
    """
    header = gspace_fields(gspace, in_repr, out_repr, maximum_offset)
    kernel_size = _int(kernel_size, "kernel_size", minimum=1)
    from .budget import check_kernel_size

    check_kernel_size(kernel_size)  # before the grid's default rings are built
    if rings is None:
        rings = default_rings(kernel_size)
    elif np.ndim(rings) != 1 or len(rings) == 0:
        raise ValueError(f"rings must be a non-empty sequence of radii, got {rings!r}")
    if sigma is None:
        sigma = default_sigma(tuple(_float(r, "rings") for r in rings))
    elif np.ndim(sigma) == 0:
        sigma = (sigma,) * len(rings)
    cutoff, cutoff_callable = _resolve_cutoff(frequencies_cutoff)
    return BasisSpec(
        **header,
        kind="kernel",
        kernel_size=kernel_size,
        dilation=dilation,
        rings=tuple(rings),
        sigma=tuple(sigma),
        frequencies_cutoff=cutoff,
        algorithm_version=ALGORITHM_VERSION,
        cutoff_callable=cutoff_callable,
    )


def gspace_fields(
    gspace: Any, in_repr: Any, out_repr: Any, maximum_offset: int | None = None
) -> dict[str, Any]:
    """The spec fields every kind shares, from a gspace and two of its representations:
    ``family``, ``N``, ``axis``, ``maximum_frequency``, ``in_repr``, ``out_repr`` and
    ``maximum_offset`` (dropped for continuous groups, where it cannot change the numbers)."""
    for attribute in ("fibergroup", "family"):
        if not hasattr(gspace, attribute):
            raise TypeError(f"gspace must be a gspace, got {type(gspace).__name__}")
    _check_representation(gspace, in_repr, "in_repr")
    _check_representation(gspace, out_repr, "out_repr")
    fam = family(gspace.family)
    continuous = gspace.fibergroup.order() < 0
    return {
        "family": fam.name,
        "N": -1 if continuous else (fam.fixed_N or int(gspace.N)),
        "axis": float(gspace.axis) if fam.flips else None,
        "maximum_frequency": int(gspace.maximum_frequency) if continuous else None,
        "in_repr": RepresentationSpec.from_representation(in_repr),
        "out_repr": RepresentationSpec.from_representation(out_repr),
        "maximum_offset": None if continuous else maximum_offset,
    }


def pdo_spec(gspace: Any, in_repr: Any, out_repr: Any, **settings: Any) -> BasisSpec:
    """The :class:`BasisSpec` of the PDO basis from ``in_repr`` to ``out_repr`` on ``gspace``
    (settings and defaults: :func:`e2compile.diffops.kind.pdo_spec`)."""
    from .diffops.kind import pdo_spec as build

    return build(gspace, in_repr, out_repr, **settings)
