"""What every part of the store stands on: the connection, the path, the clock and transactions.
The parts (items, library, sources, deliveries) are mixins of this class, each over its own tables;
`Store` (bot.store.database) is all of them together (the model is lemon24/reader's _storage)."""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager

from bot.core.clock import Clock, stamp, system_clock
from bot.store.connection import Database, read_transaction, write_transaction


class StoreBase:
    def __init__(self, db: Database, path: str, clock: Clock = system_clock) -> None:
        self.db = db
        self.path = path
        self.clock = clock

    def now(self) -> str:
        """The store's timestamp for a row written now (from the injected clock)."""
        return stamp(self.clock())

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """`with store.transaction():` -- BEGIN IMMEDIATE so writers queue on the busy timeout
        instead of failing half way."""
        return write_transaction(self.db.conn)

    def snapshot(self) -> AbstractContextManager[None]:
        """`with store.snapshot():` -- one read transaction: everything read inside it is of one state
        of the database, whatever other processes write meanwhile."""
        return read_transaction(self.db.conn)
