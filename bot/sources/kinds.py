"""What every source kind shares (spec section 6): asking a source through the registry, and the
helpers a kind's module uses to ask, page and record what happened.

Uses a Getter for bytes; knows nothing of storage, nor of any kind by name: each kind is a module of
its own (bot.sources.hn, arxiv, rss, hf_papers, or one from elsewhere) registered in
bot.sources.registry. A source's outcome is a value: its items, whether it was unchanged (304), its
error, and the state to remember.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.core.config import FeedConfig
from bot.core.identity import parse_link
from bot.core.records import FeedItem
from bot.sources.answer import FetchResult, is_local
from bot.sources.outcome import Getter, Offload, SourceOutcome, inline
from bot.sources.parsers import ParseError
from bot.sources.registry import ParseAnswer, source_kind


def with_defaults(feed: FeedConfig, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The feed's options over its kind's defaults (the ones the kind registered)."""
    return {**defaults, **feed.options}


def timestamp(value: str | None) -> datetime | None:
    """A remembered ISO time (UTC when it names no zone), or None."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


async def fetch_source(feed: FeedConfig, state: dict[str, Any], getter: Getter, now: datetime,
                       offload: Offload = inline) -> SourceOutcome:
    """Never raises for anything a feed can do: every failure is the outcome's error."""
    outcome = SourceOutcome(feed)
    retry_after = timestamp(state.get("retry_after"))
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
    kind = source_kind(feed.kind)
    if kind is None:  # the configuration refuses such a feed; this is one built by hand
        outcome.result, outcome.error = "error", f"its kind {feed.kind!r} is not a registered source kind"
        return outcome
    try:
        if kind.saved_answer is not None and is_local(feed.url):
            await _read_saved_answer(feed, state, getter, outcome, kind.saved_answer)
        else:
            await kind.fetch(feed, state, getter, now, outcome, offload)
    except ParseError as exc:
        outcome.result, outcome.error, outcome.items = "error", str(exc), []
    if outcome.result == "gone":
        outcome.state["gone"] = now.isoformat(timespec="seconds")
        outcome.error = gone_reason(feed.name, outcome.state["gone"])
    elif outcome.requests:
        outcome.state["gone"] = None  # it answered something else: not gone (any more)
    return outcome


async def ask_page(getter: Getter, url: str, accept: str, outcome: SourceOutcome,
                   parse: ParseAnswer) -> tuple[list[FeedItem], dict[str, Any]] | None:
    """One page of a paged API, parsed: its items and paging facts (its skipped entries counted), or
    None with the failure recorded in `outcome`."""
    res = await getter.get(url, accept=accept)
    outcome.requests += 1
    outcome.elapsed += res.elapsed
    if res.status != "ok":
        failed(outcome, res)
        return None
    items, paging = parse(res.body, outcome.feed.name)
    outcome.count_skipped(paging)
    return items, paging


def gone_reason(name: str, since: str) -> str:
    """What status and poll say about a feed that answered 410 Gone, and how to ask it again."""
    return (f"HTTP 410 Gone on {since}: not polled until `bot poll --source {name}` asks it again")


def failed(outcome: SourceOutcome, res: FetchResult) -> None:
    """Record a failed answer: its error, whether the feed is gone, and when the server lets us ask again."""
    outcome.result, outcome.error = "error", res.error or "failed"
    if res.http_status == 410:  # the feed was removed for good: stop asking (fetch_source says until when)
        outcome.result = "gone"
    if res.retry_after:
        outcome.state["retry_after"] = res.retry_after.isoformat(timespec="seconds")


async def _read_saved_answer(feed: FeedConfig, state: dict[str, Any], getter: Getter, outcome: SourceOutcome,
                             parse: ParseAnswer) -> None:
    """An API answer saved to a file: read it (unless unchanged since last time) and parse it."""
    res = await getter.get(feed.url, last_modified=state.get("last_modified"))
    outcome.requests += 1
    if res.status == "not_modified":
        outcome.result = "not_modified"
        outcome.state.update(last_modified=state.get("last_modified"))
        return
    if res.status == "error":
        failed(outcome, res)
        return
    outcome.items, paging = parse(res.body, feed.name)
    outcome.count_skipped(paging)
    outcome.state.update(last_modified=res.last_modified)
