"""``Bundle``: one HDF5 file holding many artifacts, a read-only layer.

A bundle ships a model's whole basis set to cluster jobs or into a container image. Layout: root
attributes ``e2c_format = "e2compile-bundle"``, ``format_version``, ``created``; one group
``/artifacts/<key>`` per artifact, in the single-artifact schema of :mod:`cache.format`. Bundles are
written once (temporary file + ``os.replace``) and never modified, so any number of processes may
read one at once (HDF5 file locking is off; every operation opens its own handle, which is also
safe across ``fork``). The whole-file seal is checked once per process (and again if the file
changes on disk) before anything else reads it. Artifacts are read through the index of the
seal (:mod:`cache.sealed`) without HDF5; bundles sealed before the index existed are read with
HDF5, as is every artifact again in :meth:`Bundle.verify`.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .errors import CorruptArtifactError, UnavailableLayerError, UnreadableArtifactError
from .files import create_temp, now_iso, open_checked
from .filestore import warn_invalid
from .layer import Description, VerifyResult, bundle_member
from .record import Record, is_key
from .sealed import (
    USERBLOCK_SIZE,
    ArtifactInfo,
    check_payload,
    data_span,
    read_index,
    read_indexed_arrays,
    read_seal,
    validate_header,
)

if TYPE_CHECKING:
    import h5py

__all__ = ["Bundle", "BUNDLE_FORMAT", "BUNDLE_VERSION", "write_bundle"]

BUNDLE_FORMAT = "e2compile-bundle"
BUNDLE_VERSION = 1


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class _Contents(Protocol):
    """The artifacts of an open bundle, read one way or another."""

    def names(self) -> list[str]: ...
    def has(self, key: str) -> bool: ...
    def info(self, key: str) -> ArtifactInfo: ...
    def load(self, key: str) -> tuple[Record, ArtifactInfo]: ...


class _IndexedContents:
    """A bundle read through its index: one positioned read per artifact, no HDF5."""

    def __init__(self, fh: io.BufferedReader, index: dict[str, Any], location: str) -> None:
        self._fh, self._index, self._location = fh, index, location

    def names(self) -> list[str]:
        prefix = "/artifacts/"
        return [p[len(prefix) :] for p in self._index["artifacts"] if p.startswith(prefix)]

    def has(self, key: str) -> bool:
        return f"/artifacts/{key}" in self._index["artifacts"]

    def _entry(self, key: str) -> dict[str, Any]:
        entry = self._index["artifacts"].get(f"/artifacts/{key}")
        if not isinstance(entry, dict):
            raise KeyError(key)
        if not isinstance(entry.get("attrs"), dict):
            raise CorruptArtifactError(bundle_member(self._location, key), "invalid index entry")
        return entry

    def info(self, key: str) -> ArtifactInfo:
        entry = self._entry(key)
        return validate_header(entry["attrs"], key, bundle_member(self._location, key))

    def load(self, key: str) -> tuple[Record, ArtifactInfo]:
        entry = self._entry(key)
        location = bundle_member(self._location, key)
        info = validate_header(entry["attrs"], key, location)
        start, end = data_span(entry)
        try:
            size = os.fstat(self._fh.fileno()).st_size  # the seal held: what was sealed
            if end > start and (start < USERBLOCK_SIZE or end > size):
                raise ValueError("data out of the file")  # checked before allocating
            data = bytearray(max(end - start, 0))
            self._fh.seek(start)
            if self._fh.readinto(data) != len(data):
                raise ValueError("data out of the file")
            record = Record(info.key, read_indexed_arrays(data, entry, info, start), info.meta)
        except Exception as exc:  # noqa: BLE001 - any failure to read is corruption
            raise CorruptArtifactError(location, str(exc)) from None
        return record, info


class _HDF5Contents:
    """A bundle read with HDF5 (bundles sealed without an index; ``verify``)."""

    def __init__(self, f: h5py.File, location: str) -> None:
        self._f, self._location = f, location

    def names(self) -> list[str]:
        return list(self._f["artifacts"])

    def has(self, key: str) -> bool:
        return key in self._f["artifacts"]

    def _group(self, key: str) -> h5py.Group:
        import h5py

        group = self._f["artifacts"].get(key)
        if not isinstance(group, h5py.Group):
            raise KeyError(key)
        return group

    def info(self, key: str) -> ArtifactInfo:
        from .format import read_info

        return read_info(self._group(key), key, bundle_member(self._location, key))

    def load(self, key: str) -> tuple[Record, ArtifactInfo]:
        from .format import read_artifact

        return read_artifact(self._group(key), key, bundle_member(self._location, key))


class Bundle:
    """A read-only layer backed by one bundle file."""

    writable = False
    kind = "bundle"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().absolute()
        self._bad: set[str] = set()  # keys reported invalid ("" for the whole file)
        self._stat: tuple[int, ...] | None = None  # identity of the file _bad refers to
        # identity of the file whose seal held, and its index
        self._sealed: tuple[tuple[int, ...], dict[str, Any] | None] | None = None
        self._seal_error: tuple[tuple[int, ...], CorruptArtifactError] | None = None

    def __repr__(self) -> str:
        return f"Bundle({str(self.path)!r})"

    @property
    def location(self) -> str:
        return str(self.path)

    def _check_unchanged(self) -> None:
        try:
            ident: tuple[int, ...] | None = _identity(self.path.stat())
        except OSError:
            ident = None
        if ident != self._stat:  # replaced on disk: forget what was reported about the old file
            self._stat = ident
            self._bad.clear()

    def _check_seal(self, fh: io.BufferedReader) -> dict[str, Any] | None:
        """Check the whole-file seal and read the index (``None`` without one) once per process
        for an unchanged bundle."""
        ident = _identity(os.fstat(fh.fileno()))
        if self._sealed is not None and self._sealed[0] == ident:
            return self._sealed[1]
        if self._seal_error is not None and self._seal_error[0] == ident:
            raise self._seal_error[1]
        location = str(self.path)
        try:
            seal = read_seal(fh, location)
            check_payload(fh, seal, location)
            index = None if seal.index is None else read_index(fh, seal, location)
            if index is not None:
                root = index["root"]
                if root.get("e2c_format") != BUNDLE_FORMAT:
                    raise CorruptArtifactError(location, "not an e2compile bundle")
                if root.get("format_version") != BUNDLE_VERSION:
                    raise UnreadableArtifactError(
                        location, f"bundle format version {root.get('format_version')}"
                    )
        except CorruptArtifactError as exc:
            self._seal_error = (ident, exc)
            raise
        self._sealed = (ident, index)
        return index

    @contextlib.contextmanager
    def _open(self, hdf5: bool = False) -> Iterator[_Contents]:
        """Open and check the bundle, read through its index (with HDF5 when it has none, or
        when ``hdf5``); raises ``FileNotFoundError`` or ``CorruptArtifactError``."""
        location = str(self.path)
        fh = open_checked(self.path, location)  # closed below, after HDF5
        try:
            index = self._check_seal(fh)
            if index is not None and not hdf5:
                yield _IndexedContents(fh, index, location)
                return
            import h5py

            try:
                f = h5py.File(fh, "r")
            except Exception as exc:  # noqa: BLE001
                raise CorruptArtifactError(location, f"not a readable HDF5 file: {exc}") from None
            try:
                fmt = f.attrs.get("e2c_format")
                version = f.attrs.get("format_version")
                if fmt != BUNDLE_FORMAT or not isinstance(f.get("artifacts"), h5py.Group):
                    raise CorruptArtifactError(location, "not an e2compile bundle")
                if version != BUNDLE_VERSION:
                    raise UnreadableArtifactError(location, f"bundle format version {version}")
                yield _HDF5Contents(f, location)
            finally:
                f.close()
        finally:
            fh.close()

    def _report_file(self, exc: CorruptArtifactError) -> None:
        if "" not in self._bad:
            self._bad.add("")
            warn_invalid(exc, "bundle layer ignored")

    def keys(self) -> list[str]:
        """Keys of the bundled artifacts, sorted (empty for a missing or unreadable bundle)."""
        self._check_unchanged()
        try:
            with self._open() as contents:
                return sorted(k for k in contents.names() if is_key(k))
        except FileNotFoundError:
            return []
        except CorruptArtifactError as exc:
            self._report_file(exc)
            return []

    def iterate(self) -> Iterator[str]:
        """Every key, sorted; raises :class:`UnavailableLayerError` when the bundle is missing or
        cannot be read whole."""
        try:
            with self._open() as contents:
                keys = sorted(contents.names())
        except FileNotFoundError:
            raise UnavailableLayerError(str(self.path), "does not exist") from None
        except CorruptArtifactError as exc:
            raise UnavailableLayerError(str(self.path), exc.reason) from None
        bad = [k for k in keys if not is_key(k)]
        if bad:
            raise UnavailableLayerError(str(self.path), f"malformed key {bad[0]!r}")
        return iter(keys)

    def problem(self) -> str | None:
        """Why this bundle cannot serve as a layer, or ``None``. Cheap (no hashing): a missing
        file, not a regular file, no seal, a wrong length; a flipped bit shows at first use."""
        try:
            with open_checked(self.path) as fh:
                read_seal(fh, str(self.path))
        except FileNotFoundError:
            return "does not exist"
        except CorruptArtifactError as exc:
            return exc.reason
        return None

    def describe(self, key: str) -> Description:
        """The header of ``key`` (no array data read); ``size`` is its arrays' bytes."""
        try:
            info, reason = self.info(key), ""
        except CorruptArtifactError as exc:
            info, reason = None, exc.reason
        except (KeyError, FileNotFoundError):
            info, reason = None, "missing"
        size = info.nbytes if info is not None else None
        return Description(
            key, bundle_member(self.location, key), self.location, self.kind, size, info, reason
        )

    def contains(self, key: str) -> bool:
        """Whether the bundle holds ``key`` (not validated)."""
        self._check_unchanged()
        try:
            with self._open() as contents:
                return contents.has(key)
        except (FileNotFoundError, CorruptArtifactError):
            return False

    def size(self) -> int:
        """Size of the bundle file in bytes."""
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def load(self, key: str) -> tuple[Record, ArtifactInfo]:
        """Read and validate ``key`` (``KeyError`` if absent, ``CorruptArtifactError`` if bad)."""
        with self._open() as contents:
            return contents.load(key)

    def info(self, key: str) -> ArtifactInfo:
        """Validated header of ``key`` (no array data read)."""
        with self._open() as contents:
            return contents.info(key)

    def get(self, key: str) -> Record | None:
        """The validated record of ``key`` or ``None``; invalid entries are reported once."""
        self._check_unchanged()
        if key in self._bad or "" in self._bad:
            return None
        try:
            record, _ = self.load(key)
        except (KeyError, FileNotFoundError):
            return None
        except CorruptArtifactError as exc:
            if exc.location == str(self.path):  # the file as a whole
                self._report_file(exc)
            else:
                self._bad.add(key)
                warn_invalid(exc, "treated as a miss (read-only bundle left as is)")
            return None
        return record

    def verify(self, quarantine: bool = True) -> Iterator[VerifyResult]:
        """Validate every bundled artifact, through the index and again with HDF5, which must
        agree (a bundle is read-only: nothing is moved); a missing or unreadable bundle is one
        failed result."""
        del quarantine
        with contextlib.ExitStack() as stack:
            try:
                contents = stack.enter_context(self._open())
                stored = stack.enter_context(self._open(hdf5=True))
                keys = sorted(contents.names())
                if keys != sorted(stored.names()):
                    raise CorruptArtifactError(
                        str(self.path), "the index disagrees with the HDF5 content"
                    )
            except FileNotFoundError:
                yield VerifyResult(None, str(self.path), False, "does not exist")
                return
            except CorruptArtifactError as exc:
                yield VerifyResult(None, str(self.path), False, exc.reason)
                return
            for key in keys:
                loc = bundle_member(self.location, key)
                if not is_key(key):
                    yield VerifyResult(None, loc, False, f"malformed key {key!r}")
                    continue
                try:
                    record, info = contents.load(key)
                    if record != stored.load(key)[0]:
                        raise CorruptArtifactError(loc, "the index disagrees with the HDF5 content")
                except (CorruptArtifactError, KeyError) as exc:
                    reason = exc.reason if isinstance(exc, CorruptArtifactError) else "not a group"
                    yield VerifyResult(key, loc, False, reason)
                else:
                    yield VerifyResult(key, loc, True, spec=info.spec)

    iter_verify = verify


def write_bundle(
    path: str | os.PathLike[str], items: Iterable[tuple[Record, str | None]]
) -> list[str]:
    """Write a bundle of ``(record, created)`` pairs atomically; returns the keys written, sorted.

    ``items`` is consumed lazily (pass them in key order for byte-reproducible bundles); a repeated
    key is an error. ``created`` (ISO 8601, or ``None`` for now) preserves each artifact's creation
    time.
    """
    path = Path(path).expanduser().absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    written: set[str] = set()

    from .format import write_artifact, write_sealed  # HDF5: imported by writers only

    def fill(f: h5py.File, check: Callable[[], None]) -> None:
        f.attrs["e2c_format"] = BUNDLE_FORMAT
        f.attrs["format_version"] = BUNDLE_VERSION
        f.attrs["created"] = now_iso()
        top = f.create_group("artifacts")
        for record, created in items:
            if record.key in written:
                raise ValueError(f"key {record.key} given twice")
            written.add(record.key)
            write_artifact(top.create_group(record.key), record, created)
            check()  # a full disk: stop now, not after reading every other source

    write_sealed(create_temp(path.parent, path.name), path, fill)
    return sorted(written)
