"""Networks and report helpers shared by the runtime benchmarks (instantiate.py, train_step.py).

The benchmark network: six 3x3 convolutions (padding 1) on regular fields of widths
16, 16, 32, 32, 64, 64 after a 3-channel (3 trivial fields) input, each followed by batch norm and
ReLU; on D8 (``FlipRot2dOnR2(8)``, 16 channels per field) and on C16 (``Rot2dOnR2(16)``, 16
channels per field). The plain-torch equivalent has the same layers as ``torch.nn.Conv2d``,
``BatchNorm2d`` and ``ReLU`` with the same channel counts (what ``export()`` produces).
"""

from __future__ import annotations

import datetime
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

WIDTHS = (16, 16, 32, 32, 64, 64)
SPACES = {"D8": ("FlipRot2dOnR2", 8), "C16": ("Rot2dOnR2", 16)}
GROUP_ORDERS = {"D8": 16, "C16": 16}  # channels of a regular field
REPORT = ROOT / "docs" / "benchmarks.md"


def gspace(name: str):
    from e2compile import gspaces

    cls, n = SPACES[name]
    return getattr(gspaces, cls)(n)


def build_equivariant(name: str, widths=WIDTHS):
    """The steerable network (``runtime.nn``)."""
    from runtime import nn

    gs = gspace(name)
    prev = nn.FieldType(gs, [gs.trivial_repr] * 3)
    layers = []
    for width in widths:
        t = nn.FieldType(gs, [gs.regular_repr] * width)
        layers += [nn.R2Conv(prev, t, 3, padding=1), nn.InnerBatchNorm(t), nn.ReLU(t, inplace=True)]
        prev = t
    return nn.SequentialModule(*layers)


def build_plain(name: str, widths=WIDTHS):
    """The same architecture as plain torch layers (fresh, default-initialised)."""
    import torch

    size = GROUP_ORDERS[name]  # a constant: the plain build imports nothing of ours
    channels = [3] + [w * size for w in widths]
    layers = []
    for c_in, c_out in zip(channels[:-1], channels[1:]):
        layers += [
            torch.nn.Conv2d(c_in, c_out, 3, padding=1),
            torch.nn.BatchNorm2d(c_out),
            torch.nn.ReLU(inplace=True),
        ]
    return torch.nn.Sequential(*layers)


def timed(fn: Callable[[], object], repeats: int = 1, warmup: int = 0) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs after ``warmup`` runs (seconds)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def machine() -> str:
    import torch

    return (
        f"{platform.platform()}, Python {platform.python_version()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )


def update_report(section: str, text: str, path: Path = REPORT) -> None:
    """Replace the section ``section`` of the report (between its ``<!-- begin/end -->``
    markers) with ``text`` and today's date. A report without those markers is left alone (every
    figure lives there once, written by hand): the text is printed above, to be copied in."""
    begin, end = f"<!-- begin {section} -->", f"<!-- end {section} -->"
    today = datetime.date.today().isoformat()
    block = f"{begin}\n{text.rstrip()}\n\nWritten by the script on {today}.\n{end}\n"
    content = path.read_text(encoding="utf-8") if path.exists() else ""
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.S)
    if not pattern.search(content):
        print(f"({path.name} has no '{section}' section markers: not written; copy the figures in)")
        return
    path.write_text(pattern.sub(block, content), encoding="utf-8")
