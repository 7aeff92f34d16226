"""Train step through the compact expansion vs the dense one (version 1) vs plain torch, one run.

Networks: the D8 and C16 networks of ``_runtime_nets.py`` (six 3x3 layers, 16 -> 64 regular
fields, batch 4, 32x32) and an expansion-heavy one, ``C16x8@7``: C16, 3 trivial -> 8 -> 8 -> 8
regular fields, 7x7 kernels (padding 3), batch 8, 48x48.

For each network four twins train in turns (forward, mean-square loss, backward, SGD step; one
warm-up round, then best and median of the repeats, warm process):

* **auto**: the layers as built by default (each basis pair on the path the cost model picks);
* **dense v1**: every pair forced onto the dense path (the dense ``(dim, O, I, S)`` basis in
  memory, one product: what version 1 did);
* **compact**: every pair forced onto the compact path (``force_path = "compact"``);
* **plain**: ``net.export()`` back in train mode (plain ``Conv2d`` layers).

It also prints the bytes of basis buffers of the auto and compact twins. Two more tables:

* ``--buffers``: the bytes of basis buffers of every convolution of the networks, per path,
  against e2cnn's (``benchmarks/reference.py``; skipped without the reference environment);
* ``--expansion``: forward plus backward of the networks' filter expansions alone (medians: the
  part of the train step where the twins differ, far less noisy than the whole step);
* ``--grid``: forward plus backward of one basis pair's expansion alone, dense against compact,
  over groups, kernel sizes and field counts (one thread, medians): the measurements
  :data:`runtime.nn.modules.conv.functional.ELEMENT_COST` and ``LAUNCH_COST`` were fitted to.

Usage: ``python benchmarks/expansion_paths.py [--repeats 7] [--networks ...] [--buffers]
[--grid]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch
from _runtime_nets import build_equivariant, gspace


def _alternating(steps: dict, repeats: int) -> dict[str, list[float]]:
    """Wall times of each step, run in turns (one untimed warm-up round first)."""
    times: dict[str, list[float]] = {label: [] for label in steps}
    for round_ in range(repeats + 1):
        for label, step in steps.items():
            start = time.perf_counter()
            step()
            if round_:
                times[label].append(time.perf_counter() - start)
    return times


def heavy_network():
    from e2compile import gspaces
    from runtime import nn

    gs = gspaces.Rot2dOnR2(16)
    prev = nn.FieldType(gs, [gs.trivial_repr] * 3)
    layers = []
    for _ in range(3):
        t = nn.FieldType(gs, [gs.regular_repr] * 8)
        layers += [nn.R2Conv(prev, t, 7, padding=3), nn.InnerBatchNorm(t), nn.ReLU(t)]
        prev = t
    return nn.SequentialModule(*layers)


GROUPS = {"D8": "D8", "C16": "C16", "C16x8@7": "C16"}
NETWORKS = {
    "D8": (lambda: build_equivariant("D8"), 4, 32),
    "C16": (lambda: build_equivariant("C16"), 4, 32),
    "C16x8@7": (heavy_network, 8, 48),
}


def _buffer_bytes(module) -> int:
    """Bytes of every buffer of the basis expansions in ``module``."""
    from runtime.nn.modules.conv.basis_expansion import BlocksBasisExpansion

    expansions = [m for m in module.modules() if isinstance(m, BlocksBasisExpansion)]
    return sum(b.numel() * b.element_size() for m in expansions for b in m.buffers())


def _paths(net) -> str:
    from runtime.nn.modules.conv.basis_expansion import SingleBlockBasisExpansion

    paths = [m.path for m in net.modules() if isinstance(m, SingleBlockBasisExpansion)]
    return ", ".join(f"{paths.count(p)} {p}" for p in sorted(set(paths)))


def measure(name: str, repeats: int) -> None:
    from runtime import nn

    _, batch, size = NETWORKS[name]
    nets = _twins(name)
    for net in nets.values():
        net.load_state_dict(nets["auto"].state_dict())
    plain = nets["auto"].export()  # (puts it in eval mode)
    x = torch.randn(batch, 3, size, size)
    gx = nn.GeometricTensor(x, nets["auto"].in_type)
    with torch.no_grad():  # the twins compute the same function (then train apart)
        want = plain(x)
        for net in nets.values():
            torch.testing.assert_close(net.eval()(gx).tensor, want, rtol=1e-4, atol=1e-4)
    twins = {**nets, "plain": plain}
    steps = {}
    for label, net in twins.items():
        net.train()
        opt = torch.optim.SGD(net.parameters(), lr=1e-3)
        inp = x if label == "plain" else gx

        def step(net=net, opt=opt, inp=inp, label=label):
            opt.zero_grad(set_to_none=True)
            out = net(inp)
            (out if label == "plain" else out.tensor).pow(2).mean().backward()
            opt.step()

        steps[label] = step
    times = _alternating(steps, repeats)
    best = {label: min(t) for label, t in times.items()}
    median = {label: statistics.median(t) for label, t in times.items()}
    ratio = {k: (best[k] / best["plain"], median[k] / median["plain"]) for k in best}
    cells = [f"{ratio[k][0]:.3f}× ({ratio[k][1]:.3f}×)" for k in ("auto", "dense v1", "compact")]
    cells.append(f"{best['plain'] * 1e3:.0f} ms")
    cells += [f"{_buffer_bytes(nets[k]) / 2**20:.2f} MiB" for k in ("auto", "compact")]
    print(f"| {name} | " + " | ".join(cells) + f" | {_paths(nets['auto'])} |", flush=True)


def _twins(name: str) -> dict:
    """The network ``name`` built with the auto path and each path forced (same weights)."""
    from runtime.nn.modules.conv.basis_expansion import SingleBlockBasisExpansion

    nets = {}
    for label, path in (("auto", None), ("dense v1", "dense"), ("compact", "compact")):
        SingleBlockBasisExpansion.force_path = path
        try:
            torch.manual_seed(0)
            nets[label] = NETWORKS[name][0]()
        finally:
            SingleBlockBasisExpansion.force_path = None
    return nets


_REFERENCE_BUFFERS = r"""
gspace = make_gspace(ARGS["group"])
out = []
for layer in ARGS["layers"]:
    conv = nn.R2Conv(field_type(gspace, layer["in"]), field_type(gspace, layer["out"]),
                     kernel_size=layer["k"], initialize=False)
    out.append(sum(b.numel() * b.element_size() for b in conv.basisexpansion.buffers()))
