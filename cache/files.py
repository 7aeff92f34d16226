"""Safe file handling for the store: bounded reads, temporary files, a file HDF5 can write through
without ever seeing a failed write, timestamps (no HDF5)."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from .errors import CorruptArtifactError, StoreWriteError, UnreadableArtifactError
from .limits import MAX_FILE_BYTES

__all__ = [
    "MAX_FILE_BYTES",
    "UnfailingFile",
    "create_temp",
    "now_iso",
    "open_checked",
    "prepare_output",
    "write_error",
]


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


def now_iso() -> str:
    """The current UTC time as ISO 8601 with a ``Z`` suffix, to the microsecond."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def write_error(path: str | os.PathLike[str], exc: OSError) -> StoreWriteError:
    """The error of a failed write of ``path``: ``cannot write PATH: no space left on device``."""
    reason = exc.strerror if exc.strerror else str(exc)
    reason = reason[:1].lower() + reason[1:]
    if exc.errno == errno.ENOSPC:
        reason = "no space left on device"
    return StoreWriteError(f"cannot write {path}: {reason}")


class UnfailingFile:
    """A read-write binary file for HDF5 to write through (h5py's file-object driver) whose
    writes never fail.

    HDF5 can crash the process when a write fails while it flushes or closes a file (a full
    disk: the store is often shared scratch space). Here the first ``OSError`` of a write is kept
    in :attr:`error`; what reached the disk is read back into memory, the disk file is truncated
    to free its space, and the rest of the file lives in memory, so HDF5 finishes normally. The
    caller then calls :meth:`check`, which raises the kept error. Memory stays bounded by the
    file's size, and is only used after a failure. Writes go through :func:`os.pwrite` (the
    fault-injection seam of the tests).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd = os.open(path, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
        self._pos = 0
        self._memory: bytearray | None = None
        self.error: OSError | None = None

    def __enter__(self) -> UnfailingFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def _fail(self, exc: OSError) -> bytearray:
        """Keep ``exc`` and move the file into memory."""
        self.error = exc
        try:
            memory = bytearray(os.pread(self._fd, os.fstat(self._fd).st_size, 0))
        except OSError:
            memory = bytearray()  # unreadable too: HDF5 reads zeros where it wrote
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)  # give the space back now
        self._memory = memory
        return memory

    def check(self) -> None:
        """Raise the error of the first failed write, if any."""
        if self.error is not None:
            raise self.error

    def sync(self) -> None:
        """:meth:`check`, then flush the file to the disk (``fsync``; may raise ``OSError``)."""
        self.check()
        os.fsync(self._fd)

    # -- the file interface h5py uses -----------------------------------------------------------

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            self._pos = offset
        elif whence == os.SEEK_CUR:
            self._pos += offset
        else:
            self._pos = self._size() + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def _size(self) -> int:
        if self._memory is not None:
            return len(self._memory)
        return os.fstat(self._fd).st_size

    def readinto(self, buffer: bytearray | memoryview) -> int:
        view = memoryview(buffer).cast("B")
        if self._memory is not None:
            data = bytes(self._memory[self._pos : self._pos + len(view)])
        else:
            data = os.pread(self._fd, len(view), self._pos)
        view[: len(data)] = data
        view[len(data) :] = bytes(len(view) - len(data))  # beyond the end: zeros, as HDF5 expects
        self._pos += len(data)
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = max(self._size() - self._pos, 0)
        buffer = bytearray(size)
        return bytes(buffer[: self.readinto(buffer)])

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data).cast("B")
        if self._memory is None:
            try:
                done = 0
                while done < len(view):
                    done += os.pwrite(self._fd, view[done:], self._pos + done)
            except OSError as exc:
                self._fail(exc)
        if self._memory is not None:
            end = self._pos + len(view)
            if end > len(self._memory):
                self._memory.extend(bytes(end - len(self._memory)))
            self._memory[self._pos : end] = view
        self._pos += len(view)
        return len(view)

    def truncate(self, size: int | None = None) -> int:
        size = self._pos if size is None else size
        if self._memory is None:
            try:
                os.ftruncate(self._fd, size)
            except OSError as exc:
                self._fail(exc)
        if self._memory is not None:
            if size < len(self._memory):
                del self._memory[size:]
            else:
                self._memory.extend(bytes(size - len(self._memory)))
        return size

    def flush(self) -> None:
        pass
