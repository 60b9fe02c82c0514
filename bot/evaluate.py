"""`bot eval`: replay an archive of feed documents week by week and measure how well the digest would
have served the person (spec section 7).

For each week: a fresh in-memory store holding the library as it stood before that week (entries dated
earlier; undated documents too with --include-undated), a poll of that week's documents through the
real pipeline (normalize, dedupe, score, store), and the digest's ranking. The week's picks are the
log entries whose item first appeared in the archive that week and that were not yet in the library.
Recall at the digest size is the share of those picks among the top N. Two baselines run on the same
items: HN points only, and a keyword filter (any topic phrase) then points.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.core.config import Config, FeedConfig
from bot.core.identity import Identity
from bot.core.records import FeedItem, LibraryEntry
from bot.digest.pipeline import select
from bot.library.api import display_path, document_paths, read_document
from bot.library.parser import parse_document
from bot.poll import store_outcomes
from bot.relevance.score import TopicMatcher
from bot.sources.feedlist import load_topics
from bot.sources.kinds import SourceOutcome
from bot.sources.parsers import ParseError, parse_algolia, parse_arxiv, parse_rss
from bot.store.database import Store

_DAY_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
PICK_KINDS = ("hn", "arxiv", "url", "doi")


@dataclass
class WeekResult:
    week: str
    items: int
    picks: list[dict[str, Any]] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)  # method -> picks in the top N
    wasted: int = 0  # digest slots that went to items never picked

    def recall(self, method: str) -> float:
        return self.hits.get(method, 0) / len(self.picks) if self.picks else 0.0


def parse_archive_document(path: Path) -> list[FeedItem]:
    body = path.read_bytes()
    head = body[:4096].lstrip()
    if head.startswith((b"{", b"[")):
        return parse_algolia(body, path.stem)[0]
    if b"arxiv.org/api" in head or b"opensearch" in head:
        return parse_arxiv(body, path.stem)[0]
    return parse_rss(body, path.stem)


def archive_days(folder: Path) -> dict[date, list[FeedItem]]:
    days: dict[date, list[FeedItem]] = defaultdict(list)
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        try:
            items = parse_archive_document(path)
        except (ParseError, OSError):
            continue
        m = _DAY_RE.search(path.name)
        if m:
            day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        else:
            stamps = [i.published for i in items if i.published]
            if not stamps:
                continue
            day = datetime.fromisoformat(max(stamps)).date()
        days[day].extend(items)
    return dict(days)


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def replay(config: Config, archive: Path, limit: int = 20, include_undated: bool = False) -> dict[str, Any]:
    topics = TopicMatcher(load_topics(config.topics))
    if not archive.is_dir():
        raise FileNotFoundError(f"no such archive folder: {archive}")
    days = archive_days(archive)
    paths = list(config.library_paths) + ([config.log] if config.log else [])
    entries: list[LibraryEntry] = []
    for path in document_paths(paths):
        entries.extend(parse_document(read_document(path), display_path(path)))
    entries = list({(e.file, e.line): e for e in entries}.values())
    log_name = display_path(config.log) if config.log else None
    picks = [e for e in entries if e.file == log_name and e.date]

    first_seen: dict[Identity, date] = {}
    story_of: dict[Identity, int] = {}  # which archive story first carried an identity
    story = 0
    for day in sorted(days):
        for item in days[day]:
            story += 1
            for ident in item.identities:
                if ident.kind in PICK_KINDS:
                    first_seen.setdefault(ident, day)
                    story_of.setdefault(ident, story)
    weeks: dict[date, list[date]] = defaultdict(list)
    for day in days:
        weeks[_week_start(day)].append(day)
    # A story still on the front page from an earlier week went out in that week's digest: each week
    # polls only the stories it saw first, as a running bot would have found the rest known.
    days = {day: [i for i in items if _first_week(i, first_seen) >= _week_start(day)] for day, items in days.items()}

    results: list[WeekResult] = []
    for start in sorted(weeks):
        end = start + timedelta(days=7)
        week_picks = []
        for entry in picks:
            if entry.date is None or date.fromisoformat(entry.date) < start:
                continue  # already in the library by then: known, not news
            appeared = [first_seen[i] for i in entry.identities if i.kind in PICK_KINDS and i in first_seen]
            if appeared and start <= min(appeared) < end:
                week_picks.append(entry)
        week_picks = _one_per_story(week_picks, story_of)
        if not week_picks:
            continue
        results.append(_replay_week(config, topics, start, end, weeks[start], days, entries, week_picks,
                                    limit, include_undated))
    return _report(results, limit, archive, include_undated)


def _first_week(item: FeedItem, first_seen: dict[Identity, date]) -> date:
    seen = [first_seen[i] for i in item.identities if i in first_seen]
    return _week_start(min(seen)) if seen else date.max


def _one_per_story(entries: Sequence[LibraryEntry], story_of: dict[Identity, int]) -> list[LibraryEntry]:
    """A story logged in two lines (the article, then its HN thread) is one pick, not two: the entries
    that lead to the same archive story become one, carrying all their identities."""
    by_story: dict[int, LibraryEntry] = {}
    for entry in entries:
        story = min(story_of[i] for i in entry.identities if i in story_of)
        first = by_story.get(story)
        by_story[story] = entry if first is None else replace(
            first, identities=first.identities | entry.identities)
    return list(by_story.values())


def _replay_week(config: Config, topics: TopicMatcher, start: date, end: date, week_days: Sequence[date],
                 days: dict[date, list[FeedItem]], entries: Sequence[LibraryEntry],
                 week_picks: Sequence[LibraryEntry], limit: int, include_undated: bool) -> WeekResult:
    store = Store.open(":memory:")
    try:
        by_file: dict[str, list[LibraryEntry]] = defaultdict(list)
        for e in entries:
            if (e.date and date.fromisoformat(e.date) < start) or (include_undated and not e.date):
                by_file[e.file].append(e)
        for file, file_entries in by_file.items():
            store.replace_library_file(file, file_entries)
        items = [i for d in sorted(week_days) for i in days[d]]
        now = datetime.combine(end, datetime.min.time(), tzinfo=UTC)
        feed = FeedConfig(name="archive", kind="rss", url="archive")
        store_outcomes(config, store, [SourceOutcome(feed, items=items)], topics, now, now.isoformat())
        ours, _ = select(store, None, None, limit)
        everything = store.items_where("1", [])
        by_points = sorted(everything, key=lambda r: (-(r["points"] or 0), r["id"]))[:limit]
        keyword = [r for r in everything if topics.match(r["title"], "")[0] > 0]
        by_keyword = sorted(keyword, key=lambda r: (-(r["points"] or 0), r["id"]))[:limit]
        result = WeekResult(week=start.isoformat(), items=len(everything))
        for entry in week_picks:
            idents = {(i.kind, i.value) for i in entry.identities if i.kind in PICK_KINDS}
            record: dict[str, Any] = {"title": entry.title, "date": entry.date, "line": entry.line}
            for method, ranked in (("bot", ours), ("points", by_points), ("keyword_points", by_keyword)):
                rank = next((n + 1 for n, row in enumerate(ranked) if _row_identities(store, row["id"]) & idents), None)
                record[f"rank_{method}"] = rank
                if rank is not None:
                    result.hits[method] = result.hits.get(method, 0) + 1
            record["found"] = any(_row_identities(store, r["id"]) & idents for r in everything)
            result.picks.append(record)
        pick_idents = {(i.kind, i.value) for e in week_picks for i in e.identities if i.kind in PICK_KINDS}
        result.wasted = sum(1 for row in ours if not (_row_identities(store, row["id"]) & pick_idents))
        return result
    finally:
        store.close()


def _row_identities(store: Store, item_id: int) -> set[tuple[str, str]]:
    return {(k, v) for k, v, _o, _i in store.db.execute(
        "select kind, value, owner, owner_id from identities where owner = 'item' and owner_id = ?", [item_id])}


def _report(results: Sequence[WeekResult], limit: int, archive: Path, include_undated: bool) -> dict[str, Any]:
    methods = ("bot", "points", "keyword_points")
    total_picks = sum(len(r.picks) for r in results)
    overall = {}
    for m in methods:
        hits = sum(r.hits.get(m, 0) for r in results)
        overall[m] = {
            "hits": hits,
            "recall_micro": round(hits / total_picks, 3) if total_picks else None,
            "recall_macro": round(sum(r.recall(m) for r in results) / len(results), 3) if results else None,
        }
    return {
        "archive": str(archive), "k": limit, "include_undated": include_undated, "weeks": len(results),
        "picks": total_picks, "overall": overall,
        "wasted_slots": sum(r.wasted for r in results),
        "per_week": [{"week": r.week, "items": r.items, "picks": len(r.picks),
                      "recall": {m: round(r.recall(m), 3) for m in methods}, "wasted_slots": r.wasted,
                      "detail": r.picks} for r in results],
    }
