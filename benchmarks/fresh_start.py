"""Time to a model in a fresh process (a cluster job's start), ours vs plain torch vs e2cnn.

Each measurement is a new interpreter that imports torch, starts the clock, then builds the wide
D8 (or C16) network of ``_runtime_nets.py``:

* **ours**: ``from runtime import nn`` + the network, bases read from a warm store (filled once
  beforehand), He initialisation included: every one-off cost of the process (the runtime's
  import, HDF5, the store, the groups) is inside the clock;
* **plain torch**: the exported architecture (``Conv2d``/``BatchNorm2d``/``ReLU``), default init;
* **e2cnn**: its first build in a fresh process (``benchmarks/reference.py``; its import excluded).

Bytecode caches are written and used (one warm-up process first), as in a deployed job.

Medians of ``--repeats`` processes. Usage: ``python benchmarks/fresh_start.py [--repeats 5]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _runtime_nets import SPACES, build_equivariant, machine

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent

_CHILD = """
import sys, time
sys.path[:0] = [{repo!r}, {bench!r}]
import torch
{settle}
start = time.perf_counter()
from _runtime_nets import {builder}
{builder}({name!r})
print(time.perf_counter() - start)
"""


def fresh(builder: str, name: str, repeats: int, env: dict, settle: bool = False) -> float:
    """Median seconds; ``settle``: one full garbage collection after ``import torch``, outside
    the clock (the first one after torch's import costs ~0.07 s and falls in whichever step
    first allocates a few thousand objects)."""
    code = _CHILD.format(
        repo=str(REPO), bench=str(BENCH), builder=builder, name=name,
        settle="import gc; gc.collect()" if settle else "",
    )
    times = []
    for round_ in range(repeats + 1):  # a warm-up process first (it writes the bytecode caches)
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        if round_:
            times.append(float(out.stdout.split()[-1]))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--networks", nargs="+", default=list(SPACES))
    parser.add_argument("--no-reference", action="store_true", help="Skip e2cnn.")
    args = parser.parse_args()
    print(f"# fresh processes, median of {args.repeats}; {machine()}")
    print(
        "| network | ours (warm store) | plain torch | e2cnn first | ours / plain "
        "| ours / plain, GC settled first |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="e2c-bench-store-") as root:
        env = dict(os.environ, E2C_CACHE_DIR=root, E2C_OFFLINE="1")
        env.pop("E2C_CACHE_PATH", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # a deployed job has its .pyc files
        os.environ["E2C_CACHE_DIR"] = root
        for name in args.networks:
            build_equivariant(name)  # fills the store
            ours = fresh("build_equivariant", name, args.repeats, env)
            plain = fresh("build_plain", name, args.repeats, env)
            ref = "-"
            if not args.no_reference:
                try:
                    from reference import ReferenceUnavailable, reference_instantiation_seconds

                    out = reference_instantiation_seconds(name, widths=(16, 32, 64), repeats=1)
                    ref = f"{out['best']:.3f} s"
                except (ImportError, ReferenceUnavailable):
                    pass
            settled_ours = fresh("build_equivariant", name, args.repeats, env, settle=True)
            settled_plain = fresh("build_plain", name, args.repeats, env, settle=True)
            print(
                f"| {name} | {ours:.3f} s | {plain:.3f} s | {ref} | {ours / plain:.2f} "
                f"| {settled_ours:.3f} / {settled_plain:.3f} s "
                f"= {settled_ours / settled_plain:.2f} |"
            )


if __name__ == "__main__":
    main()
