"""The HDF5 schema of one artifact: write, read and validate (no pickle, checksummed).

An artifact lives in an HDF5 group (the file root for a single-artifact file, ``/artifacts/<key>``
inside a bundle). Its attributes:

================== ==========================================================================
``e2c_format``     ``"e2compile-artifact"``
``format_version`` ``FORMAT_VERSION`` (int)
``key``            the key, ``sha256(spec)``
``spec``           the canonical spec JSON
``compiler_version`` ``meta["compiler_version"]`` (``""`` when absent)
``created``        creation time, ISO 8601 UTC (an attribute only: never part of a checksum of data)
``meta``           the record's meta as canonical JSON
``arrays``         JSON ``{name: {"dtype": numpy dtype str, "shape": [...], "sha256": hex}}``
``header_sha256``  SHA-256 of the canonical JSON of all the attributes above
================== ==========================================================================

Every file (single artifact or bundle) is **sealed**: its 512-byte HDF5 userblock, which HDF5
itself ignores, holds ``SEAL_MAGIC``, a seal version, the length and the SHA-256 of everything after
the userblock. The seal is checked before HDF5 parses a single byte, because the HDF5 library can
crash the process on corrupted metadata; a truncated or bit-flipped file never reaches it.

Each array is the dataset ``arrays/<name>``: contiguous, uncompressed, little-endian, no timestamps,
so the same record always produces the same dataset bytes. Unicode arrays are stored as
variable-length UTF-8 strings; their checksum is over each element's UTF-8 bytes, length-prefixed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import stat
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .errors import CorruptArtifactError, UnreadableArtifactError
from .record import Record, canonical_meta_json, is_key, key_for

__all__ = [
    "ARTIFACT_FORMAT",
    "FORMAT_VERSION",
    "SEAL_MAGIC",
    "USERBLOCK_SIZE",
    "ArtifactInfo",
    "array_checksum",
    "MAX_FILE_BYTES",
    "check_seal",
    "create_temp",
    "open_checked",
    "prepare_output",
    "open_sealed",
    "open_sealed_bytes",
    "seal_file",
    "now_iso",
    "read_artifact",
    "read_info",
    "write_artifact",
    "write_sealed",
]

ARTIFACT_FORMAT = "e2compile-artifact"
FORMAT_VERSION = 1
_STR = h5py.string_dtype("utf-8")
_HEADER_FIELDS = (
    "e2c_format",
    "format_version",
    "key",
    "spec",
    "compiler_version",
    "created",
    "meta",
    "arrays",
)


#: HDF5 userblock size reserved for the seal (the smallest HDF5 allows).
USERBLOCK_SIZE = 512
SEAL_MAGIC = b"\x89E2C\r\n\x1a\n"
SEAL_VERSION = 1
_SEAL = struct.Struct("<8sIQ32s")  # magic, seal version, payload length, sha256(payload)
_CHUNK = 1 << 20
#: The largest file (artifact or bundle) the store opens: anything bigger is refused unread.
MAX_FILE_BYTES = 1 << 40


def open_checked(path: str | os.PathLike[str], location: str | None = None) -> io.BufferedReader:
    """Open ``path`` for reading if it is a regular file within :data:`MAX_FILE_BYTES`.

    The type and size come from ``fstat`` of the opened descriptor (opened non-blocking, so a FIFO
    never hangs), so a directory, FIFO, socket or device (``/dev/zero`` behind a symlink) is refused
    before a byte is read. Raises ``FileNotFoundError``, :class:`UnreadableArtifactError` (no
    permission) or :class:`CorruptArtifactError`.
    """
    location = str(path) if location is None else location
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except PermissionError as exc:
        raise UnreadableArtifactError(location, f"cannot read: {exc}") from None
    except IsADirectoryError:
        raise CorruptArtifactError(location, "a directory, not a regular file") from None
    except OSError as exc:
        raise CorruptArtifactError(location, f"cannot open: {exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = (
                "a directory" if stat.S_ISDIR(st.st_mode)
                else "a FIFO" if stat.S_ISFIFO(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode)
                else "not a file"
            )  # fmt: skip
            raise CorruptArtifactError(location, f"{kind}, not a regular file")
        if st.st_size > MAX_FILE_BYTES:
            raise CorruptArtifactError(
                location, f"{st.st_size} bytes, above the format's bound of {MAX_FILE_BYTES}"
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def seal_file(path: str | os.PathLike[str]) -> None:
    """Write the seal of a closed HDF5 file created with ``userblock_size=USERBLOCK_SIZE``."""
    with open(path, "r+b") as fh:
        fh.seek(USERBLOCK_SIZE)
        h = hashlib.sha256()
        length = 0
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
            length += len(chunk)
        fh.seek(0)
        fh.write(_SEAL.pack(SEAL_MAGIC, SEAL_VERSION, length, h.digest()))
        fh.flush()
        os.fsync(fh.fileno())


def create_temp(directory: Path, name: str) -> Path:
    """Create an empty temporary file ``.<name>.*.tmp`` in ``directory`` (the pattern that
    ``gc`` removes when stale); ``OSError`` when the directory is not writable."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    tmp = Path(tmp_name)
    try:
        os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return tmp


