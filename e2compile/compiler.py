"""``compile(spec)``: sample, band-limit, normalise and filter one kernel basis.

The result is a :class:`BasisArtifact`: the basis as a float64 array ``(dim, O, I, k*k)``, one
attribute column per property of its elements, and the expansion of the bias. ``compile`` is a pure
function of the spec: the same spec gives bitwise-identical arrays. ``to_record``/``from_record``
convert an artifact to and from the store's generic ``(arrays, meta)`` record.

Pipeline (conventions.md):

1. the analytic basis of the spec's family, Gaussian rings at ``rings * dilation`` pixels;
2. band-limiting: an element of frequency ``mu`` on a ring of radius ``r`` (grid units) is kept when
   ``|mu| <= f(r)``, ``f`` being the spec's frequency cutoff; for finite groups the aliased
   frequencies are bounded by ``max_r f(r)`` (and by ``maximum_offset``);
3. sampling on the ``k x k`` grid and the changes of basis of both representations;
4. normalisation: each element is divided by ``sqrt(sum_p ||K(p)||_F^2 / d_out)``, ``d_out`` the
   size of its output irrep; elements that are (numerically) zero on the grid are not rescaled
   and the drop rule removes them: an element survives when its squared norm is then above 1e-2.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import __version__
from .budget import check_budget, check_spec_budget
from .kernels.basis import EmptyBasisException, GaussianRadialProfile, PolarBasis
from .kernels.compact import BLOCK, block_norms, expand_dense, padded_changes_of_basis
from .kernels.irreps_basis import (
    CyclicIrrepsBasis,
    DihedralIrrepsBasis,
    FlipIrrepsBasis,
    O2IrrepsBasis,
    SO2IrrepsBasis,
    TrivialIrrepsBasis,
)
from .kernels.sampling import grid_points
from .kernels.steerable_basis import SteerableKernelBasis
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

#: Attribute columns of every artifact, in order.
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
_COLUMN_KINDS = {
    "radius": "f",
    "sigma": "f",
    "frequency": "i",
    "gamma": "f",
    "s": "i",
    "offset": "i",
    "in_irrep": "U",
    "out_irrep": "U",
    "in_irrep_position": "i",
    "out_irrep_position": "i",
    "inner_index": "i",
}

# squared norm per output dimension below which an element counts as zero (not rescaled)
_ZERO_VARIANCE = 1e-15
_ZERO_NORM = 1e-6
# elements whose squared norm is not above this after normalisation are dropped
_DROP_THRESHOLD = 1e-2

_ARRAY_PREFIX = "attr."
_RECORD_FORMAT = "e2compile.basis/2"
_ARRAY_FIELDS = (
    "blocks",
    "q_out",
    "q_in_inv",
    "out_irrep_sizes",
    "in_irrep_sizes",
    "bias_basis",
)


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class BasisArtifact:
    """A compiled basis, in the compact (factored) form of :mod:`e2compile.kernels.compact`.

    Attributes:
        spec: the :class:`~e2compile.specs.BasisSpec` it was compiled from.
        blocks: float64 ``(dim, 2, 2, k*k)``: each element sampled between its two irreps (top-left
            ``d_out x d_in`` corner; grid points row-major from the top-left).
        q_out: float64 ``(O, O)``, the output change of basis; q_in_inv: float64 ``(I, I)``, the
            inverse of the input change of basis.
        out_irrep_sizes, in_irrep_sizes: int64 sizes of the irreps of the two representations.
        attributes: dict of 1-D columns of length ``dim``: ``radius`` (grid units), ``sigma``,
            ``frequency``, ``gamma``, ``s`` (-1 where not applicable), ``offset`` (0 for
            continuous groups), ``in_irrep``/``out_irrep`` (irrep names),
            ``in_irrep_position``/``out_irrep_position`` (index of the irrep in its
            representation) and ``inner_index`` (index in the irreps-pair basis).
        bias_basis: float64 ``(O, n_trivial)``: the bias of the output field is
            ``bias_basis @ b`` for one parameter per trivial irrep of the output.

    Element ``n`` of the dense basis is ``q_out[:, o_n] @ blocks[n] @ q_in_inv[i_n, :]``
    (:meth:`dense_basis`, or :attr:`basis` for all of them).
    """

    spec: BasisSpec
    blocks: np.ndarray
    q_out: np.ndarray
    q_in_inv: np.ndarray
    out_irrep_sizes: np.ndarray
    in_irrep_sizes: np.ndarray
    attributes: dict[str, np.ndarray]
    bias_basis: np.ndarray

    def __post_init__(self) -> None:
        blocks = np.asarray(self.blocks)
        k2 = self.spec.kernel_size**2
        if blocks.dtype != np.float64 or blocks.shape[1:] != (BLOCK, BLOCK, k2):
            raise ValueError(
                f"blocks must be a float64 (dim, {BLOCK}, {BLOCK}, {k2}) array, got "
                f"{blocks.dtype} {blocks.shape}"
            )
        o, i = self.spec.out_repr.size, self.spec.in_repr.size
        q_out = np.asarray(self.q_out, dtype=np.float64)
        q_in_inv = np.asarray(self.q_in_inv, dtype=np.float64)
        if q_out.shape != (o, o) or q_in_inv.shape != (i, i):
            raise ValueError(
                f"q_out and q_in_inv must have shapes {(o, o)} and {(i, i)}, got "
                f"{q_out.shape} and {q_in_inv.shape}"
            )
        sizes = {}
        for name, total, irreps in (
            ("out_irrep_sizes", o, self.spec.out_repr.irreps),
            ("in_irrep_sizes", i, self.spec.in_repr.irreps),
        ):
            column = np.asarray(getattr(self, name), dtype=np.int64).reshape(-1)
            if (
                column.size != len(irreps)
                or column.sum() != total
                or not np.isin(column, (1, 2)).all()
            ):
                raise ValueError(
                    f"{name} must hold one size (1 or 2) per irrep, summing to {total}"
                )
            sizes[name] = _readonly(column)
        missing = [c for c in ATTRIBUTE_COLUMNS if c not in self.attributes]
        if missing:
            raise ValueError(f"attributes lack the columns {missing}")
        columns = {}
        for name in ATTRIBUTE_COLUMNS:
            column = _as_column(self.attributes[name], name)
            if column.shape != (blocks.shape[0],):
                raise ValueError(f"attribute column {name!r} has shape {column.shape}")
            columns[name] = _readonly(column)
        for name, which in (
            ("out_irrep_position", "out_irrep_sizes"),
            ("in_irrep_position", "in_irrep_sizes"),
        ):
            if columns[name].size and not (
                0 <= columns[name].min() and columns[name].max() < sizes[which].size
            ):
                raise ValueError(f"attribute column {name!r} points outside the representation")
        bias = np.asarray(self.bias_basis, dtype=np.float64)
        if bias.ndim != 2 or bias.shape[0] != o:
            raise ValueError(f"bias_basis must have shape (O, n_trivial), got {bias.shape}")
        object.__setattr__(self, "blocks", _readonly(blocks))
        object.__setattr__(self, "q_out", _readonly(q_out))
        object.__setattr__(self, "q_in_inv", _readonly(q_in_inv))
        for name, column in sizes.items():
            object.__setattr__(self, name, column)
        object.__setattr__(self, "attributes", columns)
        object.__setattr__(self, "bias_basis", _readonly(bias))

    @property
    def dim(self) -> int:
        return int(self.blocks.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """``(O, I)``: sizes of the output and input representations."""
        return int(self.q_out.shape[0]), int(self.q_in_inv.shape[0])

    @property
    def points(self) -> int:
        """Number of sampled points (``k*k``)."""
        return int(self.blocks.shape[3])

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays the artifact holds (what the store keeps, before compression)."""
        arrays = (self.blocks, self.q_out, self.q_in_inv, self.bias_basis)
        return sum(a.nbytes for a in arrays) + sum(c.nbytes for c in self.attributes.values())

    def padded_changes_of_basis(self) -> tuple[np.ndarray, np.ndarray]:
        """``(Q_out_pad, Q_in_pad)``: see :func:`.kernels.compact.padded_changes_of_basis`."""
        return padded_changes_of_basis(
            self.q_out, self.out_irrep_sizes, self.q_in_inv, self.in_irrep_sizes
        )

    def dense_basis(self, elements: np.ndarray | None = None) -> np.ndarray:
        """The dense sampled basis ``(dim, O, I, k*k)`` float64 (or the rows ``elements``).

        The one function tools call to see the filters; it allocates ``dim * O * I * k*k``
        numbers, which the compact form exists to avoid: layers never call it.
        """
        return expand_dense(self, elements)

    @property
    def basis(self) -> np.ndarray:
        """The whole dense basis, expanded on every access (see :meth:`dense_basis`)."""
        return self.dense_basis()

    def element_attributes(self) -> Iterator[dict[str, Any]]:
        """One dict per element: the columns plus the reference library's aliases.

        ``s`` is omitted where it does not apply; ``idx`` is the element's index in the artifact.
        """
        cols = {name: self.attributes[name].tolist() for name in ATTRIBUTE_COLUMNS}
        for idx in range(self.dim):
            attr = {name: cols[name][idx] for name in ATTRIBUTE_COLUMNS}
            if attr["s"] < 0:
                del attr["s"]
            attr["in_irrep_idx"] = attr["in_irrep_position"]
            attr["out_irrep_idx"] = attr["out_irrep_position"]
            attr["inner_idx"] = attr["inner_index"]
            attr["idx"] = idx
            yield attr

    def to_record(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """``(arrays, meta)`` for the store; ``meta["spec"]`` is the canonical spec JSON."""
        spec_json = self.spec.canonical_json()  # raises for unkeyable specs
        arrays = {name: getattr(self, name) for name in _ARRAY_FIELDS}
        for name in ATTRIBUTE_COLUMNS:
            arrays[_ARRAY_PREFIX + name] = self.attributes[name]
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
        """Inverse of :meth:`to_record`; a record of another format (e.g. the dense artifacts of
        algorithm version 1) raises ``ValueError`` saying to recompile."""
        if "spec" not in meta:
            raise ValueError("record metadata lacks the spec")
        if meta.get("format") != _RECORD_FORMAT:
            raise ValueError(
                f"record format {meta.get('format')!r} (algorithm version "
                f"{meta.get('algorithm_version')}) is not the compact format {_RECORD_FORMAT!r} "
                "this compiler reads: recompile the spec (its key changed with the algorithm "
                "version, so `e2c compile` makes a new artifact)"
            )
        spec = BasisSpec.from_json(meta["spec"])
        attributes = {}
        for name in ATTRIBUTE_COLUMNS:
            try:
                attributes[name] = arrays[_ARRAY_PREFIX + name]
            except KeyError:
                raise ValueError(f"record lacks the attribute column {name!r}") from None
        missing = [name for name in _ARRAY_FIELDS if name not in arrays]
        if missing:
            raise ValueError(f"record lacks the arrays {missing}")
        return cls(
            spec=spec,
            attributes=attributes,
            **{name: np.asarray(arrays[name]) for name in _ARRAY_FIELDS},
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BasisArtifact):
            return NotImplemented
        return (
            self.spec == other.spec
            and all(np.array_equal(getattr(self, n), getattr(other, n)) for n in _ARRAY_FIELDS)
            and all(
                np.array_equal(self.attributes[c], other.attributes[c]) for c in ATTRIBUTE_COLUMNS
            )
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        o, i = self.shape
        key = self.spec.key[:12] if self.spec.keyable else "unkeyable"
        return (
            f"BasisArtifact({self.spec.family}, {o}x{i}, k={self.spec.kernel_size}, "
            f"dim={self.dim}, key={key})"
        )


def _as_column(values: Any, name: str) -> np.ndarray:
    column = np.asarray(values)
    kind = _COLUMN_KINDS[name]
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
_SOLUTIONS = {
    ("rot2d", False): CyclicIrrepsBasis,
    ("rot2d", True): SO2IrrepsBasis,
    ("fliprot2d", False): DihedralIrrepsBasis,
    ("fliprot2d", True): O2IrrepsBasis,
    ("flip2d", False): FlipIrrepsBasis,
    ("trivial", False): TrivialIrrepsBasis,
}

_KIND_COMPILERS: dict[str, Callable[[BasisSpec], BasisArtifact]] = {}


def register_basis_kind(kind: str, compiler: Callable[[BasisSpec], BasisArtifact]) -> None:
    """Let another module (e.g. the PDO compiler) handle specs of ``kind``."""
    _KIND_COMPILERS[kind] = compiler


def compile(spec: BasisSpec) -> BasisArtifact:  # noqa: A001 - the product's name for it
    """Compile ``spec`` into a :class:`BasisArtifact` (pure and deterministic).

    A pair of representations that admits no kernel under the spec's sampling compiles to an
    artifact with ``dim == 0``: a valid result (that block of the filter is zero) which the store
    keeps like any other, so that later processes and offline mode never need the compiler for
    it. The basis objects of :mod:`e2compile.kernels` raise ``EmptyBasisException`` instead.
    """
    if not isinstance(spec, BasisSpec):
        raise TypeError(f"compile expects a BasisSpec, got {type(spec).__name__}")
    if spec.kind == "kernel":
        return _compile_kernel(spec)
    if spec.kind not in _KIND_COMPILERS:
        try:  # the diffops package registers its compiler on import
            importlib.import_module("e2compile.diffops")
        except ImportError:
            pass
    if spec.kind not in _KIND_COMPILERS:
        raise ValueError(f"no compiler is registered for bases of kind {spec.kind!r}")
    return _KIND_COMPILERS[spec.kind](spec)


def _angular_basis(spec: BasisSpec, group, in_repr, out_repr, max_frequency: int):
    solution = _SOLUTIONS[(spec.family, spec.continuous)]
    kwargs: dict[str, Any] = {}
    if spec.axis is not None:
        kwargs["axis"] = spec.axis
    if not spec.continuous:
        kwargs["max_frequency"] = max_frequency
        kwargs["max_offset"] = spec.maximum_offset
    return SteerableKernelBasis(
        solution,
        in_repr,
        out_repr,
        in_change_of_basis=spec.in_repr.matrix(),
        out_change_of_basis=spec.out_repr.matrix(),
        **kwargs,
    )


def _compile_kernel(spec: BasisSpec) -> BasisArtifact:
    check_spec_budget(spec)
    group, in_repr, out_repr = spec.build_representations()
    try:
        return _sample_kernel(spec, group, in_repr, out_repr)
    except EmptyBasisException:
        return _empty_artifact(spec, group, in_repr, out_repr)


def _changes_of_basis(spec: BasisSpec, group: Any, in_repr: Any, out_repr: Any) -> dict:
    """The factored form's fixed arrays: both changes of basis and the irreps' sizes."""
    return {
        "q_out": spec.out_repr.matrix(),
        "q_in_inv": np.linalg.inv(spec.in_repr.matrix()),
        "out_irrep_sizes": [group.irreps[n].size for n in out_repr.irreps],
        "in_irrep_sizes": [group.irreps[n].size for n in in_repr.irreps],
    }


def _empty_artifact(spec: BasisSpec, group: Any, in_repr: Any, out_repr: Any) -> BasisArtifact:
    """The artifact of a pair that admits no kernel: ``dim == 0``, bias data still present."""
    return BasisArtifact(
        spec=spec,
        blocks=np.zeros((0, BLOCK, BLOCK, spec.kernel_size**2)),
        attributes={c: np.empty(0, dtype=kind) for c, kind in _COLUMN_KINDS.items()},
        bias_basis=_bias_basis(spec, group, out_repr),
        **_changes_of_basis(spec, group, in_repr, out_repr),
    )


def _sample_kernel(spec: BasisSpec, group: Any, in_repr: Any, out_repr: Any) -> BasisArtifact:
    rings = np.asarray(spec.rings, dtype=np.float64)
    cutoff = spec.cutoff_function()
    limits = np.array([float(cutoff(float(r))) for r in spec.rings])
    if not np.all(np.isfinite(limits)):
        raise ValueError(f"the frequency cutoff returned non-finite values {limits.tolist()}")
    max_frequency = int(limits.max())
    if max_frequency < 0:
        raise EmptyBasisException("the frequency cutoff allows no frequency on any ring")

    angular = _angular_basis(spec, group, in_repr, out_repr, max_frequency)
    radial = GaussianRadialProfile(rings * spec.dilation, spec.sigma)
    basis = PolarBasis(radial, angular)
    columns = basis.attribute_columns()

    ring = columns["idx1"]
    frequency = columns["frequency"]
    keep = np.abs(frequency) <= limits[ring]
    if not keep.any():
        raise EmptyBasisException("no basis element passes the band-limiting filter")
    check_budget(
        int(keep.sum()) * BLOCK * BLOCK * spec.kernel_size**2 * 8, "the sampled basis blocks"
    )

    # sampled in the irreps basis: (n, 2, 2, P); the dense (n, O, I, P) array is never formed
    points = grid_points(spec.kernel_size, spec.dilation)
    sampled = basis.sample_blocks(points, keep)
    fixed = _changes_of_basis(spec, group, in_repr, out_repr)
    qo_pad, qi_pad = padded_changes_of_basis(
        fixed["q_out"], fixed["out_irrep_sizes"], fixed["q_in_inv"], fixed["in_irrep_sizes"]
    )
    out_position = columns["out_irrep_position"][keep]
    in_position = columns["in_irrep_position"][keep]

    out_sizes = np.array([shape[0] for shape in columns["shape"][keep]], dtype=np.float64)
    squared = block_norms(sampled, out_position, in_position, qo_pad, qi_pad)
    variance = squared / out_sizes
    variance[variance < _ZERO_VARIANCE] = 0.0
    scale = np.sqrt(variance)
    scale[scale < _ZERO_NORM] = 1.0
    sampled /= scale[:, None, None, None]
    survive = squared / scale**2 > _DROP_THRESHOLD
    if not survive.any():
        raise EmptyBasisException("every basis element vanishes on the sampling grid")

    selected = np.flatnonzero(keep)[survive]
    attributes = {
        "radius": rings[ring[selected]],
        "sigma": np.asarray(spec.sigma, dtype=np.float64)[ring[selected]],
        "frequency": frequency[selected],
        "gamma": columns["gamma"][selected],
        "s": np.array([-1 if v is None else v for v in columns["s"][selected]], dtype=np.int64),
        "offset": np.array(
            [0 if v is None else v for v in columns["offset"][selected]], dtype=np.int64
        ),
        "in_irrep": columns["in_irrep"][selected],
        "out_irrep": columns["out_irrep"][selected],
        "in_irrep_position": columns["in_irrep_position"][selected],
        "out_irrep_position": columns["out_irrep_position"][selected],
        "inner_index": columns["inner_index"][selected],
    }
    return BasisArtifact(
        spec=spec,
        blocks=sampled[survive] if not survive.all() else sampled,
        attributes=attributes,
        bias_basis=_bias_basis(spec, group, out_repr),
        **fixed,
    )


def _bias_basis(spec: BasisSpec, group: Any, out_repr: Any) -> np.ndarray:
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
