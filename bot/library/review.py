"""The review the person does in the log: what the bot appended and the person deleted is their "no".

Every digest whose section went into the log leaves its items remembered as appended (the bullet line
each got, under which heading). Each time the log is read again (every command that dedupes brings the
library up to date first), an appended item whose line is gone, and whose link is nowhere in the log
either (the person may have edited the line and kept the link), is recorded as "deleted"; one still
there once REVIEW_PERIOD has passed since it was appended is recorded as "kept".

The period is seven days: digests are weekly, so the person has had a whole week, until the next digest
arrives, to look through one and delete what they do not want; a line still there then was left on
purpose. Until then the appended lines are the bot's, not the person's picks: taste, similarity and
keep's shares leave them out (bot.store.review.entries_under_review). A log that is missing (moved,
or not yet written) decides nothing: a vanished file is not the person deleting every line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bot.library.documents import read_document
from bot.store.database import Store
from bot.store.review import Appended, Verdict

REVIEW_PERIOD = timedelta(days=7)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReviewReport:
    appended: int  # items newly remembered as appended
    kept: int
    deleted: int


def _bullets(section: str) -> tuple[str, list[str]]:
    """(heading, the first line of each entry) of a rendered log section, in order: an entry is a
    top-level bullet; its indented sub-lines (a summary) are not."""
    lines = section.rstrip("\n").split("\n")
    return lines[0], [line for line in lines[1:] if line.startswith(("*", "-", "+")) and line.strip()]


def remember_appended(store: Store) -> int:
    """The items of every digest delivered to the log that the review does not hold yet."""
    rows: list[Appended] = []
    for found in store.logs_to_review():
        heading, bullets = _bullets(found.section)
        if len(bullets) != len(found.item_ids):  # cannot tell which line is which item: leave it out
            log.warning("digest %s: %d log lines for %d items; not reviewed", found.digest_id, len(bullets),
                        len(found.item_ids))
            continue
        rows.extend(Appended(item_id, found.digest_id, line.rstrip("\r"), heading, found.created)
                    for item_id, line in zip(found.item_ids, bullets, strict=True))
    store.record_appended(rows)
    return len(rows)


def review_log(store: Store, log_path: Path | None, now: datetime) -> ReviewReport:
    """Remembers what was appended, then reads the person's verdicts from the log as it is now."""
    appended = remember_appended(store)
    pending = store.pending_review()
    if not pending or log_path is None or not log_path.is_file():
        return ReviewReport(appended, 0, 0)
    text = read_document(log_path)
    lines = {line.rstrip("\r").rstrip() for line in text.split("\n")}
    verdicts: list[tuple[int, Verdict]] = []
    for row in pending:
        there = row.line.rstrip() in lines or bool(row.url and f"({row.url})" in text)
        if not there:
            verdicts.append((row.item_id, "deleted"))
        elif now - datetime.fromisoformat(row.appended) >= REVIEW_PERIOD:
            verdicts.append((row.item_id, "kept"))
    store.record_verdicts(verdicts, now.isoformat(timespec="seconds"))
    return ReviewReport(appended, sum(v == "kept" for _, v in verdicts), sum(v == "deleted" for _, v in verdicts))
