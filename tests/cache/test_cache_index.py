"""The seal's index: artifacts are read without HDF5, the index always describes the HDF5 content,
files sealed before the index existed still read, and no damage ever yields a record."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from cache import Bundle, CorruptArtifactWarning, FileStore, Record, write_bundle
from cache.errors import CorruptArtifactError
from cache.format import build_index, seal_file
from cache.reader import info_file, load_file, verify_file
from cache.sealed import (
    INDEX_DATASET,
    USERBLOCK_SIZE,
    Seal,
    array_checksum,
    header_checksum,
    read_index,
    read_seal,
)
from tests.cache.test_cache_record import dataset_offset, flipped_copies, make_record

REPO = Path(__file__).resolve().parents[2]


def _write_legacy(path: Path, records: list[Record], bundle: bool = False) -> None:
    """A file as e2compile wrote it before the index: format 1 (variable-length strings), a
    version-1 seal (length and digest only)."""
    with h5py.File(path, "w", userblock_size=USERBLOCK_SIZE, locking=False) as f:
        if bundle:
            f.attrs["e2c_format"] = "e2compile-bundle"
            f.attrs["format_version"] = 1
            f.attrs["created"] = "2026-01-01T00:00:00.000000Z"
        for record in records:
            group = f.create_group(f"artifacts/{record.key}") if bundle else f
            data = group.create_group("arrays")
            manifest = {}
            for name, arr in record.arrays.items():
                if arr.dtype.kind == "U":
                    items = [s.encode("utf-8") for s in arr.reshape(-1).tolist()]
                    values = np.array(items, dtype=object).reshape(arr.shape)
                    data.create_dataset(name, data=values, dtype=h5py.string_dtype("utf-8"))
                else:
                    data.create_dataset(name, data=arr)
                manifest[name] = {
                    "dtype": arr.dtype.str,
                    "shape": list(arr.shape),
                    "sha256": array_checksum(arr),
                }
            fields = {
                "e2c_format": "e2compile-artifact",
                "format_version": 1,
                "key": record.key,
                "spec": record.spec,
                "compiler_version": str(record.meta.get("compiler_version", "")),
                "created": "2026-01-01T00:00:00.000000Z",
                "meta": json.dumps(dict(record.meta), sort_keys=True, separators=(",", ":")),
                "arrays": json.dumps(manifest, sort_keys=True, separators=(",", ":")),
            }
            for name, value in fields.items():
                group.attrs[name] = value
            group.attrs["header_sha256"] = header_checksum(fields)
    payload = path.read_bytes()[USERBLOCK_SIZE:]
    with open(path, "r+b") as fh:
        fh.write(Seal(1, len(payload), hashlib.sha256(payload).digest(), None).pack())


def _index(path: Path) -> dict:
    with open(path, "rb") as fh:
        return read_index(fh, read_seal(fh, str(path)), str(path))


# ------------------------------------------------------------------------------ the index


def test_index_places_every_array_where_hdf5_has_it(tmp_path):
    store = FileStore(tmp_path)
    record = make_record(1)
    store.put(record)
    path = store.path(record.key)
    entry = _index(path)["artifacts"]["/"]
    raw = path.read_bytes()
    with h5py.File(path, "r", locking=False) as f:
        assert entry["attrs"]["key"] == f.attrs["key"] == record.key
        for name, arr in record.arrays.items():
            stored = entry["arrays"][name]
            assert stored["shape"] == list(arr.shape)
            if arr.size == 0:
                assert stored["nbytes"] == 0 and stored["offset"] is None
                continue
            assert (stored["offset"], stored["nbytes"]) == dataset_offset(path, f"arrays/{name}")
            if arr.dtype.kind != "U":
                start = stored["offset"]
                assert raw[start : start + stored["nbytes"]] == arr.tobytes()
        assert entry["arrays"]["attributes"] == {"object": "group"}
        assert INDEX_DATASET in f
    assert load_file(path, str(path), record.key)[0] == record


def test_a_warm_read_never_imports_hdf5(tmp_path):
    """A FileStore hit and a bundle hit in a fresh process read no HDF5 (h5py's import alone
    costs about 100 ms)."""
    store = FileStore(tmp_path / "s")
    record = make_record(2)
    store.put(record)
    write_bundle(tmp_path / "b.h5", [(make_record(3), None)])
    code = f"""
import sys
from cache import Bundle, FileStore
got = FileStore({str(tmp_path / "s")!r}).get({record.key!r})
other = Bundle({str(tmp_path / "b.h5")!r}).get({make_record(3).key!r})
assert got is not None and other is not None
print(sorted(got.arrays) == sorted(other.arrays), "h5py" in sys.modules)
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.split() == ["True", "False"], out.stderr


def test_a_file_edited_with_hdf5_and_resealed_is_read_as_it_now_is(tmp_path):
    """The index is rebuilt from the HDF5 content at every seal: an edited value reaches the
    reader, which then checks it like any other (here the dataset checksum fails)."""
    store = FileStore(tmp_path)
    record = make_record(4)
    store.put(record)
    path = store.path(record.key)
    with h5py.File(path, "r+", locking=False) as f:
        f["arrays/basis"][0, 0, 0, 0] += 1.0
    with pytest.raises(CorruptArtifactError, match="file checksum"):
        load_file(path, str(path), record.key)  # not resealed: the seal catches it
    seal_file(path)
    with pytest.raises(CorruptArtifactError, match="array 'basis': checksum mismatch"):
        load_file(path, str(path), record.key)


