"""The store: one SQLite database, the only place that speaks SQL. `Store` is its parts together,
one mixin per table or concern over a shared base (bot.store.base): items, the library and the
identities, sources, the delivery ledger, the LLM summary cache, HN thread lookups and the article cache."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.core.clock import Clock, system_clock
from bot.core.errors import StoreError
from bot.store.articles import ArticleRecords
from bot.store.connection import connect
from bot.store.deliveries import DeliveryRecords
from bot.store.hn_lookups import HnLookupRecords
from bot.store.items import ItemRecords
from bot.store.library import LibraryRecords
from bot.store.review import ReviewRecords
from bot.store.schema import migrate
from bot.store.sources import SourceRecords
from bot.store.summaries import SummaryRecords


class Store(ItemRecords, LibraryRecords, SourceRecords, DeliveryRecords, SummaryRecords, HnLookupRecords,
            ReviewRecords, ArticleRecords):
    """Owns one SQLite database. Construct with `Store.open(path)`; ":memory:" works for tests."""

    @classmethod
    def open(cls, path: str | Path, clock: Clock = system_clock) -> Store:
        path = str(path)
        try:
            store = cls(connect(path), path, clock)
            store.migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"Cannot open the database {path}: {exc}") from exc
        return store

    def migrate(self) -> list[int]:
        """Brings the schema forward (bot.store.schema); returns the versions applied."""
        return migrate(self.db, self.now())

    def close(self) -> None:
        self.db.conn.close()
