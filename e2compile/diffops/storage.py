"""``store_cache``/``load_cache``: the reference library's PDO cache functions, provided by the
runtime.

PDO bases live in the artifact store like every compiled basis; these two functions are only kept
so that ported code runs unchanged. They need the store, which :mod:`e2compile` never imports
(imports flow ``cache <- e2compile <- runtime``), so this module only declares them: the runtime
provides the implementation (:mod:`runtime.pdo_cache`) when ``runtime`` is imported, through
:func:`provide`. Called before that, they raise a ``RuntimeError`` saying so.

* ``store_cache(path=None) -> Path`` writes a bundle holding every PDO artifact this process has
  built or loaded so far (default: ``<store root>/diffops-cache.h5``);
* ``load_cache(path=None) -> int`` adds such a bundle as a read-only layer of the runtime's default
  store, for the rest of the process, and returns how many artifacts it holds; a missing file is a
  ``FileNotFoundError``, a foreign one a ``ValueError``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

__all__ = ["PdoCache", "load_cache", "provide", "store_cache"]


class PdoCache(Protocol):
    """What the runtime provides."""

    def store_cache(self, path: str | os.PathLike[str] | None = None) -> Path: ...

    def load_cache(self, path: str | os.PathLike[str] | None = None) -> int: ...


_PROVIDER: PdoCache | None = None


def provide(provider: PdoCache) -> None:
    """Install the implementation of :func:`store_cache` and :func:`load_cache` (the runtime
    calls this once, when imported)."""
    global _PROVIDER
    _PROVIDER = provider


def _provider(name: str) -> PdoCache:
    if _PROVIDER is None:
        raise RuntimeError(
            f"diffops.{name}() works on the artifact store, which the torch runtime reaches: "
            "import runtime (e.g. `from runtime import nn`) first"
        )
    return _PROVIDER


def store_cache(path: str | os.PathLike[str] | None = None) -> Path:
    """Write the PDO artifacts built so far in this process into the bundle ``path`` (default:
    ``<store root>/diffops-cache.h5``); returns its absolute path."""
    return _provider("store_cache").store_cache(path)


def load_cache(path: str | os.PathLike[str] | None = None) -> int:
    """Add the bundle ``path`` (written by :func:`store_cache` or ``e2c``; default:
    ``<store root>/diffops-cache.h5``) as a read-only layer of the runtime's default store;
    returns the number of artifacts it holds."""
    return _provider("load_cache").load_cache(path)
