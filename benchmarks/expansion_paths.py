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

It also prints the bytes of basis buffers of the auto and compact twins. Usage:
``python benchmarks/expansion_paths.py [--repeats 7]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from _runtime_nets import build_equivariant, gspace


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


NETWORKS = {
    "D8": (lambda: build_equivariant("D8"), 4, 32),
    "C16": (lambda: build_equivariant("C16"), 4, 32),
    "C16x8@7": (heavy_network, 8, 48),
}


def _buffer_bytes(net) -> int:
    from runtime.nn.modules.conv.basis_expansion import SingleBlockBasisExpansion

    return sum(m.buffer_bytes() for m in net.modules() if isinstance(m, SingleBlockBasisExpansion))


def _paths(net) -> str:
    from runtime.nn.modules.conv.basis_expansion import SingleBlockBasisExpansion

    paths = [m.path for m in net.modules() if isinstance(m, SingleBlockBasisExpansion)]
    return ", ".join(f"{paths.count(p)} {p}" for p in sorted(set(paths)))


def measure(name: str, repeats: int) -> None:
    from runtime import nn
    from runtime.nn.modules.conv.basis_expansion import SingleBlockBasisExpansion

    build, batch, size = NETWORKS[name]
    nets = {}
    for label, path in (("auto", None), ("dense v1", "dense"), ("compact", "compact")):
        SingleBlockBasisExpansion.force_path = path
        try:
            torch.manual_seed(0)
            nets[label] = build()
        finally:
            SingleBlockBasisExpansion.force_path = None
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
    times: dict[str, list[float]] = {label: [] for label in steps}
    for round_ in range(repeats + 1):
        for label, step in steps.items():
            start = time.perf_counter()
            step()
            if round_:
                times[label].append(time.perf_counter() - start)
    best = {label: min(t) for label, t in times.items()}
    median = {label: statistics.median(t) for label, t in times.items()}
    ratio = {k: (best[k] / best["plain"], median[k] / median["plain"]) for k in best}
    cells = [f"{ratio[k][0]:.3f}× ({ratio[k][1]:.3f}×)" for k in ("auto", "dense v1", "compact")]
    cells.append(f"{best['plain'] * 1e3:.0f} ms")
    cells += [f"{_buffer_bytes(nets[k]) / 2**20:.2f} MiB" for k in ("auto", "compact")]
    print(f"| {name} | " + " | ".join(cells) + f" | {_paths(nets['auto'])} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS))
    args = parser.parse_args()
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
