"""The identities table: every way of naming a library entry or a stored item (arXiv id, HN id, DOI,
canonical URL, normalized title), which dedupe matches against."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Literal

from bot.core.identity import Identity
from bot.store.base import StoreBase

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
