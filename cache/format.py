"""The HDF5 schema of one artifact: write, seal, and read with HDF5 (no pickle, checksummed).

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

Each array is the dataset ``arrays/<name>``: contiguous, uncompressed, little-endian, no timestamps,
so the same record always produces the same dataset bytes. Unicode arrays are stored as
fixed-length UTF-8 strings (format version 1 used variable-length ones; still read here); their
checksum is over each element's UTF-8 bytes, length-prefixed.

Every file (single artifact or bundle) is **sealed** (:func:`seal_file`): the dataset
``/e2c_index`` lists where every header and array lies, and the 512-byte userblock holds the seal
(the payload's length and SHA-256, the index's place and SHA-256); see :mod:`cache.sealed`, which
reads artifacts through the index without HDF5. The seal is checked before HDF5 parses a single
byte, because the HDF5 library can crash the process on corrupted metadata; a truncated or
bit-flipped file never reaches it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .errors import CorruptArtifactError
from .files import (
    MAX_FILE_BYTES,
    UnfailingFile,
    create_temp,
    now_iso,
    open_checked,
    prepare_output,
    write_error,
)
from .limits import array_dtype
from .record import Record, canonical_meta_json
from .sealed import (
    ARTIFACT_FORMAT,
    FORMAT_VERSION,
    HEADER_FIELDS,
    INDEX_DATASET,
    INDEX_FORMAT,
    INDEX_VERSION,
    SEAL_MAGIC,
    USERBLOCK_SIZE,
    ArtifactInfo,
    Seal,
    array_checksum,
    check_payload,
    check_unicode_width,
    header_checksum,
    read_seal,
    validate_header,
)

__all__ = [
    "ARTIFACT_FORMAT",
    "FORMAT_VERSION",
    "SEAL_MAGIC",
    "USERBLOCK_SIZE",
    "ArtifactInfo",
    "array_checksum",
    "MAX_FILE_BYTES",
    "build_index",
    "create_temp",
    "open_checked",
    "prepare_output",
    "open_sealed",
    "seal_file",
    "now_iso",
    "read_artifact",
    "read_info",
    "write_artifact",
    "write_sealed",
]

_CHUNK = 1 << 20
_PLAIN_LAYOUTS = (h5py.h5d.CONTIGUOUS, h5py.h5d.COMPACT)


# -- the index and the seal ----------------------------------------------------------------------


def _attr_value(value: Any) -> Any:
    """An HDF5 attribute as the index stores it: str and int as such, anything else tagged
    with its type so that header validation rejects it as the HDF5 reader would."""
    if isinstance(value, (bytes, np.bytes_)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return {"type": "bytes"}
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    return {"type": type(value).__name__}


def _dataset_entry(ds: h5py.Dataset) -> dict[str, Any]:
    """Where and how a dataset's data lies; ``plain`` when readable as raw bytes at ``offset``."""
    dsid = ds.id
    entry: dict[str, Any] = {"object": "dataset", "shape": list(ds.shape or ())}
    info = h5py.check_string_dtype(ds.dtype)
    if info is not None:
        if info.length is None:
            entry.update(dtype="|O", plain=False)
            return entry
        entry.update(dtype=f"|S{info.length}", encoding=info.encoding)
    else:
        entry["dtype"] = ds.dtype.str
    dcpl = dsid.get_create_plist()
    entry["plain"] = bool(
        ds.shape is not None
        and dcpl.get_layout() == h5py.h5d.CONTIGUOUS
        and not dcpl.get_nfilters()
        and not dcpl.get_external_count()
    )
    entry["nbytes"] = int(dsid.get_storage_size())
    offset = dsid.get_offset() if entry["nbytes"] else None
    entry["offset"] = None if offset is None else int(offset)
    return entry


def _group_entry(group: h5py.Group) -> dict[str, Any]:
    entry: dict[str, Any] = {"attrs": {k: _attr_value(v) for k, v in group.attrs.items()}}
    data = group.get("arrays")
    if isinstance(data, h5py.Group):
        objects: dict[str, Any] = {}

        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset):
                objects[name] = _dataset_entry(obj)
            else:
                objects[name] = {"object": "group" if isinstance(obj, h5py.Group) else "other"}

        data.visititems(visit)
        entry["arrays"] = objects
    return entry


