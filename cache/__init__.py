"""Content-addressed HDF5 artifact store (no math, no torch).

``Store`` (one writable root plus read-only layers), ``Record`` (the generic artifact value),
``Layer`` (the protocol every location implements), ``FileStore`` (a directory of
``<key[:2]>/<key>.h5`` files), ``Bundle`` (many artifacts in one read-only file) and
``cache.remote.RemoteLayer`` (a directory or bundle behind an ``https://`` or ``fsspec`` URL,
imported only when a URL is used). Transfers (pack, unpack, merge) are in :mod:`cache.transfer`.
Imports numpy; h5py only to write, verify or read files sealed without an index, filelock
only to write, platformdirs only without a root set, fsspec only for a URL layer. Every setting
(root, layers, offline mode, bounds) is a :class:`~cache.settings.Settings`, read from the
environment by :func:`cache.settings.from_environment` only.
"""

from __future__ import annotations

from .bundle import Bundle, write_bundle
from .errors import (
    CacheError,
    CorruptArtifactError,
    CorruptArtifactWarning,
    LayerWarning,
    OfflineMissError,
    ReadOnlyStoreError,
    StoreWriteError,
    StoreWriteWarning,
    UnavailableLayerError,
    UnreadableArtifactError,
    compile_command,
)
from .filestore import Entry, FileStore, GcReport
from .layer import Description, Layer, VerifyResult, WritableLayer
from .record import Record, is_key, key_for
from .sealed import FORMAT_VERSION, ArtifactInfo
from .settings import Settings, SettingsError
from .store import Store, default_root, open_layer, split_layers

__all__ = [
    "FORMAT_VERSION",
    "ArtifactInfo",
    "Bundle",
    "CacheError",
    "CorruptArtifactError",
    "CorruptArtifactWarning",
    "Description",
    "Entry",
    "FileStore",
    "GcReport",
    "Layer",
    "LayerWarning",
    "OfflineMissError",
    "ReadOnlyStoreError",
    "Record",
    "Settings",
    "SettingsError",
    "Store",
    "StoreWriteError",
    "StoreWriteWarning",
    "UnavailableLayerError",
    "UnreadableArtifactError",
    "VerifyResult",
    "WritableLayer",
    "compile_command",
    "default_root",
    "is_key",
    "key_for",
    "open_layer",
    "split_layers",
    "write_bundle",
]
