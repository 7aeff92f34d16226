"""``compile(spec)``: turn a :class:`BasisSpec` into a sampled :class:`BasisArtifact`.

The result is a :class:`BasisArtifact`: the basis in compact form (per element its block between
two irreps, plus both changes of basis; docs/compact_bases.md; kernels and PDOs alike, assembled by
:func:`compact_artifact`), one attribute column per property of its elements (the columns of the
spec's kind), and the expansion of the bias. The dense float64 form ``(dim, O, I, k*k)`` is kept
for pairs that admit no element and read back from PDO artifacts stored before PDOs became
compact. ``compile`` is a pure function of the spec: the same
spec gives bitwise-identical arrays. ``to_record``/``from_record`` convert an artifact to and from
the store's generic ``(arrays, meta)`` record. How each kind is compiled lives with the kind
(:mod:`e2compile.kinds`): kernels in :mod:`e2compile.kernels.kind`, PDOs in
:mod:`e2compile.diffops.kind`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from . import __version__
from .budget import check_budget
from .kernels.basis import EmptyBasisException
from .kernels.compact import BLOCK, block_norms, expand_dense, padded_changes_of_basis
from .kernels.sampling import grid_points
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
_DENSE_FORMAT = "e2compile.basis/1"
_COMPACT_FORMAT = "e2compile.basis/2"


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


class BasisArtifact:
    """A compiled basis, dense or compact (factored, :mod:`e2compile.kernels.compact`).

    Attributes:
        spec: the :class:`~e2compile.specs.BasisSpec` it was compiled from.
        attributes: dict of 1-D columns of length ``dim`` (the columns of the spec's kind; for
            kernels ``radius`` (grid units), ``sigma``, ``frequency``, ``gamma``, ``s`` (-1 where
            not applicable), ``offset`` (0 for continuous groups), ``in_irrep``/``out_irrep``
            (irrep names), ``in_irrep_position``/``out_irrep_position`` (index of the irrep in
            its representation) and ``inner_index`` (index in the irreps-pair basis)).
        bias_basis: float64 ``(O, n_trivial)``: the bias of the output field is
            ``bias_basis @ b`` for one parameter per trivial irrep of the output.
        blocks, q_out, q_in_inv, out_irrep_sizes, in_irrep_sizes: the compact form:
            ``blocks`` float64 ``(dim, 2, 2, k*k)``, each element sampled between its two irreps
            (top-left ``d_out x d_in`` corner), the output change of basis ``(O, O)``, the inverse
            of the input one ``(I, I)`` and the sizes of the irreps of both representations;
            element ``n`` is ``q_out[:, o_n] @ blocks[n] @ q_in_inv[i_n, :]``. ``None`` for a
            dense artifact.
        basis: float64 ``(dim, O, I, k*k)``, grid points row-major from the top-left: stored for a
            dense artifact (``dim == 0``, or a PDO artifact stored before PDOs became compact),
            expanded on every access for a compact one (prefer :meth:`dense_basis`).
    """

    _COMPACT = ("blocks", "q_out", "q_in_inv", "out_irrep_sizes", "in_irrep_sizes")

    def __init__(
        self,
        spec: BasisSpec,
        basis: np.ndarray | None = None,
        attributes: dict[str, np.ndarray] | None = None,
        bias_basis: np.ndarray | None = None,
        *,
        blocks: np.ndarray | None = None,
        q_out: np.ndarray | None = None,
        q_in_inv: np.ndarray | None = None,
        out_irrep_sizes: Any = None,
        in_irrep_sizes: Any = None,
    ):
        put = functools.partial(object.__setattr__, self)
        put("spec", spec)
        if attributes is None or bias_basis is None:
            raise TypeError("BasisArtifact needs attributes and bias_basis")
        o, i = spec.out_repr.size, spec.in_repr.size
        k2 = spec.kernel_size**2
        if (basis is None) == (blocks is None):
            raise ValueError("an artifact holds either the dense basis or the compact blocks")
        if blocks is not None:
            blocks = np.asarray(blocks)
            if blocks.dtype != np.float64 or blocks.shape[1:] != (BLOCK, BLOCK, k2):
                raise ValueError(
                    f"blocks must be a float64 (dim, {BLOCK}, {BLOCK}, {k2}) array, got "
                    f"{blocks.dtype} {blocks.shape}"
                )
            q_out = np.asarray(q_out, dtype=np.float64)
            q_in_inv = np.asarray(q_in_inv, dtype=np.float64)
            if q_out.shape != (o, o) or q_in_inv.shape != (i, i):
                raise ValueError(
                    f"q_out and q_in_inv must have shapes {(o, o)} and {(i, i)}, got "
                    f"{q_out.shape} and {q_in_inv.shape}"
                )
            for name, total, irreps, value in (
                ("out_irrep_sizes", o, spec.out_repr.irreps, out_irrep_sizes),
                ("in_irrep_sizes", i, spec.in_repr.irreps, in_irrep_sizes),
            ):
                column = np.asarray(value, dtype=np.int64).reshape(-1)
                if (
                    column.size != len(irreps)
                    or column.sum() != total
                    or not np.isin(column, (1, 2)).all()
                ):
                    raise ValueError(
                        f"{name} must hold one size (1 or 2) per irrep, summing to {total}"
                    )
                put(name, _readonly(column))
            put("blocks", _readonly(blocks))
            put("q_out", _readonly(q_out))
            put("q_in_inv", _readonly(q_in_inv))
            put("_basis", None)
            dim = blocks.shape[0]
        else:
            basis = np.asarray(basis)
            if basis.dtype != np.float64 or basis.ndim != 4:
                raise ValueError(
                    f"basis must be a float64 (dim, O, I, k*k) array, got {basis.shape}"
                )
            if basis.shape[1:] != (o, i, k2):
                raise ValueError(f"basis has shape {basis.shape}, expected (dim, {o}, {i}, {k2})")
            for name in self._COMPACT:
                put(name, None)
            put("_basis", _readonly(basis))
            dim = basis.shape[0]
        kinds = get_kind(spec.kind).columns
        missing = [c for c in kinds if c not in attributes]
        if missing:
            raise ValueError(f"attributes lack the columns {missing}")
        columns = {}
        for name, kind in kinds.items():
            column = _as_column(attributes[name], kind)
            if column.shape != (dim,):
                raise ValueError(f"attribute column {name!r} has shape {column.shape}")
            columns[name] = _readonly(column)
        if self.blocks is not None:
            for name, sizes in (
                ("out_irrep_position", self.out_irrep_sizes),
                ("in_irrep_position", self.in_irrep_sizes),
            ):
                column = columns.get(name)
                if column is None or (
                    column.size and not 0 <= column.min() <= column.max() < sizes.size
                ):
                    raise ValueError(f"attribute column {name!r} points outside the representation")
        bias = np.asarray(bias_basis, dtype=np.float64)
        if bias.ndim != 2 or bias.shape[0] != o:
            raise ValueError(f"bias_basis must have shape (O, n_trivial), got {bias.shape}")
        put("attributes", columns)
        put("bias_basis", _readonly(bias))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("BasisArtifact is immutable")

    @property
    def compact(self) -> bool:
        """Whether the artifact holds the compact (factored) form."""
        return self.blocks is not None

    @property
    def dim(self) -> int:
        return int((self.blocks if self.compact else self._basis).shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """``(O, I)``: sizes of the output and input representations."""
        return int(self.spec.out_repr.size), int(self.spec.in_repr.size)

    @property
    def points(self) -> int:
        """Number of sampled points (``k*k``)."""
        return int(self.spec.kernel_size**2)

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def columns(self) -> tuple[str, ...]:
        """The names of the attribute columns (those of the spec's kind), in order."""
        return tuple(self.attributes)

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays the artifact holds (what the store keeps, before compression)."""
        arrays = [a for a in self._arrays().values()]
        return sum(a.nbytes for a in arrays) + sum(c.nbytes for c in self.attributes.values())

    def _arrays(self) -> dict[str, np.ndarray]:
        if self.compact:
            arrays = {name: getattr(self, name) for name in self._COMPACT}
        else:
            arrays = {"basis": self._basis}
        arrays["bias_basis"] = self.bias_basis
        return arrays

    def padded_changes_of_basis(self) -> tuple[np.ndarray, np.ndarray]:
        """``(Q_out_pad, Q_in_pad)``: see :func:`.kernels.compact.padded_changes_of_basis`."""
        return padded_changes_of_basis(
            self.q_out, self.out_irrep_sizes, self.q_in_inv, self.in_irrep_sizes
        )

    def dense_basis(self, elements: np.ndarray | None = None) -> np.ndarray:
        """The dense sampled basis ``(dim, O, I, k*k)`` float64 (or the rows ``elements``): the
        one function tools call to see the filters. For a compact artifact it allocates the whole
        dense array, which layers never do."""
        if not self.compact:
            return self._basis if elements is None else self._basis[np.asarray(elements)]
        return expand_dense(self, elements)

    @property
    def basis(self) -> np.ndarray:
        """The whole dense basis (expanded on every access for a compact artifact)."""
        return self.dense_basis()

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
        arrays = self._arrays()
        for name, column in self.attributes.items():
            arrays[_ARRAY_PREFIX + name] = column
        meta = {
            "format": _COMPACT_FORMAT if self.compact else _DENSE_FORMAT,
            "spec": spec_json,
            "key": self.spec.key,
            "compiler_version": COMPILER_VERSION,
            "algorithm_version": self.spec.algorithm_version,
            "dim": self.dim,
        }
        return arrays, meta

    @classmethod
    def from_record(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> BasisArtifact:
        """Inverse of :meth:`to_record` (a spec of another algorithm version is refused by
        :class:`BasisSpec`, which says to recompile)."""
        if "spec" not in meta:
            raise ValueError("record metadata lacks the spec")
        spec = BasisSpec.from_json(meta["spec"])
        attributes = {}
        for name in get_kind(spec.kind).columns:
            try:
                attributes[name] = arrays[_ARRAY_PREFIX + name]
            except KeyError:
                raise ValueError(f"record lacks the attribute column {name!r}") from None
        names = cls._COMPACT if "blocks" in arrays else ("basis",)
        missing = [name for name in (*names, "bias_basis") if name not in arrays]
        if missing:
            raise ValueError(f"record lacks the arrays {missing}")
        return cls(
            spec=spec,
            attributes=attributes,
            bias_basis=np.asarray(arrays["bias_basis"], dtype=np.float64),
            **{name: np.asarray(arrays[name]) for name in names},
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BasisArtifact):
            return NotImplemented
        mine, theirs = self._arrays(), other._arrays()
        return (
            self.spec == other.spec
            and mine.keys() == theirs.keys()
            and all(np.array_equal(mine[n], theirs[n]) for n in mine)
            and self.attributes.keys() == other.attributes.keys()
            and all(
                np.array_equal(self.attributes[c], other.attributes[c]) for c in self.attributes
            )
        )

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self):
        return (_rebuild, (self.spec, self.attributes, self._arrays()))

    def __repr__(self) -> str:
        o, i = self.shape
        key = self.spec.key[:12] if self.spec.keyable else "unkeyable"
        return (
            f"BasisArtifact({self.spec.kind}, {self.spec.family}, {o}x{i}, "
            f"k={self.spec.kernel_size}, dim={self.dim}, key={key})"
        )


def _rebuild(spec: BasisSpec, attributes: dict, arrays: dict) -> BasisArtifact:
    return BasisArtifact(spec=spec, attributes=attributes, **arrays)


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


def sample_or_empty(
    spec: BasisSpec, sample: Callable[[BasisSpec, Any, Any, Any], BasisArtifact]
) -> BasisArtifact:
    """Build the spec's group and representations and ``sample(spec, group, in, out)``; a pair
    that admits no element (``EmptyBasisException``) gives :func:`empty_artifact`."""
    group, in_repr, out_repr = spec.build_representations()
    try:
        return sample(spec, group, in_repr, out_repr)
    except EmptyBasisException:
        return empty_artifact(spec, group, out_repr)


def empty_artifact(spec: BasisSpec, group: Any, out_repr: Any) -> BasisArtifact:
    """The artifact of a pair that admits no element: ``dim == 0``, bias data still present."""
    o, i = spec.out_repr.size, spec.in_repr.size
    return BasisArtifact(
        spec=spec,
        basis=np.zeros((0, o, i, spec.kernel_size**2)),
        attributes={c: np.empty(0, dtype=kind) for c, kind in get_kind(spec.kind).columns.items()},
        bias_basis=bias_basis(spec, group, out_repr),
    )


# squared norm per output dimension below which an element counts as zero (not rescaled)
_ZERO_VARIANCE = 1e-15
_ZERO_NORM = 1e-6
# elements whose squared norm is not above this after normalisation are dropped
_DROP_THRESHOLD = 1e-2

#: Attribute columns every kind derives from the irreps pair of an element, in stored order,
#: with their numpy kinds.
IRREP_COLUMNS = {
    "gamma": "f",
    "s": "i",
    "offset": "i",
    "in_irrep": "U",
    "out_irrep": "U",
    "in_irrep_position": "i",
    "out_irrep_position": "i",
    "inner_index": "i",
}


def element_scales(squared: np.ndarray, out_sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale each element to unit mean squared norm per output dimension.

    ``squared`` holds the elements' squared norms on the grid and ``out_sizes`` the sizes of their
    output irreps. Returns ``(scale, survive)``: divide element ``b`` by ``scale[b]``; elements
    with ``survive[b]`` false vanish on the grid and are dropped. Vanishing elements keep scale 1.
    """
    variance = squared / out_sizes
    variance[variance < _ZERO_VARIANCE] = 0.0
    scale = np.sqrt(variance)
    scale[scale < _ZERO_NORM] = 1.0
    return scale, squared / scale**2 > _DROP_THRESHOLD


def compact_artifact(
    spec: BasisSpec,
    group: Any,
    in_repr: Any,
    out_repr: Any,
    columns: Mapping[str, np.ndarray],
    keep: np.ndarray,
    sample_blocks: Callable[[np.ndarray], np.ndarray],
    kind_columns: Callable[[np.ndarray], dict[str, np.ndarray]],
) -> BasisArtifact:
    """The compact artifact of a basis whose elements each live in one irreps block: the one
    assembly of every such kind (kernels, PDOs; docs/compact_bases.md).

    Args:
        spec, group, in_repr, out_repr: the spec and what :func:`sample_or_empty` built from it.
        columns: the basis's attribute columns, one row per element: the source columns of
            :data:`IRREP_COLUMNS` (:func:`irrep_attributes`) and ``shape`` (``(d_out, d_in)``).
        keep: boolean mask of the elements to sample.
        sample_blocks: ``sample_blocks(points)`` samples the kept elements between their irreps
            on the spec's grid points ``(2, P)``: float64 ``(n_kept, 2, 2, P)`` (scaled in place).
        kind_columns: ``kind_columns(selected)``, the kind's own attribute columns of the rows
            ``selected`` (indices into ``columns``) that survive.

    The blocks' size is checked against the limit before they are sampled; each element is then
    divided by its norm through both changes of basis (from 2x2 Gram matrices, never formed)
    and vanishing elements are dropped (:func:`element_scales`). Raises
    ``EmptyBasisException`` when every element vanishes.
    """
    keep = np.asarray(keep, dtype=bool)
    check_budget(int(keep.sum()) * BLOCK * BLOCK * spec.kernel_size**2 * 8, "the sampled blocks")
    blocks = sample_blocks(grid_points(spec.kernel_size, spec.dilation))
    fixed = {
        "q_out": spec.out_repr.matrix(),
        "q_in_inv": np.linalg.inv(spec.in_repr.matrix()),
        "out_irrep_sizes": [group.irreps[n].size for n in out_repr.irreps],
        "in_irrep_sizes": [group.irreps[n].size for n in in_repr.irreps],
    }
    qo_pad, qi_pad = padded_changes_of_basis(
        fixed["q_out"], fixed["out_irrep_sizes"], fixed["q_in_inv"], fixed["in_irrep_sizes"]
    )
    squared = block_norms(
        blocks,
        columns["out_irrep_position"][keep],
        columns["in_irrep_position"][keep],
        qo_pad,
        qi_pad,
    )
    out_sizes = np.array([shape[0] for shape in columns["shape"][keep]], dtype=np.float64)
    scale, survive = element_scales(squared, out_sizes)
    blocks /= scale[:, None, None, None]
    if not survive.any():
        raise EmptyBasisException("every basis element vanishes on the sampling grid")
    selected = np.flatnonzero(keep)[survive]
    return BasisArtifact(
        spec=spec,
        blocks=blocks if survive.all() else blocks[survive],
        attributes={**kind_columns(selected), **irrep_attributes(columns, selected)},
        bias_basis=bias_basis(spec, group, out_repr),
        **fixed,
    )


def irrep_attributes(columns: Mapping[str, np.ndarray], selected: np.ndarray) -> dict[str, Any]:
    """The :data:`IRREP_COLUMNS` of the ``selected`` rows of a basis's attribute columns.

    ``s`` and ``offset`` are ``None`` where an irreps pair has no such index; they are stored as
    -1 and 0.
    """
    out: dict[str, Any] = {}
    for name in IRREP_COLUMNS:
        values = columns[name][selected]
        if name in ("s", "offset"):
            missing = -1 if name == "s" else 0
            values = np.array([missing if v is None else v for v in values], dtype=np.int64)
        out[name] = values
    return out


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
