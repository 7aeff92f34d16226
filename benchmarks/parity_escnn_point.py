"""R2PointConv side by side with escnn 1.0.11 (run from the worktree root with our ``.venv``)::

    PYTHONPATH=$PWD .venv/bin/python benchmarks/parity_escnn_point.py [--escnn-python PATH]

escnn is never imported here: it runs in a subprocess with ``.venv-escnn/bin/python`` (made by
``bash scripts/setup_escnn_env.sh``; its R2PointConv needs torch_geometric, which that environment
has). For every case both sides see the same points, edges, features and bias:

1. escnn builds its layer, draws its weights and bias (seeded) and evaluates its filter at every
   edge displacement and its output;
2. we map escnn's weights onto ours: the filter is linear in the weights, so our weights are the
   least-squares solution matching escnn's filter at those displacements (both bases span the
   same band-limited space; the fit residual says how well);
3. outputs are compared (max absolute difference, relative to the output's max);
4. equivariance errors ``||F(g x) - g F(x)|| / ||g F(x)||`` in float32 for every element of the
   finite groups and a sweep of 16 angles (and their reflections) of SO(2)/O(2), both libraries;
5. the initialisation: the expected squared Frobenius norm of the filter, averaged over the
   displacements: ``sum_j var(w_j) mean_p ||B_j(p)||^2`` with ``B_j`` the filter of weight ``j``
   alone, from the exact std of every weight (escnn's from the function behind its
   ``generalized_he_init``).

Prints a Markdown report (docs/escnn_parity_point.md holds one).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
INIT_EDGES = 64  # displacements (the first edges) over which the filter energy is averaged

# group: (family, N, extra); fields: "regular", "trivial" or an irrep id
CASES: list[dict[str, Any]] = [
    {"name": "SO(2) irreps", "group": {"family": "rot", "N": -1, "maximum_frequency": 6},
     "in": [[0], [1]], "out": [[0], [2], [1]], "kwargs": {"width": 2.0, "n_rings": 3}},
    {"name": "C8 regular", "group": {"family": "rot", "N": 8},
     "in": ["regular", "trivial"], "out": ["regular", "regular"],
     "kwargs": {"width": 2.0, "n_rings": 3}},
    {"name": "C4 irrep 1 (j = N/2)", "group": {"family": "rot", "N": 4},
     "in": [[1], [0]], "out": [[1], [2]],
     "kwargs": {"rings": [0.0, 0.7, 1.5], "sigma": 0.5, "frequencies_cutoff": 2.0}},
    {"name": "D4 regular", "group": {"family": "fliprot", "N": 4},
     "in": ["regular", "trivial"], "out": ["regular", [1, 1]],
     "kwargs": {"width": 1.5, "n_rings": 4}},
    {"name": "D3 irreps, axis 0.3", "group": {"family": "fliprot", "N": 3, "axis": 0.3},
     "in": [[0, 0], [1, 1]], "out": [[1, 0], [1, 1], [0, 0]],
     "kwargs": {"width": 2.0, "n_rings": 3}},
    {"name": "O(2) irreps", "group": {"family": "fliprot", "N": -1, "maximum_frequency": 6},
     "in": [[0, 0], [1, 1], [1, 2]], "out": [[0, 0], [1, 0], [1, 1]],
     "kwargs": {"width": 2.0, "n_rings": 3}},
    {"name": "flip regular", "group": {"family": "flip"},
     "in": ["regular"], "out": ["regular", "trivial"], "kwargs": {"width": 2.0, "n_rings": 3}},
    {"name": "trivial", "group": {"family": "trivial"},
     "in": ["trivial", "trivial"], "out": ["trivial"] * 3,
     "kwargs": {"width": 2.0, "n_rings": 3, "frequencies_cutoff": 1.5}},
]  # fmt: skip

ESCNN_CODE = r"""
import json, math, sys, warnings
warnings.simplefilter("ignore")
import numpy as np, torch
from escnn import gspaces, nn
from escnn.nn.init import _generalized_he_init_variances

def gspace(g):
    fam = g["family"]
    if fam == "rot":
        return gspaces.rot2dOnR2(g["N"], g.get("maximum_frequency", 6))
    if fam == "fliprot":
        axis = g.get("axis", math.pi / 2)
        return gspaces.flipRot2dOnR2(g["N"], g.get("maximum_frequency", 6), axis)
    if fam == "flip":
        return gspaces.flip2dOnR2(g.get("axis", math.pi / 2))
    return gspaces.trivialOnR2()

