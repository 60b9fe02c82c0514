"""HN thread lookups: when each item's HN discussion was last looked for, and what was found."""

from __future__ import annotations

from bot.core.records import HnLookup
from bot.store.base import StoreBase


class HnLookupRecords(StoreBase):
    def hn_lookup(self, item_id: int) -> HnLookup | None:
        row = self.db.execute("select item_id, checked, hn_id from hn_lookups where item_id = ?", [item_id]).fetchone()
        return None if row is None else HnLookup(int(row[0]), str(row[1]), None if row[2] is None else int(row[2]))

    def record_hn_lookup(self, item_id: int, checked: str, hn_id: int | None) -> None:
        with self.transaction():
            self.db.execute("insert into hn_lookups (item_id, checked, hn_id) values (?, ?, ?) on conflict (item_id) "
                            "do update set checked = excluded.checked, hn_id = excluded.hn_id",
                            [item_id, checked, hn_id])