print(json.dumps({"buffers": out}))
"""


def _layers(net) -> list:
    from runtime import nn

    return [m for m in net.modules() if isinstance(m, nn.R2Conv)]


def _reference_buffers(name: str, convs: list) -> list | None:
    """e2cnn's bytes of basis-expansion buffers for the same convolutions (float32)."""
    import reference

    def fields(field_type):
        names = {r.name for r in field_type.representations}
        kind = "regular" if names == {"regular"} else "trivial"
        return [kind, len(field_type.representations)]

    layers = [
        {"in": fields(c.in_type), "out": fields(c.out_type), "k": c.kernel_size} for c in convs
    ]
    try:
        args = {"group": GROUPS[name], "layers": layers}
        code = reference._snippet(_REFERENCE_BUFFERS, args)
        return reference.run_reference(code)["buffers"]
    except (reference.ReferenceUnavailable, reference.ReferenceFailed) as error:
        print(f"  e2cnn: {str(error).splitlines()[0]}", file=sys.stderr)
        return None


def buffers(name: str) -> None:
    """Print the basis-buffer bytes of every convolution of ``name``, per path and e2cnn's."""
    nets = _twins(name)
    convs = {label: _layers(net) for label, net in nets.items()}
    reference = _reference_buffers(name, convs["auto"])
    kib = lambda b: f"{b / 1024:,.1f} KiB"  # noqa: E731
    for n, conv in enumerate(convs["auto"]):
        cells = [kib(_buffer_bytes(convs[k][n].basisexpansion)) for k in convs]
        paths = sorted({b.path for b in conv.basisexpansion.blocks})
        cells.append(kib(reference[n]) if reference else "-")
        layer = f"{len(conv.in_type.representations)}->{len(conv.out_type.representations)}"
        print(
            f"| {name} | {n} | {layer}, {conv.kernel_size}x{conv.kernel_size} | "
            + " | ".join(cells)
            + f" | {', '.join(paths)} |",
            flush=True,
        )


GRID_GROUPS = {
    "C8": ("Rot2dOnR2", 8),
    "C16": ("Rot2dOnR2", 16),
    "D8": ("FlipRot2dOnR2", 8),
    "D16": ("FlipRot2dOnR2", 16),
}


