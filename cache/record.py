"""``Record``: the store's generic, immutable artifact value (named arrays plus JSON metadata)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Record", "key_for", "is_key", "canonical_meta_json"]

_KEY_RE = re.compile(r"[0-9a-f]{64}")
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*(/[A-Za-z0-9_][A-Za-z0-9_.\-]*)*")
#: numpy dtype kinds a record may hold: bool, integers, floats, complex, unicode strings.
ALLOWED_KINDS = frozenset("biufcU")


def key_for(spec_json: str) -> str:
    """The store key of a canonical spec JSON string: its SHA-256 hex digest."""
    return hashlib.sha256(spec_json.encode("utf-8")).hexdigest()


def is_key(text: str) -> bool:
    """Whether ``text`` is a well-formed key (64 lowercase hex digits)."""
    return isinstance(text, str) and _KEY_RE.fullmatch(text) is not None


def canonical_meta_json(meta: Mapping[str, Any]) -> str:
    """Deterministic JSON of ``meta`` (sorted keys, no whitespace, no NaN)."""
    return json.dumps(
        meta, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _normalise_array(name: str, value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in ALLOWED_KINDS:
        raise TypeError(
            f"array {name!r}: dtype {arr.dtype} is not allowed "
            f"(kinds {''.join(sorted(ALLOWED_KINDS))})"
        )
    if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and not np.little_endian):
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    if arr.dtype.kind == "U":  # the minimal width: what readers require (cache.limits)
        width = max(int(np.char.str_len(arr).max()), 1) if arr.size else 1
        if arr.dtype.itemsize // 4 != width:
            arr = arr.astype(f"<U{width}")
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


@dataclass(frozen=True, eq=False)
class Record:
    """One artifact: ``key``, named ``arrays`` and JSON-able ``meta``.

    ``meta["spec"]`` is the canonical spec JSON and ``key == sha256(meta["spec"])``; both are
    checked here, so a record can never be filed under the wrong key. Arrays are numeric (bool,
    int, uint, float, complex, little-endian) or numpy unicode (at their minimal width, at least
    1: wider padding carries nothing and is dropped); names are ``/``-separated words of
    ``[A-Za-z0-9_.-]``. Equality is by content: same key, same meta, and arrays with the same
    dtypes, shapes and bytes.
    """

    key: str
    arrays: Mapping[str, np.ndarray]
    meta: Mapping[str, Any]

    def __post_init__(self) -> None:
        if not is_key(self.key):
            raise ValueError(f"malformed key {self.key!r}: expected 64 lowercase hex digits")
        if not isinstance(self.meta, Mapping):
            raise TypeError("meta must be a mapping")
        spec = self.meta.get("spec")
        if not isinstance(spec, str):
            raise ValueError("meta['spec'] must be the canonical spec JSON string")
        if key_for(spec) != self.key:
            raise ValueError(f"key {self.key} is not sha256(meta['spec']) = {key_for(spec)}")
        try:
            meta = json.loads(canonical_meta_json(self.meta))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"meta is not JSON-able: {exc}") from None
        arrays: dict[str, np.ndarray] = {}
        for name in sorted(self.arrays):
            if not isinstance(name, str) or _NAME_RE.fullmatch(name) is None:
                raise ValueError(f"invalid array name {name!r}")
            arrays[name] = _normalise_array(name, self.arrays[name])
        names = set(arrays)
        for name in names:
            parts = name.split("/")
            for i in range(1, len(parts)):
                if "/".join(parts[:i]) in names:
                    raise ValueError(
                        f"array name {name!r} nests under array {'/'.join(parts[:i])!r}"
                    )
        object.__setattr__(self, "arrays", arrays)
        object.__setattr__(self, "meta", meta)

    @classmethod
    def from_spec(
        cls, spec_json: str, arrays: Mapping[str, Any], meta: Mapping[str, Any] | None = None
    ) -> Record:
        """Build a record whose key is derived from ``spec_json`` (stored as ``meta["spec"]``)."""
        full = dict(meta or {})
        if "spec" in full and full["spec"] != spec_json:
            raise ValueError("meta['spec'] differs from spec_json")
        full["spec"] = spec_json
        return cls(key_for(spec_json), dict(arrays), full)

    @property
    def spec(self) -> str:
        """The canonical spec JSON string."""
        return self.meta["spec"]

    @property
    def nbytes(self) -> int:
        """Total bytes of the arrays in memory."""
        return sum(a.nbytes for a in self.arrays.values())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record):
            return NotImplemented
        if (
            self.key != other.key
            or self.meta != other.meta
            or self.arrays.keys() != other.arrays.keys()
        ):
            return False
        return all(
            a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
            for a, b in ((self.arrays[n], other.arrays[n]) for n in self.arrays)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shapes = ", ".join(f"{n}: {a.dtype.str}{list(a.shape)}" for n, a in self.arrays.items())
        return f"Record({self.key[:12]}… | {shapes})"
