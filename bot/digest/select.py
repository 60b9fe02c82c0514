"""Which undigested items a digest shows: the window of `--since/--until`, the ranking that puts all
sources on one scale (bot.relevance.keep), and repeats left out (bot.digest.repeats)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from bot.core.errors import ConfigError
from bot.core.normalize import iso_time
from bot.digest.repeats import without_repeats
from bot.relevance.keep import item_kind, library_counts, rank_by_keep
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
           repeats: list[int] | None = None) -> tuple[list[dict[str, Any]], int]:
    """(the top `limit` items, how many were candidates); ids of items left out as repeats of a chosen
    one go into `repeats` when given. Ranked by how likely the person keeps each (bot.relevance.keep), which puts
    the sources on one scale: that is each chosen row's score; the explanation, with the source's own
    score, is in its explain["keep"]."""
    window, args = _window(since, until)
    counts = library_counts(store.entry_identity_kinds())
    for hn_id, arxiv_id, n in store.db.execute(
            f"select hn_id is not null, arxiv_id is not null, count(*) from items where {window} group by 1, 2",
            args):
        counts.offered[item_kind(hn_id, arxiv_id)] += n
    clause = f"status = 'relevant' and {window}"
    candidates = [dict(zip(("id", "score", "hn_id", "arxiv_id"), r, strict=True)) for r in store.db.execute(
        f"select id, score, hn_id, arxiv_id from items where {clause}", args)]
    ranked_ids = rank_by_keep(candidates, counts)[:limit * 2]
    rows = {r["id"]: r for r in store.items_where(
        f"id in ({','.join('?' * len(ranked_ids))})", [k.id for k in ranked_ids])} if ranked_ids else {}
    ranked = []
    for kept in ranked_ids:
        row = rows[kept.id]
        # The digest's score is the one comparable across sources; the source's own stays in explain.
        row["explain"] = {**(row.get("explain") or {}), "keep": {**kept.explain, "source_score": row["score"]}}
        row["score"] = kept.keep
        ranked.append(row)
    chosen, skipped = without_repeats(ranked, limit)
    if repeats is not None:
        repeats.extend(skipped)
    return chosen, len(candidates)


def top_papers(store: Store, since: str | None, until: str | None, limit: int) -> list[dict[str, Any]]:
    """The highest-scored undigested relevant papers without an HN thread yet."""
    window, args = _window(since, until)
    return store.items_where(f"status = 'relevant' and hn_id is null and arxiv_id is not null and {window}", args,
                             order_by="score desc, id", limit=limit)


def _window(since: str | None, until: str | None) -> tuple[str, list[Any]]:
    """The undigested items of the window [since, until), by published time (else first seen)."""
    where = ["digest_id is null"]
    args: list[Any] = []
    if since:
        where.append("coalesce(published, first_seen) >= ?")
        args.append(since)
    if until:
        where.append("coalesce(published, first_seen) < ?")
        args.append(until)
    return " and ".join(where), args
