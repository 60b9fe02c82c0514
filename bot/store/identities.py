"""The identities table: every way of naming a library entry or a stored item (arXiv id, HN id, DOI,
canonical URL, normalized title), which dedupe matches against."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal

from bot.core.identity import Identity
from bot.store.base import StoreBase, in_batches

Owner = Literal["entry", "item"]


class IdentityRecords(StoreBase):
    def add_identities(self, owner: Owner, owner_id: int, identities: Iterable[Identity]) -> None:
        self.db.table("identities").insert_all(
            ({"kind": i.kind, "value": i.value, "owner": owner, "owner_id": owner_id} for i in identities),
            batch_size=500,
        )

    def identity_rows(self, owner: Owner | None = None) -> Iterator[tuple[str, str, str, int]]:
        """(kind, value, owner, owner id) of every identity, or of one owner's ("entry" or "item")."""
        sql = "select kind, value, owner, owner_id from identities"
        args: list[Any] = []
        if owner:
            sql += " where owner = ?"
            args.append(owner)
        yield from self.db.execute(sql, args)

    def first_item_owners(self, kind: str, values: Sequence[str]) -> dict[str, int]:
        """Of these values of one kind (any kind but a title), those a stored item holds, each with the
        first item holding it (the lowest id: the owner an index of every item added in stored order
        names). Looked up by the (kind, value) index in batches, so a poll's lookups cost what it brought,
        not what was stored before it."""
        found: dict[str, int] = {}
        unique = list(dict.fromkeys(values))
        for chunk, marks in in_batches(unique, 500):
            for value, owner_id in self.db.execute(
                    f"select value, min(owner_id) from identities where kind = ? and value in ({marks}) "
                    "and owner = 'item' group by value", [kind, *chunk]):
                found[str(value)] = int(owner_id)
        return found

    def item_titles(self) -> Iterator[tuple[int, str]]:
        """(item id, normalized title) of every stored item's title, in the order an index of every item
        adds them: by item, each item's in the order they were written."""
        yield from self.db.execute("select owner_id, value from identities where kind = 'title' and owner = 'item' "
                                   "order by owner_id, rowid")

    def item_identities(self, item_id: int) -> set[Identity]:
        """Every identity of one stored item."""
        return {Identity(kind, value) for kind, value in self.db.execute(
            "select kind, value from identities where owner = 'item' and owner_id = ?", [item_id])}

    def identity_owners(self, identities: Iterable[Identity]) -> list[tuple[Identity, Owner, int]]:
        """Who else holds any of these identities, exactly (library entries and stored items), in a
        stable order: what `bot explain` shows as an item's matches and how an ID or URL finds its item."""
        wanted = sorted(set(identities))
        found: list[tuple[Identity, Owner, int]] = []
        for ident in wanted:
            for owner, owner_id in self.db.execute(
                    "select owner, owner_id from identities where kind = ? and value = ? order by owner, owner_id",
                    [ident.kind, ident.value]):
                found.append((ident, owner, int(owner_id)))
        return found