def build_index(f: h5py.File) -> dict[str, Any]:
    """The index of an open file (see :mod:`cache.sealed`): the root's attributes, and for each
    artifact group (the root of a single-artifact file, each ``/artifacts/<key>`` of a bundle)
    its attributes and the place of every dataset under its ``arrays`` group."""
    root = {k: _attr_value(v) for k, v in f.attrs.items()}
    artifacts: dict[str, Any] = {}
    if "e2c_format" in f.attrs and "arrays" in f:
        artifacts["/"] = _group_entry(f)
    top = f.get("artifacts")
    if isinstance(top, h5py.Group):
        for name, group in top.items():
            if isinstance(group, h5py.Group):
                artifacts[f"/artifacts/{name}"] = _group_entry(group)
    return {"format": INDEX_FORMAT, "version": INDEX_VERSION, "root": root, "artifacts": artifacts}


def _index_and_seal(fh: UnfailingFile) -> None:
    """Index and seal the HDF5 file open as ``fh``, then flush it to the disk (see
    :func:`seal_file`); raises the ``OSError`` of a failed write."""
    with h5py.File(fh, "r+") as f:
        if INDEX_DATASET in f:
            del f[INDEX_DATASET]
        raw = canonical_meta_json(build_index(f)).encode("utf-8")
        ds = f.create_dataset(
            INDEX_DATASET, data=np.frombuffer(raw, dtype=np.uint8), track_times=False
        )
        index = (int(ds.id.get_offset()), len(raw), hashlib.sha256(raw).digest())
    fh.check()
    fh.seek(USERBLOCK_SIZE)
    h = hashlib.sha256()
    length = 0
    while chunk := fh.read(_CHUNK):
        h.update(chunk)
        length += len(chunk)
    fh.seek(0)
    fh.write(Seal(2, length, h.digest(), index).pack().ljust(USERBLOCK_SIZE, b"\0"))
    fh.sync()


def seal_file(path: str | os.PathLike[str]) -> None:
    """Index and seal a closed HDF5 file created with ``userblock_size=USERBLOCK_SIZE``.

    The index is derived from the file's HDF5 content (replacing any earlier one), so a file
    edited with HDF5 and sealed again is read through the index as what it now holds.
    """
    with UnfailingFile(path) as fh:
        _index_and_seal(fh)


def write_sealed(
    tmp: Path, path: Path, fill: Callable[[h5py.File, Callable[[], None]], None]
) -> None:
    """Write a sealed HDF5 file atomically: ``fill(f, check)`` the new file ``tmp`` (from
    :func:`create_temp`, next to ``path``), seal it, fsync it, make it readable by all and
    ``os.replace`` it onto ``path``. A reader never sees a partial file.

    HDF5 writes through an :class:`~cache.files.UnfailingFile`, so a full disk never reaches the
    library (which can crash on it); ``check()`` raises as soon as a write failed, so a long
    ``fill`` can stop early. A failed write raises :class:`~cache.errors.StoreWriteError`
    (``cannot write PATH: no space left on device``); on any failure ``tmp`` is removed and the
    error propagates.
    """
    try:
        try:
            fh = UnfailingFile(tmp)
        except OSError as exc:
            raise write_error(path, exc) from exc
        with fh:

            def check() -> None:
                if fh.error is not None:
                    raise write_error(path, fh.error) from fh.error

            with h5py.File(fh, "w", userblock_size=USERBLOCK_SIZE) as f:
                fill(f, check)
            check()
            try:
                _index_and_seal(fh)  # also fsyncs
            except OSError as exc:
                raise write_error(path, exc) from exc
        try:
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except OSError as exc:
            raise write_error(path, exc) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def open_sealed(fh: io.BufferedIOBase | io.BytesIO, location: str) -> h5py.File:
    """Check the seal of an open binary file and open it read-only with HDF5 (streamed: memory
    stays bounded whatever the file's size; the caller closes ``fh`` after the HDF5 file)."""
    check_payload(fh, read_seal(fh, location), location)
    try:
        return h5py.File(fh, "r")
    except Exception as exc:  # noqa: BLE001
        raise CorruptArtifactError(location, f"not a readable HDF5 file: {exc}") from None


