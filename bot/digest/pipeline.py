"""`bot digest`: select, summarize, render, record, deliver (spec sections 3 and 8).

Exactly once: the digest (items and rendered bodies) is recorded, with its items marked digested and
one pending delivery per target, in a single transaction before anything is delivered. Each delivery
is marked done only after it succeeds (Slack message by message), always from the recorded bodies. A
later run first finishes what an earlier one left undone and never repeats what is done. A Slack
request whose outcome is unknown (a timeout, or a crash while it was in flight) is marked "uncertain"
and not re-sent by itself: `--resend-uncertain` does that after a person has looked.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import bot.digest.render as render
from bot.core.config import Config
from bot.core.errors import ConfigError, DeliveryError
from bot.core.identity import normalize_title
from bot.core.normalize import iso_time
from bot.delivery.logfile import append_section, git_commit
from bot.delivery.registry import DeliveryTarget, delivery_target, delivery_targets
from bot.delivery.slack import SlackPoster
from bot.digest.render import DigestItem
from bot.digest.summarize import extractive_summary
from bot.library.api import import_documents
from bot.relevance.score import STOPWORDS
from bot.sources.hn_threads import ThreadFinder
from bot.store.database import Store

log = logging.getLogger(__name__)
REPEAT_OVERLAP = 0.6  # share of title words (Jaccard) above which two items say the same thing
# Two headlines of one launch often share little but its name ("Stability AI Launches StableLM: A New
# Open-Source Language Model" / "Stability AI Launches the First of Its StableLM Suite of Language
# Models"): a lower overlap is enough when they share a word of 5+ letters that at most 3 candidates use.
NAMED_REPEAT_OVERLAP = 0.4
NAME_MAX_TITLES = 3
Hook = Callable[[str], None]


class Summarizer(Protocol):
    def summaries(self, items: Sequence[dict[str, Any]]) -> dict[int, str | None]: ...


class ExtractiveSummarizer:
    """The default, and the fallback of every LLM failure: the first sentence of the text we have."""

    def summaries(self, items: Sequence[dict[str, Any]]) -> dict[int, str | None]:
        return {row["id"]: extractive_summary(row.get("summary")) for row in items}


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


def window(opts: DigestOptions, tz: str) -> tuple[str | None, str | None]:
    """The [since, until) window of the options, as UTC ISO strings; an empty window is refused."""
    since = parse_when(opts.since, tz, "since")
    until = parse_when(opts.until, tz, "until")
    if since and until and since >= until:
        raise ConfigError(f"--since {opts.since} is not before --until {opts.until}, so no item could be in the "
                          "window; swap them, or leave one out")
    return since, until


def select(store: Store, since: str | None, until: str | None, limit: int,
           repeats: list[int] | None = None) -> tuple[list[dict[str, Any]], int]:
    """(the top `limit` items, how many were candidates); ids of items left out as repeats of a chosen
    one go into `repeats` when given."""
    where = ["status = 'relevant'", "digest_id is null"]
    args: list[Any] = []
    if since:
        where.append("coalesce(published, first_seen) >= ?")
        args.append(since)
    if until:
        where.append("coalesce(published, first_seen) < ?")
        args.append(until)
    clause = " and ".join(where)
    total = store.count_items(clause, args)
    ranked = store.items_where(clause, args, order_by="score desc, id", limit=limit * 2)
    chosen, skipped = without_repeats(ranked, limit)
    if repeats is not None:
        repeats.extend(skipped)
    return chosen, total


def without_repeats(ranked: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], list[int]]:
    """The top items, leaving out one whose title is nearly another's already chosen (the same news
    from two sites, with different links). Returns the chosen rows and the ids left out."""
    chosen: list[dict[str, Any]] = []
    skipped: list[int] = []
    seen: list[set[str]] = []
    title_words = [set(normalize_title(row["title"] or "").split()) - STOPWORDS for row in ranked]
    used_by = Counter(w for words in title_words for w in words)
    rare = {w for w, n in used_by.items() if n <= NAME_MAX_TITLES and len(w) >= 5}
    for row, words in zip(ranked, title_words, strict=True):
        if len(words) >= 3 and any(_same_news(words, other, rare) for other in seen):
            skipped.append(row["id"])
            continue
        chosen.append(row)
        seen.append(words)
        if len(chosen) == limit:
            break
    return chosen, skipped


def _same_news(a: set[str], b: set[str], rare: set[str]) -> bool:
    """Mostly the same words, or many of them and a rare one (a name), and no number that differs
    ("Part 2", "GPT-4" vs "GPT-3" are other things)."""
    if any(ch.isdigit() for word in a ^ b for ch in word):
        return False
    shared, either = len(a & b), len(a | b)
    return shared >= REPEAT_OVERLAP * either or (shared >= NAMED_REPEAT_OVERLAP * either and bool(a & b & rare))


def to_item(row: dict[str, Any], summary: str | None) -> DigestItem:
    return DigestItem(
        id=row["id"], title=row["title"], url=row["url"], hn_url=row["hn_url"], hn_id=row["hn_id"],
        arxiv_id=row["arxiv_id"], sources=tuple(row["sources"]), topics=tuple(row["topics"]),
        score=round(row["score"] or 0.0, 4), published=row["published"] or row["first_seen"], summary=summary,
        points=row["points"], comments=row["comments"], explain=row.get("explain") or {},
    )


def build(config: Config, store: Store, now: datetime, opts: DigestOptions,
          summarizer: Summarizer | None = None) -> DigestOutcome:
    since, until = window(opts, config.timezone)
    limit = opts.limit or config.digest_limit
    repeats: list[int] = []
    rows, candidates = select(store, since, until, limit, repeats)
    summaries = (summarizer or ExtractiveSummarizer()).summaries(rows)
    items = [to_item(r, summaries.get(r["id"])) for r in rows]
    day = now.astimezone(config.tz).date()
    failed = [s["name"] for s in store.source_states() if s.get("result") == "error"]
    stats = {"candidates": candidates, "shown": len(items),
             "off_topic": store.count_items("status = 'off_topic' and digest_id is null"),
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
    earlier = [] if opts.dry_run else finish_unfinished(config, store, poster, hook, opts.resend_uncertain)
    if finder is not None:  # give the chosen items their HN discussions before rendering
        since, until = window(opts, config.timezone)
        rows, _ = select(store, since, until, opts.limit or config.digest_limit)
        finder.attach(store, rows, now)
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
    deliver(config, store, outcome.digest_id, poster, hook)
    outcome.deliveries = store.deliveries(outcome.digest_id)
    return outcome


def finish_unfinished(config: Config, store: Store, poster: SlackPoster | None, hook: Hook,
                      resend_uncertain: bool = False) -> list[dict[str, Any]]:
    if resend_uncertain:
        for row in store.db.table("deliveries").rows_where("status = 'uncertain'"):
            store.update_delivery(row["digest_id"], row["target"], status="failed")
    # A delivery left "sending" was in flight when its process died, and an "uncertain" one timed out:
    # Slack may have the message. Where the channel can be read, look for it; else leave it to a person.
    for row in store.db.table("deliveries").rows_where("status in ('sending', 'uncertain')"):
        _settle_unknown(store, row, poster)
    done = []
    for digest_id in sorted({d["digest_id"] for d in store.unfinished_deliveries()}):
        deliver(config, store, digest_id, poster, hook)
        done.append({"digest_id": digest_id, "deliveries": store.deliveries(digest_id)})
    return done


def _settle_unknown(store: Store, row: dict[str, Any], poster: SlackPoster | None) -> None:
    detail = json.loads(row["detail"]) if isinstance(row.get("detail"), str) else dict(row.get("detail") or {})
    part = int(detail.get("sent", 0))
    found = poster.find(_mark(row["digest_id"], part), detail.get("ts") if part > 0 else None) if poster else None
    if found is True:  # it did arrive: count it as sent and go on with the rest
        detail["sent"] = part + 1
        store.update_delivery(row["digest_id"], row["target"], status="pending", detail=detail, error=None)
    elif found is False:  # it did not: sending it again cannot double-post
        store.update_delivery(row["digest_id"], row["target"], status="failed", detail=detail,
                              error="not in the channel after an interrupted send; sending again")
    elif row["status"] == "sending":
        store.update_delivery(row["digest_id"], row["target"], status="uncertain",
                              error="interrupted while sending; check Slack, then use --resend-uncertain if missing")


def _mark(digest_id: int, part: int) -> str:
    return f"digest-{digest_id}-part-{part + 1}"


def deliver(config: Config, store: Store, digest_id: int, poster: SlackPoster | None, hook: Hook) -> None:
    digest = store.digest(digest_id)
    if digest is None:
        return
    for row in digest["deliveries"]:
        if row["status"] not in ("pending", "failed"):
            continue
        target = row["target"]
        if target == "commit" and any(d["target"] == "log" and d["status"] != "done" for d in digest["deliveries"]):
            continue  # nothing to commit before the log has its section
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
            status = "failed" if exc.retryable else "uncertain" if target == "slack" else "failed"
            store.update_delivery(digest_id, target, status=status, error=str(exc),
                                  attempts=(row.get("attempts") or 0) + 1)
            log.warning("digest %s: %s delivery %s: %s", digest_id, target, status, exc)
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
    sent = int(detail.get("sent", 0))
    for n in range(sent, len(messages)):
        store.update_delivery(digest["id"], "slack", status="sending", detail=detail)
        ts = poster.post(messages[n], thread_ts=detail.get("ts") if n > 0 else None, mark=_mark(digest["id"], n))
        detail["sent"] = n + 1
        if n == 0 and ts:
            detail["ts"] = ts
        last = n + 1 == len(messages)
        store.update_delivery(digest["id"], "slack", status="done" if last else "pending", detail=detail,
                              error=None, attempts=(row.get("attempts") or 0) + 1)
        hook(f"slack-{n + 1}")
    if int(detail.get("sent", 0)) >= len(messages):  # nothing (left) to send
        store.update_delivery(digest["id"], "slack", status="done", detail=detail, error=None)


def _deliver_log(config: Config, store: Store, digest: dict[str, Any], hook: Hook) -> None:
    assert config.log is not None
    changed = append_section(config.log, digest["bodies"]["markdown"])
    store.update_delivery(digest["id"], "log", status="done", error=None,
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
    store.update_delivery(digest["id"], "commit", status="done", error=None, detail={"commit": commit})
    hook("commit")
