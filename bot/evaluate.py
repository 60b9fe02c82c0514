"""`bot eval`: replay an archive of feed documents week by week and measure how well the digest would
have served the person (spec section 7).

For each week: a fresh in-memory store holding the library as it stood before that week (entries dated
earlier; undated documents too with --include-undated), a poll of that week's documents through the
real pipeline (normalize, dedupe, score, store), and the digest's ranking. The week's picks are the
log entries whose item first appeared in the archive that week and that were not yet in the library.
Recall at the digest size is the share of those picks among the top N. Two baselines run on the same
items: HN points only, and a keyword filter (any topic phrase) then points.

`review`: the log review simulated. Each week's digest items that are not among the week's picks are
"deleted", the picks "kept" (the person deletes what they did not want from the appended section),
and the verdicts of the weeks so far feed the next week's ranking as the log review would
(bot.relevance.keep). Reported as the method "bot_review" beside "bot", on the same weeks and items.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.core.config import Config, FeedConfig
from bot.core.errors import ConfigError
from bot.core.identity import Identity
from bot.core.records import FeedItem, LibraryEntry, StoredItem
from bot.digest.select import select
from bot.library.api import display_path
from bot.library.documents import document_paths, read_document
from bot.library.parser import parse_document
from bot.poll import store_outcomes
from bot.relevance.topics import TopicMatcher
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
    slots: dict[str, int] = field(default_factory=dict)  # digest slots by the archives that carried the item
    digest: list[dict[str, Any]] = field(default_factory=list)

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
    """The archive's daily documents, by day. Only the folder's own files: an archive is one folder of
    daily documents, and searching its subfolders mixed other archives (or backups) into the replay."""
    days: dict[date, list[FeedItem]] = defaultdict(list)
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
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
    if not days:
        raise ConfigError(f"{folder} holds no daily feed documents at its top level (RSS, Atom or HN Algolia "
                          "JSON files, one a day, named like 2023-03-27.xml); point bot eval at the folder that "
                          "holds them")
    return dict(days)


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


WEEK_COVERAGE_DAYS = 4  # a week counts in a replay across archives when each recorded at least this many days


@dataclass(frozen=True)
class Archive:
    """One replayed source: its name (the folder's) and its documents by day."""

    name: str
    days: dict[date, list[FeedItem]]


def load_archive(folder: Path) -> Archive:
    if not folder.is_dir():
        raise FileNotFoundError(f"no such archive folder: {folder}")
    name = folder.resolve().name
    # The item's source is the archive it came from, as a poll names the feed: digest slots are told apart by it.
    days = {d: [replace(i, source=name) for i in items] for d, items in archive_days(folder).items()}
    return Archive(name, days)


class _Stories:
    """Union-find over identities: everything that any document names together is one story (a paper
    and the HN thread linking it), first seen on the earliest day any archive carried it."""

    def __init__(self) -> None:
        self.parent: dict[Identity, Identity] = {}
        self.first: dict[Identity, tuple[date, int]] = {}

    def find(self, ident: Identity) -> Identity:
        root = ident
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while ident != root:
            self.parent[ident], ident = root, self.parent[ident]
        return root

    def add(self, idents: Sequence[Identity], seen: tuple[date, int]) -> None:
        roots = [self.find(i) for i in idents]
        for i in idents:
            self.parent.setdefault(i, i)
        if not roots:
            return
        top = roots[0]
        best = min([self.first.get(r, seen) for r in roots] + [seen])
        for r in roots[1:]:
            if r != top:
                self.parent[r] = top
        self.first[top] = best

    def seen(self, ident: Identity) -> tuple[date, int] | None:
        return self.first.get(self.find(ident)) if ident in self.parent else None


Verdicts = dict[tuple[bool, bool], tuple[int, int]]  # (has an HN id, has an arXiv id) -> (decided, deleted)


def replay(config: Config, archive: Path | Sequence[Path], limit: int = 20,
           include_undated: bool = False, review: bool = False) -> dict[str, Any]:
    """Replay one archive, or several as one stream (the first is the baseline the others join)."""
    folders = [archive] if isinstance(archive, Path) else list(archive)
    topics = TopicMatcher(load_topics(config.topics))
    archives = [load_archive(f) for f in folders]
    paths = list(config.library_paths) + ([config.log] if config.log else [])
    entries: list[LibraryEntry] = []
    for path in document_paths(paths):
        entries.extend(parse_document(read_document(path), display_path(path)))
    entries = list({(e.file, e.line): e for e in entries}.values())
    log_name = display_path(config.log) if config.log else None
    picks = [e for e in entries if e.file == log_name and e.date]

    all_days = sorted({d for a in archives for d in a.days})
    stories = _Stories()
    story = 0
    for day in all_days:
        for a in archives:
            for item in a.days.get(day, ()):
                story += 1
                stories.add([i for i in item.identities if i.kind in PICK_KINDS], (day, story))
    weeks: dict[date, list[date]] = defaultdict(list)
    for day in all_days:
        weeks[_week_start(day)].append(day)
    if len(archives) > 1:  # across sources, only the weeks that every source recorded
        weeks = {w: ds for w, ds in weeks.items()
                 if all(sum(1 for d in ds if d in a.days) >= WEEK_COVERAGE_DAYS for a in archives)}
    # A story still on the front page from an earlier week went out in that week's digest: each week
    # polls only the stories it saw first, as a running bot would have found the rest known.
    for a in archives:
        for day, items in a.days.items():
            a.days[day] = [i for i in items if _first_week(i, stories) >= _week_start(day)]

    results: list[WeekResult] = []
    verdicts: Verdicts | None = {} if review else None
    for start in sorted(weeks):
        end = start + timedelta(days=7)
        week_picks = []
        for entry in picks:
            if entry.date is None or date.fromisoformat(entry.date) < start:
                continue  # already in the library by then: known, not news
            appeared = [s[0] for i in entry.identities if i.kind in PICK_KINDS and (s := stories.seen(i))]
            if appeared and start <= min(appeared) < end:
                week_picks.append(entry)
        week_picks = _one_per_story(week_picks, stories)
        if not week_picks:
            continue
        results.append(_replay_week(config, topics, start, end, weeks[start], archives, entries, week_picks,
                                    limit, include_undated, verdicts))
    report = _report(results, limit, folders, archives, include_undated, review)
    if verdicts is not None:
        report["simulated_verdicts"] = {f"hn={k[0]},arxiv={k[1]}": {"decided": v[0], "deleted": v[1]}
                                        for k, v in sorted(verdicts.items())}
    return report


def _first_week(item: FeedItem, stories: _Stories) -> date:
    seen = [s[0] for i in item.identities if i.kind in PICK_KINDS and (s := stories.seen(i))]
    return _week_start(min(seen)) if seen else date.max


def _one_per_story(entries: Sequence[LibraryEntry], stories: _Stories) -> list[LibraryEntry]:
    """A story logged in two lines (the article, then its HN thread; or the paper, then its thread) is
    one pick, not two: the entries that lead to the same archive story become one, carrying all their
    identities."""
    by_story: dict[Identity, LibraryEntry] = {}
    for entry in entries:
        story = min((stories.seen(i) or (date.max, 0), stories.find(i)) for i in entry.identities
                    if i.kind in PICK_KINDS and stories.seen(i))[1]
        first = by_story.get(story)
        by_story[story] = entry if first is None else replace(
            first, identities=first.identities | entry.identities)
    return list(by_story.values())


def _week_store(config: Config, topics: TopicMatcher, start: date, end: date, week_days: Sequence[date],
                archives: Sequence[Archive], entries: Sequence[LibraryEntry], include_undated: bool) -> Store:
    store = Store.open(":memory:")
    by_file: dict[str, list[LibraryEntry]] = defaultdict(list)
    for e in entries:
        if (e.date and date.fromisoformat(e.date) < start) or (include_undated and not e.date):
            by_file[e.file].append(e)
    for file, file_entries in by_file.items():
        store.replace_library_file(file, file_entries)
    now = datetime.combine(end, datetime.min.time(), tzinfo=UTC)
    outcomes = [SourceOutcome(FeedConfig(name=a.name, kind="rss", url=a.name),
                              items=[i for d in sorted(week_days) for i in a.days.get(d, ())]) for a in archives]
    store_outcomes(config, store, outcomes, topics, now, now.isoformat())
    return store


def _replay_week(config: Config, topics: TopicMatcher, start: date, end: date, week_days: Sequence[date],
                 archives: Sequence[Archive], entries: Sequence[LibraryEntry],
                 week_picks: Sequence[LibraryEntry], limit: int, include_undated: bool,
                 verdicts: Verdicts | None = None) -> WeekResult:
    store = _week_store(config, topics, start, end, week_days, archives, entries, include_undated)
    # The baseline of a replay across sources: the first archive alone, the same week and picks.
    alone = _week_store(config, topics, start, end, week_days, archives[:1], entries, include_undated) \
        if len(archives) > 1 else None
    try:
        ours, _ = select(store, None, None, limit)
        everything = store.all_items()
        by_points = sorted(everything, key=lambda r: (-(r.points or 0), r.id))[:limit]
        keyword = [r for r in everything if topics.match(r.title, "")[0] > 0]
        by_keyword = sorted(keyword, key=lambda r: (-(r.points or 0), r.id))[:limit]
        rankings: list[tuple[str, Store, list[StoredItem]]] = [
            ("bot", store, ours), ("points", store, by_points), ("keyword_points", store, by_keyword)]
        if alone is not None:
            rankings.append(("first_archive_only", alone, select(alone, None, None, limit)[0]))
        reviewed = select(store, None, None, limit, verdicts=dict(verdicts))[0] if verdicts is not None else []
        if verdicts is not None:
            rankings.append(("bot_review", store, reviewed))
        result = WeekResult(week=start.isoformat(), items=len(everything))
        for entry in week_picks:
            idents = {i for i in entry.identities if i.kind in PICK_KINDS}
            record: dict[str, Any] = {"title": entry.title, "date": entry.date, "line": entry.line}
            for method, held, ranked in rankings:
                rank = next((n + 1 for n, row in enumerate(ranked) if held.item_identities(row.id) & idents),
                            None)
                record[f"rank_{method}"] = rank
                if rank is not None:
                    result.hits[method] = result.hits.get(method, 0) + 1
            found = [r for r in everything if store.item_identities(r.id) & idents]
            record["found"] = bool(found)
            record["sources"] = _source_label(found[0].sources) if found else None
            result.picks.append(record)
        pick_idents = {i for e in week_picks for i in e.identities if i.kind in PICK_KINDS}
        if verdicts is not None:  # the person's review of this week's digest, for the weeks after it
            for row in reviewed:
                kind = (row.hn_id is not None, row.arxiv_id is not None)
                decided, deleted = verdicts.get(kind, (0, 0))
                verdicts[kind] = (decided + 1, deleted + (not (store.item_identities(row.id) & pick_idents)))
        result.wasted = sum(1 for row in ours if not (store.item_identities(row.id) & pick_idents))
        result.slots = dict(Counter(_source_label(row.sources) for row in ours))
        result.digest = [{"title": row.title, "sources": _source_label(row.sources), "score": row.score,
                          "model": row.explain.get("keep")} for row in ours]
        return result
    finally:
        store.close()
        if alone is not None:
            alone.close()


def _source_label(sources: Sequence[str]) -> str:
    """Which archives carried an item: one name, or several joined by '+' (a paper and its HN thread)."""
    return "+".join(sorted(set(sources))) or "?"


def _report(results: Sequence[WeekResult], limit: int, folders: Sequence[Path], archives: Sequence[Archive],
            include_undated: bool, review: bool = False) -> dict[str, Any]:
    methods: tuple[str, ...] = ("bot", "points", "keyword_points")
    if len(archives) > 1:
        methods += ("first_archive_only",)
    if review:
        methods += ("bot_review",)
    total_picks = sum(len(r.picks) for r in results)
    overall = {}
    for m in methods:
        hits = sum(r.hits.get(m, 0) for r in results)
        overall[m] = {
            "hits": hits,
            "recall_micro": round(hits / total_picks, 3) if total_picks else None,
            "recall_macro": round(sum(r.recall(m) for r in results) / len(results), 3) if results else None,
        }
    slots: Counter[str] = Counter()
    pick_sources: Counter[str] = Counter()
    for r in results:
        slots.update(r.slots)
        pick_sources.update(p["sources"] or "not in the archives" for p in r.picks)
    return {
        "archive": str(folders[0]), "archives": [str(f) for f in folders],
        "baseline": archives[0].name if len(archives) > 1 else None,
        "k": limit, "include_undated": include_undated, "review": review, "weeks": len(results),
        "picks": total_picks, "overall": overall,
        "wasted_slots": sum(r.wasted for r in results),
        "slot_share": _shares(slots), "pick_share": _shares(pick_sources),
        "per_week": [{"week": r.week, "items": r.items, "picks": len(r.picks),
                      "recall": {m: round(r.recall(m), 3) for m in methods}, "wasted_slots": r.wasted,
                      "slots": r.slots,
                      "picks_by_source": dict(Counter(p["sources"] or "not in the archives" for p in r.picks)),
                      "detail": r.picks, "digest": r.digest} for r in results],
    }


def _shares(counts: Counter[str]) -> dict[str, dict[str, float]]:
    total = sum(counts.values())
    return {k: {"count": v, "share": round(v / total, 3)} for k, v in sorted(counts.items())} if total else {}
