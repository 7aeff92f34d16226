"""Safe file handling for the store: bounded reads, temporary files, timestamps (no HDF5)."""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from .errors import CorruptArtifactError, UnreadableArtifactError

__all__ = ["MAX_FILE_BYTES", "create_temp", "now_iso", "open_checked", "prepare_output"]

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
