"""``RemoteLayer``: a read-only store directory or bundle behind a URL, fetched with ``fsspec``.

``https://host/store`` (a directory laid out as ``<key[:2]>/<key>.h5``) or
``https://host/models.h5`` (a bundle; ``.h5``/``.hdf5``), or the same under any protocol ``fsspec``
has installed (``s3://``, ``gs://``, …). Nothing is fetched until an artifact is needed. A fetched
file goes to a local temporary file (never more than :data:`~cache.files.MAX_FILE_BYTES`) and is
validated exactly like a local one (seal, header, key, checksums) before use; ``Store`` then copies
the record into its writable root, so the next lookup is local. A bundle is fetched whole, once
per process.

Failures never surface as a bad artifact: corrupt bytes are a :class:`CorruptArtifactWarning` and a
miss; a server that cannot be reached (or goes away) is one :class:`~cache.errors.LayerWarning` and
a miss, so the lookup falls through to the next layer (or compiles, or fails with the offline
error).
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
import warnings
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .bundle import Bundle
from .errors import CorruptArtifactError, LayerWarning, UnavailableLayerError
from .files import MAX_FILE_BYTES
from .filestore import warn_invalid
from .layer import Description, VerifyResult, bundle_member
from .reader import info_file, load_file
from .record import Record, is_key
from .sealed import ArtifactInfo

__all__ = ["RemoteLayer", "DEFAULT_TIMEOUT_S"]

#: Seconds a connection or a read may stall before the layer counts as unreachable.
DEFAULT_TIMEOUT_S = 30.0
_CHUNK = 1 << 20


class RemoteLayer:
    """A read-only layer at ``url``: a bundle if the URL ends in ``.h5``/``.hdf5``, else a store
    directory."""

    kind = "remote"
    writable = False

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.is_bundle = self.url.lower().endswith((".h5", ".hdf5"))
        self._http = self.url.split("://", 1)[0].lower() in ("http", "https")
        self._fs: Any = None
        self._path = ""
        self._spool: Path | None = None
        self._bundle: Bundle | None = None
        self._bad: set[str] = set()  # keys reported invalid
        self._down: str | None = None  # why the server is unreachable (reported once)
        self._unlisted = False  # listing failed (reported once)

    def __repr__(self) -> str:
        return f"RemoteLayer({self.url!r})"

    @property
    def location(self) -> str:
        return self.url

    # -- transport ------------------------------------------------------------------------------

    def _filesystem(self) -> tuple[Any, str]:
        if self._fs is None:
            try:
                import fsspec
            except ImportError as exc:  # pragma: no cover - fsspec is a dependency
                raise UnavailableLayerError(self.url, f"needs fsspec: {exc}") from None
            options: dict[str, Any] = {}
            if self._http:
                import aiohttp

                timeout = aiohttp.ClientTimeout(sock_connect=self.timeout, sock_read=self.timeout)
                options["client_kwargs"] = {"timeout": timeout}
            try:
                self._fs, self._path = fsspec.core.url_to_fs(self.url, **options)
            except (ImportError, ValueError, TypeError) as exc:
                raise UnavailableLayerError(self.url, f"unsupported URL: {exc}") from None
        return self._fs, self._path

    def _spool_dir(self) -> Path:
        if self._spool is None:
            self._spool = Path(tempfile.mkdtemp(prefix="e2c-remote-"))
            self._cleanup = weakref.finalize(self, shutil.rmtree, self._spool, True)
        return self._spool

    def _fetch(self, rel: str) -> Path:
        """Copy ``<url>/<rel>`` into a local spool file, at most ``MAX_FILE_BYTES``.

        Raises ``FileNotFoundError`` when absent, :class:`UnavailableLayerError` when the server
        cannot be reached, :class:`CorruptArtifactError` when the file is too big.
        """
        fs, root = self._filesystem()
        remote = f"{root}/{rel}" if rel else root
        local = self._spool_dir() / (rel.replace("/", "_") or "bundle.h5")
        location = f"{self.url}/{rel}" if rel else self.url
        # HTTP: stream one GET (block_size=0); the size hint skips fsspec's HEAD request, which
        # reports an unreachable server as FileNotFoundError, indistinguishable from a 404.
        options = {"block_size": 0, "size": 1} if self._http else {}
        try:
            with fs.open(remote, "rb", **options) as src, open(local, "wb") as dst:
                size = 0
                while chunk := src.read(_CHUNK):
                    size += len(chunk)
                    if size > MAX_FILE_BYTES:
                        raise CorruptArtifactError(
                            location, f"larger than the format's bound of {MAX_FILE_BYTES} bytes"
                        )
                    dst.write(chunk)
        except (FileNotFoundError, CorruptArtifactError):
            with contextlib.suppress(OSError):
                local.unlink()
            raise
        except Exception as exc:  # noqa: BLE001 - any transport failure: connection, timeout
            with contextlib.suppress(OSError):
                local.unlink()
            reason = f"unreachable: {type(exc).__name__}: {exc}"
            raise UnavailableLayerError(location, reason) from None
        return local

    def _report_down(self, exc: UnavailableLayerError) -> None:
        if self._down is None:
            self._down = exc.reason
            warnings.warn(
                f"cache layer {self.url}: {exc.reason}; treated as a miss",
                LayerWarning,
                stacklevel=4,
            )

    def _local_bundle(self) -> Bundle:
        """The bundle, fetched whole on first use."""
        if self._bundle is None:
            try:
                path = self._fetch("")
            except FileNotFoundError:
                raise UnavailableLayerError(self.url, "does not exist") from None
            self._bundle = Bundle(path)
        return self._bundle

    # -- the Layer interface --------------------------------------------------------------------

    def problem(self) -> str | None:
        """Whether ``fsspec`` can serve this URL's protocol (nothing is fetched before an artifact
        is needed, so a wrong host or path shows at first use)."""
        try:
            self._filesystem()
        except UnavailableLayerError as exc:
            self._down = exc.reason  # the caller reports it; lookups skip this layer
            return exc.reason
        return None

    def load(self, key: str) -> tuple[Record, ArtifactInfo]:
        """Fetch and fully validate ``key``; ``FileNotFoundError``/``KeyError`` when absent,
        :class:`CorruptArtifactError` when invalid, :class:`UnavailableLayerError` when offline."""
        if not is_key(key):
            raise ValueError(f"malformed key {key!r}: expected 64 lowercase hex digits")
        if self.is_bundle:
            return self._local_bundle().load(key)
        return self._read_fetched(key, load_file)

    def _read_fetched(self, key: str, reader: Callable[..., Any]) -> Any:
        """Fetch the file of ``key``, check its type, size and seal, and apply ``reader``."""
        path = self._fetch(f"{key[:2]}/{key}.h5")
        location = self._member(key)
        try:
            return reader(path, location, key)
        finally:
            with contextlib.suppress(OSError):
                path.unlink()

    def _member(self, key: str) -> str:
        if self.is_bundle:
            return bundle_member(self.url, key)
        return f"{self.url}/{key[:2]}/{key}.h5"

    def get(self, key: str) -> Record | None:
        """The validated record of ``key``, or ``None`` (absent, invalid or unreachable: once a
        server failed, this layer is not asked again in this process)."""
        if key in self._bad or self._down is not None:
            return None
        try:
            record, _ = self.load(key)
        except (FileNotFoundError, KeyError):
            return None
        except UnavailableLayerError as exc:
            self._report_down(exc)
            return None
        except CorruptArtifactError as exc:
            self._bad.add(key)
            warn_invalid(exc, "treated as a miss (remote layer left as is)")
            return None
        return record

    def contains(self, key: str) -> bool:
        """Whether the layer holds ``key`` (not validated; ``False`` when unreachable)."""
        if self._down is not None:
            return False
        try:
            if self.is_bundle:
                return self._local_bundle().contains(key)
            fs, root = self._filesystem()
            return bool(fs.exists(f"{root}/{key[:2]}/{key}.h5"))
        except Exception:  # noqa: BLE001 - unreachable: not here
            return False

    def iterate(self) -> Iterator[str]:
        """Every key, sorted (a directory must be listable: HTTP servers' index pages are)."""
        if self.is_bundle:
            return self._local_bundle().iterate()
        fs, root = self._filesystem()
        try:
            keys = []
            for shard in fs.ls(root, detail=False):
                name = str(shard).rstrip("/").rsplit("/", 1)[-1]
                if len(name) != 2:
                    continue
                for entry in fs.ls(f"{root}/{name}", detail=False):
                    file = str(entry).rstrip("/").rsplit("/", 1)[-1]
                    if file.endswith(".h5") and is_key(file[:-3]) and file[:2] == name:
                        keys.append(file[:-3])
        except Exception as exc:  # noqa: BLE001 - any transport failure
            raise UnavailableLayerError(
                self.url, f"cannot list: {type(exc).__name__}: {exc}"
            ) from None
        return iter(sorted(set(keys)))

    def keys(self) -> list[str]:
        """Every key, sorted; empty (with one warning) when the layer cannot be listed (a server
        without index pages still serves artifacts by key)."""
        if self._down is not None:
            return []
        try:
            return list(self.iterate())
        except UnavailableLayerError as exc:
            if not self._unlisted:
                self._unlisted = True
                warnings.warn(f"cache layer {self.url}: {exc.reason}", LayerWarning, stacklevel=2)
            return []

    def describe(self, key: str) -> Description:
        """The header of ``key`` (the artifact is fetched, its arrays are not read)."""
        if self.is_bundle:
            try:
                d = self._local_bundle().describe(key)
                return dataclasses.replace(
                    d, location=self._member(key), layer=self.url, layer_kind=self.kind
                )
            except UnavailableLayerError as exc:
                return Description(key, self._member(key), self.url, self.kind, None, None,
                                   exc.reason)  # fmt: skip
        try:
            info, reason = self._read_fetched(key, info_file), ""
        except (CorruptArtifactError, UnavailableLayerError) as exc:
            info, reason = None, exc.reason
        except FileNotFoundError:
            info, reason = None, "missing"
        size = info.nbytes if info is not None else None
        return Description(key, self._member(key), self.url, self.kind, size, info, reason)

    def verify(self, quarantine: bool = True) -> Iterator[VerifyResult]:
        """Fetch and validate every artifact (nothing remote is ever changed)."""
        del quarantine
        try:
            keys = list(self.iterate())
        except UnavailableLayerError as exc:
            yield VerifyResult(None, self.url, False, exc.reason)
            return
        for key in keys:
            try:
                self.load(key)
            except (CorruptArtifactError, UnavailableLayerError) as exc:
                yield VerifyResult(key, self._member(key), False, exc.reason)
            except (FileNotFoundError, KeyError):
                yield VerifyResult(key, self._member(key), False, "vanished")
            else:
                yield VerifyResult(key, self._member(key), True)

    iter_verify = verify

    def close(self) -> None:
        """Remove the local spool (fetched bundles)."""
        if self._spool is not None:
            self._cleanup()
            self._spool = None
            self._bundle = None
