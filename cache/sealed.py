"""The seal and the index of an artifact file, and reading artifacts through them without HDF5.

Every file (single artifact or bundle) is an HDF5 file after a 512-byte userblock, which HDF5
itself ignores. The userblock holds the **seal**: ``SEAL_MAGIC``, the seal version, the length and
SHA-256 of everything after the userblock (the *payload*) and, from seal version 2, where the
**index** lies in the payload, its length and its SHA-256. The index is the HDF5 dataset
``/e2c_index`` (canonical JSON as ``uint8``) that :func:`cache.format.seal_file` derives from the
file's HDF5 content when it seals it: for every artifact group, its header attributes and, for
every dataset under its ``arrays`` group, the dtype, shape, byte offset and byte count.

So a reader needs no HDF5 library: it checks the seal, hashes the payload, reads the index and the
array bytes at their offsets, then runs the same header and checksum validation as the HDF5 reader
(:mod:`cache.format`), which stays the reference path (``verify`` runs both). Files with a version-1
seal (no index) are read with HDF5 only. Unlike h5py, this module imports in milliseconds: a warm
store never imports HDF5 (about 100 ms in a fresh process).

A corrupt file never yields a record: the seal bounds and hashes the whole payload; the index is
rebuilt from the HDF5 content at every seal, so a file edited with HDF5 and resealed is judged by
what it now holds; every array is checked against the checksum in its header.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from .errors import CorruptArtifactError, UnreadableArtifactError
from .limits import array_dtype, load_json, unicode_width
from .record import Record, canonical_meta_json, is_key, key_for

__all__ = [
    "ARTIFACT_FORMAT",
    "FORMAT_VERSION",
    "HEADER_FIELDS",
    "INDEX_DATASET",
    "READABLE_FORMAT_VERSIONS",
    "SEAL_MAGIC",
    "USERBLOCK_SIZE",
    "ArtifactInfo",
    "Seal",
    "array_checksum",
    "check_payload",
    "check_unicode_width",
    "data_span",
    "header_checksum",
    "info_indexed",
    "load_indexed",
    "read_indexed_arrays",
    "read_index",
    "read_seal",
    "validate_header",
]

ARTIFACT_FORMAT = "e2compile-artifact"
#: 2: fixed-length UTF-8 string datasets and the index; 1 (still read, with HDF5): variable-length.
FORMAT_VERSION = 2
READABLE_FORMAT_VERSIONS = (1, 2)
HEADER_FIELDS = (
    "e2c_format",
    "format_version",
    "key",
    "spec",
    "compiler_version",
    "created",
    "meta",
    "arrays",
)
INDEX_DATASET = "e2c_index"
INDEX_FORMAT = "e2compile-index"
INDEX_VERSION = 1

#: HDF5 userblock size reserved for the seal (the smallest HDF5 allows).
USERBLOCK_SIZE = 512
SEAL_MAGIC = b"\x89E2C\r\n\x1a\n"
SEAL_VERSIONS = (1, 2)
_SEAL_V1 = struct.Struct("<8sIQ32s")  # magic, version, payload length, sha256(payload)
_SEAL_V2 = struct.Struct("<8sIQ32sQQ32s")  # ... then index offset, index length, sha256(index)
_CHUNK = 1 << 20


# -- the seal ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seal:
    """A file's parsed seal. ``index`` is ``(offset, length, sha256)`` from seal version 2 on."""

    version: int
    length: int
    digest: bytes
    index: tuple[int, int, bytes] | None

    def pack(self) -> bytes:
        """The seal as the userblock's leading bytes."""
        if self.index is None:
            return _SEAL_V1.pack(SEAL_MAGIC, 1, self.length, self.digest)
        return _SEAL_V2.pack(SEAL_MAGIC, 2, self.length, self.digest, *self.index)


