"""Side by side with escnn 1.0.11: ``Linear``, ``IIDBatchNorm1d/2d``, ``TensorProductModule``.

escnn is never imported by the project: this script runs it in a subprocess with
``.venv-escnn/bin/python`` (made by ``bash scripts/setup_escnn_env.sh``; override with
``E2C_ESCNN_PYTHON``). Both sides build the same modules from the same plain-data cases (our API
has escnn's names, so one builder serves both), on the same inputs; escnn's parameters are then
loaded into ours:

* ``Linear``: escnn's ``weights`` and ``bias``, each weight times the sign relating escnn's basis
  element to ours (the bases are compared element by element: same layout and values, except
  that escnn's numerical Clebsch-Gordan coefficients make some D_N/O(2) elements ``-I``);
* ``IIDBatchNorm``: both train on the same three batches (running statistics compared), then
  escnn's randomised affine parameters are loaded by name and both run in eval mode;
* ``TensorProductModule``: escnn's expanded matrix is projected on our basis (least squares; the
  residual shows both span the same maps), since the two decompose ``rho ⊗ rho`` with different
  Clebsch–Gordan coefficients.

Reported: the largest output difference relative to the output's largest entry, ours vs escnn,
and the equivariance errors of both (largest ``|f(g.x) - g.f(x)|`` relative to ``max |f(x)|`` over
all elements of C_N/D_N and 16 angles of SO(2)/O(2); fibers only). Run::

    PYTHONPATH=$PWD .venv/bin/python benchmarks/parity_escnn_linear.py
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ANGLES = [2 * math.pi * i / 16 + 0.05 for i in range(16)]

LINEAR = [
    dict(name="C4 reg+1+0 -> 1+reg", group="C4", inp=["regular", [1], [0]], out=[[1], "regular"]),
    dict(
        name="C8 3 reg -> 2 reg+q2",
        group="C8",
        inp=["regular"] * 3,
        out=["regular", "regular", "quotient:2"],
    ),
    dict(
        name="D4 mixed",
        group="D4",
        inp=["regular", [1, 1], [1, 0]],
        out=[[1, 1], "regular", [0, 0], [1, 2]],
    ),
    dict(
        name="D6 q(None,3) -> reg",
        group="D6",
        inp=["quotient:None,3", [1, 2]],
        out=["regular", [1, 1]],
    ),
    dict(
        name="SO2 irreps 0..3",
        group="SO2",
        inp=[[0], [1], [2], [1], [3]],
        out=[[2], [0], [1], [3], [1]],
    ),
    dict(
        name="O2 irreps",
        group="O2",
        inp=[[0, 0], [1, 0], [1, 1], [1, 2]],
        out=[[1, 1], [0, 0], [1, 2], [1, 0], [1, 1]],
    ),
]
BATCHNORM = [
    dict(
        name="1d D4 mixed",
        group="D4",
        kind="1d",
        space="none",
        type=["regular", [1, 1], "regular", [0, 0]],
        spatial=[],
    ),
    dict(
        name="1d SO2 irreps",
        group="SO2",
        kind="1d",
        space="none",
        type=[[0], [1], [2], [0], [1]],
        spatial=[],
    ),
    dict(
        name="1d O2 irreps",
        group="O2",
        kind="1d",
        space="none",
        type=[[0, 0], [1, 1], [1, 0], [1, 2]],
        spatial=[],
    ),
    dict(
        name="2d C8 on R2",
        group="C8",
        kind="2d",
        space="R2",
        type=["regular", "regular", [1], "regular"],
        spatial=[5, 5],
    ),
    dict(
        name="2d D4 on R2",
        group="D4",
        kind="2d",
        space="R2",
        type=["regular", [1, 1], [0, 2]],
        spatial=[4, 4],
    ),
]
TENSOR = [
    dict(
        name="C4 reg -> reg", group="C4", channels=2, spatial=[3, 3], inp="regular", out="regular"
    ),
    dict(name="D3 reg -> (1,1)", group="D3", channels=3, spatial=[3, 3], inp="regular", out=[1, 1]),
    dict(name="C5 1 -> 2", group="C5", channels=2, spatial=[3, 3], inp=[1], out=[2]),
    dict(
        name="SO2 band 0..2",
        group="SO2",
        channels=2,
        spatial=[3, 3],
        inp={"sum": [[0], [1], [2]]},
        out={"sum": [[0], [1], [2]]},
    ),
    dict(
        name="O2 band (0,0),(1,1),(1,2)",
        group="O2",
        channels=2,
        spatial=[3, 3],
        inp={"sum": [[0, 0], [1, 1], [1, 2]]},
        out={"sum": [[0, 0], [1, 1], [1, 2]]},
    ),
]


# -- one builder for both libraries (our API carries escnn's names) ----------------------------
def build_group(lib: Any, spec: str) -> Any:
    if spec == "SO2":
        return lib.group.so2_group(10)
    if spec == "O2":
        return lib.group.o2_group(10)
    n = int(spec[1:])
    return lib.group.cyclic_group(n) if spec[0] == "C" else lib.group.dihedral_group(n)


def build_repr(lib: Any, G: Any, spec: Any) -> Any:
    if spec == "regular":
        return G.regular_representation
    if isinstance(spec, str) and spec.startswith("quotient:"):
        parts = [None if p == "None" else int(p) for p in spec.split(":")[1].split(",")]
        return G.quotient_representation(parts[0] if len(parts) == 1 else tuple(parts))
    if isinstance(spec, dict):
        return lib.group.directsum([G.irrep(*i) for i in spec["sum"]], name="band")
    return G.irrep(*spec)


def build_gspace(lib: Any, G: Any, group_spec: str, space: str) -> Any:
    if space == "none":
        return lib.gspaces.no_base_space(G)
    if group_spec in ("SO2", "O2"):
        factory = lib.gspaces.rot2dOnR2 if group_spec == "SO2" else lib.gspaces.flipRot2dOnR2
        return factory(-1, maximum_frequency=10)
    n = int(group_spec[1:])
    return lib.gspaces.rot2dOnR2(n) if group_spec[0] == "C" else lib.gspaces.flipRot2dOnR2(n)


def finite_elements(group_spec: str) -> list:
    n = int(group_spec[1:]) if group_spec[0] in "CD" else 0
    if group_spec == "SO2":
        return list(ANGLES)
    if group_spec == "O2":
        return [(f, a) for f in (0, 1) for a in ANGLES]
    if group_spec[0] == "C":
        return list(range(n))
    return [(f, k) for f in (0, 1) for k in range(n)]


def build_module(lib: Any, family: str, case: dict) -> Any:
    nn = lib.nn
    G = build_group(lib, case["group"])
    if family == "linear":
        gs = build_gspace(lib, G, case["group"], "none")
        fi = nn.FieldType(gs, [build_repr(lib, G, r) for r in case["inp"]])
        fo = nn.FieldType(gs, [build_repr(lib, G, r) for r in case["out"]])
        return nn.Linear(fi, fo)
    if family == "bn":
        gs = build_gspace(lib, G, case["group"], case["space"])
        ft = nn.FieldType(gs, [build_repr(lib, G, r) for r in case["type"]])
        cls = nn.IIDBatchNorm1d if case["kind"] == "1d" else nn.IIDBatchNorm2d
        return cls(ft, momentum=0.3)
    gs = build_gspace(lib, G, case["group"], "R2")  # escnn's fails on no_base_space (view)
    G = gs.fibergroup
    return nn.TensorProductModule.construct(
        gs, case["channels"], build_repr(lib, G, case["inp"]), build_repr(lib, G, case["out"])
    )


def equivariance_error(lib: Any, module: Any, x: np.ndarray, elems: list, wrap: Any) -> float:
    import torch

    nn = lib.nn
    with torch.no_grad():
        gx = nn.GeometricTensor(torch.from_numpy(x), module.in_type)
        y = module(gx)
        scale = float(y.tensor.abs().max())
        worst = 0.0
        for g in elems:
            e = wrap(g)
            a = module(gx.transform_fibers(e)).tensor
            b = y.transform_fibers(e).tensor
            worst = max(worst, float((a - b).abs().max()))
    return worst / max(scale, 1e-30)


def run_side(lib: Any, wrap_for: Any, inputs: dict, out_path: str, ours: bool) -> dict:
    """Build every case with ``lib`` and record basis, parameters, outputs and errors."""
    import torch

    report: dict = {}
    arrays: dict = {}
    for family, cases in (("linear", LINEAR), ("bn", BATCHNORM), ("tp", TENSOR)):
        for case in cases:
            key = f"{family}/{case['name']}"
            torch.manual_seed(0)
            start = time.perf_counter()
            module = build_module(lib, family, case)
            build_s = time.perf_counter() - start
            G = module.in_type.fibergroup
            x = inputs[f"{key}/x"]
            if family == "linear":
                dim = module.weights.numel()
                eye = torch.eye(dim)
                arrays[f"{key}/basis"] = np.stack(
                    [
                        module.basisexpansion(eye[k])
                        .detach()
                        .reshape(module.out_type.size, module.in_type.size)
                        .numpy()
                        for k in range(dim)
                    ]
                )
                if module.bias is not None:
                    with torch.no_grad():
                        module.bias.normal_()
            if family == "bn":
                for i in range(3):
                    batch = torch.from_numpy(inputs[f"{key}/train{i}"])
                    module(lib.nn.GeometricTensor(batch, module.in_type))
                arrays.update(
                    {
                        f"{key}/trained/{k}": v.detach().numpy().copy()
                        for k, v in module.state_dict().items()
                    }
                )
                with torch.no_grad():
                    for p in module.parameters():
                        p.normal_()
            module.eval()
            if ours:
                load(family, module, inputs, key)
            with torch.no_grad():
                y = module(lib.nn.GeometricTensor(torch.from_numpy(x), module.in_type)).tensor
            arrays[f"{key}/y"] = y.numpy()
            arrays.update(
                {
                    f"{key}/state/{k}": v.detach().numpy().copy()
                    for k, v in module.state_dict().items()
                }
            )
            if family == "tp":
                arrays[f"{key}/matrix"] = module.expand_parameters().detach().numpy()
                ids = [
                    i if isinstance(i, tuple) else G.irreps[i].id
                    for i in module.hidden_type.representations[0].irreps
                ]
                arrays[f"{key}/hidden"] = np.array(sorted(str(tuple(i)) for i in ids))
            if ours and family in ("linear", "bn"):
                with torch.no_grad():
                    arrays[f"{key}/exported"] = module.export()(torch.from_numpy(x)).numpy()
            wrap = wrap_for(G)
            err = equivariance_error(lib, module, x, finite_elements(case["group"]), wrap)
            report[key] = {
                "equivariance": err,
                "build_s": build_s,
                "dim": int(module.weights.numel()) if hasattr(module, "weights") else 0,
            }
    np.savez(out_path, **arrays)
    return report


def load(family: str, module: Any, inputs: dict, key: str) -> None:
    """Load escnn's parameters (passed back in ``inputs``) into our module."""
    import torch

    with torch.no_grad():
        if family == "linear":
            # same elements in the same order, each up to a sign (escnn's D_N/O(2) endomorphism
            # bases come from numerically computed Clebsch-Gordan coefficients: some are -I)
            dim = module.weights.numel()
            eye = torch.eye(dim)
            ours = np.stack([module.basisexpansion(eye[k]).numpy() for k in range(dim)])
            theirs = inputs[f"{key}/basis"]
            signs = np.sign(np.einsum("kij,kij->k", ours, theirs))
            inputs[f"{key}/flipped"] = int((signs < 0).sum())
            inputs[f"{key}/signed_diff"] = float(np.abs(ours - signs[:, None, None] * theirs).max())
            w = inputs[f"{key}/state/weights"] * signs.astype(np.float32)
            module.weights.copy_(torch.from_numpy(w))
            if module.bias is not None:
                module.bias.copy_(torch.from_numpy(inputs[f"{key}/state/bias"]))
        elif family == "bn":
            own = module.state_dict()
            theirs = {
                k[len(key) + 7 :]: v for k, v in inputs.items() if k.startswith(f"{key}/state/")
            }
            module.load_state_dict({k: torch.from_numpy(theirs[k]) for k in own})
        else:
            matrix = inputs[f"{key}/matrix"].astype(np.float64).reshape(-1)
            dim = module.weights.numel()
            eye = torch.eye(dim, dtype=torch.float64)
            basis = np.stack(
                [module.basisexpansion(eye[k]).numpy().reshape(-1) for k in range(dim)], axis=1
            )
            w, *_ = np.linalg.lstsq(basis, matrix, rcond=None)
            inputs[f"{key}/residual"] = float(np.abs(basis @ w - matrix).max())
            module.weights.copy_(torch.from_numpy(w).to(module.weights.dtype))
        module.train(False)


