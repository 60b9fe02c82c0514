"""`bot poll`: sources -> normalize -> merge/dedupe -> score -> store, with a report per source.

All feeds are fetched concurrently through one Fetcher; parsing, deciding and scoring happen after,
and every write of a poll lands in one transaction (a crash mid-poll stores nothing half-way).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot.core.config import Config, FeedConfig
from bot.core.errors import ConfigError
from bot.core.identity import Identity, parse_link
from bot.core.records import FeedItem
from bot.library.api import build_index
from bot.relevance.dedupe import Candidate, Decision, decide, merge
from bot.relevance.score import LibraryModel, Scorer, TasteModel, TopicMatcher, tokens, url_words
from bot.sources.feedlist import load_feeds, load_topics
from bot.sources.fetch import Fetcher, FetchSettings, is_local
from bot.sources.kinds import Offload, SourceOutcome, fetch_source, inline
from bot.sources.registry import default_interval
from bot.store.database import Store


@dataclass(frozen=True)
class SourceReport:
    name: str
    kind: str
    fetched: int = 0
    new: int = 0
    known: int = 0
    off_topic: int = 0
    not_modified: bool = False
    result: str = "ok"
    error: str | None = None
    requests: int = 0
    skipped: int = 0  # entries left out because they alone could not be read (their link is not a URL)
    skipped_items: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class PollReport:
    started: str
    finished: str
    sources: tuple[SourceReport, ...]
    new_items: tuple[int, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        totals = Counter[str]()
        for s in self.sources:
            totals.update({"fetched": s.fetched, "new": s.new, "known": s.known, "off_topic": s.off_topic,
                           "skipped": s.skipped, "errors": int(s.result == "error"),
                           "not_modified": int(s.not_modified)})
        return {"started": self.started, "finished": self.finished,
                "sources": [s.as_dict() for s in self.sources], "totals": dict(totals)}


def fetch_settings(config: Config, feeds: Sequence[FeedConfig]) -> FetchSettings:
    h = config.http
    intervals: dict[str, float] = {}
    for feed in feeds:
        interval = feed.options.get("min_interval", 3.0 if feed.kind == "arxiv" else default_interval(feed.kind))
        parts = None if is_local(feed.url) else parse_link(feed.url)  # a bad URL fails that feed alone
        if parts is not None and interval:
            host = (parts.hostname or "").lower()
            intervals[host] = max(intervals.get(host, 0.0), float(interval))
    return FetchSettings(
        connect_timeout=h["connect_timeout"], read_timeout=h["read_timeout"], deadline=h["feed_deadline"],
        max_body=int(h["max_body_mb"] * 1024 * 1024), max_redirects=int(h["max_redirects"]),
        concurrency=int(h["concurrency"]), per_host=int(h["per_host"]),
        retry_after_cap=h["retry_after_cap_hours"] * 3600, user_agent=config.user_agent, min_interval=intervals,
    )


def select_feeds(config: Config, only: Sequence[str] = ()) -> list[FeedConfig]:
    feeds = load_feeds(config)
    if only:
        names = {f.name for f in feeds}
        unknown = [n for n in only if n not in names]
        if unknown:
            raise ConfigError(f"No feed named {', '.join(unknown)}; known feeds: {', '.join(sorted(names)) or 'none'}")
        return [f for f in feeds if f.name in only]
    return [f for f in feeds if f.enabled]


PARALLEL_PARSE_FROM = 16  # feeds; below this a process pool costs more than it saves
POOL_START_TIMEOUT = 30.0  # seconds for the parser processes to come up before parsing inline instead


def start_parse_pool(workers: int) -> ProcessPoolExecutor | None:
    """A pool of parser processes, started and ready; None where processes cannot be made."""
    pool = None
    try:
        # forkserver, not fork: the poll has threads, and a forked child could inherit a held lock.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["bot.sources.parsers"])  # imported once, not once per worker
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        for started in [pool.submit(int) for _ in range(workers)]:
            started.result(timeout=POOL_START_TIMEOUT)
    except (OSError, ValueError, RuntimeError, TimeoutError):
        # No processes here (a sandbox, a broken pool, a start that hangs): parse inline, just slower.
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        return None
    return pool


async def fetch_all(feeds: Sequence[FeedConfig], states: dict[str, dict[str, Any]], fetcher: Fetcher,
                    now: datetime, progress: Callable[[str], None] | None = None,
                    finished: list[SourceOutcome] | None = None) -> list[SourceOutcome]:
    """Every feed's outcome, in the order of `feeds`; each one also goes into `finished` as it completes,
    so an interrupted poll can still store what it got."""
    pool: asyncio.Future[ProcessPoolExecutor | None] | None = None
    offload: Offload = inline
    workers = os.cpu_count() or 1
    if len(feeds) >= PARALLEL_PARSE_FROM and workers > 1:
        loop = asyncio.get_running_loop()
        # Started in a thread, so the first requests go out while the workers start.
        pool = loop.run_in_executor(None, start_parse_pool, workers)

        async def offload(fn: Callable[..., Any], *args: Any) -> Any:  # noqa: F811
            assert pool is not None
            executor = await pool
            if executor is None:
                return fn(*args)
            return await loop.run_in_executor(executor, fn, *args)

    async def one(feed: FeedConfig) -> SourceOutcome:
        try:
            outcome = await fetch_source(feed, states.get(feed.name, {}), fetcher, now, offload)
        except Exception as exc:  # a bug in one source must not lose the others' items
            outcome = SourceOutcome(feed, result="error", error=f"{type(exc).__name__}: {exc}")
        if finished is not None:
            finished.append(outcome)
        if progress:
            progress(feed.name)
        return outcome

    try:
        async with fetcher:
            return list(await asyncio.gather(*(one(f) for f in feeds)))
    finally:
        if pool is not None and (executor := await pool) is not None:
            executor.shutdown(wait=True, cancel_futures=True)


BACKGROUND_ITEMS = 3000


def build_scorer(topics: TopicMatcher, store: Store, now: datetime, batch: Sequence[FeedItem] = ()) -> Scorer:
    entries = list(store.library_entries())
    model = LibraryModel.build((e["id"], e["title"] or "", e["text"] or "", e["urls"]) for e in entries)
    # The background for taste: this poll's items and the most recent stored ones.
    recent = store.db.execute("select title, summary from items order by id desc limit ?", [BACKGROUND_ITEMS])
    background = [tokens(f"{i.title} {i.summary[:300]}") for i in batch]
    background += [tokens(f"{t} {(s or '')[:300]}") for t, s in recent]
    # Taste is read from what the entries name (link texts, quoted titles, the words of their links),
    # not from the person's notes around them: "useful", "associated" or "found" say nothing of taste.
    titles = store.entry_titles()
    taste = TasteModel.build((tokens(" ".join([*titles.get(e["id"], ()), *map(url_words, e["urls"])]))
                              for e in entries), background)
    return Scorer(topics, model, now, taste=taste)


def poll(config: Config, store: Store, only: Sequence[str] = (), now: datetime | None = None,
         fetcher: Fetcher | None = None, progress: Callable[[str], None] | None = None,
         hook: Callable[[str], None] | None = None) -> PollReport:
    now = now or store.clock()
    started = now.isoformat(timespec="seconds")
    feeds = select_feeds(config, only)
    topics = TopicMatcher(load_topics(config.topics))  # a bad topics file fails before any request
    states = {f.name: store.source_state(f.name) for f in feeds}
    for name in only:  # naming a feed that answered 410 Gone asks it again
        states[name].pop("gone", None)
    fetcher = fetcher or Fetcher(fetch_settings(config, feeds), now=lambda: now)
    finished: list[SourceOutcome] = []
    try:
        outcomes = asyncio.run(fetch_all(feeds, states, fetcher, now, progress, finished))
    except KeyboardInterrupt:  # Ctrl-C: keep what the feeds that had finished brought, then stop
        if finished:
            store_outcomes(config, store, finished, topics, now, started)
        raise
    if hook:
        hook("poll-fetched")  # crash tests stop here: fetched, nothing stored
    report = store_outcomes(config, store, outcomes, topics, now, started)
    if hook:
        hook("poll-stored")
    return report


def store_outcomes(config: Config, store: Store, outcomes: Sequence[SourceOutcome], topics: TopicMatcher,
                   now: datetime, started: str) -> PollReport:
    all_items = [item for o in outcomes for item in o.items]
    decisions: list[Decision] = []
    scorer: Scorer | None = None
    if all_items:  # an all-304 poll builds neither the identity index nor the library model
        decisions = decide(merge(all_items), build_index(store, owners=("entry", "item")))
        scorer = build_scorer(topics, store, now, all_items)
    fate: dict[int, str] = {}  # id(FeedItem) -> new | known | off_topic
    stamp = now.isoformat(timespec="seconds")
    with store.transaction():
        fresh: list[tuple[dict[str, Any], frozenset[Identity]]] = []
        for decision in decisions:
            assert scorer is not None
            record = _apply(config, store, decision, scorer, stamp)
            if record is None:
                label = "known"
            else:
                fresh.append((record, decision.candidate.item.identities))
                label = "off_topic" if record["status"] == "off_topic" else "new"
            for member in decision.candidate.members:
                fate[id(member)] = label
        new_ids = store.insert_items(fresh)
        reports = []
        for o in outcomes:
            counts = Counter(fate.get(id(i), "known") for i in o.items)
            report = SourceReport(
                name=o.feed.name, kind=o.feed.kind, fetched=len(o.items), new=counts["new"],
                known=counts["known"], off_topic=counts["off_topic"], not_modified=o.result == "not_modified",
                result=o.result, error=o.error, requests=o.requests, skipped=o.skipped,
                skipped_items=tuple(o.skipped_items),
            )
            reports.append(report)
            state: dict[str, Any] = {"kind": o.feed.kind, "url": o.feed.url, "last_poll": stamp,
                                     "result": o.result, "error": o.error,
                                     "stats": {k: v for k, v in report.as_dict().items() if k not in ("name", "kind")}}
            if o.result != "error" or "retry_after" in o.state:
                state.update(o.state)
            else:  # what a failed poll learnt about the address itself (gone, moved) still holds
                state.update({k: o.state[k] for k in ("gone", "moved_to") if k in o.state})
            store.save_source_state(o.feed.name, **state)
    return PollReport(started, store.now(), tuple(reports), tuple(new_ids))


def _apply(config: Config, store: Store, decision: Decision, scorer: Scorer, stamp: str) -> dict[str, Any] | None:
    """The record of a new item to store, or None after refreshing a known, undigested one."""
    cand = decision.candidate
    match = decision.match
    if match is not None:
        if match.owner == "item":
            _refresh(store, match.owner_id, cand, scorer, stamp)
        return None
    item = cand.item
    scored = scorer.score(item, cand.sources)
    status = "relevant" if scored.relevance >= config.relevance_threshold else "off_topic"
    record = {
        "title": item.title, "url": item.url, "hn_id": item.hn_id, "hn_url": item.hn_url,
        "arxiv_id": item.arxiv_id, "doi": item.doi, "published": item.published, "first_seen": stamp,
        "updated": stamp, "sources": list(cand.sources), "topics": list(scored.topics), "score": scored.score,
        "relevance": scored.relevance, "status": status, "summary": item.summary,
        "categories": list(item.categories), "points": item.points, "comments": item.comments,
        "explain": scored.explain, "digest_id": None,
    }
    return record


def _refresh(store: Store, item_id: int, cand: Candidate, scorer: Scorer, stamp: str) -> None:
    """A source reported an item we already hold: climb its points, add the HN thread or the other
    source, and re-rank it on those signals (its relevance stands), but never touch an item that a
    digest already carried."""
    row = store.item(item_id)
    if row is None or row.get("digest_id"):
        return
    item = cand.item
    fields: dict[str, Any] = {"updated": stamp}
    sources = list(dict.fromkeys([*row["sources"], *cand.sources]))
    if sources != row["sources"]:
        fields["sources"] = sources
    for key in ("points", "comments"):
        new = getattr(item, key)
        if new is not None and (row[key] is None or new > row[key]):
            fields[key] = new
    if item.hn_id and not row["hn_id"]:
        fields.update(hn_id=item.hn_id, hn_url=item.hn_url)
    if item.arxiv_id and not row["arxiv_id"]:
        fields["arxiv_id"] = item.arxiv_id
    if len(item.summary) > len(row["summary"] or ""):
        fields["summary"] = item.summary
    if row["relevance"] is not None and fields.keys() & {"sources", "points", "comments", "hn_id", "arxiv_id"}:
        now = {**row, **fields}  # the item as stored after this refresh
        held = replace(item, published=now["published"] or item.published,
                       categories=tuple(now["categories"]) or item.categories, points=now["points"],
                       comments=now["comments"], hn_id=now["hn_id"], arxiv_id=now["arxiv_id"])
        score, parts = scorer.rank(now["relevance"], held, now["sources"])
        fields.update(score=score, explain={**(row["explain"] or {}), **parts})
    store.update_item(item_id, fields, item.identities)
