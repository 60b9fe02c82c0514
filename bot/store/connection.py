"""The SQLite connection: opened with WAL and a busy timeout so a poll and a digest can overlap,
transactions that queue on that timeout, and sqlite-utils loaded only when a write needs it."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite_utils

BUSY_TIMEOUT_MS = 10_000


SIDE_FILES = ("", "-wal", "-shm", "-journal", ".library-cache")  # the cache holds the library too


def connect(path: str) -> Database:
    """The connection to the database file at `path` (":memory:" for a private one), folder made. The
    file and its side files are readable by their owner only: they hold the person's reading and
    delivery history (SQLite gives -wal and -shm the database file's own mode)."""
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        _owner_only(path)
    old = os.umask(0o077) if path != ":memory:" else None
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if path != ":memory:":
            _set_wal(conn)
    finally:
        if old is not None:
            os.umask(old)
    if path != ":memory:":
        _owner_only(path)
    conn.execute("PRAGMA synchronous = NORMAL")
    return Database(conn)


def _owner_only(path: str) -> None:
    """Narrows an existing database (one made by an older version was 0644) and its side files."""
    for suffix in SIDE_FILES:
        with contextlib.suppress(OSError):  # absent, or not ours to change: SQLite reports what matters
            os.chmod(path + suffix, 0o600)


class Database:
    """The connection, with sqlite_utils' Database made on first use of anything beyond plain SQL and
    reading rows: importing sqlite_utils costs more than all of `bot status` (0.1 s), and reads go
    through plain SQL anyway."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._full: sqlite_utils.Database | None = None

    @property
    def full(self) -> sqlite_utils.Database:
        if self._full is None:
            import sqlite_utils

            self._full = sqlite_utils.Database(self.conn)
        return self._full

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> sqlite3.Cursor:
        return self.conn.execute(sql, parameters if parameters is not None else [])

    def rows(self, sql: str, parameters: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        """The rows of a query, each as {column: value}."""
        cursor = self.conn.execute(sql, list(parameters))
        columns = [d[0] for d in cursor.description]
        for row in cursor:
            yield dict(zip(columns, row, strict=True))

    def table(self, name: str) -> _Table:
        return _Table(self, name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.full, name)


class _Table:
    """Reads rows as sqlite_utils' Table does, in plain SQL; everything else goes to sqlite_utils."""

    def __init__(self, db: Database, name: str) -> None:
        self.db = db
        self.name = name

    def rows_where(self, where: str | None = None, where_args: Sequence[Any] | None = None,
                   order_by: str | None = None, limit: int | None = None) -> Iterator[dict[str, Any]]:
        sql = f"select * from [{self.name}]"
        if where is not None:
            sql += f" where {where}"
        if order_by is not None:
            sql += f" order by {order_by}"
        if limit is not None:
            sql += f" limit {int(limit)}"
        return self.db.rows(sql, list(where_args or []))

    @property
    def rows(self) -> Iterator[dict[str, Any]]:
        return self.rows_where()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db.full.table(self.name), name)


def write_transaction(conn: sqlite3.Connection) -> AbstractContextManager[sqlite3.Connection]:
    """BEGIN IMMEDIATE, so writers queue on the busy timeout instead of failing half way; inside an
    open transaction, part of it."""
    return _Transaction(conn)


@contextmanager
def read_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One read transaction (a consistent snapshot under WAL); inside an open transaction, part of it."""
    own = not conn.in_transaction
    if own:
        conn.execute("begin")
    try:
        yield
    finally:
        if own:
            conn.execute("commit")


def _set_wal(conn: sqlite3.Connection) -> None:
    """WAL mode, once per database file. On a fresh file the switch needs it to itself, and SQLite
    may report "locked" at once instead of waiting on the busy timeout; so wait here."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.nested = False

    def __enter__(self) -> sqlite3.Connection:
        self.nested = self.conn.in_transaction
        if not self.nested:
            self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self.nested:
            return
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