def prepare_output(path: str | os.PathLike[str]) -> Path:
    """Create the parent directories of an output file and check that a file can be created
    there now (``OSError`` otherwise), so a long job fails before it starts, not after."""
    path = Path(path).expanduser().absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    create_temp(path.parent, path.name).unlink()
    return path


def write_sealed(tmp: Path, path: Path, fill: Callable[[h5py.File], None]) -> None:
    """Write a sealed HDF5 file atomically: ``fill`` the new file ``tmp`` (from
    :func:`create_temp`, next to ``path``), seal it (which fsyncs), make it readable by all and
    ``os.replace`` it onto ``path``. A reader never sees a partial file; on any failure ``tmp`` is
    removed and the error propagates."""
    try:
        with h5py.File(tmp, "w", locking=False, userblock_size=USERBLOCK_SIZE) as f:
            fill(f)
        seal_file(tmp)  # also fsyncs
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def check_seal(fh: io.BufferedIOBase | io.BytesIO, location: str, full: bool = True) -> None:
    """Check the seal of an open binary file (read from its start); raise if it does not hold.

    ``full=False`` checks only the seal's header and the file's length (cheap: no hashing), which
    catches a missing seal and truncation but not a flipped bit.
    """
    fh.seek(0)
    head = fh.read(USERBLOCK_SIZE)
    if len(head) < USERBLOCK_SIZE:
        raise CorruptArtifactError(location, "truncated (shorter than the seal)")
    magic, version, length, digest = _SEAL.unpack_from(head)
    if magic != SEAL_MAGIC:
        raise CorruptArtifactError(location, "no e2compile seal (not an artifact file)")
    if version != SEAL_VERSION:
        raise UnreadableArtifactError(location, f"seal version {version}")
    if head[_SEAL.size :].count(0) != USERBLOCK_SIZE - _SEAL.size:
        raise CorruptArtifactError(location, "damaged seal (padding is not zero)")
    if not full:
        seen = fh.seek(0, os.SEEK_END) - USERBLOCK_SIZE
        if seen != length:
            raise CorruptArtifactError(
                location, f"truncated or extended: {seen} bytes, sealed {length}"
            )
        fh.seek(0)
        return
    h = hashlib.sha256()
    seen = 0
    while chunk := fh.read(_CHUNK):
        h.update(chunk)
        seen += len(chunk)
    if seen != length:
        raise CorruptArtifactError(
            location, f"truncated or extended: {seen} bytes, sealed {length}"
        )
    if h.digest() != digest:
        raise CorruptArtifactError(location, "file checksum mismatch (bit rot or tampering)")
    fh.seek(0)


def open_sealed_bytes(data: bytes, location: str) -> h5py.File:
    """Check the seal of a whole file held in memory and open it read-only."""
    return open_sealed(io.BytesIO(data), location)


def open_sealed(fh: io.BufferedIOBase | io.BytesIO, location: str) -> h5py.File:
    """Check the seal of an open binary file and open it read-only with HDF5 (streamed: memory
    stays bounded whatever the file's size; the caller closes ``fh`` after the HDF5 file)."""
    check_seal(fh, location)
    try:
        return h5py.File(fh, "r")
    except Exception as exc:  # noqa: BLE001
        raise CorruptArtifactError(location, f"not a readable HDF5 file: {exc}") from None


def now_iso() -> str:
    """The current UTC time as ISO 8601 with a ``Z`` suffix, to the microsecond."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def array_checksum(arr: np.ndarray) -> str:
    """SHA-256 of an array's canonical bytes (UTF-8 length-prefixed elements for unicode arrays)."""
    h = hashlib.sha256()
    if arr.dtype.kind == "U":
        for item in arr.reshape(-1).tolist():
            data = item.encode("utf-8")
            h.update(struct.pack("<Q", len(data)))
            h.update(data)
    else:
        h.update(np.ascontiguousarray(arr).reshape(-1).view(np.uint8))  # no copy of the data
    return h.hexdigest()


