"""Source kinds by name: a new kind is one module that registers how to fetch and page through it.

    @register_source("toy", min_interval=1.0, options=("limit",))
    async def fetch_toy(feed, state, getter, now, outcome) -> None: ...

The fetch function has the shape of the built-in ones in bot.sources.kinds: it asks `getter` for bytes
(counting `outcome.requests`), and fills `outcome` with items, its result and error, and the state to
remember for next time. Registering tells the configuration the kind's name, so `kind = "toy"` is a
valid feed. (Prototype, issue 18: hn, arxiv and rss are not registered here yet.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.core.config import FEED_KINDS, REGISTERED_FEED_KINDS

# (feed: FeedConfig, state: dict, getter: Getter, now: datetime, outcome: SourceOutcome) -> None.
# Typed loosely: bot.sources.kinds, which owns Getter and SourceOutcome, looks kinds up here.
FetchKind = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class SourceKind:
    name: str
    fetch: FetchKind
    min_interval: float = 0.0  # seconds between requests to one host, unless the feed sets min_interval
    options: tuple[str, ...] = ()  # the feed options it reads, beside name, kind, url and enabled


_KINDS: dict[str, SourceKind] = {}


def register_source(name: str, *, min_interval: float = 0.0,
                    options: tuple[str, ...] = ()) -> Callable[[FetchKind], FetchKind]:
    """Decorator: `fetch` is how feeds of kind `name` are asked. A name is registered once."""
    if name in FEED_KINDS or name in _KINDS:
        raise ValueError(f"a source kind called {name!r} is already registered")

    def register(fetch: FetchKind) -> FetchKind:
        _KINDS[name] = SourceKind(name, fetch, min_interval, options)
        REGISTERED_FEED_KINDS.add(name)
        return fetch

    return register


def source_kind(name: str) -> SourceKind | None:
    return _KINDS.get(name)


def unregister_source(name: str) -> None:
    """For tests that register a kind of their own."""
    _KINDS.pop(name, None)
    REGISTERED_FEED_KINDS.discard(name)


def default_interval(kind: str, fallback: float = 0.0) -> float:
    registered = _KINDS.get(kind)
    return registered.min_interval if registered else fallback
