"""``R2Conv``: the G-steerable planar convolution."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import _PlainConvBase

__all__ = ["R2Conv"]


class R2Conv(_PlainConvBase):
    """G-steerable convolution from the fields of ``in_type`` to those of ``out_type``.

    The filter is a linear combination, with learnable ``weights``, of a basis of kernels that
    satisfy ``k(g x) = rho_out(g) k(x) rho_in(g)^-1`` for every ``g`` of the fiber group, so the
    layer commutes with rotating/reflecting its input. The bases are compiled ahead of time
    (``e2c compile``) and read from the artifact store by spec key, one per distinct
    ``(in_repr, out_repr)`` pair; a miss compiles them in-process unless offline mode is on.

    Args:
        in_type, out_type: field types of the input and output (same gspace).
        kernel_size: side of the square filter.
        padding: implicit padding on both sides (int or pair).
        stride, dilation: as in ``torch.nn.Conv2d``.
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
        groups: blocked connections; the input and output types must split into ``groups``
            identical groups of fields.
        bias: add a learnable bias to the trivial irreps of the output fields.
        basisexpansion: the expansion algorithm (``'blocks'``).
        sigma, frequencies_cutoff, rings, maximum_offset: sampling of the basis (defaults in the
            project conventions; a callable ``frequencies_cutoff`` is accepted but can not be
            stored, so it is compiled in every process). ``rings`` are radii in pixels of the
            dilated grid, as in the reference library.
        recompute: compile the bases afresh instead of reading the store.
        basis_filter: callable on each basis element's attribute dict; ``False`` drops it.
        initialize: initialise ``weights`` with generalized He (else they start at zero).

    ``weights`` and ``bias`` are the only entries of ``state_dict``. In eval mode the expanded
    filter is cached (``filter``, ``expanded_bias``).
    """

    def __init__(
        self,
        in_type: Any,
        out_type: Any,
        kernel_size: int,
        padding: int | tuple[int, int] = 0,
        stride: int = 1,
        dilation: int = 1,
        padding_mode: str = "zeros",
        groups: int = 1,
        bias: bool = True,
        basisexpansion: str = "blocks",
        sigma: float | list[float] | None = None,
        frequencies_cutoff: float | Callable[[float], float] | None = None,
        rings: list[float] | None = None,
        maximum_offset: int | None = None,
        recompute: bool = False,
        basis_filter: Callable[[dict], bool] | None = None,
        initialize: bool = True,
    ):
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
            sigma=sigma,
            frequencies_cutoff=frequencies_cutoff,
            rings=rings,
            maximum_offset=maximum_offset,
        )
