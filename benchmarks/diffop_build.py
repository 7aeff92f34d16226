"""Building a C8 network of R2Diffop layers: ours (cold compile, warm store, warm memo) vs e2cnn.

The network: ``R2Diffop(trivial -> 16 regular, kernel_size=5)`` then ``R2Diffop(16 regular ->
16 regular, kernel_size=5)`` on ``Rot2dOnR2(8)``, generalized He initialisation included, for each
discretisation: ``fd``, ``gauss`` (``smoothing=1.25``, i.e. kernel_size / 4) and ``rbffd``.

Every number is the construction of the network in a **fresh process**, imports of torch and of
the library excluded (timed separately, not included):

* **cold compile**: empty store: every PDO basis is compiled in-process (this includes the lazy
  import of the compiler's sympy/rbf, which only a store miss pays) and stored;
* **warm store**: the same store, a new process: the bases are read from HDF5;
* **warm memo**: a second build in the warm-store process (the artifact memo serves the bases);
* **e2cnn**: the reference library in its own environment (``benchmarks/reference.py``), a fresh
  process per repeat (its in-memory PDO cache starts empty): its first build.

Medians of ``--repeats`` fresh processes. The 2-core machine is shared: absolute times are noisy.

Usage: ``python benchmarks/diffop_build.py [--repeats 3]``
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))

METHODS = {"fd": {}, "gauss": {"smoothing": 1.25}, "rbffd": {"rbffd": True}}

_BUILD = r"""
import json, sys, time
t0 = time.perf_counter()
import torch
{imports}
IMPORT = time.perf_counter() - t0
gspace = gspaces.Rot2dOnR2(8)
t_in = nn.FieldType(gspace, [gspace.trivial_repr])
t_hid = nn.FieldType(gspace, 16 * [gspace.regular_repr])
kwargs = json.loads({kwargs!r})

def build():
    return torch.nn.Sequential(
        nn.R2Diffop(t_in, t_hid, kernel_size=5, **kwargs),
        nn.R2Diffop(t_hid, t_hid, kernel_size=5, **kwargs),
    )

t0 = time.perf_counter()
net = build()
first = time.perf_counter() - t0
t0 = time.perf_counter()
build()
second = time.perf_counter() - t0
print(json.dumps({{"first": first, "second": second, "import": IMPORT,
                  "parameters": sum(p.numel() for p in net.parameters())}}))
"""


def _ours(kwargs: dict, store: str) -> dict:
    code = _BUILD.format(
        imports="from e2compile import gspaces\nfrom runtime import nn", kwargs=json.dumps(kwargs)
    )
    env = {**os.environ, "E2C_CACHE_DIR": store, "PYTHONPATH": str(ROOT)}
    env.pop("E2C_CACHE_PATH", None)
    env.pop("E2C_OFFLINE", None)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _reference(kwargs: dict) -> dict | None:
    try:
        from reference import ReferenceUnavailable, run_reference
    except ImportError:
        return None
    code = _BUILD.format(
        imports="from e2cnn import gspaces, nn\nimport warnings; warnings.filterwarnings('ignore')",
        kwargs=json.dumps(kwargs),
    )
    try:
        return run_reference(code)
    except ReferenceUnavailable:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for method, kwargs in METHODS.items():
        cold, warm, memo, ref = [], [], [], []
        params = None
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as store:
                c = _ours(kwargs, store)
                w = _ours(kwargs, store)
            cold.append(c["first"])
            warm.append(w["first"])
            memo.append(w["second"])
            params = c["parameters"]
            r = _reference(kwargs)
            if r is not None:
                ref.append(r["first"])
                if r["parameters"] != params:
                    raise AssertionError(f"{method}: e2cnn has {r['parameters']} parameters")
        row = {
            "method": method,
            "parameters": params,
            "cold": statistics.median(cold),
            "warm_store": statistics.median(warm),
            "warm_memo": statistics.median(memo),
            "e2cnn": statistics.median(ref) if ref else None,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    print()
    print("| method | cold compile | warm store | warm memo | e2cnn | e2cnn / cold |", end="")
    print(" e2cnn / warm |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        e = r["e2cnn"]
        ratio = (f"{e / r['cold']:.1f}×", f"{e / r['warm_store']:.0f}×") if e else ("-", "-")
        print(
            f"| {r['method']} | {r['cold']:.3f} s | {r['warm_store']:.3f} s | "
            f"{r['warm_memo']:.3f} s | {e:.3f} s | {ratio[0]} | {ratio[1]} |"
            if e
            else f"| {r['method']} | {r['cold']:.3f} s | {r['warm_store']:.3f} s | "
            f"{r['warm_memo']:.3f} s | - | - | - |"
        )


if __name__ == "__main__":
    main()
