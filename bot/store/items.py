"""The items table: what the sources brought, scored, and whether a digest carried it. Callers ask
named questions (the undigested relevant items of a window, how many are pending) and get frozen
records back; no SQL leaves this module."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, cast

from bot.core.identity import Identity
from bot.core.records import Discussion, ItemStatus, ItemUpdate, NewItem, RankInput, StoredItem, hn_discussion
from bot.store.identities import IdentityRecords

_JSON_FIELDS = ("sources", "topics", "categories", "explain")
# An item's time in a digest's window: published, else when first seen.
_WHEN = "coalesce(published, first_seen)"


class ItemRecords(IdentityRecords):
    # -- writes --------------------------------------------------------------------------------
    def insert_items(self, batch: Sequence[NewItem]) -> list[int]:
        """Many new items in two statements' worth of work; ids are assigned here, in order."""
        if not batch:
            return []
        with self.transaction():
            start = int(self.db.execute("select coalesce(max(id), 0) from items").fetchone()[0]) + 1
            ids = list(range(start, start + len(batch)))
            # Each item's values in the order of _NEW_COLUMNS, the same as _new_row's (tests/test_exact_rewrites.py
            # holds them to it): a poll's 5,000 papers went through a dictionary per row and a JSON
            # encoding per list, most of them the same few lists.
            encoded: dict[object, str] = {}
            self._insert_values("items", _NEW_COLUMNS,
                                [_new_values(item_id, item, encoded) for item_id, item in zip(ids, batch, strict=True)])
            self._insert_values("identities", ("kind", "value", "owner", "owner_id"),
                                [(i.kind, i.value, "item", item_id)
                                 for item_id, item in zip(ids, batch, strict=True) for i in item.identities])
        return ids

    def _insert_rows(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """Rows of one shape in one executemany: a poll's thousands of items without sqlite-utils'
        per-value type inspection, which cost more than the insert itself."""
        if not rows:
            return
        columns = list(rows[0])
        if any(row.keys() != rows[0].keys() for row in rows):
            raise ValueError(f"rows for {table} differ in their columns")
        self._insert_values(table, columns, [[row[c] for c in columns] for row in rows])

    def _insert_values(self, table: str, columns: Sequence[str], values: Sequence[Sequence[Any]]) -> None:
        if not values:
            return
        names = ", ".join(f"[{c}]" for c in columns)
        self.db.conn.executemany(f"insert into [{table}] ({names}) values ({', '.join('?' * len(columns))})", values)

    def update_item(self, item_id: int, fields: ItemUpdate, identities: Iterable[Identity] = ()) -> None:
        """Sets the given fields of one item (by StoredItem's names: `discussion` is a Discussion) and adds
        the identities it does not have yet."""
        if fields:
            self.db.table("items").update(item_id, _encode(dict(fields)))
        have = self.item_identities(item_id)
        self.add_identities("item", item_id, [i for i in identities if i not in have])

    def mark_items(self, ids: Iterable[int], status: ItemStatus, only_from: ItemStatus | None = None) -> list[int]:
        """The person's word on items no digest has carried ("skipped" by `bot skip`, "picked" by `bot
        add`): they leave the pending items for good (or, `only_from` "skipped", come back). Returns the
        ids it changed (a digested item keeps its place in history and is left alone)."""
        wanted = list(dict.fromkeys(ids))
        changed: list[int] = []
        only = " and status = ?" if only_from else ""
        with self.transaction():
            for item_id in wanted:
                cursor = self.db.execute("update items set status = ?, updated = ? where id = ? and digest_id is null "
                                         f"and status != ?{only}",
                                         [status, self.now(), item_id, status, *([only_from] if only_from else [])])
                if cursor.rowcount:
                    changed.append(item_id)
        return changed

    # -- one item, all items -------------------------------------------------------------------
    def item(self, item_id: int) -> StoredItem | None:
        row = next(self.db.rows("select * from items where id = ?", [item_id]), None)
        return _item(row) if row else None

    def items_by_id(self, ids: Iterable[int]) -> dict[int, StoredItem]:
        wanted = list(dict.fromkeys(ids))
        found: dict[int, StoredItem] = {}
        for i in range(0, len(wanted), 500):  # SQLite's limit on parameters is no limit on the ids
            chunk = wanted[i:i + 500]
            for row in self.db.rows(f"select * from items where id in ({','.join('?' * len(chunk))})", chunk):
                found[row["id"]] = _item(row)
        return found

    def all_items(self) -> list[StoredItem]:
        """Every stored item, in the order they were stored."""
        return [_item(row) for row in self.db.rows("select * from items order by id")]

    def recent_item_texts(self, n: int) -> list[tuple[str, str | None]]:
        """(title, summary) of the `n` items stored last, newest first."""
        return [(str(title), summary) for title, summary in
                self.db.execute("select title, summary from items order by id desc limit ?", [n])]

    # -- a digest's window: undigested items with published (else first seen) in [since, until) ----
    def offered_counts(self, since: str | None, until: str | None) -> dict[tuple[bool, bool], int]:
        """How many undigested items of the window there are, whatever their status, by (has an HN
        id, has an arXiv id): what the stream offered of each kind."""
        where, args = _window(since, until)
        return {(bool(hn), bool(arxiv)): int(n) for hn, arxiv, n in self.db.execute(
            f"select hn_id is not null, arxiv_id is not null, count(*) from items where {where} group by 1, 2",
            args)}

    def relevant_candidates(self, since: str | None, until: str | None) -> list[RankInput]:
        """The undigested relevant items of the window, as ranking needs them."""
        where, args = _window(since, until)
        return [RankInput(*row) for row in self.db.execute(
            f"select id, score, hn_id, arxiv_id from items where status = 'relevant' and {where}", args)]

    def top_unthreaded_papers(self, since: str | None, until: str | None, limit: int) -> list[StoredItem]:
        """The highest-scored undigested relevant papers of the window without an HN thread yet."""
        where, args = _window(since, until)
        return [_item(row) for row in self.db.rows(
            f"select * from items where status = 'relevant' and hn_id is null and arxiv_id is not null and {where}"
            " order by score desc, id limit ?", [*args, int(limit)])]

    # -- counts ----------------------------------------------------------------------------------
    def count_items(self) -> int:
        return self._count("1")

    def count_pending(self, since: str | None = None) -> int:
        """Relevant items no digest has carried yet (with `since`: only those of the window from then)."""
        where, args = _window(since, None)
        return int(self.db.execute(f"select count(*) from items where status = 'relevant' and {where}",
                                   args).fetchone()[0])

    def count_off_topic(self, undigested: bool = False, since: str | None = None, until: str | None = None) -> int:
        """Items scored below the relevance threshold (only those no digest has seen, if undigested; only
        the undigested ones of the window [since, until), if either is given)."""
        if since or until:
            where, args = _window(since, until)
            return int(self.db.execute(f"select count(*) from items where status = 'off_topic' and {where}",
                                       args).fetchone()[0])
        return self._count("status = 'off_topic'" + (" and digest_id is null" if undigested else ""))

    def count_digested(self) -> int:
        """Items a digest carried (or left out as a repeat of one it carried)."""
        return self._count("digest_id is not null")

    def counts_by_source(self) -> dict[str, dict[str, int]]:
        """Per feed name (an item merged from several feeds counts for each): items stored, pending
        (relevant, undigested), off-topic, and digested."""
        counts: dict[str, dict[str, int]] = {}
        for name, stored, pending, off_topic, digested in self.db.execute(
                "select j.value, count(*), sum(status = 'relevant' and digest_id is null), sum(status = 'off_topic'), "
                "sum(digest_id is not null) from items, json_each(items.sources) as j group by j.value"):
            counts[str(name)] = {"stored": int(stored), "pending": int(pending or 0),
                                 "off_topic": int(off_topic or 0), "digested": int(digested or 0)}
        return counts

    def _count(self, where: str) -> int:
        return int(self.db.execute(f"select count(*) from items where {where}").fetchone()[0])


def _window(since: str | None, until: str | None) -> tuple[str, list[Any]]:
    """The undigested items of the window [since, until) (either end open when None)."""
    where = ["digest_id is null"]
    args: list[Any] = []
    if since:
        where.append(f"{_WHEN} >= ?")
        args.append(since)
    if until:
        where.append(f"{_WHEN} < ?")
        args.append(until)
    return " and ".join(where), args


def _new_row(item: NewItem) -> dict[str, Any]:
    """The items row of a new item: its own fields (not its identities; they go in their table),
    first seen being its last update too, in no digest yet."""
    return _encode({"title": item.title, "url": item.url, "discussion": item.discussion,
                    "arxiv_id": item.arxiv_id, "doi": item.doi, "published": item.published,
                    "first_seen": item.first_seen, "updated": item.first_seen, "sources": item.sources,
                    "topics": item.topics, "score": item.score, "relevance": item.relevance, "status": item.status,
                    "summary": item.summary, "categories": item.categories, "points": item.points,
                    "comments": item.comments, "explain": dict(item.explain), "digest_id": None})


_NEW_COLUMNS = ("id", "title", "url", "hn_id", "hn_url", "arxiv_id", "doi", "published", "first_seen", "updated",
                "sources", "topics", "score", "relevance", "status", "summary", "categories", "points", "comments",
                "explain", "digest_id")


def _new_values(item_id: int, item: NewItem, encoded: dict[object, str]) -> tuple[Any, ...]:
    """The items row of a new item as _new_row makes it (plus its id), in the order of _NEW_COLUMNS.
    `encoded` remembers the JSON of the lists seen so far: the items of a feed share their source and
    their categories, and topics come in few combinations."""
    thread = _discussion_columns(item.discussion)
    return (item_id, item.title, item.url, thread["hn_id"], thread["hn_url"], item.arxiv_id, item.doi, item.published,
            item.first_seen, item.first_seen, _json_list(item.sources, encoded), _json_list(item.topics, encoded),
            item.score, item.relevance, item.status, item.summary, _json_list(item.categories, encoded), item.points,
            item.comments, json.dumps(dict(item.explain)), None)


def _json_list(value: Any, encoded: dict[object, str]) -> Any:
    """A list field as _encode stores it (text and None as they are), remembered by value."""
    if isinstance(value, str) or value is None:
        return value
    if type(value) is not tuple or not all(type(v) is str for v in value):  # (1,) == (True,): by value only text
        return json.dumps(list(value) if isinstance(value, tuple) else value)
    text = encoded.get(value)
    if text is None:
        text = encoded[value] = json.dumps(list(value))
    return text


def _encode(record: dict[str, Any]) -> dict[str, Any]:
    """Fields as the items table holds them: lists and mappings as JSON, the discussion as its columns."""
    encoded: dict[str, Any] = {}
    for k, v in record.items():
        if k == "discussion":
            encoded.update(_discussion_columns(v))
        elif k in _JSON_FIELDS and not isinstance(v, str) and v is not None:
            encoded[k] = json.dumps(list(v) if isinstance(v, tuple) else v)
        else:
            encoded[k] = v
    return encoded


def _discussion_columns(discussion: Discussion | None) -> dict[str, Any]:
    """An item's discussion in the columns the items table has always had: hn_id and hn_url."""
    if discussion is None:
        return {"hn_id": None, "hn_url": None}
    if discussion.site != "hn":  # no source makes one yet; the one that does adds its columns
        raise ValueError(f"The items table keeps HN discussions only (columns hn_id and hn_url), not a "
                         f"{discussion.label} thread")
    return {"hn_id": discussion.hn_id, "hn_url": discussion.hn_url}


def _item(row: dict[str, Any]) -> StoredItem:
    def listed(key: str) -> tuple[str, ...]:
        return tuple(json.loads(row[key])) if row[key] else ()

    return StoredItem(
        id=row["id"], title=row["title"], url=row["url"], discussion=hn_discussion(row["hn_id"], row["hn_url"]),
        arxiv_id=row["arxiv_id"], doi=row["doi"], published=row["published"], first_seen=row["first_seen"],
        updated=row["updated"], sources=listed("sources"), topics=listed("topics"), score=row["score"],
        relevance=row["relevance"], status=cast(ItemStatus, row["status"]), summary=row["summary"],
        categories=listed("categories"), points=row["points"], comments=row["comments"],
        explain=json.loads(row["explain"]) if row["explain"] else {}, digest_id=row["digest_id"],
    )
