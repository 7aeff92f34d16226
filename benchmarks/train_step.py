"""Training step and eval forward of steerable networks vs their exported plain-torch twins.

For the D8 and C16 networks of ``_runtime_nets.py`` (six 3x3 layers, 16 -> 32 -> 64 regular
fields, batch norm, ReLU) on a batch of 4 inputs of 32x32 pixels:

* **train step**: forward, a mean-square loss, backward and an SGD step, in train mode. The
  steerable network expands its filters from the basis in every step (the overhead this measures);
  the plain network is ``net.export()`` put back in train mode (same layers, same numbers).
* **eval forward**: in eval mode under ``torch.no_grad()``; the steerable network uses its cached
  filters, so only the wrappers (field types, checks) remain.
* **state_dict bytes / learnable parameter bytes**: ``torch.save(net.state_dict())`` against the
  parameters alone (the difference: batch-norm running statistics and pickle framing; no bases,
  no expanded filters).

The two networks run alternately (one step each, in turns) so that load changes on the machine
hit both alike; times are the best of the repeats (the least disturbed by other load; the
medians are printed too).

Usage: ``python benchmarks/train_step.py [--repeats 5] [--device cpu] [--no-write]``
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import torch
from _runtime_nets import SPACES, WIDTHS, build_equivariant, machine, update_report

BATCH, SIZE = 4, 32


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def alternate(fns: list, repeats: int, device: torch.device) -> list[tuple[float, float]]:
    """(best, median) time of each function, run in turns (one warm-up round first)."""
    times: list[list[float]] = [[] for _ in fns]
    for round_ in range(repeats + 1):
        for i, fn in enumerate(fns):
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            if round_:
                times[i].append(time.perf_counter() - start)
    return [(min(t), statistics.median(t)) for t in times]


def measure(name: str, repeats: int, device: torch.device) -> dict:
    from runtime import nn

    torch.manual_seed(0)
    net = build_equivariant(name).to(device)
    plain = net.export().to(device)
    x = torch.randn(BATCH, 3, SIZE, SIZE, device=device)
    gx = nn.GeometricTensor(x, net.in_type)
    with torch.no_grad():  # the twins compute the same function (then train apart)
        torch.testing.assert_close(net(gx).tensor, plain(x), rtol=1e-3, atol=1e-3)
    net.train()
    plain.train()
    opt_net = torch.optim.SGD(net.parameters(), lr=1e-3)
    opt_plain = torch.optim.SGD(plain.parameters(), lr=1e-3)

    def step_net():
        opt_net.zero_grad(set_to_none=True)
        net(gx).tensor.pow(2).mean().backward()
        opt_net.step()

    def step_plain():
        opt_plain.zero_grad(set_to_none=True)
        plain(x).pow(2).mean().backward()
        opt_plain.step()

    train_net, train_plain = alternate([step_net, step_plain], repeats, device)
    net.eval()
    plain.eval()
    with torch.no_grad():
        eval_net, eval_plain = alternate([lambda: net(gx), lambda: plain(x)], repeats, device)

    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    param_bytes = sum(p.numel() * p.element_size() for p in net.parameters())
    plain_params = sum(p.numel() for p in plain.parameters())
    return {
        "name": name,
        "train": (train_net, train_plain),
        "eval": (eval_net, eval_plain),
        "state": (buffer.tell(), param_bytes),
        "params": (sum(p.numel() for p in net.parameters()), plain_params),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-write", action="store_true", help="Do not update the report.")
    args = parser.parse_args()
    device = torch.device(args.device)
    results = [measure(name, args.repeats, device) for name in SPACES]

    where = machine() if device.type == "cpu" else torch.cuda.get_device_name(device)
    lines = [
        f"## Training step and eval forward (`benchmarks/train_step.py`, {device.type})",
        "",
        f"Six 3x3 layers, regular fields {' -> '.join(map(str, WIDTHS))}, batch norm, ReLU; "
        f"batch {BATCH}, {SIZE}x{SIZE}; best (median) of {args.repeats} alternating runs; "
        f"{where}.",
        "",
        "| network | train step | plain train step | ratio | eval forward | plain eval | ratio "
        "| state_dict bytes | parameter bytes | ratio | parameters (plain) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        (tn, tp), (en, ep), (sb, pb), (pn, pp) = r["train"], r["eval"], r["state"], r["params"]

        def ms(t):
            return f"{t[0] * 1e3:.1f} ({t[1] * 1e3:.1f}) ms"

        lines.append(
            f"| {r['name']} | {ms(tn)} | {ms(tp)} | {tn[0] / tp[0]:.3f} ({tn[1] / tp[1]:.3f}) "
            f"| {ms(en)} | {ms(ep)} | {en[0] / ep[0]:.3f} ({en[1] / ep[1]:.3f}) "
            f"| {sb:,} | {pb:,} | {sb / pb:.4f} | {pn:,} ({pp:,}) |"
        )
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        update_report(f"train_step_{device.type}", text)


if __name__ == "__main__":
    main()