@dataclass(frozen=True)
class ArtifactInfo:
    """The validated header of a stored artifact (everything but the array data)."""

    key: str
    spec: str
    compiler_version: str
    created: str
    format_version: int
    meta: dict[str, Any]
    arrays: dict[str, dict[str, Any]]

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays' data, from the manifest (nothing is read)."""
        total = 0
        for entry in self.arrays.values():
            count = 1
            for n in entry["shape"]:
                count *= n
            total += count * np.dtype(entry["dtype"]).itemsize
        return total

    @property
    def created_timestamp(self) -> float:
        """``created`` as a POSIX timestamp."""
        text = self.created.replace("Z", "+00:00")
        return datetime.fromisoformat(text).timestamp()


def _header_checksum(fields: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_meta_json(fields).encode("utf-8")).hexdigest()


def write_artifact(group: h5py.Group, record: Record, created: str | None = None) -> None:
    """Write ``record`` into the (empty) HDF5 ``group``."""
    manifest = {}
    data = group.create_group("arrays", track_order=False)
    for name, arr in record.arrays.items():
        if arr.dtype.kind == "U":
            values = np.array([s.encode("utf-8") for s in arr.reshape(-1).tolist()], dtype=object)
            data.create_dataset(name, data=values.reshape(arr.shape), dtype=_STR, track_times=False)
        else:
            data.create_dataset(name, data=arr, track_times=False)
        manifest[name] = {
            "dtype": arr.dtype.str,
            "shape": list(arr.shape),
            "sha256": array_checksum(arr),
        }
    fields: dict[str, Any] = {
        "e2c_format": ARTIFACT_FORMAT,
        "format_version": FORMAT_VERSION,
        "key": record.key,
        "spec": record.spec,
        "compiler_version": str(record.meta.get("compiler_version", "")),
        "created": created or now_iso(),
        "meta": canonical_meta_json(record.meta),
        "arrays": canonical_meta_json(manifest),
    }
    for name in _HEADER_FIELDS:
        group.attrs[name] = fields[name]
    group.attrs["header_sha256"] = _header_checksum(fields)


def _attr(attrs: h5py.AttributeManager, name: str, kind: type) -> Any:
    if name not in attrs:
        raise ValueError(f"missing attribute {name!r}")
    value = attrs[name]
    if kind is int:
        if isinstance(value, (np.integer, int)) and not isinstance(value, bool):
            return int(value)
    elif kind is str:
        if isinstance(value, bytes):
            return value.decode("utf-8")
        if isinstance(value, str):
            return value
    raise ValueError(
        f"attribute {name!r} has type {type(value).__name__}, expected {kind.__name__}"
    )


def _read_info(group: h5py.Group, expected_key: str | None, location: str | None) -> ArtifactInfo:
    attrs = group.attrs
    fmt = _attr(attrs, "e2c_format", str)
    if fmt != ARTIFACT_FORMAT:
        raise ValueError(f"not an e2compile artifact (e2c_format={fmt!r})")
    version = _attr(attrs, "format_version", int)
    if version != FORMAT_VERSION:
        raise UnreadableArtifactError(
            _location(group, location),
            f"format version {version} (this code reads {FORMAT_VERSION})",
        )
    fields = {
        name: _attr(attrs, name, int if name == "format_version" else str)
        for name in _HEADER_FIELDS
    }
    if _attr(attrs, "header_sha256", str) != _header_checksum(fields):
        raise ValueError("header checksum mismatch")
    key, spec = fields["key"], fields["spec"]
    if not is_key(key) or key_for(spec) != key:
        raise ValueError(f"stored key {key!r} is not sha256 of the stored spec")
    if expected_key is not None and key != expected_key:
        raise ValueError(f"artifact of key {key} stored under key {expected_key}")
    meta = json.loads(fields["meta"])
    if not isinstance(meta, dict) or meta.get("spec") != spec:
        raise ValueError("meta['spec'] differs from the spec attribute")
    if str(meta.get("compiler_version", "")) != fields["compiler_version"]:
        raise ValueError("meta['compiler_version'] differs from the compiler_version attribute")
    manifest = json.loads(fields["arrays"])
    if not isinstance(manifest, dict):
        raise ValueError("malformed array manifest")
    for name, entry in manifest.items():
        if (
            not isinstance(entry, dict)
            or set(entry) != {"dtype", "shape", "sha256"}
            or not isinstance(entry["shape"], list)
            or not all(isinstance(n, int) and n >= 0 for n in entry["shape"])
            or np.dtype(entry["dtype"]).kind not in "biufcU"
        ):
            raise ValueError(f"malformed manifest entry for array {name!r}")
    return ArtifactInfo(
        key=key,
        spec=spec,
        compiler_version=fields["compiler_version"],
        created=fields["created"],
        format_version=version,
        meta=meta,
        arrays=manifest,
    )


