"""The dense sampling pipelines of before the compact form: the oracles of compact artifacts.

They sample every element as a dense ``(O, I, P)`` array through the changes of basis, exactly as
the compiler did before artifacts became compact (kernels: algorithm version 1; PDOs: until they
became compact in version 2), and normalise and drop elements with the same rule. Tests compare
the compact artifacts and the layers' expanded filters against them.
"""

from __future__ import annotations

import numpy as np

from e2compile.assembly import _DROP_THRESHOLD, _ZERO_NORM, _ZERO_VARIANCE
from e2compile.diffops.kind import pdo_basis
from e2compile.kernels.basis import EmptyBasisException, GaussianRadialProfile, PolarBasis
from e2compile.kernels.kind import _angular_basis, spec_ring_cutoffs
from e2compile.kernels.sampling import grid_points


def dense_basis(spec) -> np.ndarray:
    """``(dim, O, I, k*k)`` float64: the basis of ``spec`` (either kind) as it was sampled
    densely."""
    if spec.kind == "pdo":
        return _dense_pdo_basis(spec)
    group, in_repr, out_repr = spec.build_representations()
    o, i = spec.out_repr.size, spec.in_repr.size
    empty = np.zeros((0, o, i, spec.kernel_size**2))
    rings = np.asarray(spec.options.rings, dtype=np.float64)
    limits = spec_ring_cutoffs(spec)
    max_frequency = int(limits.max())
    if max_frequency < 0:
        return empty
    try:
        angular = _angular_basis(spec, group, in_repr, out_repr, max_frequency)
    except EmptyBasisException:
        return empty
    basis = PolarBasis(GaussianRadialProfile(rings * spec.dilation, spec.options.sigma), angular)
    columns = basis.attribute_columns()
    keep = np.abs(columns["frequency"]) <= limits[columns["idx1"]]
    if not keep.any():
        return empty
    sampled = basis.sample_stacked(grid_points(spec.kernel_size, spec.dilation), keep)
    return _normalise(sampled, columns["shape"][keep])


def _dense_pdo_basis(spec) -> np.ndarray:
    """The PDO basis sampled through the changes of basis (``TensorBasis`` without
    ``irreps_blocks``: dense polynomial coefficients ``(O, I, n + 1)`` per element)."""
    _, in_repr, out_repr = spec.build_representations()
    o, i = spec.out_repr.size, spec.in_repr.size
    empty = np.zeros((0, o, i, spec.kernel_size**2))
    try:
        basis = pdo_basis(spec, in_repr, out_repr, irreps_blocks=False)
    except EmptyBasisException:
        return empty
    columns = basis.attribute_columns()
    keep = columns["order"] <= spec.options.maximum_order
    if not keep.any():
        return empty
    sampled = basis.sample_stacked(grid_points(spec.kernel_size, spec.dilation), keep)
    return _normalise(sampled, columns["shape"][keep])


def _normalise(sampled: np.ndarray, shapes: np.ndarray) -> np.ndarray:
    """Each element divided by ``sqrt(sum_p ||B(p)||_F^2 / d_out)``; vanishing ones dropped."""
    out_sizes = np.array([shape[0] for shape in shapes], dtype=np.float64)
    variance = np.einsum("boip,boip->b", sampled, sampled) / out_sizes
    variance[variance < _ZERO_VARIANCE] = 0.0
    scale = np.sqrt(variance)
    scale[scale < _ZERO_NORM] = 1.0
    sampled /= scale[:, None, None, None]
    survive = np.einsum("boip,boip->b", sampled, sampled) > _DROP_THRESHOLD
    return sampled[survive]