def field(gs, f):
    if f == "regular":
        return gs.regular_repr
    if f == "trivial":
        return gs.trivial_repr
    return gs.irrep(*f)

def element(G, e):
    return G.element(tuple(e) if isinstance(e, list) else e)

data = json.load(sys.stdin)
results = []
for case in data["cases"]:
    gs = gspace(case["group"])
    ti = nn.FieldType(gs, [field(gs, f) for f in case["in"]])
    to = nn.FieldType(gs, [field(gs, f) for f in case["out"]])
    torch.manual_seed(case["seed"])
    conv = nn.R2PointConv(ti, to, **case["kwargs"])
    if conv.bias is not None:
        with torch.no_grad():
            conv.bias.normal_()
    conv.eval()
    coords = torch.tensor(case["coords"], dtype=torch.float32)
    x = torch.tensor(case["x"], dtype=torch.float32)
    edges = torch.tensor(case["edges"], dtype=torch.long)
    delta = coords[edges[0]] - coords[edges[1]]
    with torch.no_grad():
        gx = nn.GeometricTensor(x, ti, coords)
        y = conv(gx, edges)
        filt = conv.expand_filter(delta)
        errors = []
        for e in case["elements"]:
            g = element(gs.fibergroup, e)
            y1 = conv(gx.transform(g), edges).tensor
            y2 = y.transform(g).tensor
            errors.append(((y1 - y2).norm() / y2.norm()).item())
        n = conv.weights.numel()
        var = _generalized_he_init_variances(conv.basissampler).double() ** 2  # it holds stds
        probe = delta[: case["init_edges"]]
        norms = []
        for j in range(n):
            conv.weights.data.zero_()
            conv.weights.data[j] = 1.0
            norms.append((conv.expand_filter(probe).double() ** 2).sum((1, 2)).mean().item())
    results.append({
        "weights": conv.weights.numel(),
        "bias": None if conv.bias is None else conv.bias.tolist(),
        "y": y.tensor.tolist(),
        "filter": filt.tolist(),
        "errors": errors,
        "init_sq": float((var * torch.tensor(norms, dtype=torch.float64)).sum()),
    })
