"""``RemoteLayer``: a read-only store directory or bundle behind a URL, fetched with ``fsspec``.

``https://host/store`` (a directory laid out as ``<key[:2]>/<key>.h5``) or
``https://host/models.h5`` (a bundle; ``.h5``/``.hdf5``), or the same under any protocol ``fsspec``
has installed (``s3://``, ``gs://``, …). Nothing is fetched until an artifact is needed. A fetched
file goes to a local temporary file and is validated exactly like a local one (seal, header, key,
checksums) before use; ``Store`` then copies the record into its writable root, so the next
lookup is local. A bundle is fetched whole, once per process.

Every remote operation is bounded (:class:`~cache.settings.Settings`): it may stall at most
``remote_timeout_s`` (HTTP), takes at most ``remote_deadline_s`` in all (whatever the protocol:
it runs in a worker thread the caller stops waiting for) and fetches at most
``remote_max_bytes`` (a larger announced length is refused before a byte is read; an HTTP
listing page at most :data:`LISTING_BYTES`).

Failures never surface as a bad artifact: corrupt or oversized bytes are a
:class:`CorruptArtifactWarning` and a miss; a server that cannot be reached, goes away or misses
its deadline is one :class:`~cache.errors.LayerWarning` and a miss, so the lookup falls through to
the next layer (or compiles, or fails with the offline error). The URL's credentials and query
never appear in a message (:func:`~cache.locations.redact`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import html.parser
import io
import shutil
import tempfile
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeVar
from urllib.parse import unquote, urljoin

from . import settings as _settings
from .bundle import Bundle
from .errors import CorruptArtifactError, LayerWarning, UnavailableLayerError
from .filestore import warn_invalid
from .layer import Description, VerifyResult, bundle_member
from .locations import redact, scrub, url_parts
from .reader import info_file, load_file
from .record import Record, is_key
from .sealed import ArtifactInfo

__all__ = ["RemoteLayer", "LISTING_BYTES"]

#: The largest HTTP index page read to list a remote store directory.
LISTING_BYTES = 64 << 20
_CHUNK = 1 << 20
_T = TypeVar("_T")


class _Late(Exception):
    """The operation's deadline passed."""


