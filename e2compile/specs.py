"""``BasisSpec``: the canonical, hashable description of one compiled basis artifact.

A spec holds everything that changes the sampled numbers, by content: the gspace family and its
parameters, both representations as irrep ids plus change of basis (rounded to ``COB_DECIMALS``),
the grid, rings, widths, frequency cutoff, maximum offset and the compiler's algorithm version.
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

from .kernels.sampling import (
    CUTOFF_POLICIES,
    LEGACY_POLICY_CODES,
    cutoff_function,
    default_rings,
    default_sigma,
)

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
    "build_group",
]

#: Version of the sampling algorithm; bump it whenever compiled numbers change for a given spec.
ALGORITHM_VERSION = 2  # 2: compact (factored) artifacts

#: Decimals the changes of basis are rounded to before hashing (and before sampling).
COB_DECIMALS = 12

FAMILIES = ("rot2d", "fliprot2d", "flip2d", "trivial")
KINDS = ("kernel", "pdo")
_FLIP_FAMILIES = ("fliprot2d", "flip2d")


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

    Construct with :func:`kernel_spec` (which resolves every default) or :meth:`from_json`. Fields
    are normalised on construction, so two specs that sample the same numbers compare equal.

    Attributes:
        family: ``"rot2d"``, ``"fliprot2d"``, ``"flip2d"`` or ``"trivial"``.
        N: number of rotations (-1 for SO(2)/O(2); 2 for ``flip2d``; 1 for ``trivial``).
        axis: reflection axis in radians for the flip families, else ``None``.
        maximum_frequency: the continuous group's maximum irrep frequency, else ``None``.
        in_repr, out_repr: :class:`RepresentationSpec` of the input and output fields.
        kind: ``"kernel"`` or ``"pdo"``.
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

        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        put("N", _int(self.N, "N"))
        if self.N == 0 or self.N < -1:
            raise ValueError(f"N must be positive or -1 (continuous), got {self.N}")
        if self.family == "flip2d" and self.N != 2:
            raise ValueError("the flip2d family has N = 2")
        if self.family == "trivial" and self.N != 1:
            raise ValueError("the trivial family has N = 1")
        if self.family in _FLIP_FAMILIES:
            if self.axis is None:
                raise ValueError(f"the {self.family} family needs a reflection axis")
            put("axis", _float(self.axis, "axis"))
        elif self.axis is not None:
            raise ValueError(f"the {self.family} family has no reflection axis")
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
            put(name, value)
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        put("kernel_size", _int(self.kernel_size, "kernel_size", minimum=1))
        put("dilation", _int(self.dilation, "dilation", minimum=1))
        put("rings", tuple(_float(r, "rings") for r in self.rings))
        put("sigma", tuple(_float(s, "sigma") for s in self.sigma))
        if any(r < 0 for r in self.rings):
            raise ValueError(f"rings must be non-negative, got {self.rings}")
        if any(s <= 0 for s in self.sigma):
            raise ValueError(f"sigma must be positive, got {self.sigma}")
        if len(self.sigma) != len(self.rings):
            raise ValueError(
                f"sigma needs one width per ring: {len(self.sigma)} for {len(self.rings)} rings"
            )
        if self.kind == "kernel" and not self.rings:
            raise ValueError("a kernel basis needs at least one ring")
        cutoff = self.frequencies_cutoff
        if cutoff is None:
            if self.cutoff_callable is None or not callable(self.cutoff_callable):
                raise ValueError("frequencies_cutoff=None requires a callable cutoff_callable")
        else:
            if self.cutoff_callable is not None:
                raise ValueError("cutoff_callable is only allowed with frequencies_cutoff=None")
            if isinstance(cutoff, str):
                if cutoff not in CUTOFF_POLICIES:
                    raise ValueError(
                        f"frequencies_cutoff must be one of {CUTOFF_POLICIES} or a number, "
                        f"got {cutoff!r}"
                    )
            else:
                cutoff = _float(cutoff, "frequencies_cutoff")
                if cutoff < 0:
                    raise ValueError(f"frequencies_cutoff must be non-negative, got {cutoff}")
                put("frequencies_cutoff", cutoff)
        if self.N == -1 and self.maximum_offset is not None:
            raise ValueError("maximum_offset only applies to finite groups")
        put("maximum_offset", _int(self.maximum_offset, "maximum_offset", minimum=0, optional=True))
        put("algorithm_version", _int(self.algorithm_version, "algorithm_version", minimum=1))
        options = dict(self.options)
        if len(options) != len(self.options):
            raise ValueError("options has duplicate names")
        for name in options:
            if not isinstance(name, str):
                raise TypeError(f"option names must be strings, got {name!r}")
        put("options", tuple(sorted((k, _json_scalar(v, k)) for k, v in options.items())))

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


def build_group(family: str, N: int, maximum_frequency: int | None = None) -> Any:
    """The fiber group of a gspace family (shared instances from the group factories)."""
    from . import group as groups

    if family == "rot2d":
        return groups.cyclic_group(N) if N > 0 else groups.so2_group(maximum_frequency)
    if family == "fliprot2d":
        return groups.dihedral_group(N) if N > 0 else groups.o2_group(maximum_frequency)
    if family == "flip2d":
        return groups.cyclic_group(2)
    if family == "trivial":
        return groups.cyclic_group(1)
    raise ValueError(f"unknown gspace family {family!r}")


# --------------------------------------------------------------------------------- kernel_spec
_GRID_TOLERANCE = 1e-9


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

    Defaults (conventions.md): ``rings`` = ``ceil(k/2)`` radii ``0, 1, ...`` (grid units);
    ``sigma`` = 0.6 per ring, 0.4 for the last, 0.005 for a ring at the origin (a number applies to
    every ring); ``frequencies_cutoff`` = policy ``"fco1"`` (``-1``, ``-2``, ``-3`` name the
    policies ``fco1``, ``fco2``, ``fco3``; another number ``c`` means ``f(r) = c r``; a callable
    ``f(r)`` of the radius in grid units is allowed but makes the spec unkeyable);
    ``maximum_offset`` = no bound beyond the cutoff (finite groups only).
    """
    for attribute in ("fibergroup", "family"):
        if not hasattr(gspace, attribute):
            raise TypeError(f"gspace must be a gspace, got {type(gspace).__name__}")
    _check_representation(gspace, in_repr, "in_repr")
    _check_representation(gspace, out_repr, "out_repr")
    kernel_size = _int(kernel_size, "kernel_size")
    if kernel_size <= 0:
        raise ValueError(f"kernel_size must be a positive integer, got {kernel_size}")
    dilation = _int(dilation, "dilation")
    if dilation <= 0:
        raise ValueError(f"dilation must be a positive integer, got {dilation}")
    from .budget import check_kernel_size

    check_kernel_size(kernel_size)  # before the grid's default rings are built

    if rings is None:
        rings = default_rings(kernel_size)
    else:
        if np.ndim(rings) != 1 or len(rings) == 0:
            raise ValueError(f"rings must be a non-empty sequence of radii, got {rings!r}")
        rings = tuple(_float(r, "rings") for r in rings)
        limit = math.sqrt(2) * (kernel_size - 1) / 2 + _GRID_TOLERANCE
        bad = [r for r in rings if r < 0 or r > limit]
        if bad:
            raise ValueError(
                f"rings must lie between 0 and the grid's corner radius {limit:.4g} "
                f"(grid units), got {bad}"
            )
    if sigma is None:
        sigma = default_sigma(rings)
    elif np.ndim(sigma) == 0:
        sigma = (_float(sigma, "sigma"),) * len(rings)
    else:
        sigma = tuple(_float(s, "sigma") for s in sigma)
        if len(sigma) != len(rings):
            raise ValueError(
                f"sigma needs one width per ring: got {len(sigma)} for {len(rings)} rings"
            )
    if any(s <= 0 for s in sigma):
        raise ValueError(f"sigma must be positive, got {sigma}")

    cutoff, cutoff_callable = _resolve_cutoff(frequencies_cutoff)

    family = gspace.family
    if family not in FAMILIES:
        raise ValueError(f"unsupported gspace family {family!r}")
    group = gspace.fibergroup
    continuous = group.order() < 0
    N = {"flip2d": 2, "trivial": 1}.get(family, -1 if continuous else int(gspace.N))
    axis = float(gspace.axis) if family in _FLIP_FAMILIES else None
    maximum_frequency = int(gspace.maximum_frequency) if continuous else None
    if continuous:
        maximum_offset = None  # no aliasing: the offset bound cannot change the numbers
    else:
        maximum_offset = _int(maximum_offset, "maximum_offset", minimum=0, optional=True)

    return BasisSpec(
        family=family,
        N=N,
        axis=axis,
        maximum_frequency=maximum_frequency,
        in_repr=RepresentationSpec.from_representation(in_repr),
        out_repr=RepresentationSpec.from_representation(out_repr),
        kind="kernel",
        kernel_size=kernel_size,
        dilation=dilation,
        rings=rings,
        sigma=sigma,
        frequencies_cutoff=cutoff,
        maximum_offset=maximum_offset,
        algorithm_version=ALGORITHM_VERSION,
        cutoff_callable=cutoff_callable,
    )
