"""What a source kind is handed and what it fills: the Getter it asks for bytes, and the SourceOutcome
of one feed's poll (its items, whether it was unchanged, its error, the state to remember).

The registry types a kind's fetch function with these, so they load nothing but the core.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.core.config import FeedConfig
from bot.core.records import FeedItem
from bot.sources.answer import FetchResult

MAX_SKIPPED_REASONS = 10  # a feed of ten thousand broken items reports the first few, and the count


class Getter(Protocol):
    async def get(self, url: str, etag: str | None = None, last_modified: str | None = None,
                  accept: str = "*/*") -> FetchResult: ...


@dataclass
class SourceOutcome:
    feed: FeedConfig
    # Not in the repr: Python 3.11's asyncio.run formats the repr of its main task, and with it of the
    # task's result, when it ends (signal.getsignal on its own SIGINT handler); a poll's outcomes with
    # their 5,000 items made that 0.2 s, twice.
    items: list[FeedItem] = field(default_factory=list, repr=False)
    result: str = "ok"  # ok | not_modified | error | gone
    error: str | None = None
    state: dict[str, Any] = field(default_factory=dict)  # what to remember for next time
    requests: int = 0
    elapsed: float = 0.0
    skipped: int = 0  # entries that could not be read alone (a link that is not a URL); the rest stand
    skipped_items: list[str] = field(default_factory=list)
    left: int = 0  # results a paged source left beyond its cap; its cursor does not pass them

    def count_skipped(self, paging: dict[str, Any]) -> None:
        self.skipped += paging.get("skipped", 0)
        self.skipped_items = (self.skipped_items + paging.get("skipped_items", []))[:MAX_SKIPPED_REASONS]


# Runs a CPU-heavy function (a parse) somewhere, perhaps in another process: `await offload(fn, *args)`.
Offload = Callable[..., Awaitable[Any]]


async def inline(fn: Callable[..., Any], *args: Any) -> Any:
    """The Offload that runs it here and now."""
    return fn(*args)
