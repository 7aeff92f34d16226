"""Bounded resources: sizes are estimated before anything is allocated and refused above a limit.

Each case of the bug report is reproduced through ``e2c compile``: a huge group (``-N 100000``,
``-N -1 --maximum-frequency 1000000``), a huge grid (``--kernel-size 1099511627777``) and the big
D16/C16 kernels, which now compile in bounded memory (measured in a child process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import cli
from cache.settings import ENV
from e2compile import budget, gspaces
from e2compile.compiler import compile
from e2compile.diffops.kind import pdo_spec
from e2compile.kernels.kind import kernel_spec
from runtime import nn

REPO = Path(__file__).resolve().parents[2]


def e2c(root: Path, *args: str, env: dict | None = None):
    return CliRunner().invoke(
        cli.main, ["--cache-dir", str(root), *args], env=env, catch_exceptions=False
    )


def layer(*args: str) -> list[str]:
    return ["compile", "--gspace", *args]


@pytest.mark.parametrize(
    "args, message",
    [
        (["rot2d", "-N", "100000", "--in", "regular", "--out", "regular"], "50001 irreps"),
        (
            ["rot2d", "-N", "-1", "--maximum-frequency", "1000000", "--in", "irrep_1"],
            "1000001 irreps",
        ),
        (["rot2d", "-N", "3000", "--in", "regular", "--out", "regular"], "GiB"),
        (["fliprot2d", "-N", "8", "--in", "regular", "--out", "regular"], "PiB"),
    ],
)
def test_huge_groups_and_grids_are_refused_before_allocating(tmp_path, args, message):
    size = "1099511627777" if "PiB" in message else "5"
    if "--out" not in args:
        args = [*args, "--out", "irrep_1"]
    result = e2c(tmp_path, *layer(*args, "--kernel-size", size))
    assert result.exit_code == 2
    assert message in result.output and "refused before allocating" in result.output
    assert "Traceback" not in result.output
    assert not any(tmp_path.glob("*/*.h5"))


def test_limit_from_flag_and_environment(tmp_path):
    args = layer("fliprot2d", "-N", "16", "--in", "regular", "--out", "regular")
    args += ["--kernel-size", "31"]
    flag = e2c(tmp_path, *args, "--max-size", "100")
    env = e2c(tmp_path, *args, env={ENV["max_basis_mb"]: "100"})
    for result in (flag, env):
        assert result.exit_code == 2
        assert "646.1 MiB, above the limit of 100.0 MiB" in result.output
    bad = e2c(tmp_path, *args, env={ENV["max_basis_mb"]: "lots"})
    assert bad.exit_code == 2 and "E2C_MAX_BASIS_MB='lots'" in bad.output
    assert e2c(tmp_path, *args, "--max-size", "0").exit_code == 2  # click rejects it


def test_library_refuses_with_the_estimate():
    gs = gspaces.FlipRot2dOnR2(8)
    spec = kernel_spec(gs, gs.regular_repr, gs.regular_repr, 9)
    with budget.limited(budget.Limits(max_bytes=2**19)):
        with pytest.raises(budget.BasisTooLargeError, match="above the limit of 512.0 KiB"):
            compile(spec)
    t = nn.FieldType(gs, [gs.regular_repr])
    with pytest.raises(ValueError, match="refused before allocating"):
        nn.R2Conv(t, t, 1099511627777)
    with budget.limited(budget.Limits(max_irreps=3)):
        with pytest.raises(budget.BasisTooLargeError, match="7 irreps") as info:
            budget.check_group("fliprot2d", 8)
    assert "Limits(max_irreps=" in str(info.value)  # says how to raise it here
    with pytest.raises(ValueError, match="max_bytes"):
        budget.Limits(max_bytes=0)


def test_the_compiler_never_reads_the_environment_the_runtime_passes_its_limits(monkeypatch):
    """The settings' limits reach the compiler through the runtime (issue 18): the compiler
    alone keeps its defaults, a layer built by the runtime is refused or allowed by them."""
    gs = gspaces.FlipRot2dOnR2(8)
    monkeypatch.setenv(ENV["max_basis_mb"], "0.5")
    assert budget.limit_bytes() == budget.DEFAULT_LIMIT_MB * 2**20
    t = nn.FieldType(gs, [gs.regular_repr])
    with pytest.raises(budget.BasisTooLargeError, match="E2C_MAX_BASIS_MB=<MiB>"):
        nn.R2Conv(t, t, 9, recompute=True)
    monkeypatch.setenv(ENV["max_irreps"], "3")
    with pytest.raises(budget.BasisTooLargeError, match="E2C_MAX_IRREPS=<count>"):
        nn.R2Conv(t, t, 3)
    monkeypatch.delenv(ENV["max_basis_mb"])
    monkeypatch.delenv(ENV["max_irreps"])
    # a limit raised above the default lets the runtime build what the default refuses
    with pytest.raises(budget.BasisTooLargeError):
        budget.check_group("rot2d", 50000)  # 25001 irreps
    monkeypatch.setenv(ENV["max_irreps"], "40000")
    from runtime.bases import compiler_limits

    with compiler_limits():
        budget.check_group("rot2d", 50000)


@given(
    family=st.sampled_from(["rot2d", "fliprot2d", "flip2d", "trivial"]),
    n=st.sampled_from([2, 3, 4, 6, 8]),
    k=st.integers(1, 9),
    cutoff=st.sampled_from([None, "fco2", 1.5, 3.0]),
)
def test_estimate_bounds_the_artifact(family, n, k, cutoff):
    gs = {
        "rot2d": lambda: gspaces.Rot2dOnR2(n),
        "fliprot2d": lambda: gspaces.FlipRot2dOnR2(n),
        "flip2d": gspaces.Flip2dOnR2,
        "trivial": gspaces.TrivialOnR2,
    }[family]()
    spec = kernel_spec(gs, gs.regular_repr, gs.regular_repr, k, frequencies_cutoff=cutoff)
    estimate = budget.estimate_spec_bytes(spec)["blocks"]
    artifact = compile(spec)
    actual = artifact.blocks.nbytes if artifact.compact else 0  # empty: a dense dim-0 array
    assert actual <= estimate
    assert actual == 0 or estimate <= 16 * actual  # a bound, not a wild guess


@given(
    family=st.sampled_from(["rot2d", "fliprot2d", "flip2d", "trivial"]),
    n=st.sampled_from([2, 3, 4, 8]),
    k=st.sampled_from([3, 5]),
    method=st.sampled_from(["fd", "gauss"]),
)
def test_pdo_estimate_bounds_the_artifact(family, n, k, method):
    gs = {
        "rot2d": lambda: gspaces.Rot2dOnR2(n),
        "fliprot2d": lambda: gspaces.FlipRot2dOnR2(n),
        "flip2d": gspaces.Flip2dOnR2,
        "trivial": gspaces.TrivialOnR2,
    }[family]()
    smoothing = 1.0 if method == "gauss" else None
    spec = pdo_spec(gs, gs.regular_repr, gs.regular_repr, k, method=method, smoothing=smoothing)
    estimate = budget.estimate_spec_bytes(spec)
    artifact = compile(spec)
    assert artifact.compact  # the estimate is the compact artifact's, like a kernel spec's
    actual = artifact.blocks.nbytes
    assert actual <= estimate["blocks"]
    assert estimate["blocks"] <= 16 * actual  # a bound, not a wild guess
    assert artifact.nbytes <= sum(estimate.values()) + sum(
        c.nbytes for c in artifact.attributes.values()
    )


def test_huge_pdo_layer_is_refused_before_its_basis_is_built(tmp_path):
    args = layer("rot2d", "-N", "64", "--in", "regular", "--out", "regular")
    result = e2c(tmp_path, *args, "--kind", "pdo", "--kernel-size", "61")
    assert result.exit_code != 0
    assert "the compact PDO basis" in result.output and "refused before allocating" in result.output
    assert not any(tmp_path.glob("*/*.h5"))


def _peak_rss_of(cmd: list[str], env: dict) -> tuple[int, subprocess.CompletedProcess]:
    """Peak RSS (bytes) of a child process (Linux: ru_maxrss in KiB)."""
    script = (
        "import json, resource, subprocess, sys;"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
        "print(json.dumps([resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode,"
        " p.stdout, p.stderr]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, *cmd], env=env, capture_output=True, text=True, check=True
    )
    rss, code, stdout, stderr = json.loads(out.stdout)
    return rss * 1024, subprocess.CompletedProcess(cmd, code, stdout, stderr)


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units differ")
def test_d16_k21_compiles_in_bounded_memory(tmp_path):
    """The k=21 D16 regular layer needed 5.3 GB for a 2.5 GiB dense artifact; compact, its
    artifact is 82 MiB and the whole process stays well under 1 GB."""
    env = dict(os.environ, E2C_CACHE_DIR=str(tmp_path), PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "cli", "compile", "--gspace", "fliprot2d", "-N", "16"]
    cmd += ["--in", "regular", "--out", "regular", "--kernel-size", "21", "--json"]
    peak, result = _peak_rss_of(cmd, env)
    assert result.returncode == 0, result.stderr
    (artifact,) = tmp_path.glob("*/*.h5")
    size = artifact.stat().st_size
    assert size < 128 * 2**20
    assert peak < 3 * size + 400 * 2**20, (peak, size)  # blocks + a copy + the interpreter


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units differ")
def test_d16_k9_pdo_compiles_in_bounded_memory(tmp_path):
    """The D16 regular k=9 PDO layer was a 0.9 GiB dense artifact (2.2 GB peak RSS, refused at
    the default limit); compact, its artifact is about 4 MiB and the process stays small."""
    env = dict(os.environ, E2C_CACHE_DIR=str(tmp_path), PYTHONPATH=str(REPO))
    env.pop(ENV["max_basis_mb"], None)
    cmd = [sys.executable, "-m", "cli", "compile", "--gspace", "fliprot2d", "-N", "16"]
    cmd += ["--in", "regular", "--out", "regular", "--kernel-size", "9", "--kind", "pdo", "--json"]
    peak, result = _peak_rss_of(cmd, env)
    assert result.returncode == 0, result.stderr
    (artifact,) = tmp_path.glob("*/*.h5")
    size = artifact.stat().st_size
    assert size < 16 * 2**20
    assert peak < 3 * size + 400 * 2**20, (peak, size)


def test_huge_ring_radius_is_refused_with_a_short_size(tmp_path):
    args = layer("rot2d", "-N", "4", "--in", "regular", "--out", "regular")
    result = e2c(tmp_path, *args, "--kernel-size", "5", "--rings", "0,1,1e300")
    assert result.exit_code == 2 and "refused before allocating" in result.output
    assert max(len(word) for word in result.output.split()) < 40, result.output
