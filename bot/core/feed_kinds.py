"""The kinds a feed may name, and the options each kind reads: what the configuration checks feeds against.

bot.sources.registry fills this table as source kinds register (the built-in ones when
bot.sources.builtin is imported, which the composition root and the feed list do). It lives in the
core because the configuration is in the core, and the core imports no stage above it.
"""

from __future__ import annotations

from collections.abc import Iterable

FEED_KEYS = ("name", "kind", "url")  # every feed's own keys; everything else in its table is an option
COMMON_OPTIONS = ("enabled", "min_interval")  # options any feed may set, whatever its kind

_OPTIONS: dict[str, tuple[str, ...]] = {}  # kind -> the options it reads, in registration order


def declare_kind(name: str, options: Iterable[str]) -> None:
    _OPTIONS[name] = tuple(options)


def withdraw_kind(name: str) -> None:
    _OPTIONS.pop(name, None)


def known_kinds() -> tuple[str, ...]:
    """The kinds in the order they registered (the built-in ones first)."""
    if not _OPTIONS:
        # A program error, not a configuration one: whatever loads a configuration registers the kinds first.
        raise RuntimeError("no source kinds are registered: import bot.sources.builtin before reading feeds")
    return tuple(_OPTIONS)


def kind_options(name: str) -> tuple[str, ...]:
    """The options a feed of this kind may set (its kind's and the common ones)."""
    return COMMON_OPTIONS + _OPTIONS.get(name, ())
