"""Settings travel as a value (issue 18): one reader of the environment, nothing writes it, every
``e2c`` command follows the global options."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import cli
from cache import Settings, SettingsError, Store
from cache.settings import ENV, current, from_environment, use

REPO = Path(__file__).resolve().parents[2]
LIBRARY = [REPO / "cli.py"]
LIBRARY += [p for d in ("cache", "e2compile", "runtime") for p in sorted((REPO / d).rglob("*.py"))]
TESTS = Path(__file__).parents[1]


def test_defaults_and_every_variable():
    assert from_environment({}) == Settings()
    env = {
        "E2C_CACHE_DIR": "~/s",
        "E2C_CACHE_PATH": f"/a{os.pathsep}http://h:81/s",
        "E2C_OFFLINE": "yes",
        "E2C_MAX_BASIS_MB": "2048",
        "E2C_MAX_IRREPS": "30000",
        "E2C_MEMO_MB": "0",
        "E2C_REMOTE_TIMEOUT_S": "5",
        "E2C_REMOTE_DEADLINE_S": "60",
        "E2C_REMOTE_MAX_MB": "100",
    }
    s = from_environment(env)
    assert s.cache_dir == Path("~/s").expanduser() and s.root == Path("~/s").expanduser()
    assert s.cache_path == ("/a", "http://h:81/s") and s.offline
    assert (s.max_basis_mb, s.max_irreps, s.memo_mb) == (2048.0, 30000, 0.0)
    assert (s.remote_timeout_s, s.remote_deadline_s, s.remote_max_bytes) == (5, 60, 100 << 20)
    assert set(env) == set(ENV.values())
    # the remote cap follows the basis bound when not set: an artifact fits in it
    assert Settings().remote_max_bytes == 4096 << 20
    assert Settings(max_basis_mb=8192).remote_max_bytes == 4 * 8192 << 20


@pytest.mark.parametrize(
    "name, value",
    [
        ("E2C_OFFLINE", "maybe"),
        ("E2C_MAX_BASIS_MB", "lots"),
        ("E2C_MAX_BASIS_MB", "0"),
        ("E2C_MAX_IRREPS", "2.5"),
        ("E2C_MEMO_MB", "-1"),
        ("E2C_REMOTE_TIMEOUT_S", "inf"),
        ("E2C_REMOTE_DEADLINE_S", "nan"),
        ("E2C_REMOTE_MAX_MB", "-3"),
    ],
)
def test_a_malformed_variable_is_named(tmp_path, monkeypatch, name, value):
    with pytest.raises(SettingsError, match=re.escape(f"{name}={value!r}")):
        from_environment({name: value})
    monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli.main, ["--cache-dir", str(tmp_path), "cache", "path"])
    assert result.exit_code == 2 and f"{name}={value!r}" in result.output


@given(st.sampled_from(["max_basis_mb", "remote_deadline_s", "remote_timeout_s"]),
       st.one_of(st.floats(max_value=0), st.just(float("nan")), st.just(float("inf"))))  # fmt: skip
def test_settings_refuse_bad_numbers_when_built_directly(field, value):
    with pytest.raises(SettingsError, match=field):
        Settings(**{field: value})


def test_use_replaces_the_environment_inside_the_block(tmp_path, monkeypatch):
    monkeypatch.setenv("E2C_CACHE_DIR", str(tmp_path / "env"))
    inner = Settings(cache_dir=tmp_path / "inner")
    with use(inner):
        assert current() is inner and Store(layers=[]).root.root == tmp_path / "inner"
    assert current().root == tmp_path / "env"


def _library_sources() -> list[tuple[Path, str]]:
    return [(p, p.read_text()) for p in LIBRARY]


def test_nothing_writes_the_environment_and_one_module_reads_it():
    for path, text in _library_sources():
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv"):
                assert path.name == "settings.py" and path.parent.name == "cache", path
        for name in re.findall(r"E2C_[A-Z_]+", text):
            if not (path.name == "settings.py" and path.parent.name == "cache"):
                pytest.fail(f"{path}: names {name}; only cache/settings.py may")


def test_every_variable_is_documented():
    doc = (REPO / "docs" / "cli.md").read_text()
    for name in ENV.values():
        assert f"`{name}`" in doc, name


def _builder(tmp_path: Path) -> Path:
    path = tmp_path / "model.py"
    path.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from tests.e2cnn_checkpoint_models import build\n"
        "from e2compile import gspaces\n"
        "from runtime import nn\n\n"
        "def build_model():\n"
        "    return build('Trivial', gspaces, nn)\n"
    )
    return path


def test_every_command_follows_the_global_options(tmp_path):
    """``convert-e2cnn`` builds its model from the store ``--cache-dir``/``--offline`` name, not
    from the environment's (it ignored them before)."""
    from runtime import bases

    builder = f"{_builder(tmp_path)}:build_model"
    checkpoint = str(TESTS / "data" / "e2cnn_checkpoints" / "Trivial.pt")
    before = dict(os.environ)
    bases.MEMO.clear()
    offline = CliRunner().invoke(
        cli.main,
        ["--cache-dir", str(tmp_path / "empty"), "--offline", "convert-e2cnn", builder,
         checkpoint, "-o", str(tmp_path / "a.pt")],
    )  # fmt: skip
    assert offline.exit_code == 1 and "offline mode is on" in offline.output, offline.output
    root = tmp_path / "root"
    online = CliRunner().invoke(
        cli.main,
        ["--cache-dir", str(root), "convert-e2cnn", builder, checkpoint, "-o",
         str(tmp_path / "b.pt")],
    )  # fmt: skip
    assert online.exit_code == 0, online.output
    assert Store(root, layers=[]).keys()  # the bases went to --cache-dir
    assert dict(os.environ) == before
    bases.MEMO.clear()
