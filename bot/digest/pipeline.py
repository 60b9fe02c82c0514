"""`bot digest`: select, summarize, render, record, deliver (spec sections 3 and 8).

Exactly once: the digest (items and rendered bodies) is recorded, with its items marked digested and
one pending delivery per target, in a single transaction before anything is delivered. Each delivery
is marked done only after it succeeds (Slack message by message), always from the recorded bodies. A
later run first finishes what an earlier one left undone and never repeats what is done. A request
whose outcome is unknown (a timeout, or a crash while it was in flight) is marked "uncertain" and not
re-sent by itself: the target settles it by looking where it can (Slack: the channel), else
`--resend-uncertain` does that after a person has looked. A delivery is "sending" only from the moment
its request goes out; anything that fails before that leaves it "failed" with the reason. A receiver's
429 sets a time before which nothing is sent to it (`not_before`, kept across runs); every failure sets
when `bot run` tries again (`next_retry`, with backoff).

The ledger knows no target by name: each is a registered bot.delivery module (bot.delivery.registry),
known here only through its interface (bot.core.targets). `run` renders for and delivers to the targets
it is given: the composition root (bot.app) passes every registered one, bound to its client where the
configuration sets one up; tests pass their own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import bot.digest.render as render
from bot.articles.reader import ArticleReader
from bot.articles.step import linked_texts, with_text_sources
from bot.core.config import Config
from bot.core.errors import ConfigError, DeliveryError
from bot.core.ledger import UNFINISHED, UNSETTLED, Delivery, DeliveryStatus, Detail, Digest, DigestOptions
from bot.core.records import StoredItem
from bot.core.targets import DeliveryTarget, Send
from bot.digest.render import DigestItem
from bot.digest.select import digest_window, select, top_papers
from bot.digest.summarize import SummaryReport, extractive_summary
from bot.library.api import import_documents
from bot.sources.feedlist import polled_feed_names
from bot.sources.hn_threads import ThreadFinder
from bot.store.database import Store
from bot.store.deliveries import KEEP

log = logging.getLogger(__name__)
Hook = Callable[[str], None]
FIRST_RETRY = timedelta(seconds=30)  # `bot run` retries a failed delivery at the first poll tick after this,
MAX_RETRY = timedelta(hours=6)  # doubling after each failure up to this


class Summarizer(Protocol):
    def summaries(self, items: Sequence[StoredItem]) -> dict[int, str | None]: ...

    def report(self) -> SummaryReport | None:
        """What the last `summaries` came to (None: no model was asked)."""


class ExtractiveSummarizer:
    """The default, and the fallback of every LLM failure: the first sentence of the text we have."""

    def summaries(self, items: Sequence[StoredItem]) -> dict[int, str | None]:
        return {item.id: extractive_summary(item.summary) for item in items}

    def report(self) -> SummaryReport | None:
        return None


__all__ = ["DigestOptions", "DigestOutcome", "ExtractiveSummarizer", "Summarizer", "build", "run"]


@dataclass
class DigestOutcome:
    date: str
    since: str | None
    until: str | None
    items: list[DigestItem]
    stats: dict[str, Any]
    bodies: dict[str, Any]
    digest_id: int | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    finished_earlier: list[Digest] = field(default_factory=list)  # earlier digests this run finished
    repeat_ids: list[int] = field(default_factory=list)  # covered by an item shown; never shown themselves
    notes: list[str] = field(default_factory=list)  # what a person should know, such as a target left out
    warnings: list[str] = field(default_factory=list)  # what went wrong but did not stop it (LLM fallbacks)
    held: str | None = None  # why no new digest was made (this run retried an earlier one), else None
    # (digest id, target) of the deliveries that failed this run in a way sending again cannot mend (Slack
    # rejected the message, no log is set up): a person must change something first.
    unretryable: set[tuple[int, str]] = field(default_factory=set)

    def as_json(self) -> dict[str, Any]:
        return {"date": self.date, "since": self.since, "until": self.until,
                "items": [i.as_json() for i in self.items], "stats": self.stats, "digest_id": self.digest_id,
                "deliveries": [d.as_json() for d in self.deliveries],
                "finished_earlier": [d.as_json() for d in self.finished_earlier], "held": self.held}


def to_item(row: StoredItem, summary: str | None) -> DigestItem:
    return DigestItem(
        id=row.id, title=row.title, url=row.url, discussion=row.discussion, arxiv_id=row.arxiv_id,
        sources=row.sources, topics=row.topics, score=round(row.score or 0.0, 4), published=row.when,
        summary=summary, points=row.points, comments=row.comments, explain=dict(row.explain),
    )


def build(config: Config, store: Store, now: datetime, opts: DigestOptions,
          summarizer: Summarizer | None = None, reader: ArticleReader | None = None) -> DigestOutcome:
    since, until = digest_window(opts.since, opts.until, config.timezone, now, config.digest_window_days)
    limit = opts.limit or config.digest_limit
    repeats: list[int] = []
    rows, candidates = select(store, since, until, limit, repeats)
    # The linked pages' text (bot.articles, issue 28): an item with no text of its own is summarized
    # from the page it links to; each item says where its text came from (text_source, text_chars).
    rows, texts = linked_texts(config, store, rows, now, reader)
    summarizer = summarizer or ExtractiveSummarizer()
    summaries = summarizer.summaries(rows)
    report = summarizer.report()
    items = with_text_sources([to_item(r, summaries.get(r.id)) for r in rows], texts)
    day = now.astimezone(config.tz).date()
    polled = polled_feed_names(config)  # a feed that left the config (or is disabled) fails no more
    failed = [s.name for s in store.source_states() if s.result == "error" and (polled is None or s.name in polled)]
    stats: dict[str, Any] = {"candidates": candidates, "shown": len(items),
                             "off_topic": store.count_off_topic(undigested=True, since=since, until=until),
                             "failed_sources": failed}
    warnings = []
    if report is not None:  # recorded with the digest: `bot status` shows a fallback (bot.cli.status)
        stats["summaries"] = report.as_json()
        trouble = report.trouble()
        if trouble:
            warnings.append(f"LLM summaries: {trouble}")
    footer = render.footer_text(stats)
    bodies = {
        "text": render.render_text(day, items, footer, since, until),
        "footer": footer,
    }
    return DigestOutcome(day.isoformat(), since, until, items, stats, bodies, repeat_ids=repeats, warnings=warnings)


def target_bodies(targets: Iterable[DeliveryTarget], day: date, items: Sequence[DigestItem],
                  footer: str) -> dict[str, Any]:
    """Each target's body by its body name (targets that share a ledger name render one body). An empty
    digest has none: it goes nowhere."""
    bodies: dict[str, Any] = {}
    for t in targets:
        if items and t.render is not None and t.body not in bodies:
            bodies[t.body] = t.render(day, items, footer)
    return bodies


def _one_per_ledger(targets: Iterable[DeliveryTarget]) -> dict[str, DeliveryTarget]:
    """The target that delivers each ledger name: the first ready one (the Slack token or webhook that the
    configuration sets up), else the first."""
    found: dict[str, DeliveryTarget] = {}
    for t in targets:
        if t.ledger not in found or (t.ready and not found[t.ledger].ready):
            found[t.ledger] = t
    return found


def chosen_targets(config: Config, opts: DigestOptions, targets: Sequence[DeliveryTarget]) -> list[DeliveryTarget]:
    """The targets a new digest goes to, one per ledger name, in the order given."""
    return [t for t in _one_per_ledger(targets).values() if t.ready and t.enabled(config, opts)]


def not_set_up(config: Config, opts: DigestOptions, targets: Sequence[DeliveryTarget]) -> list[DeliveryTarget]:
    """The targets the options ask for (Slack unless --no-slack) that the configuration does not set up."""
    return [t for t in _one_per_ledger(targets).values() if not t.ready and t.enabled(config, opts)]


def run(config: Config, store: Store, opts: DigestOptions, targets: Sequence[DeliveryTarget], now: datetime,
        summarizer: Summarizer | None = None, hook: Hook | None = None,
        finder: ThreadFinder | None = None, reader: ArticleReader | None = None) -> DigestOutcome:
    """One `bot digest`: finish what earlier runs left, then select, render, record and deliver to
    `targets` (bot.app builds them from the configuration; tests pass their own)."""
    hook = hook or (lambda _step: None)
    if not opts.dry_run:
        refuse_nowhere(config, opts, targets)
    unretryable: set[tuple[int, str]] = set()
    earlier = [] if opts.dry_run else finish_unfinished(config, store, targets, hook, opts.resend_uncertain, now=now,
                                                        unretryable=unretryable)
    held = None if opts.dry_run or opts.new else held_back(earlier, opts)
    if held is not None:  # this run was a retry: one command, one thing
        day = now.astimezone(config.tz).date().isoformat()
        return DigestOutcome(day, None, None, [], {}, {"text": "", "footer": ""}, finished_earlier=earlier,
                             held=held, unretryable=unretryable)
    if finder is not None:  # give the chosen items their HN discussions before rendering
        since, until = digest_window(opts.since, opts.until, config.timezone, now, config.digest_window_days)
        rows, _ = select(store, since, until, opts.limit or config.digest_limit)
        # Then the best papers left out: a paper people discussed is an HN thread, kept far more often
        # than a paper alone (bot.relevance.keep), so its discussion may win it a slot. Bounded by max_lookups.
        chosen = {r.id for r in rows}
        papers = [r for r in top_papers(store, since, until, finder.max_requests) if r.id not in chosen]
        finder.attach(store, [*rows, *papers], now)
    outcome = build(config, store, now, opts, summarizer, reader)
    outcome.finished_earlier = earlier
    outcome.unretryable = unretryable
    outcome.bodies.update(target_bodies(targets, date.fromisoformat(outcome.date), outcome.items,
                                        outcome.bodies["footer"]))
    if opts.dry_run:
        return outcome
    going = chosen_targets(config, opts, targets) if outcome.items and not opts.mark_only else []
    for missing in not_set_up(config, opts, targets) if outcome.items and not opts.mark_only else []:
        if not going:  # marking the items digested would lose them: they would reach no one
            raise ConfigError(f"{missing.unconfigured}, and there is no log to append to, so this digest would "
                              f"reach no one; nothing was marked digested. Set up {missing.label}, set [bot] log, "
                              f"or pass --no-{missing.ledger}")
        outcome.notes.append(f"{missing.unconfigured}: the digest went to "
                             f"{' and '.join(t.label for t in going)} only")
    record = {"date": outcome.date, "since": outcome.since, "until": outcome.until,
              "created": now.isoformat(timespec="seconds"), "stats": outcome.stats, "bodies": outcome.bodies}
    outcome.digest_id = store.record_digest(record, [t.ledger for t in going], [i.id for i in outcome.items],
                                            repeats=outcome.repeat_ids)
    hook("recorded")
    if not outcome.items:
        log.info("digest %s: no new items; nothing posted or appended", outcome.date)
    deliver(config, store, outcome.digest_id, targets, hook, now=now, unretryable=unretryable)
    outcome.deliveries = store.deliveries(outcome.digest_id)
    return outcome


def refuse_nowhere(config: Config, opts: DigestOptions, targets: Sequence[DeliveryTarget]) -> None:
    """A digest with no target (--no-slack --no-log) would mark its items digested while nobody sees
    them: that takes --mark-only, said on purpose."""
    if opts.mark_only:
        return
    if not chosen_targets(config, opts, targets) and not not_set_up(config, opts, targets):
        raise ConfigError("This digest would go nowhere (no Slack, no log), so nothing was done; pass --mark-only "
                          "to mark its items digested without delivering them, or leave out --no-slack or --no-log")


def held_back(earlier: Sequence[Digest], opts: DigestOptions) -> str | None:
    """Why this run makes no new digest, or None. A run that retried an earlier digest (or was asked to
    resend an uncertain send) did its one thing: the new digest is for the next plain run, or for --new
    now. (A send left uncertain holds nothing back: it is not retried, `bot status` shows it.)"""
    if earlier or opts.resend_uncertain:
        what = ", ".join(str(d.id) for d in earlier)
        done = f"retried earlier digest {what}" if earlier else "found no uncertain send to resend"
        return f"this run {done} and made no new digest; run `bot digest` again (or pass --new) for a new one"
    return None


def finish_unfinished(config: Config, store: Store, targets: Sequence[DeliveryTarget], hook: Hook,
                      resend_uncertain: bool = False, now: datetime | None = None,
                      due_only: bool = False, unretryable: set[tuple[int, str]] | None = None) -> list[Digest]:
    """Settles and retries what earlier runs left undone; returns those digests as they are now.
    `due_only` (the daemon's poll tick): only the deliveries whose next_retry has come."""
    now = now or store.clock()
    if resend_uncertain:
        for row in store.deliveries_in("uncertain"):
            store.update_delivery(row.digest_id, row.target, status="failed")
    # A delivery left "sending" was in flight when its process died, and an "uncertain" one timed out:
    # the receiver may have it. Where the target can look, it does; else it is left to a person.
    by_ledger = _one_per_ledger(targets)
    for row in store.deliveries_in(*UNSETTLED):
        _settle_unknown(config, store, row, by_ledger.get(row.target), hook)
    done = []
    unfinished = [d for d in store.unfinished_deliveries() if not due_only or _due(d, now)]
    for digest_id in sorted({d.digest_id for d in unfinished}):
        deliver(config, store, digest_id, targets, hook, now=now, due_only=due_only, unretryable=unretryable)
        finished = store.digest(digest_id)
        if finished is not None:
            done.append(finished)
    return done


def _due(row: Delivery, now: datetime) -> bool:
    return not row.next_retry or datetime.fromisoformat(row.next_retry) <= now


def _label(ledger: str, target: DeliveryTarget | None) -> str:
    return target.label if target is not None else ledger


def _settle_unknown(config: Config, store: Store, row: Delivery, target: DeliveryTarget | None, hook: Hook) -> None:
    digest = store.digest(row.digest_id)
    if target is not None and digest is not None:
        settled, detail = target.settle(_send(config, store, digest, row, target, hook))
    else:
        settled, detail = "unknown", dict(row.detail)
    label = _label(row.target, target)
    if settled == "sent":  # it did arrive: go on with the rest
        store.update_delivery(row.digest_id, row.target, status="pending", detail=detail, error=None)
    elif settled == "missing":  # it did not: sending it again cannot deliver it twice
        store.update_delivery(row.digest_id, row.target, status="failed", detail=detail,
                              error=f"{label} does not have it after an interrupted send; sending again")
    elif row.status == "sending":
        store.update_delivery(row.digest_id, row.target, status="uncertain",
                              error=f"interrupted while sending; check {label}, then use --resend-uncertain if missing")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def retry_delay(failures: int) -> timedelta:
    """How long `bot run` waits after the n-th failure in a row before trying a delivery again."""
    return min(FIRST_RETRY * 2 ** max(0, min(failures, 20) - 1), MAX_RETRY)


def wait_until(store: Store, ledger: str, now: datetime) -> datetime | None:
    """The time this target's receiver last asked us to wait until (a 429's Retry-After), while still ahead."""
    stamp = store.not_before(ledger)
    until = datetime.fromisoformat(stamp) if stamp else None
    return until if until is not None and until > now else None


def _record(store: Store, digest_id: int, row: Delivery, status: DeliveryStatus, detail: Detail) -> None:
    """A target's progress: "sending" from the moment a request may arrive; a part sent, or all of them."""
    if status == "sending":
        store.update_delivery(digest_id, row.target, status=status, detail=detail)
    else:
        store.update_delivery(digest_id, row.target, status=status, detail=detail, error=None,
                              attempts=row.attempts + 1, next_retry=None)


def _send(config: Config, store: Store, digest: Digest, row: Delivery, target: DeliveryTarget, hook: Hook) -> Send:
    def record(status: DeliveryStatus, detail: Detail) -> None:
        _record(store, digest.id, row, status, detail)

    def read_into_library(path: Path) -> None:
        import_documents(store, [path])

    return Send(config=config, digest_id=digest.id, date=digest.date, item_count=digest.item_count,
                body=digest.bodies.get(target.body), detail=dict(row.detail), install_id=store.install_id(),
                record=record, hook=hook, read_into_library=read_into_library)


def _unknown(ledger: str) -> DeliveryError:
    """A delivery recorded for a target this run does not know (one an earlier version had, or a plugin
    no longer registered): reported, never crashed on, and nothing is sent."""
    return DeliveryError(f"No delivery target called {ledger!r} is registered, so this delivery cannot be "
                         "finished; nothing was sent", ledger, retryable=False)


def deliver(config: Config, store: Store, digest_id: int, targets: Sequence[DeliveryTarget], hook: Hook,
            now: datetime | None = None, due_only: bool = False,
            unretryable: set[tuple[int, str]] | None = None) -> None:
    """Delivers a recorded digest's unfinished deliveries; the ones that failed for good (sending again
    cannot mend them) are added to `unretryable`."""
    now = now or store.clock()
    digest = store.digest(digest_id)
    if digest is None:
        return
    by_name = _one_per_ledger(targets)
    for row in digest.deliveries:
        if row.status not in UNFINISHED or (due_only and not _due(row, now)):
            continue
        target = by_name.get(row.target)
        if target is not None and any(d.target in target.after and not d.done for d in digest.deliveries):
            continue  # what it needs first is not done (git commits the log once it has its section)
        wait = wait_until(store, row.target, now)
        if wait is not None:  # the receiver said when: not one request before then, whatever run this is
            store.update_delivery(digest_id, row.target, status="failed", not_before=_iso(wait), next_retry=_iso(wait),
                                  error=f"{_label(row.target, target)} asked us to wait (HTTP 429): not sent; "
                                        f"next try at {_iso(wait)}")
            digest = store.digest(digest_id) or digest
            continue
        try:
            if target is None:
                raise _unknown(row.target)
            detail = target.deliver(_send(config, store, digest, row, target, hook))
            store.update_delivery(digest_id, row.target, status="done", error=None, next_retry=None,
                                  detail=detail if detail is not None else {})
            hook(row.target)
        except DeliveryError as exc:
            status: DeliveryStatus = "uncertain" if exc.maybe_sent else "failed"
            if not exc.retryable and not exc.maybe_sent and unretryable is not None:
                unretryable.add((digest_id, row.target))
            failures = row.attempts + 1
            error = str(exc)
            next_retry = _iso(now + retry_delay(failures)) if status == "failed" else None
            not_before = KEEP
            if exc.retry_after is not None:  # the receiver said when; the next run keeps to it (wait_until)
                until = now + timedelta(seconds=exc.retry_after)
                error, not_before = f"{exc}; next try at {_iso(until)}", _iso(until)
                next_retry = _iso(max(until, now + retry_delay(failures)))
            store.update_delivery(digest_id, row.target, status=status, error=error, attempts=failures,
                                  next_retry=next_retry, not_before=not_before)
            log.warning("digest %s: %s delivery %s: %s", digest_id, row.target, status, error)
        digest = store.digest(digest_id) or digest
