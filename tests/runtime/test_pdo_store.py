"""PDO bases in the store: ``e2c compile`` from a model, a spec file and flags; offline
instantiation in a fresh process; ``store_cache``/``load_cache`` round trip across processes;
``e2c cache info`` shows the PDO settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from e2compile.diffops.kind import pdo_spec
from e2compile.gspaces import FlipRot2dOnR2, Rot2dOnR2

REPO = Path(__file__).resolve().parents[2]

MODEL = textwrap.dedent(
    """
    from e2compile import gspaces
    from runtime import nn

    def build_model():
        gs = gspaces.FlipRot2dOnR2(4)
        t_in = nn.FieldType(gs, [gs.trivial_repr])
        t_hid = nn.FieldType(gs, 2 * [gs.regular_repr])
        return nn.SequentialModule(
            nn.R2Diffop(t_in, t_hid, kernel_size=5, padding=2),
            nn.ReLU(t_hid),
            nn.R2Diffop(t_hid, t_hid, kernel_size=3, padding=1, smoothing=1.0),
            nn.R2Diffop(t_hid, t_hid, kernel_size=3, padding=1, rbffd=True),
            nn.GroupPooling(t_hid),
        )
    """
)


def _env(root: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "E2C_CACHE_DIR": str(root), "PYTHONPATH": str(REPO), **extra}
    env.pop("E2C_CACHE_PATH", None)
    env.pop("E2C_OFFLINE", None)
    env.update(extra)
    return env


def _python(code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def e2c(root: Path, *args: str):
    return CliRunner().invoke(cli.main, ["--cache-dir", str(root), *args], catch_exceptions=False)


@pytest.mark.extra("pdo")
def test_compile_a_pdo_model_then_build_it_offline_in_a_fresh_process(tmp_path):
    (tmp_path / "pdo_model.py").write_text(MODEL)
    store = tmp_path / "store"
    result = e2c(store, "compile", f"{tmp_path / 'pdo_model.py'}:build_model")
    assert result.exit_code == 0, result.output
    assert "3 compiled" in result.output  # three distinct PDO specs (methods differ)
    code = """
        import sys, torch
        sys.path.insert(0, '.')
        from pdo_model import build_model
        from e2compile.gspaces import FlipRot2dOnR2
        net = build_model().eval()
        x = torch.randn(1, 1, 9, 9)
        from runtime import nn
        y = net(nn.GeometricTensor(x, net.in_type)).tensor
        print('built', tuple(y.shape), 'sympy' in sys.modules, 'rbf' in sys.modules)
    """
    run = _python(code, _env(store, E2C_OFFLINE="1"), tmp_path)
    assert run.returncode == 0, run.stderr
    # offline: everything came from the store, the compiler's sympy/rbf were never imported
    assert "built (1, 2, 9, 9) False False" in run.stdout
    empty = _python(code, _env(tmp_path / "empty", E2C_OFFLINE="1"), tmp_path)
    assert empty.returncode != 0 and "offline mode is on" in empty.stderr


def test_spec_file_and_flags_give_pdo_keys_and_info_shows_settings(tmp_path):
    store = tmp_path / "store"
    layer = {
        "gspace": "rot2d", "N": 8, "in": "regular", "out": "regular", "kind": "pdo",
        "kernel_size": 5, "method": "gauss", "smoothing": 1.25,
    }  # fmt: skip
    path = tmp_path / "layers.json"
    path.write_text(json.dumps([layer]))
    r8 = Rot2dOnR2(8)
    expected = pdo_spec(r8, r8.regular_repr, r8.regular_repr, kernel_size=5, method="gauss",
                        smoothing=1.25)  # fmt: skip
    dry = e2c(store, "compile", str(path), "--dry-run")
    assert dry.exit_code == 0 and dry.output.split()[0] == expected.key
    flags = e2c(
        store, "compile", "--gspace", "fliprot2d", "-N", "4", "--in", "regular", "--out",
        "regular", "--kind", "pdo", "--maximum-order", "2", "--method", "rbffd", "--phi", "phs3",
        "--dry-run",
    )  # fmt: skip
    d4 = FlipRot2dOnR2(4)
    flagged = pdo_spec(d4, d4.regular_repr, d4.regular_repr, maximum_order=2, method="rbffd",
                       phi="phs3")  # fmt: skip
    assert flags.exit_code == 0, flags.output
    assert flags.output.split()[0] == flagged.key
    assert e2c(store, "compile", str(path)).exit_code == 0
    info = e2c(store, "cache", "info", expected.key[:12])
    assert info.exit_code == 0
    assert "settings: kind=pdo, kernel_size=5, dilation=1, maximum_order=4" in info.output
    assert "method=gauss, smoothing=1.25" in info.output
    bad = e2c(store, "compile", "--gspace", "rot2d", "-N", "4", "--in", "regular", "--out",
              "regular", "--kind", "pdo", "--kernel-size", "5", "--method", "gauss")  # fmt: skip
    assert bad.exit_code != 0 and "smoothing must be set" in bad.output


def test_store_cache_and_load_cache_round_trip_across_processes(tmp_path):
    bundle = tmp_path / "pdo-cache.h5"
    build = """
        import torch
        from e2compile import gspaces, diffops
        from runtime import nn
        gs = gspaces.Rot2dOnR2(4)
        t = nn.FieldType(gs, [gs.regular_repr])
        torch.manual_seed(0)
        layer = nn.R2Diffop(t, t, kernel_size=5, smoothing=1.0)
        print(layer.basisexpansion.blocks[0].sampled_basis.sum().item())
    """
    first = _python(
        build + f"\n        print(diffops.store_cache({str(bundle)!r}))\n",
        _env(tmp_path / "a"), tmp_path,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert bundle.is_file()
    # a second process with an empty store, offline: it only has the bundle
    second = _python(
        f"""
        import runtime
        from e2compile import diffops
        print('loaded', diffops.load_cache({str(bundle)!r}))
        """
        + build,
        _env(tmp_path / "b", E2C_OFFLINE="1"), tmp_path,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert "loaded 1" in second.stdout
    assert first.stdout.splitlines()[0] == second.stdout.splitlines()[1]
    missing = _python(
        "import runtime\nfrom e2compile import diffops\ndiffops.load_cache('nope.h5')",
        _env(tmp_path / "c"), tmp_path,
    )  # fmt: skip
    assert missing.returncode != 0 and "path: no PDO cache bundle" in missing.stderr
    (tmp_path / "foreign.h5").write_bytes(b"not hdf5")
    foreign = _python(
        "import runtime\nfrom e2compile import diffops\ndiffops.load_cache('foreign.h5')",
        _env(tmp_path / "c"), tmp_path,
    )  # fmt: skip
    assert foreign.returncode != 0 and "not a readable e2compile bundle" in foreign.stderr


def test_e2compile_reaches_the_store_only_through_the_runtime(tmp_path):
    """e2compile imports neither cache nor runtime (issue 18): the runtime provides
    store_cache/load_cache when imported; before that, nothing can have been built through the
    store (store_cache writes nothing) and load_cache records the bundle for the runtime's store,
    which checks it when made (as the reference's own test_cache needs)."""
    from cache import write_bundle
    from tests.cache.test_cache_record import make_record

    good, foreign = tmp_path / "good.h5", tmp_path / "foreign.h5"
    write_bundle(good, [(make_record(3), None)])
    foreign.write_bytes(b"not hdf5")
    code = f"""
        import sys, warnings
        from e2compile import diffops
        print('stored', diffops.store_cache())
        try:
            diffops.load_cache('missing.h5')
        except FileNotFoundError as exc:
            print('ERR', exc)
        print('loaded', diffops.load_cache({str(good)!r}), diffops.load_cache({str(foreign)!r}))
        print('cache' in sys.modules, 'runtime' in sys.modules)
        from runtime.bases import default_store
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            store = default_store()
        print('layers', [layer.location for layer in store.layers])
        print('warned', [str(w.message) for w in caught])
        print('found', store.get({make_record(3).key!r}) is not None)
    """
    run = _python(code, _env(tmp_path / "s"), tmp_path)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "stored None" in out and "ERR path: no PDO cache bundle" in out
    assert "loaded None None" in out and "False False" in out
    assert f"layers [{str(good)!r}, {str(foreign)!r}]" in out
    assert "foreign.h5" in out.split("warned", 1)[1] and "found True" in out
    import ast

    for path in (REPO / "e2compile").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            assert not any(n.split(".")[0] in ("cache", "runtime") for n in names), path


def test_layer_cache_flag_uses_a_bundle_in_the_store_root(tmp_path):
    code = """
        import os
        from pathlib import Path
        from e2compile import gspaces
        from runtime import nn
        gs = gspaces.Rot2dOnR2(4)
        t = nn.FieldType(gs, [gs.regular_repr])
        nn.R2Diffop(t, t, kernel_size=3, cache="store")
        bundle = Path(os.environ["E2C_CACHE_DIR"]) / "diffops-cache.h5"
        print("stored", bundle.is_file())
        nn.R2Diffop(t, t, kernel_size=3, cache=True)
        from runtime.bases import default_store
        layers = [layer.location for layer in default_store().layers]
        print("layers", layers == [str(bundle.absolute())], "E2C_CACHE_PATH" in os.environ)
    """
    run = _python(code, _env(tmp_path / "store"), tmp_path)
    assert run.returncode == 0, run.stderr
    assert "stored True" in run.stdout and "layers True False" in run.stdout
    assert not (tmp_path / ".e2cnn_cache").exists()  # nothing relative to the working directory
