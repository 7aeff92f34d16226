"""Exceptions and warnings raised by the artifact store."""

from __future__ import annotations

import shlex

__all__ = [
    "CacheError",
    "CorruptArtifactError",
    "CorruptArtifactWarning",
    "LayerWarning",
    "OfflineMissError",
    "ReadOnlyStoreError",
    "StoreWriteError",
    "StoreWriteWarning",
    "UnavailableLayerError",
    "UnreadableArtifactError",
    "compile_command",
]


class CacheError(Exception):
    """Base class of every error raised by :mod:`cache`."""


class CorruptArtifactError(CacheError):
    """An artifact file is truncated, bit-flipped, schema-invalid or stored under the wrong key."""

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(f"{location}: {reason}")
        self.location = location
        self.reason = reason


class UnreadableArtifactError(CorruptArtifactError):
    """An artifact this process cannot use although it may be intact: a newer format version, or a
    file it has no permission to read.

    It is treated as a miss but never quarantined: a newer e2compile sharing the store may own it.
    """


class UnavailableLayerError(CacheError):
    """A layer cannot be read as a whole: missing, not a directory or bundle, damaged, offline."""

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(f"{location}: {reason}")
        self.location = location
        self.reason = reason


class StoreWriteError(CacheError, OSError):
    """Writing to the store failed: the disk is full, the root vanished or is not a directory."""


class ReadOnlyStoreError(StoreWriteError, PermissionError):
    """A write was attempted on a store location that cannot be written."""


def compile_command(spec_json: str) -> str:
    """The exact shell command that compiles the artifact of ``spec_json`` into the store."""
    return f"e2c compile --spec-json {shlex.quote(spec_json)}"


class OfflineMissError(CacheError, LookupError):
    """Offline mode (the ``offline`` setting) and the artifact is in none of the store's layers.

    The message stays short whatever the spec's size: the key, a summary, and a command that
    always runs (``e2c compile FILE``, where ``spec_file`` holds the spec; see
    :func:`cache.manifest.write_missing_specs`).
    """

    def __init__(
        self,
        key: str,
        spec_json: str | None = None,
        spec_file: str | None = None,
        summary: str | None = None,
    ) -> None:
        self.key = key
        self.spec_json = spec_json
        self.spec_file = spec_file
        self.summary = summary
        if spec_file is not None:
            hint = f"compile it ahead of time with:\n    e2c compile {shlex.quote(spec_file)}"
        else:
            hint = "compile it ahead of time with `e2c compile` (see `e2c compile --help`)"
        from .settings import ENV

        what = f"{key} ({summary})" if summary else key
        super().__init__(
            f"artifact {what} is not in the store and offline mode ({ENV['offline']}=1) forbids "
            f"compiling at run time; {hint}"
        )

    def __reduce__(self):
        return (type(self), (self.key, self.spec_json, self.spec_file, self.summary))


class CorruptArtifactWarning(UserWarning):
    """An invalid artifact was found: moved aside (when writable) and treated as a miss."""


class LayerWarning(UserWarning):
    """A configured read-only layer does not exist or cannot be read; it is skipped."""


class StoreWriteWarning(UserWarning):
    """A freshly compiled artifact could not be written to the store (it is still returned)."""
