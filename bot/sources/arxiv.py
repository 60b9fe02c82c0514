"""arXiv through its export API (spec section 6): by category and submitted-date window, paged, at
most one request per 3 s to arXiv in total. A local path is a saved answer: one document, no paging.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from bot.core.config import FeedConfig
from bot.sources.kinds import ask_page, timestamp, with_defaults
from bot.sources.outcome import Getter, Offload, SourceOutcome
from bot.sources.parsers import parse_arxiv
from bot.sources.registry import register_source

OPTIONS = {
    "categories": ("cs.CL", "cs.LG", "cs.AI"),
    "page_size": 200,
    "max_pages": 10,
    "lookback_days": 3,  # how far back the very first poll goes
}
ARXIV_INTERVAL = 3.0  # seconds between requests: what arXiv asks of API clients
CURSOR_OVERLAP = timedelta(hours=6)  # papers are listed a while after their submission time


def _stamp(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y%m%d%H%M")


@register_source("arxiv", min_interval=ARXIV_INTERVAL, options=OPTIONS, saved_answer=parse_arxiv)
async def fetch_arxiv(feed: FeedConfig, state: dict[str, Any], getter: Getter, now: datetime,
                      outcome: SourceOutcome, offload: Offload) -> None:
    options = with_defaults(feed, OPTIONS)
    cursor = timestamp(state.get("cursor"))
    start = (cursor - CURSOR_OVERLAP) if cursor else now - timedelta(days=float(options["lookback_days"]))
    cats = " OR ".join(f"cat:{c}" for c in options["categories"])
    query = f"({cats}) AND submittedDate:[{_stamp(start)} TO {_stamp(now)}]"
    page_size = int(options["page_size"])
    for page in range(int(options["max_pages"])):
        url = feed.url + "?" + urlencode({"search_query": query, "sortBy": "submittedDate",
                                          "sortOrder": "descending", "start": page * page_size,
                                          "max_results": page_size})
        answer = await ask_page(getter, url, "application/atom+xml", outcome, parse_arxiv)
        if answer is None:
            return
        items, paging = answer
        outcome.items.extend(items)
        total = paging["total"] or 0
        if paging["count"] < page_size or (page + 1) * page_size >= total:
            break
    outcome.state.update(cursor=now.isoformat(timespec="seconds"), retry_after=None)
