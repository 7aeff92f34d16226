"""``BasisArtifact``: a compiled basis, the value the compiler produces and the store keeps.

An artifact holds the basis in compact form (per element its block between two irreps, plus both
changes of basis; docs/compact_bases.md; every kind alike), one attribute column per property of
its elements (the columns of the spec's kind), and the expansion of the bias. The dense float64
form ``(dim, O, I, k*k)`` is kept for pairs that admit no element and read back from PDO
artifacts stored before PDOs became compact. ``to_record``/``from_record`` convert an artifact to
and from the store's generic ``(arrays, meta)`` record.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

import numpy as np

from . import __version__
from .kernels.compact import BLOCK, expand_dense, padded_changes_of_basis
from .kinds import DEFAULT_KIND, get_kind
from .specs import ALGORITHM_VERSION, BasisSpec

__all__ = ["COMPILER_VERSION", "BasisArtifact", "artifact_from_record"]

#: Version string recorded in every artifact's metadata.
COMPILER_VERSION = f"{__version__}+alg{ALGORITHM_VERSION}"

_ARRAY_PREFIX = "attr."
_DENSE_FORMAT = "e2compile.basis/1"
_COMPACT_FORMAT = "e2compile.basis/2"


def record_meta(spec: BasisSpec, format: str, dim: int) -> dict[str, Any]:
    """The metadata every artifact record carries (any kind): its format, canonical spec JSON,
    key, compiler and algorithm versions and dimension."""
    return {
        "format": format,
        "spec": spec.canonical_json(),
        "key": spec.key,
        "compiler_version": COMPILER_VERSION,
        "algorithm_version": spec.algorithm_version,
        "dim": dim,
    }


def record_spec(meta: dict[str, Any]) -> BasisSpec:
    """The spec of a record's metadata (a spec of another algorithm version is refused by
    :class:`BasisSpec`, which says to recompile)."""
    if "spec" not in meta:
        raise ValueError("record metadata lacks the spec")
    return BasisSpec.from_json(meta["spec"])


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
        arrays = self._arrays()
        for name, column in self.attributes.items():
            arrays[_ARRAY_PREFIX + name] = column
        fmt = _COMPACT_FORMAT if self.compact else _DENSE_FORMAT
        return arrays, record_meta(self.spec, fmt, self.dim)

    @classmethod
    def from_record(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> BasisArtifact:
        """Inverse of :meth:`to_record` (see :func:`record_spec`)."""
        spec = record_spec(meta)
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
        key = self.spec.key[:12]
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


def artifact_from_record(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Any:
    """The compiled value of a store record, of its spec's kind: the kind's own artifact class
    (:attr:`~e2compile.kinds.BasisKind.artifact`) or a :class:`BasisArtifact`."""
    if "spec" not in meta:
        raise ValueError("record metadata lacks the spec")
    try:
        kind_name = json.loads(meta["spec"]).get("kind", DEFAULT_KIND)
    except (ValueError, AttributeError):
        kind_name = DEFAULT_KIND  # BasisArtifact.from_record names what is wrong
    cls = get_kind(kind_name).artifact if isinstance(kind_name, str) else None
    return (cls or BasisArtifact).from_record(arrays, meta)
