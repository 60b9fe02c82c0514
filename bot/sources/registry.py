"""Source kinds by name: a kind is one module that registers how to fetch and page through it.

    @register_source("toy", min_interval=1.0, options={"prefix": ""})
    async def fetch_toy(feed, state, getter, now, outcome, offload) -> None: ...

The built-in kinds (bot.sources.hn, arxiv, rss, hf_papers) register through this same call, when
bot.sources.builtin imports them. A fetch function (see FetchKind) asks `getter` for bytes (counting
`outcome.requests`; bot.sources.kinds has the shared helpers for that), and fills `outcome` with
items, its result and error, and the state to remember for next time; `offload` runs a CPU-heavy
parse elsewhere (`await offload(parse, body)`), or inline. Registering tells the configuration the
kind's name and options, so `kind = "toy"` is a valid feed and `prefix` an option it reads. A kind
that asks an API may also register `saved_answer`, the parser of one answer saved to a file, so a
feed whose url is a local path replays it (the demo and the tests do).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol

from bot.core.config import FeedConfig
from bot.core.feed_kinds import declare_kind, withdraw_kind
from bot.core.records import FeedItem
from bot.sources.outcome import Getter, Offload, SourceOutcome


class FetchKind(Protocol):
    """How feeds of one kind are asked: an `async def` with these parameters, in this order."""

    def __call__(self, feed: FeedConfig, state: dict[str, Any], getter: Getter, now: datetime,
                 outcome: SourceOutcome, offload: Offload, /) -> Awaitable[None]: ...


# (body, the feed's name) -> (items, {"skipped", "skipped_items"}): one saved answer of a kind's API.
ParseAnswer = Callable[[bytes, str], tuple[list[FeedItem], dict[str, Any]]]


@dataclass(frozen=True)
class SourceKind:
    name: str
    fetch: FetchKind
    min_interval: float = 0.0  # seconds between requests to one host, unless the feed sets min_interval
    # The feed options it reads (beside name, kind, url, enabled and min_interval), each with its default.
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # For an API: how to read one of its answers saved to a file. A feed whose url is a local path is
    # then that one document, read (unless unchanged) and parsed instead of asking `fetch`.
    saved_answer: ParseAnswer | None = None


_KINDS: dict[str, SourceKind] = {}


def register_source(name: str, *, min_interval: float = 0.0, options: Mapping[str, Any] | None = None,
                    saved_answer: ParseAnswer | None = None) -> Callable[[FetchKind], FetchKind]:
    """Decorator: `fetch` is how feeds of kind `name` are asked. A name is registered once."""
    if name in _KINDS:
        raise ValueError(f"a source kind called {name!r} is already registered")

    def register(fetch: FetchKind) -> FetchKind:
        kind = SourceKind(name, fetch, min_interval, MappingProxyType(dict(options or {})), saved_answer)
        _KINDS[name] = kind
        declare_kind(name, kind.options)
        return fetch

    return register


def source_kind(name: str) -> SourceKind | None:
    return _KINDS.get(name)


def source_kinds() -> tuple[SourceKind, ...]:
    """Every registered kind, in the order they registered."""
    return tuple(_KINDS.values())


def unregister_source(name: str) -> None:
    """For tests that register a kind of their own."""
    _KINDS.pop(name, None)
    withdraw_kind(name)


def default_interval(kind: str, fallback: float = 0.0) -> float:
    registered = _KINDS.get(kind)
    return registered.min_interval if registered else fallback
