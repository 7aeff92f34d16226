"""The format's bounds: what the store's readers accept, checked before anything is allocated.

A crafted file of a few kilobytes must not make a reader allocate gigabytes, recurse without
bound or accept what the writer never produces. So every declared dtype is one of
:data:`ARRAY_DTYPES` or ``<U<n>``; every offset, length and shape is checked against the bytes
actually stored (see :mod:`cache.sealed` and :mod:`cache.format`); every JSON text (the index, a
header's ``meta`` and ``arrays``, a manifest) is parsed by :func:`load_json`, which refuses nesting
deeper than :data:`MAX_JSON_DEPTH`; no file above :data:`MAX_FILE_BYTES` is opened. These are
constants of the format, not settings (docs/reliability.md lists them).
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

__all__ = [
    "ARRAY_DTYPES",
    "MAX_FILE_BYTES",
    "MAX_JSON_DEPTH",
    "array_dtype",
    "json_depth",
    "load_json",
    "unicode_width",
]

#: The largest file (artifact or bundle) the store opens: anything bigger is refused unread.
MAX_FILE_BYTES = 1 << 40
#: The deepest nesting of arrays and objects a JSON text of the format may have (the deepest the
#: writer produces is 6; Python's own recursion limit is about 1000).
MAX_JSON_DEPTH = 64
#: Every numeric dtype a record can hold, as the writer declares it (little-endian).
ARRAY_DTYPES = frozenset(
    np.dtype(t).newbyteorder("<").str
    for t in (
        np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64,
        np.uint64, np.float16, np.float32, np.float64, np.longdouble, np.complex64,
        np.complex128, np.clongdouble,
    )
)  # fmt: skip
_UNICODE = re.compile(r"<U([1-9][0-9]{0,8})")


def array_dtype(text: Any) -> np.dtype:
    """The dtype a manifest declares, if the writer can produce it: one of :data:`ARRAY_DTYPES`
    or a unicode ``<U<n>`` (whose width a reader then checks against the stored strings).
    Raises ``ValueError`` otherwise, before numpy parses anything."""
    if isinstance(text, str) and (text in ARRAY_DTYPES or _UNICODE.fullmatch(text)):
        return np.dtype(text)
    raise ValueError(f"dtype {str(text)[:40]!r} is not one the format writes")


def unicode_width(items: list[str]) -> int:
    """The width numpy gives an array of ``items`` (at least 1): what the writer declares."""
    return max(map(len, items), default=1) or 1


def json_depth(data: Any) -> int:
    """How deeply the lists and dicts of parsed JSON nest (iterative: any depth)."""
    deepest = 0
    stack = [(data, 1)] if isinstance(data, (dict, list)) else []
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest = depth
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return deepest


def load_json(text: str | bytes) -> Any:
    """``json.loads`` for the format's JSON: ``ValueError`` for invalid JSON and for nesting
    deeper than :data:`MAX_JSON_DEPTH` (which also keeps every later walk of the result, such
    as re-encoding or comparing it, far from the recursion limit)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    try:
        data = json.loads(text)  # C parser: a deep text raises RecursionError, never crashes
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    brackets = text.count("[") + text.count("{")  # a cheap bound: most texts stop here
    if brackets > MAX_JSON_DEPTH and json_depth(data) > MAX_JSON_DEPTH:
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return data
