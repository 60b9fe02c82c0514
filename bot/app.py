"""The composition root: the one place that builds real clients from the configuration.

Commands ask the App for what they need; tests build an App with their own config (and, where a
component talks to the network, their own client pointed at 127.0.0.1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.config import Config
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
