"""arXiv through its export API (spec section 6): by category and submitted-date window, paged, at
most one request per 3 s to arXiv in total. A local path is a saved answer: one document, no paging.

A poll pages until it has the whole window, oldest first, up to `max_pages` pages of `page_size`
(default 50 x 200 = 10,000 papers: a busy week of cs.CL/LG/AI is 3,000-5,000; at one request per 3 s
that is two and a half minutes at most). Oldest first, so that what lies beyond the cap is the newest
part of the window: the poll reports how many it left (`SourceOutcome.left`), and the cursor stops at
the newest paper it has, so the next poll starts there and gets them. Ascending order also keeps the
pages still while papers are added at the new end during the poll.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from bot.core.config import FeedConfig
from bot.core.records import FeedItem
from bot.sources.kinds import ask_page, timestamp, with_defaults
from bot.sources.outcome import Getter, Offload, SourceOutcome
from bot.sources.parsers import parse_arxiv
from bot.sources.registry import register_source

OPTIONS = {
    "categories": ("cs.CL", "cs.LG", "cs.AI"),
    "page_size": 200,
    "max_pages": 50,  # the cap: 10,000 papers a poll, two to three times a busy week
    "lookback_days": 3,  # how far back the very first poll goes
}
ARXIV_INTERVAL = 3.0  # seconds between requests: what arXiv asks of API clients (a feed's min_interval)
CURSOR_OVERLAP = timedelta(hours=6)  # papers are listed a while after their submission time


def _stamp(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y%m%d%H%M")


def _newest(items: list[FeedItem]) -> datetime | None:
    times = [t for t in (timestamp(i.published) for i in items) if t is not None]
    return max(times) if times else None


@register_source("arxiv", min_interval=ARXIV_INTERVAL, options=OPTIONS, saved_answer=parse_arxiv)
async def fetch_arxiv(feed: FeedConfig, state: dict[str, Any], getter: Getter, now: datetime,
                      outcome: SourceOutcome, offload: Offload) -> None:
    options = with_defaults(feed, OPTIONS)
    cursor = timestamp(state.get("cursor"))
    start = (cursor - CURSOR_OVERLAP) if cursor else now - timedelta(days=float(options["lookback_days"]))
    cats = " OR ".join(f"cat:{c}" for c in options["categories"])
    query = f"({cats}) AND submittedDate:[{_stamp(start)} TO {_stamp(now)}]"
    page_size = int(options["page_size"])
    max_pages = max(1, int(options["max_pages"]))
    total = 0
    for page in range(max_pages):
        url = feed.url + "?" + urlencode({"search_query": query, "sortBy": "submittedDate",
                                          "sortOrder": "ascending", "start": page * page_size,
                                          "max_results": page_size})
        answer = await ask_page(getter, url, "application/atom+xml", outcome, parse_arxiv)
        if answer is None:  # failed: the cursor stays, so the next poll asks for the whole window again
            return
        items, paging = answer
        outcome.items.extend(items)
        total = paging["total"] or 0
        if paging["count"] < page_size or (page + 1) * page_size >= total:
            outcome.state.update(cursor=now.isoformat(timespec="seconds"), retry_after=None)
            return
    # The cap: what is left is the newest part of the window. The cursor goes no further than the newest
    # paper fetched (the overlap asks again for the ones submitted at the same time).
    outcome.left = max(0, total - max_pages * page_size)
    newest = _newest(outcome.items)
    resume = min(newest, now) if newest is not None and newest > start else None
    outcome.state.update(cursor=(resume or cursor or start).isoformat(timespec="seconds"), retry_after=None)
