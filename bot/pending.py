"""What waits for the next digest, and the person's word on it before it posts: `bot items` (the pending
items as the next digest ranks them), `bot explain` (why one item is where it is) and `bot skip` (their
"no", recorded as the item's status "skipped", never offered again).

The ranking is the digest's own: the next digest is built as a dry run (bot.digest.pipeline.build, with
its window, ranking and repeats, and extractive summaries: no network, no model) over more slots than a
digest has, and the first `digest_limit` of them are what it would post. Leaving out repeats compares
each item with every one chosen before it, so the depth is bounded (`MAX_DEPTH`); an item below it is
"further down", with the count of what waits above it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.core.config import Config
from bot.core.errors import BotError, ConfigError
from bot.core.identity import Identity, arxiv_id_from_query, looks_like_url, url_identities, with_scheme
from bot.core.ledger import DigestOptions
from bot.core.records import Headline, ItemStatus, StoredItem
from bot.digest.pipeline import build
from bot.digest.repeats import repeat_pairs
from bot.library.api import display_path
from bot.store.database import Store

DEFAULT_LIMIT = 50  # what `bot items` lists unless asked for more
MAX_DEPTH = 500  # how far down the ranking `bot items --limit` and `bot explain` look (repeats cost n x chosen)
_ITEM_ID = re.compile(r"^(?:item:|#)?(\d{1,12})$", re.IGNORECASE)


class UnknownItem(BotError):
    """No stored item answers to this id or link (exit 1: the lookup found nothing)."""


@dataclass(frozen=True)
class Ranking:
    """The next digest's ranking of the pending items, to `depth`."""

    since: str | None
    until: str | None
    digest_limit: int
    candidates: int  # relevant undigested items in the digest's window
    ranked: tuple[StoredItem, ...]  # best first; `score` is the digest's (the keep estimate)
    repeats: tuple[StoredItem, ...]  # left out as the same news as an item ranked above them
    pending: int  # relevant undigested items, in the window or not

    def rank_of(self, item_id: int) -> int | None:
        return next((n for n, item in enumerate(self.ranked, 1) if item.id == item_id), None)

    def as_json(self, limit: int | None = None) -> dict[str, Any]:
        shown = self.ranked[:limit] if limit else self.ranked
        return {"since": self.since, "until": self.until, "digest_limit": self.digest_limit,
                "candidates": self.candidates, "pending": self.pending,
                "items": [_ranked_json(item, n, self.digest_limit) for n, item in enumerate(shown, 1)],
                "more": max(0, self.candidates - len(self.repeats) - len(shown)),
                "repeats": [{"id": r.id, "title": r.title, "url": r.url} for r in self.repeats]}


def _ranked_json(item: StoredItem, rank: int, digest_limit: int) -> dict[str, Any]:
    keep = dict(item.explain.get("keep") or {})
    return {"rank": rank, "next_digest": rank <= digest_limit, "id": item.id, "title": item.title, "url": item.url,
            "score": keep.get("keep", item.score), "source_score": keep.get("source_score"), "kind": keep.get("kind"),
            "relevance": item.relevance, "sources": list(item.sources), "topics": list(item.topics),
            "published": item.when}


def nothing_stored(config: Config) -> Ranking:
    """The ranking before any poll made a database (which asking must not create)."""
    return Ranking(None, None, config.digest_limit, 0, (), (), 0)


def no_database(config: Config) -> UnknownItem:
    return UnknownItem(f"No database yet at {config.db}: no poll has stored any item (`bot poll` does)")


def ranking(config: Config, store: Store, now: datetime, depth: int = DEFAULT_LIMIT) -> Ranking:
    """The pending items as the next digest ranks them, the first `depth` of them (at least a digest's
    worth, at most MAX_DEPTH)."""
    depth = max(config.digest_limit, min(depth, MAX_DEPTH))
    # A listing reads no linked pages (the articles stage would fetch them): no network, as the help says.
    # Article text is not used for ranking, so the order is the digest's all the same.
    listing = replace(config, articles_enabled=False)
    outcome = build(listing, store, now, DigestOptions(dry_run=True, limit=depth))
    by_id = store.items_by_id([*(i.id for i in outcome.items), *outcome.repeat_ids])
    ranked = []
    for shown in outcome.items:  # the stored record, with the digest's score and its explanation
        stored = by_id[shown.id]
        ranked.append(replace(stored, score=shown.score, explain=shown.explain))
    return Ranking(outcome.since, outcome.until, config.digest_limit, int(outcome.stats.get("candidates", 0)),
                   tuple(ranked), tuple(by_id[i] for i in outcome.repeat_ids if i in by_id), store.count_pending())