# -- the two sides ------------------------------------------------------------------------------
def escnn_side(workdir: str) -> None:
    import warnings

    warnings.simplefilter("ignore")
    import escnn
    from escnn import group, gspaces, nn  # noqa: F401

    inputs = dict(np.load(os.path.join(workdir, "inputs.npz")))
    report = run_side(
        escnn, lambda G: G.element, inputs, os.path.join(workdir, "escnn.npz"), ours=False
    )
    Path(workdir, "escnn.json").write_text(json.dumps(report))


class _Ours:
    def __init__(self) -> None:
        import e2compile.group as group
        import e2compile.gspaces as gspaces
        import runtime.nn as nn

        self.group, self.gspaces, self.nn = group, gspaces, nn


def make_inputs() -> dict:
    """Inputs of every case (float32), from a fixed seed."""
    rng = np.random.RandomState(0)
    lib = _Ours()
    inputs = {}
    for family, cases in (("linear", LINEAR), ("bn", BATCHNORM), ("tp", TENSOR)):
        for case in cases:
            module = build_module(lib, family, case)
            key = f"{family}/{case['name']}"
            spatial = case.get("spatial", [])
            shape = (6, module.in_type.size, *spatial)
            inputs[f"{key}/x"] = (rng.randn(*shape) + 0.5).astype(np.float32)
            if family == "bn":
                for i in range(3):
                    inputs[f"{key}/train{i}"] = (rng.randn(*shape) * (1 + i) + 1).astype(np.float32)
    return inputs


