"""``compile(spec)``: turn a :class:`BasisSpec` into a sampled :class:`BasisArtifact`.

``compile`` is a pure function of the spec: the same spec gives bitwise-identical arrays. It
checks the spec's estimated size (:func:`e2compile.budget.check_spec_budget`), then hands it to
its kind (:mod:`e2compile.kinds`): kernels in :mod:`e2compile.kernels.kind`, PDOs in
:mod:`e2compile.diffops.kind`. The value type is :mod:`e2compile.artifact` (re-exported here), the
shared assembly of compact artifacts :mod:`e2compile.assembly`. :func:`basis_filter_mask` applies a
user's filter to an artifact's elements.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .artifact import COMPILER_VERSION, BasisArtifact
from .budget import check_spec_budget
from .kinds import get_kind
from .specs import BasisSpec

__all__ = ["COMPILER_VERSION", "BasisArtifact", "compile", "basis_filter_mask"]


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
    check_spec_budget(spec)
    return get_kind(spec.kind).compile(spec)


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
