"""Frozen records that flow through the pipeline. No behaviour beyond small derived views."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

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


# -- what the store holds ---------------------------------------------------------------------------

# An item's status: relevant enough for a digest, scored below the threshold, or left out of a digest
# because it tells the same news as an item shown (it never shows on its own later).
ItemStatus = Literal["relevant", "off_topic", "repeat"]
# What a source's last poll came to.
SourceResult = Literal["ok", "not_modified", "error", "gone"]


@dataclass(frozen=True)
class NewItem:
    """An item a poll stores for the first time: what its sources said and how it scored (the store
    gives it its id)."""

    title: str
    url: str | None
    hn_id: int | None
    hn_url: str | None
    arxiv_id: str | None
    doi: str | None
    published: str | None
    first_seen: str
    sources: tuple[str, ...]
    topics: tuple[str, ...]
    score: float
    relevance: float
    status: ItemStatus
    summary: str
    categories: tuple[str, ...]
    points: int | None
    comments: int | None
    explain: Mapping[str, Any]
    identities: frozenset[Identity] = frozenset()


@dataclass(frozen=True)
class StoredItem:
    """One stored item, as the items table holds it (fields in the table's column order)."""

    id: int
    title: str
    url: str | None
    hn_id: int | None
    hn_url: str | None
    arxiv_id: str | None
    doi: str | None
    published: str | None  # ISO 8601, UTC, when the source gives it
    first_seen: str
    updated: str | None
    sources: tuple[str, ...]
    topics: tuple[str, ...]
    score: float | None  # the source's rank score; in a digest's selection, the keep estimate
    relevance: float | None
    status: ItemStatus
    summary: str | None
    categories: tuple[str, ...]
    points: int | None
    comments: int | None
    explain: Mapping[str, Any]  # how the score came about, as the JSON output shows it
    digest_id: int | None  # the digest that carried it (or left it out as a repeat)

    @property
    def when(self) -> str:
        """The item's time for a digest's window: published, else first seen."""
        return self.published or self.first_seen

    def as_json(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class StoredEntry:
    """One library entry as stored (fields in the table's column order)."""

    id: int
    file: str
    line: int
    kind: str
    title: str | None
    date: str | None
    urls: tuple[str, ...]
    internal_links: tuple[str, ...]
    text: str | None

    def as_json(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class LibraryHit:
    """A library entry that a full-text search found."""

    id: int
    file: str
    line: int
    date: str | None
    title: str | None
    urls: tuple[str, ...]
    text: str | None

    def as_json(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class LibraryStats:
    entries: int
    links: int
    internal_links: int
    arxiv_ids: int
    hn_ids: int
    dois: int
    title_only: int
    documents: int

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class SourceState:
    """What the store remembers of a source between polls. A source never polled has its name only."""

    name: str
    kind: str | None = None
    url: str | None = None  # the address polled last (a new address in the config starts afresh)
    last_poll: str | None = None
    result: SourceResult | None = None
    error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    retry_after: str | None = None  # no request before this (the source's 429/503 Retry-After)
    cursor: str | None = None  # where the next poll of a paging source starts
    stats: Mapping[str, Any] = field(default_factory=dict)  # the last poll's counts, as its report gave them
    gone: str | None = None  # when the address answered 410 Gone
    moved_to: str | None = None  # the new address of a 301/308

    def remembered(self) -> dict[str, Any]:
        """The state as a source kind reads it when it fetches (every field by name)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _plain(value: Any) -> Any:
    """A record's value as JSON has it: tuples as lists, mappings as dicts."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value
