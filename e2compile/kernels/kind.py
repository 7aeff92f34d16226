"""The kernel basis kind: Gaussian rings times the angular solution of the kernel constraint.

``KIND`` registers it in :mod:`e2compile.kinds`: spec validation (rings, widths, frequency
cutoff), the compile function (moved here unchanged from :mod:`e2compile.compiler`), the artifact
columns and the layer-description fields. Pipeline (docs/conventions.md):

1. the analytic basis of the spec's family, Gaussian rings at ``rings * dilation`` pixels;
2. band-limiting: an element of frequency ``mu`` on a ring of radius ``r`` (grid units) is kept when
   ``|mu| <= f(r)``, ``f`` being the spec's frequency cutoff; for finite groups the aliased
   frequencies are bounded by ``max_r f(r)`` (and by ``maximum_offset``);
3. sampling on the ``k x k`` grid between the two irreps of each element (the compact form of
   :mod:`e2compile.kernels.compact`; the changes of basis are stored, not applied);
4. normalisation: each element is divided by ``sqrt(sum_p ||K(p)||_F^2 / d_out)`` (``K`` the
   element through both changes of basis, its norm from 2x2 Gram matrices), ``d_out`` the size of
   its output irrep; elements that are (numerically) zero on the grid are not rescaled
   and the drop rule removes them: an element survives when its squared norm is then above 1e-2.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..budget import check_spec_budget
from ..compiler import IRREP_COLUMNS, BasisArtifact, compact_artifact, sample_or_empty
from ..families import family
from ..kinds import BasisKind
from ..specs import BasisSpec, _float
from .basis import EmptyBasisException, GaussianRadialProfile, PolarBasis
from .sampling import CUTOFF_POLICIES
from .steerable_basis import SteerableKernelBasis

__all__ = ["KIND", "COLUMNS", "compile_kernel", "validate_kernel_spec"]

#: Attribute columns of a kernel artifact, in order, with their numpy kinds.
COLUMNS = {
    "radius": "f",
    "sigma": "f",
    "frequency": "i",
    **IRREP_COLUMNS,
}

# how far outside the grid's corner radius a ring may lie (round-off)
_GRID_TOLERANCE = 1e-9


def validate_kernel_spec(spec: BasisSpec, put: Callable[[str, Any], None]) -> None:
    """Check and normalise the kernel fields of ``spec`` (rings, sigma, frequency cutoff)."""
    if spec.options:
        raise ValueError(f"a kernel spec takes no options, got {dict(spec.options)}")
    rings = tuple(_float(r, "rings") for r in spec.rings)
    sigma = tuple(_float(s, "sigma") for s in spec.sigma)
    if not rings:
        raise ValueError("rings: a kernel basis needs at least one ring")
    limit = math.sqrt(2) * (spec.kernel_size - 1) / 2 + _GRID_TOLERANCE
    bad = [r for r in rings if r < 0 or r > limit]
    if bad:
        raise ValueError(
            f"rings must lie between 0 and the grid's corner radius {limit:.4g} "
            f"(grid units), got {bad}"
        )
    if len(sigma) != len(rings):
        raise ValueError(f"sigma needs one width per ring: got {len(sigma)} for {len(rings)} rings")
    if any(s <= 0 for s in sigma):
        raise ValueError(f"sigma must be positive, got {sigma}")
    put("rings", rings)
    put("sigma", sigma)
    cutoff = spec.frequencies_cutoff
    if cutoff is None:
        if spec.cutoff_callable is None or not callable(spec.cutoff_callable):
            raise ValueError("frequencies_cutoff=None requires a callable cutoff_callable")
    else:
        if spec.cutoff_callable is not None:
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


def _angular_basis(spec: BasisSpec, group, in_repr, out_repr, max_frequency: int):
    solution = family(spec.family).irreps_basis(spec.continuous)
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
    return sample_or_empty(spec, _sample_kernel)


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

    def own_columns(selected: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "radius": rings[ring[selected]],
            "sigma": np.asarray(spec.sigma, dtype=np.float64)[ring[selected]],
            "frequency": frequency[selected],
        }

    # sampled in the irreps basis, (n, 2, 2, P): the dense (n, O, I, P) array is never formed
    return compact_artifact(
        spec,
        group,
        in_repr,
        out_repr,
        columns,
        keep,
        lambda points: basis.sample_blocks(points, keep),
        own_columns,
    )


def compile_kernel(spec: BasisSpec) -> BasisArtifact:
    """Compile a kernel spec (see the module docstring)."""
    return _compile_kernel(spec)


def _describe(spec: BasisSpec) -> dict[str, Any]:
    return {
        "rings": list(spec.rings),
        "sigma": list(spec.sigma),
        "frequencies_cutoff": spec.frequencies_cutoff,
    }


def _spec_from_layer(desc: Any, gspace: Any, in_repr: Any, out_repr: Any) -> BasisSpec:
    from ..layers import kernel_spec_from_layer

    return kernel_spec_from_layer(desc, gspace, in_repr, out_repr)


KIND = BasisKind(
    name="kernel",
    columns=COLUMNS,
    validate=validate_kernel_spec,
    compile=compile_kernel,
    layer_fields={
        "rings": "list of ring radii in grid units (default: from kernel_size)",
        "sigma": "Gaussian width: a float or a list, one per ring",
        "frequencies_cutoff": "policy name (e.g. 'fco1') or a float",
    },
    spec_from_layer=_spec_from_layer,
    describe=_describe,
)
