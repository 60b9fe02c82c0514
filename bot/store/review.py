"""The log review's table: which digested items the bot appended to the log (the bullet line it wrote,
under which heading, when) and the person's verdict on each once the log is read again: "deleted" when
its line is gone, "kept" when it is still there after the review period (bot.library.review decides)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.store.identities import IdentityRecords

Verdict = Literal["kept", "deleted"]


@dataclass(frozen=True)
class Appended:
    """One item the bot appended to the log, and the person's verdict on it (None: not yet decided)."""

    item_id: int
    digest_id: int | None
    line: str
    heading: str | None
    appended: str
    url: str | None = None  # the item's link, which the person may keep on an edited line
    verdict: Verdict | None = None


@dataclass(frozen=True)
class LogToReview:
    """A digest whose section went into the log and whose items are not yet remembered as appended."""

    digest_id: int
    created: str
    item_ids: tuple[int, ...]
    section: str


@dataclass(frozen=True)
class ReviewCounts:
    pending: int
    kept: int
    deleted: int

    def as_dict(self) -> dict[str, int]:
        return {"pending": self.pending, "kept": self.kept, "deleted": self.deleted}


class ReviewRecords(IdentityRecords):
    def logs_to_review(self) -> list[LogToReview]:
        """The digests whose log delivery is done and whose items the review does not hold yet."""
        rows = self.db.execute(
            "select d.id, d.created, d.item_ids, d.bodies from digests d join deliveries v on v.digest_id = d.id "
            "where v.target = 'log' and v.status = 'done' and d.item_count > 0 and not exists "
            "(select 1 from log_review r where r.digest_id = d.id) order by d.id").fetchall()
        found = []
        for digest_id, created, item_ids, bodies in rows:
            section = (json.loads(bodies or "{}") or {}).get("markdown")
            if isinstance(section, str):
                found.append(LogToReview(digest_id, created, tuple(json.loads(item_ids or "[]")), section))
        return found

    def record_appended(self, rows: Iterable[Appended]) -> None:
        rows = list(rows)
        if not rows:  # no write lock taken for nothing (`bot status` calls this on every run)
            return
        with self.transaction():
            for r in rows:
                self.db.execute("insert or ignore into log_review (item_id, digest_id, line, heading, appended) "
                                "values (?, ?, ?, ?, ?)", [r.item_id, r.digest_id, r.line, r.heading, r.appended])

    def pending_review(self) -> list[Appended]:
        return [Appended(*row) for row in self.db.execute(
            "select r.item_id, r.digest_id, r.line, r.heading, r.appended, i.url from log_review r "
            "left join items i on i.id = r.item_id where r.verdict is null order by r.item_id")]

    def record_verdicts(self, verdicts: Sequence[tuple[int, Verdict]], decided: str) -> None:
        if not verdicts:
            return
        with self.transaction():
            for item_id, verdict in verdicts:
                self.db.execute("update log_review set verdict = ?, decided = ? where item_id = ? and verdict is null",
                                [verdict, decided, item_id])

    def review_counts(self) -> ReviewCounts:
        counts: Counter[str] = Counter()
        for verdict, n in self.db.execute("select coalesce(verdict, 'pending'), count(*) from log_review "
                                          "group by verdict"):
            counts[verdict] += n
        return ReviewCounts(counts["pending"], counts["kept"], counts["deleted"])

    def verdicts_by_kind(self) -> dict[tuple[bool, bool], tuple[int, int]]:
        """(has an HN id, has an arXiv id) -> (decided, deleted): the person's verdicts on what the bot
        appended, by the kind of item (bot.relevance.keep)."""
        found: dict[tuple[bool, bool], tuple[int, int]] = {}
        for has_hn, has_arxiv, decided, deleted in self.db.execute(
                "select i.hn_id is not null, i.arxiv_id is not null, count(*), sum(r.verdict = 'deleted') "
                "from log_review r join items i on i.id = r.item_id where r.verdict is not null "
                "group by 1, 2"):
            found[(bool(has_hn), bool(has_arxiv))] = (int(decided), int(deleted or 0))
        return found

    def entries_under_review(self) -> set[int]:
        """Library entries that are the bot's own appended lines still under review: not the person's
        picks (yet), so taste, similarity and keep's shares leave them out."""
        from bot.store.library import UNDER_REVIEW

        return {r[0] for r in self.db.execute(UNDER_REVIEW)}
