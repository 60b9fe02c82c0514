"""A toy source kind, registered from the test folder: a JSON list of {"title", "url"} at the feed's URL.
It is the whole of what a new kind needs: one module and one registration line."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.core.config import FeedConfig
from bot.core.normalize import make_item
from bot.sources.outcome import Getter, Offload, SourceOutcome
from bot.sources.registry import register_source

KIND = "toy"


@register_source(KIND, min_interval=0.25, options={"prefix": ""})
async def fetch_toy(feed: FeedConfig, state: dict[str, Any], getter: Getter, now: datetime,
                    outcome: SourceOutcome, offload: Offload) -> None:
    res = await getter.get(feed.url, accept="application/json")
    outcome.requests += 1
    if res.status == "error":
        outcome.result, outcome.error = "error", res.error or "failed"
        return
    prefix = feed.options.get("prefix", "")
    items = [make_item(source=feed.name, title=prefix + row["title"], url=row["url"],
                       published=now.isoformat(timespec="seconds")) for row in json.loads(res.body)]
    outcome.items = [item for item in items if item is not None]
    outcome.state.update(etag=res.etag, last_modified=res.last_modified)
