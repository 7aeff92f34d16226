"""Layer locations: splitting a layer list that mixes paths and URLs, and hiding URL credentials.

A layer list is separated by ``os.pathsep``, which on POSIX (``:``) also occurs inside URLs
(``https://``, ``user:password@``, ``host:port``, ``[::1]``). :func:`split_layers` therefore reads
each URL by its grammar (RFC 3986: ``scheme://[userinfo@]host[:port][/path]``, the host possibly
an IPv6 literal in brackets) and only splits on a separator outside it. A URL's path ends at the
next separator: percent-encode a separator inside a path (``%3A``).

A location is printed through :func:`redact`: the user name, password and query of a URL (where
tokens live) never appear in a message, a listing or a ``repr``.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

__all__ = ["is_url", "redact", "scrub", "split_layers", "url_parts"]

_SCHEME = r"[A-Za-z][A-Za-z0-9+.\-]*"
_URL_START = re.compile(_SCHEME + "://")
_HIDDEN = "***"


def is_url(location: object) -> bool:
    """Whether ``location`` is a URL (``scheme://...``) rather than a local path."""
    return isinstance(location, str) and _URL_START.match(location) is not None


@lru_cache(maxsize=4)
def _url_grammar(sep: str) -> re.Pattern[str]:
    """A URL at the start of a piece of a list separated by ``sep`` (a ``sep`` other than ``:``
    may not occur in its user information or host either)."""
    extra = "" if sep == ":" else re.escape(sep)
    return re.compile(
        rf"{_SCHEME}://"
        rf"(?:[^/?#@\[\]\s{extra}]*@)?"  # user information: may hold ':'
        rf"(?:\[[0-9A-Za-z:.%]*\]|[^:/?#@\[\]\s{extra}]*)"  # host: an IPv6 literal or a name
        rf"(?::[0-9]+)?"  # port
        rf"(?:[/?#][^{re.escape(sep)}]*)?"  # path, query, fragment: up to the next separator
    )


def split_layers(text: str, sep: str = os.pathsep) -> list[str]:
    """Split a layer list on ``sep`` (default ``os.pathsep``), keeping every URL whole.

    ``"/a:http://user:pw@[::1]:8000/store:/b.h5"`` → ``["/a", "http://user:pw@[::1]:8000/store",
    "/b.h5"]``. Empty pieces are dropped.
    """
    grammar = _url_grammar(sep)
    out: list[str] = []
    start = 0
    while start <= len(text):
        url = grammar.match(text, start) if _URL_START.match(text, start) else None
        end = url.end() if url is not None else start
        stop = text.find(sep, end)
        stop = len(text) if stop < 0 else stop
        out.append(text[start:stop])
        start = stop + len(sep)
    return [piece for piece in out if piece.strip()]


def url_parts(url: str) -> SplitResult:
    """``urllib.parse.urlsplit`` of ``url``, its port checked (``ValueError`` when out of range
    or not a number)."""
    parts = urlsplit(url)
    parts.port  # noqa: B018 - raises ValueError for a bad port
    return parts


def redact(location: str) -> str:
    """``location`` without the secrets of a URL: ``http://u:pw@h:80/s?token=x`` →
    ``http://***@h:80/s?***``. Paths and URLs without secrets are returned unchanged."""
    if not is_url(location):
        return location
    try:
        parts = urlsplit(location)
    except ValueError:
        return f"{location.split('://', 1)[0]}://{_HIDDEN}"
    netloc = parts.netloc
    if "@" not in netloc and not parts.query:
        return location
    if "@" in netloc:
        netloc = f"{_HIDDEN}@{netloc.rpartition('@')[2]}"
    query = _HIDDEN if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def scrub(text: str, url: str) -> str:
    """``text`` (an error message, say) with the secrets of ``url`` replaced by ``***``."""
    if not is_url(url):
        return text
    text = text.replace(url, redact(url))
    try:
        parts = urlsplit(url)
    except ValueError:
        return text
    netloc = parts.netloc
    secrets = [netloc.rpartition("@")[0] if "@" in netloc else "", parts.password or "",
               parts.query]  # fmt: skip
    secrets += [unquote(s) for s in secrets]
    for secret in sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, _HIDDEN)
    return text
