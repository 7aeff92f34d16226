"""The runtime's implementation of ``e2compile.diffops.store_cache``/``load_cache``.

:mod:`e2compile` declares the two reference functions but cannot reach the store; the runtime
provides them (``runtime/__init__.py`` calls :func:`e2compile.diffops.storage.provide` with this
module). Here:

* :func:`note_built` remembers every PDO spec :func:`runtime.bases.load_basis` served, and
  :func:`store_cache` writes their artifacts (from the default store, or compiled again,
  deterministically, when they were built with ``recompute=True``) into a bundle;
* :func:`load_cache` checks a bundle and adds it to the layers of the runtime's default store for
  the rest of the process (:func:`loaded_bundles`, recorded by
  :func:`e2compile.diffops.storage.record_bundle` with those ``load_cache`` recorded before the
  runtime was imported; child processes do not inherit them: give them the bundle through the
  ``cache_path`` setting or ``e2c --cache-path``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = [
    "built_specs",
    "default_path",
    "load_cache",
    "loaded_bundles",
    "note_built",
    "store_cache",
]

#: The default bundle, inside the store's writable root (never relative to the working directory).
DEFAULT_NAME = "diffops-cache.h5"


def default_path() -> Path:
    """``<store root>/diffops-cache.h5``, the root of the current settings' store."""
    from cache.settings import current

    return current().root / DEFAULT_NAME


def note_built(spec: Any) -> None:
    """Remember that this process built the PDO basis of ``spec`` (kept by
    :mod:`e2compile.diffops.storage`, which the PDO kind's ``after_build`` feeds)."""
    from e2compile.diffops.storage import note_built as note

    note(spec)


def built_specs() -> list[Any]:
    """The PDO specs built so far in this process, in first-built order."""
    from e2compile.diffops.storage import built_specs as built

    return built()


def loaded_bundles() -> tuple[str, ...]:
    """The bundles :func:`load_cache` added, in order (the default one resolved in the current
    settings' root)."""
    from e2compile.diffops.storage import loaded_bundles as recorded

    return tuple(str(default_path()) if p is None else p for p in recorded())


def _path(path: str | os.PathLike[str] | None) -> Path:
    return Path(default_path() if path is None else path).expanduser().absolute()


def store_cache(path: str | os.PathLike[str] | None = None) -> Path:
    """Write the PDO artifacts built so far in this process into the bundle ``path`` (default:
    :func:`default_path`); returns its absolute path."""
    from cache import Record
    from cache.bundle import write_bundle

    from .bases import compiler_limits, default_store

    path = _path(path)
    store = default_store()
    records = []
    for spec in sorted(built_specs(), key=lambda s: s.key):
        record = store.get(spec.key)
        if record is None:
            from e2compile.compiler import compile as compile_spec

            with compiler_limits():
                arrays, meta = compile_spec(spec).to_record()
            record = Record(spec.key, arrays, meta)
        records.append((record, None))
    write_bundle(path, records)
    return path


def load_cache(path: str | os.PathLike[str] | None = None) -> int:
    """Add the bundle ``path`` (default: :func:`default_path`) as a read-only layer of the
    runtime's default store; returns the number of artifacts it holds. ``FileNotFoundError``
    when there is no file, ``ValueError`` when it is not a readable bundle."""
    from cache.bundle import Bundle

    path = _path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no PDO cache bundle at {path}")
    try:
        n = sum(1 for _ in Bundle(path).iterate())  # the bundle's own checks: seal, format
    except Exception as exc:  # noqa: BLE001 - a foreign or corrupt file: never used
        raise ValueError(f"path: {path} is not a readable e2compile bundle ({exc})") from None
    from e2compile.diffops.storage import record_bundle

    record_bundle(str(path))
    return n
