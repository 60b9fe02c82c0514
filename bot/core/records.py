"""Frozen records that flow through the pipeline. No behaviour beyond small derived views."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.identity import Identity


@dataclass(frozen=True)
class LibraryEntry:
    """One line of a reading document that names something: a link, a title, or both."""

    file: str
    line: int
    kind: str  # link | bare-url | title-only | admonition | internal
    title: str | None
    urls: tuple[str, ...]
    identities: frozenset[Identity]
    date: str | None = None  # ISO date when the document gives one
    internal_links: tuple[str, ...] = ()
    text: str = ""
    ignored_links: tuple[str, ...] = ()  # links on the line that are not URLs (`http://[your-host]/`)


@dataclass(frozen=True)
class FeedItem:
    """One entry as a source reported it, already normalized to plain fields."""

    source: str
    title: str
    url: str | None
    published: str | None  # ISO 8601, UTC
    summary: str = ""
    hn_id: int | None = None
    hn_url: str | None = None
    arxiv_id: str | None = None
    doi: str | None = None
    points: int | None = None
    comments: int | None = None
    categories: tuple[str, ...] = ()
    identities: frozenset[Identity] = field(default_factory=frozenset)
    version: int = 1  # arXiv version; above 1 is a replacement of an earlier paper


@dataclass(frozen=True)
class Match:
    """Why something is known: the rule that fired and what it matched."""

    rule: str  # arxiv | hn | doi | url | title | fuzzy_title
    owner: str  # entry | item
    owner_id: int
    value: str
