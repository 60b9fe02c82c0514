"""What every part of the store stands on: the connection, the path, the clock and transactions.
The parts (items, library, sources, deliveries) are mixins of this class, each over its own tables;
`Store` (bot.store.database) is all of them together (the model is lemon24/reader's _storage)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TypeVar

from bot.core.clock import Clock, stamp, system_clock
from bot.store.connection import Database, read_transaction, write_transaction

T = TypeVar("T")
IN_BATCH = 900  # values per `in (...)`: under SQLite's default limit of 999 parameters, with a few to spare


def in_batches(values: Sequence[T], size: int = IN_BATCH) -> Iterator[tuple[list[T], str]]:
    """The values a batch at a time, each with its `?, ?, ...` placeholders: a lookup of any number of
    values through `in (...)` (SQLite's limit on parameters is no limit on the values)."""
    for at in range(0, len(values), size):
        batch = list(values[at:at + size])
        yield batch, ",".join("?" * len(batch))


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
