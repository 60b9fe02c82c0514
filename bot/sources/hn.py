"""Hacker News through the Algolia search API (spec section 6): stories created since the last poll
minus an overlap (points climb after posting), above `min_points`, paged by time window (the API
answers at most 1,000 hits a query). A local path is a saved Algolia answer: one document, no paging.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from bot.core.config import FeedConfig
from bot.sources.kinds import ask_page, timestamp, with_defaults
from bot.sources.outcome import Getter, Offload, SourceOutcome
from bot.sources.parsers import parse_algolia
from bot.sources.registry import register_source

OPTIONS = {
    "min_points": 30,  # stories below this are not worth a look yet
    "overlap_hours": 24,  # re-ask this far back so points and comments update
    "lookback_days": 7,  # how far back the very first poll goes
    "max_pages": 10,
    "hits_per_page": 1000,  # the API's cap
}


def window_start(options: dict[str, Any], state: dict[str, Any], now: datetime) -> datetime:
    """Since the last successful poll minus the overlap; the first poll looks back lookback_days."""
    cursor = timestamp(state.get("cursor"))
    if cursor is None:
        return now - timedelta(days=float(options["lookback_days"]))
    return cursor - timedelta(hours=float(options["overlap_hours"]))


@register_source("hn", options=OPTIONS, saved_answer=parse_algolia)
async def fetch_hn(feed: FeedConfig, state: dict[str, Any], getter: Getter, now: datetime,
                   outcome: SourceOutcome, offload: Offload) -> None:
    options = with_defaults(feed, OPTIONS)
    since = int(window_start(options, state, now).timestamp())
    min_points = int(options["min_points"])
    per_page = int(options["hits_per_page"])
    upper: int | None = None
    seen: set[int] = set()
    for _page in range(int(options["max_pages"])):
        filters = [f"created_at_i>{since}", f"points>={min_points}"]
        if upper is not None:
            filters.append(f"created_at_i<{upper}")
        url = feed.url + "?" + urlencode({"tags": "story", "numericFilters": ",".join(filters),
                                          "hitsPerPage": per_page})
        answer = await ask_page(getter, url, "application/json", outcome, parse_algolia)
        if answer is None:
            return
        items, paging = answer
        outcome.items.extend(i for i in items if i.hn_id not in seen)
        seen.update(i.hn_id for i in items if i.hn_id)
        # At most 1,000 hits a query: page by moving the window's upper edge down.
        if paging["hits"] < per_page or paging["oldest"] is None or paging["oldest"] <= since:
            break
        upper = paging["oldest"]
    outcome.state.update(cursor=now.isoformat(timespec="seconds"), retry_after=None)
