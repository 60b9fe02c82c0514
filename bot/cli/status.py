"""`bot status`: what each source did last, what is pending, what the digests delivered, what runs next."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.app import App
from bot.core.cron import next_occurrence
from bot.sources.feedlist import load_feeds


def _address(state: dict[str, Any], url: str | None) -> dict[str, Any]:
    """A 410 or a 301 recorded for the address the configuration names (a new address starts afresh)."""
    same = state.get("url") == url
    return {"gone": state.get("gone") if same else None, "moved_to": state.get("moved_to") if same else None}


def collect_status(app: App) -> dict[str, Any]:
    now = app.now()
    store = app.store
    config = app.config
    states = {s["name"]: s for s in store.source_states()}
    sources = []
    for feed in load_feeds(config):
        s = states.pop(feed.name, {})
        sources.append({
            "name": feed.name, "kind": feed.kind, "url": feed.url, "enabled": feed.enabled,
            "last_poll": s.get("last_poll"), "result": s.get("result"), "error": s.get("error"),
            "etag": s.get("etag"), "last_modified": s.get("last_modified"), "retry_after": s.get("retry_after"),
            "stats": s.get("stats") or {}, **_address(s, feed.url),
        })
    for name, s in states.items():  # polled once, since removed from the configuration
        sources.append({"name": name, "kind": s.get("kind"), "url": s.get("url"), "enabled": False,
                        "last_poll": s.get("last_poll"), "result": s.get("result"), "error": s.get("error"),
                        "etag": s.get("etag"), "last_modified": s.get("last_modified"),
                        "retry_after": s.get("retry_after"), "stats": s.get("stats") or {},
                        **_address(s, s.get("url"))})
    last_polls = [str(s["last_poll"]) for s in sources if s["last_poll"]]
    next_poll = (datetime.fromisoformat(max(last_polls)) + timedelta(minutes=config.poll_every_minutes)
                 if last_polls else now)
    digests = [d.as_json() for d in store.digests(limit=5)]
    # Failed deliveries: `bot run` tries them again at its first poll tick after next_retry.
    retries = [d.next_retry for d in store.unfinished_deliveries() if d.next_retry]
    return {
        "config": str(config.file) if config.file else None,  # None: the built-in defaults
        "database": str(config.db),
        "library": store.library_stats().as_dict(),
        "sources": sources,
        "pending": {
            "relevant": store.count_items("status = 'relevant' and digest_id is null"),
            "off_topic": store.count_items("status = 'off_topic'"),
            "digested": store.count_items("digest_id is not null"),
        },
        "digests": digests,
        "llm": {"enabled": config.llm_enabled, "model": config.llm_model, **store.token_usage()},
        "next": {
            "poll": max(next_poll, now).isoformat(timespec="seconds"),
            "digest": next_occurrence(config.digest_cron, config.timezone, now).isoformat(timespec="seconds"),
            "delivery_retry": min(retries) if retries else None,
        },
    }
