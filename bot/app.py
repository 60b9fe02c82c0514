"""The composition root: the one place that builds real clients from the configuration.

Commands ask the App for what they need; tests build an App with their own config (and, where a
component talks to the network, their own client pointed at 127.0.0.1).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.config import Config
from bot.digest import ExtractiveSummarizer
from bot.library import find_log
from bot.slack import SlackPoster, make_poster
from bot.store import Store


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

    def summarizer(self) -> ExtractiveSummarizer:
        return ExtractiveSummarizer()

    def slack_poster(self) -> SlackPoster | None:
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