# -- finding one item by what the person typed --------------------------------------------------------


def parse_reference(text: str) -> int | set[Identity]:
    """An item id (`551`, `item:551`, `#551`), or the identities of a link or an arXiv id; a ConfigError
    (exit 2: a usage mistake) for anything else."""
    q = text.strip()
    found = _ITEM_ID.match(q)
    if found:
        return int(found.group(1))
    if looks_like_url(q):
        url = with_scheme(q)
        if url:
            return url_identities(url)
    arxiv = arxiv_id_from_query(q)
    if arxiv:
        return {Identity("arxiv", arxiv)}
    raise ConfigError(f"{text!r} is neither an item id (like 551, as `bot items` shows) nor a link")


def resolve(store: Store, text: str) -> StoredItem:
    """The stored item an id or any spelling of its link names (canonical URL, arXiv id, HN id, DOI)."""
    ref = parse_reference(text)
    if isinstance(ref, int):
        item = store.item(ref)
        if item is None:
            raise UnknownItem(f"No stored item has the id {ref}; `bot items` lists the pending ones")
        return item
    owners = sorted({owner_id for _, owner, owner_id in store.identity_owners(ref) if owner == "item"})
    if not owners:
        raise UnknownItem(f"No stored item has the link {text.strip()}; no poll brought it (`bot library check` "
                          "says whether your library has it)")
    # A link that two items share (a poll merged them later): the first stored is the one the digest ranks.
    item = store.item(owners[0])
    if item is None:  # deleted between the two reads
        raise UnknownItem(f"No stored item has the link {text.strip()}")
    return item


# -- bot explain ---------------------------------------------------------------------------------------

_STATUS_WORDS = {
    "off_topic": "off-topic: its relevance is below [bot] relevance_threshold, so no digest offers it",
    "repeat": "left out of a digest as the same news as an item it showed",
    "skipped": "skipped by you (`bot skip`): never offered again",
    "picked": "added to your log by you (`bot add`): your pick, not offered again",
    "known": "your library has it (a line added after a poll stored it): not offered again",
}


@dataclass(frozen=True)
class Explanation:
    item: StoredItem
    identities: tuple[Identity, ...]
    matches: tuple[dict[str, Any], ...]  # library entries and other items sharing one of its identities
    status: str  # pending | in a digest | the item status
    where: str  # one sentence: where it is and why
    rank: int | None = None
    keep: Mapping[str, Any] = field(default_factory=dict)
    threshold: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {"item": self.item.as_json(), "status": self.status, "where": self.where, "rank": self.rank,
                "identities": [f"{i.kind}:{i.value}" for i in self.identities], "matches": list(self.matches),
                "score": score_parts(self.item, self.keep, self.threshold)}


def score_parts(item: StoredItem, keep: Mapping[str, Any], threshold: float) -> dict[str, Any]:
    """Each part of the item's score as the poll stored it (bot.relevance.score's `explain`), then the
    digest's ranking of it (bot.relevance.keep), when it is pending."""
    parts = {k: v for k, v in item.explain.items() if k != "keep"}
    return {"relevance": item.relevance, "relevance_threshold": threshold, "source_score": item.score,
            "parts": parts, "keep": dict(keep) or None}


def explain(config: Config, store: Store, now: datetime, text: str) -> Explanation:
    item = resolve(store, text)
    identities = tuple(sorted(store.item_identities(item.id)))
    matches = tuple(_matches(store, item, store.identity_owners(identities)))
    common: dict[str, Any] = {"item": item, "identities": identities, "matches": matches,
                              "threshold": config.relevance_threshold}
    if item.digest_id is not None:
        digest = store.digest(item.digest_id)
        when = f" of {digest.date}" if digest else ""
        how = "left out as a repeat of an item" if item.status == "repeat" else "carried"
        return Explanation(**common, status="digested", where=f"Digest {item.digest_id}{when} {how} it.")
    if item.status != "relevant":
        why = _STATUS_WORDS.get(item.status, f"its status is {item.status!r}, which no digest offers")
        return Explanation(**common, status=item.status, where=f"Not pending: {why}.")
    board = ranking(config, store, now, MAX_DEPTH)
    rank = board.rank_of(item.id)
    if rank is not None:
        mine = board.ranked[rank - 1]
        nxt = "in the next digest" if rank <= board.digest_limit else \
            f"waiting: the next digest shows the top {board.digest_limit}"
        return Explanation(**common, status="pending", rank=rank, keep=mine.explain.get("keep") or {},
                           where=f"Pending, rank {rank} of {board.candidates}: {nxt}.")
    if any(r.id == item.id for r in board.repeats):
        same = _repeats_whom(board, item)
        whom = f" (item {same.id}: {same.title})" if same is not None else ""
        return Explanation(**common, status="pending", where="Pending, but the next digest leaves it out as the "
                                                              f"same news as an item ranked above it{whom}.")
    window = [w for w in (board.since and f"from {board.since}", board.until and f"until {board.until}") if w]
    if window and not _in_window(item, board.since, board.until):
        return Explanation(**common, status="pending", where=f"Pending, but outside the digest's window "
                                                              f"({' '.join(window)}), so no digest offers it.")
    return Explanation(**common, status="pending", where=f"Pending, ranked below {len(board.ranked)} of "
                                                          f"{board.candidates}: far from the next digest.")


