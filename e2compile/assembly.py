"""The one assembly of compact artifacts, shared by the kinds whose elements each live between
two irreps (kernels, PDOs; docs/compact_bases.md).

A kind samples its elements block by block; :func:`compact_artifact` checks the size, scales each
element to unit norm through both changes of basis, drops the vanishing ones and builds the
:class:`~e2compile.artifact.BasisArtifact` with the columns every such kind derives from the
irreps pair of an element (:data:`IRREP_COLUMNS`) and the bias expansion (:func:`bias_basis`).
:func:`sample_or_empty` turns a pair that admits no element into a valid empty artifact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .artifact import BasisArtifact
from .budget import check_budget
from .kernels.basis import EmptyBasisException
from .kernels.compact import BLOCK, block_norms, padded_changes_of_basis
from .kernels.sampling import grid_points
from .kinds import get_kind
from .specs import BasisSpec

__all__ = [
    "IRREP_COLUMNS",
    "bias_basis",
    "compact_artifact",
    "element_scales",
    "empty_artifact",
    "irrep_attributes",
    "sample_or_empty",
]


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
