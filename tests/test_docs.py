"""The documentation holds together: a short README, and no link or path that leads nowhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 150
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_DOC_PATH = re.compile(r"(?<![\w./-])docs/[\w./-]+\.md\b")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    return {_anchor(m) for m in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M)}


def _links(path: Path) -> list[str]:
    return _LINK.findall(_FENCE.sub("", path.read_text(encoding="utf-8")))


def broken_links(path: Path) -> list[str]:
    """The relative links of a Markdown file whose target (or ``#anchor`` in a Markdown target)
    does not exist."""
    broken = []
    for link in _links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", link, re.I):  # http:, https:, mailto: ...
            continue
        target, _, anchor = link.partition("#")
        resolved = (path.parent / target).resolve() if target else path
        if not resolved.exists():
            broken.append(link)
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(link)
    return broken


def test_readme_is_short() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines (at most {README_MAX_LINES}): move details to docs/"
    )


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path: Path) -> None:
    assert broken_links(path) == []


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_mentioned_docs_exist(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    missing = sorted({m for m in _DOC_PATH.findall(text) if not (ROOT / m).exists()})
    assert missing == []


def test_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    (tmp_path / "there.md").write_text("# A title (with words)\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](there.md) [ok](there.md#a-title-with-words) [web](https://example.org/x)\n"
        "[gone](missing.md) [bad anchor](there.md#nope) ![img](fig.png)\n"
        "```\n[in code](ignored.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page) == ["missing.md", "there.md#nope", "fig.png"]
