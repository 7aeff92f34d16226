"""``store_cache``/``load_cache``: the reference library's PDO cache functions, backed by the store.

PDO bases live in the artifact store like every compiled basis, so these two functions are only
kept so that ported code runs unchanged:

* :func:`store_cache` writes a bundle (a sealed HDF5 file, the store's transfer format) holding
  every PDO artifact this process has built or loaded so far;
* :func:`load_cache` adds such a bundle as a read-only layer of the default store (by appending it
  to ``E2C_CACHE_PATH``, so child processes see it too): the next layers built find their PDOs
  there. The file is checked first; a missing or foreign file is an error.

Unlike the rest of :mod:`e2compile`, these two import the ``cache`` package (lazily, when called).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

__all__ = ["store_cache", "load_cache", "note_built", "built_specs"]

#: The default bundle, inside the store's writable root (never relative to the working directory).
DEFAULT_NAME = "diffops-cache.h5"


def default_path() -> Path:
    """``<store root>/diffops-cache.h5``, the store root being ``E2C_CACHE_DIR`` or the platform's
    user cache directory."""
    from cache.store import default_root

    return default_root() / DEFAULT_NAME


_BUILT: dict[str, Any] = {}
_LOCK = threading.Lock()


def note_built(spec: Any) -> None:
    """Remember that this process built (compiled or loaded) the PDO basis of ``spec``."""
    if getattr(spec, "kind", None) == "pdo" and spec.keyable:
        with _LOCK:
            _BUILT.setdefault(spec.key, spec)


def built_specs() -> list[Any]:
    """The PDO specs built so far in this process, in first-built order."""
    with _LOCK:
        return list(_BUILT.values())


def store_cache(path: str | os.PathLike[str] | None = None) -> Path:
    """Write the PDO artifacts built so far in this process into the bundle ``path`` (default:
    :func:`default_path`).

    Returns the bundle's absolute path. Artifacts are read from the default store (or compiled
    again, deterministically, when they were built with ``recompute=True``).
    """
    from cache import Record, Store
    from cache.bundle import write_bundle

    from ..compiler import compile as compile_spec

    path = Path(default_path() if path is None else path).expanduser().absolute()
    store = Store()
    records = []
    for spec in sorted(built_specs(), key=lambda s: s.key):
        record = store.get(spec.key)
        if record is None:
            arrays, meta = compile_spec(spec).to_record()
            record = Record(spec.key, arrays, meta)
        records.append((record, None))
    write_bundle(path, records)
    return path


def load_cache(path: str | os.PathLike[str] | None = None) -> int:
    """Add the bundle ``path`` (written by :func:`store_cache` or ``e2c``; default:
    :func:`default_path`) as a read-only layer of the default store; returns the number of
    artifacts it holds."""
    from cache.bundle import Bundle

    path = Path(default_path() if path is None else path).expanduser().absolute()
    if not path.is_file():
        raise FileNotFoundError(f"path: no PDO cache bundle at {path}")
    try:
        n = sum(1 for _ in Bundle(path).iterate())  # the bundle's own checks: seal, format
    except Exception as exc:  # noqa: BLE001 - a foreign or corrupt file: never used
        raise ValueError(f"path: {path} is not a readable e2compile bundle ({exc})") from None
    layers = [p for p in os.environ.get("E2C_CACHE_PATH", "").split(os.pathsep) if p.strip()]
    if str(path) not in layers:
        os.environ["E2C_CACHE_PATH"] = os.pathsep.join([*layers, str(path)])
    return n
