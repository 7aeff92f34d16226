"""Building a C8 network of R2Diffop layers: ours (cold compile, warm store, warm memo) vs e2cnn.

The network: ``R2Diffop(trivial -> 16 regular, kernel_size=5)`` then ``R2Diffop(16 regular ->
16 regular, kernel_size=5)`` on ``Rot2dOnR2(8)``, generalized He initialisation included, for each
discretisation: ``fd``, ``gauss`` (``smoothing=1.25``, i.e. kernel_size / 4) and ``rbffd``.

Every number is the construction of the network in a **fresh process**, imports of torch and of
the library excluded (timed separately, not included):

* **cold compile**: empty store: every PDO basis is compiled in-process and stored. sympy and
  rbf are imported before the clock starts (timed with the imports), as e2cnn imports them with
  itself; we import them lazily, on a store miss only (about 1-3 s here, machine load dependent);
* **warm store (fresh process)**: the same store, a new process, its first build: the bases are
  read from the store (through each file's index) and the process pays its one-off costs (building
  the group representations);
* **warm store (steady)**: further builds in that process with the artifact memo cleared before
  each: the bases are read from the store every time;
* **warm memo**: builds in that process with the memo kept (it serves the bases);
* **e2cnn**: the reference library in its own environment (``benchmarks/reference.py``), a fresh
  process per repeat (its in-memory PDO cache starts empty): its first build. That environment
  lacks the rbf package its gauss and rbffd methods need; the script lends it ours (same version)
  by putting a directory that holds only a link to it on the reference's ``sys.path``. e2cnn
  0.2.3 then still fails (it calls ``rbf.basis.set_symbolic_to_numeric_method``, which current
  rbf releases no longer have): its gauss and rbffd cells stay empty.

Medians of ``--repeats`` fresh processes. Bytecode caches are written and used, as in a deployed
job (``PYTHONDONTWRITEBYTECODE`` is dropped from our processes' environment). The 2-core machine is
shared: absolute times are noisy.

``--flip-errors`` instead measures, side by side, the relative equivariance error
``|D(g.x) - g.D(x)| / |g.D(x)|`` of an fd R2Diffop (2 regular fields -> 2, k=5) on D4 and on the
flip group, for every group element (exact grid transformations: rotations by 90° and flips).

Usage: ``python benchmarks/diffop_build.py [--repeats 3] [--methods fd gauss rbffd]
[--flip-errors]``
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

def timed(before=None):
    if before is not None:
        before()
    t0 = time.perf_counter()
    net = build()
    return time.perf_counter() - t0, net

first, net = timed()
steady = sorted(timed({clear})[0] for _ in range(3))[1]
memo = sorted(timed()[0] for _ in range(3))[1]
print(json.dumps({{"first": first, "steady": steady, "memo": memo, "import": IMPORT,
                  "parameters": sum(p.numel() for p in net.parameters())}}))
"""

# our side imports the store and the runtime's compiler bridge up front (timed as "import")
_OURS_IMPORTS = (
    "from e2compile import gspaces\nfrom runtime import nn\n"
    "import cache, runtime.bases, e2compile.compiler, e2compile.diffops"
)
# the cold process also imports the compiler's sympy and rbf up front, as e2cnn imports them when
# it is imported (we import them lazily, on a store miss only; a warm process never does)
_COMPILER_IMPORTS = "\nimport sympy, rbf.pde.fd"


