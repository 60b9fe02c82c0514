"""Frozen records that flow through the pipeline. No behaviour beyond small derived views."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, TypedDict

from bot.core.identity import Identity

HN_ITEM_URL = "https://news.ycombinator.com/item?id={}"


@dataclass(frozen=True)
class Discussion:
    """Where an item is discussed: one thread on one site (a Hacker News item today). A digest shows it
    as "[<label> thread](url)"; a second site (Lobsters, say) is one more constructor like `hn`, and
    the templates need no change.

    An item's points and comments stay on the item, not here: they are the source's signals, which
    scoring and ranking read whether or not there is a thread (Hugging Face Daily Papers reports
    upvotes and comments with none), and they climb from poll to poll while the thread stays the same
    record; so two reports of one thread are equal Discussions and the JSON keeps `points` and
    `comments` where they are."""

    site: str  # "hn"
    id: str  # the thread's id on its site
    url: str
    label: str  # the site's name in a digest: "HN"

    @classmethod
    def hn(cls, item_id: int | str) -> Discussion:
        """A Hacker News thread by its item id (36064568)."""
        number = int(item_id)
        return cls(site="hn", id=str(number), url=HN_ITEM_URL.format(number), label="HN")

    @property
    def hn_id(self) -> int | None:
        """The HN item number, when the thread is on HN."""
        return int(self.id) if self.site == "hn" else None

    @property
    def hn_url(self) -> str | None:
        """The thread's link, when the thread is on HN."""
        return self.url if self.site == "hn" else None

    @property
    def identity(self) -> Identity:
        """The thread as an identity of the item (`hn:36064568`): two reports of it are one item."""
        return Identity(self.site, self.id)

    def as_json(self) -> dict[str, str]:
        return {"site": self.site, "id": self.id, "url": self.url, "label": self.label}


class Discussed:
    """`hn_id` and `hn_url`, read from an item's `discussion`, for the readers that need only the HN
    number (scoring's HN rules, identity keys, ranking by kind) and for the JSON output, which keeps them."""

    discussion: Discussion | None

    @property
    def hn_id(self) -> int | None:
        return self.discussion.hn_id if self.discussion is not None else None

    @property
    def hn_url(self) -> str | None:
        return self.discussion.hn_url if self.discussion is not None else None


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
class FeedItem(Discussed):
    """One entry as a source reported it, already normalized to plain fields."""

    source: str
    title: str
    url: str | None
    published: str | None  # ISO 8601, UTC
    summary: str = ""
    discussion: Discussion | None = None  # its thread (an HN story's own, or the one it links)
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
# because it tells the same news as an item shown (it never shows on its own later); "known": the library
# has it since it was stored (a line the person wrote by hand); or the person's own word on it before any
# digest: "skipped" (`bot skip`, their "no") or "picked" (`bot add` put it in the log, their "yes").
# None of the last three is offered again.
ItemStatus = Literal["relevant", "off_topic", "repeat", "known", "skipped", "picked"]
# What a source's last poll came to.
SourceResult = Literal["ok", "not_modified", "error", "gone"]


@dataclass(frozen=True)
class NewItem(Discussed):
    """An item a poll stores for the first time: what its sources said and how it scored (the store
    gives it its id)."""

    title: str
    url: str | None
    discussion: Discussion | None
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


class ItemUpdate(TypedDict, total=False):
    """What a poll's refresh or an HN thread lookup changes of a stored item, by StoredItem's names."""

    updated: str
    sources: tuple[str, ...]
    points: int
    comments: int
    discussion: Discussion
    arxiv_id: str
    summary: str
    score: float
    explain: Mapping[str, Any]


@dataclass(frozen=True)
class StoredItem(Discussed):
    """One stored item, as the items table holds it (fields in the table's column order; its discussion
    is the columns hn_id and hn_url)."""

    id: int
    title: str
    url: str | None
    discussion: Discussion | None
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
        """Every field by name, the discussion as `hn_id` and `hn_url` (the keys the JSON output has
        always had) with the record beside them."""
        found: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "discussion":
                found.update(discussion_json(self.discussion))
            else:
                found[f.name] = _plain(getattr(self, f.name))
        return found


def discussion_json(discussion: Discussion | None) -> dict[str, Any]:
    """An item's discussion in its JSON output: `hn_id` and `hn_url` as always (null off HN), then the
    record itself (or null)."""
    return {"hn_id": discussion.hn_id if discussion else None, "hn_url": discussion.hn_url if discussion else None,
            "discussion": discussion.as_json() if discussion else None}