def read_seal(fh: io.BufferedIOBase | io.BytesIO, location: str) -> Seal:
    """Read and check an open file's seal (cheap: its header, the file's length and the index's
    bounds; nothing is hashed). Raises :class:`CorruptArtifactError` (a damaged or missing seal,
    a truncated or extended file) or :class:`UnreadableArtifactError` (an unknown seal version)."""
    fh.seek(0)
    head = fh.read(USERBLOCK_SIZE)
    if len(head) < USERBLOCK_SIZE:
        raise CorruptArtifactError(location, "truncated (shorter than the seal)")
    magic, version = struct.unpack_from("<8sI", head)
    if magic != SEAL_MAGIC:
        raise CorruptArtifactError(location, "no e2compile seal (not an artifact file)")
    if version not in SEAL_VERSIONS:
        raise UnreadableArtifactError(location, f"seal version {version}")
    layout = _SEAL_V1 if version == 1 else _SEAL_V2
    fields = layout.unpack_from(head)
    if head[layout.size :].count(0) != USERBLOCK_SIZE - layout.size:
        raise CorruptArtifactError(location, "damaged seal (padding is not zero)")
    length, digest = fields[2], fields[3]
    seen = fh.seek(0, os.SEEK_END) - USERBLOCK_SIZE
    fh.seek(0)
    if seen != length:
        raise CorruptArtifactError(
            location, f"truncated or extended: {seen} bytes, sealed {length}"
        )
    index = None
    if version == 2:
        offset, size, index_digest = fields[4:]
        if size == 0 or offset < USERBLOCK_SIZE or offset + size > USERBLOCK_SIZE + length:
            raise CorruptArtifactError(location, "damaged seal (index out of the file)")
        index = (offset, size, index_digest)
    return Seal(version, length, digest, index)


def check_payload(fh: io.BufferedIOBase | io.BytesIO, seal: Seal, location: str) -> None:
    """Hash the payload of an open file (streamed) and compare it with the seal's digest."""
    fh.seek(USERBLOCK_SIZE)
    h = hashlib.sha256()
    while chunk := fh.read(_CHUNK):
        h.update(chunk)
    fh.seek(0)
    if h.digest() != seal.digest:
        raise CorruptArtifactError(location, "file checksum mismatch (bit rot or tampering)")


# -- the index -----------------------------------------------------------------------------------


def read_index(
    fh: io.BufferedIOBase | io.BytesIO, seal: Seal, location: str, data: bytes | None = None
) -> dict[str, Any]:
    """The parsed, digest-checked index of a version-2 seal (read from ``data``, the whole file,
    when given). Only its outer structure is checked here; entries are checked where used."""
    assert seal.index is not None
    offset, size, digest = seal.index
    if data is None:
        fh.seek(offset)
        raw = fh.read(size)
        fh.seek(0)
    else:
        raw = bytes(data[offset : offset + size])
    if len(raw) != size or hashlib.sha256(raw).digest() != digest:
        raise CorruptArtifactError(location, "index checksum mismatch")
    try:
        index = load_json(raw)
    except ValueError as exc:
        raise CorruptArtifactError(location, f"invalid index: {exc}") from None
    if (
        not isinstance(index, dict)
        or index.get("format") != INDEX_FORMAT
        or not isinstance(index.get("root"), dict)
        or not isinstance(index.get("artifacts"), dict)
    ):
        raise CorruptArtifactError(location, "invalid index")
    if index.get("version") != INDEX_VERSION:
        raise UnreadableArtifactError(location, f"index version {index.get('version')!r}")
    return index


# -- headers -------------------------------------------------------------------------------------


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


