"""``Store``: one writable root plus read-only layers, configured by arguments or environment.

=================== ========================================================================
``E2C_CACHE_DIR``   the writable root (default: the platform's user cache directory,
                    e.g. ``~/.cache/e2compile``; never the working or package directory)
``E2C_CACHE_PATH``  extra read-only layers, ``os.pathsep``-separated: directories or bundle files
``E2C_OFFLINE=1``   never create at run time: :meth:`Store.get_or_create` raises
                    :class:`~cache.errors.OfflineMissError` on a miss
=================== ========================================================================

An argument that is not ``None`` replaces the corresponding variable. Lookups search the root first,
then the layers in order.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import filelock
import platformdirs

from .bundle import Bundle
from .errors import OfflineMissError, ReadOnlyStoreError, StoreWriteWarning
from .filestore import FileStore, GcReport, VerifyResult
from .record import Record

__all__ = ["Store", "Layer", "open_layer", "default_root", "env_layers", "env_offline"]

Layer = FileStore | Bundle
ENV_DIR = "E2C_CACHE_DIR"
ENV_PATH = "E2C_CACHE_PATH"
ENV_OFFLINE = "E2C_OFFLINE"
#: Seconds to wait for another process compiling the same key before compiling it too.
DEFAULT_LOCK_TIMEOUT = 900.0


def default_root() -> Path:
    """``$E2C_CACHE_DIR`` or the platform's user cache directory for e2compile."""
    env = os.environ.get(ENV_DIR, "").strip()
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("e2compile", appauthor=False))


def env_layers() -> list[str]:
    """The read-only layers named by ``$E2C_CACHE_PATH``."""
    return [p for p in os.environ.get(ENV_PATH, "").split(os.pathsep) if p.strip()]


def env_offline() -> bool:
    """Whether ``$E2C_OFFLINE`` asks for offline mode (``1``, ``true``, ``yes``, ``on``)."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in ("1", "true", "yes", "on")


def open_layer(location: str | os.PathLike[str] | Layer) -> Layer:
    """A read-only layer: a bundle for a file (or an ``.h5``/``.hdf5`` path), else a directory."""
    if isinstance(location, (FileStore, Bundle)):
        return location
    path = Path(location).expanduser()
    if path.is_file() or (not path.is_dir() and path.suffix in (".h5", ".hdf5")):
        return Bundle(path)
    return FileStore(path, writable=False)


class Store:
    """The artifact store: ``get``, ``put``, ``contains``, ``keys``, ``delete``, ``verify``,
    ``size`` and ``get_or_create``. See the module docstring for configuration.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        layers: Sequence[str | os.PathLike[str] | Layer] | None = None,
        offline: bool | None = None,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        self.root = FileStore(default_root() if root is None else root, writable=True)
        self.layers: tuple[Layer, ...] = tuple(
            open_layer(x) for x in (env_layers() if layers is None else layers)
        )
        self.offline = env_offline() if offline is None else bool(offline)
        self.lock_timeout = lock_timeout

    def __repr__(self) -> str:
        layers = ", ".join(repr(layer.location) for layer in self.layers)
        return f"Store(root={self.root.location!r}, layers=[{layers}], offline={self.offline})"

    @property
    def all_layers(self) -> tuple[Layer, ...]:
        """The root followed by the read-only layers, in search order."""
        return (self.root, *self.layers)

    # -- lookups -------------------------------------------------------------------------------

    def get(self, key: str) -> Record | None:
        """The first valid record of ``key`` across the layers, or ``None`` on a miss."""
        for layer in self.all_layers:
            record = layer.get(key)
            if record is not None:
                return record
        return None

    def locate(self, key: str) -> Layer | None:
        """The first layer holding a file for ``key`` (not validated)."""
        return next((layer for layer in self.all_layers if layer.contains(key)), None)

    def contains(self, key: str) -> bool:
        """Whether any layer holds ``key`` (not validated: :meth:`get` may still miss)."""
        return self.locate(key) is not None

    __contains__ = contains

    def keys(self) -> list[str]:
        """Every key of every layer, sorted, without repeats."""
        return sorted({k for layer in self.all_layers for k in layer.keys()})

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def size(self) -> int:
        """Bytes used by the writable root's artifacts."""
        return self.root.size()

    # -- writes (root only) --------------------------------------------------------------------

    def put(self, record: Record, created: str | None = None) -> bool:
        """Store ``record`` in the root unless present there; ``True`` when written."""
        return self.root.put(record, created)

    def delete(self, key: str) -> bool:
        """Remove ``key`` from the root (read-only layers are never written)."""
        return self.root.delete(key)

    def gc(self, **kwargs) -> GcReport:
        """Garbage-collect the root; see :meth:`FileStore.gc`."""
        return self.root.gc(**kwargs)

    def iter_verify(self, quarantine: bool = True) -> Iterator[VerifyResult]:
        """Validate every artifact of every layer; invalid root files are quarantined."""
        for layer in self.all_layers:
            yield from layer.iter_verify(quarantine=quarantine)

    def verify(self, quarantine: bool = True) -> list[VerifyResult]:
        """Validate every artifact of every layer; see :meth:`iter_verify`."""
        return list(self.iter_verify(quarantine))

    def get_or_create(
        self, key: str, factory: Callable[[], Record], *, spec: str | None = None
    ) -> Record:
        """The record of ``key``, creating and storing it with ``factory()`` on a miss.

        Concurrent callers (threads or processes) serialise on a per-key file lock, so ``factory``
        runs at most once across processes sharing the root. In offline mode a miss raises
        :class:`OfflineMissError`, whose message names ``spec`` (the canonical spec JSON) and the
        ``e2c compile`` command that produces it. If the root cannot be written the record is still
        returned, with a :class:`StoreWriteWarning`.
        """
        record = self.get(key)
        if record is not None:
            return record
        if self.offline:
            raise OfflineMissError(key, spec)
        lock: filelock.FileLock | None
        try:
            lock = self.root.lock(key, timeout=self.lock_timeout)
            lock.acquire()
        except (OSError, filelock.Timeout):
            lock = None  # unwritable root or a stuck holder: compile anyway, writes are idempotent
        try:
            if lock is not None:
                record = self.root.get(key)  # made by another process while we waited?
                if record is not None:
                    return record
            record = factory()
            if not isinstance(record, Record) or record.key != key:
                raise ValueError(f"factory for {key} returned {record!r}")
            try:
                self.root.put(record)
            except (ReadOnlyStoreError, OSError) as exc:
                warnings.warn(
                    f"could not store artifact {key} in {self.root.location}: {exc}",
                    StoreWriteWarning,
                    stacklevel=2,
                )
            return record
        finally:
            if lock is not None:
                lock.release()
