"""``BasisSpec``: the canonical, hashable description of one compiled basis artifact.

A spec holds everything that changes the sampled numbers, by content: the gspace family and its
parameters, both representations as irrep ids plus change of basis (rounded to ``COB_DECIMALS``),
the sampling grid (``kernel_size``, ``dilation``: every kind samples its elements on one), the
basis kind and that kind's options (a :class:`~e2compile.kinds.KindOptions` of the kind: a
kernel's rings, widths and frequency cutoff, a PDO's orders and discretisation), and the
compiler's algorithm version. The spec names no option of any kind: each kind's module declares
and validates its own (:mod:`e2compile.kinds`), and builds its specs (``kernel_spec`` in
:mod:`e2compile.kernels.kind`, ``pdo_spec`` in :mod:`e2compile.diffops.kind`).

``spec.key`` is the SHA-256 of ``spec.canonical_json()``: sorted keys, no whitespace, floats written
with ``repr`` (shortest round-trip form), so the key is the same in every process and on every
machine.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, NamedTuple

import numpy as np

from .families import family, family_names
from .kinds import DEFAULT_KIND, KIND_NAMES, KindOptions, get_kind

__all__ = [
    "ALGORITHM_VERSION",
    "COB_DECIMALS",
    "FAMILIES",
    "KINDS",
    "BasisSpec",
    "RepresentationSpec",
    "SpecRepresentations",
    "gspace_fields",
    "build_group",
    "check_maximum_offset",
]

#: Version of the sampling algorithm and of the spec's layout; bump it whenever compiled numbers
#: or the spec's fields change for a given basis (every key changes with it).
ALGORITHM_VERSION = 3  # 2: compact (factored) artifacts; 3: kind options, canonical cutoffs

#: Decimals the changes of basis (and a callable cutoff's values) are rounded to before hashing
#: and sampling.
COB_DECIMALS = 12

#: The gspace families and basis kinds (the registries are :mod:`e2compile.families` and
#: :mod:`e2compile.kinds`).
FAMILIES = family_names()
KINDS = KIND_NAMES()

#: How far from orthogonal (max entry of ``Q Q^T - I``) a change of basis may be.
_ORTHOGONAL_TOLERANCE = 1e-9


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


class SpecRepresentations(NamedTuple):
    """What :meth:`BasisSpec.build_representations` returns."""

    group: Any
    in_repr: Any
    out_repr: Any


@dataclass(frozen=True)
class BasisSpec:
    """Canonical description of one basis artifact (see the module docstring).

    Construct with a kind's builder (``kernel_spec``, ``pdo_spec``), which resolves every
    default, or with :meth:`from_json`. The constructor is the single validator: common fields
    here, the kind's options by its :class:`~e2compile.kinds.BasisKind`; it refuses an
    ``algorithm_version`` other than :data:`ALGORITHM_VERSION` and non-orthogonal changes of
    basis. Fields are normalised on construction, so two specs that sample the same numbers
    compare equal.

    Attributes:
        family: a registered gspace family (:mod:`e2compile.families`), e.g. ``"rot2d"``.
        N: the finite group's parameter (number of rotations; the fixed ``N`` of the families
            without rotations), -1 for a continuous group.
        axis: reflection axis in radians for the flip families, else ``None``.
        maximum_frequency: the continuous group's maximum irrep frequency, else ``None``.
        in_repr, out_repr: :class:`RepresentationSpec` of the input and output fields.
        kind: a registered basis kind (:mod:`e2compile.kinds`), e.g. ``"kernel"``.
        kernel_size, dilation: the ``k x k`` grid the elements are sampled on (points ``dilation``
            pixels apart).
        options: the kind's :class:`~e2compile.kinds.KindOptions` (a mapping is converted; see
            the kind's module for its fields).
        algorithm_version: :data:`ALGORITHM_VERSION` of the compiler that defines the numbers.
    """

    family: str
    N: int
    axis: float | None
    maximum_frequency: int | None
    in_repr: RepresentationSpec
    out_repr: RepresentationSpec
    kind: str = DEFAULT_KIND
    kernel_size: int = 3
    dilation: int = 1
    options: Any = None
    algorithm_version: int = ALGORITHM_VERSION

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        _check_version(self.algorithm_version)
        put("algorithm_version", ALGORITHM_VERSION)
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
        options = self.options
        if options is None or isinstance(options, Mapping):
            options = kind.options.from_json_obj(options or {}, kind.name)
        elif type(options) is not kind.options:
            raise TypeError(
                f"options of a {kind.name} spec must be a {kind.options.__name__} or a mapping, "
                f"got {type(options).__name__}"
            )
        put("options", options)
        if kind.validate is not None:
            put("options", kind.validate(self))

    # ----------------------------------------------------------------------------- identity
    def to_json_obj(self) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (RepresentationSpec, KindOptions)):
                value = value.to_json_obj()
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
        """Inverse of :meth:`canonical_json` (accepts any JSON with the same fields). A spec of
        another algorithm version is refused first, whatever its fields."""
        obj = json.loads(text)
        if not isinstance(obj, dict):
            raise ValueError("a BasisSpec JSON must be an object")
        if "algorithm_version" in obj:
            _check_version(obj["algorithm_version"])
        known = {f.name for f in fields(cls)}
        unknown = set(obj) - known
        if unknown:
            raise ValueError(f"unknown BasisSpec fields: {sorted(unknown)}")
        obj = dict(obj)
        for name in ("in_repr", "out_repr"):
            r = obj[name]
            obj[name] = RepresentationSpec(r["irreps"], r["change_of_basis"])
        return cls(**obj)

    def replace(self, **changes: Any) -> BasisSpec:
        """A copy with some fields or options changed (re-validated and re-normalised): names
        that are not fields of the spec are options of its kind."""
        names = {f.name for f in fields(self)}
        options = {k: changes.pop(k) for k in list(changes) if k not in names}
        if options:
            base = changes.get("options", self.options)
            changes["options"] = base.replace(**options)
        return replace(self, **changes)

    # ----------------------------------------------------------------------------- derived
    @property
    def continuous(self) -> bool:
        return self.N == -1

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


def _check_version(version: Any) -> None:
    version = _int(version, "algorithm_version", minimum=1)
    if version != ALGORITHM_VERSION:
        raise ValueError(
            f"algorithm_version {version} is not this compiler's ({ALGORITHM_VERSION}): its "
            "numbers would be stored under a key that claims another algorithm; rebuild the "
            "spec (e.g. with kernel_spec/pdo_spec) or use the matching compiler version"
        )


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


def gspace_fields(gspace: Any, in_repr: Any, out_repr: Any) -> dict[str, Any]:
    """The spec fields every kind shares, from a gspace and two of its representations:
    ``family``, ``N``, ``axis``, ``maximum_frequency``, ``in_repr`` and ``out_repr``."""
    for attribute in ("fibergroup", "family"):
        if not hasattr(gspace, attribute):
            raise TypeError(f"gspace must be a gspace, got {type(gspace).__name__}")
    _check_representation(gspace, in_repr, "in_repr")
    _check_representation(gspace, out_repr, "out_repr")
    fam = family(gspace.family)
    N = fam.spec_N(gspace)
    return {
        "family": fam.name,
        "N": N,
        "axis": float(gspace.axis) if fam.flips else None,
        "maximum_frequency": int(gspace.maximum_frequency) if N == -1 else None,
        "in_repr": RepresentationSpec.from_representation(in_repr),
        "out_repr": RepresentationSpec.from_representation(out_repr),
    }


def check_maximum_offset(spec: BasisSpec, value: Any) -> int | None:
    """The ``maximum_offset`` option of the kinds that alias frequencies through the irreps
    bases (kernels, PDOs): ``None`` or an integer >= 0 bounding ``|t|`` of the aliased frequencies
    of a finite group. Builders drop it for continuous groups, where it cannot change the
    numbers; a spec that holds one for a continuous group is refused."""
    if spec.continuous and value is not None:
        raise ValueError("maximum_offset only applies to finite groups")
    return _int(value, "maximum_offset", minimum=0, optional=True)
