"""The ``Layer`` protocol every store location implements, and the types layers share.

A layer is one place artifacts can come from: a directory (:class:`~cache.filestore.FileStore`),
a bundle file (:class:`~cache.bundle.Bundle`) or a remote directory or bundle
(:class:`~cache.remote.RemoteLayer`). ``Store`` searches a writable root and then its read-only
layers through this interface only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .record import Record
from .sealed import ArtifactInfo

__all__ = ["Description", "Layer", "VerifyResult", "WritableLayer", "bundle_member"]


def bundle_member(location: str, key: str) -> str:
    """How an artifact inside a bundle is named in messages: ``<bundle>:/artifacts/<key>``."""
    return f"{location}:/artifacts/{key}"


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of verifying one artifact (``key`` is ``None`` for a whole unreadable layer).

    ``spec`` is the verified artifact's spec when the layer has it at hand; ``foreign`` marks an
    intact artifact that this process does not count as valid (see ``Store.foreign``).
    """

    key: str | None
    location: str
    ok: bool
    reason: str = ""
    quarantined_to: str | None = None
    spec: str | None = None
    foreign: bool = False


@dataclass(frozen=True)
class Description:
    """What a listing shows of one artifact: read from its header, never from its arrays.

    ``info`` is ``None`` (and ``reason`` says why) when the header is invalid. ``size`` is the file
    size, or for an artifact inside a bundle the bytes of its arrays. ``foreign`` says why an
    intact artifact is not valid for this process (see ``Store.foreign``), else ``""``.
    """

    key: str
    location: str
    layer: str
    layer_kind: str
    size: int | None
    info: ArtifactInfo | None
    reason: str = ""
    foreign: str = ""

    @property
    def valid(self) -> bool:
        return self.info is not None and not self.foreign


@runtime_checkable
class Layer(Protocol):
    """A source of artifacts. ``kind`` is ``"directory"``, ``"bundle"`` or ``"remote"``.

    ``get`` is lenient (an invalid artifact is reported once and is a miss); ``load`` and
    ``iterate`` are strict: they raise :class:`~cache.errors.CorruptArtifactError` for what cannot
    be read whole, ``KeyError``/``FileNotFoundError`` for what is absent.
    """

    kind: str
    writable: bool

    @property
    def location(self) -> str: ...

    def get(self, key: str) -> Record | None:
        """The validated record of ``key``, or ``None``."""

    def contains(self, key: str) -> bool:
        """Whether the layer holds something under ``key`` (not validated)."""

    def iterate(self) -> Iterator[str]:
        """Every key, sorted; raises when the layer as a whole cannot be read."""

    def keys(self) -> list[str]:
        """Every key, sorted; empty (with a warning) when the layer cannot be read."""

    def load(self, key: str) -> tuple[Record, ArtifactInfo]:
        """Read and fully validate ``key``, with no side effect."""

    def describe(self, key: str) -> Description:
        """The header of ``key`` (no array data is read)."""

    def verify(self, quarantine: bool = True) -> Iterator[VerifyResult]:
        """Validate everything the layer holds."""


@runtime_checkable
class WritableLayer(Layer, Protocol):
    """A layer that can be written (the store's root)."""

    def put(self, record: Record, created: str | None = None) -> bool:
        """Store ``record`` unless present; ``True`` when written."""
