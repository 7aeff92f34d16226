"""Content-addressed HDF5 artifact store (no math, no torch).

``Store`` (one writable root plus read-only layers), ``Record`` (the generic artifact value),
``FileStore`` (a directory of ``<key[:2]>/<key>.h5`` files) and ``Bundle`` (many artifacts in one
read-only file). Imports h5py, numpy, filelock and platformdirs only.
"""

from __future__ import annotations

from .bundle import Bundle, write_bundle
from .errors import (
    CacheError,
    CorruptArtifactError,
    CorruptArtifactWarning,
    OfflineMissError,
    ReadOnlyStoreError,
    StoreWriteWarning,
    UnreadableArtifactError,
    compile_command,
)
from .filestore import Entry, FileStore, GcReport, VerifyResult
from .format import FORMAT_VERSION, ArtifactInfo
from .record import Record, is_key, key_for
from .store import Store, default_root, open_layer

__all__ = [
    "FORMAT_VERSION",
    "ArtifactInfo",
    "Bundle",
    "CacheError",
    "CorruptArtifactError",
    "CorruptArtifactWarning",
    "Entry",
    "FileStore",
    "GcReport",
    "OfflineMissError",
    "ReadOnlyStoreError",
    "Record",
    "Store",
    "StoreWriteWarning",
    "UnreadableArtifactError",
    "VerifyResult",
    "compile_command",
    "default_root",
    "is_key",
    "key_for",
    "open_layer",
    "write_bundle",
]