def discussion_from_json(data: Mapping[str, Any]) -> Discussion | None:
    """The discussion of an item's JSON: its `discussion` object, else (JSON written before the record
    existed) its `hn_id` and `hn_url`."""
    found = data.get("discussion")
    if isinstance(found, Mapping):
        return Discussion(site=str(found["site"]), id=str(found["id"]), url=str(found["url"]),
                          label=str(found["label"]))
    return hn_discussion(data.get("hn_id"), data.get("hn_url"))


def hn_discussion(hn_id: int | str | None, hn_url: str | None) -> Discussion | None:
    """The HN thread that an `hn_id` and `hn_url` name (the items table's columns, the keys of JSON
    written before the record existed): None without an id; the link as it was written."""
    if not hn_id:
        return None
    thread = Discussion.hn(hn_id)
    return replace(thread, url=hn_url) if hn_url and hn_url != thread.url else thread


class _FieldsAsJson:
    """`as_json`: every field of a record, in order, tuples as lists (what `--json` prints)."""

    def as_json(self) -> dict[str, Any]:
        return {name: _plain(value) for name, value in vars(self).items()}


@dataclass(frozen=True)
class StoredEntry(_FieldsAsJson):
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


@dataclass(frozen=True)
class LibraryHit(_FieldsAsJson):
    """A library entry that a full-text search found."""

    id: int
    file: str
    line: int
    date: str | None
    title: str | None
    urls: tuple[str, ...]
    text: str | None


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


# -- the LLM summary cache and HN thread lookups ------------------------------------------------------

# What a request for a summary came to: a summary, an answer that validation rejected, or a failure.
SummaryStatus = Literal["ok", "rejected", "error"]


@dataclass(frozen=True)
class CachedSummary:
    """One cached answer for an item, model and prompt version (bot.digest.llm): never asked again,
    except a failure, some minutes later."""

    key: str
    model: str
    prompt_version: str
    status: SummaryStatus
    text: str | None
    prompt_tokens: int
    completion_tokens: int
    reason: str | None
    created: str | None
    endpoint: str | None = None  # a failure's: the fingerprint of the endpoint and key it came from


@dataclass(frozen=True)
class TokenUsage(_FieldsAsJson):
    """What the summary cache holds, for `bot status`: summaries made, tokens spent, answers rejected,
    requests that failed."""

    summaries: int
    prompt_tokens: int
    completion_tokens: int
    rejected: int
    failed: int


@dataclass(frozen=True)
class HnLookup:
    """When an item's HN thread was last looked for, and the thread found then (if any)."""

    item_id: int
    checked: str
    hn_id: int | None


# -- what a digest's selection ranks ------------------------------------------------------------------


@dataclass(frozen=True)
class RankInput:
    """What ranking a digest's candidates needs of each (bot.relevance.keep): the score and whether it
    has an HN thread or an arXiv id (its kind)."""

    id: int
    score: float | None
    hn_id: int | None
    arxiv_id: str | None


@dataclass(frozen=True)
class Headline:
    """What leaving out repeats needs of a candidate (bot.digest.repeats): its id and title."""

    id: int
    title: str | None


# -- the text of the page an item links to (bot.articles, issue 28) -----------------------------------
TextSource = Literal["feed", "abstract", "article", "none"]  # where an item's text came from
ArticleStatus = Literal["ok", "none"]


@dataclass(frozen=True)
class CachedArticle:
    """What reading one linked URL gave, kept per URL (bot.store.articles): the page's main text, or
    none and why. `refetch_after` is when it may be asked again (conditionally, with etag and
    last_modified); a result is never fetched twice before then, so a dry run and the real run share it."""

    url: str
    kind: str  # html | arxiv | github | pdf | other
    status: ArticleStatus
    text: str | None
    reason: str | None  # why there is no text ("a PDF", "HTTP 404", "no readable text")
    etag: str | None
    last_modified: str | None
    fetched: str
    refetch_after: str


@dataclass(frozen=True)
class ItemText:
    """The text an item's summary is made from, and where it came from (`text_source` in the digest JSON)."""

    source: TextSource
    text: str | None
    note: str | None = None  # said once in the item's explanation: why there is no article text

    @property
    def chars(self) -> int:
        return len(self.text or "")