def _repeats_whom(board: Ranking, item: StoredItem) -> Headline | None:
    """The ranked item whose news this one repeats, by the digest's own rule (bot.digest.repeats)."""
    headlines = [Headline(i.id, i.title) for i in board.ranked]
    _, pairs = repeat_pairs([*headlines, Headline(item.id, item.title)], len(headlines) + 1)
    return next((chosen for left_out, chosen in pairs if left_out.id == item.id), None)


def _in_window(item: StoredItem, since: str | None, until: str | None) -> bool:
    return (since is None or item.when >= since) and (until is None or item.when < until)


def _matches(store: Store, item: StoredItem,
             owners: Iterable[tuple[Identity, str, int]]) -> list[dict[str, Any]]:
    """What shares an identity with the item: library entries (where in which document) and other
    stored items (an item merged into this one shares its identities; the same link, stored twice)."""
    found: dict[tuple[str, int], dict[str, Any]] = {}
    for ident, owner, owner_id in owners:
        if owner == "item" and owner_id == item.id:
            continue
        key = (owner, owner_id)
        if key not in found:
            if owner == "entry":
                entry = store.library_entry(owner_id)
                found[key] = {"owner": "library", "id": owner_id, "title": entry.title if entry else None,
                              "where": f"{display_path(Path(entry.file))}:{entry.line}" if entry else None,
                              "rules": []}
            else:
                other = store.item(owner_id)
                found[key] = {"owner": "item", "id": owner_id, "title": other.title if other else None,
                              "where": f"item:{owner_id}", "rules": []}
        found[key]["rules"].append(ident.kind)
    return list(found.values())


# -- bot skip --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SkipResult:
    query: str
    id: int
    title: str
    status: str  # skipped | already skipped; with --undo: pending again | off-topic again | not skipped

    def as_json(self) -> dict[str, Any]:
        return {"query": self.query, "id": self.id, "title": self.title, "status": self.status}


def skip(store: Store, texts: Sequence[str]) -> list[SkipResult]:
    """Every reference is looked up before anything changes: one that is malformed (exit 2), unknown,
    or already in a digest (exit 1) skips nothing at all, so a typo never half-applies a list."""
    items = [(text, resolve(store, text)) for text in texts]
    for text, item in items:
        if item.digest_id is not None:
            raise BotError(f"{text} (item {item.id}) already went out in digest {item.digest_id}; skipping it now "
                           "changes nothing, so nothing was skipped")
        if item.status == "picked":
            raise BotError(f"{text} (item {item.id}) is in your log already (`bot add`); remove its line there "
                           "instead; nothing was skipped")
    changed = set(store.mark_items([item.id for _, item in items], "skipped"))
    return [SkipResult(text, item.id, item.title, "skipped" if item.id in changed else "already skipped")
            for text, item in items]


def unskip(store: Store, texts: Sequence[str], threshold: float) -> list[SkipResult]:
    """`bot skip --undo`: a skip taken back. The item is pending again if it is relevant (off-topic if
    it never was); an item that was not skipped is left as it is."""
    items = [(text, resolve(store, text)) for text in texts]
    back: dict[int, str] = {}
    for _, item in items:
        if item.status == "skipped":
            status: ItemStatus = "relevant" if (item.relevance or 0.0) >= threshold else "off_topic"
            if store.mark_items([item.id], status, only_from="skipped"):
                back[item.id] = "pending again" if status == "relevant" else "off-topic again"
    return [SkipResult(text, item.id, item.title, back.get(item.id, "not skipped")) for text, item in items]
