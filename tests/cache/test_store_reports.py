"""Issue 9: ``e2c`` and the store never report what did not happen, and never hang.

One test (or a few) per case of the issue: a compile whose result did not reach the store, a
damaged bundle to unpack or merge, a layer that does not exist, error messages instead of
tracebacks, a short offline-miss message, things at an artifact path that are not artifacts, a
full disk during a model build, and listings that read headers only.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from cache import (
    Bundle,
    CorruptArtifactWarning,
    LayerWarning,
    OfflineMissError,
    Store,
    StoreWriteWarning,
    write_bundle,
)
from tests.cache.test_cache_record import flip_byte_mid_dataset, make_record, truncate

REPO = Path(__file__).resolve().parents[2]
FLAGS = ["--gspace", "rot2d", "-N", "4", "--in", "trivial", "--out", "regular", "--kernel-size"]


def e2c(root: Path | None, *args: str, layers: tuple[str, ...] = ()):
    opts = [] if root is None else ["--cache-dir", str(root)]
    for layer in layers:
        opts += ["--cache-path", layer]
    return CliRunner().invoke(cli.main, [*opts, *args], catch_exceptions=False)


def within(seconds: float, fn, *args):
    """Run ``fn(*args)`` in a thread; fail (instead of hanging the suite) if it does not return."""
    out: list = []
    thread = threading.Thread(target=lambda: out.append(fn(*args)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{fn} still running after {seconds} s (hangs)"
    return out[0] if out else None


# ---------------------------------------------------- 1. a compile that did not reach the store


def _key_of(root: Path, size: str) -> str:
    return json.loads(e2c(root, "compile", *FLAGS, size, "--dry-run", "--json").stdout)["specs"]


def test_compile_into_a_regular_file_fails_naming_the_key(tmp_path):
    root = tmp_path / "not-a-dir"
    root.write_text("")
    (key,) = _key_of(tmp_path / "s", "3")
    manifest = tmp_path / "m.json"
    result = e2c(root, "compile", *FLAGS, "3", "--json", "--manifest", str(manifest))
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert not data["ok"] and data["failed"] == 1 and data["results"][0]["key"] == key
    assert str(root) in data["results"][0]["error"]
    written = json.loads(manifest.read_text())
    assert written["keys"] == [] and written["failed"] == [key]
    human = e2c(root, "compile", *FLAGS, "3")
    assert human.exit_code == 1 and key in human.output and "0 compiled" in human.output


def test_compile_into_a_read_only_root_fails(tmp_path, monkeypatch):
    import cache.format
    import cache.store

    def read_only(directory, name):
        raise PermissionError(30, "Read-only file system", str(directory))

    monkeypatch.setattr(cache.format, "create_temp", read_only)
    monkeypatch.setattr(cache.store, "create_temp", read_only)
    monkeypatch.setattr("cache.filestore.create_temp", read_only)
    result = e2c(tmp_path / "ro", "compile", *FLAGS, "3", "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["failed"] == 1
    assert "Read-only file system" in json.loads(result.stdout)["results"][0]["error"]


def test_root_deleted_during_the_run_fails_the_lost_keys(tmp_path, monkeypatch):
    from e2compile import compiler

    root = tmp_path / "s"
    real = compiler.compile
    calls = []

    def delete_root_on_second(spec):
        calls.append(spec.key)
        if len(calls) == 2:  # the first artifact is already stored: the root goes away
            shutil.rmtree(root)
        return real(spec)

    monkeypatch.setattr(compiler, "compile", delete_root_on_second)
    spec_file = tmp_path / "two.json"
    layer = {"gspace": "rot2d", "N": 4, "in": "trivial", "out": "regular"}
    spec_file.write_text(json.dumps([{**layer, "kernel_size": 3}, {**layer, "kernel_size": 5}]))
    result = e2c(root, "compile", str(spec_file), "--json")
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and not data["ok"]
    lost = [r for r in data["results"] if r["status"] == "failed"]
    assert [r["key"] for r in lost] == [calls[0]] and "not in the store" in lost[0]["error"]


# ------------------------------------------- 2. and 3. sources that cannot be read, missing layers


@pytest.fixture
def bundle(tmp_path) -> Path:
    path = tmp_path / "b.h5"
    write_bundle(path, [(make_record(i), None) for i in range(2)])
    return path


@pytest.mark.parametrize("damage", ["truncate", "flip"])
@pytest.mark.parametrize("command", ["unpack", "merge", "merge-o"])
def test_unpack_and_merge_of_a_damaged_bundle_fail(tmp_path, bundle, damage, command):
    if damage == "truncate":
        truncate(bundle)
    else:
        data = bytearray(bundle.read_bytes())
        data[len(data) // 2] ^= 0xFF
        bundle.write_bytes(bytes(data))
    root = tmp_path / "s"
    args = {
        "unpack": ["cache", "unpack", str(bundle)],
        "merge": ["cache", "merge", str(bundle)],
        "merge-o": ["cache", "merge", str(bundle), "-o", str(tmp_path / "out.h5")],
    }[command]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptArtifactWarning)
        result = e2c(root, *args)
    assert result.exit_code == 1 and str(bundle) in result.output
    assert "0 problems" not in result.output
    assert not (tmp_path / "out.h5").exists() and Store(root, layers=[]).keys() == []


def test_unpack_of_a_file_that_is_not_a_bundle_fails(tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    result = e2c(tmp_path / "s", "cache", "unpack", str(other))
    assert result.exit_code == 1 and str(other) in result.output
    single = tmp_path / "single"  # a single-artifact file is not a bundle either
    Store(single, layers=[]).put(make_record(1))
    (path,) = single.glob("*/*.h5")
    result = e2c(tmp_path / "s", "cache", "unpack", str(path))
    assert result.exit_code == 1 and "bundle" in result.output


def test_missing_layer_warns_and_fails_verify(tmp_path, monkeypatch, bundle):
    missing = str(tmp_path / "nowhere")
    with pytest.warns(LayerWarning, match="does not exist"):
        result = e2c(tmp_path / "s", "cache", "verify", layers=(missing,))
    assert result.exit_code == 1 and missing in result.output
    assert "0 artifacts checked, 0 invalid" not in result.output
    monkeypatch.setenv("E2C_CACHE_PATH", f"{missing}{os.pathsep}{bundle}")
    with pytest.warns(LayerWarning, match="nowhere"):
        result = e2c(tmp_path / "s", "cache", "verify", "--json")
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and data["checked"] == 2
    assert [x["location"] for x in data["invalid"]] == [missing]
    with pytest.warns(LayerWarning, match="no e2compile seal"):
        Store(tmp_path / "s", layers=[str(tmp_path / "b.h5"), str(Path(__file__))])


# ------------------------------------------------------------- 5. messages, not tracebacks


@pytest.mark.parametrize(
    "source, message",
    [
        ("raise RuntimeError('at import')\n", "at import"),
        ("def build_model(:\n", "SyntaxError"),
        ("import sys\nsys.exit(3)\n", "SystemExit"),
    ],
)
def test_builder_that_fails_at_import_is_a_usage_error(tmp_path, source, message):
    model = tmp_path / "model.py"
    model.write_text(source)
    result = e2c(tmp_path / "s", "compile", f"{model}:build_model")
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_manifest_and_bundle_outputs_are_checked_before_compiling(tmp_path, monkeypatch):
    from e2compile import compiler

    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setattr(compiler, "compile", lambda spec: pytest.fail("compiled first"))
    for option in ("--manifest", "--bundle"):
        result = e2c(tmp_path / "s", "compile", *FLAGS, "3", option, str(blocker / "x" / "o"))
        assert result.exit_code == 2 and f"cannot write the {option[2:]}" in result.output
    monkeypatch.undo()
    deep = tmp_path / "new" / "dir"
    result = e2c(tmp_path / "s", "compile", *FLAGS, "3", "--manifest", str(deep / "m.json"),
                 "--bundle", str(deep / "b.h5"))  # fmt: skip
    assert result.exit_code == 0 and (deep / "m.json").is_file() and (deep / "b.h5").is_file()


def test_transfers_and_gc_on_a_read_only_root_are_messages(tmp_path, monkeypatch, bundle):
    import cache.filestore

    root = tmp_path / "s"
    Store(root, layers=[]).put(make_record(5))
    (quarantined := root / "quarantine").mkdir()
    (quarantined / "x.h5").write_text("")

    def read_only(*args, **kwargs):
        raise PermissionError(30, "Read-only file system")

    monkeypatch.setattr(cache.filestore, "create_temp", read_only)
    monkeypatch.setattr(Path, "unlink", read_only)
    for args in (["cache", "unpack", str(bundle)], ["cache", "merge", str(bundle)],
                 ["cache", "gc"]):  # fmt: skip
        result = e2c(root, *args)
        assert result.exit_code == 1 and "Read-only file system" in result.output, args


def test_empty_spec_json_names_the_missing_field(tmp_path):
    result = e2c(tmp_path, "compile", "--spec-json", "{}")
    assert result.exit_code == 2 and "lacks the field" in result.output


@pytest.mark.parametrize("value", ["y", "Yes", "ON", "t", "1"])
def test_offline_accepts_the_usual_true_spellings(monkeypatch, tmp_path, value):
    monkeypatch.setenv("E2C_OFFLINE", value)
    assert Store(tmp_path, layers=[]).offline


@pytest.mark.parametrize("value", ["n", "No", "off", "0", "", "false"])
def test_offline_accepts_the_usual_false_spellings(monkeypatch, tmp_path, value):
    monkeypatch.setenv("E2C_OFFLINE", value)
    assert not Store(tmp_path, layers=[]).offline


def test_offline_rejects_anything_else(monkeypatch, tmp_path):
    monkeypatch.setenv("E2C_OFFLINE", "maybe")
    with pytest.raises(ValueError, match="E2C_OFFLINE='maybe'"):
        Store(tmp_path, layers=[])
    result = e2c(tmp_path, "cache", "ls")
    assert result.exit_code == 2 and "E2C_OFFLINE" in result.output


def test_bad_memo_size_does_not_break_import(tmp_path):
    code = (
        "import runtime, runtime.bases as b\n"  # the module that reads E2C_MEMO_MB (no torch)
        "try:\n    b.MEMO.max_bytes\nexcept ValueError as e:\n    print('ERR', e)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "E2C_MEMO_MB": "abc"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "ERR E2C_MEMO_MB='abc'" in out.stdout


# ------------------------------------------------------------------- 6. short offline message


def test_offline_miss_of_a_c96_layer_is_short_and_its_command_runs(tmp_path, monkeypatch):
    from e2compile import gspaces
    from runtime import bases, nn

    monkeypatch.setenv("E2C_CACHE_DIR", str(tmp_path / "s"))
    monkeypatch.setenv("E2C_OFFLINE", "1")
    gs = gspaces.Rot2dOnR2(96)
    t = nn.FieldType(gs, [gs.regular_repr])
    with pytest.raises(bases.OfflineBasisMissError) as info:
        nn.R2Conv(t, t, 5)
    message = str(info.value)
    assert len(message) < 1000 and info.value.spec.key in message and "N=96" in message
    assert "96->96 channels" in message
    argv = shlex.split(info.value.command)
    assert argv[:2] == ["e2c", "compile"] and len(info.value.command) < 300
    monkeypatch.delenv("E2C_OFFLINE")
    result = e2c(None, *argv[1:], "--dry-run", "--json")  # compiling C96 would take a while
    assert result.exit_code == 0
    assert list(json.loads(result.stdout)["specs"]) == [info.value.spec.key]


# ---------------------------------------------------- 7. and 8. things that are not artifacts


def _plant(root: Path, what: str) -> str:
    record = make_record(7)
    path = Store(root, layers=[]).root.path(record.key)
    path.parent.mkdir(parents=True, exist_ok=True)
    if what == "directory":
        path.mkdir()
        (path / "inner").write_text("x")
    elif what == "fifo":
        os.mkfifo(path)
    elif what == "dev-zero":
        path.symlink_to("/dev/zero")
    return record.key


@pytest.mark.parametrize("what", ["directory", "fifo", "dev-zero"])
def test_things_at_an_artifact_path_are_invalid_never_read(tmp_path, what):
    root = tmp_path / "s"
    key = _plant(root, what)
    listing = within(20, e2c, root, "cache", "ls", "--json")
    assert listing.exit_code == 0
    (row,) = json.loads(listing.stdout)
    assert row["key"] == key and not row["valid"] and "not a regular file" in row["reason"]
    assert within(20, e2c, root, "cache", "info", key).exit_code == 1
    store = Store(root, layers=[])
    with pytest.warns(CorruptArtifactWarning, match="not a regular file"):
        assert within(20, store.get, key) is None
    _plant(root, what)
    result = within(20, e2c, root, "cache", "verify", "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["invalid"][0]["key"] == key
    for _ in range(2):  # the quarantined thing is removed, and later runs keep working
        assert within(20, e2c, root, "cache", "gc").exit_code == 0
    assert not any((root / "quarantine").iterdir())
    _plant(root, what)
    record = make_record(7)
    store = Store(root, layers=[])
    with pytest.warns(CorruptArtifactWarning):
        assert within(20, store.get_or_create, key, lambda: record) == record  # replaced
    assert store.get(key) == record


def test_a_fifo_in_a_model_build_does_not_hang(tmp_path, monkeypatch):
    from e2compile import gspaces
    from e2compile.kernels.kind import kernel_spec
    from runtime import bases, nn

    gs = gspaces.Rot2dOnR2(4)
    spec = kernel_spec(gs, gs.trivial_repr, gs.regular_repr, 3)
    root = tmp_path / "s"
    path = Store(root, layers=[]).root.path(spec.key)
    path.parent.mkdir(parents=True)
    os.mkfifo(path)
    monkeypatch.setenv("E2C_CACHE_DIR", str(root))
    bases.MEMO.clear()
    t_in, t_out = nn.FieldType(gs, [gs.trivial_repr]), nn.FieldType(gs, [gs.regular_repr])
    with pytest.warns(CorruptArtifactWarning, match="FIFO"):
        conv = within(60, nn.R2Conv, t_in, t_out, 3)
    assert conv.weights.numel() > 0 and Path(path).is_file()


def test_oversized_file_is_refused_unread(tmp_path, monkeypatch):
    import cache.files

    store = Store(tmp_path, layers=[])
    record = make_record(1)
    store.put(record)
    monkeypatch.setattr(cache.files, "MAX_FILE_BYTES", 100)
    with pytest.warns(CorruptArtifactWarning, match="above the format's bound"):
        assert store.get(record.key) is None


# ------------------------------------------------------------ 9. a full disk in a model build


@pytest.mark.parametrize("where", ["h5py", "write", "fsync"])
def test_full_disk_during_a_model_build_warns_and_goes_on(tmp_path, monkeypatch, where):
    import errno

    import cache.format
    from e2compile import gspaces
    from runtime import bases, nn

    def h5py_full(*args, **kwargs):  # an error inside HDF5 while the file is filled
        raise RuntimeError("Can't write data (file write failed: errno = 28)")

    def os_full(*args, **kwargs):  # what a write or the fsync raises on a full disk
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setenv("E2C_CACHE_DIR", str(tmp_path / "s"))
    if where == "h5py":
        monkeypatch.setattr(cache.format, "write_artifact", h5py_full)
    else:
        monkeypatch.setattr(os, "pwrite" if where == "write" else "fsync", os_full)
    bases.MEMO.clear()
    gs = gspaces.Rot2dOnR2(4)
    t = nn.FieldType(gs, [gs.regular_repr])
    match = "write data" if where == "h5py" else "no space left on device"
    with pytest.warns(StoreWriteWarning, match=match):
        conv = nn.R2Conv(t, t, 3)
    assert conv.weights.numel() > 0
    assert not list((tmp_path / "s").glob("*/*.tmp")) and not list((tmp_path / "s").glob("*/*.h5"))
    # a compile (not a model build) is a failure instead
    result = e2c(tmp_path / "s", "compile", *FLAGS, "3", "--json")
    assert result.exit_code == 1 and match in result.stdout


# ------------------------------------------------------------- listing reads headers only


def test_ls_and_info_read_headers_only(tmp_path, monkeypatch, bundle):
    import cache.format
    import cache.sealed

    root = tmp_path / "s"
    Store(root, layers=[]).put(make_record(9))

    def no_data(*args, **kwargs):
        raise AssertionError("array data read")

    monkeypatch.setattr(cache.format, "_read_array", no_data)
    monkeypatch.setattr(cache.sealed, "_array_from_index", no_data)
    rows = json.loads(e2c(root, "cache", "ls", "--json", layers=(str(bundle),)).stdout)
    assert len(rows) == 3 and all(r["valid"] and r["size"] > 0 for r in rows)
    for row in rows:
        info = e2c(root, "cache", "info", row["key"], "--json", layers=(str(bundle),))
        assert info.exit_code == 0 and json.loads(info.stdout)["arrays"]
    monkeypatch.undo()
    flip_byte_mid_dataset(Store(root, layers=[]).root.path(make_record(9).key))
    assert e2c(root, "cache", "info", make_record(9).key).exit_code == 1  # the seal still holds


def test_bundle_layer_verify_reports_a_missing_bundle(tmp_path):
    results = list(Bundle(tmp_path / "none.h5").verify())
    assert len(results) == 1 and not results[0].ok and results[0].reason == "does not exist"


def test_offline_miss_error_pickles(tmp_path):
    import pickle

    store = Store(tmp_path, layers=[], offline=True)
    record = make_record(3)
    with pytest.raises(OfflineMissError) as info:
        store.get_or_create(record.key, lambda: record, spec=record.spec)
    again = pickle.loads(pickle.dumps(info.value))
    assert again.spec_file == info.value.spec_file and str(again) == str(info.value)


def test_gc_removes_stale_missing_spec_files(tmp_path):
    store = Store(tmp_path, layers=[], offline=True)
    record = make_record(4)
    with pytest.raises(OfflineMissError) as info:
        store.get_or_create(record.key, lambda: record, spec=record.spec)
    path = Path(info.value.spec_file)
    assert path.parent == tmp_path / "missing"
    assert store.gc().temp_files == []  # fresh: kept
    os.utime(path, (1, 1))
    assert store.gc().temp_files == [path] and not path.exists()
