"""What to ask each kind of source, and how to page through it (spec section 6).

Uses a Fetcher for bytes and the feed parsers for items; knows nothing of storage. A source's outcome
is a value: its items, whether it was unchanged (304), its error, and the state to remember.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlencode

from bot.core.config import FeedConfig
from bot.core.identity import parse_link
from bot.core.records import FeedItem
from bot.sources.fetch import FetchResult, is_local
from bot.sources.parsers import MAX_SKIPPED_REASONS, ParseError, parse_algolia, parse_arxiv, read_rss
from bot.sources.registry import source_kind

ARXIV_DEFAULT_CATEGORIES = ("cs.CL", "cs.LG", "cs.AI")


class Getter(Protocol):
    async def get(self, url: str, etag: str | None = None, last_modified: str | None = None,
                  accept: str = "*/*") -> FetchResult: ...


@dataclass
class SourceOutcome:
    feed: FeedConfig
    items: list[FeedItem] = field(default_factory=list)
    result: str = "ok"  # ok | not_modified | error
    error: str | None = None
    state: dict[str, Any] = field(default_factory=dict)  # what to remember for next time
    requests: int = 0
    elapsed: float = 0.0
    skipped: int = 0  # entries that could not be read alone (a link that is not a URL); the rest stand
    skipped_items: list[str] = field(default_factory=list)

    def count_skipped(self, paging: dict[str, Any]) -> None:
        self.skipped += paging.get("skipped", 0)
        self.skipped_items = (self.skipped_items + paging.get("skipped_items", []))[:MAX_SKIPPED_REASONS]


def _opt(feed: FeedConfig, key: str, default: Any) -> Any:
    return feed.options.get(key, default)


def _ts(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


Offload = Callable[..., Awaitable[Any]]


async def inline(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


async def fetch_source(feed: FeedConfig, state: dict[str, Any], getter: Getter, now: datetime,
                       offload: Offload = inline) -> SourceOutcome:
    """Never raises for anything a feed can do: every failure is the outcome's error."""
    outcome = SourceOutcome(feed)
    retry_after = _ts(state.get("retry_after"))
    if retry_after and retry_after > now:
        outcome.result, outcome.error = "error", (
            f"not asked: the server asked us to wait until {retry_after.isoformat(timespec='seconds')}")
        outcome.state = {"retry_after": state.get("retry_after")}
        return outcome
    if not is_local(feed.url) and parse_link(feed.url) is None:
        outcome.result, outcome.error = "error", f"its url {feed.url!r} is not a valid URL; fix it in the configuration"
        return outcome
    if state.get("gone") and state.get("url") == feed.url:
        outcome.result, outcome.error = "gone", gone_reason(feed.name, str(state["gone"]))
        outcome.state = {"gone": state["gone"]}
        return outcome
    try:
        if feed.kind == "hn":
            await _fetch_hn(feed, state, getter, now, outcome)
        elif feed.kind == "arxiv":
            await _fetch_arxiv(feed, state, getter, now, outcome)
        elif feed.kind == "hf_papers":
            await _fetch_hf_papers(feed, state, getter, now, outcome)
        elif (registered := source_kind(feed.kind)) is not None:
            await registered.fetch(feed, state, getter, now, outcome)
        else:
            await _fetch_rss(feed, state, getter, outcome, offload)
    except ParseError as exc:
        outcome.result, outcome.error, outcome.items = "error", str(exc), []
    if outcome.result == "gone":
        outcome.state["gone"] = now.isoformat(timespec="seconds")
        outcome.error = gone_reason(feed.name, outcome.state["gone"])
    elif outcome.requests:
        outcome.state["gone"] = None  # it answered something else: not gone (any more)
    return outcome


async def _ask(getter: Getter, url: str, accept: str, outcome: SourceOutcome) -> FetchResult | None:
    """One page of a paged API: the answer, or None with the failure recorded in `outcome`."""
    res = await getter.get(url, accept=accept)
    outcome.requests += 1
    outcome.elapsed += res.elapsed
    if res.status != "ok":
        _failed(outcome, res)
        return None
    return res


def gone_reason(name: str, since: str) -> str:
    """What status and poll say about a feed that answered 410 Gone, and how to ask it again."""
    return (f"HTTP 410 Gone on {since}: not polled until `bot poll --source {name}` asks it again")


def _failed(outcome: SourceOutcome, res: FetchResult) -> None:
    outcome.result, outcome.error = "error", res.error or "failed"
    if res.http_status == 410:  # the feed was removed for good: stop asking (fetch_source says until when)
        outcome.result = "gone"
    if res.retry_after:
        outcome.state["retry_after"] = res.retry_after.isoformat(timespec="seconds")


async def _fetch_rss(feed: FeedConfig, state: dict[str, Any], getter: Getter, outcome: SourceOutcome,
                     offload: Offload = inline) -> None:
    # A 301/308 moved the feed: ask the new address, for as long as the configuration names the old one.
    moved = state.get("moved_to") if state.get("url") == feed.url else None
    res = await getter.get(moved or feed.url, etag=state.get("etag"), last_modified=state.get("last_modified"),
                           accept="application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.8")
    outcome.requests += 1
    outcome.elapsed += res.elapsed
    outcome.state["moved_to"] = res.moved_to or moved
    if res.status == "not_modified":
        outcome.result = "not_modified"
        outcome.state.update(etag=state.get("etag"), last_modified=state.get("last_modified"))
        return
    if res.status == "error":
        _failed(outcome, res)
        return
    # Parsing is most of a big poll's CPU time; `offload` may run it in another process meanwhile.
    parsed = await offload(read_rss, res.body, feed.name, res.content_type)
    outcome.items = parsed.items
    outcome.count_skipped({"skipped": parsed.skipped, "skipped_items": parsed.reasons})
    outcome.state.update(etag=res.etag, last_modified=res.last_modified, retry_after=None)