def grid(repeats: int) -> None:
    """Time one pair's expansion (forward and backward), dense vs compact, over a grid; one JSON
    line per case with the quantities :func:`~runtime.nn.modules.conv.functional.compact_costs`
    uses."""
    import numpy as np

    from e2compile import gspaces
    from e2compile.kernels.kind import kernel_spec
    from runtime import bases
    from runtime.nn.modules.conv import functional as F
    from runtime.nn.modules.conv.basis_expansion import SingleBlockBasisExpansion

    torch.set_num_threads(1)
    for group, (cls, order) in GRID_GROUPS.items():
        gs = getattr(gspaces, cls)(order)
        irrep = gs.irrep(1) if cls == "Rot2dOnR2" else gs.irrep(1, 1)
        for k in (3, 5, 7):
            cases = [
                (gs.regular_repr, gs.regular_repr, fo, fi)
                for fo, fi in ((1, 1), (4, 4), (8, 8), (16, 16), (32, 32), (8, 3), (64, 64))
                if fo * fi * k * k <= 64 * 64 * 9
                and (order < 16 or cls == "Rot2dOnR2" or fo * fi <= 256)
            ]
            cases += [(gs.trivial_repr, gs.regular_repr, 8, 3), (gs.regular_repr, irrep, 4, 8)]
            for in_repr, out_repr, fo, fi in cases:
                art = bases.load_basis(kernel_spec(gs, in_repr, out_repr, k))
                if not art.dim:
                    continue
                blocks = {}
                for path in ("dense", "compact"):
                    SingleBlockBasisExpansion.force_path = path
                    blocks[path] = SingleBlockBasisExpansion(art, fields=fo * fi).float()
                SingleBlockBasisExpansion.force_path = None
                w = torch.randn(fo * fi * art.dim, requires_grad=True)
                times = {path: [] for path in blocks}
                for _ in range(repeats + 1):
                    for path, block in blocks.items():
                        start = time.perf_counter()
                        block.expand(w, fo, fi).sum().backward()
                        times[path].append(time.perf_counter() - start)
                o, i = art.shape
                sizes = art.out_irrep_sizes
                counts = np.bincount(art.attributes["out_irrep_position"], minlength=sizes.size)
                row = {
                    "group": group,
                    "in": in_repr.name,
                    "out": out_repr.name,
                    "k": k,
                    "n_out": fo,
                    "n_in": fi,
                    "dim": art.dim,
                    "o": o,
                    "i": i,
                    "s": art.points,
                    "per_slot": int(counts.max()),
                }
                costs = F.compact_costs(fo * fi, art.dim, row["per_slot"], o, i, art.points)
                row["model"] = min(costs, key=costs.get)
                row.update({path: statistics.median(t[1:]) for path, t in times.items()})
                row.update({f"{path} bytes": b.buffer_bytes() for path, b in blocks.items()})
                print(json.dumps(row), flush=True)


def expansion(name: str, repeats: int) -> None:
    """Forward and backward of every filter expansion of ``name`` alone (the part of a train step
    where the twins differ), auto vs dense v1 vs compact, in turns; median ms."""
    nets = _twins(name)
    steps = {}
    for label, net in nets.items():
        convs = _layers(net)
        probes = [torch.randn_like(c.expand_parameters()[0]) for c in convs]

        def step(convs=convs, probes=probes):
            total = sum((c.expand_parameters()[0] * p).sum() for c, p in zip(convs, probes))
            total.backward()

        steps[label] = step
    times = _alternating(steps, repeats)
    cells = [f"{statistics.median(times[k]) * 1e3:.1f} ms" for k in steps]
    print(f"| {name} | " + " | ".join(cells) + f" | {_paths(nets['auto'])} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS))
    parser.add_argument("--buffers", action="store_true", help="Buffer bytes per layer only.")
    parser.add_argument("--grid", action="store_true", help="Expansion alone over a grid only.")
    parser.add_argument(
        "--expansion", action="store_true", help="The networks' filter expansions alone only."
    )
    args = parser.parse_args()
    if args.grid:
        return grid(args.repeats)
    if args.expansion:
        print("| network | auto | dense v1 | compact | auto paths |")
        print("|---|---:|---:|---:|---|")
        for name in args.networks:
            expansion(name, args.repeats)
        return
    if args.buffers:
        print(
            "| network | layer | fields, kernel | auto | dense v1 | compact | e2cnn | auto paths |"
        )
        print("|---|---:|---|---:|---:|---:|---:|---|")
        for name in args.networks:
            buffers(name)
        return
    gspace("D8")  # import the group code before timing
    print(
        f"# torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores; "
        "train step, warm process, best (median) of the repeats"
    )
    print(
        "| network | auto / plain | dense v1 / plain | compact / plain | plain step "
        "| auto buffers | compact buffers | auto paths |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name in args.networks:
        measure(name, args.repeats)


if __name__ == "__main__":
    main()
