"""Manifests: JSON files listing artifact keys and their specs.

``e2c compile --manifest`` writes one for the keys a run produced; ``e2c compile FILE`` compiles the
specs of one (so a manifest written by the offline-miss error is a command that always runs); ``gc
--keep-manifest`` and ``pack --manifest`` read the keys. Format::

    {"format": "e2compile-manifest", "version": 1, "keys": [...], "specs": {key: spec JSON},
     "failed": [...], ...}

A plain JSON list of keys is accepted wherever only keys are read.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import CacheError
from .files import create_temp
from .limits import load_json
from .record import is_key, key_for

__all__ = [
    "MANIFEST_FORMAT",
    "MANIFEST_VERSION",
    "ManifestError",
    "is_manifest",
    "read_manifest",
    "read_manifest_keys",
    "spec_summary",
    "write_manifest",
    "write_missing_specs",
]

MANIFEST_FORMAT = "e2compile-manifest"
MANIFEST_VERSION = 1


class ManifestError(CacheError, ValueError):
    """A manifest cannot be read, or is not one."""


def is_manifest(data: object) -> bool:
    """Whether parsed JSON is a manifest (an object whose ``format`` says so)."""
    return isinstance(data, dict) and data.get("format") == MANIFEST_FORMAT


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest at ``path``, checked: ``keys`` are keys, ``specs`` map each to its spec."""
    try:
        data = load_json(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc}") from None
    if not is_manifest(data):
        raise ManifestError(f'{path}: not an e2compile manifest (no "format": {MANIFEST_FORMAT!r})')
    keys, specs = data.get("keys"), data.get("specs", {})
    if not isinstance(keys, list) or not all(is_key(k) for k in keys):
        raise ManifestError(f"{path}: 'keys' must be a list of 64-hex keys")
    if not isinstance(specs, dict) or not all(
        isinstance(v, str) and key_for(v) == k for k, v in specs.items()
    ):
        raise ManifestError(f"{path}: 'specs' must map each key to the spec JSON it hashes")
    return data


def read_manifest_keys(path: str | os.PathLike[str]) -> list[str]:
    """Keys listed by a manifest or by a plain JSON list of keys."""
    try:
        data = load_json(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc}") from None
    keys = data.get("keys") if isinstance(data, dict) else data
    if not isinstance(keys, list) or not all(isinstance(k, str) and is_key(k) for k in keys):
        raise ManifestError(f"{path}: expected a manifest with a 'keys' list of 64-hex keys")
    return keys


def write_manifest(
    path: str | os.PathLike[str],
    specs: Mapping[str, str],
    failed: Sequence[str] = (),
    **extra: Any,
) -> Path:
    """Write a manifest of ``specs`` (key → spec JSON) atomically, creating parent directories."""
    path = Path(path).expanduser().absolute()
    data = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        **extra,
        "keys": list(specs),
        "specs": dict(specs),
        "failed": list(failed),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = create_temp(path.parent, path.name)
    try:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_missing_specs(specs: Mapping[str, str], root: str | os.PathLike[str]) -> Path | None:
    """Write a manifest of missing specs where a later ``e2c compile FILE`` can read it: under
    ``<root>/missing/`` when writable, else the temporary directory. ``None`` if neither works."""
    name = f"missing-{next(iter(specs))[:16]}.json"
    from .filestore import MISSING_DIR

    for directory in (Path(root) / MISSING_DIR, Path(tempfile.gettempdir())):
        try:
            return write_manifest(directory / name, specs)
        except OSError:
            continue
    return None


def spec_summary(spec_json: str | None) -> str:
    """A one-line summary of a spec JSON (generic: only the fields that are present), e.g.
    ``rot2d N=8 kernel k=5 8->16 channels``."""
    try:
        spec = load_json(spec_json) if spec_json else None
    except ValueError:
        spec = None
    if not isinstance(spec, dict):
        return "?"
    parts = [str(spec.get("family", spec.get("gspace", "?")))]
    for name, label in (("N", "N"), ("kind", ""), ("kernel_size", "k"), ("dilation", "d")):
        if name in spec and not isinstance(spec[name], (dict, list)):
            parts.append(f"{label}={spec[name]}" if label else str(spec[name]))
    sizes = []
    for name in ("in_repr", "out_repr"):
        rep = spec.get(name)
        if isinstance(rep, dict) and isinstance(rep.get("change_of_basis"), list):
            sizes.append(str(len(rep["change_of_basis"])))
    if len(sizes) == 2:
        parts.append(f"{sizes[0]}->{sizes[1]} channels")
    return " ".join(parts)