def write_artifact(group: h5py.Group, record: Record, created: str | None = None) -> None:
    """Write ``record`` into the (empty) HDF5 ``group``."""
    manifest = {}
    data = group.create_group("arrays", track_order=False)
    for name, arr in record.arrays.items():
        if arr.dtype.kind == "U":
            # numpy strings never end in NUL, so NUL padding loses nothing
            items = [s.encode("utf-8") for s in arr.reshape(-1).tolist()]
            width = max((len(item) for item in items), default=1) or 1
            dtype = h5py.string_dtype("utf-8", width)
            values = np.array(items, dtype=dtype).reshape(arr.shape)
            data.create_dataset(name, data=values, track_times=False)
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
    for name in HEADER_FIELDS:
        group.attrs[name] = fields[name]
    group.attrs["header_sha256"] = header_checksum(fields)


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
    """Read and validate an artifact's header with HDF5 (no array data is read).

    ``location`` names the artifact in errors (default: the HDF5 file and group names).
    Raises :class:`CorruptArtifactError` (or its subclass :class:`UnreadableArtifactError`).
    """
    return validate_header(group.attrs, expected_key, _location(group, location))


def _stored_bytes(dsid: h5py.h5d.DatasetID, nbytes: int) -> None:
    """The dataset holds exactly ``nbytes`` of data, within the file: checked before a buffer
    is allocated (a crafted dataspace of 10⁹ elements over no data allocates nothing)."""
    stored = dsid.get_storage_size()
    limit = h5py.h5i.get_file_id(dsid).get_filesize()
    if stored != nbytes or nbytes > limit:
        raise ValueError(f"{stored} bytes stored, {nbytes} expected")


def _read_strings(dsid: h5py.h5d.DatasetID, count: int) -> list[str]:
    """The UTF-8 strings of a string dataset, in order, reading no more than the file holds."""
    ds = h5py.Dataset(dsid)
    info = h5py.check_string_dtype(ds.dtype)
    if info is None or info.encoding != "utf-8":
        raise ValueError(f"dtype {ds.dtype} is not UTF-8")
    if info.length is not None:  # fixed length (format 2): the bytes are in the dataset
        _stored_bytes(dsid, count * info.length)
        raw = np.asarray(ds[()], dtype=object).reshape(-1).tolist()
        return [bytes(b).decode("utf-8") for b in raw]
    # variable length (format 1): the strings lie elsewhere in the file, and a crafted file can
    # point every element at one big string, so read them one by one within the file's size
    budget = h5py.h5i.get_file_id(dsid).get_filesize()
    if count and dsid.get_storage_size() < count:
        raise ValueError("fewer bytes stored than strings")
    items = []
    for index in np.ndindex(*ds.shape):
        item = bytes(ds[index])
        budget -= len(item)
        if budget < 0:
            raise ValueError("strings larger than the file")
        items.append(item.decode("utf-8"))
    return items


def _read_array(dsid: h5py.h5d.DatasetID, entry: dict[str, Any]) -> np.ndarray:
    """Read and check one dataset (by its low-level id: h5py's high-level wrappers cost more than
    the read of a small array): shape, dtype, a plain unfiltered layout, the bytes stored, the
    data checksum. Nothing is allocated before the sizes are checked against the file."""
    dtype = array_dtype(entry["dtype"])
    shape = tuple(entry["shape"])
    if dsid.shape != shape:
        raise ValueError(f"shape {dsid.shape} != {shape}")
    count = math.prod(shape)
    if dtype.kind == "U":
        items = _read_strings(dsid, count)
        check_unicode_width(dtype, items)
        arr = np.array(items, dtype=dtype).reshape(shape)
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
        _stored_bytes(dsid, count * dtype.itemsize)
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


def load_with_hdf5(
    fh: io.BufferedIOBase | io.BytesIO, location: str, expected_key: str | None = None
) -> tuple[Record, ArtifactInfo]:
    """Check the seal of the open single-artifact file ``fh`` and read it with HDF5."""
    f = open_sealed(fh, location)
    try:
        return read_artifact(f, expected_key, location)
    finally:
        f.close()


def info_with_hdf5(
    fh: io.BufferedIOBase | io.BytesIO, location: str, expected_key: str | None = None
) -> ArtifactInfo:
    """Check the seal of the open single-artifact file ``fh`` and read its header with HDF5."""
    f = open_sealed(fh, location)
    try:
        return read_info(f, expected_key, location)
    finally:
        f.close()
