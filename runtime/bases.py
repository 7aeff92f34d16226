"""The bridge between the torch runtime and the artifact store: ``load_basis(spec)``.

Where a basis comes from, in order:

1. the **artifact memo** of this process (see :class:`ArtifactMemo`),
2. the **store** (:func:`default_store`: the ``cache.Store`` the current settings name,
   :func:`cache.settings.current`),
3. the **compiler**, in-process, on a store miss: the result is put in the store so the next process
   finds it. The compiler is imported here, lazily, so that ``import runtime.nn`` never pulls in the
   compiler's heavy maths; a warm store never imports it at all.

Exceptions to that order:

* ``recompute=True`` compiles in-process and neither reads nor writes the store or the memo.
* In **offline mode** (the ``offline`` setting or a store built with ``offline=True``) a store
  miss raises :class:`OfflineBasisMissError`, which names the spec and the
  ``e2c compile --spec-json ...`` command that puts it in the store.

**Dry-run collection.** Inside ``with collect_specs() as specs:`` layers record the specs they need
in ``specs`` and load, sample and initialise nothing; the modules built there can not run. This is
how ``e2c compile path.py:build_model`` learns which bases a model needs without compiling them one
by one.

**Settings.** The runtime never reads the environment itself: :func:`cache.settings.current`
gives the store, the memo's bound and the compiler's limits, and :func:`use_settings` replaces them
for a block (``e2c`` runs every command in one). The compiler receives its limits from here
(:func:`compiler_limits`): when it compiles on a miss and while layers build their specs.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import shlex
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from cache import Store
    from cache.settings import Settings
    from e2compile.specs import BasisSpec

__all__ = [
    "ArtifactMemo",
    "MEMO",
    "OfflineBasisMissError",
    "SpecCollection",
    "collect_specs",
    "collecting",
    "compiler_limits",
    "default_store",
    "limits_of",
    "load_basis",
    "record_spec",
    "use_settings",
]


class OfflineBasisMissError(LookupError):
    """A basis is needed, the store lacks it, and offline mode forbids compiling it.

    The message is short whatever the spec's size (key, family, N, kernel size, channels) and
    ``command`` always runs: ``e2c compile FILE``, where ``spec_file`` (written by the store under
    ``<root>/missing/`` or the temporary directory) holds the missing spec.
    """

    def __init__(self, spec: BasisSpec, spec_file: str | None = None):
        self.spec = spec
        self.spec_file = spec_file
        if spec_file is not None:
            self.command = f"e2c compile {shlex.quote(spec_file)}"
        else:
            self.command = "e2c compile path.py:build_model"
        super().__init__(
            f"offline mode is on ({_offline_variable()}=1 or Store(offline=True)) and the store "
            f"holds no basis {spec.key} ({_describe(spec)}). Put it in the store first, with:\n"
            f"  {self.command}\n"
            f"or with `e2c compile path.py:build_model` for the whole model."
        )

    def __reduce__(self):
        return (type(self), (self.spec, self.spec_file))


def _offline_variable() -> str:
    from cache.settings import ENV

    return ENV["offline"]


def _describe(spec: Any) -> str:
    """A short human-readable summary of a spec, for error messages."""
    fields = []
    for name in ("family", "N", "kind", "kernel_size", "dilation"):
        value = getattr(spec, name, None)
        if value is not None:
            fields.append(f"{name}={value}")
    sizes = [getattr(getattr(spec, r, None), "size", None) for r in ("in_repr", "out_repr")]
    if None not in sizes:
        fields.append(f"{sizes[0]}->{sizes[1]} channels")
    return ", ".join(fields) or repr(spec)


# --------------------------------------------------------------------------------------------- memo


class ArtifactMemo:
    """A process-local LRU memo of loaded artifacts, keyed by spec key and bounded in bytes.

    A network whose six layers share a basis reads it from the store once. The memo holds the
    artifacts' numpy arrays (float64, the compiler's output); it never holds more than
    ``max_bytes`` (the ``memo_mb`` setting, default 256 MiB; ``0`` turns it off) and evicts the
    least recently used artifact first. An artifact larger than the bound is not memoised. The
    contents are derived data only: :meth:`clear` is always safe.
    """

    def __init__(self, max_bytes: int | None = None):
        self._max_bytes = max_bytes  # None: read the settings on first use, never at import
        self._items: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Any | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item[0]

    @property
    def max_bytes(self) -> int:
        """The bound in bytes (the ``memo_mb`` setting when not given; a malformed setting is a
        ``ValueError`` naming it)."""
        if self._max_bytes is None:
            from cache.settings import current

            self._max_bytes = int(current().memo_mb * 2**20)
        return self._max_bytes

    @max_bytes.setter
    def max_bytes(self, value: int) -> None:
        self._max_bytes = value

    def put(self, key: str, artifact: Any) -> None:
        size = _nbytes(artifact)
        max_bytes = self.max_bytes
        with self._lock:
            if key in self._items:
                self._bytes -= self._items.pop(key)[1]
            if size > max_bytes:
                return
            self._items[key] = (artifact, size)
            self._bytes += size
            while self._bytes > max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
            self.hits = self.misses = 0

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __repr__(self) -> str:
        return (
            f"ArtifactMemo({len(self)} artifacts, {self._bytes / 2**20:.1f} of "
            f"{self.max_bytes / 2**20:.0f} MiB, hits={self.hits}, misses={self.misses})"
        )


def _nbytes(artifact: Any) -> int:
    return int(artifact.nbytes)


#: The memo used by :func:`load_basis`.
MEMO = ArtifactMemo()


# ------------------------------------------------------------------------------------------- store

_default_store: tuple[Settings, Store] | None = None
_default_lock = threading.Lock()


def default_store() -> Store:
    """The store the current settings name (:func:`cache.settings.current`, plus the bundles
    ``diffops.load_cache`` added); made again when they change."""
    from cache import Store
    from cache.settings import current

    from .pdo_cache import loaded_bundles

    global _default_store
    settings = current()
    extra = tuple(b for b in loaded_bundles() if b not in settings.cache_path)
    if extra:
        settings = dataclasses.replace(settings, cache_path=settings.cache_path + extra)
    with _default_lock:
        if _default_store is None or _default_store[0] != settings:
            _default_store = (settings, Store(settings=settings))
        return _default_store[1]


def limits_of(settings: Settings) -> Any:
    """The compiler's :class:`e2compile.budget.Limits` that ``settings`` name (the compiler's
    defaults for a limit left unset)."""
    from cache.settings import ENV
    from e2compile import budget

    default = budget.Limits()
    return budget.Limits(
        max_bytes=default.max_bytes
        if settings.max_basis_mb is None
        else int(settings.max_basis_mb * 2**20),
        max_irreps=default.max_irreps if settings.max_irreps is None else settings.max_irreps,
        how_bytes=f"{ENV['max_basis_mb']}=<MiB> or `e2c compile --max-size <MiB>`",
        how_irreps=f"{ENV['max_irreps']}=<count>",
    )


@contextlib.contextmanager
def compiler_limits(settings: Settings | None = None) -> Iterator[None]:
    """Run the block under the compiler limits of ``settings`` (default: the current ones); also
    usable as a decorator."""
    from cache.settings import current
    from e2compile import budget

    with budget.limited(limits_of(current() if settings is None else settings)):
        yield


@contextlib.contextmanager
def use_settings(settings: Settings) -> Iterator[Settings]:
    """Make ``settings`` the current ones inside the block: the default store, the memo bound (if
    not read yet) and the compiler's limits follow them."""
    from cache.settings import use

    with use(settings), compiler_limits(settings):
        yield settings


