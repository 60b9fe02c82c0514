"""Delivery targets by name: a new target is one module that registers how it renders a digest and how
it delivers what was rendered.

    register_target(DeliveryTarget("toy", render=render_toy, deliver=deliver_toy))

`render(day, items, footer)` returns the body (anything JSON can hold); it is recorded with the digest,
before anything is delivered, so a later run delivers exactly the same body. `deliver(body, config)`
sends it and returns the details to remember (or None), or raises DeliveryError: a retryable error
leaves the delivery "failed" and the next run sends it again; once it succeeds it is "done" and never
sent again (the exactly-once ledger in bot.digest.pipeline). `enabled(config)` says whether a digest
goes to this target. (Prototype, issue 18: Slack, the log and git are not registered here yet.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The digest's own bodies and targets: a registered target takes none of these names.
BUILT_IN = frozenset({"slack", "log", "commit", "markdown", "text", "footer"})


def _always(_config: Any) -> bool:
    return True


@dataclass(frozen=True)
class DeliveryTarget:
    name: str
    render: Callable[..., Any]  # (day: date, items: Sequence[DigestItem], footer: str) -> body
    deliver: Callable[..., dict[str, Any] | None]  # (body, config: Config) -> detail to record
    enabled: Callable[[Any], bool] = _always  # (config: Config) -> does a digest go here?


_TARGETS: dict[str, DeliveryTarget] = {}


def register_target(target: DeliveryTarget) -> DeliveryTarget:
    if target.name in BUILT_IN or target.name in _TARGETS:
        raise ValueError(f"a delivery target called {target.name!r} is already registered")
    _TARGETS[target.name] = target
    return target


def unregister_target(name: str) -> None:
    """For tests that register a target of their own."""
    _TARGETS.pop(name, None)


def delivery_target(name: str) -> DeliveryTarget | None:
    return _TARGETS.get(name)


def delivery_targets() -> list[DeliveryTarget]:
    return list(_TARGETS.values())
