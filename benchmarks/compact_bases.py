"""Compact artifacts: size, compile memory and time of big bases, ours vs e2cnn, in one run.

For the D16 regular -> regular layer (``e2c compile --gspace fliprot2d -N 16 --in regular --out
regular --kernel-size k``), for each kernel size:

* **artifact**: the file the store writes (compact form); **dense v1**: what the dense
  ``(dim, O, I, k*k)`` float64 array of algorithm version 1 held, ``dim * 32 * 32 * k*k * 8`` bytes
  (computed from ``dim``, not compiled: it took gigabytes);
* **peak RSS**: of the whole ``e2c compile`` process (fresh process, empty store), from the kernel's
  ``ru_maxrss``; **wall**: that process from start to exit; **reported**: the time ``e2c compile``
  prints (the compile itself);
* **e2cnn**: the same layer as ``e2cnn.nn.R2Conv(regular, regular, k)`` built in a fresh reference
  process (import excluded, build included) and that process's peak RSS; skipped after the first
  time-out;
* **buffers**: bytes of basis buffers the layer holds at run time (float32), ours vs e2cnn's.

Usage: ``python benchmarks/compact_bases.py [--sizes 5 7 9 11 13 15] [--no-reference]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

_WRAPPER = (
    "import json, resource, subprocess, sys, time;"
    "t = time.perf_counter();"
    "p = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
    "w = time.perf_counter() - t;"
    "print(json.dumps([resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024, w,"
    " p.returncode, p.stdout, p.stderr]))"
)


def measure_compile(k: int) -> dict:
    """One ``e2c compile`` in a fresh process with an empty store."""
    with tempfile.TemporaryDirectory(prefix="e2c-bench-") as root:
        env = dict(os.environ, E2C_CACHE_DIR=root, PYTHONPATH=str(REPO))
        env.pop("E2C_CACHE_PATH", None)
        cmd = [sys.executable, "-m", "cli", "compile", "--gspace", "fliprot2d", "-N", "16"]
        cmd += ["--in", "regular", "--out", "regular", "--kernel-size", str(k), "--json"]
        out = subprocess.run(
            [sys.executable, "-c", _WRAPPER, *cmd], env=env, capture_output=True, text=True
        )
        peak, wall, code, stdout, stderr = json.loads(out.stdout)
        if code != 0:
            raise RuntimeError(f"e2c compile failed for k={k}: {stderr[-2000:]}")
        report = json.loads(stdout)
        (artifact,) = Path(root).glob("*/*.h5")
        return {
            "artifact": artifact.stat().st_size,
            "peak_rss": peak,
            "wall": wall,
            "reported": report["seconds"],
        }


def our_layer(k: int) -> dict:
    from e2compile import gspaces
    from runtime import nn

    gs = gspaces.FlipRot2dOnR2(16)
    t = nn.FieldType(gs, [gs.regular_repr])
    conv = nn.R2Conv(t, t, k)
    (block,) = conv.basisexpansion.blocks
    return {"dim": block.dimension(), "buffers": block.buffer_bytes(), "path": block.path}


_REFERENCE = r"""
import resource
gspace = gspaces.FlipRot2dOnR2(16)
t = nn.FieldType(gspace, [gspace.regular_repr])
t0 = time.perf_counter()
conv = nn.R2Conv(t, t, ARGS["k"])
seconds = time.perf_counter() - t0
buffers = sum(b.numel() * b.element_size() for b in conv.basisexpansion.buffers())
print(json.dumps({"seconds": seconds, "buffers": buffers, "dim": conv.weights.numel(),
                  "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def reference_layer(k: int, timeout: float) -> dict | None:
    import reference

    try:
        return reference.run_reference(reference._snippet(_REFERENCE, {"k": k}), timeout=timeout)
    except (reference.ReferenceUnavailable, reference.ReferenceFailed) as error:
        print(f"  e2cnn k={k}: {str(error).splitlines()[0]}", file=sys.stderr)
        return None


def _mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB" if n < 2**30 else f"{n / 2**30:.2f} GiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 7, 9, 11, 13, 15])
    parser.add_argument("--no-reference", action="store_true", help="Skip e2cnn.")
    parser.add_argument("--timeout", type=float, default=120.0, help="Per e2cnn layer.")
    args = parser.parse_args()
    print(
        f"# {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cores, fresh "
        "processes, D16 regular -> regular"
    )
    header = (
        "| k | dim | artifact | dense v1 | peak RSS | wall | reported | buffers "
        "| e2cnn time | e2cnn peak RSS | e2cnn buffers |"
    )
    print(header)
    print("|---" * 11 + "|")
    reference_ok = not args.no_reference
    for k in args.sizes:
        ours = measure_compile(k)
        layer = our_layer(k)
        dense = layer["dim"] * 32 * 32 * k * k * 8
        ref = reference_layer(k, args.timeout) if reference_ok else None
        if reference_ok and ref is None:
            reference_ok = False  # it timed out (or failed): larger k would too
        cells = [
            str(k),
            str(layer["dim"]),
            _mib(ours["artifact"]),
            _mib(dense),
            f"{ours['peak_rss'] / 1e9:.2f} GB",
            f"{ours['wall']:.2f} s",
            f"{ours['reported']:.2f} s",
            _mib(layer["buffers"]),
            f"{ref['seconds']:.2f} s" if ref else "-",
            f"{ref['peak_rss'] / 1e9:.2f} GB" if ref else "-",
            _mib(ref["buffers"]) if ref else "-",
        ]
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
