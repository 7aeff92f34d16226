"""Invalid files (truncated, bit-flipped, schema-invalid, wrong key) are caught by ``get`` and by
``verify``: one warning, quarantine, miss, recompile; never returned as valid."""

from __future__ import annotations

import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from cache import CorruptArtifactWarning, FileStore, Record, Store
from cache.format import seal_file
from tests.cache.test_cache_record import (
    file_under_wrong_key,
    flip_byte_mid_dataset,
    flipped_copies,
    make_record,
    truncate,
)


def _rewrite_attrs(path: Path, **attrs) -> None:
    """Edit root attributes in place, then re-seal: only the schema checks can catch it."""
    with h5py.File(path, "r+", locking=False) as f:
        for name, value in attrs.items():
            if value is None:
                del f.attrs[name]
            else:
                f.attrs[name] = value
    seal_file(path)


def _extra_dataset(path: Path) -> None:
    with h5py.File(path, "r+", locking=False) as f:
        f["arrays"].create_dataset("intruder", data=np.zeros(3))
    seal_file(path)


def _retyped_dataset(path: Path) -> None:
    with h5py.File(path, "r+", locking=False) as f:
        data = f["arrays/basis"][()]
        del f["arrays/basis"]
        f["arrays"].create_dataset("basis", data=data.astype(np.float32))
    seal_file(path)


def _flipped_and_resealed(path: Path) -> None:
    """Flip a data byte and re-seal the file: only the dataset checksum can catch it."""
    flip_byte_mid_dataset(path)
    seal_file(path)


CORRUPTIONS = {
    "truncated": truncate,
    "truncated-to-seal": lambda p: truncate(p, 512 / p.stat().st_size),
    "empty": lambda p: p.write_bytes(b""),
    "garbage": lambda p: p.write_bytes(b"\x00not hdf5" * 100),
    "bit-flip": flip_byte_mid_dataset,
    "bit-flip-resealed": _flipped_and_resealed,
    "missing-attribute": lambda p: _rewrite_attrs(p, compiler_version=None),
    "edited-meta": lambda p: _rewrite_attrs(p, meta='{"spec":"x"}'),
    "extra-dataset": _extra_dataset,
    "retyped-dataset": _retyped_dataset,
}


def _corrupt(store: FileStore, kind: str) -> Record:
    """Store a record and corrupt its file; returns the record."""
    rec = make_record(11)
    if kind == "wrong-key":
        other = make_record(12)
        store.put(other)
        file_under_wrong_key(store, other, rec.key)
        store.delete(other.key)
        return rec
    store.put(rec)
    CORRUPTIONS[kind](store.path(rec.key))
    return rec


KINDS = [*CORRUPTIONS, "wrong-key"]


@pytest.mark.parametrize("kind", KINDS)
def test_get_warns_once_quarantines_and_recompiles(tmp_path, kind):
    store = Store(tmp_path / "root", layers=[])
    rec = _corrupt(store.root, kind)
    path = store.root.path(rec.key)
    assert store.contains(rec.key)
    with pytest.warns(CorruptArtifactWarning) as caught:
        assert store.get(rec.key) is None
    assert len([w for w in caught if w.category is CorruptArtifactWarning]) == 1
    assert not path.exists()  # moved aside ...
    moved = list(store.root.quarantine_dir.glob(f"{rec.key}.*.h5"))
    assert len(moved) == 1 and rec.key in moved[0].with_suffix(".txt").read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ... and reported only once
        assert store.get(rec.key) is None
        calls = []
        got = store.get_or_create(rec.key, lambda: calls.append(1) or rec)
    assert got == rec and calls == [1]  # recompiled
    assert store.get(rec.key) == rec  # and now valid


@pytest.mark.parametrize("kind", KINDS)
def test_verify_reports_and_quarantines(tmp_path, kind):
    store = Store(tmp_path / "root", layers=[])
    good = make_record(13)
    store.put(good)
    rec = _corrupt(store.root, kind)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # verify reports, it does not warn
        dry = {r.key: r for r in store.verify(quarantine=False)}
    assert dry[good.key].ok and not dry[rec.key].ok and dry[rec.key].quarantined_to is None
    assert store.root.path(rec.key).exists()
    results = {r.key: r for r in store.verify()}
    assert not results[rec.key].ok and Path(results[rec.key].quarantined_to).exists()
    assert not store.root.path(rec.key).exists()
    assert [r.ok for r in store.verify()] == [True]


def test_no_byte_flip_ever_yields_a_record(tmp_path):
    """Flip each of many bytes of a valid file: ``get`` returns ``None``, never another record."""
    source = FileStore(tmp_path / "src")
    rec = make_record(14, size=2)
    source.put(rec)
    original = source.path(rec.key).read_bytes()
    target = FileStore(tmp_path / "t")
    path = target.path(rec.key)
    path.parent.mkdir(parents=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptArtifactWarning)
        for pos, damaged in flipped_copies(original, 37):
            path.write_bytes(damaged)
            assert target.get(rec.key) is None, pos
    path.write_bytes(original)
    assert target.get(rec.key) == rec


def test_unreadable_format_version_is_a_miss_but_not_moved(tmp_path):
    store = Store(tmp_path, layers=[])
    rec = make_record(15)
    store.put(rec)
    _rewrite_attrs(store.root.path(rec.key), format_version=99)
    with pytest.warns(CorruptArtifactWarning, match="format version 99"):
        assert store.get(rec.key) is None
    assert store.root.path(rec.key).exists()  # may belong to a newer e2compile
