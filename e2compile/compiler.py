"""``compile(spec)``: turn a :class:`BasisSpec` into a sampled :class:`BasisArtifact`.

The result is a :class:`BasisArtifact`: the basis as a float64 array ``(dim, O, I, k*k)``, one
attribute column per property of its elements (the columns of the spec's kind), and the expansion
of the bias. ``compile`` is a pure function of the spec: the same spec gives bitwise-identical
arrays. ``to_record``/``from_record`` convert an artifact to and from the store's generic
``(arrays, meta)`` record. How each kind is compiled lives with the kind (:mod:`e2compile.kinds`):
kernels in :mod:`e2compile.kernels.kind`, PDOs in :mod:`e2compile.diffops.kind`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import __version__
from .kinds import get_kind, register_kind
from .specs import ALGORITHM_VERSION, BasisSpec

__all__ = [
    "COMPILER_VERSION",
    "ATTRIBUTE_COLUMNS",
    "BasisArtifact",
    "compile",
    "basis_filter_mask",
    "register_basis_kind",
]

#: Version string recorded in every artifact's metadata.
COMPILER_VERSION = f"{__version__}+alg{ALGORITHM_VERSION}"

#: Attribute columns of a kernel artifact, in order (each kind declares its own columns in
#: :mod:`e2compile.kinds`; :meth:`BasisArtifact.columns` gives an artifact's).
ATTRIBUTE_COLUMNS = (
    "radius",
    "sigma",
    "frequency",
    "gamma",
    "s",
    "offset",
    "in_irrep",
    "out_irrep",
    "in_irrep_position",
    "out_irrep_position",
    "inner_index",
)

_ARRAY_PREFIX = "attr."
_RECORD_FORMAT = "e2compile.basis/1"


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class BasisArtifact:
    """A compiled basis.

    Attributes:
        spec: the :class:`~e2compile.specs.BasisSpec` it was compiled from.
        basis: float64 ``(dim, O, I, k*k)``, grid points row-major from the top-left.
        attributes: dict of 1-D columns of length ``dim``: ``radius`` (grid units), ``sigma``,
            ``frequency``, ``gamma``, ``s`` (-1 where not applicable), ``offset`` (0 for
            continuous groups), ``in_irrep``/``out_irrep`` (irrep names),
            ``in_irrep_position``/``out_irrep_position`` (index of the irrep in its
            representation) and ``inner_index`` (index in the irreps-pair basis).
        bias_basis: float64 ``(O, n_trivial)``: the bias of the output field is
            ``bias_basis @ b`` for one parameter per trivial irrep of the output.
    """

    spec: BasisSpec
    basis: np.ndarray
    attributes: dict[str, np.ndarray]
    bias_basis: np.ndarray

    def __post_init__(self) -> None:
        basis = np.asarray(self.basis)
        if basis.dtype != np.float64 or basis.ndim != 4:
            raise ValueError(f"basis must be a float64 (dim, O, I, k*k) array, got {basis.shape}")
        k2 = self.spec.kernel_size**2
        expected = (self.spec.out_repr.size, self.spec.in_repr.size, k2)
        if basis.shape[1:] != expected:
            raise ValueError(f"basis has shape {basis.shape}, expected (dim, *{expected})")
        kinds = get_kind(self.spec.kind).columns
        missing = [c for c in kinds if c not in self.attributes]
        if missing:
            raise ValueError(f"attributes lack the columns {missing}")
        columns = {}
        for name, kind in kinds.items():
            column = _as_column(self.attributes[name], kind)
            if column.shape != (basis.shape[0],):
                raise ValueError(f"attribute column {name!r} has shape {column.shape}")
            columns[name] = _readonly(column)
        bias = np.asarray(self.bias_basis, dtype=np.float64)
        if bias.ndim != 2 or bias.shape[0] != expected[0]:
            raise ValueError(f"bias_basis must have shape (O, n_trivial), got {bias.shape}")
        object.__setattr__(self, "basis", _readonly(basis))
        object.__setattr__(self, "attributes", columns)
        object.__setattr__(self, "bias_basis", _readonly(bias))

    @property
    def dim(self) -> int:
        return int(self.basis.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """``(O, I)``: sizes of the output and input representations."""
        return int(self.basis.shape[1]), int(self.basis.shape[2])

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def columns(self) -> tuple[str, ...]:
        """The names of the attribute columns (those of the spec's kind), in order."""
        return tuple(self.attributes)

    def element_attributes(self) -> Iterator[dict[str, Any]]:
        """One dict per element: the columns plus the reference library's aliases.

        ``s`` is omitted where it does not apply; ``idx`` is the element's index in the artifact.
        """
        cols = {name: column.tolist() for name, column in self.attributes.items()}
        for idx in range(self.dim):
            attr = {name: column[idx] for name, column in cols.items()}
            if attr.get("s", 0) < 0:
                del attr["s"]
            for name in ("in_irrep", "out_irrep", "inner"):
                position = "inner_index" if name == "inner" else f"{name}_position"
                if position in attr:
                    attr[f"{name}_idx"] = attr[position]
            attr["idx"] = idx
            yield attr

    def to_record(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """``(arrays, meta)`` for the store; ``meta["spec"]`` is the canonical spec JSON."""
        spec_json = self.spec.canonical_json()  # raises for unkeyable specs
        arrays = {"basis": self.basis, "bias_basis": self.bias_basis}
        for name, column in self.attributes.items():
            arrays[_ARRAY_PREFIX + name] = column
        meta = {
            "format": _RECORD_FORMAT,
            "spec": spec_json,
            "key": self.spec.key,
            "compiler_version": COMPILER_VERSION,
            "algorithm_version": self.spec.algorithm_version,
            "dim": self.dim,
        }
        return arrays, meta

    @classmethod
    def from_record(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> BasisArtifact:
        """Inverse of :meth:`to_record`."""
        if "spec" not in meta:
            raise ValueError("record metadata lacks the spec")
        spec = BasisSpec.from_json(meta["spec"])
        attributes = {}
        for name in get_kind(spec.kind).columns:
            try:
                attributes[name] = arrays[_ARRAY_PREFIX + name]
            except KeyError:
                raise ValueError(f"record lacks the attribute column {name!r}") from None
        return cls(
            spec=spec,
            basis=np.asarray(arrays["basis"], dtype=np.float64),
            attributes=attributes,
            bias_basis=np.asarray(arrays["bias_basis"], dtype=np.float64),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BasisArtifact):
            return NotImplemented
        return (
            self.spec == other.spec
            and np.array_equal(self.basis, other.basis)
            and np.array_equal(self.bias_basis, other.bias_basis)
            and all(
                np.array_equal(self.attributes[c], other.attributes[c]) for c in self.attributes
            )
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        o, i = self.shape
        key = self.spec.key[:12] if self.spec.keyable else "unkeyable"
        return (
            f"BasisArtifact({self.spec.kind}, {self.spec.family}, {o}x{i}, "
            f"k={self.spec.kernel_size}, "
            f"dim={self.dim}, key={key})"
        )


def _as_column(values: Any, kind: str) -> np.ndarray:
    column = np.asarray(values)
    if kind == "U":
        if column.dtype.kind == "S":
            column = np.char.decode(column, "utf-8")
        elif column.dtype.kind == "O":
            column = np.asarray(
                [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in column], dtype=str
            )
        if column.size == 0:
            column = column.astype("<U1")
        return column.astype(str)
    return column.astype(np.float64 if kind == "f" else np.int64)


# ------------------------------------------------------------------------------------- compile
def register_basis_kind(kind: str, module: str) -> None:
    """Register the basis kind ``kind`` defined (as ``KIND``) in ``module``; see
    :mod:`e2compile.kinds`."""
    register_kind(kind, module)


def compile(spec: BasisSpec) -> BasisArtifact:  # noqa: A001 - the product's name for it
    """Compile ``spec`` into a :class:`BasisArtifact` (pure and deterministic).

    The spec's kind (:mod:`e2compile.kinds`) says how. A pair of representations that admits no
    element compiles to an artifact with ``dim == 0``: a valid result (that block of the filter
    is zero) which the store keeps like any other, so that later processes and offline mode
    never need the compiler for it. The basis objects of :mod:`e2compile.kernels` and
    :mod:`e2compile.diffops` raise ``EmptyBasisException`` instead.
    """
    if not isinstance(spec, BasisSpec):
        raise TypeError(f"compile expects a BasisSpec, got {type(spec).__name__}")
    return get_kind(spec.kind).compile(spec)


def empty_artifact(spec: BasisSpec, group: Any, out_repr: Any) -> BasisArtifact:
    """The artifact of a pair that admits no element: ``dim == 0``, bias data still present."""
    o, i = spec.out_repr.size, spec.in_repr.size
    return BasisArtifact(
        spec=spec,
        basis=np.zeros((0, o, i, spec.kernel_size**2)),
        attributes={c: np.empty(0, dtype=kind) for c, kind in get_kind(spec.kind).columns.items()},
        bias_basis=bias_basis(spec, group, out_repr),
    )


def bias_basis(spec: BasisSpec, group: Any, out_repr: Any) -> np.ndarray:
    """Columns of the output change of basis at the positions of its trivial irreps."""
    q = spec.out_repr.matrix()
    trivial = tuple(group.trivial_representation.irreps)[0]
    columns, position = [], 0
    for name in out_repr.irreps:
        if name == trivial:
            columns.append(position)
        position += group.irreps[name].size
    return np.ascontiguousarray(q[:, columns])


# -------------------------------------------------------------------------------- basis filter
def basis_filter_mask(
    artifact: BasisArtifact, basis_filter: Callable[[dict], bool] | np.ndarray | None
) -> np.ndarray:
    """Boolean mask over the artifact's elements selected by a user ``basis_filter``.

    ``basis_filter`` receives each element's attribute dict (see
    :meth:`BasisArtifact.element_attributes`) and returns whether to keep it; ``None`` keeps
    everything; a boolean array of length ``dim`` is passed through (checked).
    """
    if basis_filter is None:
        return np.ones(artifact.dim, dtype=bool)
    if callable(basis_filter):
        return np.fromiter(
            (bool(basis_filter(attr)) for attr in artifact.element_attributes()),
            dtype=bool,
            count=artifact.dim,
        )
    mask = np.asarray(basis_filter)
    if mask.dtype != bool or mask.shape != (artifact.dim,):
        raise ValueError(
            f"basis_filter must be a callable or a boolean array of shape ({artifact.dim},)"
        )
    return mask.copy()
