"""Draw a compiled basis: the library behind ``e2c show`` (numpy; matplotlib when drawing).

A basis element solves the kernel constraint for one pair of irreps (the ``in_irrep`` and
``out_irrep`` at ``in_irrep_position``/``out_irrep_position`` of the artifact's representations).
In the irreps basis (the artifact's filters with both changes of basis undone) it is non-zero only
in that ``d_out x d_in`` channel block, so each element is drawn as that block: one ``k x k`` tile
per block channel pair, titled from the element's stored attributes (ring radius or PDO order and
Laplacian power, angular frequency). The same path draws every basis kind (kernels and PDO
stencils): titles use whichever attribute columns the artifact stores.

:func:`dense_filters` is the one place that reads an artifact's sampled filters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Tile", "dense_filters", "irrep_tiles", "element_rows", "render_tiles"]

#: (attribute column, label) in title order; columns the artifact lacks are skipped.
TITLE_FIELDS = (("radius", "r"), ("order", "order"), ("power", "lap^"), ("frequency", "f"))


@dataclass(frozen=True)
class Tile:
    """One ``k x k`` image: element ``element``'s filter from input channel ``in_index`` to
    output channel ``out_index`` of its irreps block."""

    element: int
    out_index: int
    in_index: int
    image: np.ndarray
    title: str


def dense_filters(artifact: Any) -> np.ndarray:
    """The artifact's sampled filters as float64 ``(dim, O, I, k, k)`` (rows from the top).

    Artifacts that store a factored form give their dense filters through ``dense_basis()``.
    """
    dense = getattr(artifact, "dense_basis", None)
    basis = np.asarray(dense() if callable(dense) else artifact.basis, dtype=np.float64)
    k = artifact.spec.kernel_size
    o, i = basis.shape[1:3]
    return basis.reshape(basis.shape[0], o, i, k, k)


def _offsets(group: Any, representation: Any) -> list[tuple[int, int]]:
    """``(start, size)`` of every irrep of ``representation`` in the irreps basis."""
    spans, start = [], 0
    for name in representation.irreps:
        size = group.irreps[name].size
        spans.append((start, size))
        start += size
    return spans


def _title(columns: dict[str, np.ndarray], element: int) -> tuple[str, str]:
    """``(first line, second line)``: element index and attributes; the irreps pair."""
    parts = [f"#{element}"]
    for name, label in TITLE_FIELDS:
        if name in columns:
            value = columns[name][element].item()
            parts.append(f"{label}={value:g}" if isinstance(value, float) else f"{label}={value}")
    pair = [str(columns[c][element]) for c in ("out_irrep", "in_irrep") if c in columns]
    return " ".join(parts), " <- ".join(pair) if len(pair) == 2 else ""


def irrep_tiles(artifact: Any, max_elements: int | None = None) -> list[Tile]:
    """The tiles of the first ``max_elements`` elements (all when ``None``), element by element."""
    if max_elements is not None and (not isinstance(max_elements, int) or max_elements < 1):
        raise ValueError(f"max_elements: expected an int >= 1 or None, got {max_elements!r}")
    filters = dense_filters(artifact)
    count = filters.shape[0] if max_elements is None else min(max_elements, filters.shape[0])
    spec = artifact.spec
    group, in_repr, out_repr = spec.build_representations()
    q_in, q_out = spec.in_repr.matrix(), spec.out_repr.matrix()
    # K_irreps(p) = Q_out^-1 K(p) Q_in for every grid point p
    irreps = np.einsum("ab,nbcyx,cd->nadyx", np.linalg.inv(q_out), filters[:count], q_in)
    in_spans, out_spans = _offsets(group, in_repr), _offsets(group, out_repr)
    columns = artifact.attributes
    tiles = []
    for n in range(count):
        o0, od = out_spans[int(columns["out_irrep_position"][n])]
        i0, idim = in_spans[int(columns["in_irrep_position"][n])]
        head, pair = _title(columns, n)
        for a in range(od):
            for b in range(idim):
                title = head + (f" [{a},{b}]" if od * idim > 1 else "") + f"\n{pair}"
                tiles.append(Tile(n, a, b, irreps[n, o0 + a, i0 + b], title.rstrip()))
    return tiles


def element_rows(artifact: Any) -> list[dict[str, Any]]:
    """One plain dict per element: its index and every stored attribute (for text and JSON)."""
    columns = artifact.attributes
    dim = dense_filters(artifact).shape[0]
    return [
        {"element": n, **{name: col[n].item() for name, col in columns.items()}} for n in range(dim)
    ]


def render_tiles(tiles: list[Tile], path: str, title: str = "", columns: int | None = None) -> None:
    """Write the tiles as an image grid (PNG): a diverging colour map, each element's tiles on
    one symmetric scale (white is zero), the title of each tile above it."""
    if not tiles:
        raise ValueError("tiles: nothing to draw (the basis has no element)")
    try:
        from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state
    except ImportError as exc:
        raise ImportError("drawing needs matplotlib: pip install 'e2compile[tools]'") from exc
    if columns is None:
        per = max(sum(1 for t in tiles if t.element == e) for e in {t.element for t in tiles})
        columns = max(per, math.ceil(math.sqrt(1.5 * len(tiles)) / per) * per)
    rows = math.ceil(len(tiles) / columns)
    scale: dict[int, float] = {}
    for t in tiles:
        scale[t.element] = max(scale.get(t.element, 0.0), float(np.abs(t.image).max()))
    fig = Figure(figsize=(1.35 * columns, 1.45 * rows + (0.4 if title else 0)), dpi=100)
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, t in zip(axes, tiles):
        vmax = scale[t.element] or 1.0
        ax.imshow(t.image, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
        ax.set_title(t.title, fontsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
