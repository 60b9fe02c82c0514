"""The one place that reads the wall clock.

Everything that needs the time gets a `Clock` (a function returning an aware UTC datetime) from the
composition root, as reader's `_now()` is the one source of time there; tests pass a fixed one.

`BOT_NOW` is a test-only hook, like `BOT_KILL_AT`: tests that start the CLI as a process set it to an
ISO time (`2026-11-23T10:00:00+00:00`) so the process runs at that moment, whatever today is. It acts
only with the test opt-in (bot.core.test_hooks).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from bot.core.errors import ConfigError
from bot.core.test_hooks import hook_value

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def fixed_clock(moment: datetime) -> Clock:
    if moment.tzinfo is None:
        raise ValueError("a fixed clock needs an aware datetime")
    moment = moment.astimezone(UTC)
    return lambda: moment


def clock_from_environment(env: Mapping[str, str] | None = None) -> Clock:
    """The system clock, unless the test-only `BOT_NOW` names a moment (and tests opted in)."""
    value = hook_value("BOT_NOW", os.environ if env is None else env)
    if not value:
        return system_clock
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"BOT_NOW={value!r} is not an ISO time like 2026-11-23T10:00:00+00:00") from exc
    return fixed_clock(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def stamp(moment: datetime) -> str:
    """How the store writes a moment: UTC ISO 8601 to the second."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")
