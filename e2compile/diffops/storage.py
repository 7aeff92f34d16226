"""``store_cache``/``load_cache``: the reference library's PDO cache functions, provided by the
runtime.

PDO bases live in the artifact store like every compiled basis; these two functions are only kept
so that ported code runs unchanged. They work on the store, which :mod:`e2compile` never imports
(imports flow ``cache <- e2compile <- runtime``), so this module declares them and holds what they
record; the runtime implements them (:mod:`runtime.pdo_cache`) and installs itself through
:func:`provide` when ``runtime`` is imported:

* ``store_cache(path=None) -> Path`` writes a bundle holding every PDO artifact this process has
  built or loaded through the store (default: ``<store root>/diffops-cache.h5``);
* ``load_cache(path=None) -> int`` checks such a bundle, adds it to the read-only layers of the
  runtime's default store for the rest of the process, and returns how many artifacts it holds; a
  missing file is a ``FileNotFoundError``, a foreign one a ``ValueError``.

Before ``runtime`` is imported no basis can have been built through the store, so
``store_cache`` has nothing to write: it writes nothing and returns ``None``. ``load_cache``
then only records the bundle (a missing explicit ``path`` is still a ``FileNotFoundError``) and
returns ``None``: the runtime's store opens it when first made, where a missing or foreign file
is a ``LayerWarning`` and is skipped, like any unreadable layer.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Protocol

__all__ = [
    "PdoCache",
    "built_specs",
    "load_cache",
    "loaded_bundles",
    "note_built",
    "provide",
    "record_bundle",
    "store_cache",
]


class PdoCache(Protocol):
    """What the runtime provides."""

    def store_cache(self, path: str | os.PathLike[str] | None = None) -> Path: ...

    def load_cache(self, path: str | os.PathLike[str] | None = None) -> int: ...


_PROVIDER: PdoCache | None = None
_LOCK = threading.Lock()
_BUNDLES: list[str | None] = []  # what load_cache added, in order; None: the default bundle
_BUILT: dict[str, object] = {}  # key -> spec of every PDO basis built, in first-built order


def provide(provider: PdoCache) -> None:
    """Install the implementation of :func:`store_cache` and :func:`load_cache` (the runtime
    calls this once, when imported)."""
    global _PROVIDER
    _PROVIDER = provider


def note_built(spec: object) -> None:
    """Remember that this process built (compiled or loaded) the PDO basis of ``spec`` (the PDO
    kind's ``after_build``)."""
    with _LOCK:
        _BUILT.setdefault(spec.key, spec)  # type: ignore[attr-defined]


def built_specs() -> list:
    """The PDO specs built so far in this process, in first-built order."""
    with _LOCK:
        return list(_BUILT.values())


def record_bundle(path: str | None) -> None:
    """Remember the bundle ``path`` (absolute; ``None``: the default one) for the runtime's
    default store."""
    with _LOCK:
        if path not in _BUNDLES:
            _BUNDLES.append(path)


def loaded_bundles() -> tuple[str | None, ...]:
    """The bundles :func:`load_cache` added, in order (``None``: the default bundle)."""
    with _LOCK:
        return tuple(_BUNDLES)


def store_cache(path: str | os.PathLike[str] | None = None) -> Path | None:
    """Write the PDO artifacts built so far in this process into the bundle ``path`` (default:
    ``<store root>/diffops-cache.h5``); returns its absolute path (``None``, writing nothing,
    before the runtime is imported: nothing can have been built yet)."""
    if _PROVIDER is None:
        return None
    return _PROVIDER.store_cache(path)


def load_cache(path: str | os.PathLike[str] | None = None) -> int | None:
    """Add the bundle ``path`` (written by :func:`store_cache` or ``e2c``; default:
    ``<store root>/diffops-cache.h5``) as a read-only layer of the runtime's default store;
    returns the number of artifacts it holds (``None`` before the runtime is imported: the bundle
    is only recorded, and checked when the runtime's store opens it)."""
    if _PROVIDER is not None:
        return _PROVIDER.load_cache(path)
    if path is not None:
        path = os.path.abspath(os.path.expanduser(os.fspath(path)))
        if not os.path.isfile(path):
            raise FileNotFoundError(f"path: no PDO cache bundle at {path}")
    record_bundle(path)
    return None
