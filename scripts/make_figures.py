"""Regenerate the README figures under ``docs/figures/`` with the ``e2c`` command line.

    python scripts/make_figures.py

* ``docs/figures/check.png``: ``e2c check scripts/make_figures.py:build_example --plot ...``, the
  equivariance error of every layer of a small SO(2)-steerable network over a sweep of rotations;
* ``docs/figures/show.png``: ``e2c show KEY --png ...`` of the first layer of the main job's C8
  classifier (``scripts/main_job.py:build_model``).

Everything is compiled into a temporary store; the user's cache is never touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
FIGURES = ROOT / "docs" / "figures"


def build_example():
    """Entry point for ``e2c check``: SO(2)-steerable, frequencies up to 3, norm ReLUs."""
    import torch

    from e2compile import gspaces
    from runtime import nn

    torch.manual_seed(0)
    space = gspaces.Rot2dOnR2(-1, maximum_frequency=3)
    t_in = nn.FieldType(space, [space.trivial_repr])
    hidden = nn.FieldType(space, [space.irrep(k) for k in range(4)] * 2)
    t_out = nn.FieldType(space, [space.trivial_repr] * 4)
    return nn.SequentialModule(
        nn.R2Conv(t_in, hidden, 7, padding=3),
        nn.NormNonLinearity(hidden),
        nn.R2Conv(hidden, hidden, 5, padding=2),
        nn.NormNonLinearity(hidden),
        nn.R2Conv(hidden, t_out, 5, padding=2),
    )


def e2c(store: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "E2C_CACHE_DIR": store}
    env.pop("E2C_CACHE_PATH", None)
    env.pop("E2C_OFFLINE", None)
    done = subprocess.run(
        [sys.executable, "-m", "cli", *args], cwd=ROOT, env=env, check=True, capture_output=True,
        text=True,
    )  # fmt: skip
    return done.stdout


def main() -> None:
    FIGURES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="e2c-figures-") as store:
        example = f"{Path(__file__).resolve()}:build_example"
        e2c(store, "compile", example)
        print(e2c(store, "check", example, "--plot", str(FIGURES / "check.png")))
        classifier = f"{ROOT / 'scripts' / 'main_job.py'}:build_model"
        specs = json.loads(e2c(store, "compile", classifier, "--dry-run", "--json"))["specs"]
        first = next(k for k, s in specs.items() if json.loads(s)["in_repr"]["irreps"] == [[0]])
        e2c(store, "compile", classifier)
        print(e2c(store, "show", first, "--png", str(FIGURES / "show.png")).splitlines()[0])
    print(f"wrote {FIGURES / 'check.png'} and {FIGURES / 'show.png'}")


if __name__ == "__main__":
    main()
