"""``FileStore``: one directory of artifacts, ``<root>/<key[:2]>/<key>.h5``.

Writes are put-if-absent and atomic (temporary file in the same directory, fsync,
``os.replace``), so a reader never sees a partial file and concurrent writers of the same key are
harmless: artifacts are content-addressed, the per-key file lock only avoids doing the same work
twice. Invalid files are reported once, moved to ``<root>/quarantine/`` (writable stores only) and
treated as misses.

Layout of a root: ``ab/abcd….h5`` artifacts, ``locks/<key>.lock`` lock files, ``quarantine/``
files moved aside, ``missing/`` spec files written by offline misses, ``.<key>.*.tmp`` in-flight
writes (:meth:`FileStore.gc` removes stale temporary and missing-spec files).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import filelock

from .errors import (
    CorruptArtifactError,
    CorruptArtifactWarning,
    ReadOnlyStoreError,
    StoreWriteError,
    UnavailableLayerError,
    UnreadableArtifactError,
)
from .files import create_temp
from .layer import Description, VerifyResult
from .reader import info_file, load_file, verify_file
from .record import Record, is_key
from .sealed import ArtifactInfo

__all__ = ["FileStore", "Entry", "GcReport", "VerifyResult", "TOUCH_INTERVAL_S", "STALE_TEMP_S"]
# VerifyResult lives in cache.layer with the other types layers share; re-exported here.

#: A hit refreshes the file's mtime (its "last used" time for ``gc``) when older than this.
TOUCH_INTERVAL_S = 3600.0
#: ``gc`` removes temporary files of interrupted writes older than this.
STALE_TEMP_S = 3600.0
QUARANTINE_DIR = "quarantine"
MISSING_DIR = "missing"
LOCK_DIR = "locks"
#: The reason given for a symbolic link at an artifact path whose target does not exist.
DANGLING = "dangling symbolic link (its target does not exist)"


@dataclass(frozen=True)
class Entry:
    """A stored artifact file: key, path, size in bytes and mtime (last written or used)."""

    key: str
    path: Path
    size: int
    mtime: float


@dataclass
class GcReport:
    """What :meth:`FileStore.gc` removed (or would remove, on a dry run)."""

    removed: list[Entry] = field(default_factory=list)
    kept: int = 0
    freed_bytes: int = 0
    remaining_bytes: int = 0
    temp_files: list[Path] = field(default_factory=list)
    quarantine_files: list[Path] = field(default_factory=list)
    lock_files: list[Path] = field(default_factory=list)


def warn_invalid(exc: CorruptArtifactError, action: str) -> None:
    """Report an invalid artifact once, as a :class:`CorruptArtifactWarning`."""
    warnings.warn(f"invalid artifact {exc}; {action}", CorruptArtifactWarning, stacklevel=4)


def _stat_id(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _lstat_id(path: Path) -> tuple[int, int, int, int] | None:
    """The identity of a symbolic link itself (``None`` if nothing is there)."""
    try:
        return _stat_id(path.lstat())
    except OSError:
        return None


def _remove(path: Path) -> None:
    """Remove a file, link or (a directory quarantined from an artifact path) a whole tree."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ReadOnlyStoreError(f"cannot remove {path}: {exc}") from exc


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class FileStore:
    """A directory of artifact files; ``writable=False`` makes it a read-only layer."""

    kind = "directory"

    def __init__(self, root: str | os.PathLike[str], writable: bool = True) -> None:
        self.root = Path(root).expanduser().absolute()
        self.writable = writable
        # key -> stat identity of a file already reported invalid (warn once, do not re-read)
        self._bad: dict[str, tuple[int, int, int, int]] = {}

    def __repr__(self) -> str:
        return f"FileStore({str(self.root)!r}, writable={self.writable})"

    @property
    def location(self) -> str:
        return str(self.root)

    @property
    def quarantine_dir(self) -> Path:
        return self.root / QUARANTINE_DIR

    @property
    def lock_dir(self) -> Path:
        return self.root / LOCK_DIR

    def path(self, key: str) -> Path:
        """Where the artifact of ``key`` lives (whether or not it exists)."""
        if not is_key(key):
            raise ValueError(f"malformed key {key!r}: expected 64 lowercase hex digits")
        return self.root / key[:2] / f"{key}.h5"

    # -- reading -------------------------------------------------------------------------------

    def contains(self, key: str) -> bool:
        """Whether anything exists at the path of ``key`` (not validated: :meth:`get` may still
        miss, and reports what is there when it is not an artifact)."""
        return os.path.lexists(self.path(key))

    def problem(self) -> str | None:
        """Why this directory cannot serve as a layer, or ``None``. A missing writable root is
        fine (it is created on the first write); a missing read-only layer is not."""
        try:
            st = os.stat(self.root)
        except FileNotFoundError:
            return None if self.writable else "does not exist"
        except OSError as exc:
            return f"cannot access: {exc}"
        if not os.path.isdir(self.root):
            return "not a directory" + ("" if self.writable else " (nor a bundle file)")
        if not os.access(self.root, os.R_OK | os.X_OK):
            return "not readable"
        del st
        return None

    def iterate(self) -> Iterator[str]:
        """Every key, sorted; raises :class:`UnavailableLayerError` when the directory cannot be
        read (see :meth:`problem`)."""
        reason = self.problem()
        if reason is not None:
            raise UnavailableLayerError(self.location, reason)
        return iter(self.keys())

    def entries(self) -> Iterator[Entry]:
        """Everything stored under an artifact name, sorted by key (``size`` is that of the file
        a symlink points to)."""
        try:
            shards = sorted(p for p in self.root.iterdir() if len(p.name) == 2 and p.is_dir())
        except OSError:
            return
        for shard in shards:
            try:
                files = sorted(shard.iterdir())
            except OSError:
                continue
            for p in files:
                key = p.name[:-3]
                if p.name.endswith(".h5") and is_key(key) and key[:2] == shard.name:
                    try:
                        st = p.stat()
                    except OSError:
                        try:
                            st = p.lstat()  # a dangling symlink: listed, reported invalid
                        except OSError:
                            continue
                    yield Entry(key, p, st.st_size, st.st_mtime)

    def keys(self) -> list[str]:
        """Keys of every artifact file, sorted."""
        return [e.key for e in self.entries()]

    def size(self) -> int:
        """Total bytes of the artifact files."""
        return sum(e.size for e in self.entries())

    def info(self, key: str) -> ArtifactInfo:
        """Validated header of ``key`` (no array data read); raises on a missing or invalid file."""
        path = self.path(key)
        return info_file(path, str(path), key)

    def describe(self, key: str) -> Description:
        """The header of ``key`` for a listing (the seal is checked streaming; arrays unread)."""
        path = self.path(key)
        try:
            size: int | None = path.stat().st_size
        except OSError:
            size = None
        try:
            info, reason = self.info(key), ""
        except CorruptArtifactError as exc:
            info, reason = None, exc.reason
        except FileNotFoundError:
            info, reason = None, DANGLING if path.is_symlink() else "missing"
        return Description(key, str(path), self.location, self.kind, size, info, reason)

    def load(self, key: str) -> tuple[Record, ArtifactInfo]:
        """Read and fully validate ``key``, with no side effect.

        Raises :class:`FileNotFoundError` on a miss and :class:`CorruptArtifactError` on an invalid
        file.
        """
        path = self.path(key)
        return load_file(path, str(path), key)

    def get(self, key: str) -> Record | None:
        """The validated record of ``key``, or ``None`` on a miss.

        An invalid file is reported once (:class:`CorruptArtifactWarning`), moved to the quarantine
        directory when this store is writable, and treated as a miss.
        """
        path = self.path(key)
        try:
            st = path.stat()
        except OSError:
            return None
        ident = _stat_id(st)
        if self._bad.get(key) == ident:
            return None
        try:
            record, _ = self.load(key)
        except FileNotFoundError:
            return None
        except CorruptArtifactError as exc:
            self._bad[key] = ident
            moved = None
            if not isinstance(exc, UnreadableArtifactError):
                moved = self.quarantine(key, ident, exc.reason)
            warn_invalid(
                exc, f"moved to {moved}, treated as a miss" if moved else "treated as a miss"
            )
            return None
        self._bad.pop(key, None)
        if self.writable and time.time() - st.st_mtime > TOUCH_INTERVAL_S:
            with contextlib.suppress(OSError):
                os.utime(path)
        return record

    # -- writing -------------------------------------------------------------------------------

    def _require_writable(self) -> None:
        if not self.writable:
            raise ReadOnlyStoreError(f"{self.root} is a read-only layer")

    def put(self, record: Record, created: str | None = None) -> bool:
        """Write ``record`` unless a valid artifact of its key is present; ``True`` when written.

        An invalid file in the way is quarantined first (as by :meth:`get`). ``created``
        (ISO 8601) preserves the creation time of a copied artifact.
        """
        from .format import write_artifact, write_sealed  # HDF5: imported by writers only

        self._require_writable()
        path = self.path(record.key)
        if os.path.lexists(path) and self.get(record.key) is not None:
            return False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = create_temp(path.parent, record.key)
        except OSError as exc:
            raise ReadOnlyStoreError(f"cannot write to {path.parent}: {exc}") from exc
        try:
            write_sealed(tmp, path, lambda f, check: write_artifact(f, record, created))
        except StoreWriteError:
            raise
        except (OSError, RuntimeError) as exc:  # HDF5 never sees a full disk, but be safe
            raise StoreWriteError(f"cannot write {path}: {exc}") from exc
        _fsync_dir(path.parent)
        self._bad.pop(record.key, None)
        return True

    def delete(self, key: str) -> bool:
        """Remove the artifact of ``key``; ``True`` when a file was removed."""
        self._require_writable()
        path = self.path(key)
        if not os.path.lexists(path):
            return False
        _remove(path)
        return True

    def quarantine(
        self, key: str, ident: tuple[int, int, int, int] | None, reason: str
    ) -> Path | None:
        """Move the file of ``key`` aside (if it is still the file identified by ``ident``).

        Returns the new path, or ``None`` when this store is read-only, the file changed or
        vanished meanwhile, or the move failed (a read-only directory on disk).
        """
        if not self.writable:
            return None
        path = self.path(key)
        current = {_lstat_id(path)}  # a link itself (dangling), or the file it names
        with contextlib.suppress(OSError):
            current.add(_stat_id(path.stat()))
        if ident is not None and ident not in current:
            return None  # replaced by a fresh write since it was read: not ours to move
        try:
            self.quarantine_dir.mkdir(parents=True, exist_ok=True)
            dest = self.quarantine_dir / f"{key}.{time.time_ns()}.h5"
            os.replace(path, dest)
        except OSError:
            return None
        with contextlib.suppress(OSError):
            dest.with_suffix(".txt").write_text(f"{key}\n{reason}\n", encoding="utf-8")
        return dest

    def lock(self, key: str, timeout: float = -1) -> filelock.FileLock:
        """The inter-process lock of ``key`` (not acquired). Raises ``OSError`` if not creatable."""
        import filelock  # only writers lock: a warm read never imports it

        self._require_writable()
        if not is_key(key):
            raise ValueError(f"malformed key {key!r}")
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        return filelock.FileLock(self.lock_dir / f"{key}.lock", timeout=timeout)

    # -- maintenance ---------------------------------------------------------------------------

    def verify(self, quarantine: bool = True) -> Iterator[VerifyResult]:
        """Fully validate every artifact, moving invalid ones aside when ``quarantine``; a layer
        that cannot be read at all is one failed result."""
        reason = self.problem()
        if reason is not None:
            yield VerifyResult(None, self.location, False, reason)
            return
        for entry in self.entries():
            try:
                ident = _stat_id(entry.path.stat())
                _, info = verify_file(entry.path, str(entry.path), entry.key)
            except FileNotFoundError:
                if not entry.path.is_symlink():
                    continue  # removed meanwhile
                moved = None
                if quarantine:
                    moved = self.quarantine(entry.key, _lstat_id(entry.path), DANGLING)
                yield VerifyResult(
                    entry.key, str(entry.path), False, DANGLING, str(moved) if moved else None
                )
                continue
            except CorruptArtifactError as exc:
                moved = None
                if quarantine and not isinstance(exc, UnreadableArtifactError):
                    moved = self.quarantine(entry.key, ident, exc.reason)
                yield VerifyResult(
                    entry.key, str(entry.path), False, exc.reason, str(moved) if moved else None
                )
                continue
            yield VerifyResult(entry.key, str(entry.path), True, spec=info.spec)

    iter_verify = verify

    def gc(
        self,
        older_than: float | None = None,
        max_size: int | None = None,
        keep: Iterable[str] = (),
        dry_run: bool = False,
        now: float | None = None,
    ) -> GcReport:
        """Remove artifacts unused for ``older_than`` seconds, then the least recently used ones
        until the total is at most ``max_size`` bytes; never a key in ``keep``.

        Also removes everything in the quarantine directory, and temporary files and lock files
        older than ``STALE_TEMP_S`` (a lock file only when no process holds it).
        """
        self._require_writable()
        now = time.time() if now is None else now
        keep = set(keep)
        report = GcReport()
        entries = sorted(self.entries(), key=lambda e: (e.mtime, e.key))
        survivors: list[Entry] = []
        for e in entries:
            if e.key not in keep and older_than is not None and now - e.mtime > older_than:
                report.removed.append(e)
            else:
                survivors.append(e)
        total = sum(e.size for e in survivors)
        if max_size is not None:
            remaining = []
            for e in survivors:  # least recently used first
                if total > max_size and e.key not in keep:
                    report.removed.append(e)
                    total -= e.size
                else:
                    remaining.append(e)
            survivors = remaining
        report.kept = len(survivors)
        report.remaining_bytes = total
        report.freed_bytes = sum(e.size for e in report.removed)
        for shard in (p for p in self._listdir(self.root) if len(p.name) == 2 and p.is_dir()):
            for p in self._listdir(shard):
                if p.name.startswith(".") and p.name.endswith(".tmp"):
                    with contextlib.suppress(OSError):
                        if now - p.stat().st_mtime > STALE_TEMP_S:
                            report.temp_files.append(p)
        for p in self._listdir(self.root / MISSING_DIR):  # spec files of offline misses
            with contextlib.suppress(OSError):
                if now - p.stat().st_mtime > STALE_TEMP_S:
                    report.temp_files.append(p)
        report.quarantine_files = self._listdir(self.quarantine_dir)
        if not dry_run:
            for p in [e.path for e in report.removed] + report.temp_files + report.quarantine_files:
                _remove(p)
        for p in self._listdir(self.lock_dir):
            with contextlib.suppress(OSError):
                if p.suffix != ".lock" or now - p.stat().st_mtime <= STALE_TEMP_S:
                    continue
                import filelock

                lock = filelock.FileLock(p, timeout=0)
                try:
                    lock.acquire()
                except filelock.Timeout:
                    continue  # held: a compile is running
                try:
                    report.lock_files.append(p)
                    if not dry_run:
                        p.unlink()  # a racing locker merely repeats idempotent work
                finally:
                    lock.release()
        return report

    @staticmethod
    def _listdir(path: Path) -> list[Path]:
        try:
            return sorted(path.iterdir())
        except OSError:
            return []