class RemoteLayer:
    """A read-only layer at ``url``: a bundle if the URL's path ends in ``.h5``/``.hdf5``, else a
    store directory. ``timeout``, ``deadline`` (seconds) and ``max_bytes`` default to the
    :func:`~cache.settings.current` settings."""

    kind = "remote"
    writable = False

    def __init__(
        self,
        url: str,
        timeout: float | None = None,
        deadline: float | None = None,
        max_bytes: int | None = None,
    ) -> None:
        defaults = _settings.current() if None in (timeout, deadline, max_bytes) else None
        scheme, sep, rest = url.partition("://")
        self._url = scheme + sep + rest.rstrip("/")  # may hold credentials: only to connect
        self.url = redact(self._url)
        self.timeout = float(defaults.remote_timeout_s if timeout is None else timeout)
        self.deadline = float(defaults.remote_deadline_s if deadline is None else deadline)
        self.max_bytes = int(defaults.remote_max_bytes if max_bytes is None else max_bytes)
        for name in ("timeout", "deadline", "max_bytes"):
            if not getattr(self, name) > 0:
                value = getattr(self, name)
                raise ValueError(f"RemoteLayer: {name!r} must be positive, got {value}")
        # "forever" is as long as a thread can wait
        self.timeout = min(self.timeout, threading.TIMEOUT_MAX)
        self.deadline = min(self.deadline, threading.TIMEOUT_MAX)
        scheme, _, rest = self._url.partition("://")
        path = rest.split("?", 1)[0].split("#", 1)[0]
        self.is_bundle = path.lower().endswith((".h5", ".hdf5"))
        self._http = scheme.lower() in ("http", "https")
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
        """The URL without its credentials or query."""
        return self.url

    # -- transport ------------------------------------------------------------------------------

    def _filesystem(self) -> tuple[Any, str]:
        if self._fs is None:
            try:
                url_parts(self._url)
            except ValueError as exc:
                raise UnavailableLayerError(self.url, f"malformed URL: {exc}") from None
            try:
                import fsspec
            except ImportError as exc:  # pragma: no cover - fsspec is a dependency
                raise UnavailableLayerError(self.url, f"needs fsspec: {exc}") from None
            options: dict[str, Any] = {}
            if self._http:
                import aiohttp

                timeout = aiohttp.ClientTimeout(
                    total=self.deadline, sock_connect=self.timeout, sock_read=self.timeout
                )
                options["client_kwargs"] = {"timeout": timeout}
            try:
                self._fs, self._path = fsspec.core.url_to_fs(self._url, **options)
            except (ImportError, ValueError, TypeError) as exc:
                reason = f"unsupported URL: {self._say(exc)}"
                raise UnavailableLayerError(self.url, reason) from None
            except Exception as exc:  # noqa: BLE001 - protocols that connect at once (ftp, sftp)
                raise UnavailableLayerError(self.url, f"unreachable: {self._say(exc)}") from None
        return self._fs, self._path

    def _say(self, exc: BaseException) -> str:
        """``exc`` as ``Type: message``, without the URL's secrets."""
        return scrub(f"{type(exc).__name__}: {exc}", self._url)

    def _bounded(self, what: str, work: Callable[[float], _T]) -> _T:
        """``work(deadline_at)`` (a ``time.monotonic`` instant it polls), run in a worker thread
        that is given up after :attr:`deadline` seconds (:class:`UnavailableLayerError`)."""
        deadline_at = time.monotonic() + self.deadline
        box: dict[str, Any] = {}
        done = threading.Event()

        def run() -> None:
            try:
                box["value"] = work(deadline_at)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                box["error"] = exc
            finally:
                done.set()

        threading.Thread(target=run, name="e2c-remote", daemon=True).start()
        late = UnavailableLayerError(
            self.url,
            f"{what}: not done within the deadline of {self.deadline:g} s "
            f"({_settings.ENV['remote_deadline_s']})",
        )
        if not done.wait(self.deadline):
            raise late
        error = box.get("error")
        if isinstance(error, _Late):
            raise late
        if error is not None:
            raise error
        return box["value"]

    def _stream(self, rel: str, sink: BinaryIO, cap: int, deadline_at: float) -> None:
        """Copy ``<url>/<rel>`` into ``sink``: at most ``cap`` bytes, before ``deadline_at``.

        Raises ``FileNotFoundError`` when absent, :class:`CorruptArtifactError` when too big,
        :class:`_Late` after the deadline, :class:`UnavailableLayerError` on a transport failure.
        """
        location = f"{self.url}/{rel.lstrip('/')}" if rel else self.url
        fs, root = self._filesystem()
        remote = _join(root, rel)
        # HTTP: stream one GET (block_size=0); the size hint skips fsspec's HEAD request, which
        # reports an unreachable server as FileNotFoundError, indistinguishable from a 404.
        options = {"block_size": 0, "size": 1} if self._http else {}
        try:
            with fs.open(remote, "rb", **options) as src:
                announced = _announced_size(src)
                if announced is not None and announced > cap:
                    raise CorruptArtifactError(
                        location, f"announces {announced} bytes, above {_bound(cap)}"
                    )
                size = 0
                while chunk := src.read(_CHUNK):
                    if time.monotonic() > deadline_at:
                        raise _Late()
                    size += len(chunk)
                    if size > cap:
                        raise CorruptArtifactError(location, f"sends more than {_bound(cap)}")
                    sink.write(chunk)
        except (FileNotFoundError, CorruptArtifactError, _Late):
            raise
        except Exception as exc:  # noqa: BLE001 - any transport failure: connection, timeout
            if time.monotonic() > deadline_at:
                raise _Late() from None
            raise UnavailableLayerError(location, f"unreachable: {self._say(exc)}") from None

    def _spool_dir(self) -> Path:
        if self._spool is None:
            self._spool = Path(tempfile.mkdtemp(prefix="e2c-remote-"))
            self._cleanup = weakref.finalize(self, shutil.rmtree, self._spool, True)
        return self._spool

    def _fetch(self, rel: str) -> Path:
        """Copy ``<url>/<rel>`` into a local spool file (bounded: see the module documentation).

        Raises ``FileNotFoundError`` when absent, :class:`UnavailableLayerError` when the server
        cannot be reached or misses the deadline, :class:`CorruptArtifactError` when the file is
        too big.
        """
        local = self._spool_dir() / (rel.replace("/", "_") or "bundle.h5")

        def work(deadline_at: float) -> None:
            with open(local, "wb") as dst:
                self._stream(rel, dst, self.max_bytes, deadline_at)

        try:
            self._bounded(f"fetching {rel or 'the bundle'}", work)
        except BaseException:
            with contextlib.suppress(OSError):
                local.unlink()
            raise
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
        """The bundle, fetched whole on first use (a bundle that cannot be fetched, whatever the
        reason, makes the whole layer unavailable: it is not fetched again)."""
        if self._bundle is None:
            if self._down is not None:
                raise UnavailableLayerError(self.url, self._down)
            try:
                path = self._fetch("")
            except FileNotFoundError:
                raise UnavailableLayerError(self.url, "does not exist") from None
            except CorruptArtifactError as exc:
                raise UnavailableLayerError(self.url, exc.reason) from None
            self._bundle = Bundle(path)
        return self._bundle

    # -- the Layer interface --------------------------------------------------------------------

    def problem(self) -> str | None:
        """Whether ``fsspec`` can serve this URL's protocol (nothing is fetched before an artifact
        is needed, so a wrong host or path shows at first use)."""
        try:
            self._bounded("connecting", lambda _: self._filesystem())
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
            return self._bounded(f"looking up {key}", lambda _: self._exists(key))
        except UnavailableLayerError as exc:
            self._report_down(exc)
            return False
        except Exception:  # noqa: BLE001 - any other failure: not here
            return False

    def _exists(self, key: str) -> bool:
        fs, root = self._filesystem()
        return bool(fs.exists(_join(root, f"{key[:2]}/{key}.h5")))

    def iterate(self) -> Iterator[str]:
        """Every key, sorted (a directory must be listable: HTTP servers' index pages are)."""
        if self.is_bundle:
            return self._local_bundle().iterate()
        try:
            keys = self._bounded("listing", self._list_keys)
        except UnavailableLayerError as exc:
            raise UnavailableLayerError(self.url, f"cannot list: {exc.reason}") from None
        except Exception as exc:  # noqa: BLE001 - any transport failure
            raise UnavailableLayerError(self.url, f"cannot list: {self._say(exc)}") from None
        return iter(sorted(set(keys)))

    def _list_keys(self, deadline_at: float) -> list[str]:
        keys = []
        for shard in self._names("", deadline_at):
            if len(shard) != 2:
                continue
            for file in self._names(shard, deadline_at):
                if file.endswith(".h5") and is_key(file[:-3]) and file[:2] == shard:
                    keys.append(file[:-3])
        return keys

    def _names(self, rel: str, deadline_at: float) -> list[str]:
        """The names of the entries of the directory ``<url>/<rel>``."""
        if time.monotonic() > deadline_at:
            raise _Late()
        fs, root = self._filesystem()
        if not self._http:
            entries = fs.ls(_join(root, rel), detail=False)
            return [str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries]
        page = io.BytesIO()
        try:
            self._stream(f"{rel}/" if rel else "/", page, LISTING_BYTES, deadline_at)
        except CorruptArtifactError as exc:
            raise UnavailableLayerError(exc.location, exc.reason) from None
        return _child_names(page.getvalue(), _join(root, rel).split("?", 1)[0] + "/")

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
        if self._down is not None:
            return Description(key, self._member(key), self.url, self.kind, None, None, self._down)
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
        down = None  # once the server failed, the other keys are not fetched
        for key in keys:
            if down is not None:
                yield VerifyResult(key, self._member(key), False, down)
                continue
            try:
                self.load(key)
            except UnavailableLayerError as exc:
                down = exc.reason
                yield VerifyResult(key, self._member(key), False, exc.reason)
            except CorruptArtifactError as exc:
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


