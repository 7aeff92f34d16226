"""``Store``: one writable root plus read-only layers, configured by arguments or settings.

Each argument left ``None`` comes from the :class:`~cache.settings.Settings` given (default:
:func:`cache.settings.current`, i.e. the environment's variables or the innermost
``cache.settings.use`` block): the root from ``cache_dir``, the read-only layers from
``cache_path``, offline mode from ``offline``, the bounds of remote layers from ``remote_*``.
Lookups search the root first, then the layers in order. A layer that does not exist or cannot be
read (or reached) is reported once (:class:`~cache.errors.LayerWarning`), skipped by lookups, and
fails :meth:`Store.verify`.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import filelock

from . import settings as _settings
from .bundle import Bundle
from .errors import (
    LayerWarning,
    OfflineMissError,
    StoreWriteError,
    StoreWriteWarning,
    UnavailableLayerError,
)
from .files import create_temp
from .filestore import FileStore, GcReport
from .layer import Description, Layer, VerifyResult
from .locations import is_url, split_layers
from .record import Record
from .settings import Settings, parse_bool

__all__ = [
    "Store",
    "Layer",
    "open_layer",
    "default_root",
    "is_url",
    "parse_bool",
    "split_layers",
]

#: Seconds to wait for another process compiling the same key before compiling it too.
DEFAULT_LOCK_TIMEOUT = 900.0


def default_root() -> Path:
    """The writable root the current settings name (``cache_dir``, else the platform's user
    cache directory for e2compile)."""
    return _settings.current().root


def open_layer(location: str | os.PathLike[str] | Layer, settings: Settings | None = None) -> Layer:
    """A read-only layer: a remote layer for a URL (bounded by ``settings``' ``remote_*``
    fields, default :func:`~cache.settings.current`), a bundle for a file (or an
    ``.h5``/``.hdf5`` path), else a directory."""
    if isinstance(location, Layer):
        return location
    if is_url(location) and not str(location).startswith("file://"):
        from .remote import RemoteLayer  # fsspec only when a URL is used

        s = _settings.current() if settings is None else settings
        return RemoteLayer(
            str(location), s.remote_timeout_s, s.remote_deadline_s, s.remote_max_bytes
        )
    if isinstance(location, str) and location.startswith("file://"):
        location = location[len("file://") :]
    path = Path(location).expanduser()
    if path.is_file() or (not path.is_dir() and path.suffix in (".h5", ".hdf5")):
        return Bundle(path)
    return FileStore(path, writable=False)


class Store:
    """The artifact store: ``get``, ``put``, ``contains``, ``keys``, ``delete``, ``verify``,
    ``size`` and ``get_or_create``. See the module docstring for configuration.
    """

    #: ``foreign(spec_json)``: why an intact artifact is no valid artifact for this process (made
    #: by another algorithm version, say), else ``None``. The cache knows no specs, so the caller
    #: sets it (``e2c`` does); listings, ``verify`` and transfers then report such artifacts as
    #: foreign: not valid, never quarantined (a newer e2compile sharing the store may own them).
    foreign: Callable[[str], str | None] | None = None

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        layers: Sequence[str | os.PathLike[str] | Layer] | None = None,
        offline: bool | None = None,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        settings: Settings | None = None,
    ) -> None:
        base = _settings.current() if settings is None else settings
        sources = base.cache_path if layers is None else tuple(layers)
        self.root = FileStore(base.root if root is None else root, writable=True)
        self.layers: tuple[Layer, ...] = tuple(open_layer(x, base) for x in sources)
        self.offline = base.offline if offline is None else bool(offline)
        self.lock_timeout = lock_timeout
        #: The settings this store was made from, its own root, layers and mode filled in: what a
        #: worker process needs to open the same store (``Store(settings=store.settings)``).
        self.settings = dataclasses.replace(
            base,
            cache_dir=self.root.root,
            cache_path=tuple(x.location if isinstance(x, Layer) else os.fspath(x) for x in sources),
            offline=self.offline,
        )
        for layer in self.layers:
            reason = _problem(layer)
            if reason is not None:
                warnings.warn(
                    f"cache layer {layer.location}: {reason}; it is skipped",
                    LayerWarning,
                    stacklevel=2,
                )

    def __repr__(self) -> str:
        layers = ", ".join(repr(layer.location) for layer in self.layers)
        return f"Store(root={self.root.location!r}, layers=[{layers}], offline={self.offline})"

    @property
    def all_layers(self) -> tuple[Layer, ...]:
        """The root followed by the read-only layers, in search order."""
        return (self.root, *self.layers)

    # -- lookups -------------------------------------------------------------------------------

    def get(self, key: str) -> Record | None:
        """The first valid record of ``key`` across the layers, or ``None`` on a miss.

        A record found in a remote layer is copied into the writable root (when it can be
        written: a failure is a :class:`StoreWriteWarning`), so the next lookup is local.
        """
        for layer in self.all_layers:
            record = layer.get(key)
            if record is not None:
                if layer.kind == "remote":
                    self._adopt(record, layer)
                return record
        return None

    def _adopt(self, record: Record, layer: Layer) -> None:
        try:
            self.root.put(record)
        except StoreWriteError as exc:
            warnings.warn(
                f"could not copy {record.key} from {layer.location} into {self.root.location}: "
                f"{exc}",
                StoreWriteWarning,
                stacklevel=3,
            )

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

    def describe(self, keys: Iterable[str] | None = None) -> Iterator[Description]:
        """The header of every artifact (or of ``keys``), in key order, from the first layer
        holding it (no array data is read; foreign artifacts are marked, see :attr:`foreign`)."""
        for key in self.keys() if keys is None else keys:
            layer = self.locate(key)
            if layer is not None:
                d = layer.describe(key)
                why = self._foreign(d.info.spec) if d.info is not None else None
                yield dataclasses.replace(d, foreign=why) if why else d

    def _foreign(self, spec: str | None) -> str | None:
        return None if self.foreign is None or spec is None else self.foreign(spec)

    def offline_miss(self, key: str, spec: str | None = None) -> OfflineMissError:
        """The error of an offline miss: short, with a spec file ``e2c compile`` accepts."""
        from .manifest import spec_summary, write_missing_specs

        if spec is None:
            return OfflineMissError(key)
        path = write_missing_specs({key: spec}, self.root.root)
        return OfflineMissError(
            key, spec, None if path is None else str(path), summary=spec_summary(spec)
        )

    def check_writable(self) -> None:
        """Raise :class:`~cache.errors.StoreWriteError` (naming the root) unless a file can be
        created in the writable root now; creates the root if needed."""
        root = self.root.root
        if os.path.lexists(root) and not root.is_dir():
            raise StoreWriteError(f"the store root {root} is not a directory")
        try:
            root.mkdir(parents=True, exist_ok=True)
            create_temp(root, "write-check").unlink()
        except OSError as exc:
            raise StoreWriteError(f"the store root {root} cannot be written: {exc}") from None

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
        """Validate every artifact of every layer; invalid root files are quarantined. A layer
        that cannot be read (missing, not a store) is one failed result."""
        for layer in self.all_layers:
            for result in layer.verify(quarantine=quarantine):
                if result.ok and result.key is not None and self.foreign is not None:
                    spec = result.spec
                    if spec is None:  # a layer that does not say: read the header again
                        info = layer.describe(result.key).info
                        spec = None if info is None else info.spec
                    why = self._foreign(spec)
                    if why:
                        result = dataclasses.replace(result, ok=False, reason=why, foreign=True)
                yield result

    def verify(self, quarantine: bool = True) -> list[VerifyResult]:
        """Validate every artifact of every layer; see :meth:`iter_verify`."""
        return list(self.iter_verify(quarantine))

    def get_or_create(
        self,
        key: str,
        factory: Callable[[], Record],
        *,
        spec: str | None = None,
        strict: bool = False,
    ) -> Record:
        """The record of ``key``, creating and storing it with ``factory()`` on a miss.

        Concurrent callers (threads or processes) serialise on a per-key file lock, so ``factory``
        runs at most once across processes sharing the root. In offline mode a miss raises
        :class:`OfflineMissError`, whose message names ``spec`` (the canonical spec JSON) and the
        ``e2c compile`` command that produces it. If the root cannot be written (read-only, full
        disk, vanished) the record is still returned, with a :class:`StoreWriteWarning`; with
        ``strict=True`` that is a :class:`~cache.errors.StoreWriteError` instead.
        """
        record = self.get(key)
        if record is not None:
            return record
        if self.offline:
            raise self.offline_miss(key, spec)
        import filelock  # imported on a miss only: a warm read never locks

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
            except StoreWriteError as exc:
                if strict:
                    raise
                warnings.warn(
                    f"could not store artifact {key} in {self.root.location}: {exc}",
                    StoreWriteWarning,
                    stacklevel=2,
                )
            return record
        finally:
            if lock is not None:
                lock.release()


def _problem(layer: Layer) -> str | None:
    problem = getattr(layer, "problem", None)
    if problem is not None:
        return problem()
    try:
        layer.iterate()
    except UnavailableLayerError as exc:
        return exc.reason
    return None
