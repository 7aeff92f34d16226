"""The grid kind through ``e2c``: ``e2c compile model.py:build`` collects a FourierELU's grid spec
next to the convolution's, ``cache ls``/``info`` list and describe it, ``show`` says it has no
filters, and a fresh process builds the model offline from the store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

import cli

REPO = Path(__file__).resolve().parents[2]

MODEL = """
import sys
from e2compile import gspaces
from runtime import nn


def build():
    gs = gspaces.rot2dOnR2(-1)
    G = gs.fibergroup
    t_in = nn.FieldType(gs, [gs.trivial_repr])
    t = nn.FieldType(gs, [G.bl_regular_representation(2)] * 4)
    return nn.SequentialModule(nn.R2Conv(t_in, t, 3), nn.FourierELU(gs, 4, G.bl_irreps(2), N=8))


if __name__ == "__main__":
    import torch
    model = build()
    x = nn.GeometricTensor(torch.randn(1, 1, 7, 7), model.in_type)
    print(tuple(model(x).shape))
"""


def e2c(root: Path, *args: str):
    return CliRunner().invoke(cli.main, ["--cache-dir", str(root), *args], catch_exceptions=False)


def test_grid_specs_compile_ahead_of_time_list_and_build_offline(tmp_path):
    root = tmp_path / "store"
    model = tmp_path / "model.py"
    model.write_text(MODEL)
    result = e2c(root, "compile", f"{model}:build")
    assert result.exit_code == 0 and "2 compiled" in result.output, result.output
    rows = json.loads(e2c(root, "cache", "ls", "--json").output)
    grid = [r for r in rows if json.loads(r["spec"])["kind"] == "grid"]
    assert len(grid) == 1 and "grid k=1 d=1 5->5 channels" in e2c(root, "cache", "ls").output
    key = grid[0]["key"]
    info = e2c(root, "cache", "info", key[:16])
    assert info.exit_code == 0 and "kind=grid" in info.output and "grid=8 elements" in info.output
    assert set(grid[0]["arrays"]) == {"grid", "A", "Ainv"}
    shown = e2c(root, "show", key[:16])
    assert shown.exit_code == 1 and "grid artifact, which has no filters" in shown.output
    env = dict(os.environ, E2C_OFFLINE="1", E2C_CACHE_DIR=str(root))
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    run = subprocess.run(
        [sys.executable, str(model)], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    assert "(1, 20, 5, 5)" in run.stdout
