"""`bot sources`: the configured sources with their health, and forgetting the state of one that left
the configuration (`bot sources forget NAME`; its items stay known, so nothing it brought comes back).

A source's state outlives its place in the configuration (a blog removed from blogs.opml keeps its row
of validators and last error): listed apart, as "former", never as a configured source."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.core.config import Config, FeedConfig
from bot.core.errors import BotError, ConfigError
from bot.core.records import SourceState
from bot.sources.feedlist import load_feeds
from bot.store.database import Store

_NO_ITEMS = {"stored": 0, "pending": 0, "off_topic": 0, "digested": 0}


@dataclass(frozen=True)
class SourcesReport:
    configured: list[dict[str, Any]]
    former: list[dict[str, Any]]  # state left in the database by sources no longer configured

    def as_json(self) -> dict[str, Any]:
        return {"sources": self.configured, "former": self.former}


def sources_report(config: Config, store: Store | None, now: datetime) -> SourcesReport:
    """The configured sources' health; with no database yet (None), all of them never polled."""
    states = {s.name: s for s in store.source_states()} if store is not None else {}
    items = store.counts_by_source() if store is not None else {}
    configured = [_configured(feed, states.pop(feed.name, SourceState(feed.name)), items, config, now)
                  for feed in load_feeds(config)]
    former = [{**_health(s, items), "kind": s.kind, "url": s.url} for s in states.values()]
    return SourcesReport(configured, former)


def _health(state: SourceState, items: dict[str, dict[str, int]]) -> dict[str, Any]:
    return {"name": state.name, "last_poll": state.last_poll, "result": state.result, "error": state.error,
            "last_counts": dict(state.stats), "items": items.get(state.name, dict(_NO_ITEMS))}


def _configured(feed: FeedConfig, state: SourceState, items: dict[str, dict[str, int]], config: Config,
                now: datetime) -> dict[str, Any]:
    same_address = state.url in (None, feed.url)  # a new address in the config starts afresh
    gone = state.gone if same_address else None
    waiting = state.retry_after if _later(state.retry_after, now) else None
    if not feed.enabled:
        next_fetch, why = None, "disabled in the config"
    elif gone:
        next_fetch, why = None, f"answered 410 Gone on {gone}: polled only when named (`bot poll --source {feed.name}`)"
    elif waiting:
        next_fetch, why = waiting, "it asked us to wait (Retry-After)"
    else:
        due = (datetime.fromisoformat(state.last_poll) + timedelta(minutes=config.poll_every_minutes)
               if state.last_poll else now)
        next_fetch, why = max(due, now).isoformat(timespec="seconds"), "the next scheduled poll"
    return {**_health(state, items), "kind": feed.kind, "url": feed.url, "enabled": feed.enabled,
            "etag": state.etag, "last_modified": state.last_modified, "retry_after": state.retry_after,
            "gone": gone, "moved_to": state.moved_to if same_address else None,
            "next_fetch": next_fetch, "next_fetch_reason": why}


def _later(stamp: str | None, now: datetime) -> bool:
    if not stamp:
        return False
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")) > now
    except (TypeError, ValueError):  # a stamp no version writes: nothing to wait for
        return False


def forget(config: Config, store: Store | None, name: str) -> None:
    """Removes the state of a source that left the configuration; its items stay known."""
    configured = {feed.name for feed in load_feeds(config)}
    if name in configured:
        raise ConfigError(f"{name!r} is still a configured source, so the next poll would only write its state "
                          f"again; remove it from the config or feed files first")
    if store is None:
        raise BotError(f"No database yet at {config.db}, so no source has state to forget")
    if not store.forget_source(name):
        known = ", ".join(s.name for s in store.source_states() if s.name not in configured)
        raise BotError(f"No former source called {name!r} has state to forget"
                       + (f" (former sources: {known})" if known else " (there are no former sources)"))
