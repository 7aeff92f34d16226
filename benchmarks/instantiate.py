"""Instantiation time of wide steerable networks: cold store, warm store, memo, plain torch, e2cnn.

For the D8 and C16 networks of ``_runtime_nets.py`` (six 3x3 layers, 16 -> 32 -> 64 regular
fields, batch norm, ReLU), in one process:

* **cold**: empty store, empty memo: every basis is compiled in-process and stored. The compiler
  is imported beforehand, but the first network's cold build (D8) also pays the one-off costs of
  the process: importing the store's HDF5 stack and building the group's representations;
* **warm store**: the store holds the bases, the process memo is cleared before each build: the
  bases are read from the store, as in a fresh process (a fresh process also pays the imports, see
  "import");
* **warm memo**: repeated builds in one process (the bounded artifact memo serves the bases);
* **plain torch**: building the exported architecture (``Conv2d``/``BatchNorm2d``/``ReLU``,
  default initialisation);
* **reference**: the reference library (e2cnn) in its separate environment (``bash
  scripts/setup_reference_env.sh``; driven by ``benchmarks/reference.py``), when present: its cold
  build in a fresh process (best of the repeats) and a rebuild in the same process (its in-memory
  basis cache warm). Both include its per-weight He initialisation, as ours includes ours.

Ratios are against plain torch (lower is faster); ``reference / warm store`` is the speed-up over
e2cnn. Generalized He initialisation is included everywhere (as in the constructors).

Usage: ``python benchmarks/instantiate.py [--repeats 5] [--no-write]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from _runtime_nets import (
    SPACES,
    WIDTHS,
    build_equivariant,
    build_plain,
    machine,
    timed,
    update_report,
)


def reference_times(name: str, repeats: int) -> dict | None:
    """e2cnn's times for the same network (``benchmarks/reference.py``, separate environment):
    cold build in a fresh process (best of ``repeats``) and a rebuild in the same process."""
    try:
        from reference import ReferenceUnavailable, reference_instantiation_seconds
    except ImportError:
        return None
    try:
        out = reference_instantiation_seconds(name, widths=(16, 32, 64), repeats=repeats)
    except ReferenceUnavailable:
        return None
    if out["parameters"] != sum(p.numel() for p in build_equivariant(name).parameters()):
        raise AssertionError(f"{name}: the reference network has a different parameter count")
    return {"first": out["best"], "warm": min(out["rebuild_seconds"])}


def import_overhead(repeats: int = 5) -> tuple[float, float]:
    """Median seconds of ``import torch`` in a fresh interpreter, and of ``from runtime import
    nn`` right after it (what the runtime adds)."""
    code = (
        "import time; s = time.perf_counter(); import torch; t = time.perf_counter(); "
        "from runtime import nn; print(t - s, time.perf_counter() - t)"
    )
    pairs = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        pairs.append(tuple(map(float, out.stdout.split())))
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-reference", action="store_true", help="Skip e2cnn.")
    parser.add_argument("--no-write", action="store_true", help="Do not update the report.")
    args = parser.parse_args()

    import e2compile.compiler  # noqa: F401 - "cold" times the compilation, not this import
    from runtime import bases

    rows = []
    os.environ.pop("E2C_OFFLINE", None)
    for name in SPACES:
        with tempfile.TemporaryDirectory(prefix="e2c-bench-store-") as root:
            os.environ["E2C_CACHE_DIR"] = root
            bases.MEMO.clear()
            start = time.perf_counter()
            build_equivariant(name)
            cold = time.perf_counter() - start

            def from_store(name=name):
                bases.MEMO.clear()
                build_equivariant(name)

            warm_store = timed(from_store, args.repeats)
            warm_memo = timed(lambda name=name: build_equivariant(name), args.repeats, warmup=1)
            plain = timed(lambda name=name: build_plain(name), args.repeats, warmup=1)
            ref = None if args.no_reference else reference_times(name, min(args.repeats, 3))
            rows.append((name, cold, warm_store, warm_memo, plain, ref))
    torch_import, runtime_added = import_overhead()

    lines = [
        "## Instantiation (`benchmarks/instantiate.py`)",
        "",
        f"Six 3x3 layers, regular fields {' -> '.join(map(str, WIDTHS))}, batch norm, ReLU; "
        f"median of {args.repeats} builds; {machine()}.",
        "",
        "| network | cold store | warm store | warm memo | plain torch | reference first "
        "| reference rebuild | warm store / plain | warm memo / plain "
        "| reference first / warm store |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, cold, warm_store, warm_memo, plain, ref in rows:
        ref_first = f"{ref['first']:.3f} s" if ref else "n/a"
        ref_warm = f"{ref['warm']:.3f} s" if ref else "n/a"
        speedup = f"{ref['first'] / warm_store:.0f}x" if ref else "n/a"
        lines.append(
            f"| {name} | {cold:.3f} s | {warm_store:.3f} s | {warm_memo:.3f} s | {plain:.3f} s "
            f"| {ref_first} | {ref_warm} | {warm_store / plain:.2f} | {warm_memo / plain:.2f} "
            f"| {speedup} |"
        )
    lines += [
        "",
        f"Import (fresh interpreter, median of 5): `import torch` {torch_import:.3f} s, then "
        f"`from runtime import nn` adds {runtime_added:.3f} s.",
    ]
    if not any(row[-1] for row in rows):
        lines.append("Reference (e2cnn) not measured: run `bash scripts/setup_reference_env.sh`.")
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        update_report("instantiate", text)


if __name__ == "__main__":
    main()
