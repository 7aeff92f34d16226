"""The store bridge: memo, store, compiler; recompute; offline mode; dry-run spec collection."""

from __future__ import annotations

import pickle
import shlex
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from click.testing import CliRunner

from cache import Store
from e2compile import compiler, gspaces
from e2compile.kernels.kind import kernel_spec
from runtime import bases, nn


@pytest.fixture
def store_dir(tmp_path, monkeypatch):
    """An empty private store and an empty memo."""
    root = tmp_path / "store"
    monkeypatch.setenv("E2C_CACHE_DIR", str(root))
    monkeypatch.delenv("E2C_OFFLINE", raising=False)
    monkeypatch.delenv("E2C_CACHE_PATH", raising=False)
    bases.MEMO.clear()
    yield root
    bases.MEMO.clear()


@pytest.fixture
def compiled(monkeypatch):
    """The keys the compiler is asked for."""
    calls: list[str] = []
    real = compiler.compile

    def counting(spec):
        calls.append(spec.key)
        return real(spec)

    monkeypatch.setattr(compiler, "compile", counting)
    return calls


def _no_compiler(monkeypatch):
    def refuse(spec):
        raise AssertionError(f"the compiler was called for {spec.key[:12]}")

    monkeypatch.setattr(compiler, "compile", refuse)


def _spec(N=4, k=3):
    gs = gspaces.Rot2dOnR2(N)
    return kernel_spec(gs, gs.regular_repr, gs.regular_repr, k)


def _network(gs):
    """The documented example network (two convolutions, batch norm, pooling)."""
    c_in = nn.FieldType(gs, [gs.trivial_repr] * 3)
    c_hid = nn.FieldType(gs, [gs.regular_repr] * 3)
    c_out = nn.FieldType(gs, [gs.regular_repr] * 1)
    return nn.SequentialModule(
        nn.R2Conv(c_in, c_hid, 5, bias=False),
        nn.InnerBatchNorm(c_hid),
        nn.ReLU(c_hid, inplace=True),
        nn.PointwiseMaxPool(c_hid, kernel_size=3, stride=2, padding=1),
        nn.R2Conv(c_hid, c_out, 3, bias=False),
        nn.InnerBatchNorm(c_out),
        nn.ELU(c_out, inplace=True),
        nn.GroupPooling(c_out),
    )


def _e2c(*args):
    from cli import main

    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


# ------------------------------------------------------------------------------ load_basis order


def test_miss_compiles_and_stores_then_store_hit_needs_no_compiler(store_dir, compiled):
    spec = _spec()
    first = bases.load_basis(spec)
    assert compiled == [spec.key]
    assert Store(store_dir).contains(spec.key)
    bases.MEMO.clear()
    second = bases.load_basis(spec)
    assert compiled == [spec.key]  # read from the store
    assert second == first
    assert bases.load_basis(spec) is second  # and now from the memo


def test_identical_layers_load_their_artifact_once(store_dir, compiled, monkeypatch):
    gs = gspaces.FlipRot2dOnR2(4)
    t = nn.FieldType(gs, [gs.regular_repr] * 2)
    gets = []
    real_get = Store.get
    monkeypatch.setattr(Store, "get", lambda self, key: gets.append(key) or real_get(self, key))
    nn.SequentialModule(*[nn.R2Conv(t, t, 3) for _ in range(6)])
    assert len(compiled) == 1 and len(gets) == 1
    assert bases.MEMO.hits == 5


def test_recompute_bypasses_store_and_memo(store_dir, compiled, monkeypatch):
    spec = _spec()
    bases.load_basis(spec)
    monkeypatch.setattr(Store, "get", lambda self, key: pytest.fail("store read"))
    again = bases.load_basis(spec, recompute=True)
    assert compiled == [spec.key, spec.key] and again.dim > 0
    gs = gspaces.Rot2dOnR2(4)
    t = nn.FieldType(gs, [gs.regular_repr])
    nn.R2Conv(t, t, 3, recompute=True)
    assert len(compiled) == 3


