"""Time to compile every distinct kernel basis of two wide regular-field networks.

Networks (six layers, 5x5 then 3x3 kernels), on D8 and on C16:
``3 trivial -> 24 regular -> 24 regular -> 48 regular -> 48 regular -> 48 regular -> 10 trivial``
fields. A layer needs one basis per distinct (input field, output field, kernel size), so each
network has four distinct bases; the width does not change that number.

* e2compile: ``compile(kernel_spec(...))`` for each distinct basis (no artifact store involved);
* the reference library (e2cnn), when importable: the same bases built and sampled the way its
  ``R2Conv`` does (``compute_basis_params`` + ``BlocksBasisExpansion`` with ``recompute=True``).

"first" is the first build in the process (it includes building the analytic basis and any group
data); "best"/"median" are over the repeats that follow.

Usage: ``python benchmarks/compile_bases.py [--repeats 5]``
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LAYERS = [  # (input field, output field, kernel size)
    ("trivial", "regular", 5),
    ("regular", "regular", 5),
    ("regular", "regular", 3),
    ("regular", "regular", 3),
    ("regular", "regular", 3),
    ("regular", "trivial", 3),
]
NETWORKS = {"D8": ("fliprot2d", 8), "C16": ("rot2d", 16)}

Row = tuple[str, float, float, float, int]  # name, first, best, median, dim


def distinct_layers() -> list[tuple[str, str, int]]:
    return list(dict.fromkeys(LAYERS))


def _measure(name: str, build: Callable[[], int], repeats: int) -> Row:
    start = time.perf_counter()
    dim = build()
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        build()
        times.append(time.perf_counter() - start)
    return name, first, min(times), statistics.median(times), dim


def time_e2compile(network: str, repeats: int) -> list[Row]:
    from e2compile import gspaces
    from e2compile.compiler import compile
    from e2compile.kernels.kind import kernel_spec

    family, n = NETWORKS[network]
    gspace = gspaces.FlipRot2dOnR2(n) if family == "fliprot2d" else gspaces.Rot2dOnR2(n)
    reprs = {"trivial": gspace.trivial_repr, "regular": gspace.regular_repr}
    rows = []
    for a, b, k in distinct_layers():

        def build(a=a, b=b, k=k) -> int:
            return compile(kernel_spec(gspace, reprs[a], reprs[b], k)).dim

        rows.append(_measure(f"{a}->{b} {k}x{k}", build, repeats))
    return rows


def time_reference(network: str, repeats: int) -> list[Row] | str:
    try:
        from e2cnn import gspaces as ref_gspaces
        from e2cnn import nn as ref_nn
        from e2cnn.nn.modules.r2_conv.basisexpansion_blocks import BlocksBasisExpansion
        from e2cnn.nn.modules.r2_conv.r2convolution import compute_basis_params
    except ImportError as error:
        return f"not importable ({error})"
    family, n = NETWORKS[network]
    gspace = ref_gspaces.FlipRot2dOnR2(n) if family == "fliprot2d" else ref_gspaces.Rot2dOnR2(n)
    reprs = {"trivial": gspace.trivial_repr, "regular": gspace.regular_repr}
    rows = []
    for a, b, k in distinct_layers():
        in_type = ref_nn.FieldType(gspace, [reprs[a]])
        out_type = ref_nn.FieldType(gspace, [reprs[b]])

        def build(in_type=in_type, out_type=out_type, k=k) -> int:
            grid, basis_filter, rings, sigma, max_frequency = compute_basis_params(k)
            expansion = BlocksBasisExpansion(
                in_type,
                out_type,
                basis_generator=gspace.build_kernel_basis,
                points=grid,
                sigma=sigma,
                rings=rings,
                maximum_offset=None,
                maximum_frequency=max_frequency,
                basis_filter=basis_filter,
                recompute=True,
            )
            return expansion.dimension()

        try:
            rows.append(_measure(f"{a}->{b} {k}x{k}", build, repeats))
        except Exception as error:  # the stock 0.2.3 release breaks on NumPy 2 / recent torch
            return f"failed: {type(error).__name__}: {error}"
    return rows


def _print(title: str, rows: list[Row]) -> tuple[float, float]:
    print(f"\n{title}\n")
    print("| basis | dim | first (ms) | best (ms) | median (ms) |")
    print("|---|---:|---:|---:|---:|")
    for name, first, best, median, dim in rows:
        print(f"| {name} | {dim} | {first * 1e3:.2f} | {best * 1e3:.2f} | {median * 1e3:.2f} |")
    first = sum(r[1] for r in rows)
    best = sum(r[2] for r in rows)
    print(f"| **all four** | | **{first * 1e3:.2f}** | **{best * 1e3:.2f}** | |")
    return first, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import numpy

    print(f"python {platform.python_version()}, numpy {numpy.__version__}, {platform.machine()}")
    start = time.perf_counter()
    import e2compile.compiler  # noqa: F401

    print(f"import e2compile.compiler: {(time.perf_counter() - start) * 1e3:.1f} ms")

    for network in NETWORKS:
        ours = _print(f"### {network}, e2compile", time_e2compile(network, args.repeats))
        reference = time_reference(network, args.repeats)
        if isinstance(reference, str):
            print(f"\n{network}, e2cnn: {reference}")
            continue
        theirs = _print(f"### {network}, e2cnn (BlocksBasisExpansion, recompute=True)", reference)
        print(
            f"\nratio e2cnn / e2compile: first {theirs[0] / ours[0]:.1f}x, "
            f"best {theirs[1] / ours[1]:.1f}x"
        )


if __name__ == "__main__":
    main()
