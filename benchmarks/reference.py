"""Run the reference library (e2cnn) side by side with e2compile, from a separate environment.

e2cnn is never a dependency of e2compile: it lives in its own virtual environment
(``.venv-e2cnn/``, made by ``bash scripts/setup_reference_env.sh``) and is only ever *called*, in a
subprocess, by the snippets below. This module itself uses the standard library only, so our
benchmark scripts (running in ``.venv/``) can import it.

API
---
* ``reference_python() -> Path | None``: the reference environment's interpreter, if it exists and
  imports e2cnn (override with ``E2C_REFERENCE_PYTHON=/path/to/python``).
* ``run_reference(code, timeout=600.0) -> dict``: run a Python snippet there, return the JSON object
  it printed on its last line of standard output. Raises ``ReferenceUnavailable`` when there is no
  reference environment and ``ReferenceFailed`` when the snippet fails.
* ``network_plan(widths, layers, kernel_size, in_channels)``: the layers of the benchmark network
  (plain data), so our side builds exactly the same network.
* ``reference_instantiation_seconds(group, widths, layers, kernel_size, repeats)``: build e2cnn's
  network in a fresh process per repeat (e2cnn's in-memory basis cache starts empty each time).
* ``reference_compile_seconds(group, layer_specs, repeats)``: e2cnn builds and samples the bases of
  the given ``(in_fields, out_fields, kernel_size)`` layers.
* ``reference_param_counts(cases) -> list[dict]``: ``R2Conv(...).weights.numel()`` per case.
* ``reference_train_step_seconds(group, ...)``: forward+backward+SGD step time of that network.
* ``default_param_count_cases()``: the ~150 cases behind ``tests/data/reference_param_counts.json``.

Command line (run with any Python >= 3.10, e.g. ``.venv/bin/python``)::

    python benchmarks/reference.py --check                 # where is it, which versions
    python benchmarks/reference.py --smoke-test            # R2Conv forward + equivariance there
    python benchmarks/reference.py --instantiation D8 C16  # cold instantiation times
    python benchmarks/reference.py --compile D8 C16        # basis build times
    python benchmarks/reference.py --train-step D8         # train step times
    python benchmarks/reference.py --dump-param-counts     # regenerate the JSON table

Group specs
-----------
A group is given as a short string, ``"C8"`` (``Rot2dOnR2(8)``), ``"D4"`` (``FlipRot2dOnR2(4)``),
``"SO2"``/``"O2"`` (``maximum_frequency`` 6 unless given as ``"SO2:3"``), ``"Flip"``
(``Flip2dOnR2``), ``"C1"``/``"Trivial"``; or as a dict with the fields of a param-count case
(``gspace``, ``N``, ``maximum_frequency``, ``axis``). Field types are a repr name or a list of repr
names as e2cnn names them: ``"regular"``, ``"trivial"`` (alias of ``irrep_0`` / ``irrep_0,0``),
``"irrep_1"`` (C_N, SO(2)), ``"irrep_1,1"`` (D_N, O(2)), ``"quotient[2]"`` (C_N),
``"quotient[(None, 2)]"`` (D_N); ``("regular", 16)`` is shorthand for 16 regular fields.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VENV = ROOT / ".venv-e2cnn"
ENV_VAR = "E2C_REFERENCE_PYTHON"
PARAM_COUNTS_PATH = ROOT / "tests" / "data" / "reference_param_counts.json"
DEFAULT_TIMEOUT = 600.0


class ReferenceUnavailable(RuntimeError):
    """No reference environment (run ``bash scripts/setup_reference_env.sh``)."""


class ReferenceFailed(RuntimeError):
    """The snippet exited non-zero, timed out, or printed no JSON on its last line."""


# --------------------------------------------------------------------------------------------
# Locating the reference environment and running snippets in it
# --------------------------------------------------------------------------------------------


def _candidate() -> Path:
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    return DEFAULT_VENV / "bin" / "python"


@functools.lru_cache(maxsize=8)
def _imports_e2cnn(python: str) -> bool:
    try:
        result = subprocess.run(
            [python, "-c", "import e2cnn"],
            capture_output=True,
            timeout=120,
            env=_child_env(),
            cwd=tempfile.gettempdir(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def reference_python() -> Path | None:
    """The reference environment's Python if it exists and imports e2cnn, else ``None``.

    ``E2C_REFERENCE_PYTHON`` overrides the default ``<repo>/.venv-e2cnn/bin/python``. Note the
    path is not resolved: a venv's ``bin/python`` is a symlink to the base interpreter, and
    resolving it would lose the venv.
    """
    candidate = _candidate()
    if not candidate.is_file() or not os.access(candidate, os.X_OK):
        return None
    return candidate if _imports_e2cnn(str(candidate)) else None


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # Nothing of ours may leak into the reference process (and vice versa).
    for name in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"):
        env.pop(name, None)
    env["PYTHONWARNINGS"] = "ignore"  # e2cnn 0.2.3 is chatty on recent numpy/torch
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_reference(code: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """Run ``code`` in a fresh reference-environment process; return the JSON of its last line.

    The snippet must print a JSON object as the last non-empty line of its standard output
    (anything before it is ignored). It runs in a temporary working directory with our packages
    off ``sys.path``.
    """
    python = reference_python()
    if python is None:
        raise ReferenceUnavailable(
            f"no reference environment: {_candidate()} is missing or cannot import e2cnn; "
            "run `bash scripts/setup_reference_env.sh` (or set E2C_REFERENCE_PYTHON)"
        )
    with tempfile.TemporaryDirectory(prefix="e2c-reference-") as workdir:
        try:
            result = subprocess.run(
                [str(python), "-"],
                input=code,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=_child_env(),
                cwd=workdir,
            )
        except subprocess.TimeoutExpired as error:
            raise ReferenceFailed(f"reference snippet timed out after {timeout:.0f} s") from error
    if result.returncode != 0:
        raise ReferenceFailed(
            f"reference snippet exited with {result.returncode}:\n{result.stderr[-4000:]}"
        )
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    if not lines:
        raise ReferenceFailed(f"reference snippet printed nothing:\n{result.stderr[-4000:]}")
    try:
        value = json.loads(lines[-1])
    except json.JSONDecodeError as error:
        raise ReferenceFailed(f"last line is not JSON: {lines[-1][:500]!r}") from error
    if not isinstance(value, dict):
        raise ReferenceFailed(f"last line is JSON but not an object: {lines[-1][:500]!r}")
    return value


def _snippet(body: str, args: Any) -> str:
    """A complete snippet: the shared prelude, the arguments as JSON, then ``body``."""
    return f"{_PRELUDE}\nARGS = json.loads({json.dumps(json.dumps(args))})\n{body}"


# The prelude runs in the reference environment (never imported here). It turns the plain-data
# group / field specs into e2cnn objects. Imports of torch/e2cnn are timed separately.
_PRELUDE = r'''
import ast, json, math, statistics, sys, time, warnings
warnings.filterwarnings("ignore")
_t0 = time.perf_counter()
import numpy as np
import torch
import e2cnn
from e2cnn import gspaces, nn
IMPORT_SECONDS = time.perf_counter() - _t0

# Compatibility shim (our code; e2cnn itself is not modified). e2cnn 0.2.3 was written for torch 1.x
# and builds each block's mask as uint8 (`mask.astype(np.uint8)`, `norms.to(torch.uint8)`); torch 2
# rejects uint8 masks in `full_mask[mask] = ...` whenever exactly one basis element survives
# ("masked_fill_ only supports boolean masks"). torch 1.x treated a uint8 index as a boolean mask,
# so inside that one module we let np.uint8 / torch.uint8 mean bool: the same semantics. The mask
# is only stored there (never read back), so sampled bases and counts are unaffected.
import types as _types
import e2cnn.nn.modules.r2_conv.basisexpansion_singleblock as _singleblock

class _Alias(_types.ModuleType):
    def __init__(self, module, **overrides):
        super().__init__(module.__name__)
        self._module = module
        self.__dict__.update(overrides)

    def __getattr__(self, name):
        value = getattr(self._module, name)
        setattr(self, name, value)
        return value

_singleblock.np = _Alias(np, uint8=np.bool_)
_singleblock.torch = _Alias(torch, uint8=torch.bool)

def versions():
    import scipy
    return {"e2cnn": e2cnn.__version__ if hasattr(e2cnn, "__version__") else _dist("e2cnn"),
            "torch": torch.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "python": sys.version.split()[0]}

def _dist(name):
    from importlib.metadata import version
    return version(name)

def parse_group(spec):
    """'C8' | 'D4' | 'SO2' | 'SO2:3' | 'O2' | 'Flip' | 'C1' | dict -> normalised dict."""
    if isinstance(spec, dict):
        return dict(spec)
    s = spec.strip()
    mf = None
    if ":" in s:
        s, mf = s.split(":")
        mf = int(mf)
    if s in ("SO2", "SO(2)"):
        return {"gspace": "Rot2dOnR2", "N": -1, "maximum_frequency": mf or 6}
    if s in ("O2", "O(2)"):
        return {"gspace": "FlipRot2dOnR2", "N": -1, "maximum_frequency": mf or 6}
    if s in ("Flip", "Flip2d"):
        return {"gspace": "Flip2dOnR2"}
    if s in ("Trivial", "C1"):
        return {"gspace": "TrivialOnR2"}
    if s[0] == "C":
        return {"gspace": "Rot2dOnR2", "N": int(s[1:])}
    if s[0] == "D":
        return {"gspace": "FlipRot2dOnR2", "N": int(s[1:])}
    raise ValueError(f"unknown group spec {spec!r}")

def make_gspace(spec):
    g = parse_group(spec)
    kind = g["gspace"]
    axis = g.get("axis")
    if kind == "Rot2dOnR2":
        return gspaces.Rot2dOnR2(N=g.get("N", -1), maximum_frequency=g.get("maximum_frequency"))
    if kind == "FlipRot2dOnR2":
        kw = {} if axis is None else {"axis": axis}
        return gspaces.FlipRot2dOnR2(N=g.get("N", -1),
                                     maximum_frequency=g.get("maximum_frequency"), **kw)
    if kind == "Flip2dOnR2":
        return gspaces.Flip2dOnR2() if axis is None else gspaces.Flip2dOnR2(axis=axis)
    if kind == "TrivialOnR2":
        return gspaces.TrivialOnR2()
    raise ValueError(f"unknown gspace {kind!r}")

def resolve_repr(gspace, name):
    G = gspace.fibergroup
    if name == "regular":
        return gspace.regular_repr
    if name == "trivial":
        return gspace.trivial_repr
    if name.startswith("irrep_"):
        ids = tuple(int(x) for x in name[len("irrep_"):].split(","))
        return G.irrep(*ids)
    if name.startswith("quotient[") and name.endswith("]"):
        return gspace.quotient_repr(ast.literal_eval(name[len("quotient["):-1]))
    return G.representations[name]

def field_type(gspace, fields):
    """'regular' | ['regular', 'irrep_1'] | ['regular', 16] (name, multiplicity)."""
    if isinstance(fields, str):
        fields = [fields]
    if (len(fields) == 2 and isinstance(fields[0], str) and isinstance(fields[1], int)):
        fields = [fields[0]] * fields[1]
    return nn.FieldType(gspace, [resolve_repr(gspace, f) for f in fields])

def build_network(gspace, plan, recompute=False, initialize=True):
    modules = []
    for layer in plan:
        i = field_type(gspace, layer["in"])
        o = field_type(gspace, layer["out"])
        k = layer["kernel_size"]
        modules.append(nn.R2Conv(i, o, kernel_size=k, padding=k // 2, recompute=recompute,
                                 initialize=initialize))
        modules.append(nn.InnerBatchNorm(o))
        modules.append(nn.ReLU(o, inplace=True))
    return nn.SequentialModule(*modules)
'''


# --------------------------------------------------------------------------------------------
# (a) instantiation of the benchmark network
# --------------------------------------------------------------------------------------------


def network_plan(
    widths: Sequence[int] = (16, 32, 64),
    layers: int = 6,
    kernel_size: int = 3,
    in_channels: int = 3,
) -> list[dict[str, Any]]:
    """The benchmark network as plain data: one dict per R2Conv layer.

    ``in_channels`` trivial fields in, then ``layers`` layers of regular fields; layer ``i`` has
    ``widths[i * len(widths) // layers]`` output fields (six layers over (16, 32, 64) give
    16, 16, 32, 32, 64, 64). Every layer is ``R2Conv(padding=k//2) -> InnerBatchNorm -> ReLU``.
    Each dict is ``{"in": (name, count), "out": (name, count), "kernel_size": k}``.
    """
    plan = []
    previous: tuple[str, int] = ("trivial", in_channels)
    for i in range(layers):
        out = ("regular", int(widths[i * len(widths) // layers]))
        plan.append({"in": previous, "out": out, "kernel_size": kernel_size})
        previous = out
    return plan


_INSTANTIATION_BODY = r"""
gspace = make_gspace(ARGS["group"])
torch.manual_seed(0)
t0 = time.perf_counter()
net = build_network(gspace, ARGS["plan"], ARGS["recompute"], ARGS["initialize"])
build = time.perf_counter() - t0
t0 = time.perf_counter()
build_network(gspace, ARGS["plan"], ARGS["recompute"], ARGS["initialize"])
rebuild = time.perf_counter() - t0
print(json.dumps({"import_seconds": IMPORT_SECONDS, "build_seconds": build,
                  "rebuild_seconds": rebuild,
                  "parameters": sum(p.numel() for p in net.parameters()),
                  "threads": torch.get_num_threads(), "versions": versions()}))
"""


def reference_instantiation_seconds(
    group: str | dict = "D8",
    widths: Sequence[int] = (16, 32, 64),
    layers: int = 6,
    kernel_size: int = 3,
    in_channels: int = 3,
    repeats: int = 3,
    recompute: bool = False,
    initialize: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """Cold time for e2cnn to construct the benchmark network (see ``network_plan``).

    Every repeat is a fresh process, so e2cnn's in-memory basis cache (its only one for R2Conv)
    starts empty: each ``build`` is cold. The construction includes what e2cnn does in
    ``R2Conv.__init__``: solving the analytic kernel basis, sampling it on the grid, and the
    generalized He initialisation of the weights (plus the batch-norm / ReLU modules); the init is
    a per-weight Python loop and dominates for wide layers (~80 % for the default D8 network), so
    ``initialize=False`` (``R2Conv(initialize=False)``) is offered to time the rest. The import
    of torch + e2cnn is timed separately and not included. ``rebuild`` is a second construction in
    the same process (e2cnn's cache warm, unless ``recompute=True``).

    Returns ``{"seconds": [cold build per repeat], "best", "median", "rebuild_seconds": [...],
    "import_seconds": [...], "parameters", "plan", "group", "versions"}``.
    """
    plan = network_plan(widths, layers, kernel_size, in_channels)
    code = _snippet(
        _INSTANTIATION_BODY,
        {"group": group, "plan": plan, "recompute": recompute, "initialize": initialize},
    )
    runs = [run_reference(code, timeout=timeout) for _ in range(repeats)]
    cold = [r["build_seconds"] for r in runs]
    return {
        "group": group,
        "plan": plan,
        "recompute": recompute,
        "initialize": initialize,
        "seconds": cold,
        "best": min(cold),
        "median": statistics.median(cold),
        "rebuild_seconds": [r["rebuild_seconds"] for r in runs],
        "import_seconds": [r["import_seconds"] for r in runs],
        "parameters": runs[0]["parameters"],
        "threads": runs[0]["threads"],
        "versions": runs[0]["versions"],
    }


# --------------------------------------------------------------------------------------------
# (b) building the bases of a list of layers
# --------------------------------------------------------------------------------------------

_COMPILE_BODY = r"""
from e2cnn.nn.modules.r2_conv.basisexpansion_blocks import BlocksBasisExpansion
from e2cnn.nn.modules.r2_conv.r2convolution import compute_basis_params
gspace = make_gspace(ARGS["group"])
layers = []
for a, b, k in ARGS["layers"]:
    layers.append((field_type(gspace, a), field_type(gspace, b), k))

def build(i, o, k):
    grid, basis_filter, rings, sigma, max_frequency = compute_basis_params(k)
    expansion = BlocksBasisExpansion(i, o, basis_generator=gspace.build_kernel_basis,
                                     points=grid, sigma=sigma, rings=rings, maximum_offset=None,
                                     maximum_frequency=max_frequency, basis_filter=basis_filter,
                                     recompute=True)
    return expansion.dimension()

rows = []
for i, o, k in layers:
    t0 = time.perf_counter()
    dim = build(i, o, k)
    rows.append({"first": time.perf_counter() - t0, "dim": dim, "times": []})
for _ in range(ARGS["repeats"]):
    for row, (i, o, k) in zip(rows, layers):
        t0 = time.perf_counter()
        build(i, o, k)
        row["times"].append(time.perf_counter() - t0)
print(json.dumps({"rows": rows, "import_seconds": IMPORT_SECONDS, "versions": versions()}))
"""


def reference_compile_seconds(
    group: str | dict,
    layer_specs: Iterable[tuple[Any, Any, int]],
    repeats: int = 3,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """Time for e2cnn to build (solve + sample) the bases of ``(in_fields, out_fields, k)`` layers.

    One fresh process. Each layer is built the way its ``R2Conv`` does (``compute_basis_params``
    with the defaults + ``BlocksBasisExpansion``) with ``recompute=True`` so e2cnn's cache is never
    used; no weights, no init. ``first`` is the first build in the process (it includes creating
    the group's data); ``best``/``median`` are over ``repeats`` further builds.

    Returns ``{"layers": [{"in", "out", "kernel_size", "dim", "first", "best", "median"}],
    "first_total", "best_total", "median_total", "versions"}``.
    """
    specs = [(a, b, int(k)) for a, b, k in layer_specs]
    code = _snippet(
        _COMPILE_BODY, {"group": group, "layers": specs, "repeats": max(int(repeats), 0)}
    )
    out = run_reference(code, timeout=timeout)
    layers = []
    for (a, b, k), row in zip(specs, out["rows"]):
        times = row["times"] or [row["first"]]
        layers.append(
            {
                "in": a,
                "out": b,
                "kernel_size": k,
                "dim": row["dim"],
                "first": row["first"],
                "best": min(times),
                "median": statistics.median(times),
            }
        )
    return {
        "group": group,
        "layers": layers,
        "first_total": sum(r["first"] for r in layers),
        "best_total": sum(r["best"] for r in layers),
        "median_total": sum(r["median"] for r in layers),
        "versions": out["versions"],
    }


# --------------------------------------------------------------------------------------------
# (c) parameter counts
# --------------------------------------------------------------------------------------------

_PARAM_COUNT_BODY = r"""
results = []
for case in ARGS["cases"]:
    res = {}
    try:
        gspace = make_gspace(case)
        i = field_type(gspace, case["in"])
        o = field_type(gspace, case["out"])
        kw = {}
        for name in ("sigma", "rings", "frequencies_cutoff", "maximum_offset"):
            if case.get(name) is not None:
                kw[name] = case[name]
        if isinstance(kw.get("frequencies_cutoff"), int):
            kw["frequencies_cutoff"] = float(kw["frequencies_cutoff"])
        conv = nn.R2Conv(i, o, kernel_size=case["kernel_size"], dilation=case.get("dilation", 1),
                         initialize=False, **kw)
        res["weights"] = conv.weights.numel()
        res["bias"] = 0 if conv.bias is None else conv.bias.numel()
        res["in_size"] = i.size
        res["out_size"] = o.size
    except Exception as error:
        res["error"] = f"{type(error).__name__}: {' '.join(str(error).split())[:200]}"
    results.append(res)
print(json.dumps({"results": results, "versions": versions()}))
"""

CASE_FIELDS = (
    "gspace",
    "group",
    "N",
    "maximum_frequency",
    "axis",
    "in",
    "out",
    "kernel_size",
    "dilation",
    "sigma",
    "rings",
    "frequencies_cutoff",
    "maximum_offset",
)


def make_case(
    group: str,
    in_fields: str | Sequence[str],
    out_fields: str | Sequence[str],
    kernel_size: int,
    *,
    dilation: int = 1,
    axis: float | None = None,
    sigma: float | Sequence[float] | None = None,
    rings: Sequence[float] | None = None,
    frequencies_cutoff: float | None = None,
    maximum_offset: int | None = None,
) -> dict[str, Any]:
    """A param-count case (plain data) from a short group name.

    ``group``: ``"C8"``, ``"D4"``, ``"SO2:3"``/``"O2:3"`` (maximum frequency after the colon),
    ``"Flip"`` (Flip2dOnR2, e2cnn's group name C2), ``"C1"`` (TrivialOnR2). Field names are
    e2cnn's; ``"trivial"`` is stored as ``irrep_0`` (``irrep_0,0`` for D_N / O(2)).
    """
    name, _, mf = group.partition(":")
    if name in ("SO2", "O2"):
        gspace = "Rot2dOnR2" if name == "SO2" else "FlipRot2dOnR2"
        n, maximum_frequency = -1, int(mf)
    elif name == "Flip":
        gspace, n, maximum_frequency = "Flip2dOnR2", 2, None
        name = "C2"
    elif name == "C1":
        gspace, n, maximum_frequency = "TrivialOnR2", 1, None
    elif name[0] in "CD":
        gspace = "Rot2dOnR2" if name[0] == "C" else "FlipRot2dOnR2"
        n, maximum_frequency = int(name[1:]), None
    else:
        raise ValueError(f"unknown group {group!r}")
    if axis is not None and gspace not in ("FlipRot2dOnR2", "Flip2dOnR2"):
        raise ValueError("axis only applies to flip groups")
    trivial = "irrep_0,0" if gspace == "FlipRot2dOnR2" else "irrep_0"

    def names(fields: str | Sequence[str]) -> list[str]:
        fields = [fields] if isinstance(fields, str) else list(fields)
        return [trivial if f == "trivial" else f for f in fields]

    return {
        "gspace": gspace,
        "group": name,
        "N": n,
        "maximum_frequency": maximum_frequency,
        "axis": axis,
        "in": names(in_fields),
        "out": names(out_fields),
        "kernel_size": kernel_size,
        "dilation": dilation,
        "sigma": sigma if sigma is None or isinstance(sigma, float) else list(sigma),
        "rings": None if rings is None else list(rings),
        "frequencies_cutoff": frequencies_cutoff,
        "maximum_offset": maximum_offset,
    }


def reference_param_counts(
    cases: Sequence[dict[str, Any]], timeout: float = DEFAULT_TIMEOUT
) -> list[dict[str, Any]]:
    """For each case, e2cnn's ``R2Conv`` parameter counts, in one reference process.

    A case is a dict with the fields of ``make_case`` (``CASE_FIELDS``); ``None`` means e2cnn's
    default. Each result is ``{"weights": weights.numel(), "bias": bias.numel() or 0, "in_size",
    "out_size"}`` or ``{"error": "ExceptionType: message"}`` when e2cnn refuses the layer (e.g. an
    empty basis). Results are in the order of ``cases``.
    """
    out = run_reference(_snippet(_PARAM_COUNT_BODY, {"cases": list(cases)}), timeout=timeout)
    return out["results"]


def _irrep(group: str, j: int, k: int | None = None) -> str:
    """e2cnn's name of an irrep: irrep_k (C_N, SO(2)), irrep_j,k (D_N, O(2))."""
    if group[0] in "DO":
        return f"irrep_{j},{k}"
    return f"irrep_{j}"


def default_param_count_cases() -> list[dict[str, Any]]:
    """~150 diverse cases, deterministic (the content of tests/data/reference_param_counts.json)."""
    c = make_case
    cases: list[dict[str, Any]] = []
    add = cases.append
    pi = math.pi

    # 1. finite groups, default sampling: regular/trivial/irreps, k = 3, 5, 7
    for g in ("C2", "C3", "C4", "C6", "C8", "C16"):
        for a, b, k in (
            ("regular", "regular", 3),
            ("trivial", "regular", 5),
            ("regular", "trivial", 7),
            ("irrep_1", "irrep_1", 5),
            ("trivial", "irrep_1", 7),
            ("irrep_1", "regular", 3),
        ):
            add(c(g, a, b, k))
        if g in ("C4", "C6", "C8", "C16"):
            add(c(g, "irrep_2", "irrep_1", 5))
            add(c(g, ["irrep_0", "irrep_1", "irrep_2"], ["regular", "irrep_1"], 5))
    for g in ("D2", "D3", "D4", "D6", "D8"):
        for a, b, k in (
            ("regular", "regular", 3),
            ("trivial", "regular", 5),
            ("regular", "trivial", 7),
            ("irrep_1,1", "irrep_1,1", 5),
            ("irrep_1,0", "regular", 5),
        ):
            add(c(g, a, b, k))
    add(c("D4", "irrep_0,2", "irrep_1,2", 5))
    add(c("D6", ["irrep_0,0", "irrep_1,1", "irrep_1,2"], ["irrep_1,3", "regular"], 5))
    add(c("D8", "irrep_1,2", "irrep_1,1", 7))
    add(c("C1", "regular", "regular", 3))
    add(c("C1", "regular", "regular", 5))
    add(c("Flip", "regular", "regular", 5))
    add(c("Flip", "irrep_1", "irrep_0", 5))
    add(c("Flip", "regular", "irrep_1", 3, axis=0.0))
    add(c("Flip", "regular", "regular", 7, axis=pi / 4))

    # 2. dilation
    for g, a, b, k, d in (
        ("C8", "regular", "regular", 3, 2),
        ("C8", "regular", "regular", 5, 2),
        ("C4", "irrep_1", "irrep_1", 3, 3),
        ("D4", "regular", "regular", 3, 2),
        ("D8", "trivial", "regular", 5, 2),
        ("C16", "regular", "regular", 3, 2),
        ("SO2:3", "irrep_1", "irrep_2", 5, 2),
        ("O2:3", "irrep_1,1", "irrep_1,2", 3, 2),
        ("D2", "regular", "regular", 7, 2),
        ("C3", "trivial", "regular", 5, 3),
    ):
        add(c(g, a, b, k, dilation=d))

    # 3. custom rings (grid units of the dilated grid), with and without sigma
    for g, a, b, k, rings, sigma, d in (
        ("C8", "regular", "regular", 5, (0.0, 1.0, 2.0), None, 1),
        ("C8", "regular", "regular", 5, (1.0, 2.0), None, 1),
        ("C8", "regular", "regular", 5, (0.0, 0.5, 1.0, 1.5, 2.0), None, 1),
        ("D4", "regular", "regular", 5, (0.0, 1.0, 2.0), (0.005, 0.5, 0.5), 1),
        ("D4", "irrep_1,1", "irrep_1,1", 7, (0.0, 1.5, 3.0), (0.1, 0.6, 0.6), 1),
        ("C4", "trivial", "regular", 7, (0.0, 1.0, 2.0, 3.0), 0.6, 1),
        ("SO2:4", "irrep_0", "irrep_2", 7, (0.0, 1.0, 2.0, 3.0), None, 1),
        ("O2:4", "irrep_1,1", "irrep_1,3", 5, (1.0, 2.0), 0.4, 1),
        ("C8", "regular", "regular", 3, (0.0, 2.0), None, 2),
        ("D8", "regular", "regular", 3, (0.0, 1.0, 2.0), None, 2),
        ("C6", "irrep_2", "irrep_3", 5, (0.0, 1.0, 2.0), None, 1),
        ("C16", "regular", "regular", 7, (0.0, 1.0, 2.0, 3.0), None, 1),
        ("D3", "regular", "regular", 5, (2.0,), (0.4,), 1),
        ("C1", "regular", "regular", 5, (0.0, 1.0, 2.0), None, 1),
    ):
        add(c(g, a, b, k, rings=rings, sigma=sigma, dilation=d))

    # 4. sigma alone (float or one per default ring)
    for g, a, b, k, sigma in (
        ("C8", "regular", "regular", 5, 0.3),
        ("C8", "regular", "regular", 5, (0.01, 0.3, 0.9)),
        ("D4", "regular", "regular", 3, 1.0),
        ("SO2:3", "irrep_1", "irrep_1", 5, 0.8),
        ("O2:3", "irrep_0,0", "irrep_1,2", 7, (0.005, 0.6, 0.6, 0.4)),
        ("C4", "irrep_1", "regular", 7, 0.2),
    ):
        add(c(g, a, b, k, sigma=sigma))

    # 5. frequencies_cutoff: a float fco * r, or -2./-3. (e2cnn's fco2/fco3 policies)
    for g, a, b, k, fco in (
        ("C8", "regular", "regular", 5, 0.5),
        ("C8", "regular", "regular", 5, 1.0),
        ("C8", "regular", "regular", 5, 1.5),
        ("C8", "regular", "regular", 5, 2.0),
        ("C8", "regular", "regular", 5, 3.0),
        ("C8", "regular", "regular", 7, -2.0),
        ("C8", "regular", "regular", 7, -3.0),
        ("C16", "regular", "regular", 7, 2.5),
        ("C16", "regular", "regular", 5, -3.0),
        ("D8", "regular", "regular", 5, 1.5),
        ("D8", "regular", "regular", 7, -2.0),
        ("D4", "irrep_1,1", "regular", 5, 2.0),
        ("SO2:6", "irrep_0", "irrep_3", 7, 2.0),
        ("SO2:6", "irrep_1", "irrep_4", 7, -3.0),
        ("SO2:6", "irrep_2", "irrep_2", 5, 0.7),
        ("O2:6", "irrep_1,1", "irrep_1,4", 7, 2.0),
        ("O2:6", "irrep_1,2", "irrep_1,2", 5, -2.0),
        ("C4", "trivial", "irrep_2", 5, 3.0),
        ("C3", "regular", "regular", 7, 1.2),
    ):
        add(c(g, a, b, k, frequencies_cutoff=fco))

    # 6. maximum_offset (finite groups: aliasing allowed up to this offset)
    for g, a, b, k, off in (
        ("C8", "regular", "regular", 5, 0),
        ("C8", "regular", "regular", 5, 1),
        ("C8", "regular", "regular", 7, 2),
        ("C4", "regular", "regular", 5, 0),
        ("C4", "irrep_1", "irrep_1", 7, 1),
        ("D4", "regular", "regular", 5, 0),
        ("D4", "regular", "regular", 7, 1),
        ("D8", "trivial", "regular", 5, 1),
        ("C16", "regular", "regular", 7, 0),
        ("C6", "irrep_3", "irrep_1", 5, 1),
    ):
        add(c(g, a, b, k, maximum_offset=off))

    # 7. D_N with a flip axis other than pi/2
    for g, a, b, k, axis in (
        ("D4", "regular", "regular", 5, 0.0),
        ("D4", "irrep_1,1", "irrep_1,1", 5, 0.0),
        ("D4", "irrep_1,0", "irrep_1,1", 5, pi / 4),
        ("D8", "regular", "regular", 3, pi / 8),
        ("D3", "irrep_1,1", "regular", 5, 0.0),
        ("D2", "irrep_1,1", "irrep_0,1", 5, 0.3),
        ("D6", "trivial", "regular", 7, pi / 3),
        ("O2:3", "irrep_1,1", "irrep_1,2", 5, 0.0),
        ("O2:3", "irrep_1,0", "irrep_1,1", 5, pi / 6),
    ):
        add(c(g, a, b, k, axis=axis))

    # 8. SO(2) / O(2) with various maximum_frequency
    for mf in (1, 2, 4, 8):
        add(c(f"SO2:{mf}", "irrep_0", "irrep_1", 5))
        add(
            c(
                f"SO2:{mf}",
                [_irrep("SO2", j) for j in range(mf + 1)],
                [_irrep("SO2", j) for j in range(mf + 1)],
                5,
            )
        )
        add(c(f"O2:{mf}", "irrep_0,0", "irrep_1,1", 5))
        add(
            c(
                f"O2:{mf}",
                ["irrep_0,0", "irrep_1,0"] + [f"irrep_1,{j}" for j in range(1, mf + 1)],
                ["irrep_0,0"] + [f"irrep_1,{j}" for j in range(1, mf + 1)],
                7,
            )
        )
    add(c("SO2:3", "irrep_3", "irrep_3", 7))
    add(c("SO2:2", "irrep_1", "irrep_2", 3))
    add(c("O2:2", "irrep_1,0", "irrep_1,0", 5))
    add(c("O2:5", "irrep_1,5", "irrep_1,2", 7))

    # 9. mixed field types and quotient representations
    add(c("C8", ["trivial", "regular", "irrep_1"], ["regular", "trivial", "irrep_2"], 5))
    add(c("C4", ["regular", "regular", "trivial"], ["irrep_1", "irrep_2"], 3))
    add(c("C8", "quotient[2]", "regular", 5))
    add(c("C8", "quotient[4]", "quotient[2]", 5))
    add(c("C6", ["quotient[3]", "irrep_1"], "quotient[2]", 7))
    add(c("D4", "quotient[(None, 2)]", "regular", 5))
    add(c("D4", "quotient[(0, 1)]", "regular", 5))
    add(c("D8", "quotient[(None, 4)]", "quotient[(0, 2)]", 5))
    add(c("D4", ["irrep_0,0", "irrep_1,0", "irrep_1,1", "irrep_1,2", "irrep_0,2"], "regular", 5))
    add(c("D6", ["regular", "irrep_1,1"], ["irrep_1,2", "irrep_0,3", "trivial"], 7, dilation=2))
    add(c("C16", ["irrep_1", "irrep_3", "irrep_8"], ["irrep_2", "irrep_7"], 7))
    add(
        c(
            "C8",
            ["regular", "irrep_1"],
            ["regular", "irrep_3"],
            5,
            frequencies_cutoff=2.0,
            maximum_offset=1,
        )
    )
    add(
        c(
            "D4",
            "regular",
            ["regular", "quotient[(None, 2)]"],
            5,
            sigma=0.5,
            rings=(0.0, 1.0, 2.0),
            axis=0.0,
        )
    )

    # 10. layers e2cnn refuses (empty basis), recorded as errors
    add(c("C8", "irrep_0", "irrep_4", 3, frequencies_cutoff=0.5))
    add(c("SO2:6", "irrep_0", "irrep_6", 3))
    add(c("O2:2", "irrep_0,0", "irrep_1,0", 3))
    return cases


def dump_param_counts(path: Path = PARAM_COUNTS_PATH, timeout: float = DEFAULT_TIMEOUT) -> dict:
    """Run every default case through e2cnn and write the JSON table (idempotent)."""
    cases = default_param_count_cases()
    results = reference_param_counts(cases, timeout=timeout)
    versions = run_reference(_snippet("print(json.dumps(versions()))", None))
    table = {
        "library": f"e2cnn {versions['e2cnn']}",
        "versions": versions,
        "produced_by": "python benchmarks/reference.py --dump-param-counts "
        "(in our .venv; e2cnn runs in .venv-e2cnn, see benchmarks/README.md)",
        "what": "e2cnn.nn.R2Conv(FieldType(gspace, in), FieldType(gspace, out), kernel_size, "
        "dilation=dilation, sigma=..., rings=..., frequencies_cutoff=..., "
        "maximum_offset=..., initialize=False): weights.numel() and bias.numel(); a null "
        "field is e2cnn's default (not passed). 'error' when e2cnn refuses the layer.",
        "format": "see benchmarks/README.md, section 'reference_param_counts.json'",
        "cases": [{"case": case, **result} for case, result in zip(cases, results)],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # one case per line: diffable, still plain JSON
    header = [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in table.items() if k != "cases"]
    rows = [f"  {json.dumps(row)}" for row in table["cases"]]
    text = "{\n" + "\n".join(header) + '\n "cases": [\n' + ",\n".join(rows) + "\n ]\n}\n"
    json.loads(text)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return table


# --------------------------------------------------------------------------------------------
# (d) training step
# --------------------------------------------------------------------------------------------

_TRAIN_BODY = r"""
torch.manual_seed(0)
torch.set_num_threads(ARGS["threads"] or torch.get_num_threads())
gspace = make_gspace(ARGS["group"])
net = build_network(gspace, ARGS["plan"])
in_type = field_type(gspace, ARGS["plan"][0]["in"])
x = torch.randn(ARGS["batch"], in_type.size, ARGS["size"], ARGS["size"])
opt = torch.optim.SGD(net.parameters(), lr=1e-3)
def step():
    out = net(nn.GeometricTensor(x, in_type)).tensor
    loss = out.square().mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
times = []
for i in range(ARGS["warmup"] + ARGS["steps"]):
    t0 = time.perf_counter()
    step()
    if i >= ARGS["warmup"]:
        times.append(time.perf_counter() - t0)
net.eval()
with torch.no_grad():
    net(nn.GeometricTensor(x, in_type))  # first eval call expands and caches the filters
    evals = []
    for _ in range(ARGS["steps"]):
        t0 = time.perf_counter()
        net(nn.GeometricTensor(x, in_type))
        evals.append(time.perf_counter() - t0)
print(json.dumps({"train_step_seconds": times, "eval_forward_seconds": evals,
                  "threads": torch.get_num_threads(), "versions": versions()}))
"""


def reference_train_step_seconds(
    group: str | dict = "D8",
    widths: Sequence[int] = (16, 32, 64),
    layers: int = 6,
    kernel_size: int = 3,
    in_channels: int = 3,
    batch: int = 4,
    size: int = 15,
    steps: int = 3,
    warmup: int = 1,
    threads: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """Train-step (forward + backward + SGD, training mode: filters expanded every step) and
    eval-forward (filters cached) times of the benchmark network on random ``batch x size x size``
    inputs. Returns lists of seconds plus ``train_median`` / ``eval_median``."""
    plan = network_plan(widths, layers, kernel_size, in_channels)
    args = {
        "group": group,
        "plan": plan,
        "batch": batch,
        "size": size,
        "steps": steps,
        "warmup": warmup,
        "threads": threads,
    }
    out = run_reference(_snippet(_TRAIN_BODY, args), timeout=timeout)
    out["train_median"] = statistics.median(out["train_step_seconds"])
    out["eval_median"] = statistics.median(out["eval_forward_seconds"])
    out.update(group=group, plan=plan, batch=batch, size=size)
    return out


# --------------------------------------------------------------------------------------------
# smoke test (used by scripts/setup_reference_env.sh)
# --------------------------------------------------------------------------------------------

_SMOKE_BODY = r"""
torch.manual_seed(0)
report = []
for spec, elements in (("C8", [2, 4]), ("D4", [(0, 1), (1, 0), (1, 3)])):
    gspace = make_gspace(spec)
    i, o = field_type(gspace, ["regular", 2]), field_type(gspace, ["regular", 3])
    conv = nn.R2Conv(i, o, kernel_size=5, padding=2)
    x = nn.GeometricTensor(torch.randn(2, i.size, 17, 17), i)
    y = conv(x)
    assert tuple(y.tensor.shape) == (2, o.size, 17, 17), y.tensor.shape
    assert torch.isfinite(y.tensor).all()
    # rotations by multiples of 90 degrees and flips act exactly on the pixel grid
    err = max(float((conv(x.transform(g)).tensor - y.transform(g).tensor).abs().max()
                    / y.tensor.abs().max()) for g in elements)
    assert err < 1e-4, (spec, err)
    report.append({"gspace": gspace.name, "weights": conv.weights.numel(),
                   "out_shape": list(y.tensor.shape), "equivariance_error": err})
# a layer with a single-element block (needs the uint8-mask shim on torch 2)
o2 = make_gspace("O2:5")
conv = nn.R2Conv(field_type(o2, "irrep_1,5"), field_type(o2, "irrep_1,2"), kernel_size=7)
report.append({"gspace": o2.name, "weights": conv.weights.numel()})
print(json.dumps({"layers": report, "versions": versions()}))
"""


def smoke_test(timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """Build and run R2Conv layers in the reference env (C8 and D4 regular->regular, k=5),
    checking shapes, finiteness and exact equivariance to 90-degree rotations and flips."""
    return run_reference(_snippet(_SMOKE_BODY, None), timeout=timeout)


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------

BENCHMARK_LAYERS = [  # the compile benchmark's network (benchmarks/compile_bases.py)
    ("trivial", "regular", 5),
    ("regular", "regular", 5),
    ("regular", "regular", 3),
    ("regular", "trivial", 3),
]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="locate the env, print versions")
    parser.add_argument(
        "--smoke-test",
        action="store_true",
        help="build and run R2Conv layers there (checks equivariance)",
    )
    parser.add_argument("--instantiation", nargs="*", metavar="GROUP", help="e.g. D8 C16")
    parser.add_argument("--compile", nargs="*", metavar="GROUP", help="e.g. D8 C16")
    parser.add_argument("--train-step", nargs="*", metavar="GROUP", help="e.g. D8 C16")
    parser.add_argument(
        "--dump-param-counts",
        action="store_true",
        help=f"regenerate {PARAM_COUNTS_PATH.relative_to(ROOT)}",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--no-init", action="store_true", help="--instantiation with R2Conv(initialize=False)"
    )
    args = parser.parse_args(argv)

    python = reference_python()
    if python is None:
        print(
            f"reference environment unavailable ({_candidate()}); "
            "run: bash scripts/setup_reference_env.sh",
            file=sys.stderr,
        )
        return 2
    if args.check or not any(
        (
            args.instantiation is not None,
            args.compile is not None,
            args.train_step is not None,
            args.dump_param_counts,
            args.smoke_test,
        )
    ):
        versions = run_reference(_snippet("print(json.dumps(versions()))", None))
        print(f"reference python: {python}")
        print(json.dumps(versions))
    if args.smoke_test:
        for layer in smoke_test()["layers"]:
            print("e2cnn smoke test ok: " + ", ".join(f"{k} {v}" for k, v in layer.items()))
    for group in args.instantiation or ([] if args.instantiation is None else ["D8", "C16"]):
        r = reference_instantiation_seconds(
            group, repeats=args.repeats, initialize=not args.no_init
        )
        print(
            f"{group}: e2cnn network instantiation (cold, fresh process"
            f"{', initialize=False' if args.no_init else ''}) "
            f"best {r['best']:.3f} s, median {r['median']:.3f} s "
            f"(runs {', '.join(f'{s:.3f}' for s in r['seconds'])}); "
            f"warm rebuild {min(r['rebuild_seconds']):.3f} s; "
            f"import {min(r['import_seconds']):.2f} s; {r['parameters']} parameters"
        )
    for group in args.compile or ([] if args.compile is None else ["D8", "C16"]):
        r = reference_compile_seconds(group, BENCHMARK_LAYERS, repeats=args.repeats)
        for row in r["layers"]:
            print(
                f"{group}: {row['in']}->{row['out']} {row['kernel_size']}x{row['kernel_size']} "
                f"dim {row['dim']}: first {row['first'] * 1e3:.1f} ms, "
                f"best {row['best'] * 1e3:.1f} ms"
            )
        print(
            f"{group}: all: first {r['first_total'] * 1e3:.1f} ms, "
            f"best {r['best_total'] * 1e3:.1f} ms"
        )
    for group in args.train_step or ([] if args.train_step is None else ["D8", "C16"]):
        r = reference_train_step_seconds(group)
        print(
            f"{group}: train step median {r['train_median'] * 1e3:.1f} ms, "
            f"eval forward median {r['eval_median'] * 1e3:.1f} ms "
            f"(batch {r['batch']}, {r['size']}x{r['size']}, {r['threads']} threads)"
        )
    if args.dump_param_counts:
        table = dump_param_counts()
        errors = sum("error" in row for row in table["cases"])
        print(
            f"wrote {PARAM_COUNTS_PATH.relative_to(ROOT)}: {len(table['cases'])} cases "
            f"({errors} refused by e2cnn), {table['library']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