def test_memo_is_a_bounded_lru():
    def artifact(n):
        return SimpleNamespace(nbytes=8 * n)

    memo = bases.ArtifactMemo(max_bytes=8 * 100)
    memo.put("a", artifact(40))
    memo.put("b", artifact(40))
    assert memo.get("a") is not None  # "a" is now the most recent
    memo.put("c", artifact(40))  # evicts "b", the least recently used
    assert "b" not in memo and "a" in memo and "c" in memo
    assert memo.nbytes == 8 * 80 <= memo.max_bytes
    memo.put("huge", artifact(1000))  # larger than the bound: not kept
    assert "huge" not in memo and len(memo) == 2
    memo.clear()
    assert len(memo) == 0 and memo.nbytes == 0
    assert "MiB" in repr(bases.MEMO)


def test_empty_basis_is_an_artifact_with_no_elements(store_dir, compiled, monkeypatch):
    gs = gspaces.Rot2dOnR2(-1, maximum_frequency=6)
    t_in = nn.FieldType(gs, [gs.irrep(0), gs.irrep(1)])
    t_out = nn.FieldType(gs, [gs.irrep(6), gs.irrep(1)])
    conv = nn.R2Conv(t_in, t_out, 3)  # no kernel reaches frequency 6 at k = 3
    alone = nn.R2Conv(t_in, nn.FieldType(gs, [gs.irrep(1)]), 3)
    assert conv.weights.numel() == alone.weights.numel() > 0
    filt, _ = conv.expand_parameters()
    assert filt.shape == (4, 3, 3, 3) and not filt[:2].any() and filt[2:].any()
    # stored like any other artifact: offline mode needs no compiler for it
    bases.MEMO.clear()
    monkeypatch.setenv("E2C_OFFLINE", "1")
    _no_compiler(monkeypatch)
    assert nn.R2Conv(t_in, t_out, 3).weights.numel() == conv.weights.numel()


def test_a_layer_with_no_kernel_at_all_is_refused():
    gs = gspaces.Rot2dOnR2(-1, maximum_frequency=6)
    t_in = nn.FieldType(gs, [gs.irrep(0), gs.irrep(1)])
    with pytest.raises(ValueError, match="kernel_size=3.*empty|empty.*kernel_size=3"):
        nn.R2Conv(t_in, nn.FieldType(gs, [gs.irrep(6)]), 3)


# ------------------------------------------------------------------------------------ offline


MODEL_FILE = """
from e2compile import gspaces
from tests.runtime.test_bases import _network


def build_model():
    return _network(gspaces.Rot2dOnR2(8))
"""


def test_offline_network_builds_from_a_store_prepared_by_e2c_compile(
    store_dir, tmp_path, monkeypatch
):
    """``e2c compile model.py:build_model`` (dry-run collection), then an offline build."""
    model = tmp_path / "model.py"
    model.write_text(MODEL_FILE)
    out = _e2c("compile", f"{model}:build_model")
    assert "2 compiled" in out
    assert "0 compiled, 2 cached" in _e2c("compile", f"{model}:build_model")
    bases.MEMO.clear()
    monkeypatch.setenv("E2C_OFFLINE", "1")
    _no_compiler(monkeypatch)
    net = _network(gspaces.Rot2dOnR2(8))
    x = nn.GeometricTensor(torch.randn(2, 3, 17, 17), net.in_type)
    assert net(x).shape == (2, 1, 5, 5)


CALLABLE_CUTOFF_MODEL = """
import sys
from e2compile import gspaces
from runtime import nn


def build(cutoff=lambda r: 3 * r):
    gs = gspaces.FlipRot2dOnR2(4)
    t_in = nn.FieldType(gs, 3 * [gs.trivial_repr])
    t = nn.FieldType(gs, 2 * [gs.regular_repr])
    return nn.SequentialModule(
        nn.R2Conv(t_in, t, 5, frequencies_cutoff=cutoff),
        nn.R2Conv(t, t, 3, frequencies_cutoff=cutoff),
    )


if __name__ == "__main__":  # offline: another lambda that agrees with 3 r on the rings 0, 1, 2
    model = build(lambda radius: radius + 2 * radius)
    print(sum(p.numel() for p in model.parameters()))
"""


