"""Build time of a wide SO(2) network with FourierELU, ours (warm store) vs escnn 1.0.11.

The network (escnn's usual SO(2) block, measured in docs/escnn_parity_fourier.md's notes):
``rot2dOnR2(N=-1, maximum_frequency=10)``, input 3 trivial fields, then ``--layers`` times
``R2Conv(kernel_size=5, padding=2)`` to 16 fields of the band-limited regular representation
``spectral_regular_representation(*bl_irreps(3))`` (7 channels each) and
``FourierELU(gs, 16, bl_irreps(3), N=16)``.

Each measurement is a fresh interpreter that imports torch (outside the clock), then times the
library's import and the network's construction separately, and runs one forward pass (1 x 3 x
33 x 33) outside the clock. Ours reads every basis and grid from a warm store (filled by one
process beforehand; the timed processes run with ``E2C_OFFLINE=1``, so nothing can compile).
escnn (``.venv-escnn``) builds everything in its constructors, as always. Medians of
``--repeats`` processes (a warm-up process first on our side, which writes the bytecode caches;
escnn's were written when it was installed).

Usage::

    .venv/bin/python benchmarks/escnn_build.py [--repeats 5] [--escnn-repeats 3] [--layers 6]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_NETWORK = """
gs = gspaces.rot2dOnR2(N=-1, maximum_frequency=10)
irreps = gs.fibergroup.bl_irreps(3)
t_in = nn.FieldType(gs, 3 * [gs.trivial_repr])
mods, cur = [], t_in
for _ in range({layers}):
    act = nn.FourierELU(gs, 16, irreps, N=16, inplace=True)
    mods += [nn.R2Conv(cur, act.in_type, kernel_size=5, padding=2), act]
    cur = act.out_type
model = nn.SequentialModule(*mods)
"""

_CHILD = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
sys.path[:0] = [{repo!r}]
import torch
torch.set_num_threads(1)
t0 = time.perf_counter()
{imports}
t1 = time.perf_counter()
{network}
t2 = time.perf_counter()
x = torch.randn(1, 3, 33, 33)
with torch.no_grad():
    y = model(nn.GeometricTensor(x, t_in))
t3 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "build": t2 - t1, "forward": t3 - t2,
                  "params": sum(p.numel() for p in model.parameters()),
                  "out": list(y.shape)}}))
"""

OURS = "from e2compile import gspaces\nfrom runtime import nn"
ESCNN = "from escnn import gspaces, nn"


def _run(python: str, imports: str, layers: int, env: dict) -> dict:
    code = _CHILD.format(repo=str(REPO), imports=imports, network=_NETWORK.format(layers=layers))
    out = subprocess.run(
        [python, "-c", code], env=env, capture_output=True, text=True, timeout=1200
    )
    if out.returncode != 0:
        raise SystemExit(f"{python} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--escnn-repeats", type=int, default=3)
    parser.add_argument("--layers", type=int, default=6)
    args = parser.parse_args()
    store = tempfile.mkdtemp(prefix="e2c-escnn-build-")
    env = dict(os.environ, E2C_CACHE_DIR=store, PYTHONPATH=str(REPO))
    env.pop("E2C_OFFLINE", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a deployed job has its .pyc files
    _run(sys.executable, OURS, args.layers, env)  # fills the store (compiles)
    env["E2C_OFFLINE"] = "1"
    ours = [_run(sys.executable, OURS, args.layers, env) for _ in range(args.repeats + 1)][1:]
    escnn_python = REPO / ".venv-escnn" / "bin" / "python"
    theirs = []
    if escnn_python.exists() and args.escnn_repeats > 0:
        clean = dict(os.environ, PYTHONPATH="")
        theirs = [
            _run(str(escnn_python), ESCNN, args.layers, clean) for _ in range(args.escnn_repeats)
        ]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"network: SO(2) (maximum_frequency 10), {args.layers} x [R2Conv k=5 -> 16 x "
          f"bl-regular L=3, FourierELU N=16]; load average {load:.1f}")  # fmt: skip
    print(f"{'':8} {'import':>9} {'build':>9} {'import+build':>13} {'forward':>9} {'params':>8}")
    rows = [("ours", ours)] + ([("escnn", theirs)] if theirs else [])
    for name, runs in rows:
        imp, build, fwd = (_median(runs, k) for k in ("import", "build", "forward"))
        print(f"{name:8} {imp:8.3f}s {build:8.3f}s {imp + build:12.3f}s {fwd:8.3f}s "
              f"{runs[0]['params']:>8}")  # fmt: skip
    if theirs:
        build_ratio = _median(theirs, "build") / _median(ours, "build")
        total = (_median(theirs, "import") + _median(theirs, "build")) / (
            _median(ours, "import") + _median(ours, "build")
        )
        print(f"build: {build_ratio:.0f}x faster; import + build: {total:.0f}x faster")


if __name__ == "__main__":
    main()
