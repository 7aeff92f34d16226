"""Packaging and layering: the console script works and dependencies flow one way."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imported_after(statement: str) -> set[str]:
    """Top-level module names imported by running ``statement`` in a fresh interpreter."""
    code = (
        "import sys, json\n"
        f"{statement}\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_console_script_reports_version():
    from e2compile import __version__

    out = subprocess.run(
        [sys.executable, "-m", "cli", "--version"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert __version__ in out.stdout


def test_unknown_subpackage_is_an_attribute_error():
    import e2compile

    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        e2compile.nonexistent  # noqa: B018


def test_cache_knows_no_math_and_no_torch():
    mods = _imported_after("import cache, cache.store")
    assert not {"torch", "e2compile", "runtime", "sympy"} & mods


def test_compiler_knows_no_torch():
    mods = _imported_after(
        "import e2compile.group, e2compile.gspaces, e2compile.kernels, e2compile.compiler"
    )
    assert "torch" not in mods
    assert "runtime" not in mods
    assert "cache" not in mods


def test_layer_descriptions_know_no_torch_store_or_cli():
    mods = _imported_after("import e2compile.layers")
    assert not {"torch", "runtime", "cache", "click", "cli"} & mods


def test_runtime_import_is_light():
    """Importing the runtime must not pull in the compiler's heavy maths (sympy, rbf)."""
    mods = _imported_after("from runtime import nn")
    assert not {"sympy", "rbf"} & mods


def test_a_warm_model_build_imports_nothing_it_does_not_need(tmp_path):
    """A fresh process that builds a kernel and a PDO network from a warm store imports neither
    the compiler's maths (sympy, rbf, scipy) nor HDF5, numpy.ma or platformdirs: a cluster job's
    start pays only for what it uses."""
    build = (
        "import torch\n"
        "from e2compile import gspaces\n"
        "from runtime import nn\n"
        "gs = gspaces.FlipRot2dOnR2(4)\n"
        "t_in = nn.FieldType(gs, 3 * [gs.trivial_repr])\n"
        "t = nn.FieldType(gs, 2 * [gs.regular_repr])\n"
        "nn.SequentialModule(nn.R2Conv(t_in, t, 3), nn.InnerBatchNorm(t), nn.ReLU(t),\n"
        "                    nn.R2Diffop(t, t, 3), nn.GNormBatchNorm(t), nn.NormPool(t))\n"
    )
    env = {"E2C_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", build], cwd=ROOT, env=env, check=True)  # fills the store
    # what torch (and numpy) import by themselves is not ours to avoid: numpy 1.x loads numpy.ma
    code = (
        f"import sys, json\nimport torch\nbase = set(sys.modules)\n{build}"
        "print(json.dumps(sorted(set(sys.modules) - base)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    mods = set(json.loads(out.stdout.strip().splitlines()[-1]))
    unwanted = {"sympy", "rbf", "scipy", "h5py", "numpy.ma", "platformdirs", "filelock"}
    assert not unwanted & mods, sorted(unwanted & mods)
