"""Reading one single-artifact file: through its index (no HDF5), with HDF5 for files sealed
before the index existed and for the thorough check of ``verify``."""

from __future__ import annotations

import os

from .errors import CorruptArtifactError
from .files import open_checked
from .record import Record
from .sealed import ArtifactInfo, info_indexed, load_indexed

__all__ = ["info_file", "load_file", "verify_file"]


def load_file(
    path: str | os.PathLike[str], location: str, expected_key: str | None = None
) -> tuple[Record, ArtifactInfo]:
    """Read and fully validate the artifact file ``path``.

    Raises ``FileNotFoundError`` and :class:`CorruptArtifactError` (or its subclass
    :class:`UnreadableArtifactError`).
    """
    with open_checked(path, location) as fh:
        got = load_indexed(fh, location, expected_key)
        if got is not None:
            return got
        from .format import load_with_hdf5  # a version-1 seal: no index

        return load_with_hdf5(fh, location, expected_key)


def info_file(
    path: str | os.PathLike[str], location: str, expected_key: str | None = None
) -> ArtifactInfo:
    """The validated header of the artifact file ``path`` (its arrays are not read)."""
    with open_checked(path, location) as fh:
        info = info_indexed(fh, location, expected_key)
        if info is not None:
            return info
        from .format import info_with_hdf5

        return info_with_hdf5(fh, location, expected_key)


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
