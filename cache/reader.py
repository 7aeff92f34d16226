"""Reading one single-artifact file: through its index (no HDF5), with HDF5 for files sealed
before the index existed and for the thorough check of ``verify``."""

from __future__ import annotations

import os
from typing import Any

from .errors import CorruptArtifactError
from .files import open_checked
from .record import Record
from .sealed import ArtifactInfo, info_indexed, load_indexed

__all__ = ["info_file", "load_file", "verify_file"]


def _read(path: str | os.PathLike[str], location: str, expected_key: str | None, what: str) -> Any:
    """``what`` (``"load"`` or ``"info"``) through the index, or with HDF5 for a version-1 seal."""
    with open_checked(path, location) as fh:
        indexed = load_indexed if what == "load" else info_indexed
        got = indexed(fh, location, expected_key)
        if got is not None:
            return got
        from . import format  # a version-1 seal: no index

        with_hdf5 = format.load_with_hdf5 if what == "load" else format.info_with_hdf5
        return with_hdf5(fh, location, expected_key)


def load_file(
    path: str | os.PathLike[str], location: str, expected_key: str | None = None
) -> tuple[Record, ArtifactInfo]:
    """Read and fully validate the artifact file ``path``.

    Raises ``FileNotFoundError`` and :class:`CorruptArtifactError` (or its subclass
    :class:`UnreadableArtifactError`).
    """
    return _read(path, location, expected_key, "load")


def info_file(
    path: str | os.PathLike[str], location: str, expected_key: str | None = None
) -> ArtifactInfo:
    """The validated header of the artifact file ``path`` (its arrays are not read)."""
    return _read(path, location, expected_key, "info")


def verify_file(
    path: str | os.PathLike[str], location: str, expected_key: str | None = None
) -> tuple[Record, ArtifactInfo]:
    """:func:`load_file`, then read the file again with HDF5 and require the same record: the
    index must describe what the HDF5 file holds."""
    record, info = load_file(path, location, expected_key)
    from .format import load_with_hdf5

    with open_checked(path, location) as fh:
        other, _ = load_with_hdf5(fh, location, expected_key)
    if other != record:
        raise CorruptArtifactError(location, "the index disagrees with the HDF5 content")
    return record, info