def _ours(kwargs: dict, store: str, preload: str = "") -> dict:
    code = _BUILD.format(
        imports=_OURS_IMPORTS + preload, kwargs=json.dumps(kwargs), clear="runtime.bases.MEMO.clear"
    )
    env = {**os.environ, "E2C_CACHE_DIR": store, "PYTHONPATH": str(ROOT)}
    env.pop("E2C_CACHE_PATH", None)
    env.pop("E2C_OFFLINE", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a deployed job has its .pyc files
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _reference(kwargs: dict, rbf_dir: str) -> dict | None:
    try:
        from reference import ReferenceFailed, ReferenceUnavailable, run_reference
    except ImportError:
        return None
    code = _BUILD.format(
        imports="from e2cnn import gspaces, nn\nimport warnings; warnings.filterwarnings('ignore')",
        kwargs=json.dumps(kwargs),
        clear="None",
    )
    # e2cnn's environment has no rbf package, which its gauss and rbffd discretisations need: lend
    # it ours (the same version we use) through a directory holding only a link to it
    code = f"import sys; sys.path.insert(0, {rbf_dir!r})\n" + code
    try:
        return run_reference(code)
    except ReferenceUnavailable:
        return None
    except ReferenceFailed as exc:  # e2cnn 0.2.3 calls rbf API that current rbf no longer has
        print(f"e2cnn failed: {str(exc).strip().splitlines()[-1]}", file=sys.stderr)
        return None


def _rbf_dir(tmp: str) -> str:
    import rbf

    os.symlink(Path(rbf.__file__).parent, Path(tmp) / "rbf")
    return tmp


_FLIP = r"""
import json, torch
{imports}
out = {{}}
for name, gs in (("D4", gspaces.FlipRot2dOnR2(4)), ("Flip", gspaces.Flip2dOnR2())):
    t = nn.FieldType(gs, [gs.regular_repr] * 2)
    torch.manual_seed(0)
    layer = nn.R2Diffop(t, t, kernel_size=5, padding=2).eval()
    x = nn.GeometricTensor(torch.randn(2, t.size, 11, 11), t)
    y = layer(x)
    errors = {{}}
    for g in gs.testing_elements:
        a, b = layer(x.transform(g)).tensor, y.transform(g).tensor
        errors[str(g)] = ((a - b).norm() / b.norm()).item()
    out[name] = errors
print(json.dumps(out))
"""


def flip_errors() -> None:
    """Print the equivariance errors of ours and e2cnn's fd R2Diffop per group element."""
    from reference import run_reference

    code = _FLIP.format(imports="from e2compile import gspaces\nfrom runtime import nn")
    with tempfile.TemporaryDirectory() as store:
        env = {**os.environ, "E2C_CACHE_DIR": store, "PYTHONPATH": str(ROOT)}
        env.pop("E2C_CACHE_PATH", None)
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, check=True)  # fmt: skip
    ours = json.loads(done.stdout.strip().splitlines()[-1])
    theirs = run_reference(_FLIP.format(imports="from e2cnn import gspaces, nn"))
    print("| group | element | e2compile | e2cnn |")
    print("|---|---|---:|---:|")
    for group, errors in ours.items():
        for element, error in errors.items():
            print(f"| {group} | {element} | {error:.1e} | {theirs[group][element]:.1e} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--methods", nargs="*", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--flip-errors", action="store_true", help="equivariance errors instead")
    args = parser.parse_args()
    if args.flip_errors:
        flip_errors()
        return
    rows = []
    lend = tempfile.TemporaryDirectory()
    rbf_dir = _rbf_dir(lend.name)
    for method in args.methods:
        kwargs = METHODS[method]
        cold, warm, steady, memo, ref, imports, ref_imports = [], [], [], [], [], [], []
        params = None
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as store:
                c = _ours(kwargs, store, _COMPILER_IMPORTS)
                w = _ours(kwargs, store)
            cold.append(c["first"])
            imports.append(c["import"])
            warm.append(w["first"])
            steady.append(w["steady"])
            memo.append(w["memo"])
            params = c["parameters"]
            r = _reference(kwargs, rbf_dir)
            if r is not None:
                ref.append(r["first"])
                ref_imports.append(r["import"])
                if r["parameters"] != params:
                    raise AssertionError(f"{method}: e2cnn has {r['parameters']} parameters")
        row = {
            "method": method,
            "parameters": params,
            "cold": statistics.median(cold),
            "warm_store": statistics.median(warm),
            "warm_store_steady": statistics.median(steady),
            "warm_memo": statistics.median(memo),
            "e2cnn": statistics.median(ref) if ref else None,
            "import_cold": statistics.median(imports),
            "e2cnn_import": statistics.median(ref_imports) if ref_imports else None,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    print()
    print("| method | cold compile | warm store (fresh process) | warm store (steady) | warm memo "
          "| e2cnn | e2cnn / cold | e2cnn / warm (fresh) | e2cnn / warm (steady) |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        e = r["e2cnn"]
        cells = [f"{r[k]:.3f} s" for k in ("cold", "warm_store", "warm_store_steady", "warm_memo")]
        if e:
            cells += [f"{e:.3f} s", f"{e / r['cold']:.1f}×", f"{e / r['warm_store']:.0f}×",
                      f"{e / r['warm_store_steady']:.0f}×"]  # fmt: skip
        else:
            cells += ["-"] * 4
        print(f"| {r['method']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
