"""Issue 17: a full disk, a crafted file or a link to nothing never crashes ``e2c``, hangs, or
makes a reader allocate beyond the format's bounds; artifacts of another algorithm version are
foreign, never valid.

Crafted files are made the way an attacker would: by rewriting the index and resealing (the seal
is a checksum, not a signature), or with HDF5 and a version-1 seal for the HDF5 reader.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

import cli
from cache import (
    Bundle,
    CorruptArtifactWarning,
    FileStore,
    Record,
    Store,
    StoreWriteError,
    write_bundle,
)
from cache.errors import CorruptArtifactError
from cache.limits import MAX_JSON_DEPTH, load_json
from cache.reader import load_file, verify_file
from cache.sealed import USERBLOCK_SIZE, Seal, array_checksum, header_checksum, read_seal
from tests.cache.test_cache_record import fake_spec, make_record

REPO = Path(__file__).resolve().parents[2]
HEADER = ("e2c_format", "format_version", "key", "spec", "compiler_version", "created", "meta",
          "arrays")  # fmt: skip


def e2c(root: Path, *args: str, layers: tuple[str, ...] = ()):
    opts = ["--cache-dir", str(root)]
    for layer in layers:
        opts += ["--cache-path", layer]
    return CliRunner().invoke(cli.main, [*opts, *args], catch_exceptions=False)


def peak_bytes(fn: Callable[[], object]) -> int:
    """The peak of Python and numpy allocations while ``fn`` runs."""
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# ------------------------------------------------------------------ crafting files


def reindex(path: Path, edit: Callable[[str], str]) -> None:
    """Replace the index of a sealed file by ``edit(index JSON)`` appended at its end, and
    reseal: what a reader sees is exactly the crafted index."""
    data = path.read_bytes()
    seal = read_seal(open(path, "rb"), str(path))  # noqa: SIM115 - closed by the GC
    offset, size, _ = seal.index
    raw = edit(data[offset : offset + size].decode("utf-8")).encode("utf-8")
    payload = data[USERBLOCK_SIZE:] + raw
    new = Seal(2, len(payload), hashlib.sha256(payload).digest(),
               (len(data), len(raw), hashlib.sha256(raw).digest()))  # fmt: skip
    path.write_bytes(new.pack().ljust(USERBLOCK_SIZE, b"\0") + payload)


def edit_header(path: Path, group: str, change: Callable[[dict], None]) -> None:
    """Change the header fields of artifact ``group`` in the index (checksum recomputed)."""

    def edit(text: str) -> str:
        index = json.loads(text)
        attrs = index["artifacts"][group]["attrs"]
        fields = {name: attrs[name] for name in HEADER}
        change(fields)
        attrs.update(fields, header_sha256=header_checksum(fields))
        return json.dumps(index)

    reindex(path, edit)


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def nest_in_index(text: str, depth: int = 100_000) -> str:
    return text[:-1] + f',"deep":{deep(depth)}}}'


def deep_meta(depth: int) -> Callable[[dict], None]:
    def change(fields: dict) -> None:
        meta = json.loads(fields["meta"])
        fields["meta"] = json.dumps({**meta, "deep": json.loads(deep(depth))})

    return change


# --------------------------------------------------------------------- 1. a full disk


class FullDisk:
    """``os.pwrite`` (the store's only way to write artifact bytes) fails with ENOSPC once
    ``room`` bytes were written: a disk that fills up during the write."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.real = os.pwrite

    def __call__(self, fd: int, data, offset: int) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = min(len(data), self.room)
        self.room -= n
        return self.real(fd, bytes(memoryview(data)[:n]), offset)


ROOMS = [0, 600, 3000, 9000, 20_000]


@pytest.mark.parametrize("room", ROOMS)
def test_a_full_disk_is_a_store_write_error_and_leaves_nothing(tmp_path, monkeypatch, room):
    store = FileStore(tmp_path)
    record = make_record(1, size=40)
    monkeypatch.setattr(os, "pwrite", FullDisk(room))
    with pytest.raises(StoreWriteError, match="no space left on device"):
        store.put(record)
    monkeypatch.undo()
    assert not list(tmp_path.glob("*/*.tmp")) and not store.path(record.key).exists()
    assert store.put(record) and store.get(record.key) == record  # the next write works


@pytest.mark.parametrize("room", ROOMS)
def test_a_full_disk_while_bundling_stops_early_and_leaves_nothing(tmp_path, monkeypatch, room):
    read = []

    def items():
        for i in range(20):
            read.append(i)
            yield make_record(i, size=40), None

    monkeypatch.setattr(os, "pwrite", FullDisk(room))
    with pytest.raises(StoreWriteError, match="no space left on device"):
        write_bundle(tmp_path / "b.h5", items())
    assert len(read) < 20  # it stopped at the first artifact that did not fit
    assert list(tmp_path.iterdir()) == []


def test_a_failed_fsync_is_a_store_write_error(tmp_path, monkeypatch):
    def fsync(fd):
        raise OSError(errno.EIO, "Input/output error")

    store = FileStore(tmp_path)
    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(StoreWriteError, match="input/output error"):
        store.put(make_record(2))
    assert not list(tmp_path.glob("*/*"))


def test_e2c_reports_a_full_disk_as_a_failure_without_traceback(tmp_path, monkeypatch):
    root = tmp_path / "s"
    Store(root, layers=[]).put(make_record(3))
    monkeypatch.setattr(os, "pwrite", FullDisk(4000))
    flags = ["--gspace", "rot2d", "-N", "8", "--in", "4*regular", "--out", "4*regular"]
    result = e2c(root, "compile", *flags, "--kernel-size", "7")
    assert result.exit_code == 1, result.output
    assert "FAILED" in result.output and "no space left on device" in result.output
    result = e2c(root, "cache", "pack", str(tmp_path / "out" / "b.h5"))
    assert result.exit_code == 1 and "no space left on device" in result.output, result.output
    assert "Traceback" not in result.output
    assert not list(root.rglob("*.tmp")) and not list((tmp_path / "out").iterdir())


def _can_mount_tmpfs() -> bool:
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return False
    probe = "mount -t tmpfs -o size=64k tmpfs /mnt && touch /mnt/x"
    try:
        done = subprocess.run(["unshare", "-rm", "sh", "-c", probe], capture_output=True,
                              timeout=30)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


FULL_DISK_SCRIPT = """
set -u
mount -t tmpfs -o size=64k tmpfs "$MNT"
e2c() {{ "$PY" -m cli --cache-dir "$MNT/store" "$@"; }}
e2c compile --gspace rot2d -N 8 --in '4*regular' --out '4*regular' --kernel-size 7 \
    > "$OUT/compile.txt" 2>&1; echo $? > "$OUT/compile.rc"
"$PY" -m cli --cache-dir "$SRC" cache pack "$MNT/b.h5" > "$OUT/pack.txt" 2>&1
echo $? > "$OUT/pack.rc"
E2C_CACHE_DIR="$MNT/store" "$PY" -W error::RuntimeWarning -c {build} > "$OUT/build.txt" 2>&1
echo $? > "$OUT/build.rc"
find "$MNT" -name '*.tmp' > "$OUT/tmp.txt"
"""
BUILD = """
import warnings
from cache import StoreWriteWarning
from e2compile import gspaces
from runtime import nn
gs = gspaces.Rot2dOnR2(8)
t = nn.FieldType(gs, 4 * [gs.regular_repr])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    conv = nn.R2Conv(t, t, 7)
assert conv.weights.numel() > 0
assert any(issubclass(w.category, StoreWriteWarning) for w in caught), caught
print("built; warned:", [str(w.message) for w in caught])
"""


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs `unshare -rm` to mount a small tmpfs")
def test_a_real_full_disk_never_crashes_e2c_nor_a_model_build(tmp_path):
    """On a 64 KiB tmpfs (the issue's reproduction): compile fails with exit 1, pack fails with
    exit 1, a model build warns and goes on; no traceback, no segfault, no temporary file."""
    src = tmp_path / "src"
    store = Store(src, layers=[])
    for i in range(8):
        store.put(make_record(i, size=300))
    (tmp_path / "mnt").mkdir()
    out = tmp_path / "out"
    out.mkdir()
    mnt = tmp_path / "mnt"
    env = {**os.environ, "PYTHONPATH": str(REPO), "PY": sys.executable, "MNT": str(mnt),
           "OUT": str(out), "SRC": str(src)}  # fmt: skip
    script = FULL_DISK_SCRIPT.format(build=shlex.quote(textwrap.dedent(BUILD)))
    subprocess.run(["unshare", "-rm", "sh", "-c", script], env=env, cwd=REPO, timeout=600,
                   check=True)  # fmt: skip
    texts = {p.stem: p.read_text() for p in out.glob("*.txt")}
    rcs = {p.stem: int(p.read_text()) for p in out.glob("*.rc")}
    assert rcs == {"compile": 1, "pack": 1, "build": 0}, (rcs, texts)
    assert "no space left on device" in texts["compile"] and "FAILED" in texts["compile"]
    assert "no space left on device" in texts["pack"]
    assert "no space left on device" in texts["build"]
    assert not any("Traceback" in t for t in texts.values()), texts
    assert texts["tmp"] == ""


# ------------------------------------------------------------- 2. memory bombs


def test_a_crafted_string_width_is_refused_without_allocating(tmp_path):
    """The issue's file: the index declares ``<U13000000`` for a column of short strings."""
    store = FileStore(tmp_path)
    record = make_record(4, size=30)
    store.put(record)
    path = store.path(record.key)

    def widen(fields: dict) -> None:
        arrays = json.loads(fields["arrays"])
        arrays["attributes/in_irrep"]["dtype"] = "<U1000000"  # 30 strings: 120 MB if allocated
        fields["arrays"] = json.dumps(arrays)

    edit_header(path, "/", widen)
    with pytest.raises(CorruptArtifactError, match="dtype <U1000000"):
        load_file(path, str(path), record.key)
    assert peak_bytes(lambda: store.get(record.key)) < 4 << 20
    assert not path.exists() and list(store.quarantine_dir.glob("*.h5"))  # moved aside


@pytest.mark.parametrize(
    "dtype", ["<U13000000", "<U2", "<U99999999999", ">f8", "<M8", "f8,f8", "(1000000000,)f8",
              "|S5", "|V8", "<i8", "O"],
)  # fmt: skip
def test_only_the_dtypes_the_writer_produces_are_read(tmp_path, dtype):
    store = FileStore(tmp_path)
    record = make_record(5)
    store.put(record)
    path = store.path(record.key)

    def retype(fields: dict) -> None:
        arrays = json.loads(fields["arrays"])
        arrays["attributes/radius"]["dtype"] = dtype  # float64 in the file
        arrays["attributes/in_irrep"]["dtype"] = dtype if dtype.startswith("<U") else "<U7"
        fields["arrays"] = json.dumps(arrays)

    edit_header(path, "/", retype)
    with pytest.raises(CorruptArtifactError):
        load_file(path, str(path), record.key)


def test_a_bundle_claiming_huge_arrays_is_refused_before_allocating(tmp_path):
    """The issue's bundle: an index entry claims gigabytes of data in a small file."""
    records = [make_record(i) for i in (6, 7)]
    path = tmp_path / "b.h5"
    write_bundle(path, [(r, None) for r in records])
    victim = records[0].key

    def grow(text: str) -> str:
        index = json.loads(text)
        stored = index["artifacts"][f"/artifacts/{victim}"]["arrays"]["basis"]
        stored["nbytes"] = 200_000_000  # 2.5e9 in the issue
        return json.dumps(index)

    reindex(path, grow)
    bundle = Bundle(path)
    with pytest.raises(CorruptArtifactError, match="out of the file"):
        bundle.load(victim)
    assert peak_bytes(lambda: Bundle(path).get(victim)) < 4 << 20
    assert bundle.load(records[1].key)[0] == records[1]  # the others are still served


def _legacy_file(path: Path, record: Record, dataset: Callable[[h5py.Group], None]) -> None:
    """A version-1 sealed file (read with HDF5) whose manifest describes ``record`` but whose
    datasets ``dataset`` writes."""
    with h5py.File(path, "w", userblock_size=USERBLOCK_SIZE, locking=False) as f:
        dataset(f.create_group("arrays"))
        manifest = {n: {"dtype": a.dtype.str, "shape": list(a.shape), "sha256": array_checksum(a)}
                    for n, a in record.arrays.items()}  # fmt: skip
        fields = {"e2c_format": "e2compile-artifact", "format_version": 1, "key": record.key,
                  "spec": record.spec, "compiler_version": "", "created": "2026-01-01T00:00:00Z",
                  "meta": json.dumps(dict(record.meta)),
                  "arrays": json.dumps(manifest)}  # fmt: skip
        for name, value in fields.items():
            f.attrs[name] = value
        f.attrs["header_sha256"] = header_checksum(fields)
    payload = path.read_bytes()[USERBLOCK_SIZE:]
    with open(path, "r+b") as fh:
        fh.write(Seal(1, len(payload), hashlib.sha256(payload).digest(), None).pack())


def test_hdf5_reader_refuses_a_dataspace_larger_than_its_data(tmp_path):
    """A dataset of 2·10⁷ float64 that stores no data: HDF5 would fill 160 MB."""
    count = 20_000_000
    record = Record.from_spec(fake_spec(8), {"x": np.zeros(count)})
    path = tmp_path / "a.h5"
    _legacy_file(path, record, lambda g: g.create_dataset("x", shape=(count,), dtype="<f8"))
    assert path.stat().st_size < 10_000
    with pytest.raises(CorruptArtifactError, match="bytes stored"):
        load_file(path, str(path), record.key)
    assert peak_bytes(lambda: FileStore(tmp_path).get(record.key)) < 4 << 20


def test_hdf5_reader_refuses_a_crafted_string_width(tmp_path):
    record = Record.from_spec(fake_spec(9), {"s": np.array(["ab", "c"])})
    path = tmp_path / "a.h5"

    def strings(g: h5py.Group) -> None:
        g.create_dataset("s", data=np.array([b"ab", b"c"], dtype=object),
                         dtype=h5py.string_dtype("utf-8"))  # fmt: skip

    _legacy_file(path, record, strings)
    assert load_file(path, str(path), record.key)[0] == record  # as written, it reads

    def widen(fields: dict) -> None:
        arrays = json.loads(fields["arrays"])
        arrays["s"]["dtype"] = "<U50000000"
        fields["arrays"] = json.dumps(arrays)

    with h5py.File(path, "r+", locking=False) as f:
        fields = {name: f.attrs[name] for name in HEADER}
        fields["format_version"] = int(fields["format_version"])
        widen(fields)
        f.attrs["arrays"] = fields["arrays"]
        f.attrs["header_sha256"] = header_checksum(fields)
    payload = path.read_bytes()[USERBLOCK_SIZE:]
    with open(path, "r+b") as fh:
        fh.write(Seal(1, len(payload), hashlib.sha256(payload).digest(), None).pack())
    with pytest.raises(CorruptArtifactError, match="dtype <U50000000"):
        load_file(path, str(path), record.key)


def test_records_hold_strings_at_their_minimal_width(tmp_path):
    padded = np.array(["ab", "c"], dtype="<U12")
    record = Record.from_spec(fake_spec(10), {"s": padded, "e": np.array([], dtype="<U5")})
    assert record.arrays["s"].dtype.str == "<U2" and record.arrays["e"].dtype.str == "<U1"
    assert record.arrays["s"].tolist() == ["ab", "c"]
    store = FileStore(tmp_path)
    store.put(record)
    path = store.path(record.key)
    assert verify_file(path, str(path), record.key)[0] == record


# ------------------------------------------------------------- 3. deeply nested JSON


def test_load_json_bounds_the_nesting():
    assert load_json(deep(MAX_JSON_DEPTH)) is not None
    assert load_json('{"a": "[[[[[[", "b": [1, {"c": "]]]"}]}') == {
        "a": "[[[[[[",
        "b": [1, {"c": "]]]"}],
    }
    for depth in (MAX_JSON_DEPTH + 1, 990, 100_000):
        with pytest.raises(ValueError, match="nested deeper"):
            load_json(deep(depth))
    with pytest.raises(ValueError, match="nested deeper"):  # strings do not hide the depth
        load_json('["]]]]]]]]",' + deep(MAX_JSON_DEPTH + 1) + "]")


@pytest.fixture
def nested_file(tmp_path) -> tuple[Path, Record]:
    """A store whose one artifact file has an index nested 100 000 levels deep."""
    root = tmp_path / "s"
    record = make_record(11)
    store = Store(root, layers=[])
    store.put(record)
    reindex(store.root.path(record.key), nest_in_index)
    return root, record


def test_a_nested_index_is_corrupt_for_every_command(nested_file):
    root, record = nested_file
    path = FileStore(root).path(record.key)
    for args in (["cache", "ls"], ["cache", "ls", "--json"], ["cache", "info", record.key[:12]]):
        result = e2c(root, *args)
        assert "nested deeper" in result.output, (args, result.output)
    assert path.exists()  # listings move nothing
    result = e2c(root, "cache", "verify")
    assert result.exit_code == 1 and "nested deeper" in result.output
    assert not path.exists() and list((root / "quarantine").glob("*.h5"))


def test_a_nested_index_is_a_miss_and_quarantined_by_get(nested_file):
    root, record = nested_file
    store = Store(root, layers=[])
    with pytest.warns(CorruptArtifactWarning, match="nested deeper"):
        assert store.get(record.key) is None
    assert not store.root.path(record.key).exists()


def test_a_layer_build_recompiles_over_a_nested_index(tmp_path, monkeypatch):
    from e2compile import gspaces
    from e2compile.kernels.kind import kernel_spec
    from runtime import bases, nn

    gs = gspaces.Rot2dOnR2(4)
    t = nn.FieldType(gs, [gs.regular_repr])
    root = tmp_path / "s"
    monkeypatch.setenv("E2C_CACHE_DIR", str(root))
    bases.MEMO.clear()
    nn.R2Conv(t, t, 3)
    key = kernel_spec(gs, gs.regular_repr, gs.regular_repr, 3).key
    path = FileStore(root).path(key)
    assert path.exists()
    reindex(path, nest_in_index)
    bases.MEMO.clear()
    with pytest.warns(CorruptArtifactWarning, match="nested deeper"):
        conv = nn.R2Conv(t, t, 3)
    assert conv.weights.numel() > 0 and load_file(path, str(path), key)  # rewritten, valid


@pytest.fixture
def nested_bundle(tmp_path) -> tuple[Path, list[Record]]:
    records = [make_record(i) for i in (12, 13)]
    path = tmp_path / "b.h5"
    write_bundle(path, [(r, None) for r in records])
    reindex(path, nest_in_index)
    return path, records


@pytest.mark.filterwarnings("ignore::cache.CorruptArtifactWarning")  # e2c prints it
def test_a_nested_bundle_index_is_reported_by_every_command(tmp_path, nested_bundle):
    path, records = nested_bundle
    root = tmp_path / "s"
    with pytest.warns(CorruptArtifactWarning, match="nested deeper"):  # printed by e2c
        assert e2c(root, "cache", "ls", layers=(str(path),)).exit_code == 0
    commands = (["cache", "verify"], ["cache", "unpack", str(path)], ["cache", "merge", str(path)])
    for args in commands:
        result = e2c(root, *args, layers=(str(path),) if args[1] == "verify" else ())
        assert result.exit_code == 1 and "nested deeper" in result.output, (args, result.output)
    with pytest.warns(CorruptArtifactWarning, match="nested deeper"):
        assert Store(root, layers=[str(path)]).get(records[0].key) is None


def test_a_nested_remote_bundle_is_a_miss(tmp_path, nested_bundle):
    pytest.importorskip("fsspec")
    pytest.importorskip("aiohttp")
    from tests.cache.test_cache_remote import Server

    path, records = nested_bundle
    server = Server(path.parent)
    try:
        store = Store(tmp_path / "s", layers=[f"{server.url}/{path.name}"])
        with pytest.warns(CorruptArtifactWarning, match="nested deeper"):
            assert store.get(records[0].key) is None
    finally:
        server.stop()


def test_a_nested_meta_is_corrupt_and_never_reaches_json_output(tmp_path):
    """Nesting below the recursion limit parses, then breaks whoever walks it (``ls --json``)."""
    root = tmp_path / "s"
    record = make_record(14)
    Store(root, layers=[]).put(record)
    edit_header(FileStore(root).path(record.key), "/", deep_meta(600))
    rows = json.loads(e2c(root, "cache", "ls", "--json").output)
    assert not rows[0]["valid"] and "nested deeper" in rows[0]["reason"]


def test_a_nested_manifest_is_a_usage_error(tmp_path):
    manifest = tmp_path / "m.json"
    manifest.write_text('{"keys": ' + deep(100_000) + "}")
    result = e2c(tmp_path / "s", "cache", "pack", str(tmp_path / "b.h5"), "--manifest",
                 str(manifest))  # fmt: skip
    assert result.exit_code == 2 and "nested deeper" in result.output


# ------------------------------------------ 7. dangling links, foreign algorithm versions


def test_a_dangling_link_is_invalid_for_ls_and_verify(tmp_path):
    root = tmp_path / "s"
    store = Store(root, layers=[])
    record = make_record(15)
    path = store.root.path(record.key)
    path.parent.mkdir(parents=True)
    path.symlink_to(tmp_path / "nowhere.h5")
    assert "INVALID: dangling symbolic link" in e2c(root, "cache", "ls").output
    result = e2c(root, "cache", "verify", "--no-quarantine")
    assert result.exit_code == 1 and "dangling symbolic link" in result.output
    assert path.is_symlink()
    result = e2c(root, "cache", "verify")
    assert result.exit_code == 1 and "moved to" in result.output
    assert not os.path.lexists(path) and list((root / "quarantine").glob("*.h5"))
    assert store.put(record) and store.get(record.key) == record


def _foreign_record(i: int) -> Record:
    from e2compile.specs import ALGORITHM_VERSION

    spec = json.loads(fake_spec(i))
    spec["algorithm_version"] = ALGORITHM_VERSION + 7
    return Record.from_spec(json.dumps(spec, sort_keys=True), {"a": np.arange(3.0)})


def test_artifacts_of_another_algorithm_version_are_foreign(tmp_path):
    root = tmp_path / "s"
    store = Store(root, layers=[])
    mine, theirs = make_record(16), _foreign_record(17)
    store.put(mine)
    store.put(theirs)
    listing = e2c(root, "cache", "ls").output
    assert "FOREIGN: algorithm_version" in listing and listing.count("FOREIGN") == 1
    rows = {r["key"]: r for r in json.loads(e2c(root, "cache", "ls", "--json").output)}
    assert rows[mine.key]["valid"] and not rows[mine.key]["foreign"]
    assert not rows[theirs.key]["valid"] and "algorithm_version" in rows[theirs.key]["foreign"]
    info = e2c(root, "cache", "info", theirs.key[:12])
    assert info.exit_code == 1 and "FOREIGN:" in info.output
    result = e2c(root, "cache", "verify")
    assert result.exit_code == 1 and "FOREIGN" in result.output and "1 foreign" in result.output
    report = json.loads(e2c(root, "cache", "verify", "--json").output)
    assert report["invalid"] == [] and [r["key"] for r in report["foreign"]] == [theirs.key]
    assert store.root.path(theirs.key).exists()  # never quarantined: a newer e2compile's
    result = e2c(root, "cache", "pack", str(tmp_path / "b.h5"))
    assert result.exit_code == 1 and "foreign: algorithm_version" in result.output
    assert not (tmp_path / "b.h5").exists()
    assert e2c(root, "cache", "pack", str(tmp_path / "b.h5"), mine.key).exit_code == 0


def test_a_plain_store_has_no_notion_of_foreign(tmp_path):
    """The cache knows no specs: only the caller (``e2c``) says what is foreign."""
    store = Store(tmp_path, layers=[])
    store.put(_foreign_record(18))
    assert all(d.valid for d in store.describe()) and all(r.ok for r in store.verify())


def test_a_deeply_nested_spec_is_listed_without_traceback(tmp_path):
    """The store keeps any spec text (it is only hashed); whoever parses it bounds it."""
    root = tmp_path / "s"
    record = Record.from_spec(deep(50_000), {"a": np.arange(3.0)})
    Store(root, layers=[]).put(record)
    assert e2c(root, "cache", "ls").exit_code == 0
    assert json.loads(e2c(root, "cache", "ls", "--json").output)[0]["valid"]
    assert "nested deeper" in e2c(root, "cache", "info", record.key[:12]).output
    result = e2c(root, "show", record.key[:12])
    assert result.exit_code == 1 and "not a basis artifact" in result.output
