"""``plot_report``: the ``e2c check --plot`` figure of a :class:`~runtime.check.CheckReport`
(matplotlib's object API, no pyplot: no GUI backend, no global state)."""

from __future__ import annotations

import math
from typing import Any

from .check import MODEL, CheckReport

__all__ = ["plot_report"]


def plot_report(report: CheckReport, path: str) -> None:
    """Error against angle, one line per layer (the whole model in black), flipped elements
    dashed, grid-preserving angles marked, the tolerance as a horizontal line; written to
    ``path`` (PNG)."""
    Figure, colormaps = _matplotlib()

    positive = [e for r in report.elements for e in r.errors.values() if 0 < e < math.inf]
    floor = max(min(positive, default=1e-9) / 3, 1e-9)  # exact zeros (the identity) go here
    fig = Figure(figsize=(7.5, 4.2), dpi=110)
    ax = fig.subplots()
    colours = colormaps["viridis"]
    for i, (name, kind) in enumerate(report.layers):
        colour = "black" if name == MODEL else colours(i / max(1, len(report.layers) - 1))
        for flip in (False, True):
            rows = [r for r in report.elements if r.sweep and r.flip == flip and name in r.errors]
            pts = sorted(
                (math.degrees(r.angle), min(max(r.errors[name], floor), 1e3)) for r in rows
            )
            if not pts:
                continue
            if pts[0][0] == 0:
                pts.append((360.0, pts[0][1]))  # close the circle
            # a finite group's own elements alone: markers (nothing is measured between them)
            sparse = not report.continuous and all(r.element is not None for r in rows)
            ax.plot(
                *zip(*pts),
                "--" if flip else "-",
                color=colour,
                lw=(2 if name == MODEL else 1) * (0.5 if sparse else 1),
                alpha=0.45 if sparse else 1.0,
                marker="o" if sparse else ".",
                ms=4 if sparse else 3,
                label=None if flip else (name if name == MODEL else f"{name} {kind}"),
            )
    for deg in (0, 90, 180, 270, 360):
        ax.axvline(deg, color="0.6", lw=0.8, ls=":")
    ax.axhline(report.tolerance, color="tab:red", lw=0.8, label=f"tolerance {report.tolerance:g}")
    ax.set_yscale("log")
    ax.set_xlim(0, 360)
    ax.set_xticks(range(0, 361, 45))
    ax.set_xlabel("rotation angle (degrees); dotted: grid-preserving; dashed: with flip")
    ax.set_ylabel("relative equivariance error")
    ax.set_title(f"e2c check: {report.gspace}, {report.size}x{report.size} input", fontsize=10)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.tight_layout()
    fig.savefig(path)


def _matplotlib() -> tuple[Any, Any]:
    try:
        from matplotlib import colormaps
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("plots need matplotlib: pip install 'e2compile[tools]'") from exc
    return Figure, colormaps
