"""The digest schedule: `mon 09:00`, `mon,thu 08:30`, `daily 07:00` in the configured timezone.

One place reads these expressions: the configuration validates them, `bot run` turns them into a
trigger (bot.scheduler), and `bot status` and the missed-digest check ask for occurrences here.
Day names, never numbers: in cron, 0 is Sunday in some dialects and Monday in others.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core.errors import ConfigError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EVERY_DAY = ("daily", "*")


def validate_cron(expr: str) -> str:
    """The expression, normalized (lower case); a ConfigError saying what is wrong otherwise."""
    parts = expr.strip().lower().split()
    if len(parts) != 2:
        raise ConfigError(f"digest_cron {expr!r} must look like 'mon 09:00'")
    days, clock = parts
    if days not in EVERY_DAY:
        for day in days.split(","):
            if day not in DAY_NAMES:
                raise ConfigError(f"digest_cron {expr!r}: {day!r} is not a day name ({', '.join(DAY_NAMES)})")
    try:
        hour, minute = (int(x) for x in clock.split(":"))
        if not (0 <= hour < 24 and 0 <= minute < 60):
            raise ValueError
    except ValueError as exc:
        raise ConfigError(f"digest_cron {expr!r}: {clock!r} is not a time like 09:00") from exc
    return expr.strip().lower()


def parse_cron(expr: str) -> tuple[set[int], int, int]:
    """(weekdays as 0=Monday.., hour, minute) of a validated expression."""
    days_part, clock = expr.split()
    hour, minute = (int(x) for x in clock.split(":"))
    days = set(range(7)) if days_part in EVERY_DAY else {DAY_NAMES.index(d) for d in days_part.split(",")}
    return days, hour, minute


def _occurrence(cron: str, tz: str, now: datetime, step: int) -> datetime:
    days, hour, minute = parse_cron(cron)
    local = now.astimezone(ZoneInfo(tz))
    for offset in range(8):
        day = local + timedelta(days=step * offset)
        candidate = day.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if candidate.weekday() in days and (candidate > local if step > 0 else candidate <= local):
            return candidate
    raise ValueError(f"no occurrence of {cron!r}")  # unreachable for a validated expression


def next_occurrence(cron: str, tz: str, now: datetime) -> datetime:
    """The first scheduled time after now."""
    return _occurrence(cron, tz, now, 1)


def previous_occurrence(cron: str, tz: str, now: datetime) -> datetime:
    """The latest scheduled time at or before now."""
    return _occurrence(cron, tz, now, -1)


def digest_missed(cron: str, tz: str, now: datetime, last_digest: datetime | None) -> bool:
    """True when a digest fell due after the last one the database records. A database with none is
    new: its first digest waits for the schedule, rather than posting at the first start-up what a
    person who just installed the bot has not asked for yet."""
    if last_digest is None:
        return False
    return last_digest < previous_occurrence(cron, tz, now)
