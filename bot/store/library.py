"""The library's tables: the person's entries (one per line of a reading document that names
something) with their identities, the full-text index, and the library's generation (what the library
cache is keyed by)."""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bot.core.records import LibraryEntry, LibraryHit, LibraryStats, StoredEntry
from bot.store.base import in_batches
from bot.store.identities import IdentityRecords


@dataclass(frozen=True)
class DocumentState:
    """A reading document as the library last read it: its resolved absolute path, its size and mtime
    then (so an unchanged document costs a stat), and its content hash (so a touched one costs a read)."""

    path: str
    size: int
    mtime_ns: int
    sha256: str
    entries: int
    ignored: tuple[tuple[int, str], ...] = ()  # (line, link) of links that are not URLs
    # How the document was split when read (bot.library.parser.Section, as plain rows): what lets the
    # next read parse only the sections that changed.
    sections: tuple[tuple[object, ...], ...] = ()


# Entries with their line (migration 14 keeps lines apart: a shift rewrites narrow rows only).
ENTRY_ROWS = ("select e.*, coalesce(l.line, 0) as line from library_entries e "
              "left join library_lines l on l.id = e.id")
# Up to this many ranges of kept entries, a document's entries are moved by one SQL statement.
MERGED_RANGES = 64


class LibraryRecords(IdentityRecords):
    # -- the documents the library was read from -------------------------------------------------
    def library_documents(self) -> dict[str, DocumentState]:
        rows = self.db.execute("select path, size, mtime_ns, sha256, entries, ignored, sections from library_documents")
        return {path: DocumentState(path, size, mtime_ns, sha, entries,
                                    tuple((int(n), str(link)) for n, link in json.loads(ignored or "[]")),
                                    tuple(tuple(row) for row in json.loads(sections or "[]")))
                for path, size, mtime_ns, sha, entries, ignored, sections in rows}

    def library_files(self) -> set[str]:
        """Every file name the entries carry (a database from before documents were recorded has
        entries under relative names that no document row holds)."""
        found: set[Any] = set(self._entry_files())
        if self.db.execute("select exists (select 1 from library_entries where file is null)").fetchone()[0]:
            found.add(None)  # as `select distinct file` has it (entries written by hand)
        return found

    def _entry_files(self) -> list[str]:
        """The distinct file names of the entries (not null), in order: one search of the file index per
        file, where `select distinct file` reads the index's 100,000 rows."""
        names: list[str] = []
        row = self.db.execute("select min(file) from library_entries").fetchone()
        while row is not None and row[0] is not None:
            names.append(row[0])
            row = self.db.execute("select min(file) from library_entries where file > ?", [row[0]]).fetchone()
        return names

    def record_document(self, state: DocumentState) -> None:
        self.db.execute("insert or replace into library_documents (path, size, mtime_ns, sha256, entries, ignored, "
                        "sections) values (?, ?, ?, ?, ?, ?, ?)",
                        [state.path, state.size, state.mtime_ns, state.sha256, state.entries,
                         json.dumps([list(i) for i in state.ignored]), json.dumps([list(s) for s in state.sections])])

    def remove_library_file(self, file: str) -> int:
        """A document that is gone, or no longer configured, leaves with its entries."""
        with self.transaction(), self._syncing():
            old = [r[0] for r in self.db.execute("select id from library_entries where file = ?", [file])]
            if old:
                self._delete_entries(old)
            self.db.execute("delete from library_documents where path = ?", [file])
        return len(old)

    def retire_items_the_library_holds(self) -> int:
        """Undigested items that a library entry names (a line the person added to the log by hand after
        the poll stored the item): "known", never offered by a digest. Returns how many."""
        cursor = self.db.execute(
            "update items set status = 'known' where digest_id is null and status = 'relevant' and exists "
            "(select 1 from identities it join identities e on e.kind = it.kind and e.value = it.value "
            "and e.owner = 'entry' where it.owner = 'item' and it.owner_id = items.id)")
        return int(cursor.rowcount or 0)

    def library_content_key(self) -> str:
        """A hash of what the library holds: every document's path and content hash (the entries are a
        function of them). What the library cache is keyed by: a database restored from a backup or
        copied from elsewhere holds other documents, so another key, whatever its generation counter says."""
        digest = hashlib.sha256()
        for path, sha in self.db.execute("select path, sha256 from library_documents order by path"):
            digest.update(f"{path}\0{sha}\n".encode())
        # Entries no document row accounts for (written before documents were recorded, and not yet
        # brought up to date): keyed by this database's library generation, as before.
        # The bot's own appended lines under review are left out of taste and similarity (bot.library.review).
        digest.update(",".join(str(r[0]) for r in self.db.execute(
            "select item_id from log_review where verdict is null order by item_id")).encode())
        documents = {r[0] for r in self.db.execute("select path from library_documents")}
        if any(name not in documents for name in self._entry_files()):
            digest.update("legacy {} {}".format(*self.library_version()).encode())
        return digest.hexdigest()

    def replace_library_file(self, file: str, entries: Iterable[LibraryEntry]) -> int:
        """Replaces every entry that came from `file` (so importing twice changes nothing). A file whose
        entries are stored exactly so already is left alone: the library's generation stays, and with it
        the library cache that polls read."""
        entries = list(entries)
        with self.transaction(), self._syncing():
            old = [r[0] for r in self.db.execute("select id from library_entries where file = ?", [file])]
            if old and self._stored_as(old, entries):
                return len(entries)
            if old:
                self._delete_entries(old)
            self._insert_entries(entries)
        return len(entries)

    def update_library_file(self, file: str, kept: Iterable[tuple[int, int, int]],
                            entries: Iterable[LibraryEntry]) -> None:
        """Brings one document's entries up to date from a read of its changed sections only: the old
        entries on the lines of a kept range (first, last, shift) stay, with their identities, moved by
        the shift; every other old entry leaves; `entries` (the changed sections') come in."""
        ranges = sorted(kept)
        # Kept sections that follow each other and move alike are one range: a line added to a long log
        # leaves two or three (above it, unmoved; below it, moved by one), and the database moves the
        # entries of each in one statement, not 50,000.
        merged: list[list[int]] = []
        for lo, hi, shift in ranges:
            if merged and merged[-1][1] + 1 == lo and merged[-1][2] == shift:
                merged[-1][1] = hi
            else:
                merged.append([lo, hi, shift])
        with self.transaction(), self._syncing():
            if len(merged) <= MERGED_RANGES:
                within = " or ".join(["line between ? and ?"] * len(merged)) or "0"
                bounds = [n for lo, hi, _ in merged for n in (lo, hi)]
                gone = [r[0] for r in self.db.execute(
                    f"select e.id from library_entries e join library_lines l on l.id = e.id "
                    f"where e.file = ? and not ({within})", [file, *bounds])]
                self._delete_entries(gone)
                moved = [m for m in merged if m[2]]
                if moved:
                    # Only the line number changes: the full-text index is not touched (migration 12),
                    # and the change log is not written (migration 14).
                    case = " ".join(["when line between ? and ? then ?"] * len(moved))
                    self.db.execute(
                        f"update library_lines set line = line + case {case} else 0 end where id in "
                        f"(select id from library_entries where file = ?) and "
                        f"({' or '.join(['line between ? and ?'] * len(moved))})",
                        [*(n for m in moved for n in m), file, *(n for lo, hi, _ in moved for n in (lo, hi))])
            else:  # sections kept far apart: each entry placed by a search among the ranges
                starts = [lo for lo, _, _ in ranges]
                gone = []
                moves: list[tuple[int, int]] = []
                for entry_id, line in self.db.execute("select e.id, l.line from library_entries e join library_lines l "
                                                      "on l.id = e.id where e.file = ?", [file]):
                    at = bisect_right(starts, line) - 1
                    if at >= 0 and line <= ranges[at][1]:
                        if ranges[at][2]:
                            moves.append((line + ranges[at][2], entry_id))
                    else:
                        gone.append(entry_id)
                self._delete_entries(gone)
                self.db.conn.executemany("update library_lines set line = ? where id = ?", moves)
            # Kept ranges that changed their order change which of two entries sharing a title comes
            # first: the library cache is told so (it rebuilds).
            news = [lo + shift for lo, _, shift in ranges]
            if any(a >= b for a, b in zip(news, news[1:], strict=False)):
                self.db.execute("insert into library_changes (entry_id) values (null)")
            self._insert_entries(entries)

    @contextmanager
    def _syncing(self) -> Iterator[None]:
        """Inside a transaction: the entries' own triggers log which entries come and go; the line
        shifts and the identities written with them are not logged row by row (migration 14)."""
        self.db.execute("update library_state set syncing = 1")
        try:
            yield
        finally:
            self.db.execute("update library_state set syncing = 0")

    # -- the change log (migration 14), what the library cache is brought forward by --------------
    def library_log_head(self) -> tuple[int, int]:
        """(seq, nonce) of the change log's last row: names the state of the entries."""
        row = self.db.execute("select seq, nonce from library_changes order by seq desc limit 1").fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)  # emptied by hand: no state to come from

    def library_changes_since(self, seq: int, nonce: int) -> set[int | None] | None:
        """The entries changed after the row (seq, nonce); None when that row is not here (pruned, or
        this database is not the one that wrote it: restored from a backup, copied). A None among the
        entries: a change that moved entries among the others."""
        row = self.db.execute("select nonce from library_changes where seq = ?", [seq]).fetchone()
        if row is None or int(row[0]) != nonce:
            return None
        return {r[0] for r in self.db.execute("select distinct entry_id from library_changes where seq > ?", [seq])}

    def prune_library_changes(self, seq: int) -> None:
        """Forgets the rows before `seq` (the cache's state is at or after it)."""
        with self.transaction():
            self.db.execute("delete from library_changes where seq < ?", [seq])

    def library_file_order(self) -> list[str]:
        """The documents in the order their entries come in the index (the first id of each)."""
        firsts: list[tuple[int, Any]] = [
            (self.db.execute("select min(id) from library_entries where file = ?", [name]).fetchone()[0], name)
            for name in self._entry_files()]
        none = self.db.execute("select min(id) from library_entries where file is null").fetchone()[0]
        if none is not None:  # entries without a file (written by hand): a group of their own, as group by has it
            firsts.append((none, None))
        return [name for _, name in sorted(firsts)]

    def entries_with_identities(self, ids: Iterable[int]) -> dict[int, tuple[StoredEntry, list[tuple[str, str]]]]:
        """The entries with these ids that exist, each with its identities (kind, value) in the order
        they were written."""
        found: dict[int, tuple[StoredEntry, list[tuple[str, str]]]] = {}
        ids = list(ids)
        for chunk, marks in in_batches(ids):
            for row in self.db.rows(f"{ENTRY_ROWS} where e.id in ({marks})", chunk):
                found[row["id"]] = (_entry(row), [])
            for owner_id, kind, value in self.db.execute(
                    f"select owner_id, kind, value from identities where owner = 'entry' and owner_id in ({marks}) "
                    "order by rowid", chunk):
                if owner_id in found:
                    found[owner_id][1].append((kind, value))
        return found

    def entry_positions(self, ids: Iterable[int]) -> dict[int, tuple[int, int, int]]:
        """Where each entry comes in document order: (its document's first entry id, line, id), the
        order entry_identity_rows gives."""
        found: dict[int, tuple[int, int, int]] = {}
        firsts: dict[str, int] = {}
        ids = list(ids)
        for chunk, marks in in_batches(ids):
            for entry_id, file, line in self.db.execute(
                    f"select e.id, e.file, l.line from library_entries e join library_lines l on l.id = e.id "
                    f"where e.id in ({marks})", chunk):
                if file not in firsts:
                    firsts[file] = self.db.execute("select min(id) from library_entries where file = ?",
                                                   [file]).fetchone()[0]
                found[entry_id] = (firsts[file], line, entry_id)
        return found

    def title_rowids(self, ids: Iterable[int]) -> dict[tuple[int, str], int]:
        """(entry id, normalized title) -> the row number of that title identity: the order of an
        entry's own titles."""
        found: dict[tuple[int, str], int] = {}
        ids = list(ids)
        for chunk, marks in in_batches(ids):
            for owner_id, value, rowid in self.db.execute(
                    f"select owner_id, value, rowid from identities where owner = 'entry' and kind = 'title' "
                    f"and owner_id in ({marks})", chunk):
                found.setdefault((owner_id, value), rowid)
        return found

    def _delete_entries(self, ids: list[int]) -> None:
        for chunk, marks in in_batches(ids):
            self.db.execute(f"delete from identities where owner = 'entry' and owner_id in ({marks})", chunk)
            self.db.execute(f"delete from library_entries where id in ({marks})", chunk)
            self.db.execute(f"delete from library_lines where id in ({marks})", chunk)

    def _insert_entries(self, entries: Iterable[LibraryEntry]) -> None:
        idents: list[tuple[str, str, int]] = []
        lines: list[tuple[int, int]] = []
        for entry in entries:
            cursor = self.db.execute(
                "insert into library_entries (file, kind, title, date, urls, internal_links, text) "
                "values (?, ?, ?, ?, ?, ?, ?)",
                [entry.file, entry.kind, entry.title, entry.date, json.dumps(list(entry.urls)),
                 json.dumps(list(entry.internal_links)), entry.text])
            entry_id = int(cursor.lastrowid or 0)
            lines.append((entry_id, entry.line))
            idents.extend((i.kind, i.value, entry_id) for i in sorted(entry.identities))
        self.db.conn.executemany("insert or replace into library_lines (id, line) values (?, ?)", lines)
        self.db.conn.executemany("insert into identities (kind, value, owner, owner_id) values (?, ?, 'entry', ?)",
                                 idents)

    def _stored_as(self, ids: list[int], entries: list[LibraryEntry]) -> bool:
        """Whether the entries with these ids (one file's) are these entries, field for field and
        identity for identity, in order."""
        if len(ids) != len(entries):
            return False
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(f"select e.id, coalesce(l.line, 0), kind, title, date, urls, internal_links, text "
                               f"from library_entries e left join library_lines l on l.id = e.id "
                               f"where e.id in ({marks}) order by e.id", ids).fetchall()
        held: dict[int, set[tuple[str, str]]] = defaultdict(set)
        for kind, value, owner_id in self.db.execute(
                f"select kind, value, owner_id from identities where owner = 'entry' and owner_id in ({marks})", ids):
            held[owner_id].add((kind, value))
        for row, entry in zip(rows, entries, strict=True):
            if (tuple(row[1:]) != (entry.line, entry.kind, entry.title, entry.date, json.dumps(list(entry.urls)),
                                   json.dumps(list(entry.internal_links)), entry.text)
                    or held[row[0]] != {(i.kind, i.value) for i in entry.identities}):
                return False
        return True

    def entry_identity_rows(self) -> Iterator[tuple[str, str, int]]:
        """(kind, value, entry id) of every library entry's identity, in document order: documents in
        the order they came into the library, entries by line (so a document read again section by
        section, whose new entries have new ids, is ordered as one read from scratch)."""
        yield from self.db.execute(
            "select i.kind, i.value, i.owner_id from identities i join library_entries e on e.id = i.owner_id "
            "left join library_lines l on l.id = e.id "
            "join (select file, min(id) as first from library_entries group by file) f on f.file = e.file "
            "where i.owner = 'entry' order by f.first, coalesce(l.line, 0), e.id, i.rowid")

    def library_version(self) -> tuple[str, int]:
        """(this database's token, the library's generation): changes whenever any library entry does."""
        token, generation = self.db.execute("select token, generation from library_state").fetchone()
        return str(token), int(generation)

    def library_entry(self, entry_id: int) -> StoredEntry | None:
        row = next(self.db.rows(f"{ENTRY_ROWS} where e.id = ?", [entry_id]), None)
        return _entry(row) if row else None

    def library_entries(self) -> Iterator[StoredEntry]:
        for row in self.db.rows(f"{ENTRY_ROWS} order by e.id"):
            yield _entry(row)

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
        # The bot's own appended lines still under review are not the person's picks (bot.library.review).
        for owner_id, kind, day in self.db.execute(
                "select distinct i.owner_id, i.kind, e.date from identities i join library_entries e"
                " on e.id = i.owner_id where i.owner = 'entry' and i.owner_id not in (" + UNDER_REVIEW + ")"):
            kinds[owner_id].add(kind)
            if day:
                dated.add(owner_id)
        return [k for owner_id, k in kinds.items() if owner_id in dated or not dated]

    def library_is_empty(self) -> bool:
        """One indexed lookup, where library_stats scans the whole library."""
        return self.db.execute("select not exists (select 1 from library_entries)").fetchone()[0] == 1

    def library_stats(self) -> LibraryStats:
        q = self.db.execute
        # The entries' counts in one pass over them; the distinct ids of each kind through the (kind,
        # value) index (in value order: no temporary tree), not through the owner index, which holds
        # every identity of every entry (`+owner`: not an index term).
        entries, links, internal, title_only = q(
            "select count(*), coalesce(sum(json_array_length(urls)), 0), "
            "coalesce(sum(json_array_length(internal_links)), 0), coalesce(sum(kind = 'title-only'), 0) "
            "from library_entries").fetchone()

        def ids(kind: str) -> int:
            return int(q("select count(distinct value) from identities where kind = ? and +owner = 'entry'",
                         [kind]).fetchone()[0] or 0)

        return LibraryStats(
            entries=int(entries), links=int(links), internal_links=int(internal),
            arxiv_ids=ids("arxiv"), hn_ids=ids("hn"), dois=ids("doi"), title_only=int(title_only),
            documents=len(self._entry_files()),
        )

    def search_library(self, text: str, limit: int = 20) -> list[LibraryHit]:
        query = self.db.quote_fts(text)
        sql = (
            "select e.id, e.file, coalesce(l.line, 0), e.date, e.title, e.urls, e.text from library_entries e "
            "left join library_lines l on l.id = e.id join library_entries_fts on e.rowid = library_entries_fts.rowid "
            "where library_entries_fts match ? order by library_entries_fts.rank limit ?"
        )
        return [LibraryHit(id=r[0], file=r[1], line=r[2], date=r[3], title=r[4], urls=tuple(json.loads(r[5] or "[]")),
                           text=r[6]) for r in self.db.execute(sql, [query, limit])]


# The library entries that are the bot's own appended lines still under review (bot.store.review).
UNDER_REVIEW = ("select e.owner_id from log_review r join identities it on it.owner = 'item' and it.owner_id = "
                 "r.item_id join identities e on e.owner = 'entry' and e.kind = it.kind and e.value = it.value "
                 "where r.verdict is null and it.kind != 'title'")


def _entry(row: dict[str, Any]) -> StoredEntry:
    return StoredEntry(id=row["id"], file=row["file"], line=row["line"], kind=row["kind"], title=row["title"],
                       date=row["date"], urls=tuple(json.loads(row["urls"] or "[]")),
                       internal_links=tuple(json.loads(row["internal_links"] or "[]")), text=row["text"])