def test_verify_finds_an_index_that_disagrees_with_hdf5(tmp_path):
    """A crafted index that points ``basis`` at an untouched copy of its old bytes passes every
    check of a plain read; ``verify`` reads the file again with HDF5 and catches it."""
    store = FileStore(tmp_path)
    record = make_record(5)
    store.put(record)
    path = store.path(record.key)
    with h5py.File(path, "r+", locking=False) as f:
        f.create_dataset("shadow", data=f["arrays/basis"][()])
        f["arrays/basis"][0, 0, 0, 0] += 1.0
        index = build_index(f)
        index["artifacts"]["/"]["arrays"]["basis"]["offset"] = f["shadow"].id.get_offset()
        del f[INDEX_DATASET]
        raw = json.dumps(index, sort_keys=True, separators=(",", ":")).encode()
        ds = f.create_dataset(INDEX_DATASET, data=np.frombuffer(raw, np.uint8))
        place = (ds.id.get_offset(), len(raw), hashlib.sha256(raw).digest())
    payload = path.read_bytes()[USERBLOCK_SIZE:]
    with open(path, "r+b") as fh:
        fh.write(Seal(2, len(payload), hashlib.sha256(payload).digest(), place).pack())
    assert load_file(path, str(path), record.key)[0] == record  # the plain read is fooled
    with pytest.raises(CorruptArtifactError, match="checksum mismatch"):
        verify_file(path, str(path), record.key)
    results = list(store.verify(quarantine=False))
    assert [r.ok for r in results] == [False]


@pytest.mark.parametrize("where", ["seal", "index"])
def test_damage_to_the_seal_or_index_is_caught(tmp_path, where):
    store = FileStore(tmp_path)
    record = make_record(6)
    store.put(record)
    path = store.path(record.key)
    data = bytearray(path.read_bytes())
    with open(path, "rb") as fh:
        seal = read_seal(fh, str(path))
    pos = 60 if where == "seal" else seal.index[0] + seal.index[1] // 2
    data[pos] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptArtifactError):
        load_file(path, str(path), record.key)
    with pytest.raises(CorruptArtifactError):
        info_file(path, str(path), record.key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptArtifactWarning)
        assert store.get(record.key) is None


def test_strings_with_nul_inside_round_trip(tmp_path):
    record = Record.from_spec('{"s":1}', {"names": np.array(["a\x00b", "", "é"])})
    store = FileStore(tmp_path)
    store.put(record)
    assert store.get(record.key) == record


# ----------------------------------------------------------------- files sealed before it


def test_files_sealed_before_the_index_still_read(tmp_path):
    store = FileStore(tmp_path / "s")
    record = make_record(7)
    path = store.path(record.key)
    path.parent.mkdir(parents=True)
    _write_legacy(path, [record])
    assert store.get(record.key) == record
    assert store.info(record.key).format_version == 1
    assert [r.ok for r in store.verify()] == [True]
    bundle_path = tmp_path / "old.h5"
    others = [make_record(8), make_record(9)]
    _write_legacy(bundle_path, others, bundle=True)
    bundle = Bundle(bundle_path)
    assert bundle.keys() == sorted(r.key for r in others)
    assert all(bundle.get(r.key) == r for r in others)
    assert [r.ok for r in bundle.verify()] == [True, True]


def test_an_old_file_damaged_is_still_caught(tmp_path):
    store = FileStore(tmp_path)
    record = make_record(10)
    path = store.path(record.key)
    path.parent.mkdir(parents=True)
    _write_legacy(path, [record])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptArtifactWarning)
        assert store.get(record.key) is None


# ------------------------------------------------------------------------------- bundles


def test_bundle_reads_through_its_index_and_verify_compares_with_hdf5(tmp_path):
    records = [make_record(i) for i in (11, 12, 13)]
    path = tmp_path / "b.h5"
    write_bundle(path, [(r, None) for r in sorted(records, key=lambda r: r.key)])
    index = _index(path)
    assert index["root"]["e2c_format"] == "e2compile-bundle"
    assert sorted(index["artifacts"]) == sorted(f"/artifacts/{r.key}" for r in records)
    bundle = Bundle(path)
    assert all(bundle.get(r.key) == r for r in records)
    assert bundle.info(records[0].key).key == records[0].key
    assert [r.ok for r in bundle.verify()] == [True] * 3


def test_no_byte_flip_of_a_bundle_yields_a_wrong_record(tmp_path):
    records = [make_record(14, size=2), make_record(15, size=2)]
    source = tmp_path / "src.h5"
    write_bundle(source, [(r, None) for r in sorted(records, key=lambda r: r.key)])
    original = source.read_bytes()
    target = tmp_path / "t.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptArtifactWarning)
        for pos, damaged in flipped_copies(original, 97):
            target.write_bytes(damaged)
            bundle = Bundle(target)  # a fresh layer: nothing remembered
            assert all(bundle.get(r.key) is None for r in records), pos