def escnn_python() -> str:
    return os.environ.get("E2C_ESCNN_PYTHON", str(ROOT / ".venv-escnn" / "bin" / "python"))


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def main() -> int:
    with tempfile.TemporaryDirectory() as workdir:
        inputs = make_inputs()
        np.savez(os.path.join(workdir, "inputs.npz"), **inputs)
        start = time.perf_counter()
        proc = subprocess.run(
            [escnn_python(), __file__, "--escnn-side", workdir],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if proc.returncode:
            print(proc.stdout[-4000:], proc.stderr[-4000:], file=sys.stderr)
            return 1
        escnn_s = time.perf_counter() - start
        theirs = dict(np.load(os.path.join(workdir, "escnn.npz")))
        their_report = json.loads(Path(workdir, "escnn.json").read_text())
    merged = {**inputs, **theirs}
    ours_path = os.path.join(tempfile.gettempdir(), f"e2c-parity-linear-{os.getpid()}.npz")
    our_report = run_side(_Ours(), lambda G: lambda g: g, merged, ours_path, ours=True)
    mine = dict(np.load(ours_path))
    os.unlink(ours_path)
    print(f"escnn subprocess (import + all cases): {escnn_s:.1f} s\n")
    rows = []
    for family, cases in (("linear", LINEAR), ("bn", BATCHNORM), ("tp", TENSOR)):
        for case in cases:
            key = f"{family}/{case['name']}"
            y_rel = rel(mine[f"{key}/y"], theirs[f"{key}/y"])
            extra = ""
            if family == "linear":
                a, b = mine[f"{key}/basis"], theirs[f"{key}/basis"]
                extra = (
                    f"basis {a.shape[0]} vs {b.shape[0]} elements, {merged[f'{key}/flipped']} "
                    f"of opposite sign, max diff up to sign {merged[f'{key}/signed_diff']:.1e}"
                )
                extra += f"; export {rel(mine[f'{key}/exported'], theirs[f'{key}/y']):.1e}"
            elif family == "bn":
                diffs = [
                    np.abs(
                        mine[f"{key}/trained/{k[len(key) + 9 :]}"].astype(float)
                        - theirs[k].astype(float)
                    ).max()
                    for k in theirs
                    if k.startswith(f"{key}/trained/")
                    and f"{key}/trained/{k[len(key) + 9 :]}" in mine
                ]
                extra = (
                    f"running stats after 3 training batches: max diff {max(diffs):.1e}; "
                    f"export {rel(mine[f'{key}/exported'], theirs[f'{key}/y']):.1e}"
                )
            else:
                same = list(mine[f"{key}/hidden"]) == list(theirs[f"{key}/hidden"])
                extra = (
                    f"rho⊗rho irreps {'equal' if same else 'DIFFER'}; weights mapped by "
                    f"least squares, residual {merged[f'{key}/residual']:.1e}"
                )
            rows.append(
                (
                    family,
                    case["name"],
                    our_report[key]["dim"],
                    their_report[key]["dim"],
                    y_rel,
                    our_report[key]["equivariance"],
                    their_report[key]["equivariance"],
                    extra,
                )
            )
    print(
        "| module | case | weights (ours/escnn) | output rel. diff | equivariance ours | "
        "equivariance escnn | notes |"
    )
    print("|---|---|---|---|---|---|---|")
    names = {"linear": "Linear", "bn": "IIDBatchNorm (eval)", "tp": "TensorProductModule"}
    for family, name, d1, d2, y_rel, e1, e2, extra in rows:
        print(
            f"| {names[family]} | {name} | {d1}/{d2} | {y_rel:.1e} | {e1:.1e} | {e2:.1e} | "
            f"{extra} |"
        )
    worst = max(r[4] for r in rows)
    print(f"\nlargest output difference: {worst:.1e}")
    return 0 if worst < 1e-5 else 2


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--escnn-side":
        escnn_side(sys.argv[2])
    else:
        sys.exit(main())
