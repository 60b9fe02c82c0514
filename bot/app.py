"""The composition root: the one place that builds real clients from the configuration.

Commands ask the App for what they need; tests build an App with their own config (and, where a
component talks to the network, their own client pointed at 127.0.0.1).
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import bot.sources.builtin  # noqa: F401 -- the built-in source kinds, which the configuration checks feeds against
from bot.core.clock import Clock, clock_from_environment
from bot.core.config import Config
from bot.core.errors import ConfigError
from bot.core.plural import plural
from bot.core.test_hooks import hook_value
from bot.library.documents import find_log
from bot.lock import daemon_lock, hold, work_lock
from bot.store.database import Store

if TYPE_CHECKING:  # the SDKs behind these are imported by the methods that build them (start-up time)
    from bot.core.ledger import DigestOptions
    from bot.delivery.registry import DeliveryTarget
    from bot.digest.pipeline import Summarizer
    from bot.library.sync import SyncReport
    from bot.sources.hn_threads import ThreadFinder


@dataclass
class App:
    config: Config
    _store: Store | None = field(default=None, repr=False)
    clock: Clock = field(default_factory=clock_from_environment)

    def now(self) -> datetime:
        """The application's one source of time (the injected clock)."""
        return self.clock()

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store.open(self.config.db, self.clock)
        return self._store

    def lock(self, purpose: str, daemon: bool = False) -> contextlib.AbstractContextManager[None]:
        """The work lock (or, for `bot run`, the daemon lock) of this database."""
        path = daemon_lock(self.config.db) if daemon else work_lock(self.config.db)
        return hold(path, purpose, clock=self.clock)

    def __post_init__(self) -> None:
        if self.config.log is None:  # no [bot] log: the dated log among the library documents
            try:
                found = find_log(self.config.library_paths)
            except Exception:  # a missing library folder is reported by the commands that need it
                found = None
            if found is not None:
                self.config = replace(self.config, log=found)

    def summarizer(self) -> Summarizer:
        """LLM summaries when [llm] enabled; the extractive summary otherwise (and on any LLM failure)."""
        from bot.digest.pipeline import ExtractiveSummarizer

        c = self.config
        if not c.llm_enabled:
            return ExtractiveSummarizer()
        if not c.openai_api_key and not c.openai_base_url:
            raise ConfigError("[llm] enabled needs a key: set OPENAI_API_KEY (or OPENAI_BASE_URL for a local "
                              "OpenAI-compatible server), or set [llm] enabled = false")
        from bot.digest.llm import LLMSummarizer

        return LLMSummarizer(self.store, c.llm_model, c.openai_api_key, c.openai_base_url, c.llm_max_items,
                             request_seconds=c.llm_request_seconds, budget_seconds=c.llm_budget_seconds)

    def thread_finder(self) -> ThreadFinder | None:
        if not self.config.hn_lookup:
            return None
        from bot.poll import fetch_settings
        from bot.sources.hn_threads import ThreadFinder

        return ThreadFinder(fetch_settings(self.config, []), self.config.hn_search_url, self.config.hn_max_lookups)

    def delivery_targets(self, opts: DigestOptions | None = None) -> list[DeliveryTarget]:
        """Every registered delivery target; one that talks to a service (Slack) is bound to the client the
        configuration sets up, or stays unconnected (it then says what to set up). With `opts`, clients
        are built only for targets they ask for, and none for a dry run (nor its checks of Slack URLs)."""
        import bot.delivery.builtin  # noqa: F401  (registers the built-in targets)
        from bot.delivery.registry import delivery_targets

        def asked_for(target: DeliveryTarget) -> bool:
            return opts is None or (not opts.dry_run and target.enabled(self.config, opts))

        return [(t.connect(self.config) or t) if t.connect is not None and asked_for(t) else t
                for t in delivery_targets()]

    @staticmethod
    def stop_hook() -> Callable[[str], None]:
        """Crash-safety tests name a step in BOT_KILL_AT; the process then kills itself there, like
        kill -9 would: no cleanup, no commit of anything not already committed. Only with the test
        opt-in (bot.core.test_hooks): left set in production, it is ignored with a warning."""
        target = hook_value("BOT_KILL_AT")

        def hook(step: str) -> None:
            if target and step == target:
                os.kill(os.getpid(), signal.SIGKILL)

        return hook

    # -- the daemon's jobs: each holds the work lock, returns its one-line outcome ----------------
    def poll_job(self) -> str:
        from bot.poll import poll

        with self.lock("the scheduled poll"):
            self.sync_library()
            report = poll(self.config, self.store, now=self.now()).as_dict()
        t = report["totals"]
        failed = [s["name"] for s in report["sources"] if s["result"] == "error"]
        return (f"{plural(len(report['sources']), 'source')}, {t.get('fetched', 0)} fetched, {t.get('new', 0)} new, "
                f"{t.get('known', 0)} known, {t.get('off_topic', 0)} off-topic, {t.get('not_modified', 0)} unchanged"
                + (f", failed: {', '.join(failed)}" if failed else ""))

    def digest_job(self) -> str:
        from bot.digest.pipeline import DigestOptions, run

        # The schedule asks for this week's digest: it is made even when an earlier one was retried first.
        opts = DigestOptions(commit=self.config.commit_log, new=True)
        with self.lock("the scheduled digest"):
            self.sync_library()
            outcome = run(self.config, self.store, opts, self.delivery_targets(opts), self.now(),
                          summarizer=self.summarizer(), finder=self.thread_finder())
        if not outcome.items:
            return f"{outcome.date}: no new items; nothing posted or appended"
        states = ", ".join(f"{d.target} {d.status}" for d in outcome.deliveries) or "no delivery targets"
        return (f"{outcome.date}: {plural(len(outcome.items), 'item')}; {states}"
                + "".join(f" ({n})" for n in [*outcome.notes, *outcome.warnings]))

    def retry_job(self, now: datetime | None = None) -> str:
        """On each poll tick: the deliveries that earlier runs left failed or unsettled and whose
        next_retry has come (backoff, and never before Slack's Retry-After). "" when there were none."""
        from bot.digest.pipeline import finish_unfinished

        if not self.store.count_waiting_deliveries():
            return ""
        with self.lock("the delivery retry"):
            done = finish_unfinished(self.config, self.store, self.delivery_targets(), self.stop_hook(),
                                     now=now or self.now(), due_only=True)
        return "; ".join(f"digest {d.id}: " + ", ".join(f"{x.target} {x.status}" for x in d.deliveries)
                         for d in done)

    def last_digest_time(self) -> datetime | None:
        created = self.store.last_digest_created()
        return datetime.fromisoformat(created) if created else None

    def library_paths(self) -> list[Path]:
        """`[library] paths` plus the log (which is usually among them already). A log that does not exist
        yet is the one the first digest or `bot add` creates: nothing to read until then."""
        log = self.config.log
        paths = [p for p in self.config.library_paths if log is None or p != log or log.exists()]
        if log is not None and log.exists():
            paths.append(log)
        return paths

    def sync_library(self) -> SyncReport:
        """The library brought up to date with the documents on disk (bot.library.api.sync_library); the
        review verdicts of the log's appended items are read from the log as it is now."""
        from bot.library.review import review_log
        from bot.library.sync import sync_library

        report = sync_library(self.store, self.library_paths())
        review_log(self.store, self.config.log, self.now())
        return report

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
