"""``Bundle``: one HDF5 file holding many artifacts, a read-only layer.

A bundle ships a model's whole basis set to cluster jobs or into a container image. Layout: root
attributes ``e2c_format = "e2compile-bundle"``, ``format_version``, ``created``; one group
``/artifacts/<key>`` per artifact, in the single-artifact schema of :mod:`cache.format`. Bundles are
written once (temporary file + ``os.replace``) and never modified, so any number of processes may
read one at once (HDF5 file locking is off; every operation opens its own handle, which is also
safe across ``fork``). The whole-file seal is checked once per process (and again if the file
changes on disk) before HDF5 reads any of it.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import h5py

from .errors import CorruptArtifactError, UnavailableLayerError, UnreadableArtifactError
from .filestore import warn_invalid
from .format import (
    ArtifactInfo,
    check_seal,
    create_temp,
    now_iso,
    open_checked,
    read_artifact,
    read_info,
    write_artifact,
    write_sealed,
)
from .layer import Description, VerifyResult, bundle_member
from .record import Record, is_key

__all__ = ["Bundle", "BUNDLE_FORMAT", "BUNDLE_VERSION", "write_bundle"]

BUNDLE_FORMAT = "e2compile-bundle"
BUNDLE_VERSION = 1


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class Bundle:
    """A read-only layer backed by one bundle file."""

    writable = False
    kind = "bundle"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().absolute()
        self._bad: set[str] = set()  # keys reported invalid ("" for the whole file)
        self._stat: tuple[int, ...] | None = None  # identity of the file _bad refers to
        self._sealed: tuple[int, ...] | None = None  # identity of the file whose seal held
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

    def _check_seal(self, fh: io.BufferedReader) -> None:
        """Check the whole-file seal once per process for an unchanged bundle."""
        ident = _identity(os.fstat(fh.fileno()))
        if ident == self._sealed:
            return
        if self._seal_error is not None and self._seal_error[0] == ident:
            raise self._seal_error[1]
        try:
            check_seal(fh, str(self.path))
        except CorruptArtifactError as exc:
            self._seal_error = (ident, exc)
            raise
        self._sealed = ident

    @contextlib.contextmanager
    def _open(self) -> Iterator[h5py.File]:
        """Open and check the bundle; raises ``FileNotFoundError`` or ``CorruptArtifactError``."""
        location = str(self.path)
        fh = open_checked(self.path, location)  # closed below, after HDF5
        try:
            self._check_seal(fh)
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
                yield f
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
            with self._open() as f:
                return sorted(k for k in f["artifacts"] if is_key(k))
        except FileNotFoundError:
            return []
        except CorruptArtifactError as exc:
            self._report_file(exc)
            return []

    def iterate(self) -> Iterator[str]:
        """Every key, sorted; raises :class:`UnavailableLayerError` when the bundle is missing or
        cannot be read whole."""
        try:
            with self._open() as f:
                keys = sorted(f["artifacts"])
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
                check_seal(fh, str(self.path), full=False)
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
            with self._open() as f:
                return key in f["artifacts"]
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
        with self._open() as f:
            group = f["artifacts"].get(key)
            if not isinstance(group, h5py.Group):
                raise KeyError(key)
            return read_artifact(group, key, bundle_member(self.location, key))

    def info(self, key: str) -> ArtifactInfo:
        """Validated header of ``key`` (no array data read)."""
        with self._open() as f:
            group = f["artifacts"].get(key)
            if not isinstance(group, h5py.Group):
                raise KeyError(key)
            return read_info(group, key, bundle_member(self.location, key))

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
        """Validate every bundled artifact (a bundle is read-only: nothing is moved); a missing
        or unreadable bundle is one failed result."""
        del quarantine
        try:
            with self._open() as f:
                keys = sorted(f["artifacts"])
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
                self.load(key)
            except (CorruptArtifactError, KeyError) as exc:
                reason = exc.reason if isinstance(exc, CorruptArtifactError) else "not a group"
                yield VerifyResult(key, loc, False, reason)
            else:
                yield VerifyResult(key, loc, True)

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

    def fill(f: h5py.File) -> None:
        f.attrs["e2c_format"] = BUNDLE_FORMAT
        f.attrs["format_version"] = BUNDLE_VERSION
        f.attrs["created"] = now_iso()
        top = f.create_group("artifacts")
        for record, created in items:
            if record.key in written:
                raise ValueError(f"key {record.key} given twice")
            written.add(record.key)
            write_artifact(top.create_group(record.key), record, created)

    write_sealed(create_temp(path.parent, path.name), path, fill)
    return sorted(written)
