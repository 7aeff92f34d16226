"""The PDO basis kind: equivariant partial differential operators, discretised on the grid.

``KIND`` registers it in :mod:`e2compile.kinds`. A PDO spec is a :class:`BasisSpec` of kind
``"pdo"`` whose ``options`` hold every PDO setting that changes the sampled numbers:
``maximum_order``, ``maximum_power``, ``method`` and, where they apply, ``smoothing`` (gauss),
``phi`` (rbffd) and ``angle_offset``; the grid (``kernel_size``, ``dilation``), the flip ``axis``
and ``maximum_offset`` are ordinary spec fields. ``accuracy`` only decides the kernel size or the
maximum order (docs/pdo.md), so the spec keys the resolved pair.

Compilation (:func:`compile_pdo`): the :class:`~e2compile.diffops.TensorBasis` of the spec's
family up to ``maximum_order``, each PDO discretised on the ``k x k`` grid between its two irreps
(the compact form of :mod:`e2compile.kernels.compact`, assembled by
:func:`e2compile.compiler.compact_artifact` like kernels), then the normalisation and drop rule of
the kernel kind (each element divided by ``sqrt(sum_p ||D(p)||_F^2 / d_out)``, ``D`` the element
through both changes of basis; elements whose squared norm is then not above 1e-2 are dropped).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..budget import check_pdo_spec_budget
from ..compiler import IRREP_COLUMNS, BasisArtifact, compact_artifact, sample_or_empty
from ..families import family
from ..kernels.basis import EmptyBasisException
from ..kinds import BasisKind
from ..specs import ALGORITHM_VERSION, BasisSpec, _float, _int, gspace_fields
from .basis import TensorBasis
from .discretization import (
    METHODS,
    RBF_NAMES,
    DiscretizationArgs,
    largest_possible_order,
    required_points,
)

__all__ = [
    "KIND",
    "COLUMNS",
    "compile_pdo",
    "discretization_of",
    "pdo_basis",
    "pdo_spec",
    "resolve_sizes",
]

#: Attribute columns of a PDO artifact, in order, with their numpy kinds.
COLUMNS = {
    "order": "i",
    "power": "i",
    "frequency": "i",
    **IRREP_COLUMNS,
}

#: The options of a PDO spec.
OPTIONS = ("angle_offset", "maximum_order", "maximum_power", "method", "phi", "smoothing")


def resolve_sizes(
    kernel_size: int | None, accuracy: int | None, maximum_order: int | None
) -> tuple[int, int]:
    """``(kernel_size, maximum_order)`` from at most two of the three settings.

    The rule (docs/pdo.md, :func:`~e2compile.diffops.utils.required_points`):
    ``kernel_size = maximum_order + accuracy - (1 if accuracy is even)``;
    ``accuracy`` defaults to 2; a PDO of order ``n`` needs ``kernel_size > n``.
    """
    given = [v is not None for v in (kernel_size, accuracy, maximum_order)]
    if all(given):
        raise ValueError(
            "kernel_size, accuracy and maximum_order: set at most two of them (the third "
            "follows from kernel_size = maximum_order + accuracy - (1 if accuracy is even))"
        )
    if kernel_size is None and maximum_order is None:
        raise ValueError("kernel_size or maximum_order must be set (or both)")
    if kernel_size is not None:
        kernel_size = _int(kernel_size, "kernel_size", minimum=1)
    if maximum_order is not None:
        maximum_order = _int(maximum_order, "maximum_order", minimum=0)
    if accuracy is not None:
        accuracy = _int(accuracy, "accuracy", minimum=1)
    if kernel_size is None:
        accuracy = 2 if accuracy is None else accuracy
        kernel_size = required_points(maximum_order, accuracy)
    elif maximum_order is None:
        accuracy = 2 if accuracy is None else accuracy
        if kernel_size < required_points(0, accuracy):
            raise ValueError(
                f"kernel_size {kernel_size} is too small for accuracy {accuracy}: it leaves no "
                "derivative order; use a larger kernel_size or a smaller accuracy"
            )
        maximum_order = largest_possible_order(kernel_size, accuracy)
    if maximum_order >= kernel_size:
        raise ValueError(
            f"maximum_order {maximum_order} needs a kernel_size of at least {maximum_order + 1}, "
            f"got kernel_size={kernel_size}"
        )
    return kernel_size, maximum_order


def pdo_spec(
    gspace: Any,
    in_repr: Any,
    out_repr: Any,
    kernel_size: int | None = None,
    accuracy: int | None = None,
    maximum_order: int | None = None,
    maximum_power: int | None = None,
    maximum_offset: int | None = None,
    dilation: int = 1,
    method: str = "fd",
    smoothing: float | None = None,
    angle_offset: float | None = None,
    phi: str = "ga",
) -> BasisSpec:
    """The :class:`BasisSpec` of the PDOs from ``in_repr`` to ``out_repr`` on ``gspace``.

    ``kernel_size``/``accuracy``/``maximum_order``: at most two (:func:`resolve_sizes`);
    ``maximum_power`` (of the Laplacian) defaults to, and is capped at, ``maximum_order // 2``;
    ``method`` ``"fd"``, ``"rbffd"`` or ``"gauss"`` (which needs ``smoothing``, in pixels);
    ``phi`` the RBF of ``"rbffd"``; ``angle_offset`` rotates every PDO (radians).
    """
    header = gspace_fields(gspace, in_repr, out_repr, maximum_offset)
    kernel_size, maximum_order = resolve_sizes(kernel_size, accuracy, maximum_order)
    if maximum_power is None:
        maximum_power = maximum_order // 2
    else:
        maximum_power = min(_int(maximum_power, "maximum_power", minimum=0), maximum_order // 2)
    args = DiscretizationArgs(method, smoothing, angle_offset, phi).canonical()
    return BasisSpec(
        **header,
        kind="pdo",
        kernel_size=kernel_size,
        dilation=dilation,
        frequencies_cutoff=None,
        algorithm_version=ALGORITHM_VERSION,
        options=_options(maximum_order, maximum_power, args),
    )


def _options(order: int, power: int, args: DiscretizationArgs) -> tuple[tuple[str, Any], ...]:
    values = {
        "maximum_order": order,
        "maximum_power": power,
        "method": args.method,
        "smoothing": args.smoothing,
        "phi": args.phi if args.method == "rbffd" else None,
        "angle_offset": args.angle_offset,
    }
    return tuple(sorted(values.items()))


def discretization_of(spec: BasisSpec) -> DiscretizationArgs:
    """The :class:`DiscretizationArgs` a PDO spec compiles with."""
    o = dict(spec.options)
    return DiscretizationArgs(o["method"], o["smoothing"], o["angle_offset"], o["phi"] or "ga")


def validate_pdo_spec(spec: BasisSpec, put: Callable[[str, Any], None]) -> None:
    """Check and normalise the PDO fields of ``spec`` (its options; no rings or cutoff)."""
    if spec.rings or spec.sigma:
        raise ValueError("rings/sigma: a PDO spec has no rings")
    put("rings", ())
    put("sigma", ())
    if spec.frequencies_cutoff is not None or spec.cutoff_callable is not None:
        raise ValueError("frequencies_cutoff: a PDO spec has none (its bound is maximum_order)")
    options = dict(spec.options)
    if sorted(options) != sorted(OPTIONS):
        raise ValueError(f"a PDO spec's options are exactly {OPTIONS}, got {sorted(options)}")
    order = _int(options["maximum_order"], "maximum_order", minimum=0)
    power = _int(options["maximum_power"], "maximum_power", minimum=0)
    if power > order // 2:
        raise ValueError(f"maximum_power must be at most maximum_order // 2, got {power}")
    if order >= spec.kernel_size:
        raise ValueError(
            f"maximum_order {order} needs a kernel_size of at least {order + 1}, "
            f"got {spec.kernel_size}"
        )
    if options["method"] not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {options['method']!r}")
    if options["phi"] is not None and options["phi"] not in RBF_NAMES:
        raise ValueError(f"phi must be one of {RBF_NAMES}, got {options['phi']!r}")
    smoothing = options["smoothing"]
    if smoothing is not None:
        smoothing = _float(smoothing, "smoothing")
    offset = options["angle_offset"]
    if offset is not None:
        offset = _float(offset, "angle_offset")
    args = DiscretizationArgs(options["method"], smoothing, offset, options["phi"] or "ga")
    if args.canonical() != args or (args.method == "rbffd") != (options["phi"] is not None):
        raise ValueError(
            "a PDO spec holds only the settings its method uses (smoothing for gauss, phi for "
            "rbffd, a non-zero angle_offset): build it with pdo_spec"
        )
    put("options", _options(order, power, args))


def compile_pdo(spec: BasisSpec) -> BasisArtifact:
    """Compile a PDO spec (see the module docstring)."""
    check_pdo_spec_budget(spec)
    return sample_or_empty(spec, _sample_pdo)


def pdo_basis(spec: BasisSpec, in_repr: Any, out_repr: Any, irreps_blocks: bool) -> TensorBasis:
    """The :class:`TensorBasis` of a PDO spec (every power, every order: the compile keeps those
    up to ``maximum_order``); ``irreps_blocks`` as in :class:`~.basis.SteerableDiffopBasis`."""
    options = dict(spec.options)
    kwargs: dict[str, Any] = {}
    if spec.axis is not None:
        kwargs["axis"] = spec.axis
    if not spec.continuous:
        kwargs["max_frequency"] = options["maximum_order"]
        kwargs["max_offset"] = spec.maximum_offset
    return TensorBasis(
        family(spec.family).irreps_basis(spec.continuous),
        in_repr,
        out_repr,
        options["maximum_power"],
        discretization_of(spec),
        in_change_of_basis=spec.in_repr.matrix(),
        out_change_of_basis=spec.out_repr.matrix(),
        irreps_blocks=irreps_blocks,
        **kwargs,
    )


def _sample_pdo(spec: BasisSpec, group: Any, in_repr: Any, out_repr: Any) -> BasisArtifact:
    basis = pdo_basis(spec, in_repr, out_repr, irreps_blocks=True)
    columns = basis.attribute_columns()
    keep = columns["order"] <= dict(spec.options)["maximum_order"]
    if not keep.any():
        raise EmptyBasisException("no PDO is within maximum_order")

    def own_columns(selected: np.ndarray) -> dict[str, np.ndarray]:
        return {name: columns[name][selected] for name in ("order", "power", "frequency")}

    # each PDO sampled between its two irreps, (n, 2, 2, P): never the dense (n, O, I, P) array
    return compact_artifact(
        spec,
        group,
        in_repr,
        out_repr,
        columns,
        keep,
        lambda points: basis.sample_stacked(points, keep),
        own_columns,
    )


def _describe(spec: BasisSpec) -> dict[str, Any]:
    return {k: v for k, v in spec.options if v is not None}


def _spec_from_layer(
    desc: Mapping[str, Any], gspace: Any, in_repr: Any, out_repr: Any
) -> BasisSpec:
    from ..layers import pdo_spec_from_layer

    return pdo_spec_from_layer(desc, gspace, in_repr, out_repr)


KIND = BasisKind(
    name="pdo",
    columns=COLUMNS,
    validate=validate_pdo_spec,
    compile=compile_pdo,
    layer_fields={
        "accuracy": "PDO: discretisation accuracy (at most two of kernel_size/accuracy/"
        "maximum_order)",
        "maximum_order": "PDO: largest derivative order",
        "maximum_power": "PDO: largest power of the Laplacian (default maximum_order // 2)",
        "method": "PDO: 'fd' (default), 'rbffd' or 'gauss'",
        "smoothing": "PDO: Gaussian standard deviation in pixels (method 'gauss')",
        "phi": "PDO: RBF of 'rbffd' (default 'ga')",
        "angle_offset": "PDO: rotate every PDO by this angle (radians)",
    },
    layer_types={
        "accuracy": int,
        "maximum_order": int,
        "maximum_power": int,
        "method": str,
        "smoothing": float,
        "phi": str,
        "angle_offset": float,
    },
    spec_from_layer=_spec_from_layer,
    describe=_describe,
)
