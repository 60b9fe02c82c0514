"""The sources table: what each source's last poll came to, and what it remembers for the next one
(validators, cursor, Retry-After, a 410 or a move)."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any, cast

from bot.core.records import SourceResult, SourceState
from bot.store.base import StoreBase

_COLUMNS = tuple(f.name for f in fields(SourceState))


class SourceRecords(StoreBase):
    def source_state(self, name: str) -> SourceState:
        """The source's state; a source never polled has its name only."""
        row = next(self.db.rows("select * from sources where name = ?", [name]), None)
        return _state(row) if row else SourceState(name)

    def source_states(self) -> list[SourceState]:
        """Every source ever polled, by name (also those since removed from the configuration)."""
        return [_state(row) for row in self.db.rows("select * from sources order by name")]

    def forget_source(self, name: str) -> bool:
        """Drops what the store remembers of one source (validators, cursor, last result); its items stay
        known. False when there was nothing to forget."""
        with self.transaction():
            return bool(self.db.execute("delete from sources where name = ?", [name]).rowcount)

    def save_source_state(self, name: str, **fields: Any) -> None:
        unknown = fields.keys() - set(_COLUMNS)
        if unknown:
            raise ValueError(f"a source's state has no {', '.join(sorted(unknown))}")
        if "stats" in fields and not isinstance(fields["stats"], str):
            fields["stats"] = json.dumps(fields["stats"])
        # Plain SQL: a poll saves one row per feed, and sqlite-utils' upsert costs far more than the write.
        columns = ["name", *fields]
        names = ", ".join(f"[{c}]" for c in columns)
        updates = ", ".join(f"[{c}] = excluded.[{c}]" for c in fields) or "name = excluded.name"
        self.db.execute(f"insert into sources ({names}) values ({', '.join('?' * len(columns))}) "
                        f"on conflict(name) do update set {updates}", [name, *fields.values()])


def _state(row: dict[str, Any]) -> SourceState:
    values = {k: row.get(k) for k in _COLUMNS}
    return SourceState(**{**values, "result": cast(SourceResult | None, values["result"]),
                          "stats": json.loads(row["stats"]) if row.get("stats") else {}})
