"""``R2Diffop``: the G-steerable planar partial differential operator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import ArgumentError, ArgumentTypeError
from .base import _PlainConvBase

__all__ = ["R2Diffop"]

_CACHE_MODES = (False, True, "load", "store")


class R2Diffop(_PlainConvBase):
    """G-steerable PDO from the fields of ``in_type`` to those of ``out_type``.

    The filter is a linear combination, with learnable ``weights``, of a basis of discretised
    partial differential operators ``D(P)`` whose polynomials satisfy
    ``P(g x) = rho_out(g) P(x) rho_in(g)^-1``; the bases are compiled ahead of time and read from
    the artifact store like R2Conv's (kind ``"pdo"``, docs/pdo.md). Everything else (state,
    eval-mode filter cache, convolution, ``export()``, initialisation) is shared with R2Conv
    through their common base.

    Args:
        in_type, out_type: field types of the input and output (same gspace).
        kernel_size, accuracy, maximum_order: set at most two; the third follows from
            ``kernel_size = maximum_order + accuracy - (1 if accuracy is even)`` (``accuracy``
            defaults to 2: ``kernel_size=5`` means PDOs up to order 4).
        padding, stride, dilation, padding_mode, groups, bias, basisexpansion: as in R2Conv.
        maximum_power: largest power of the Laplacian (default and cap: ``maximum_order // 2``).
        maximum_offset: bound on the aliased frequencies (finite groups).
        recompute: compile the bases afresh instead of reading the store.
        angle_offset: rotate every PDO by this angle (radians).
        basis_filter: callable on each basis element's attribute dict (``order``, ``power``,
            ``frequency``, irreps...); ``False`` drops it.
        initialize: initialise ``weights`` with generalized He (else they start at zero).
        cache: ``True``, ``"load"`` or ``"store"``: call :func:`e2compile.diffops.load_cache`
            before and/or :func:`~e2compile.diffops.store_cache` after building the bases
            (default file ``<store root>/diffops-cache.h5``); the store makes this unnecessary.
        rbffd: discretise with RBF-FD instead of finite differences.
        radial_basis_function: the RBF of RBF-FD (default Gaussian ``"ga"``).
        smoothing: if set, discretise with derivatives of a Gaussian of this standard deviation
            (pixels); not combinable with ``rbffd``.
    """

    _empty_hint = "a larger maximum_order or kernel_size, or a looser basis_filter"

    def __init__(
        self,
        in_type: Any,
        out_type: Any,
        kernel_size: int | None = None,
        accuracy: int | None = None,
        padding: int | tuple[int, int] = 0,
        stride: int = 1,
        dilation: int = 1,
        padding_mode: str = "zeros",
        groups: int = 1,
        bias: bool = True,
        basisexpansion: str = "blocks",
        maximum_order: int | None = None,
        maximum_power: int | None = None,
        maximum_offset: int | None = None,
        recompute: bool = False,
        angle_offset: float | None = None,
        basis_filter: Callable[[dict], bool] | None = None,
        initialize: bool = True,
        cache: bool | str = False,
        rbffd: bool = False,
        radial_basis_function: str = "ga",
        smoothing: float | None = None,
    ):
        from e2compile.diffops.kind import resolve_sizes

        who = type(self).__name__
        if not any(cache is mode for mode in (False, True)) and cache not in ("load", "store"):
            raise ArgumentError(f"{who}: 'cache' must be one of {_CACHE_MODES}, got {cache!r}")
        if not isinstance(rbffd, bool):
            raise ArgumentTypeError(f"{who}: 'rbffd' must be a bool, got {rbffd!r}")
        if rbffd and smoothing is not None:
            raise ArgumentError(
                f"{who}: 'smoothing' selects the Gaussian discretisation and cannot be combined "
                "with rbffd=True"
            )
        try:
            kernel_size, maximum_order = resolve_sizes(kernel_size, accuracy, maximum_order)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{who}: {exc}") from None
        self.maximum_order = maximum_order
        self.accuracy = accuracy
        method = "rbffd" if rbffd else ("gauss" if smoothing is not None else "fd")
        if cache in (True, "load"):
            from runtime.pdo_cache import load_cache

            try:
                load_cache()
            except FileNotFoundError:
                pass  # nothing stored yet
        super().__init__(
            in_type,
            out_type,
            kernel_size,
            padding=padding,
            stride=stride,
            dilation=dilation,
            padding_mode=padding_mode,
            groups=groups,
            bias=bias,
            basisexpansion=basisexpansion,
            recompute=recompute,
            basis_filter=basis_filter,
            initialize=initialize,
            maximum_order=maximum_order,
            maximum_power=maximum_power,
            maximum_offset=maximum_offset,
            method=method,
            smoothing=smoothing,
            angle_offset=angle_offset,
            phi=radial_basis_function,
        )
        if cache in (True, "store") and not self._basisexpansion.dry_run:
            from runtime.pdo_cache import store_cache

            store_cache()

    def _basis_spec(self, in_repr: Any, out_repr: Any) -> Any:
        """The ``BasisSpec`` (kind ``"pdo"``) of the PDOs from ``in_repr`` to ``out_repr``."""
        from e2compile.diffops.kind import pdo_spec

        try:
            return pdo_spec(
                self.space,
                in_repr,
                out_repr,
                kernel_size=self.kernel_size,
                dilation=self.dilation,
                **self._spec_kwargs,
            )
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{type(self).__name__}: {exc}") from None
