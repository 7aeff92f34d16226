"""Every setting of e2compile in one value, :class:`Settings`, read from the environment by
:func:`from_environment` (the only reader of ``os.environ``; nothing writes it).

========================= ========= ================================================================
variable                  default   meaning
========================= ========= ================================================================
``E2C_CACHE_DIR``         see right the writable store root (default: the platform's user cache
                                    directory, e.g. ``~/.cache/e2compile``; never the working one)
``E2C_CACHE_PATH``        (none)    extra read-only layers: directories, bundle files or URLs,
                                    separated by ``os.pathsep`` (:mod:`cache.locations`)
``E2C_OFFLINE``           ``0``     ``1/true/yes/on``: never compile at run time (a miss is an
                                    error); ``0/false/no/off`` or empty: online
``E2C_MAX_BASIS_MB``      ``1024``  the compiler's bound on a basis and on every intermediate of
                                    its compile, in MiB (``e2c compile --max-size``)
``E2C_MAX_IRREPS``        ``20000`` the compiler's bound on the irreps of a group
``E2C_MEMO_MB``           ``256``   the runtime's in-process artifact memo, in MiB (``0``: off)
``E2C_REMOTE_TIMEOUT_S``  ``30``    seconds a remote layer may take to connect, or stall in a read
``E2C_REMOTE_DEADLINE_S`` ``600``   seconds one remote operation (a file, a listing) takes at most
``E2C_REMOTE_MAX_MB``     ``4096``  the largest file fetched from a remote layer, in MiB: 4 times
                                    the basis bound, at least 4096 (an artifact holds its blocks
                                    and changes of basis, within that bound, and smaller columns);
                                    a larger announced length is refused before a byte is read
========================= ========= ================================================================

A value travels explicitly: ``Store(settings=...)``, the runtime's default store, the workers of
``e2c compile``. :func:`current` is the value in effect: that of the innermost :func:`use` block
(``e2c`` enters one with its global options), else the environment's. The compiler limits are
``None`` unless set: the compiler's own defaults apply (the compiler never reads settings; the
runtime passes the limits in).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from .locations import redact, split_layers

__all__ = ["ENV", "Settings", "SettingsError", "current", "from_environment", "parse_bool", "use"]

#: The environment variable of each field of :class:`Settings`: the one place the names are written.
ENV: Mapping[str, str] = {
    "cache_dir": "E2C_CACHE_DIR",
    "cache_path": "E2C_CACHE_PATH",
    "offline": "E2C_OFFLINE",
    "max_basis_mb": "E2C_MAX_BASIS_MB",
    "max_irreps": "E2C_MAX_IRREPS",
    "memo_mb": "E2C_MEMO_MB",
    "remote_timeout_s": "E2C_REMOTE_TIMEOUT_S",
    "remote_deadline_s": "E2C_REMOTE_DEADLINE_S",
    "remote_max_mb": "E2C_REMOTE_MAX_MB",
}
#: The default bound on a remote file, in MiB, when neither it nor the basis bound is set.
DEFAULT_REMOTE_MAX_MB = 4096
#: A remote file may be this many times the basis bound (``max_basis_mb``).
REMOTE_BASIS_FACTOR = 4

_TRUE = ("1", "true", "t", "yes", "y", "on")
_FALSE = ("", "0", "false", "f", "no", "n", "off")


class SettingsError(ValueError):
    """A setting has a value of the wrong form; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Where the store lives and the bounds every part of e2compile works within (see the module
    documentation for each field's variable, default and meaning). Immutable and hashable:
    derive variants with ``dataclasses.replace``."""

    cache_dir: Path | None = None
    cache_path: tuple[str, ...] = ()
    offline: bool = False
    max_basis_mb: float | None = None
    max_irreps: int | None = None
    memo_mb: float = 256.0
    remote_timeout_s: float = 30.0
    remote_deadline_s: float = 600.0
    remote_max_mb: float | None = None

    def __post_init__(self) -> None:
        if self.cache_dir is not None and not isinstance(self.cache_dir, Path):
            object.__setattr__(self, "cache_dir", Path(self.cache_dir))
        object.__setattr__(self, "cache_path", tuple(str(x) for x in self.cache_path))
        for name in ("max_basis_mb", "max_irreps", "remote_timeout_s", "remote_deadline_s",
                     "remote_max_mb", "memo_mb"):  # fmt: skip
            value = getattr(self, name)
            if value is None:
                continue
            low = 0 if name == "memo_mb" else None
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SettingsError(f"{name} must be a number, got {value!r}")
            if not math.isfinite(value) or (value < low if low is not None else value <= 0):
                bound = ">= 0" if low is not None else "> 0"
                raise SettingsError(f"{name} must be a finite number {bound}, got {value!r}")

    def __repr__(self) -> str:  # URLs may carry credentials: never show them
        fields = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "cache_path":
                value = tuple(redact(x) for x in value)
            fields.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(fields)})"

    @property
    def root(self) -> Path:
        """The writable root: ``cache_dir``, else the platform's user cache directory."""
        if self.cache_dir is not None:
            return self.cache_dir.expanduser()
        import platformdirs  # only when no directory is set (its import is not free)

        return Path(platformdirs.user_cache_dir("e2compile", appauthor=False))

    @property
    def remote_max_bytes(self) -> int:
        """The largest file a remote layer fetches (see ``E2C_REMOTE_MAX_MB``)."""
        if self.remote_max_mb is not None:
            return int(self.remote_max_mb * 2**20)
        basis = REMOTE_BASIS_FACTOR * (self.max_basis_mb or 0)
        return int(max(DEFAULT_REMOTE_MAX_MB, basis) * 2**20)


def parse_bool(text: str, name: str) -> bool:
    """``1/true/t/yes/y/on`` → ``True``, ``0/false/f/no/n/off`` or empty → ``False`` (any case);
    anything else raises :class:`SettingsError` naming ``name``."""
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{name}={text!r}: expected one of 1/true/yes/on or 0/false/no/off")


def _number(name: str, text: str, what: str, minimum: float = 0.0, strict: bool = True) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < minimum or (strict and value == minimum):
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise SettingsError(f"{name}={text!r}: expected {what}, a finite number {bound}")
    return value


def from_environment(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings the environment (``os.environ`` unless given) names; an unset or empty
    variable keeps its default. Raises :class:`SettingsError` naming a malformed variable."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for field, name in ENV.items():
        text = env.get(name, "").strip()
        if field == "offline":
            values[field] = parse_bool(text, name)
        elif not text:
            continue
        elif field == "cache_dir":
            values[field] = Path(text).expanduser()
        elif field == "cache_path":
            values[field] = tuple(split_layers(text))
        elif field == "max_irreps":
            count = _number(name, text, "a count of irreps", 1, strict=False)
            if count != int(count):
                raise SettingsError(f"{name}={text!r}: expected a whole count of irreps")
            values[field] = int(count)
        elif field == "memo_mb":
            what = "a size in MiB (0 turns the memo off)"
            values[field] = _number(name, text, what, strict=False)
        else:
            unit = "seconds" if field.endswith("_s") else "a size in MiB"
            values[field] = _number(name, text, unit)
    return Settings(**values)


_ACTIVE: contextvars.ContextVar[Settings | None] = contextvars.ContextVar(
    "e2c_settings", default=None
)


_PARSED: tuple[tuple[str | None, ...], Settings] | None = None


def current() -> Settings:
    """The settings in effect: the innermost :func:`use` block's, else :func:`from_environment`
    (the variables are looked up at each call, so a changed environment counts; they are parsed
    again only when one changed)."""
    active = _ACTIVE.get()
    if active is not None:
        return active
    global _PARSED
    raw = tuple(os.environ.get(name) for name in ENV.values())
    parsed = _PARSED
    if parsed is None or parsed[0] != raw:
        given = {name: text for name, text in zip(ENV.values(), raw) if text is not None}
        parsed = _PARSED = (raw, from_environment(given))
    return parsed[1]


@contextlib.contextmanager
def use(settings: Settings) -> Iterator[Settings]:
    """Make ``settings`` the :func:`current` ones inside the block (this thread and the tasks it
    starts with a copy of its context)."""
    if not isinstance(settings, Settings):
        raise TypeError(f"'settings' must be a Settings, got {type(settings).__name__}")
    token = _ACTIVE.set(settings)
    try:
        yield settings
    finally:
        _ACTIVE.reset(token)
