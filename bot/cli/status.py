"""`bot status`: what each source did last, what is pending, what the digests delivered, what runs next."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.app import App
from bot.core.cron import next_occurrence
from bot.core.records import LibraryStats, SourceState, TokenUsage
from bot.digest.select import digest_window
from bot.sources.feedlist import load_feeds
from bot.store.database import Store


def _address(state: SourceState, url: str | None) -> dict[str, Any]:
    """A 410 or a 301 recorded for the address the configuration names (a new address starts afresh)."""
    same = state.url == url
    return {"gone": state.gone if same else None, "moved_to": state.moved_to if same else None}


def _source(state: SourceState, kind: str | None, url: str | None, enabled: bool) -> dict[str, Any]:
    return {"name": state.name, "kind": kind, "url": url, "enabled": enabled, "last_poll": state.last_poll,
            "result": state.result, "error": state.error, "etag": state.etag, "last_modified": state.last_modified,
            "retry_after": state.retry_after, "stats": dict(state.stats), **_address(state, url)}


def _review_counts(store: Store) -> dict[str, int]:
    from bot.library.review import remember_appended

    remember_appended(store)
    return store.review_counts().as_dict()


def collect_status(app: App) -> dict[str, Any]:
    """Everything `bot status` shows. It only reads: with no database yet it reports that (and what
    the configuration will do) rather than create one in whatever folder it was run from."""
    now = app.now()
    config = app.config
    store = app.store if config.db.exists() else None
    states = {s.name: s for s in store.source_states()} if store else {}
    sources = []
    for feed in load_feeds(config):
        sources.append(_source(states.pop(feed.name, SourceState(feed.name)), feed.kind, feed.url,
                               feed.enabled))
    # What is left in `states` polled once and has since left the configuration: not a source any more
    # (`bot sources` lists it apart, and `bot sources forget` removes it).
    last_polls = [str(s["last_poll"]) for s in sources if s["last_poll"]]
    next_poll = (datetime.fromisoformat(max(last_polls)) + timedelta(minutes=config.poll_every_minutes)
                 if last_polls else now)
    window_start, _ = digest_window(None, None, config.timezone, now, config.digest_window_days)
    digests = [d.as_json() for d in store.digests(limit=5)] if store else []
    # Failed deliveries: `bot run` tries them again at its first poll tick after next_retry.
    retries = [d.next_retry for d in store.unfinished_deliveries() if d.next_retry] if store else []
    usage = store.token_usage() if store else TokenUsage(summaries=0, prompt_tokens=0, completion_tokens=0,
                                                         rejected=0, failed=0)
    return {
        "config": str(config.file) if config.file else None,  # None: the built-in defaults
        "database": str(config.db),
        "database_exists": store is not None,
        "library": (store.library_stats() if store else LibraryStats(
            entries=0, links=0, internal_links=0, arxiv_ids=0, hn_ids=0, dois=0, title_only=0, documents=0)).as_dict(),
        "sources": sources,
        "pending": {
            "relevant": store.count_pending(window_start) if store else 0,
            # Stored by a feed's first poll (its history) or left behind: known, but no digest offers them.
            "older_than_window": store.count_pending() - store.count_pending(window_start) if store else 0,
            "off_topic": store.count_off_topic() if store else 0,
            "digested": store.count_digested() if store else 0,
        },
        "digests": digests,
        # The person's verdicts on what the digests appended to the log (bot.library.review); a digest
        # appended since the log was last read is in review from now on.
        "review": _review_counts(store) if store else {"pending": 0, "kept": 0, "deleted": 0},
        "llm": {"enabled": config.llm_enabled, "model": config.llm_model, **usage.as_json()},
        "next": {
            "poll": max(next_poll, now).isoformat(timespec="seconds"),
            "digest": next_occurrence(config.digest_cron, config.timezone, now).isoformat(timespec="seconds"),
            "delivery_retry": min(retries) if retries else None,
        },
    }
