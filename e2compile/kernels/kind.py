"""The kernel basis kind: Gaussian rings times the angular solution of the kernel constraint.

``KIND`` registers it in :mod:`e2compile.kinds`: its options (:class:`KernelOptions`: rings, widths,
frequency cutoff, aliasing bound) and their validation, the builder :func:`kernel_spec`, the
compile function and size estimate, the artifact columns and the layer-description fields.
Pipeline (docs/conventions.md):

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

The cutoff is evaluated only at the ring radii (:func:`~.sampling.ring_cutoffs`): a callable
cutoff is held as its values there (:func:`~.sampling.resolve_cutoff`), so it keys and stores
like any other spec.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..artifact import BasisArtifact
from ..assembly import IRREP_COLUMNS, compact_artifact, sample_or_empty
from ..budget import (
    BLOCK_FLOATS,
    basis_label,
    check_budget,
    check_kernel_size,
    compact_bytes,
    element_bound,
)
from ..families import family
from ..kinds import BasisKind, KindOptions
from ..layer_fields import LayerError, LayerSizes, read_field, read_floats
from ..specs import COB_DECIMALS, BasisSpec, _float, _int, check_maximum_offset, gspace_fields
from .basis import EmptyBasisException, GaussianRadialProfile, PolarBasis
from .sampling import (
    CUTOFF_POLICIES,
    default_rings,
    default_sigma,
    resolve_cutoff,
    ring_cutoffs,
)
from .steerable_basis import SteerableKernelBasis

__all__ = [
    "KIND",
    "COLUMNS",
    "KernelOptions",
    "compile_kernel",
    "kernel_spec",
    "kernel_spec_from_layer",
    "spec_ring_cutoffs",
    "validate_kernel_options",
]

#: Attribute columns of a kernel artifact, in order, with their numpy kinds.
COLUMNS = {
    "radius": "f",
    "sigma": "f",
    "frequency": "i",
    **IRREP_COLUMNS,
}

# how far outside the grid's corner radius a ring may lie (round-off)
_GRID_TOLERANCE = 1e-9


@dataclass(frozen=True)
class KernelOptions(KindOptions):
    """The options of a kernel spec (``spec.options``).

    Attributes:
        rings: ring radii in grid units (at least one, inside the grid's corner radius).
        sigma: Gaussian ring widths in pixels, one per ring.
        frequencies_cutoff: the largest frequency on each ring: a policy name (``"fco1"``...), a
            factor ``c`` (``f(r) = c r``), or one value per ring (a user's callable, evaluated on
            the rings and rounded to :data:`~e2compile.specs.COB_DECIMALS` decimals).
        maximum_offset: bound on ``|t|`` of aliased frequencies (finite groups), or ``None``.
    """

    rings: tuple[float, ...]
    sigma: tuple[float, ...]
    frequencies_cutoff: str | float | tuple[float, ...] = "fco1"
    maximum_offset: int | None = None


def _floats(values: Any, name: str) -> tuple[float, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence | np.ndarray):
        raise TypeError(f"{name} must be a sequence of numbers, got {values!r}")
    return tuple(_float(v, name) for v in values)


def _check_rings(rings: tuple[float, ...], kernel_size: int) -> None:
    if not rings:
        raise ValueError("rings: a kernel basis needs at least one ring")
    limit = math.sqrt(2) * (kernel_size - 1) / 2 + _GRID_TOLERANCE
    bad = [r for r in rings if r < 0 or r > limit]
    if bad:
        raise ValueError(
            f"rings must lie between 0 and the grid's corner radius {limit:.4g} "
            f"(grid units), got {bad}"
        )


def _check_cutoff(cutoff: Any, rings: tuple[float, ...]) -> str | float | tuple[float, ...]:
    if isinstance(cutoff, str):
        if cutoff not in CUTOFF_POLICIES:
            raise ValueError(
                f"frequencies_cutoff must be one of {CUTOFF_POLICIES}, a number or one value "
                f"per ring, got {cutoff!r}"
            )
        return cutoff
    if isinstance(cutoff, (tuple, list, np.ndarray)):
        values = _floats(cutoff, "frequencies_cutoff")
        if len(values) != len(rings):
            raise ValueError(
                f"frequencies_cutoff needs one value per ring: got {len(values)} for "
                f"{len(rings)} rings"
            )
        return tuple(float(np.round(v, COB_DECIMALS)) + 0.0 for v in values)
    value = _float(cutoff, "frequencies_cutoff")
    if value < 0:
        raise ValueError(f"frequencies_cutoff must be non-negative, got {value}")
    return value


def validate_kernel_options(spec: BasisSpec) -> KernelOptions:
    """Check and normalise the options of a kernel spec (rings, sigma, cutoff, offset)."""
    options = spec.options
    rings = _floats(options.rings, "rings")
    sigma = _floats(options.sigma, "sigma")
    _check_rings(rings, spec.kernel_size)
    if len(sigma) != len(rings):
        raise ValueError(f"sigma needs one width per ring: got {len(sigma)} for {len(rings)} rings")
    if any(s <= 0 for s in sigma):
        raise ValueError(f"sigma must be positive, got {sigma}")
    return KernelOptions(
        rings=rings,
        sigma=sigma,
        frequencies_cutoff=_check_cutoff(options.frequencies_cutoff, rings),
        maximum_offset=check_maximum_offset(spec, options.maximum_offset),
    )


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

    Defaults (docs/conventions.md): ``rings`` = ``ceil(k/2)`` radii ``0, 1, ...`` (grid units);
    ``sigma`` = 0.6 per ring, 0.4 for the last, 0.005 for a ring at the origin (a number applies to
    every ring); ``frequencies_cutoff`` = policy ``"fco1"`` (``-1``, ``-2``, ``-3`` name the
    policies ``fco1``, ``fco2``, ``fco3``; another number ``c`` means ``f(r) = c r``; a callable
    ``f(r)`` of the radius in grid units is evaluated on the rings once and held as those values,
    rounded to 12 decimals: two callables that agree there give the same spec);
    ``maximum_offset`` = no bound beyond the cutoff (finite groups only; dropped for continuous
    ones, where it cannot change the numbers).
    """
    header = gspace_fields(gspace, in_repr, out_repr)
    kernel_size = _int(kernel_size, "kernel_size", minimum=1)
    check_kernel_size(kernel_size)  # before the grid's default rings are built
    if rings is None:
        rings = default_rings(kernel_size)
    elif np.ndim(rings) != 1 or len(rings) == 0:
        raise ValueError(f"rings must be a non-empty sequence of radii, got {rings!r}")
    rings = tuple(_float(r, "rings") for r in rings)
    if sigma is None:
        sigma = default_sigma(rings)
    elif np.ndim(sigma) == 0:
        sigma = (sigma,) * len(rings)
    if callable(frequencies_cutoff):
        _check_rings(rings, kernel_size)  # the callable is evaluated on valid rings only
    return BasisSpec(
        **header,
        kind="kernel",
        kernel_size=kernel_size,
        dilation=dilation,
        options=KernelOptions(
            rings=rings,
            sigma=tuple(sigma),
            frequencies_cutoff=resolve_cutoff(frequencies_cutoff, rings, COB_DECIMALS),
            maximum_offset=None if header["N"] == -1 else maximum_offset,
        ),
    )


# ------------------------------------------------------------------------------------- compile


def _angular_basis(spec: BasisSpec, group, in_repr, out_repr, max_frequency: int):
    solution = family(spec.family).irreps_basis(spec.continuous)
    kwargs: dict[str, Any] = {}
    if spec.axis is not None:
        kwargs["axis"] = spec.axis
    if not spec.continuous:
        kwargs["max_frequency"] = max_frequency
        kwargs["max_offset"] = spec.options.maximum_offset
    return SteerableKernelBasis(
        solution,
        in_repr,
        out_repr,
        in_change_of_basis=spec.in_repr.matrix(),
        out_change_of_basis=spec.out_repr.matrix(),
        **kwargs,
    )


def spec_ring_cutoffs(spec: BasisSpec) -> np.ndarray:
    """The largest frequency allowed on each ring of a kernel spec."""
    options = spec.options
    return ring_cutoffs(options.frequencies_cutoff, spec.kernel_size, options.rings)


def _sample_kernel(spec: BasisSpec, group: Any, in_repr: Any, out_repr: Any) -> BasisArtifact:
    options = spec.options
    rings = np.asarray(options.rings, dtype=np.float64)
    limits = spec_ring_cutoffs(spec)
    if not np.all(np.isfinite(limits)):
        raise ValueError(f"the frequency cutoff returned non-finite values {limits.tolist()}")
    max_frequency = int(limits.max())
    if max_frequency < 0:
        raise EmptyBasisException("the frequency cutoff allows no frequency on any ring")

    angular = _angular_basis(spec, group, in_repr, out_repr, max_frequency)
    radial = GaussianRadialProfile(rings * spec.dilation, options.sigma)
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
            "sigma": np.asarray(options.sigma, dtype=np.float64)[ring[selected]],
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
    return sample_or_empty(spec, _sample_kernel)


def estimate_kernel(spec: BasisSpec) -> tuple[str, dict[str, int]]:
    """The estimated bytes of a kernel compile: ``"blocks"`` (the compact basis, an upper bound)
    and ``"changes of basis"``."""
    bound = element_bound(
        spec.family,
        spec.N,
        spec_ring_cutoffs(spec),
        spec.options.maximum_offset,
        len(spec.out_repr.irreps),
        len(spec.in_repr.irreps),
    )
    what = basis_label(
        "the compact basis", spec.family, spec.N, spec.out_repr.size, spec.in_repr.size,
        spec.kernel_size,
    )  # fmt: skip
    return what, compact_bytes(spec, bound)


# ------------------------------------------------------------------------------ layer descriptions


def _layer_cutoff(desc: Mapping[str, Any]) -> Any:
    """The ``frequencies_cutoff`` of a layer description (a number given as text is a number)."""
    cutoff = desc.get("frequencies_cutoff")
    if isinstance(cutoff, str) and "," in cutoff:
        return read_floats(desc, "frequencies_cutoff")  # one value per ring
    if isinstance(cutoff, str):
        try:
            cutoff = float(cutoff)
        except ValueError:
            pass  # a policy name
    return cutoff


def kernel_spec_from_layer(
    desc: Mapping[str, Any], gspace: Any, in_repr: Any, out_repr: Any
) -> BasisSpec:
    """The kernel spec of a layer description whose gspace and representations are resolved."""
    if desc.get("kernel_size") is None:
        raise LayerError("missing field(s) ['kernel_size']")
    return kernel_spec(
        gspace,
        in_repr,
        out_repr,
        read_field(desc, "kernel_size", int),
        dilation=read_field(desc, "dilation", int, default=1),
        rings=read_floats(desc, "rings"),
        sigma=read_floats(desc, "sigma"),
        frequencies_cutoff=_layer_cutoff(desc),
        maximum_offset=read_field(desc, "maximum_offset", int),
    )


def _layer_budget(desc: Mapping[str, Any], gspace: Any, sizes: LayerSizes) -> None:
    """Refuse a kernel layer whose compact basis would be too big, from the sizes and irreps
    counts of its fields alone (the bound of :func:`estimate_kernel`)."""
    kernel_size = read_field(desc, "kernel_size", int)
    rings = read_floats(desc, "rings")
    if rings is None:
        rings = default_rings(kernel_size)
    cutoffs = ring_cutoffs(
        resolve_cutoff(_layer_cutoff(desc), rings, COB_DECIMALS), kernel_size, rings
    )
    fam = family(gspace.family)
    N = fam.spec_N(gspace)
    bound = element_bound(
        fam.name, N, cutoffs, read_field(desc, "maximum_offset", int), sizes.out_irreps,
        sizes.in_irreps,
    )  # fmt: skip
    check_budget(
        bound * BLOCK_FLOATS * kernel_size**2 * 8,
        basis_label("the compact basis", fam.name, N, sizes.out_size, sizes.in_size, kernel_size),
    )


KIND = BasisKind(
    name="kernel",
    columns=COLUMNS,
    compile=compile_kernel,
    options=KernelOptions,
    validate=validate_kernel_options,
    estimate=estimate_kernel,
    layer_fields={
        "rings": "list of ring radii in grid units (default: from kernel_size)",
        "sigma": "Gaussian width: a float or a list, one per ring",
        "frequencies_cutoff": "policy name (e.g. 'fco1'), a float c (f(r) = c r) or one "
        "maximum frequency per ring",
        "maximum_offset": "bound on aliased frequencies (finite groups)",
    },
    spec_from_layer=kernel_spec_from_layer,
    layer_budget=_layer_budget,
)