def test_a_callable_cutoff_compiles_ahead_of_time_and_builds_offline(store_dir, tmp_path):
    """``R2Conv(..., frequencies_cutoff=lambda r: 3 * r)``: ``e2c compile model.py:build`` stores
    its bases (keyed by the cutoff's values on the rings), and a fresh process builds the model
    offline from them, with another callable that agrees there."""
    import os
    import subprocess
    import sys

    model = tmp_path / "model.py"
    model.write_text(CALLABLE_CUTOFF_MODEL)
    out = _e2c("compile", f"{model}:build")
    assert "2 compiled" in out  # trivial -> regular (k=5), regular -> regular (k=3)
    keys = set(Store(store_dir).keys())
    assert len(keys) == 2
    env = dict(os.environ, E2C_OFFLINE="1", E2C_CACHE_DIR=str(store_dir))
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[2]), env.get("PYTHONPATH", "")])
    run = subprocess.run(
        [sys.executable, str(model)], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    assert int(run.stdout.split()[-1]) > 0
    assert set(Store(store_dir).keys()) == keys  # nothing compiled in the offline build


def test_e2c_compile_model_builder_errors(store_dir, tmp_path):
    from cli import main

    runner = CliRunner()
    missing = runner.invoke(main, ["compile", f"{tmp_path / 'nope.py'}:build_model"])
    assert missing.exit_code == 2 and "no such Python file" in missing.output
    broken = tmp_path / "broken.py"
    broken.write_text("def build_model():\n    raise RuntimeError('boom')\n")
    failed = runner.invoke(main, ["compile", f"{broken}:build_model"])
    assert failed.exit_code == 1 and "boom" in failed.output
    absent = runner.invoke(main, ["compile", f"{broken}:other"])
    assert absent.exit_code == 2 and "no callable 'other'" in absent.output
    module = runner.invoke(main, ["compile", "--dry-run", "json:dumps"])
    assert module.exit_code == 1 and "dry run failed" in module.output


def test_offline_miss_names_the_spec_and_the_command(store_dir, monkeypatch):
    monkeypatch.setenv("E2C_OFFLINE", "1")
    _no_compiler(monkeypatch)
    gs = gspaces.FlipRot2dOnR2(4)
    t = nn.FieldType(gs, [gs.regular_repr])
    with pytest.raises(bases.OfflineBasisMissError) as info:
        nn.R2Conv(t, t, 3)
    error = info.value
    spec = error.spec
    assert spec == kernel_spec(gs, gs.regular_repr, gs.regular_repr, 3)
    assert error.command == f"e2c compile {shlex.quote(error.spec_file)}"
    assert error.command in str(error) and spec.key in str(error)
    assert isinstance(pickle.loads(pickle.dumps(error)), bases.OfflineBasisMissError)
    # the printed command is the fix
    monkeypatch.undo()
    monkeypatch.setenv("E2C_CACHE_DIR", str(store_dir))
    _e2c(*shlex.split(error.command)[1:])
    monkeypatch.setenv("E2C_OFFLINE", "1")
    _no_compiler(monkeypatch)
    assert nn.R2Conv(t, t, 3).weights.numel() > 0


def test_offline_store_argument(store_dir):
    spec = _spec(N=2)
    with pytest.raises(bases.OfflineBasisMissError):
        bases.load_basis(spec, store=Store(store_dir, offline=True))
    bases.load_basis(spec, store=Store(store_dir))
    bases.MEMO.clear()
    assert bases.load_basis(spec, store=Store(store_dir, offline=True)).dim > 0


# ------------------------------------------------------------------------------------ dry run


def test_collect_specs_records_without_loading(store_dir, monkeypatch):
    gs = gspaces.Rot2dOnR2(8)
    _no_compiler(monkeypatch)
    monkeypatch.setattr(Store, "get", lambda self, key: pytest.fail("store read in a dry run"))
    assert not bases.collecting()
    with bases.collect_specs() as specs:
        assert bases.collecting()
        net = _network(gs)
        nn.R2Conv(net.in_type, net.in_type, 3, frequencies_cutoff=lambda r: r)
    assert not bases.collecting()
    # a callable cutoff is keyed by its values on the rings: recorded like any other basis
    assert len(specs) == 3 and specs.requests == 3
    assert {s.kernel_size for s in specs} == {5, 3}
    assert (0.0, 1.0) in [s.options.frequencies_cutoff for s in specs]
    with pytest.raises(RuntimeError, match="collect_specs"):
        net(nn.GeometricTensor(torch.randn(1, 3, 9, 9), net.in_type))
    with pytest.raises(RuntimeError, match="outside"):
        bases.record_spec(specs.specs[0])