async def _fetch_saved_answer(feed: FeedConfig, state: dict[str, Any], getter: Getter, outcome: SourceOutcome,
                              parse: Callable[[bytes], tuple[list[FeedItem], dict[str, Any]]]) -> None:
    """An API answer saved to a file: read it (unless unchanged since last time) and parse it."""
    res = await getter.get(feed.url, last_modified=state.get("last_modified"))
    outcome.requests += 1
    if res.status == "not_modified":
        outcome.result = "not_modified"
        outcome.state.update(last_modified=state.get("last_modified"))
        return
    if res.status == "error":
        _failed(outcome, res)
        return
    outcome.items, paging = parse(res.body)
    outcome.count_skipped(paging)
    outcome.state.update(last_modified=res.last_modified)


def hn_window_start(feed: FeedConfig, state: dict[str, Any], now: datetime) -> datetime:
    """Since the last successful poll minus an overlap (points climb after posting); the first
    poll looks back lookback_days."""
    cursor = _ts(state.get("cursor"))
    if cursor is None:
        return now - timedelta(days=float(_opt(feed, "lookback_days", 7)))
    return cursor - timedelta(hours=float(_opt(feed, "overlap_hours", 24)))


async def _fetch_hn(feed: FeedConfig, state: dict[str, Any], getter: Getter, now: datetime,
                    outcome: SourceOutcome) -> None:
    if is_local(feed.url):  # a saved Algolia answer: one document, no paging
        await _fetch_saved_answer(feed, state, getter, outcome, lambda body: parse_algolia(body, feed.name))
        return
    since = int(hn_window_start(feed, state, now).timestamp())
    min_points = int(_opt(feed, "min_points", 30))
    per_page = int(_opt(feed, "hits_per_page", 1000))
    upper: int | None = None
    seen: set[int] = set()
    for _page in range(int(_opt(feed, "max_pages", 10))):
        filters = [f"created_at_i>{since}", f"points>={min_points}"]
        if upper is not None:
            filters.append(f"created_at_i<{upper}")
        url = feed.url + "?" + urlencode({"tags": "story", "numericFilters": ",".join(filters),
                                          "hitsPerPage": per_page})
        res = await _ask(getter, url, "application/json", outcome)
        if res is None:
            return
        items, paging = parse_algolia(res.body, feed.name)
        outcome.count_skipped(paging)
        outcome.items.extend(i for i in items if i.hn_id not in seen)
        seen.update(i.hn_id for i in items if i.hn_id)
        # Algolia returns at most 1,000 hits a query: page by moving the window's upper edge down.
        if paging["hits"] < per_page or paging["oldest"] is None or paging["oldest"] <= since:
            break
        upper = paging["oldest"]
    outcome.state.update(cursor=now.isoformat(timespec="seconds"), retry_after=None)


def _arxiv_stamp(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y%m%d%H%M")


async def _fetch_arxiv(feed: FeedConfig, state: dict[str, Any], getter: Getter, now: datetime,
                       outcome: SourceOutcome) -> None:
    if is_local(feed.url):  # a saved arXiv answer: one document, no paging
        await _fetch_saved_answer(feed, state, getter, outcome, lambda body: parse_arxiv(body, feed.name))
        return
    cursor = _ts(state.get("cursor"))
    start_dt = (cursor - timedelta(hours=6)) if cursor else now - timedelta(days=float(_opt(feed, "lookback_days", 3)))
    categories = _opt(feed, "categories", list(ARXIV_DEFAULT_CATEGORIES))
    cats = " OR ".join(f"cat:{c}" for c in categories)
    query = f"({cats}) AND submittedDate:[{_arxiv_stamp(start_dt)} TO {_arxiv_stamp(now)}]"
    page_size = int(_opt(feed, "page_size", 200))
    for page in range(int(_opt(feed, "max_pages", 10))):
        url = feed.url + "?" + urlencode({"search_query": query, "sortBy": "submittedDate",
                                          "sortOrder": "descending", "start": page * page_size,
                                          "max_results": page_size})
        res = await _ask(getter, url, "application/atom+xml", outcome)
        if res is None:
            return
        items, paging = parse_arxiv(res.body, feed.name)
        outcome.count_skipped(paging)
        outcome.items.extend(items)
        total = paging["total"] or 0
        if paging["count"] < page_size or (page + 1) * page_size >= total:
            break
    outcome.state.update(cursor=now.isoformat(timespec="seconds"), retry_after=None)


async def _fetch_hf_papers(feed: FeedConfig, state: dict[str, Any], getter: Getter, now: datetime,
                           outcome: SourceOutcome) -> None:
    """Hugging Face Daily Papers: one request per day of the last lookback_days (upvotes climb for days)."""
    from bot.sources.hf_papers import parse_daily_papers

    if is_local(feed.url):  # a saved answer: one document
        await _fetch_saved_answer(feed, state, getter, outcome, lambda body: parse_daily_papers(body, feed.name))
        return
    days = max(1, int(_opt(feed, "lookback_days", 2)))
    for back in range(days):
        day = (now - timedelta(days=back)).date().isoformat()
        res = await _ask(getter, feed.url + "?" + urlencode({"date": day}), "application/json", outcome)
        if res is None:
            outcome.items = []
            return
        items, paging = parse_daily_papers(res.body, feed.name)
        outcome.count_skipped(paging)
        outcome.items.extend(items)
    outcome.state.update(retry_after=None)
