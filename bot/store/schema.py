"""The schema: a list of registered migrations, each run once, in order, so a database made by any
earlier version is brought forward in place (simonw/llm's migrations are the model)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.store.connection import Database, write_transaction

if TYPE_CHECKING:
    import sqlite_utils

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
    import secrets  # here, not at the top: only a new database (or this migration) makes an install id

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


def migrate(db: Database, now: str) -> list[int]:
    """Brings the schema forward; returns the versions applied. Several commands may open a fresh
    database at once: the check and every migration run in one BEGIN IMMEDIATE transaction (the others
    queue on the busy timeout), and what is applied is read again inside it, so each migration runs
    exactly once."""
    wanted = sorted(MIGRATIONS, key=lambda m: m[0])
    if applied_migrations(db) >= {version for version, _, _ in wanted}:
        return []  # the usual case: a read, no write lock
    applied = []
    with write_transaction(db.conn):
        db.execute("create table if not exists [_migrations] "
                   "([version] INTEGER PRIMARY KEY, [name] TEXT, [applied] TEXT)")
        done = applied_migrations(db)
        for version, name, fn in wanted:
            if version in done:
                continue
            fn(db.full)
            db.execute("insert into [_migrations] (version, name, applied) values (?, ?, ?)", [version, name, now])
            applied.append(version)
    return applied


def applied_migrations(db: Database) -> set[int]:
    try:
        return {row[0] for row in db.execute("select version from [_migrations]")}
    except sqlite3.OperationalError:  # no such table: a fresh database
        return set()


@migration(9, "summary failure endpoint")
def _m9(db: sqlite_utils.Database) -> None:
    # endpoint: a fingerprint of the base URL and a hash of the key a cached failure came from, so a new
    # key or endpoint asks again at once (bot.digest.llm); never the key itself.
    db.table("summaries").add_column("endpoint", str)


@migration(10, "library documents")
def _m10(db: sqlite_utils.Database) -> None:
    # Each reading document the library was read from, by its resolved absolute path, with what it was
    # on disk then (size, mtime, content hash): every command that dedupes compares a stat per document
    # with it, and re-reads only what changed. Entries stored before this version are named by paths
    # relative to whatever folder the import ran in; they have no row here, so the first sync removes
    # them and reads their documents again under absolute paths (no doubling).
    # ignored: the links on its lines that are not URLs, as JSON [[line, link], ...], which every
    # `library import` reports, read again or not.
    db.execute("create table library_documents (path text primary key, size integer not null, "
               "mtime_ns integer not null, sha256 text not null, entries integer not null, "
               "ignored text not null default '[]')")


@migration(11, "log review")
def _m11(db: sqlite_utils.Database) -> None:
    # Which digested items the bot appended to the log (the bullet line it wrote, under which heading,
    # when), and the person's verdict once the log is read again: "deleted" when the line is gone,
    # "kept" when it is still there after the review period (bot.store.review).
    db.execute("create table log_review (item_id integer primary key, digest_id integer, line text not null, "
               "heading text, appended text not null, verdict text, decided text)")
    db.execute("create index log_review_pending on log_review (verdict)")


@migration(12, "article cache")
def _m12(db: sqlite_utils.Database) -> None:
    # The text of the page an item links to, per URL (bot.store.articles): kept for a later issue's
    # ranking, and so that no digest, dry or real, fetches a page twice before refetch_after.
    db.execute("create table articles (url text primary key, kind text not null, status text not null, text text, "
               "reason text, etag text, last_modified text, fetched text not null, refetch_after text not null)")


@migration(13, "library sections")
def _m13(db: sqlite_utils.Database) -> None:
    # sections: how each document was split when read (bot.library.parser.Section), as JSON, so that
    # the next read of a changed document parses only the sections that changed and keeps the others'
    # entries, shifting their line numbers. A line number is not indexed text: the full-text index is
    # updated only when an entry's title or text changes (a shift of 50,000 lines stays cheap).
    db.execute("alter table library_documents add column sections text not null default '[]'")
    db.execute("drop trigger if exists library_entries_au")
    db.execute('create trigger library_entries_au after update of title, text on library_entries begin '
               'insert into library_entries_fts (library_entries_fts, rowid, title, text) '
               "values('delete', old.rowid, old.title, old.text); "
               "insert into library_entries_fts (rowid, title, text) values (new.rowid, new.title, new.text); end")


@migration(14, "library change log")
def _m14(db: sqlite_utils.Database) -> None:
    # Which entries changed, in order, so that the library cache is brought forward by them instead of
    # rebuilt (bot.library_cache): a row per entry inserted, deleted or changed (whoever changes it), a
    # NULL entry for a change that moves entries among the others (the cache is rebuilt). nonce: random
    # per row, so that a cache names the last row it read and a database restored from a backup (whose
    # later rows are other rows) is told apart. syncing: set while the library's own sync writes; its
    # line shifts keep the order of the entries (it logs a NULL when they do not), and the identities
    # it writes belong to entries it logs, so neither is logged row by row (a shift of 50,000 lines
    # would be 50,000 rows).
    # An entry's line lives in a narrow table of its own: a line added near the top of a 100,000-line log
    # moves the line of every entry below it, and rewriting 50,000 narrow rows costs a few hundred KB of
    # pages, where rewriting the entries' rows (title, links, text) cost 18 MB and half a second.
    db.execute("create table library_lines (id integer primary key, line integer not null)")
    db.execute("insert into library_lines (id, line) select id, line from library_entries")
    db.execute("create table library_changes (seq integer primary key autoincrement, entry_id integer, "
               "nonce integer not null default (random()))")
    db.execute("alter table library_state add column syncing integer not null default 0")
    for event in ("insert", "update", "delete"):
        db.execute(f"drop trigger if exists library_entries_{event}_generation")
    bump = "update library_state set generation = generation + 1"
    log = "insert into library_changes (entry_id) values"
    db.execute(f"create trigger library_entries_insert_generation after insert on library_entries "
               f"begin {bump}; {log} (new.id); end")
    db.execute(f"create trigger library_entries_delete_generation after delete on library_entries "
               f"begin {bump}; {log} (old.id); end")
    db.execute(f"create trigger library_entries_update_generation after update of id, file, kind, title, date, urls, "
               f"internal_links, text on library_entries begin {bump}; {log} (old.id); {log} (new.id); end")
    db.execute("alter table library_entries drop column line")
    db.execute(f"create trigger library_lines_generation after update on library_lines "
               f"when (select syncing from library_state) = 0 begin {bump}; {log} (old.id); {log} (new.id); end")
    quiet = "(select syncing from library_state) = 0"
    db.execute(f"create trigger identities_insert_library after insert on identities "
               f"when new.owner = 'entry' and {quiet} begin {log} (new.owner_id); end")
    db.execute(f"create trigger identities_delete_library after delete on identities "
               f"when old.owner = 'entry' and {quiet} begin {log} (old.owner_id); end")
    db.execute(f"create trigger identities_update_library after update on identities "
               f"when (old.owner = 'entry' or new.owner = 'entry') and {quiet} "
               f"begin {log} (old.owner_id); {log} (new.owner_id); end")
    # The first row: every state of the library names a row (entry 0 is no entry).
    db.execute(f"{log} (0)")
