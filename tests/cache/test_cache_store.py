"""``cache.Store``: configuration, layers (read-only directories and bundles), offline mode, gc."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
import warnings
from pathlib import Path

import platformdirs
import pytest

from cache import (
    Bundle,
    CorruptArtifactWarning,
    FileStore,
    OfflineMissError,
    ReadOnlyStoreError,
    Record,
    Store,
    StoreWriteWarning,
    compile_command,
    write_bundle,
)
from tests.cache.test_cache_record import fake_spec, make_record, sha, truncate

REPO = Path(__file__).resolve().parents[2]


def _snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under ``root`` with its size, mtime and content hash."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns, sha(p))
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def no_writes_under(monkeypatch):
    """Make every write primitive fail loudly inside the given directories."""
    guarded: list[Path] = []

    def check(*paths):
        for path in paths:
            p = Path(path).absolute()
            if any(p == g or g in p.parents for g in guarded):
                raise AssertionError(f"write attempted under a read-only layer: {p}")

    for name in ("replace", "rename", "unlink", "utime", "mkdir", "makedirs", "chmod"):
        real = getattr(os, name)

        def wrapper(*args, _real=real, **kwargs):
            check(*[a for a in args[:2] if isinstance(a, (str, os.PathLike))])
            return _real(*args, **kwargs)

        monkeypatch.setattr(os, name, wrapper)
    real_open = open

    def guarded_open(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and any(c in mode for c in "wax+"):
            check(file)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", guarded_open)
    return guarded.append


# --------------------------------------------------------------------------- configuration


def test_environment_configuration(tmp_path, monkeypatch):
    layer_dir, bundle = tmp_path / "layer", tmp_path / "b.h5"
    layer_dir.mkdir()  # an existing layer: missing ones warn (tests/cache/test_store_reports.py)
    write_bundle(bundle, [(make_record(1), None)])
    monkeypatch.setenv("E2C_CACHE_DIR", str(tmp_path / "root"))
    monkeypatch.setenv("E2C_CACHE_PATH", os.pathsep.join([str(layer_dir), str(bundle), ""]))
    monkeypatch.setenv("E2C_OFFLINE", "1")
    store = Store()
    assert store.root.root == tmp_path / "root" and store.offline
    assert [type(x) for x in store.layers] == [FileStore, Bundle]
    assert [x.location for x in store.layers] == [str(layer_dir), str(bundle)]
    assert not store.layers[0].writable
    # arguments replace the environment
    other = Store(tmp_path / "other", layers=[], offline=False)
    assert other.root.root == tmp_path / "other" and other.layers == () and not other.offline
    monkeypatch.setenv("E2C_OFFLINE", "0")
    assert not Store().offline


def test_default_root_is_the_user_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("E2C_CACHE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    root = Store(layers=[]).root.root
    assert root == Path(platformdirs.user_cache_dir("e2compile", appauthor=False)).absolute()
    assert tmp_path not in root.parents and REPO not in root.parents


def test_basic_api(tmp_path):
    store = Store(tmp_path, layers=[])
    records = [make_record(i) for i in range(3)]
    assert store.keys() == [] and store.size() == 0 and store.get(records[0].key) is None
    for r in records:
        assert store.put(r)
    assert store.keys() == sorted(r.key for r in records) == list(store) and len(store) == 3
    assert records[1].key in store and store.contains(records[1].key)
    assert store.size() == sum(store.root.path(r.key).stat().st_size for r in records)
    assert store.delete(records[1].key) and not store.delete(records[1].key)
    assert records[1].key not in store
    with pytest.raises(ValueError, match="malformed key"):
        store.get("../../etc/passwd")


def test_get_or_create_checks_the_factory(tmp_path):
    store = Store(tmp_path, layers=[])
    rec = make_record(0)
    with pytest.raises(ValueError, match="factory"):
        store.get_or_create(make_record(1).key, lambda: rec)
    assert store.get_or_create(rec.key, lambda: rec) == rec
    assert store.get_or_create(rec.key, lambda: pytest.fail("hit expected")) == rec


# ------------------------------------------------------------------------------- offline


def test_offline_miss_names_the_compile_command(tmp_path):
    spec = fake_spec(3).replace('"N": 8', '"note": "it\'s"')  # a quote to escape
    rec = Record.from_spec(spec, {"a": [1.0]})
    store = Store(tmp_path, layers=[], offline=True)
    with pytest.raises(OfflineMissError) as info:
        store.get_or_create(rec.key, lambda: pytest.fail("must not compile"), spec=spec)
    message = str(info.value)
    assert rec.key in message and "E2C_OFFLINE=1" in message
    # the command names a file holding the spec (a manifest), so it stays short and always runs
    command = shlex.split(message.splitlines()[-1])
    assert command[:2] == ["e2c", "compile"] and command[2] == info.value.spec_file
    assert json.loads(Path(command[2]).read_text())["specs"] == {rec.key: spec}
    assert len(message) < 500
    assert shlex.split(compile_command(spec)) == ["e2c", "compile", "--spec-json", spec]
    assert info.value.spec_json == spec and info.value.key == rec.key
    assert isinstance(info.value, LookupError)
    Store(tmp_path, layers=[]).put(rec)  # once compiled ahead of time, offline is fine
    assert store.get_or_create(rec.key, lambda: pytest.fail("must not compile")) == rec


# -------------------------------------------------------------------------------- layers


def test_layers_are_searched_in_order_and_never_written(tmp_path, no_writes_under):
    layer = FileStore(tmp_path / "layer")
    a, b, c = make_record(1), make_record(2), make_record(3)
    layer.put(a)
    layer.put(b)
    truncate(layer.path(b.key))  # a corrupt file in the read-only layer
    bundle = tmp_path / "b.h5"
    write_bundle(bundle, [(c, None), (a, None)])
    before = _snapshot(tmp_path)
    no_writes_under(tmp_path / "layer")
    no_writes_under(bundle)
    store = Store(tmp_path / "root", layers=[tmp_path / "layer", bundle])
    assert store.keys() == sorted([a.key, b.key, c.key])
    assert store.get(a.key) == a and store.get(c.key) == c
    assert store.locate(a.key).location == str(tmp_path / "layer")
    with pytest.warns(CorruptArtifactWarning, match="treated as a miss"):
        assert store.get(b.key) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert store.get(b.key) is None  # reported once
        assert store.get_or_create(b.key, lambda: b) == b  # recompiled into the root
        assert not store.delete(a.key)  # deletes touch the root only
        assert [r.ok for r in store.verify() if r.key == b.key] == [True, False]  # root, layer
    assert store.root.path(b.key).exists()
    assert _snapshot(tmp_path / "layer") == {k[6:]: v for k, v in before.items() if "layer" in k}
    assert sha(bundle) == before["b.h5"][2]
    with pytest.raises(ReadOnlyStoreError):
        store.layers[0].put(make_record(4))


def test_read_only_root_on_disk_does_not_crash(tmp_path, monkeypatch):
    """A root the process cannot write: gets work, corrupt files stay, compiles still return."""
    store = Store(tmp_path / "root", layers=[])
    good, bad, new = make_record(1), make_record(2), make_record(3)
    store.put(good)
    store.put(bad)
    truncate(store.root.path(bad.key))
    root = tmp_path / "root"

    real_open = os.open

    def deny(real):
        def wrapper(*args, **kwargs):
            if real is real_open and not args[1] & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                return real(*args, **kwargs)  # reading a read-only file system works
            if any(str(a).startswith(str(root)) for a in args[:2]):
                raise PermissionError(13, "Read-only file system", str(args[0]))
            return real(*args, **kwargs)

        return wrapper

    for name in ("replace", "mkdir", "utime", "open"):
        monkeypatch.setattr(os, name, deny(getattr(os, name)))
    import tempfile

    monkeypatch.setattr(tempfile, "mkstemp", deny(tempfile.mkstemp))
    monkeypatch.setattr(Path, "mkdir", deny(Path.mkdir))
    os.chmod(root, 0o555)  # effective when not running as root; the patches cover root
    try:
        assert store.get(good.key) == good
        with pytest.warns(CorruptArtifactWarning, match="treated as a miss"):
            assert store.get(bad.key) is None
        assert store.root.path(bad.key).exists()
        with pytest.warns(StoreWriteWarning):
            assert store.get_or_create(new.key, lambda: new) == new
        with pytest.raises(ReadOnlyStoreError):
            store.put(new)
    finally:
        os.chmod(root, 0o755)


def test_bundle_layer_from_fresh_processes(tmp_path):
    """Several fresh processes read one bundle at once through ``E2C_CACHE_PATH``."""
    records = [make_record(i) for i in range(4)]
    bundle = tmp_path / "models.h5"
    assert write_bundle(bundle, ((r, None) for r in records)) == sorted(r.key for r in records)
    expected = {r.key: sha_of_record(r) for r in records}
    code = (
        "import json, sys, hashlib\n"
        "from cache import Store\n"
        "store = Store()\n"
        "assert len(store.layers) == 1 and store.root.keys() == []\n"
        "out = {}\n"
        "for k in store.keys():\n"
        "    r = store.get(k)\n"
        "    h = hashlib.sha256()\n"
        "    for n in sorted(r.arrays): h.update(n.encode()); h.update(r.arrays[n].tobytes())\n"
        "    out[k] = h.hexdigest()\n"
        "print(json.dumps(out))\n"
    )
    env = {
        **os.environ,
        "E2C_CACHE_DIR": str(tmp_path / "empty"),
        "E2C_CACHE_PATH": str(bundle),
        "PYTHONPATH": str(REPO),
    }
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    for p in procs:
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0 and json.loads(out) == expected
    assert not (tmp_path / "empty").exists()  # reading never creates the root


def sha_of_record(r: Record) -> str:
    import hashlib

    h = hashlib.sha256()
    for n in sorted(r.arrays):
        h.update(n.encode())
        h.update(r.arrays[n].tobytes())
    return h.hexdigest()


def test_corrupt_bundles(tmp_path):
    a, b = make_record(1), make_record(2)
    bundle = tmp_path / "b.h5"
    write_bundle(bundle, [(a, None), (b, None)])
    digest = sha(bundle)
    layer = Bundle(bundle)
    assert layer.get(a.key) == a and layer.keys() == sorted([a.key, b.key])
    # a damaged bundle is one warning and an empty layer; the file is left alone
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bundle.write_bytes(bytes(data))
    layer = Bundle(bundle)
    with pytest.warns(CorruptArtifactWarning, match="bundle layer ignored") as caught:
        assert layer.get(a.key) is None and layer.keys() == [] and layer.get(b.key) is None
    assert len(caught) == 1
    results = list(layer.iter_verify())
    assert len(results) == 1 and not results[0].ok and results[0].key is None
    assert sha(bundle) != digest  # untouched: still our damaged bytes
    # a missing bundle is an empty layer
    assert (
        Bundle(tmp_path / "none.h5").keys() == []
        and Bundle(tmp_path / "none.h5").get(a.key) is None
    )
    with pytest.raises(ValueError, match="twice"):
        write_bundle(tmp_path / "dup.h5", [(a, None), (a, None)])
    assert not (tmp_path / "dup.h5").exists()


# ------------------------------------------------------------------------------------ gc


def test_gc(tmp_path):
    store = Store(tmp_path, layers=[])
    records = [make_record(i) for i in range(5)]
    now = time.time()
    for age, r in zip([50, 40, 30, 20, 10], records):
        store.put(r)
        t = now - age * 86400
        os.utime(store.root.path(r.key), (t, t))
    size = store.root.path(records[0].key).stat().st_size
    stale = store.root.path(records[0].key).parent / f".{records[0].key}.x.tmp"
    stale.write_bytes(b"partial")
    os.utime(stale, (now - 7200, now - 7200))
    fresh = store.root.path(records[0].key).parent / f".{records[0].key}.y.tmp"
    fresh.write_bytes(b"in flight")
    store.root.quarantine_dir.mkdir()
    (store.root.quarantine_dir / "x.h5").write_bytes(b"bad")

    dry = store.gc(older_than=35 * 86400, dry_run=True, now=now)
    assert [e.key for e in dry.removed] == [records[0].key, records[1].key]
    assert len(store.keys()) == 5 and stale.exists()

    report = store.gc(older_than=35 * 86400, keep=[records[0].key], now=now)
    assert [e.key for e in report.removed] == [records[1].key]
    assert report.temp_files == [stale] and not stale.exists() and fresh.exists()
    assert not any(store.root.quarantine_dir.iterdir())
    # then least recently used first, down to the size bound, never a kept key
    report = store.gc(max_size=2 * size, keep=[records[0].key], now=now)
    assert {e.key for e in report.removed} == {records[2].key, records[3].key}
    assert store.keys() == sorted([records[0].key, records[4].key])
    assert report.remaining_bytes == store.size() <= 2 * size


def test_get_refreshes_last_use(tmp_path):
    store = Store(tmp_path, layers=[])
    rec = make_record(1)
    store.put(rec)
    path = store.root.path(rec.key)
    old = time.time() - 10 * 86400
    os.utime(path, (old, old))
    store.get(rec.key)
    assert path.stat().st_mtime > old + 86400


def test_gc_removes_stale_lock_files_not_held_ones(tmp_path):
    store = Store(tmp_path, layers=[])
    a, b = make_record(1), make_record(2)
    store.get_or_create(a.key, lambda: a)
    store.get_or_create(b.key, lambda: b)
    paths = {r.key: store.root.lock_dir / f"{r.key}.lock" for r in (a, b)}
    old = time.time() - 7200
    for p in paths.values():
        os.utime(p, (old, old))
    held = store.root.lock(b.key, timeout=0)
    held.acquire()
    try:
        report = store.gc()
    finally:
        held.release()
    assert report.lock_files == [paths[a.key]] and report.removed == []
    assert not paths[a.key].exists() and paths[b.key].exists()
    assert store.keys() == sorted([a.key, b.key])


def test_put_replaces_an_invalid_file(tmp_path):
    store = Store(tmp_path, layers=[])
    rec = make_record(1)
    store.put(rec)
    truncate(store.root.path(rec.key))
    with pytest.warns(CorruptArtifactWarning):
        assert store.put(rec) is True
    assert store.get(rec.key) == rec and len(list(store.root.quarantine_dir.glob("*.h5"))) == 1