def header_checksum(fields: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the header fields."""
    return hashlib.sha256(canonical_meta_json(fields).encode("utf-8")).hexdigest()


def _attr(attrs: Mapping[str, Any], name: str, kind: type) -> Any:
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


def _check_header(
    attrs: Mapping[str, Any], expected_key: str | None, location: str
) -> ArtifactInfo:
    fmt = _attr(attrs, "e2c_format", str)
    if fmt != ARTIFACT_FORMAT:
        raise ValueError(f"not an e2compile artifact (e2c_format={fmt!r})")
    version = _attr(attrs, "format_version", int)
    if version not in READABLE_FORMAT_VERSIONS:
        raise UnreadableArtifactError(
            location, f"format version {version} (this code reads {FORMAT_VERSION})"
        )
    fields = {
        name: _attr(attrs, name, int if name == "format_version" else str) for name in HEADER_FIELDS
    }
    if _attr(attrs, "header_sha256", str) != header_checksum(fields):
        raise ValueError("header checksum mismatch")
    key, spec = fields["key"], fields["spec"]
    if not is_key(key) or key_for(spec) != key:
        raise ValueError(f"stored key {key!r} is not sha256 of the stored spec")
    if expected_key is not None and key != expected_key:
        raise ValueError(f"artifact of key {key} stored under key {expected_key}")
    meta = load_json(fields["meta"])
    if not isinstance(meta, dict) or meta.get("spec") != spec:
        raise ValueError("meta['spec'] differs from the spec attribute")
    if str(meta.get("compiler_version", "")) != fields["compiler_version"]:
        raise ValueError("meta['compiler_version'] differs from the compiler_version attribute")
    manifest = load_json(fields["arrays"])
    if not isinstance(manifest, dict):
        raise ValueError("malformed array manifest")
    for name, entry in manifest.items():
        if (
            not isinstance(entry, dict)
            or set(entry) != {"dtype", "shape", "sha256"}
            or not isinstance(entry["shape"], list)
            or not all(type(n) is int and n >= 0 for n in entry["shape"])
        ):
            raise ValueError(f"malformed manifest entry for array {name!r}")
        array_dtype(entry["dtype"])  # one the writer produces (checked before numpy parses it)
    return ArtifactInfo(
        key=key,
        spec=spec,
        compiler_version=fields["compiler_version"],
        created=fields["created"],
        format_version=version,
        meta=meta,
        arrays=manifest,
    )


def validate_header(
    attrs: Mapping[str, Any], expected_key: str | None, location: str
) -> ArtifactInfo:
    """Validate an artifact's header attributes (from HDF5 or from the index).

    Raises :class:`CorruptArtifactError` (or :class:`UnreadableArtifactError` for a format version
    this code does not read) at ``location``.
    """
    try:
        return _check_header(attrs, expected_key, location)
    except CorruptArtifactError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to parse is corruption
        raise CorruptArtifactError(location, f"invalid header: {exc}") from None


def array_checksum(arr: np.ndarray) -> str:
    """SHA-256 of an array's canonical bytes (UTF-8 length-prefixed elements for unicode arrays)."""
    h = hashlib.sha256()
    if arr.dtype.kind == "U":
        parts = []
        for item in arr.reshape(-1).tolist():
            data = item.encode("utf-8")
            parts += (struct.pack("<Q", len(data)), data)
        h.update(b"".join(parts))
    else:
        h.update(np.ascontiguousarray(arr).reshape(-1).view(np.uint8))  # no copy of the data
    return h.hexdigest()


# -- reading through the index -------------------------------------------------------------------

_FIXED_BYTES = re.compile(r"\|S[1-9][0-9]{0,8}")


def check_unicode_width(dtype: np.dtype, items: list[str]) -> None:
    """A unicode array's declared width is the one the writer gives its strings (records hold
    unicode arrays at their minimal width): never more, so no crafted width allocates more than
    four bytes per stored byte."""
    width = unicode_width(items)
    if dtype.itemsize // 4 != width:
        raise ValueError(f"dtype {dtype.str} for strings of at most {width} characters")


def _expected_groups(names: list[str]) -> set[str]:
    return {"/".join(n.split("/")[:i]) for n in names for i in range(1, n.count("/") + 1)}


def _array_from_index(
    data: bytes | bytearray | memoryview,
    base: int,
    name: str,
    stored: Any,
    entry: Mapping[str, Any],
) -> np.ndarray:
    if not isinstance(stored, dict) or stored.get("object") != "dataset":
        raise ValueError(f"{name!r} is not a dataset")
    dtype = array_dtype(entry["dtype"])
    shape = tuple(entry["shape"])
    if stored.get("shape") != list(shape):
        raise ValueError(f"shape {str(stored.get('shape'))[:80]} != {shape}")
    if not stored.get("plain"):
        raise ValueError("dataset is not contiguous and uncompressed")
    count = math.prod(shape)
    stored_dtype = stored.get("dtype")
    if dtype.kind == "U":
        if stored.get("encoding") != "utf-8" or not (
            isinstance(stored_dtype, str) and _FIXED_BYTES.fullmatch(stored_dtype)
        ):
            raise ValueError(f"dtype {str(stored_dtype)[:40]} is not fixed-length UTF-8")
    elif stored_dtype != entry["dtype"]:
        raise ValueError(f"dtype {str(stored_dtype)[:40]} != {dtype}")
    raw_dtype = np.dtype(stored_dtype)
    # every length and offset is checked against the bytes at hand before anything is allocated
    nbytes, offset = count * raw_dtype.itemsize, stored.get("offset")
    if stored.get("nbytes") != nbytes:
        raise ValueError(f"{stored.get('nbytes')} bytes stored, {nbytes} expected")
    if nbytes == 0:
        raw = np.empty(shape, dtype=raw_dtype)
    else:
        if (
            not isinstance(offset, int)
            or offset < max(base, USERBLOCK_SIZE)
            or offset + nbytes > base + len(data)
        ):
            raise ValueError("data out of the file")
        raw = np.frombuffer(data, dtype=raw_dtype, count=count, offset=offset - base)
        raw = raw.reshape(shape)
    if dtype.kind == "U":
        items = [b.decode("utf-8") for b in raw.reshape(-1).tolist()]
        check_unicode_width(dtype, items)
        arr = np.array(items, dtype=dtype).reshape(shape)
    else:
        arr = raw
    if array_checksum(arr) != entry["sha256"]:
        raise ValueError("checksum mismatch")
    return arr


def data_span(group: Mapping[str, Any]) -> tuple[int, int]:
    """``(start, end)`` file offsets spanning the data of an artifact's index entry
    (``(0, 0)`` when it has none); the entries themselves are checked when read."""
    spans = [
        (s["offset"], s["offset"] + s["nbytes"])
        for s in (group.get("arrays") or {}).values()
        if isinstance(s, dict)
        and isinstance(s.get("offset"), int)
        and isinstance(s.get("nbytes"), int)
        and s["nbytes"] > 0
    ]
    if not spans:
        return 0, 0
    return min(a for a, _ in spans), max(b for _, b in spans)


def read_indexed_arrays(
    data: bytes | bytearray | memoryview,
    group: Mapping[str, Any],
    info: ArtifactInfo,
    base: int = 0,
) -> dict[str, np.ndarray]:
    """The arrays of one artifact from its index entry and ``data``, the file's bytes from
    offset ``base`` on, checked as the HDF5 reader checks them (names, dtype, shape, layout,
    checksum)."""
    stored = group.get("arrays")
    if not isinstance(stored, dict):
        raise ValueError("no 'arrays' group")
    names = list(info.arrays)
    found = {n for n, s in stored.items() if isinstance(s, dict) and s.get("object") == "dataset"}
    groups = set(stored) - found
    if found != set(names) or groups != _expected_groups(names):
        raise ValueError(f"group 'arrays' holds {sorted(stored)}, expected {sorted(names)}")
    arrays = {}
    for name, entry in info.arrays.items():
        try:
            arrays[name] = _array_from_index(data, base, name, stored[name], entry)
        except Exception as exc:  # noqa: BLE001
            raise ValueError(f"array {name!r}: {exc}") from None
    return arrays


def load_indexed(
    fh: io.BufferedIOBase | io.BytesIO, location: str, expected_key: str | None = None
) -> tuple[Record, ArtifactInfo] | None:
    """Read and fully validate the single-artifact file open as ``fh`` through its seal and
    index, without HDF5; ``None`` for a version-1 seal (no index: read it with HDF5).

    Checks: the seal, the payload's digest, the index's digest, the header, the set of arrays,
    each array's dtype, shape, layout and checksum. Raises :class:`CorruptArtifactError`.
    """
    seal = read_seal(fh, location)
    if seal.index is None:
        return None
    data = bytearray(USERBLOCK_SIZE + seal.length)
    fh.seek(0)
    if fh.readinto(data) != len(data):
        raise CorruptArtifactError(location, "file changed while read")
    fh.seek(0)
    if hashlib.sha256(memoryview(data)[USERBLOCK_SIZE:]).digest() != seal.digest:
        raise CorruptArtifactError(location, "file checksum mismatch (bit rot or tampering)")
    index = read_index(fh, seal, location, data)
    group = index["artifacts"].get("/")
    if not isinstance(group, dict) or not isinstance(group.get("attrs"), dict):
        raise CorruptArtifactError(location, "not a single-artifact file")
    info = validate_header(group["attrs"], expected_key, location)
    try:
        arrays = read_indexed_arrays(data, group, info)
        record = Record(info.key, arrays, info.meta)
    except Exception as exc:  # noqa: BLE001 - any failure to read is corruption
        raise CorruptArtifactError(location, str(exc)) from None
    return record, info


def info_indexed(
    fh: io.BufferedIOBase | io.BytesIO, location: str, expected_key: str | None = None
) -> ArtifactInfo | None:
    """The validated header of a single-artifact file from its index (the payload is hashed,
    streamed, so a damaged file is never listed as valid; no array is read); ``None`` for a
    version-1 seal."""
    seal = read_seal(fh, location)
    if seal.index is None:
        return None
    check_payload(fh, seal, location)
    group = read_index(fh, seal, location)["artifacts"].get("/")
    if not isinstance(group, dict) or not isinstance(group.get("attrs"), dict):
        raise CorruptArtifactError(location, "not a single-artifact file")
    return validate_header(group["attrs"], expected_key, location)
