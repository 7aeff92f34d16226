"""The grid kind: a grid of group elements and the Fourier matrices of band-limited fields on it.

A field of a spectral regular (or quotient) representation (:mod:`e2compile.group.spectral`) is
a band-limited function on the group (on ``G/H``). escnn 1.0.11's Fourier non-linearities sample
it on a grid of group elements, apply a function pointwise, and project back. This kind compiles
what those modules need ahead of time, with escnn's numerics (float64):

* ``A`` ``(|grid|, I)``: row ``g`` is ``ρ(g) v``, ``v`` the delta at the identity
  (:func:`~e2compile.group.spectral.delta_vector`, divided by its norm when ``normalize``);
* ``Ainv`` ``(O, |grid|)``: the ridge pseudo-inverse ``(A_outᵀ A_out + 1e-8 I)⁻¹ A_outᵀ`` of the
  same matrix built on the output irreps followed by the input irreps they lack, first ``O`` rows.

A spec of this kind holds the representations as usual (``in_repr``/``out_repr``: the spectral
representations, change of basis the identity), ``kernel_size = dilation = 1`` (no spatial
grid), and as options the grid elements themselves (so a random grid keys by its draws), the
quotient's ``subgroup_id`` (``None``: the regular representation) and ``normalize``. Its artifact
is a :class:`GridArtifact` (the elements, ``A`` and ``Ainv``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from .artifact import record_meta, record_spec
from .group.spectral import copies, spectral_representation
from .kinds import BasisKind, KindOptions
from .specs import BasisSpec, gspace_fields

__all__ = ["KIND", "GridOptions", "GridArtifact", "grid_spec", "RIDGE"]

#: The ridge added to ``A_outᵀ A_out`` before inverting it (escnn's value).
RIDGE = 1e-8

_FORMAT = "e2compile.grid/1"


@dataclass(frozen=True)
class GridOptions(KindOptions):
    """Options of a grid spec.

    Attributes:
        grid: the group elements, in order, as JSON values (C_N: ``k``; D_N: ``(f, k)``;
            SO(2): ``θ``; O(2): ``(f, θ)``).
        subgroup_id: the subgroup ``H`` of a quotient ``G/H`` (an id of the group), or ``None``
            for the regular representation.
        normalize: whether the delta vector is divided by its norm.
    """

    grid: tuple = ()
    subgroup_id: Any = None
    normalize: bool = True


def _json_element(element: Any) -> Any:
    if isinstance(element, tuple):
        return tuple(_json_element(e) for e in element)
    if isinstance(element, float):
        return element + 0.0
    return element


def _json_subgroup_id(key: Any) -> Any:
    if isinstance(key, tuple):
        return tuple(None if v is None else _json_element(v) for v in key)
    return key


def _validate(spec: BasisSpec) -> GridOptions:
    options: GridOptions = spec.options
    if spec.kernel_size != 1 or spec.dilation != 1:
        raise ValueError("a grid spec samples no plane: kernel_size and dilation must be 1")
    if not isinstance(options.normalize, bool):
        raise TypeError(f"normalize must be a bool, got {options.normalize!r}")
    group = spec.build_group()
    grid = options.grid
    if not isinstance(grid, tuple) or not grid:
        raise ValueError("grid must be a non-empty list of group elements")
    elements = tuple(_json_element(group._check(g, f"grid[{i}]")) for i, g in enumerate(grid))
    subgroup_id = options.subgroup_id
    if subgroup_id is not None:
        subgroup_id = _json_subgroup_id(group._canonical_subgroup_id(subgroup_id))
    for name in ("in_repr", "out_repr"):
        content = getattr(spec, name)
        if not np.array_equal(content.matrix(), np.eye(content.size)):
            raise ValueError(f"{name}: a grid spec's representations have no change of basis")
        expected = _spectral(group, subgroup_id, _listed(content.irreps))
        got = tuple(tuple(group.irreps[n].id) for n in expected.irreps)
        if got != content.irreps:
            raise ValueError(
                f"{name}: irreps {list(content.irreps)} are not a spectral "
                f"{'regular' if subgroup_id is None else 'quotient'} representation of "
                f"{group.name} (expected {list(got)})"
            )
    return GridOptions(grid=elements, subgroup_id=subgroup_id, normalize=options.normalize)


def _listed(irreps: tuple[tuple[int, ...], ...]) -> list[tuple[int, ...]]:
    """The distinct irreps of a spectral representation, in order (each listed irrep's copies
    are consecutive)."""
    return list(dict.fromkeys(irreps))


def _spectral(group: Any, subgroup_id: Any, ids: list[tuple]) -> Any:
    regular = subgroup_id is None
    sub = group.subgroup_trivial_id if regular else subgroup_id
    return spectral_representation(group, sub, ids, None, regular)


def grid_spec(
    gspace: Any,
    irreps: Any,
    grid: Any,
    out_irreps: Any = None,
    subgroup_id: Any = None,
    normalize: bool = True,
) -> BasisSpec:
    """The spec of the Fourier matrices of a gspace's band-limited fields on ``grid``.

    ``irreps``/``out_irreps``: irrep ids of the input and output spectral representations
    (``out_irreps=None``: the input's); ``grid``: group elements; ``subgroup_id``: ``None`` for
    the regular representation, else the subgroup of the quotient.
    """
    group = gspace.fibergroup
    regular = subgroup_id is None
    sub = group.subgroup_trivial_id if regular else subgroup_id
    rho = spectral_representation(group, sub, irreps, None, regular)
    rho_out = (
        rho
        if out_irreps is None
        else spectral_representation(group, sub, out_irreps, None, regular)
    )
    if isinstance(grid, (str, bytes)) or not hasattr(grid, "__iter__"):
        raise TypeError(f"grid must be a list of group elements, got {type(grid).__name__}")
    elements = tuple(_json_element(group._check(g, f"grid[{i}]")) for i, g in enumerate(grid))
    if subgroup_id is not None:
        subgroup_id = _json_subgroup_id(group._canonical_subgroup_id(subgroup_id))
    return BasisSpec(
        **gspace_fields(gspace, rho, rho_out),
        kind="grid",
        kernel_size=1,
        dilation=1,
        options=GridOptions(grid=elements, subgroup_id=subgroup_id, normalize=bool(normalize)),
    )


# ------------------------------------------------------------------------------------ compile


def _sampling_matrix(
    group: Any, subgroup_id: Any, ids: list[tuple], grid: tuple, normalize: bool
) -> np.ndarray:
    """``A`` ``(|grid|, size)``: row ``g`` is ``ρ(g) v`` (``ρ`` the spectral representation of
    ``ids``, ``v`` its delta vector)."""
    regular = subgroup_id is None
    sub = group.subgroup_trivial_id if regular else subgroup_id
    blocks = []  # (irrep, copies (m, d))
    for ident in ids:
        vectors = copies(group, sub, ident, regular)
        if len(vectors):
            blocks.append((group.irrep(*ident), vectors))
    vector = np.concatenate([v.reshape(-1) for _, v in blocks])
    if normalize:
        vector = vector / np.linalg.norm(vector)
    columns = []  # per copy: its slice of the delta vector, acted on by its irrep
    start = 0
    for irr, v in blocks:
        for _ in range(len(v)):
            columns.append((irr, vector[start : start + irr.size]))
            start += irr.size
    return np.stack([np.concatenate([irr(g) @ x for irr, x in columns]) for g in grid])


def _compile(spec: BasisSpec) -> GridArtifact:
    group = spec.build_group()
    options: GridOptions = spec.options
    grid = tuple(group._check(g) for g in options.grid)
    sub = options.subgroup_id
    in_ids = _listed(spec.in_repr.irreps)
    out_ids = _listed(spec.out_repr.irreps)
    a = _sampling_matrix(group, sub, in_ids, grid, options.normalize)
    if out_ids == in_ids:
        a_out = a
    else:
        extended = out_ids + [i for i in in_ids if i not in out_ids]
        a_out = _sampling_matrix(group, sub, extended, grid, options.normalize)
    size = a_out.shape[1]
    a_inv = np.linalg.inv(a_out.T @ a_out + RIDGE * np.eye(size)) @ a_out.T
    a_inv = a_inv[: spec.out_repr.size]
    points = np.array([np.atleast_1d(np.asarray(g, dtype=np.float64)) for g in grid])
    return GridArtifact(spec, points, a, a_inv)


def _estimate(spec: BasisSpec) -> tuple[str, dict[str, int]]:
    n = len(spec.options.grid) if isinstance(spec.options.grid, tuple) else 0
    sizes = spec.in_repr.size + 2 * (spec.out_repr.size + spec.in_repr.size)
    return "the Fourier matrices of a grid", {"matrices": 8 * n * sizes, "grid": 16 * n}


def _describe(spec: BasisSpec) -> dict[str, Any]:
    options: GridOptions = spec.options
    out = {"grid": f"{len(options.grid)} elements", "normalize": options.normalize}
    out["representation"] = "regular" if options.subgroup_id is None else "quotient"
    if options.subgroup_id is not None:
        out["subgroup_id"] = options.subgroup_id
    return out


# ----------------------------------------------------------------------------------- artifact


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array, dtype=np.float64)
    array.setflags(write=False)
    return array


class GridArtifact:
    """A compiled grid spec: ``grid`` ``(|grid|, 1 or 2)`` (the elements' numbers), ``A``
    ``(|grid|, I)`` and ``Ainv`` ``(O, |grid|)``, all float64 and read-only."""

    def __init__(self, spec: BasisSpec, grid: np.ndarray, A: np.ndarray, Ainv: np.ndarray):
        put = functools.partial(object.__setattr__, self)
        n = len(spec.options.grid)
        grid, A, Ainv = _readonly(grid), _readonly(A), _readonly(Ainv)
        if grid.ndim != 2 or grid.shape[0] != n:
            raise ValueError(f"grid must have {n} rows, got shape {grid.shape}")
        if A.shape != (n, spec.in_repr.size) or Ainv.shape != (spec.out_repr.size, n):
            raise ValueError(
                f"A and Ainv must have shapes {(n, spec.in_repr.size)} and "
                f"{(spec.out_repr.size, n)}, got {A.shape} and {Ainv.shape}"
            )
        put("spec", spec)
        put("grid", grid)
        put("A", A)
        put("Ainv", Ainv)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("GridArtifact is immutable")

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def dim(self) -> int:
        """The number of grid elements."""
        return int(self.A.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.grid.nbytes + self.A.nbytes + self.Ainv.nbytes)

    def to_record(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """``(arrays, meta)`` for the store; ``meta["spec"]`` is the canonical spec JSON."""
        arrays = {"grid": self.grid, "A": self.A, "Ainv": self.Ainv}
        return arrays, record_meta(self.spec, _FORMAT, self.dim)

    @classmethod
    def from_record(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> GridArtifact:
        """Inverse of :meth:`to_record` (see :func:`e2compile.artifact.record_spec`)."""
        spec = record_spec(meta)
        missing = [n for n in ("grid", "A", "Ainv") if n not in arrays]
        if missing:
            raise ValueError(f"record lacks the arrays {missing}")
        return cls(spec, arrays["grid"], arrays["A"], arrays["Ainv"])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GridArtifact):
            return NotImplemented
        return self.spec == other.spec and all(
            np.array_equal(getattr(self, n), getattr(other, n)) for n in ("grid", "A", "Ainv")
        )

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self):
        return (GridArtifact, (self.spec, self.grid, self.A, self.Ainv))

    def __repr__(self) -> str:
        return (
            f"GridArtifact({self.spec.family}, |grid|={self.dim}, "
            f"{self.spec.in_repr.size}->{self.spec.out_repr.size}, key={self.spec.key[:12]})"
        )


KIND = BasisKind(
    name="grid",
    columns={},
    compile=_compile,
    options=GridOptions,
    validate=_validate,
    estimate=_estimate,
    describe=_describe,
    artifact=GridArtifact,
)
