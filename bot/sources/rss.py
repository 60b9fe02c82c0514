"""RSS 0.9x/1.0/2.0 and Atom feeds (blogs, hnrss): one conditional GET, parsed by feedparser.

A 301/308 moved the feed: the new address is asked for as long as the configuration names the old one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.core.config import FeedConfig
from bot.sources.kinds import failed
from bot.sources.outcome import Getter, Offload, SourceOutcome
from bot.sources.parsers import read_rss
from bot.sources.registry import register_source

ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.8"


@register_source("rss")
async def fetch_rss(feed: FeedConfig, state: dict[str, Any], getter: Getter, now: datetime,
                    outcome: SourceOutcome, offload: Offload) -> None:
    moved = state.get("moved_to") if state.get("url") == feed.url else None
    res = await getter.get(moved or feed.url, etag=state.get("etag"), last_modified=state.get("last_modified"),
                           accept=ACCEPT)
    outcome.requests += 1
    outcome.elapsed += res.elapsed
    outcome.state["moved_to"] = res.moved_to or moved
    if res.status == "not_modified":
        outcome.result = "not_modified"
        outcome.state.update(etag=state.get("etag"), last_modified=state.get("last_modified"))
        return
    if res.status == "error":
        failed(outcome, res)
        return
    # Parsing is most of a big poll's CPU time; `offload` may run it in another process meanwhile.
    parsed = await offload(read_rss, res.body, feed.name, res.content_type)
    outcome.items = parsed.items
    outcome.count_skipped({"skipped": parsed.skipped, "skipped_items": parsed.reasons})
    outcome.state.update(etag=res.etag, last_modified=res.last_modified, retry_after=None)
