"""The composition root: the one place that builds real clients from the configuration.

Commands ask the App for what they need; tests build an App with their own config (and, where a
component talks to the network, their own client pointed at 127.0.0.1).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Config
from bot.errors import ConfigError
from bot.library import find_log
from bot.lock import hold, work_lock
from bot.store import Store

if TYPE_CHECKING:  # the SDKs behind these are imported by the methods that build them (start-up time)
    from bot.digest import Summarizer
    from bot.hn_threads import ThreadFinder
    from bot.slack import SlackPoster


@dataclass
class App:
    config: Config
    _store: Store | None = field(default=None, repr=False)

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store.open(self.config.db)
        return self._store

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
        from bot.digest import ExtractiveSummarizer

        c = self.config
        if not c.llm_enabled:
            return ExtractiveSummarizer()
        if not c.openai_api_key and not c.openai_base_url:
            raise ConfigError("[llm] enabled needs a key: set OPENAI_API_KEY (or OPENAI_BASE_URL for a local "
                              "OpenAI-compatible server), or set [llm] enabled = false")
        from bot.llm import LLMSummarizer

        return LLMSummarizer(self.store, c.llm_model, c.openai_api_key, c.openai_base_url, c.llm_max_items)

    def thread_finder(self) -> ThreadFinder | None:
        if not self.config.hn_lookup:
            return None
        from bot.hn_threads import ThreadFinder
        from bot.poll import fetch_settings

        return ThreadFinder(fetch_settings(self.config, []), self.config.hn_search_url, self.config.hn_max_lookups)

    def slack_poster(self) -> SlackPoster | None:
        from bot.slack import make_poster

        c = self.config
        return make_poster(c.slack_webhook_url, c.slack_bot_token, c.slack_channel, c.slack_api_url)

    @staticmethod
    def stop_hook() -> Callable[[str], None]:
        """Crash-safety tests name a step in BOT_KILL_AT; the process then kills itself there, like
        kill -9 would: no cleanup, no commit of anything not already committed."""
        target = os.environ.get("BOT_KILL_AT")

        def hook(step: str) -> None:
            if target and step == target:
                os.kill(os.getpid(), signal.SIGKILL)

        return hook

    # -- the daemon's jobs: each holds the work lock, returns its one-line outcome ----------------
    def poll_job(self) -> str:
        from bot.poll import poll

        with hold(work_lock(self.config.db), "the scheduled poll"):
            report = poll(self.config, self.store).as_dict()
        t = report["totals"]
        failed = [s["name"] for s in report["sources"] if s["result"] == "error"]
        return (f"{len(report['sources'])} sources, {t.get('fetched', 0)} fetched, {t.get('new', 0)} new, "
                f"{t.get('known', 0)} known, {t.get('off_topic', 0)} off-topic, {t.get('not_modified', 0)} unchanged"
                + (f", failed: {', '.join(failed)}" if failed else ""))

    def digest_job(self) -> str:
        from datetime import UTC, datetime

        from bot.digest import DigestOptions, run

        with hold(work_lock(self.config.db), "the scheduled digest"):
            outcome = run(self.config, self.store, DigestOptions(commit=self.config.commit_log),
                          self.slack_poster(), datetime.now(UTC), summarizer=self.summarizer(),
                          finder=self.thread_finder())
        if not outcome.items:
            return f"{outcome.date}: no new items; nothing posted or appended"
        states = ", ".join(f"{d['target']} {d['status']}" for d in outcome.deliveries) or "no delivery targets"
        return f"{outcome.date}: {len(outcome.items)} items; {states}"

    def last_digest_time(self) -> datetime | None:
        row = self.store.db.execute("select max(created) from digests").fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def library_paths(self) -> list[Path]:
        """`[library] paths` plus the log (which is usually among them already)."""
        paths = list(self.config.library_paths)
        if self.config.log is not None and self.config.log.exists():
            paths.append(self.config.log)
        return paths

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
