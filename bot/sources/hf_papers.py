"""Hugging Face Daily Papers: arXiv papers that people upvoted, as a source of popularity evidence.

`GET {url}?date=YYYY-MM-DD` answers a JSON list, one object per paper of that day's list:
`{"paper": {"id": "2310.06825", "title", "summary", "upvotes", "publishedAt", ...}, "title",
"publishedAt", "numComments", ...}`. Each becomes an item with the paper's arXiv id, so it merges with
the same paper from arXiv (poll), its upvotes as points. Off by default (feeds/sources.toml): there is
no recording of it to replay, so it has not been shown to help yet.
"""

from __future__ import annotations

import json
from typing import Any

from bot.core.identity import arxiv_id_from_url
from bot.core.normalize import InvalidItem, make_item
from bot.core.records import FeedItem
from bot.sources.parsers import Parsed, ParseError


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


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
                title=str(paper.get("title") or entry.get("title") or ""),
                url=f"https://arxiv.org/abs/{arxiv_id}",
                published=paper.get("publishedAt") or entry.get("publishedAt"),
                summary=str(paper.get("summary") or ""),
                arxiv_id=arxiv_id,
                points=_count(paper.get("upvotes")),
                comments=_count(entry.get("numComments")),
            )
        except InvalidItem as exc:
            result.skip(paper.get("title"), exc)
            continue
        if item is not None:
            result.items.append(item)
    return result.items, {"skipped": result.skipped, "skipped_items": result.reasons}
