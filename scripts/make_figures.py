"""Regenerate the figures of docs/check_show.md (``docs/figures/``) with ``e2c``.

    python scripts/make_figures.py

* ``docs/figures/check.png``: ``e2c check scripts/main_job.py:build_model --plot ...``, the
  equivariance error of every layer of the main job's C8 digit classifier (untrained) for the
  group's rotations and, for its invariant outputs, a sweep of rotations in 5-degree steps;
* ``docs/figures/show.png``: ``e2c show KEY --png ...`` of that classifier's first layer.

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
        classifier = f"{ROOT / 'scripts' / 'main_job.py'}:build_model"
        e2c(store, "compile", classifier)
        print(e2c(store, "check", classifier, "--plot", str(FIGURES / "check.png")))
        specs = json.loads(e2c(store, "compile", classifier, "--dry-run", "--json"))["specs"]
        first = next(k for k, s in specs.items() if json.loads(s)["in_repr"]["irreps"] == [[0]])
        print(e2c(store, "show", first, "--png", str(FIGURES / "show.png")).splitlines()[0])
    for name in ("check.png", "show.png"):
        shrink(FIGURES / name)
    print(f"wrote {FIGURES / 'check.png'} and {FIGURES / 'show.png'}")


def shrink(path: Path) -> None:
    """Re-save a PNG with a 64-colour palette: the committed figures stay small."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=64)
    small.save(path, optimize=True)


if __name__ == "__main__":
    main()