print(json.dumps(results))
"""


def _gspace(g: dict[str, Any]) -> Any:
    from e2compile import gspaces

    fam = g["family"]
    if fam == "rot":
        return gspaces.rot2dOnR2(g["N"], g.get("maximum_frequency", 6))
    if fam == "fliprot":
        return gspaces.flipRot2dOnR2(
            g["N"], g.get("maximum_frequency", 6), g.get("axis", math.pi / 2)
        )
    if fam == "flip":
        return gspaces.flip2dOnR2(g.get("axis", math.pi / 2))
    return gspaces.trivialOnR2()


def _field(gs: Any, f: Any) -> Any:
    if f == "regular":
        return gs.regular_repr
    if f == "trivial":
        return gs.trivial_repr
    return gs.irrep(*f)


def _elements(gs: Any, g: dict[str, Any]) -> list[Any]:
    """Every element of a finite group; 16 angles (and their reflections) for SO(2)/O(2)."""
    group = gs.fibergroup
    if group.order() > 0:
        return [list(e) if isinstance(e, tuple) else int(e) for e in group.elements]
    angles = [2 * math.pi * k / 16 + 0.1 for k in range(16)]
    if g["family"] == "fliprot":
        return [[f, a] for f in (0, 1) for a in angles]
    return angles


def _our_element(e: Any) -> Any:
    return tuple(e) if isinstance(e, list) else e


def _case_data(case: dict[str, Any], seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    gs = _gspace(case["group"])
    size = sum(_field(gs, f).size for f in case["in"])
    coords = rng.uniform(-1.5, 1.5, size=(24, 2)).astype(np.float32)
    dist = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    src, dst = np.nonzero(dist <= 2.0)  # self loops included
    return {
        **case,
        "seed": seed,
        "coords": coords.tolist(),
        "x": rng.normal(size=(24, size)).astype(np.float32).tolist(),
        "edges": [src.tolist(), dst.tolist()],
        "elements": _elements(gs, case["group"]),
        "init_edges": INIT_EDGES,
    }


def run_escnn(python: Path, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [str(python), "-c", ESCNN_CODE],
        input=json.dumps({"cases": cases}),
        capture_output=True,
        text=True,
        timeout=1200,
        cwd="/tmp",
    )
    if proc.returncode != 0:
        raise SystemExit(f"escnn failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _design(conv: Any, delta: torch.Tensor) -> torch.Tensor:
    """``(E * O * I, n_weights)``: the filter at ``delta`` is linear in the weights."""
    n = conv.weights.numel()
    columns = []
    with torch.no_grad():
        saved = conv.weights.detach().clone()
        for j in range(n):
            conv.weights.zero_()
            conv.weights[j] = 1.0
            columns.append(conv.expand_filter(delta).reshape(-1))
        conv.weights.copy_(saved)
    return torch.stack(columns, dim=1)


def ours(case: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    from runtime import nn

    gs = _gspace(case["group"])
    ti = nn.FieldType(gs, [_field(gs, f) for f in case["in"]])
    to = nn.FieldType(gs, [_field(gs, f) for f in case["out"]])
    conv = nn.R2PointConv(ti, to, **case["kwargs"])
    coords = torch.tensor(case["coords"], dtype=torch.float32)
    x = torch.tensor(case["x"], dtype=torch.float32)
    edges = torch.tensor(case["edges"], dtype=torch.long)
    delta = coords[edges[0]] - coords[edges[1]]

    # map escnn's weights onto ours (float64 least squares on its float32 filter)
    conv64 = nn.R2PointConv(ti, to, **case["kwargs"]).double()
    design = _design(conv64, delta.double())
    target = torch.tensor(ref["filter"], dtype=torch.float64).reshape(-1)
    w, *_ = torch.linalg.lstsq(design, target.unsqueeze(1), driver="gelsd")
    fit = (design @ w).squeeze(1) - target
    with torch.no_grad():
        conv.weights.copy_(w.squeeze(1))
        if ref["bias"] is not None:
            conv.bias.copy_(torch.tensor(ref["bias"]))
    conv.eval()
    with torch.no_grad():
        gx = nn.GeometricTensor(x, ti, coords)
        y = conv(gx, edges)
        y_ref = torch.tensor(ref["y"])
        errors = []
        for e in case["elements"]:
            g = _our_element(e)
            y1 = conv(gx.transform(g), edges).tensor
            y2 = y.transform(g).tensor
            errors.append(((y1 - y2).norm() / y2.norm()).item())
        std = torch.from_numpy(conv._weight_std())
        probe = design.reshape(delta.shape[0], -1, design.shape[1])[: case["init_edges"]]
        norms = (probe**2).sum(1).mean(0)
    return {
        "weights": conv.weights.numel(),
        "fit": fit.abs().max().item() / target.abs().max().item(),
        "diff": (y.tensor - y_ref).abs().max().item(),
        "scale": y_ref.abs().max().item(),
        "errors": errors,
        "init_sq": float((std**2 * norms).sum()),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--escnn-python", default=str(ROOT / ".venv-escnn" / "bin" / "python"))
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    cases = [_case_data(case, seed) for seed, case in enumerate(CASES)]
    start = time.perf_counter()
    refs = run_escnn(Path(args.escnn_python), cases)
    escnn_s = time.perf_counter() - start
    rows = [ours(case, ref) for case, ref in zip(cases, refs)]

    print(f"escnn subprocess (import + all cases): {escnn_s:.1f} s\n")
    print(
        "| case | weights escnn / ours | filter fit (rel.) | output max abs diff | output max |"
        " equivariance escnn max / mean | ours max / mean | init E‖K‖² escnn / ours |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for case, ref, row in zip(cases, refs, rows):
        ee, oe = np.asarray(ref["errors"]), np.asarray(row["errors"])
        print(
            f"| {case['name']} | {ref['weights']} / {row['weights']} | {row['fit']:.1e} | "
            f"{row['diff']:.1e} | {row['scale']:.2f} | {ee.max():.1e} / {ee.mean():.1e} | "
            f"{oe.max():.1e} / {oe.mean():.1e} | {ref['init_sq']:.3f} / {row['init_sq']:.3f} |"
        )
    print(
        f"\nelements per case: {[len(c['elements']) for c in cases]}; "
        f"edges per case: {[len(c['edges'][0]) for c in cases]}"
    )


if __name__ == "__main__":
    sys.exit(main())