def _location(group: h5py.Group, location: str | None = None) -> str:
    if location is not None:
        return location
    try:
        name = group.file.filename
        return name if group.name == "/" else f"{name}:{group.name}"
    except Exception:  # noqa: BLE001 - a broken handle still needs a label
        return "<hdf5>"


def read_info(
    group: h5py.Group, expected_key: str | None = None, location: str | None = None
) -> ArtifactInfo:
    """Read and validate an artifact's header (no array data is read).

    ``location`` names the artifact in errors (default: the HDF5 file and group names).
    Raises :class:`CorruptArtifactError` (or its subclass :class:`UnreadableArtifactError`).
    """
    try:
        return _read_info(group, expected_key, location)
    except CorruptArtifactError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to parse is corruption
        raise CorruptArtifactError(_location(group, location), f"invalid header: {exc}") from None


_PLAIN_LAYOUTS = (h5py.h5d.CONTIGUOUS, h5py.h5d.COMPACT)


def _read_array(dsid: h5py.h5d.DatasetID, entry: dict[str, Any]) -> np.ndarray:
    """Read and check one dataset (by its low-level id: h5py's high-level wrappers cost more than
    the read of a small array): shape, dtype, a plain unfiltered layout, the data checksum."""
    dtype = np.dtype(entry["dtype"])
    shape = tuple(entry["shape"])
    if dsid.shape != shape:
        raise ValueError(f"shape {dsid.shape} != {shape}")
    if dtype.kind == "U":
        ds = h5py.Dataset(dsid)
        info = h5py.check_string_dtype(ds.dtype)
        if info is None or info.encoding != "utf-8" or info.length is not None:
            raise ValueError(f"dtype {ds.dtype} is not variable-length UTF-8")
        raw = np.asarray(ds[()], dtype=object).reshape(-1)
        arr = np.array([b.decode("utf-8") for b in raw.tolist()], dtype=dtype).reshape(shape)
    else:
        if dsid.dtype != dtype:
            raise ValueError(f"dtype {dsid.dtype} != {dtype}")
        dcpl = dsid.get_create_plist()
        if (
            dcpl.get_layout() not in _PLAIN_LAYOUTS
            or dcpl.get_nfilters()
            or dcpl.get_external_count()
        ):
            raise ValueError("dataset is not contiguous and uncompressed")
        arr = np.empty(shape, dtype=dtype)
        if arr.size:
            dsid.read(h5py.h5s.ALL, h5py.h5s.ALL, arr)
    if array_checksum(arr) != entry["sha256"]:
        raise ValueError("checksum mismatch")
    return arr


def _check_tree(data: h5py.Group, names: list[str]) -> None:
    """The group holds exactly the datasets ``names`` (``/`` nests), nothing else."""
    children: dict[str, set[str]] = {"": set()}
    for name in names:
        parts = name.split("/")
        for i, part in enumerate(parts):
            parent = "/".join(parts[:i])
            children.setdefault(parent, set()).add(part)
    for parent, expected in children.items():
        group = data[parent] if parent else data
        if not isinstance(group, h5py.Group) or set(group.keys()) != expected:
            found = sorted(group.keys()) if isinstance(group, h5py.Group) else group
            raise ValueError(f"group {parent or '/'!r} holds {found}, expected {sorted(expected)}")


def read_artifact(
    group: h5py.Group, expected_key: str | None = None, location: str | None = None
) -> tuple[Record, ArtifactInfo]:
    """Read, validate and return the artifact stored in ``group`` and its header.

    Everything is checked before the record is returned: header checksum, key versus spec,
    the set of datasets, each dataset's dtype, shape and data checksum.
    Raises :class:`CorruptArtifactError` (or :class:`UnreadableArtifactError`).
    """
    info = read_info(group, expected_key, location)
    try:
        data = group["arrays"]
        _check_tree(data, list(info.arrays))
        arrays = {}
        for name, entry in info.arrays.items():
            ds = h5py.h5o.open(data.id, name.encode("utf-8"))
            if not isinstance(ds, h5py.h5d.DatasetID):
                raise ValueError(f"{name!r} is not a dataset")
            try:
                arrays[name] = _read_array(ds, entry)
            except Exception as exc:  # noqa: BLE001
                raise ValueError(f"array {name!r}: {exc}") from None
        record = Record(info.key, arrays, info.meta)
    except Exception as exc:  # noqa: BLE001 - any failure to read is corruption
        raise CorruptArtifactError(_location(group, location), str(exc)) from None
    return record, info
