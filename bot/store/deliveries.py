"""Delivery records of the store: digests and their deliveries, the LLM summary cache, HN thread
lookups. A mixin of Store (bot.store.database), working through its connection; it imports no SDK itself."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


class DeliveryRecords:
    db: Any

    def now(self) -> str:
        raise NotImplementedError

    def transaction(self) -> Any:
        raise NotImplementedError

    def install_id(self) -> str:
        """This database's random id (made when it was created), in the marks of its Slack messages."""
        row = self.db.execute("select value from install where key = 'install_id'").fetchone()
        return str(row[0])

    # -- digests ----------------------------------------------------------------------------------
    def record_digest(self, record: dict[str, Any], targets: Iterable[str], item_ids: Iterable[int],
                      repeats: Iterable[int] = ()) -> int:
        """The digest, its rendered bodies, its pending deliveries and its items marked digested: one
        transaction, so a crash leaves either all of it or none."""
        ids = list(item_ids)
        with self.transaction():
            digest_id = self.db.table("digests").insert(
                {**record, "item_ids": json.dumps(ids), "item_count": len(ids),
                 "stats": json.dumps(record.get("stats", {})), "bodies": json.dumps(record.get("bodies", {}))}
            ).last_pk
            assert isinstance(digest_id, int)
            for target in targets:
                self.db.table("deliveries").insert(
                    {"digest_id": digest_id, "target": target, "status": "pending", "attempts": 0, "error": None,
                     "detail": "{}", "updated": self.now()})
            if ids:
                marks = ",".join("?" * len(ids))
                self.db.execute(f"update items set digest_id = ? where id in ({marks})", [digest_id, *ids])
            covered = list(repeats)
            if covered:  # the same news as a shown item: never shown later on its own
                marks = ",".join("?" * len(covered))
                self.db.execute(f"update items set digest_id = ?, status = 'repeat' where id in ({marks})",
                                [digest_id, *covered])
        return digest_id

    def digest(self, digest_id: int) -> dict[str, Any] | None:
        row = next(self.db.table("digests").rows_where("id = ?", [digest_id]), None)
        if row is None:
            return None
        for key in ("item_ids", "stats", "bodies"):
            row[key] = json.loads(row[key]) if row.get(key) else {}
        row["deliveries"] = self.deliveries(digest_id)
        return row

    def digests(self, limit: int = 5) -> list[dict[str, Any]]:
        ids = [r[0] for r in self.db.execute("select id from digests order by id desc limit ?", [limit])]
        found = [self.digest(i) for i in ids]
        out = []
        for d in found:
            if d is not None:
                d.pop("bodies", None)
                out.append(d)
        return out

    def deliveries(self, digest_id: int) -> list[dict[str, Any]]:
        rows = []
        for row in self.db.table("deliveries").rows_where("digest_id = ?", [digest_id], order_by="rowid"):
            row["detail"] = json.loads(row["detail"]) if row.get("detail") else {}
            rows.append(row)
        return rows

    def unfinished_deliveries(self) -> list[dict[str, Any]]:
        return self.deliveries_in("pending", "failed")

    def deliveries_in(self, *statuses: str) -> list[dict[str, Any]]:
        """Every digest's deliveries in one of these states, oldest digest first."""
        rows = []
        marks = ",".join("?" * len(statuses))
        for row in self.db.table("deliveries").rows_where(f"status in ({marks})", list(statuses),
                                                          order_by="digest_id, rowid"):
            row["detail"] = json.loads(row["detail"]) if row.get("detail") else {}
            rows.append(row)
        return rows

    def count_waiting_deliveries(self) -> int:
        """Deliveries not done: pending, failed, or with an outcome still to settle."""
        return int(self.db.execute("select count(*) from deliveries where status in "
                                   "('pending', 'failed', 'sending', 'uncertain')").fetchone()[0])

    def slack_not_before(self) -> str | None:
        """The latest time Slack asked (429 Retry-After) not to be sent anything before."""
        row = self.db.execute("select max(not_before) from deliveries where target = 'slack'").fetchone()
        return str(row[0]) if row and row[0] else None

    def last_digest_created(self) -> str | None:
        row = self.db.execute("select max(created) from digests").fetchone()
        return str(row[0]) if row and row[0] else None

    def update_delivery(self, digest_id: int, target: str, **fields: Any) -> None:
        if "detail" in fields and not isinstance(fields["detail"], str):
            fields["detail"] = json.dumps(fields["detail"])
        fields["updated"] = self.now()
        with self.transaction():
            self.db.table("deliveries").update((digest_id, target), fields)

    # -- HN thread lookups -------------------------------------------------------------------------
    def hn_lookup(self, item_id: int) -> dict[str, Any] | None:
        return next(self.db.table("hn_lookups").rows_where("item_id = ?", [item_id]), None)

    def record_hn_lookup(self, item_id: int, checked: str, hn_id: int | None) -> None:
        with self.transaction():
            self.db.table("hn_lookups").upsert({"item_id": item_id, "checked": checked, "hn_id": hn_id},
                                               pk="item_id")

    # -- summary cache ------------------------------------------------------------------------------
    def cached_summaries(self, keys: list[str], model: str, prompt_version: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.table("summaries").rows_where(
                    f"model = ? and prompt_version = ? and key in ({marks})", [model, prompt_version, *chunk]):
                found[row["key"]] = row
        return found

    def cache_summary(self, key: str, model: str, prompt_version: str, status: str, text: str | None,
                      prompt_tokens: int, completion_tokens: int, reason: str | None) -> None:
        with self.transaction():
            self.db.table("summaries").upsert(
                {"key": key, "model": model, "prompt_version": prompt_version, "status": status, "text": text,
                 "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "reason": reason,
                 "created": self.now()}, pk=("key", "model", "prompt_version"))

    def token_usage(self) -> dict[str, int]:
        # Failed requests are cached too (for a few minutes, bot.digest.llm), but they are no summaries.
        row = self.db.execute("select coalesce(sum(status != 'error'), 0), coalesce(sum(prompt_tokens), 0),"
                              " coalesce(sum(completion_tokens), 0), coalesce(sum(status = 'rejected'), 0),"
                              " coalesce(sum(status = 'error'), 0) from summaries").fetchone()
        return {"summaries": row[0], "prompt_tokens": row[1], "completion_tokens": row[2], "rejected": row[3],
                "failed": row[4]}
