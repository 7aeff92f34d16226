"""``cache.Record`` and the HDF5 artifact format: validation, round trips, determinism.

Also home of the helpers the other ``test_cache_*`` / ``test_cli*`` modules import: synthetic
records (the store is generic) and the three corruptions of the issue.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from cache import FileStore, Record, key_for
from cache.format import read_artifact, write_artifact

# ---------------------------------------------------------------------------------- helpers


def fake_spec(i: int, family: str = "rot2d") -> str:
    """A canonical-looking spec JSON string (the store only hashes it)."""
    return json.dumps({"family": family, "N": 8, "kernel_size": 5, "seed": i}, sort_keys=True)


def make_record(i: int = 0, size: int = 3) -> Record:
    """A synthetic record with every supported kind of array."""
    rng = np.random.default_rng(i)
    arrays = {
        "basis": rng.standard_normal((size, 4, 2, 25)),
        "bias_basis": rng.standard_normal((4, 1)).astype(np.float32),
        "attributes/radius": rng.random(size),
        "attributes/frequency": rng.integers(-3, 4, size),
        "attributes/in_irrep": np.array([f"irrep_{k}" for k in range(size)]),
        "attributes/out_irrep": np.array(["irrép_0,1"] * size, dtype="<U12"),
        "mask": rng.random(size) > 0.5,
        "phase": rng.standard_normal(size) + 1j * rng.standard_normal(size),
        "scalar": np.float64(i),
        "empty": np.zeros((0, 3), dtype=np.int16),
    }
    return Record.from_spec(fake_spec(i), arrays, {"compiler_version": "1", "dim": size})


def dataset_offset(path: Path, name: str) -> tuple[int, int]:
    """File offset and byte size of a contiguous dataset."""
    with h5py.File(path, "r", locking=False) as f:
        ds = f[name]
        return ds.id.get_offset(), ds.id.get_storage_size()


def flip_byte_mid_dataset(path: Path, name: str = "arrays/basis") -> None:
    """Flip one byte in the middle of a dataset's data."""
    offset, size = dataset_offset(path, name)
    with open(path, "r+b") as fh:
        fh.seek(offset + size // 2)
        byte = fh.read(1)
        fh.seek(offset + size // 2)
        fh.write(bytes([byte[0] ^ 0x5A]))


def flipped_copies(data: bytes, step: int):
    """``(position, data with one bit flipped there)`` for every ``step``-th byte."""
    for pos in range(0, len(data), step):
        damaged = bytearray(data)
        damaged[pos] ^= 0x01
        yield pos, bytes(damaged)


def truncate(path: Path, fraction: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


def file_under_wrong_key(store: FileStore, source: Record, target_key: str) -> Path:
    """Copy the (valid) file of ``source`` to the path of another key."""
    dest = store.path(target_key)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(store.path(source.key).read_bytes())
    return dest


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------- record


def test_record_key_is_sha256_of_spec():
    rec = make_record(1)
    assert rec.key == hashlib.sha256(rec.meta["spec"].encode()).hexdigest() == key_for(rec.spec)
    with pytest.raises(ValueError, match="sha256"):
        Record(key_for("other"), {}, {"spec": fake_spec(1)})
    with pytest.raises(ValueError, match="malformed key"):
        Record("ABC", {}, {"spec": fake_spec(1)})
    with pytest.raises(ValueError, match="spec"):
        Record(key_for("x"), {}, {})


@pytest.mark.parametrize(
    "arrays, error",
    [
        ({"a": np.array([object()])}, TypeError),
        ({"a": np.array([b"bytes"])}, TypeError),
        ({"../a": np.zeros(2)}, ValueError),
        ({"a b": np.zeros(2)}, ValueError),
        ({"a": np.zeros(2), "a/b": np.zeros(2)}, ValueError),
    ],
)
def test_record_rejects_bad_arrays(arrays, error):
    with pytest.raises(error):
        Record.from_spec(fake_spec(0), arrays)


def test_record_rejects_non_json_meta():
    with pytest.raises(TypeError, match="JSON"):
        Record.from_spec(fake_spec(0), {}, {"x": object()})
    with pytest.raises(TypeError, match="JSON"):
        Record.from_spec(fake_spec(0), {}, {"x": float("nan")})


def test_record_normalises_and_compares_by_content():
    big = np.arange(6, dtype=">i4").reshape(2, 3)
    rec = Record.from_spec(fake_spec(0), {"a": big.T, "s": np.float32(1)}, {"t": (1, 2)})
    assert rec.arrays["a"].dtype == np.dtype("<i4") and rec.arrays["a"].flags.c_contiguous
    np.testing.assert_array_equal(rec.arrays["a"], big.T)
    assert rec.arrays["s"].shape == ()  # 0-d stays 0-d
    assert rec.meta == {"t": [1, 2], "spec": fake_spec(0)}  # JSON-normalised
    same = Record.from_spec(fake_spec(0), {"a": big.T.astype("<i4"), "s": 1.0}, {"t": [1, 2]})
    assert rec != same  # float64 scalar is not float32
    assert rec == Record.from_spec(
        fake_spec(0), {"a": big.T.astype("<i4"), "s": np.float32(1)}, {"t": [1, 2]}
    )
    assert make_record(0) == make_record(0) != make_record(1)


# ---------------------------------------------------------------------------------- format


def test_roundtrip_every_dtype(tmp_path):
    store = FileStore(tmp_path)
    rec = make_record(2)
    assert store.put(rec) is True
    assert store.put(rec) is False  # put-if-absent
    back = store.get(rec.key)
    assert back == rec
    for name, arr in rec.arrays.items():
        assert back.arrays[name].dtype == arr.dtype and back.arrays[name].shape == arr.shape
    assert store.path(rec.key) == tmp_path / rec.key[:2] / f"{rec.key}.h5"
    info = store.info(rec.key)
    assert info.spec == rec.spec and info.compiler_version == "1"
    assert info.created.endswith("Z") and info.created_timestamp > 0


def test_file_schema(tmp_path):
    store = FileStore(tmp_path)
    rec = make_record(3)
    store.put(rec)
    with h5py.File(store.path(rec.key), "r") as f:
        assert f.attrs["e2c_format"] == "e2compile-artifact"
        assert f.attrs["format_version"] == 2
        assert f.attrs["key"] == rec.key and f.attrs["spec"] == rec.spec
        assert f.attrs["compiler_version"] == "1"
        manifest = json.loads(f.attrs["arrays"])
        assert set(manifest) == set(rec.arrays)
        assert (
            manifest["basis"]["sha256"] == hashlib.sha256(rec.arrays["basis"].tobytes()).hexdigest()
        )
        ds = f["arrays/basis"]
        assert ds.chunks is None and ds.compression is None
        string = h5py.check_string_dtype(f["arrays/attributes/in_irrep"].dtype)
        assert string.encoding == "utf-8" and string.length == len("irrep_0")  # fixed length
        assert f["arrays/attributes/out_irrep"].asstr()[0] == "irrép_0,1"


def test_same_record_same_bytes(tmp_path):
    rec = make_record(4)
    a, b = FileStore(tmp_path / "a"), FileStore(tmp_path / "b")
    a.put(rec, created="2020-01-01T00:00:00.000000Z")
    b.put(rec)  # another creation time: an attribute only
    for name in ("arrays/basis", "arrays/mask", "arrays/phase"):
        (oa, na), (ob, nb) = (
            dataset_offset(a.path(rec.key), name),
            dataset_offset(b.path(rec.key), name),
        )
        raw_a = a.path(rec.key).read_bytes()[oa : oa + na]
        raw_b = b.path(rec.key).read_bytes()[ob : ob + nb]
        assert raw_a == raw_b == rec.arrays[name.split("/", 1)[1]].tobytes()
    c = FileStore(tmp_path / "c")
    c.put(rec, created="2020-01-01T00:00:00.000000Z")
    assert sha(a.path(rec.key)) == sha(c.path(rec.key))  # the whole file is reproducible


def test_group_level_api_validates_key(tmp_path):
    rec = make_record(5)
    with h5py.File(tmp_path / "x.h5", "w") as f:
        write_artifact(f.create_group("g"), rec)
    with h5py.File(tmp_path / "x.h5", "r") as f:
        back, info = read_artifact(f["g"], rec.key)
        assert back == rec and info.key == rec.key
        from cache import CorruptArtifactError

        with pytest.raises(CorruptArtifactError, match="stored under key"):
            read_artifact(f["g"], make_record(6).key)


def test_cache_imports_neither_torch_nor_e2compile():
    code = (
        "import sys, cache, cache.store, cache.bundle, cache.filestore, cache.format\n"
        "mods = ('torch', 'e2compile', 'runtime', 'scipy', 'sympy')\n"
        "bad = [m for m in mods if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
