"""Moving artifacts between layers: ``pack`` (into a new bundle), ``unpack`` and ``merge`` (into the
writable root, or into a new bundle). Every artifact is validated on the way; records are streamed,
never all held in memory.

A source that cannot be read as a whole (missing, not a store or bundle, truncated or bit-flipped
bundle) raises :class:`~cache.errors.UnavailableLayerError` before anything is written: its
artifacts are never silently left out.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .bundle import write_bundle
from .errors import CorruptArtifactError
from .layer import Layer
from .record import Record
from .store import Store, open_layer

__all__ = ["TransferReport", "iter_valid", "merge", "pack", "unpack"]

Progress = Callable[[int], None]


@dataclass
class TransferReport:
    """Per key what happened (``packed``, ``copied``, ``present``) and what went wrong
    (``missing`` or ``invalid: reason``); ``output`` is the bundle or root written."""

    output: str
    done: dict[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def _all_keys(sources: Sequence[Layer]) -> list[str]:
    """Every key of every source; raises if one cannot be read whole."""
    return sorted({k for layer in sources for k in layer.iterate()})


def iter_valid(
    sources: Sequence[Layer],
    keys: Iterable[str],
    problems: dict[str, str],
    progress: Progress | None = None,
    foreign: Callable[[str], str | None] | None = None,
) -> Iterator[tuple[Record, str]]:
    """Yield ``(record, created)`` for each key (sorted) from the first source with a valid copy;
    keys with none are recorded in ``problems`` (``foreign: ...`` for an artifact ``foreign``
    rejects, see ``Store.foreign``: every copy of a key has the same spec)."""
    for key in sorted(set(keys)):
        problem = "missing"
        for source in sources:
            try:
                record, info = source.load(key)
            except (KeyError, FileNotFoundError):
                continue
            except CorruptArtifactError as exc:
                problem = f"invalid: {exc.reason}"
                continue
            why = None if foreign is None else foreign(record.spec)
            if why:
                problems[key] = f"foreign: {why}"
                break
            yield record, info.created
            break
        else:
            problems[key] = problem
        if progress is not None:
            progress(1)


class _Incomplete(Exception):
    """Raised inside :func:`write_bundle`'s input to abandon the bundle (no file is written)."""


def _to_bundle(
    store: Store,
    output: str | os.PathLike[str],
    sources: Sequence[Layer],
    keys: Iterable[str],
    all_or_nothing: bool,
    progress: Progress | None,
) -> TransferReport:
    report = TransferReport(str(Path(output).expanduser().absolute()))

    def items() -> Iterator[tuple[Record, str]]:
        yield from iter_valid(sources, keys, report.problems, progress, store.foreign)
        if report.problems and all_or_nothing:
            raise _Incomplete

    try:
        written = write_bundle(output, items())
    except _Incomplete:
        return report
    report.done = dict.fromkeys(written, "packed")
    return report


def _into_root(
    store: Store, sources: Sequence[Layer], keys: Iterable[str], progress: Progress | None
) -> TransferReport:
    report = TransferReport(store.root.location)
    for record, created in iter_valid(sources, keys, report.problems, progress, store.foreign):
        report.done[record.key] = "copied" if store.put(record, created) else "present"
    return report


def pack(
    store: Store,
    output: str | os.PathLike[str],
    keys: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> TransferReport:
    """Bundle ``keys`` (default: every artifact of every layer) from ``store`` into ``output``;
    nothing is written if one is missing or invalid."""
    wanted = store.keys() if keys is None else list(keys)
    return _to_bundle(store, output, store.all_layers, wanted, True, progress)


def unpack(
    store: Store,
    bundle: str | os.PathLike[str],
    keys: Sequence[str] = (),
    progress: Progress | None = None,
) -> TransferReport:
    """Copy a bundle's artifacts (or only ``keys``) into the writable root, bit for bit."""
    source = open_layer(bundle)
    if source.kind != "bundle":
        from .errors import UnavailableLayerError

        raise UnavailableLayerError(str(bundle), "not a bundle file")
    available = list(source.iterate())
    return _into_root(store, [source], list(keys) or available, progress)


def merge(
    store: Store,
    sources: Sequence[str | os.PathLike[str] | Layer],
    output: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> TransferReport:
    """Merge directories and bundles into the writable root, or into a new bundle ``output``."""
    layers = [open_layer(s) for s in sources]
    keys = _all_keys(layers)
    if output is None:
        return _into_root(store, layers, keys, progress)
    return _to_bundle(store, output, layers, keys, False, progress)
