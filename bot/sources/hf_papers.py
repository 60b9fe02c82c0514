"""Hugging Face Daily Papers: arXiv papers that people upvoted, as a source of popularity evidence.
The source kind `hf_papers`: how to ask it, and how to read its answer.

`GET {url}?date=YYYY-MM-DD` answers a JSON list, one object per paper of that day's list:
`{"paper": {"id": "2310.06825", "title", "summary", "upvotes", "publishedAt", ...}, "title",
"publishedAt", "numComments", ...}`. Each becomes an item with the paper's arXiv id, so it merges with
the same paper from arXiv (poll), its upvotes as points. Off by default (feeds/sources.toml): there is
no recording of it to replay, so it has not been shown to help yet.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from bot.core.config import FeedConfig
from bot.core.identity import arxiv_id_from_url
from bot.core.normalize import InvalidItem, make_item
from bot.core.records import FeedItem
from bot.sources.kinds import ask_page, with_defaults
from bot.sources.outcome import Getter, Offload, SourceOutcome
from bot.sources.parsers import Parsed, ParseError
from bot.sources.registry import register_source

OPTIONS = {"lookback_days": 2}  # one request per day: upvotes climb for a day or two


def parse_daily_papers(body: bytes, source: str) -> tuple[list[FeedItem], dict[str, Any]]:
    """(items, {"skipped", "skipped_items"}): a paper that cannot be read alone is skipped and counted."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ParseError(f"Hugging Face daily papers answer is not JSON: {exc}") from exc
    if not isinstance(data, list):
        raise ParseError("Hugging Face daily papers answer is not a list of papers")
    result = Parsed()
    for entry in data:
        paper = entry.get("paper") if isinstance(entry, dict) else None
        if not isinstance(paper, dict) or not isinstance(paper.get("id"), str):
            continue
        arxiv_id = arxiv_id_from_url(f"https://arxiv.org/abs/{paper['id']}")
        if not arxiv_id:
            continue  # a paper page that is not an arXiv paper
        try:
            item = make_item(
                source=source,
                title=paper.get("title") or entry.get("title") or "",
                url=f"https://arxiv.org/abs/{arxiv_id}",
                published=paper.get("publishedAt") or entry.get("publishedAt"),
                summary=summary if isinstance(summary := paper.get("summary"), str) else "",
                arxiv_id=arxiv_id,
                points=paper.get("upvotes"),  # checked by make_item: a count the store can hold
                comments=entry.get("numComments"),
            )
        except InvalidItem as exc:
            result.skip(paper.get("title"), exc)
            continue
        if item is not None:
            result.items.append(item)
    return result.items, {"skipped": result.skipped, "skipped_items": result.reasons}


@register_source("hf_papers", options=OPTIONS, saved_answer=parse_daily_papers)
async def fetch_hf_papers(feed: FeedConfig, state: dict[str, Any], getter: Getter, now: datetime,
                          outcome: SourceOutcome, offload: Offload) -> None:
    """One request per day of the last lookback_days; a local path is a saved answer, one document."""
    days = max(1, int(with_defaults(feed, OPTIONS)["lookback_days"]))
    for back in range(days):
        day = (now - timedelta(days=back)).date().isoformat()
        answer = await ask_page(getter, feed.url + "?" + urlencode({"date": day}), "application/json", outcome,
                                parse_daily_papers)
        if answer is None:
            outcome.items = []
            return
        outcome.items.extend(answer[0])
    outcome.state.update(retry_after=None)
