"""Which undigested items a digest shows: the window (`--since/--until`, else the last
`[bot] digest_window_days`), the ranking that puts all sources on one scale (bot.relevance.keep), items
that match a tracked topic ahead of those that match none (bot.relevance.score.on_topic), and repeats
left out (bot.digest.repeats)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.core.errors import ConfigError
from bot.core.normalize import iso_time
from bot.core.records import Headline, StoredItem
from bot.digest.repeats import without_repeats
from bot.relevance.keep import Kept, add_verdicts, item_kind, library_counts, rank_by_keep
from bot.relevance.score import on_topic
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


def digest_window(since_text: str | None, until_text: str | None, tz: str, now: datetime,
                  days: int) -> tuple[str, str | None]:
    """The window a digest draws from: `--since/--until` as given; without --since, the `days` before
    --until (or now). A feed's first poll stores its whole back catalogue as known; this is what keeps
    those months- or years-old posts out of the weekly digest."""
    since, until = window(since_text, until_text, tz)
    if since is None:
        end = datetime.fromisoformat(until) if until else now
        since = iso_time(end - timedelta(days=days))
    assert since is not None
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
    ranked: dict[int, StoredItem] = {}
    for item, keep, explain in _topics_first(store, rank_by_keep(candidates, counts), limit * 2):
        # The digest's score is the one comparable across sources; the source's own stays in explain.
        ranked[item.id] = replace(item, score=keep,
                                  explain={**item.explain, "keep": {**explain, "source_score": item.score}})
    chosen, skipped = without_repeats([Headline(item.id, item.title) for item in ranked.values()], limit)
    if repeats is not None:
        repeats.extend(skipped)
    return [ranked[row.id] for row in chosen], len(candidates)


_BATCH = 200  # items read at a time while looking for enough that match a topic


def _topics_first(store: Store, ranked: list[Kept], wanted: int) -> list[tuple[StoredItem, float, dict[str, object]]]:
    """The first `wanted` of `ranked` (best first) with every item that matches a tracked topic ahead of
    every item that matches none: library overlap alone ("A Gentle Introduction to the Fediverse" sharing
    words with the person's notes) is not evidence enough to take a slot from an on-topic item. An
    off-topic item keeps its place among its kind and is shown only when too few on-topic items are left;
    its score is then capped at the lowest on-topic score shown, so the digest stays sorted by score
    (explain["keep"]["below_topics"] holds its own keep)."""
    matched: list[tuple[StoredItem, Kept]] = []
    unmatched: list[tuple[StoredItem, Kept]] = []
    for start in range(0, len(ranked), _BATCH):
        batch = ranked[start:start + _BATCH]
        stored = store.items_by_id(k.id for k in batch)
        for kept in batch:
            item = stored[kept.id]
            (matched if on_topic(item.topics) else unmatched).append((item, kept))
        if len(matched) >= wanted:
            break
    out: list[tuple[StoredItem, float, dict[str, object]]] = [(i, k.keep, dict(k.explain)) for i, k in matched]
    floor = min((k.keep for _, k in matched[:wanted]), default=None)
    for item, kept in unmatched[:max(0, wanted - len(matched))]:
        if floor is None or kept.keep <= floor:
            out.append((item, kept.keep, dict(kept.explain)))
        else:
            out.append((item, floor, {**kept.explain, "keep": floor, "below_topics": kept.keep}))
    return out[:wanted]


def top_papers(store: Store, since: str | None, until: str | None, limit: int) -> list[StoredItem]:
    """The highest-scored undigested relevant papers without an HN thread yet."""
    return store.top_unthreaded_papers(since, until, limit)
