"""Which undigested items a digest shows: the window of `--since/--until`, the ranking that puts all
sources on one scale (bot.relevance.keep), and repeats left out (bot.digest.repeats)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from bot.core.errors import ConfigError
from bot.core.normalize import iso_time
from bot.core.records import Headline, StoredItem
from bot.digest.repeats import without_repeats
from bot.relevance.keep import add_verdicts, item_kind, library_counts, rank_by_keep
from bot.store.database import Store


def parse_when(value: str | None, tz: str, name: str) -> str | None:
    """A date (midnight in the configured timezone) or an ISO time, as a UTC ISO string."""
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            dt = datetime.combine(day, time(0, 0), tzinfo=ZoneInfo(tz))
        else:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=ZoneInfo(tz))
    except ValueError as exc:
        raise ConfigError(f"--{name} {value!r} is not a date (2026-11-23) or an ISO time") from exc
    return iso_time(dt)


def window(since_text: str | None, until_text: str | None, tz: str) -> tuple[str | None, str | None]:
    """The [since, until) window of the options, as UTC ISO strings; an empty window is refused."""
    since = parse_when(since_text, tz, "since")
    until = parse_when(until_text, tz, "until")
    if since and until and since >= until:
        raise ConfigError(f"--since {since_text} is not before --until {until_text}, so no item could be in the "
                          "window; swap them, or leave one out")
    return since, until


def select(store: Store, since: str | None, until: str | None, limit: int,
           repeats: list[int] | None = None,
           verdicts: Mapping[tuple[bool, bool], tuple[int, int]] | None = None) -> tuple[list[StoredItem], int]:
    """(the top `limit` items, how many were candidates); ids of items left out as repeats of a chosen
    one go into `repeats` when given. Ranked by how likely the person keeps each (bot.relevance.keep), which puts
    the sources on one scale: that is each chosen item's score; the explanation, with the source's own
    score, is in its explain["keep"]."""
    counts = library_counts(store.entry_identity_kinds())
    # The person's verdicts in the log review (`bot eval --review` passes simulated ones).
    add_verdicts(counts, store.verdicts_by_kind() if verdicts is None else verdicts)
    for (has_hn, has_arxiv), n in store.offered_counts(since, until).items():
        counts.offered[item_kind(has_hn, has_arxiv)] += n
    candidates = store.relevant_candidates(since, until)
    ranked_ids = rank_by_keep(candidates, counts)[:limit * 2]
    stored = store.items_by_id(k.id for k in ranked_ids)
    ranked: dict[int, StoredItem] = {}
    for kept in ranked_ids:
        item = stored[kept.id]
        # The digest's score is the one comparable across sources; the source's own stays in explain.
        ranked[item.id] = replace(item, score=kept.keep,
                                  explain={**item.explain, "keep": {**kept.explain, "source_score": item.score}})
    chosen, skipped = without_repeats([Headline(item.id, item.title) for item in ranked.values()], limit)
    if repeats is not None:
        repeats.extend(skipped)
    return [ranked[row.id] for row in chosen], len(candidates)


def top_papers(store: Store, since: str | None, until: str | None, limit: int) -> list[StoredItem]:
    """The highest-scored undigested relevant papers without an HN thread yet."""
    return store.top_unthreaded_papers(since, until, limit)
