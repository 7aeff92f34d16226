"""The bridge between the torch runtime and the artifact store: ``load_basis(spec)``.

Where a basis comes from, in order:

1. the **artifact memo** of this process (see :class:`ArtifactMemo`),
2. the **store** (``cache.Store``; root from ``E2C_CACHE_DIR``, read-only layers from
   ``E2C_CACHE_PATH``),
3. the **compiler**, in-process, on a store miss: the result is put in the store so the next process
   finds it. The compiler is imported here, lazily, so that ``import runtime.nn`` never pulls in the
   compiler's heavy maths; a warm store never imports it at all.

Exceptions to that order:

* ``recompute=True`` compiles in-process and neither reads nor writes the store or the memo.
* In **offline mode** (``E2C_OFFLINE=1`` or a store built with ``offline=True``) a store miss raises
  :class:`OfflineBasisMissError`, which names the spec and the ``e2c compile --spec-json ...``
  command that puts it in the store.

**Dry-run collection.** Inside ``with collect_specs() as specs:`` layers record the specs they need
in ``specs`` and load, sample and initialise nothing; the modules built there can not run. This is
how ``e2c compile path.py:build_model`` learns which bases a model needs without compiling them one
by one.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import shlex
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from cache import Store
    from e2compile.specs import BasisSpec

__all__ = [
    "ArtifactMemo",
    "MEMO",
    "OfflineBasisMissError",
    "SpecCollection",
    "collect_specs",
    "collecting",
    "default_store",
    "load_basis",
    "record_spec",
]

#: Environment variable bounding the artifact memo, in MiB (``0`` disables the memo).
MEMO_ENV = "E2C_MEMO_MB"
DEFAULT_MEMO_MB = 256


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
            f"offline mode is on (E2C_OFFLINE=1 or Store(offline=True)) and the store holds no "
            f"basis {spec.key} ({_describe(spec)}). Put it in the store first, with:\n"
            f"  {self.command}\n"
            f"or with `e2c compile path.py:build_model` for the whole model."
        )

    def __reduce__(self):
        return (type(self), (self.spec, self.spec_file))


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
    ``max_bytes`` (environment ``E2C_MEMO_MB``, default 256 MiB; ``0`` turns it off) and evicts the
    least recently used artifact first. An artifact larger than the bound is not memoised. The
    contents are derived data only: :meth:`clear` is always safe.
    """

    def __init__(self, max_bytes: int | None = None):
        self._max_bytes = max_bytes  # None: read E2C_MEMO_MB on first use, never at import
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
        """The bound in bytes (``E2C_MEMO_MB`` when not given; a bad value is a ``ValueError``)."""
        if self._max_bytes is None:
            self._max_bytes = memo_bytes_from_env()
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


def memo_bytes_from_env() -> int:
    """``E2C_MEMO_MB`` in bytes (default :data:`DEFAULT_MEMO_MB`); ``ValueError`` naming the
    variable when it is not a number of MiB >= 0."""
    text = os.environ.get(MEMO_ENV, "").strip()
    if not text:
        return DEFAULT_MEMO_MB * 2**20
    try:
        mb = float(text)
    except ValueError:
        mb = float("nan")
    if not 0 <= mb < float("inf"):
        raise ValueError(
            f"{MEMO_ENV}={text!r}: expected a size in MiB, a number >= 0 (0 turns the memo off)"
        )
    return int(mb * 2**20)


def _nbytes(artifact: Any) -> int:
    return int(artifact.nbytes)


#: The memo used by :func:`load_basis`.
MEMO = ArtifactMemo()


# ------------------------------------------------------------------------------------------- store

_default_store: tuple[tuple[str | None, ...], Any] | None = None


def default_store() -> Store:
    """The store the environment names (re-made when ``E2C_CACHE_*`` or ``E2C_OFFLINE`` change)."""
    global _default_store
    env = tuple(os.environ.get(k) for k in ("E2C_CACHE_DIR", "E2C_CACHE_PATH", "E2C_OFFLINE"))
    if _default_store is None or _default_store[0] != env:
        from cache import Store

        _default_store = (env, Store())
    return _default_store[1]


def _compile(spec: BasisSpec) -> Any:
    """Compile ``spec`` (a pair that admits no kernel gives an artifact with ``dim == 0``)."""
    from e2compile import compiler

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
    from e2compile.artifact import BasisArtifact

    return BasisArtifact.from_record(record.arrays, record.meta)


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