def _join(root: str, rel: str) -> str:
    """``root`` (a URL or path, perhaps with a query) extended by the relative path ``rel``; the
    query stays last."""
    if not rel:
        return root
    base, sep, query = root.partition("?")
    return f"{base.rstrip('/')}/{rel.lstrip('/')}{sep}{query}"


def _announced_size(src: Any) -> int | None:
    """The length the server announced for ``src`` (HTTP ``Content-Length`` or the file
    system's size), if any."""
    response = getattr(src, "r", None)
    length = getattr(response, "content_length", None)
    if isinstance(length, int):
        return length
    size = getattr(src, "size", None)
    return size if isinstance(size, int) and not isinstance(size, bool) else None


def _bound(cap: int) -> str:
    return f"{cap} bytes, the bound on a remote file ({_settings.ENV['remote_max_mb']})"


class _Links(html.parser.HTMLParser):
    """Every ``href`` of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links.extend(v for k, v in attrs if k == "href" and v)


def _child_names(page: bytes, base: str) -> list[str]:
    """The names of the entries directly under ``base`` that an index page links to."""
    parser = _Links()
    parser.feed(page.decode("utf-8", errors="replace"))
    parser.close()
    names = []
    for link in parser.links:
        target = urljoin(base, link).split("?", 1)[0].split("#", 1)[0]
        if not target.startswith(base):
            continue
        name = target[len(base) :].rstrip("/")
        if name and "/" not in name:
            names.append(unquote(name))
    return names
