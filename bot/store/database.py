"""The SQLite store: the only module that imports sqlite_utils.

WAL mode and a busy timeout so a poll and a digest can overlap; registered migrations so an old
database is brought forward in place; every multi-row write in one transaction.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.core.clock import Clock, stamp, system_clock
from bot.core.errors import StoreError
from bot.core.identity import Identity
from bot.core.records import LibraryEntry
from bot.store.deliveries import DeliveryRecords

if TYPE_CHECKING:
    import sqlite_utils

BUSY_TIMEOUT_MS = 10_000


Migration = Callable[["sqlite_utils.Database"], None]
MIGRATIONS: list[tuple[int, str, Migration]] = []


def migration(version: int, name: str) -> Callable[[Migration], Migration]:
    def register(fn: Migration) -> Migration:
        MIGRATIONS.append((version, name, fn))
        return fn

    return register


@migration(1, "library")
def _m1(db: sqlite_utils.Database) -> None:
    db.table("library_entries").create(
        {"id": int, "file": str, "line": int, "kind": str, "title": str, "date": str, "urls": str,
         "internal_links": str, "text": str},
        pk="id",
    )
    db.table("library_entries").create_index(["file"])
    db.table("identities").create({"kind": str, "value": str, "owner": str, "owner_id": int})
    db.table("identities").create_index(["kind", "value"])
    db.table("identities").create_index(["owner", "owner_id"])
    db.table("library_entries").enable_fts(["title", "text"], create_triggers=True, tokenize="porter")


@migration(2, "items and sources")
def _m2(db: sqlite_utils.Database) -> None:
    db.table("items").create(
        {"id": int, "title": str, "url": str, "hn_id": int, "hn_url": str, "arxiv_id": str, "doi": str,
         "published": str, "first_seen": str, "updated": str, "sources": str, "topics": str,
         "score": float, "relevance": float, "status": str, "summary": str, "categories": str,
         "points": int, "comments": int, "explain": str, "digest_id": int},
        pk="id",
    )
    db.table("items").create_index(["status", "digest_id"])
    db.table("sources").create(
        {"name": str, "kind": str, "url": str, "last_poll": str, "result": str, "error": str,
         "etag": str, "last_modified": str, "retry_after": str, "cursor": str, "stats": str},
        pk="name",
    )


@migration(3, "digests and deliveries")
def _m3(db: sqlite_utils.Database) -> None:
    db.table("digests").create(
        {"id": int, "date": str, "since": str, "until": str, "created": str, "item_ids": str, "item_count": int,
         "stats": str, "bodies": str},
        pk="id",
    )
    db.table("deliveries").create(
        {"digest_id": int, "target": str, "status": str, "attempts": int, "error": str, "detail": str,
         "updated": str},
        pk=("digest_id", "target"),
    )


@migration(4, "summary cache")
def _m4(db: sqlite_utils.Database) -> None:
    db.table("summaries").create(
        {"key": str, "model": str, "prompt_version": str, "status": str, "text": str, "prompt_tokens": int,
         "completion_tokens": int, "reason": str, "created": str},
        pk=("key", "model", "prompt_version"),
    )


@migration(5, "HN thread lookups")
def _m5(db: sqlite_utils.Database) -> None:
    db.table("hn_lookups").create({"item_id": int, "checked": str, "hn_id": int}, pk="item_id")


@migration(6, "install id and delivery retry times")
def _m6(db: sqlite_utils.Database) -> None:
    # A random id per database: Slack message marks carry it, so a message that another install (or
    # this one before its database was rebuilt) posted to the same channel never counts as ours.
    db.table("install").create({"key": str, "value": str}, pk="key")
    db.table("install").insert({"key": "install_id", "value": secrets.token_hex(8)})
    # not_before: Slack asked us to wait (429 Retry-After), no send before it; next_retry: when `bot run`
    # tries a failed delivery again (backoff).
    db.table("deliveries").add_column("not_before", str)
    db.table("deliveries").add_column("next_retry", str)


@migration(7, "feed moves and removals")
def _m7(db: sqlite_utils.Database) -> None:
    # gone: when a feed answered 410 Gone (not polled until named); moved_to: a 301/308's new address.
    db.table("sources").add_column("gone", str)
    db.table("sources").add_column("moved_to", str)


@migration(8, "library generation")
def _m8(db: sqlite_utils.Database) -> None:
    # What the library cache (bot.library_cache) is keyed by: a token naming this database and a
    # generation that a trigger bumps on every change to the library's entries, whoever makes it.
    db.execute("create table library_state (id integer primary key check (id = 1), token text not null, "
               "generation integer not null)")
    db.execute("insert into library_state values (1, lower(hex(randomblob(16))), 0)")
    for event in ("insert", "update", "delete"):
        db.execute(f"create trigger library_entries_{event}_generation after {event} on library_entries "
                   "begin update library_state set generation = generation + 1; end")


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
        cursor = self.db.conn.execute(sql, list(where_args or []))
        columns = [d[0] for d in cursor.description]
        for row in cursor:
            yield dict(zip(columns, row, strict=True))

    @property
    def rows(self) -> Iterator[dict[str, Any]]:
        return self.rows_where()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db.full.table(self.name), name)


@dataclass(frozen=True)
class LibraryStats:
    entries: int
    links: int
    internal_links: int
    arxiv_ids: int
    hn_ids: int
    dois: int
    title_only: int
    documents: int

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class Store(DeliveryRecords):
    """Owns one SQLite database. Construct with `Store.open(path)`; ":memory:" works for tests."""

    def __init__(self, db: Database, path: str, clock: Clock = system_clock) -> None:
        self.db = db
        self.path = path
        self.clock = clock

    def now(self) -> str:
        """The store's timestamp for a row written now (from the injected clock)."""
        return stamp(self.clock())

    @classmethod
    def open(cls, path: str | Path, clock: Clock = system_clock) -> Store:
        path = str(path)
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                   check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if path != ":memory:":
                _set_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            db = Database(conn)
            store = cls(db, path, clock)
            store.migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"Cannot open the database {path}: {exc}") from exc
        return store

    def close(self) -> None:
        self.db.conn.close()

    # -- schema ---------------------------------------------------------------------------------
    def migrate(self) -> list[int]:
        """Brings the schema forward. Several commands may open a fresh database at once: the check
        and every migration run in one BEGIN IMMEDIATE transaction (the others queue on the busy
        timeout), and what is applied is read again inside it, so each migration runs exactly once."""
        wanted = sorted(MIGRATIONS, key=lambda m: m[0])
        if self._applied_migrations() >= {version for version, _, _ in wanted}:
            return []  # the usual case: a read, no write lock
        applied = []
        with self.transaction():
            self.db.execute("create table if not exists [_migrations] "
                            "([version] INTEGER PRIMARY KEY, [name] TEXT, [applied] TEXT)")
            done = self._applied_migrations()
            for version, name, fn in wanted:
                if version in done:
                    continue
                fn(self.db.full)
                self.db.execute("insert into [_migrations] (version, name, applied) values (?, ?, ?)",
                                [version, name, self.now()])
                applied.append(version)
        return applied

    def _applied_migrations(self) -> set[int]:
        try:
            return {row[0] for row in self.db.execute("select version from [_migrations]")}
        except sqlite3.OperationalError:  # no such table: a fresh database
            return set()

    def transaction(self) -> Any:
        """`with store.transaction():` -- BEGIN IMMEDIATE so writers queue on the busy timeout
        instead of failing half way."""
        return _Transaction(self.db.conn)

    # -- library --------------------------------------------------------------------------------
    def replace_library_file(self, file: str, entries: Iterable[LibraryEntry]) -> int:
        """Replaces every entry that came from `file` (so importing twice changes nothing)."""
        entries = list(entries)
        with self.transaction():
            old = [r[0] for r in self.db.execute("select id from library_entries where file = ?", [file])]
            if old:
                marks = ",".join("?" * len(old))
                self.db.execute(f"delete from identities where owner = 'entry' and owner_id in ({marks})", old)
                self.db.execute("delete from library_entries where file = ?", [file])
            for entry in entries:
                entry_id = self.db.table("library_entries").insert(
                    {"file": entry.file, "line": entry.line, "kind": entry.kind, "title": entry.title,
                     "date": entry.date, "urls": json.dumps(list(entry.urls)),
                     "internal_links": json.dumps(list(entry.internal_links)), "text": entry.text}
                ).last_pk
                self.db.table("identities").insert_all(
                    ({"kind": i.kind, "value": i.value, "owner": "entry", "owner_id": entry_id}
                     for i in sorted(entry.identities)),
                    batch_size=500,
                )
        return len(entries)

    def library_version(self) -> tuple[str, int]:
        """(this database's token, the library's generation): changes whenever any library entry does."""
        token, generation = self.db.execute("select token, generation from library_state").fetchone()
        return str(token), int(generation)

    def identity_rows(self, owner: str | None = None) -> Iterator[tuple[str, str, str, int]]:
        sql = "select kind, value, owner, owner_id from identities"
        args: list[Any] = []
        if owner:
            sql += " where owner = ?"
            args.append(owner)
        yield from self.db.execute(sql, args)

    def library_entry(self, entry_id: int) -> dict[str, Any] | None:
        row = self.db.execute("select * from library_entries where id = ?", [entry_id]).fetchone()
        if row is None:
            return None
        cols = [d[0] for d in self.db.execute("select * from library_entries limit 0").description]
        record = dict(zip(cols, row, strict=True))
        record["urls"] = json.loads(record["urls"] or "[]")
        record["internal_links"] = json.loads(record["internal_links"] or "[]")
        return record

    def library_entries(self) -> Iterator[dict[str, Any]]:
        for row in self.db.table("library_entries").rows:
            row["urls"] = json.loads(row["urls"] or "[]")
            row["internal_links"] = json.loads(row["internal_links"] or "[]")
            yield row

    def entry_titles(self) -> dict[int, list[str]]:
        """The titles each library entry names (normalized), by entry id."""
        titles: dict[int, list[str]] = defaultdict(list)
        for owner_id, value in self.db.execute(
                "select owner_id, value from identities where owner = 'entry' and kind = 'title'"):
            titles[owner_id].append(value)
        return dict(titles)

    def entry_identity_kinds(self) -> list[set[str]]:
        """The kinds of identity (hn, arxiv, url, doi, title) each library entry carries: of the dated
        entries (a log: what the person picked as it came) when there are any, else of all."""
        kinds: dict[int, set[str]] = defaultdict(set)
        dated: set[int] = set()
        for owner_id, kind, day in self.db.execute(
                "select distinct i.owner_id, i.kind, e.date from identities i join library_entries e"
                " on e.id = i.owner_id where i.owner = 'entry'"):
            kinds[owner_id].add(kind)
            if day:
                dated.add(owner_id)
        return [k for owner_id, k in kinds.items() if owner_id in dated or not dated]
    def library_is_empty(self) -> bool:
        """One indexed lookup, where library_stats scans the whole library."""
        return self.db.execute("select not exists (select 1 from library_entries)").fetchone()[0] == 1

    def library_stats(self) -> LibraryStats:
        q = self.db.execute

        def one(sql: str) -> int:
            return int(q(sql).fetchone()[0] or 0)

        return LibraryStats(
            entries=one("select count(*) from library_entries"),
            links=one("select coalesce(sum(json_array_length(urls)), 0) from library_entries"),
            internal_links=one("select coalesce(sum(json_array_length(internal_links)), 0) from library_entries"),
            arxiv_ids=one("select count(distinct value) from identities where owner='entry' and kind='arxiv'"),
            hn_ids=one("select count(distinct value) from identities where owner='entry' and kind='hn'"),
            dois=one("select count(distinct value) from identities where owner='entry' and kind='doi'"),
            title_only=one("select count(*) from library_entries where kind = 'title-only'"),
            documents=one("select count(distinct file) from library_entries"),
        )

    def search_library(self, text: str, limit: int = 20) -> list[dict[str, Any]]:
        query = self.db.quote_fts(text)
        sql = (
            "select e.id, e.file, e.line, e.date, e.title, e.urls, e.text from library_entries e "
            "join library_entries_fts on e.rowid = library_entries_fts.rowid "
            "where library_entries_fts match ? order by library_entries_fts.rank limit ?"
        )
        rows = []
        for r in self.db.execute(sql, [query, limit]):
            rows.append({"id": r[0], "file": r[1], "line": r[2], "date": r[3], "title": r[4],
                         "urls": json.loads(r[5] or "[]"), "text": r[6]})
        return rows

    def item(self, item_id: int) -> dict[str, Any] | None:
        row = next(self.db.table("items").rows_where("id = ?", [item_id]), None)
        return _decode(row) if row else None

    # -- sources and items ---------------------------------------------------------------------
    def source_state(self, name: str) -> dict[str, Any]:
        cursor = self.db.execute("select * from sources where name = ?", [name])
        row = cursor.fetchone()
        return dict(zip([d[0] for d in cursor.description], row, strict=True)) if row else {"name": name}

    def source_states(self) -> list[dict[str, Any]]:
        rows = []
        for row in self.db.table("sources").rows_where(order_by="name"):
            row["stats"] = json.loads(row["stats"]) if row.get("stats") else {}
            rows.append(row)
        return rows

    def save_source_state(self, name: str, **fields: Any) -> None:
        if "stats" in fields and not isinstance(fields["stats"], str):
            fields["stats"] = json.dumps(fields["stats"])
        # Plain SQL: a poll saves one row per feed, and sqlite-utils' upsert costs far more than the write.
        columns = ["name", *fields]
        names = ", ".join(f"[{c}]" for c in columns)
        updates = ", ".join(f"[{c}] = excluded.[{c}]" for c in fields) or "name = excluded.name"
        self.db.execute(f"insert into sources ({names}) values ({', '.join('?' * len(columns))}) "
                        f"on conflict(name) do update set {updates}", [name, *fields.values()])

    def insert_items(self, batch: Sequence[tuple[dict[str, Any], Iterable[Identity]]]) -> list[int]:
        """Many new items in two statements' worth of work; ids are assigned here, in order."""
        if not batch:
            return []
        with self.transaction():
            start = int(self.db.execute("select coalesce(max(id), 0) from items").fetchone()[0]) + 1
            ids = list(range(start, start + len(batch)))
            self._insert_rows("items", [{**_encode(record), "id": item_id}
                                        for item_id, (record, _) in zip(ids, batch, strict=True)])
            self._insert_rows("identities", [{"kind": i.kind, "value": i.value, "owner": "item", "owner_id": item_id}
                                             for item_id, (_, idents) in zip(ids, batch, strict=True)
                                             for i in idents])
        return ids

    def _insert_rows(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """Rows of one shape in one executemany: a poll's thousands of items without sqlite-utils'
        per-value type inspection, which cost more than the insert itself."""
        if not rows:
            return
        columns = list(rows[0])
        if any(row.keys() != rows[0].keys() for row in rows):
            raise ValueError(f"rows for {table} differ in their columns")
        names = ", ".join(f"[{c}]" for c in columns)
        self.db.conn.executemany(f"insert into [{table}] ({names}) values ({', '.join('?' * len(columns))})",
                                 [[row[c] for c in columns] for row in rows])

    def update_item(self, item_id: int, fields: dict[str, Any], identities: Iterable[Identity] = ()) -> None:
        if fields:
            self.db.table("items").update(item_id, _encode(fields))
        have = {(k, v) for k, v, _, _ in self.db.execute(
            "select kind, value, owner, owner_id from identities where owner = 'item' and owner_id = ?", [item_id])}
        self.add_identities("item", item_id, [i for i in identities if (i.kind, i.value) not in have])

    def items_where(self, where: str, args: list[Any], order_by: str | None = None,
                    limit: int | None = None) -> list[dict[str, Any]]:
        rows = []
        for row in self.db.table("items").rows_where(where, args, order_by=order_by, limit=limit):
            rows.append(_decode(row))
        return rows

    def count_items(self, where: str = "1", args: list[Any] | None = None) -> int:
        return int(self.db.execute(f"select count(*) from items where {where}", args or []).fetchone()[0])

    def add_identities(self, owner: str, owner_id: int, identities: Iterable[Identity]) -> None:
        self.db.table("identities").insert_all(
            ({"kind": i.kind, "value": i.value, "owner": owner, "owner_id": owner_id} for i in identities),
            batch_size=500,
        )


_JSON_FIELDS = ("sources", "topics", "categories", "explain")


def _encode(record: dict[str, Any]) -> dict[str, Any]:
    return {k: (json.dumps(v) if k in _JSON_FIELDS and not isinstance(v, str) and v is not None else v)
            for k, v in record.items()}


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    for key in _JSON_FIELDS:
        if key in row:
            row[key] = json.loads(row[key]) if row[key] else ({} if key == "explain" else [])
    return row


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
