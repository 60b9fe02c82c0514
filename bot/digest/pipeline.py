"""`bot digest`: select, summarize, render, record, deliver (spec sections 3 and 8).

Exactly once: the digest (items and rendered bodies) is recorded, with its items marked digested and
one pending delivery per target, in a single transaction before anything is delivered. Each delivery
is marked done only after it succeeds (Slack message by message), always from the recorded bodies. A
later run first finishes what an earlier one left undone and never repeats what is done. A Slack
request whose outcome is unknown (a timeout, or a crash while it was in flight) is marked "uncertain"
and not re-sent by itself: `--resend-uncertain` does that after a person has looked. A delivery is
"sending" only from the moment its request goes out; anything that fails before that leaves it
"failed" with the reason. Slack's 429 sets a time before which nothing is sent (`not_before`, kept
across runs); every failure sets when `bot run` tries again (`next_retry`, with backoff).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import bot.digest.render as render
from bot.core.config import Config
from bot.core.errors import ConfigError, DeliveryError
from bot.core.records import StoredItem
from bot.delivery.logfile import append_section, git_commit
from bot.delivery.registry import DeliveryTarget, delivery_target, delivery_targets
from bot.delivery.slack import SlackPoster
from bot.digest.render import DigestItem
from bot.digest.select import select, top_papers, window
from bot.digest.summarize import extractive_summary
from bot.library.api import import_documents
from bot.sources.hn_threads import ThreadFinder
from bot.store.database import Store

log = logging.getLogger(__name__)
Hook = Callable[[str], None]
FIRST_RETRY = timedelta(seconds=30)  # `bot run` retries a failed delivery at the first poll tick after this,
MAX_RETRY = timedelta(hours=6)  # doubling after each failure up to this


class Summarizer(Protocol):
    def summaries(self, items: Sequence[StoredItem]) -> dict[int, str | None]: ...


class ExtractiveSummarizer:
    """The default, and the fallback of every LLM failure: the first sentence of the text we have."""

    def summaries(self, items: Sequence[StoredItem]) -> dict[int, str | None]:
        return {item.id: extractive_summary(item.summary) for item in items}


@dataclass(frozen=True)
class DigestOptions:
    dry_run: bool = False
    since: str | None = None
    until: str | None = None
    limit: int | None = None
    slack: bool = True
    log: bool = True
    commit: bool = False
    resend_uncertain: bool = False


SLACK_MISSING = "Slack is not configured (set SLACK_WEBHOOK_URL, or SLACK_BOT_TOKEN and [slack] channel)"


@dataclass
class DigestOutcome:
    date: str
    since: str | None
    until: str | None
    items: list[DigestItem]
    stats: dict[str, Any]
    bodies: dict[str, Any]
    digest_id: int | None = None
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    finished_earlier: list[dict[str, Any]] = field(default_factory=list)
    repeat_ids: list[int] = field(default_factory=list)  # covered by an item shown; never shown themselves
    notes: list[str] = field(default_factory=list)  # what a person should know, such as a target left out

    def as_json(self) -> dict[str, Any]:
        return {"date": self.date, "since": self.since, "until": self.until,
                "items": [i.as_json() for i in self.items], "stats": self.stats, "digest_id": self.digest_id,
                "deliveries": self.deliveries}


def to_item(row: StoredItem, summary: str | None) -> DigestItem:
    return DigestItem(
        id=row.id, title=row.title, url=row.url, hn_url=row.hn_url, hn_id=row.hn_id, arxiv_id=row.arxiv_id,
        sources=row.sources, topics=row.topics, score=round(row.score or 0.0, 4), published=row.when,
        summary=summary, points=row.points, comments=row.comments, explain=dict(row.explain),
    )


def build(config: Config, store: Store, now: datetime, opts: DigestOptions,
          summarizer: Summarizer | None = None) -> DigestOutcome:
    since, until = window(opts.since, opts.until, config.timezone)
    limit = opts.limit or config.digest_limit
    repeats: list[int] = []
    rows, candidates = select(store, since, until, limit, repeats)
    summaries = (summarizer or ExtractiveSummarizer()).summaries(rows)
    items = [to_item(r, summaries.get(r.id)) for r in rows]
    day = now.astimezone(config.tz).date()
    failed = [s.name for s in store.source_states() if s.result == "error"]
    stats = {"candidates": candidates, "shown": len(items),
             "off_topic": store.count_off_topic(undigested=True),
             "failed_sources": failed}
    footer = render.footer_text(stats)
    bodies = {
        "markdown": render.render_log_section(day, items) if items else "",
        "slack": render.render_slack(day, items, footer) if items else [],
        "text": render.render_text(day, items, footer, since, until),
        "footer": footer,
        **{t.name: t.render(day, items, footer) for t in delivery_targets() if items},
    }
    return DigestOutcome(day.isoformat(), since, until, items, stats, bodies, repeat_ids=repeats)


def targets_for(config: Config, opts: DigestOptions, poster: SlackPoster | None) -> list[str]:
    targets = []
    if opts.slack and poster is not None:
        targets.append("slack")
    if opts.log and config.log is not None:
        targets.append("log")
        if opts.commit:
            targets.append("commit")
    elif opts.commit:
        raise ConfigError("--commit needs the log: set [bot] log in bot.toml (and do not pass --no-log)")
    return targets + [t.name for t in delivery_targets() if t.enabled(config)]


def run(config: Config, store: Store, opts: DigestOptions, poster: SlackPoster | None, now: datetime,
        summarizer: Summarizer | None = None, hook: Hook | None = None,
        finder: ThreadFinder | None = None) -> DigestOutcome:
    hook = hook or (lambda _step: None)
    earlier = [] if opts.dry_run else finish_unfinished(config, store, poster, hook, opts.resend_uncertain, now=now)
    if finder is not None:  # give the chosen items their HN discussions before rendering
        since, until = window(opts.since, opts.until, config.timezone)
        rows, _ = select(store, since, until, opts.limit or config.digest_limit)
        # Then the best papers left out: a paper people discussed is an HN thread, kept far more often
        # than a paper alone (bot.relevance.keep), so its discussion may win it a slot. Bounded by max_lookups.
        chosen = {r.id for r in rows}
        papers = [r for r in top_papers(store, since, until, finder.max_requests) if r.id not in chosen]
        finder.attach(store, [*rows, *papers], now)
    outcome = build(config, store, now, opts, summarizer)
    outcome.finished_earlier = earlier
    if opts.dry_run:
        return outcome
    targets = targets_for(config, opts, poster) if outcome.items else []
    if outcome.items and opts.slack and poster is None:
        if not targets:  # marking the items digested would lose them: they would reach no one
            raise ConfigError(f"{SLACK_MISSING}, and there is no log to append to, so this digest would reach no "
                              "one; nothing was marked digested. Set up Slack, set [bot] log, or pass --no-slack")
        outcome.notes.append(f"{SLACK_MISSING}: the digest went to the log only")
    record = {"date": outcome.date, "since": outcome.since, "until": outcome.until,
              "created": now.isoformat(timespec="seconds"), "stats": outcome.stats, "bodies": outcome.bodies}
    outcome.digest_id = store.record_digest(record, targets, [i.id for i in outcome.items],
                                            repeats=outcome.repeat_ids)
    hook("recorded")
    if not outcome.items:
        log.info("digest %s: no new items; nothing posted or appended", outcome.date)
    deliver(config, store, outcome.digest_id, poster, hook, now=now)
    outcome.deliveries = store.deliveries(outcome.digest_id)
    return outcome


def finish_unfinished(config: Config, store: Store, poster: SlackPoster | None, hook: Hook,
                      resend_uncertain: bool = False, now: datetime | None = None,
                      due_only: bool = False) -> list[dict[str, Any]]:
    """Settles and retries what earlier runs left undone. `due_only` (the daemon's poll tick): only the
    deliveries whose next_retry has come."""
    now = now or store.clock()
    if resend_uncertain:
        for row in store.deliveries_in("uncertain"):
            store.update_delivery(row["digest_id"], row["target"], status="failed")
    # A delivery left "sending" was in flight when its process died, and an "uncertain" one timed out:
    # Slack may have the message. Where the channel can be read, look for it; else leave it to a person.
    for row in store.deliveries_in("sending", "uncertain"):
        _settle_unknown(store, row, poster)
    done = []
    unfinished = [d for d in store.unfinished_deliveries() if not due_only or _due(d, now)]
    for digest_id in sorted({d["digest_id"] for d in unfinished}):
        deliver(config, store, digest_id, poster, hook, now=now, due_only=due_only)
        done.append({"digest_id": digest_id, "deliveries": store.deliveries(digest_id)})
    return done


def _due(row: dict[str, Any], now: datetime) -> bool:
    return not row.get("next_retry") or datetime.fromisoformat(row["next_retry"]) <= now


def _settle_unknown(store: Store, row: dict[str, Any], poster: SlackPoster | None) -> None:
    detail = json.loads(row["detail"]) if isinstance(row.get("detail"), str) else dict(row.get("detail") or {})
    part = int(detail.get("sent", 0))
    # Only the exact mark this database put on that message proves it arrived. A send recorded without
    # one (by a version whose marks were the same in every database) cannot be settled by reading.
    mark = detail.get("mark")
    found = poster.find(mark, detail.get("ts") if part > 0 else None) if poster and mark else None
    if found is True:  # it did arrive: count it as sent and go on with the rest
        detail["sent"] = part + 1
        detail.pop("mark", None)
        store.update_delivery(row["digest_id"], row["target"], status="pending", detail=detail, error=None)
    elif found is False:  # it did not: sending it again cannot double-post
        store.update_delivery(row["digest_id"], row["target"], status="failed", detail=detail,
                              error="not in the channel after an interrupted send; sending again")
    elif row["status"] == "sending":
        store.update_delivery(row["digest_id"], row["target"], status="uncertain",
                              error="interrupted while sending; check Slack, then use --resend-uncertain if missing")


def _mark(install_id: str, digest_id: int, part: int) -> str:
    """Names one Slack message: unique to this database, so no other install's message matches it."""
    return f"digest-{install_id}-{digest_id}-part-{part + 1}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def retry_delay(failures: int) -> timedelta:
    """How long `bot run` waits after the n-th failure in a row before trying a delivery again."""
    return min(FIRST_RETRY * 2 ** max(0, min(failures, 20) - 1), MAX_RETRY)


def slack_wait_until(store: Store, now: datetime) -> datetime | None:
    """The time Slack's last 429 asked us to wait until, while it is still ahead."""
    stamp = store.slack_not_before()
    until = datetime.fromisoformat(stamp) if stamp else None
    return until if until is not None and until > now else None


def deliver(config: Config, store: Store, digest_id: int, poster: SlackPoster | None, hook: Hook,
            now: datetime | None = None, due_only: bool = False) -> None:
    now = now or store.clock()
    digest = store.digest(digest_id)
    if digest is None:
        return
    for row in digest["deliveries"]:
        if row["status"] not in ("pending", "failed") or (due_only and not _due(row, now)):
            continue
        target = row["target"]
        if target == "commit" and any(d["target"] == "log" and d["status"] != "done" for d in digest["deliveries"]):
            continue  # nothing to commit before the log has its section
        wait = slack_wait_until(store, now) if target == "slack" else None
        if wait is not None:  # Slack said when: not one request before then, whatever run this is
            store.update_delivery(digest_id, target, status="failed", not_before=_iso(wait), next_retry=_iso(wait),
                                  error=f"Slack asked us to wait (HTTP 429): not sent; next try at {_iso(wait)}")
            digest = store.digest(digest_id) or digest
            continue
        try:
            if target == "slack":
                _deliver_slack(store, digest, row, poster, hook)
            elif target == "log":
                _deliver_log(config, store, digest, hook)
            elif target == "commit":
                _deliver_commit(config, store, digest, hook)
            elif (registered := delivery_target(target)) is not None:
                _deliver_registered(config, store, digest, registered, hook)
        except DeliveryError as exc:
            status = "uncertain" if exc.maybe_sent and target == "slack" else "failed"
            failures = (row.get("attempts") or 0) + 1
            fields: dict[str, Any] = {"status": status, "error": str(exc), "attempts": failures,
                                      "next_retry": _iso(now + retry_delay(failures)) if status == "failed" else None}
            if exc.retry_after is not None:
                until = now + timedelta(seconds=exc.retry_after)
                fields.update(not_before=_iso(until), next_retry=_iso(max(until, now + retry_delay(failures))),
                              error=f"{exc}; next try at {_iso(until)}")
            store.update_delivery(digest_id, target, **fields)
            log.warning("digest %s: %s delivery %s: %s", digest_id, target, status, fields["error"])
        digest = store.digest(digest_id) or digest


def _deliver_registered(config: Config, store: Store, digest: dict[str, Any], target: DeliveryTarget,
                        hook: Hook) -> None:
    detail = target.deliver(digest["bodies"].get(target.name), config)
    store.update_delivery(digest["id"], target.name, status="done", error=None, detail=detail or {})
    hook(target.name)


def _deliver_slack(store: Store, digest: dict[str, Any], row: dict[str, Any], poster: SlackPoster | None,
                   hook: Hook) -> None:
    if poster is None:
        raise DeliveryError(f"{SLACK_MISSING} now", "slack")
    messages = digest["bodies"].get("slack", [])
    detail = dict(row.get("detail") or {})
    detail.pop("mark", None)
    sent = int(detail.get("sent", 0))
    install_id = store.install_id()
    for n in range(sent, len(messages)):
        mark = _mark(install_id, digest["id"], n)

        def going_out(mark: str = mark) -> None:  # from here on, Slack may get it: record what to look for
            store.update_delivery(digest["id"], "slack", status="sending", detail={**detail, "mark": mark})

        ts = poster.post(messages[n], thread_ts=detail.get("ts") if n > 0 else None, mark=mark, on_send=going_out)
        detail["sent"] = n + 1
        if n == 0 and ts:
            detail["ts"] = ts
        last = n + 1 == len(messages)
        store.update_delivery(digest["id"], "slack", status="done" if last else "pending", detail=detail,
                              error=None, attempts=(row.get("attempts") or 0) + 1, next_retry=None)
        hook(f"slack-{n + 1}")
    if int(detail.get("sent", 0)) >= len(messages):  # nothing (left) to send
        store.update_delivery(digest["id"], "slack", status="done", detail=detail, error=None, next_retry=None)


def _deliver_log(config: Config, store: Store, digest: dict[str, Any], hook: Hook) -> None:
    assert config.log is not None
    changed = append_section(config.log, digest["bodies"]["markdown"])
    store.update_delivery(digest["id"], "log", status="done", error=None, next_retry=None,
                          detail={"path": str(config.log), "changed": changed})
    hook("log")
    try:
        import_documents(store, [config.log])  # the appended entries are library entries from now on
    except Exception as exc:  # the log is delivered; a re-import problem must not undo that
        log.warning("re-reading the log after the digest failed: %s", exc)


def _deliver_commit(config: Config, store: Store, digest: dict[str, Any], hook: Hook) -> None:
    assert config.log is not None
    message = f"digest: {digest['date']}, {digest['item_count']} items"
    commit = git_commit(config.log, message)
    store.update_delivery(digest["id"], "commit", status="done", error=None, next_retry=None,
                          detail={"commit": commit})
    hook("commit")
