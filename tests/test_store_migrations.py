"""A database made by the oldest schema is brought forward in place, its rows kept."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import sqlite_utils

from bot.library.api import check
from bot.store.database import Store
from bot.store.schema import MIGRATIONS


def test_a_database_from_the_oldest_schema_migrates_and_keeps_its_library(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    version, name, first = min(MIGRATIONS, key=lambda m: m[0])
    db = sqlite_utils.Database(path)
    db.table("_migrations").create({"version": int, "name": str, "applied": str}, pk="version")
    first(db)  # the schema as the first release made it
    db.table("_migrations").insert({"version": version, "name": name, "applied": "2026-10-01T00:00:00+00:00"})
    db.table("library_entries").insert({"id": 1, "file": "log.md", "line": 3, "kind": "link", "title": "QLoRA",
                                        "date": "2023-05-24", "urls": json.dumps(["https://arxiv.org/abs/2305.14314"]),
                                        "internal_links": "[]", "text": "* [QLoRA](https://arxiv.org/abs/2305.14314)"})
    db.table("identities").insert({"kind": "arxiv", "value": "2305.14314", "owner": "entry", "owner_id": 1})
    db.conn.close()

    store = Store.open(path)
    try:
        applied = {row[0] for row in store.db.execute("select version from _migrations")}
        assert applied == {v for v, _, _ in MIGRATIONS}
        assert store.library_stats().entries == 1
        (result,) = check(store, ["https://arxiv.org/pdf/2305.14314v2.pdf"])
        assert result.known and result.rule == "arxiv"
        assert Store.open(path).migrate() == []  # opening again changes nothing
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