def _compile(spec: BasisSpec) -> Any:
    """Compile ``spec`` (a pair that admits no kernel gives an artifact with ``dim == 0``) under
    the current settings' limits."""
    from e2compile import compiler

    with compiler_limits():
        return compiler.compile(spec)


def load_basis(spec: BasisSpec, store: Store | None = None, recompute: bool = False) -> Any:
    """Return the compiled :class:`BasisArtifact` of ``spec``: memo, then store, then compiler.

    See the module documentation for the order, ``recompute`` and offline mode.
    """
    from e2compile.kinds import get_kind

    after_build = get_kind(spec.kind).after_build  # e.g. PDOs: remembered for store_cache()
    if after_build is not None:
        after_build(spec)
    if recompute:
        return _compile(spec)
    key = spec.key
    artifact = MEMO.get(key)
    if artifact is not None:
        return artifact
    if store is None:
        store = default_store()
    from cache.errors import OfflineMissError

    compiled: list[Any] = []

    def factory():
        compiled.append(_compile(spec))
        return _to_record(key, compiled[0])

    try:
        record = store.get_or_create(key, factory, spec=spec.canonical_json())
    except OfflineMissError as exc:
        raise OfflineBasisMissError(spec, exc.spec_file) from None
    artifact = compiled[0] if compiled else _from_record(record)
    MEMO.put(key, artifact)
    return artifact


def _to_record(key: str, artifact: Any) -> Any:
    from cache import Record

    arrays, meta = artifact.to_record()
    return Record(key, arrays, meta)


def _from_record(record: Any) -> Any:
    from e2compile.artifact import artifact_from_record

    return artifact_from_record(record.arrays, record.meta)


# ---------------------------------------------------------------------------------------- dry run


class SpecCollection:
    """The specs recorded inside :func:`collect_specs`: unique by key, in first-use order."""

    def __init__(self) -> None:
        self._specs: dict[str, BasisSpec] = {}
        self.requests = 0

    def add(self, spec: BasisSpec) -> None:
        self.requests += 1
        self._specs.setdefault(spec.key, spec)

    @property
    def specs(self) -> list[BasisSpec]:
        return list(self._specs.values())

    def __iter__(self) -> Iterator[BasisSpec]:
        return iter(list(self._specs.values()))

    def __len__(self) -> int:
        return len(self._specs)

    def __repr__(self) -> str:
        return f"SpecCollection({len(self)} specs from {self.requests} requests)"


_COLLECTOR: contextvars.ContextVar[SpecCollection | None] = contextvars.ContextVar(
    "e2c_spec_collector", default=None
)


@contextlib.contextmanager
def collect_specs() -> Iterator[SpecCollection]:
    """Record, instead of loading, every basis that layers built inside the block need.

    Layers built inside the block load, sample and initialise nothing, and raise if run.
    """
    collection = SpecCollection()
    token = _COLLECTOR.set(collection)
    try:
        yield collection
    finally:
        _COLLECTOR.reset(token)


def collecting() -> bool:
    """Whether the caller runs inside :func:`collect_specs`."""
    return _COLLECTOR.get() is not None


def record_spec(spec: BasisSpec) -> None:
    """Record ``spec`` in the active :func:`collect_specs` block."""
    collection = _COLLECTOR.get()
    if collection is None:
        raise RuntimeError("record_spec() called outside collect_specs()")
    collection.add(spec)
