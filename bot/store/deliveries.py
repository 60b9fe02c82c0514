"""Delivery records of the store: digests and their deliveries (the exactly-once ledger). A mixin of
Store (bot.store.database), typed against the little of the store it uses (`LedgerBase`): its
connection's `execute`, `transaction()` and `now()`. Plain SQL, no SDK."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, cast

from bot.core.errors import StoreError
from bot.core.ledger import DELIVERY_STATUSES, UNFINISHED, WAITING, Delivery, DeliveryStatus, Detail, Digest
from bot.core.redact import redact


class Rows(Protocol):
    """A cursor, as sqlite3 returns it."""

    @property
    def lastrowid(self) -> int | None: ...

    @property
    def description(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    def execute(self, sql: str, parameters: Sequence[Any]) -> Rows: ...


class LedgerBase(Protocol):
    """What the mixin needs of the Store it is mixed into."""

    @property
    def db(self) -> Connection: ...

    def now(self) -> str: ...

    def transaction(self) -> AbstractContextManager[Any]: ...


class _Keep:
    """An update_delivery argument left out: the column keeps its value."""


KEEP: Any = _Keep()
_DELIVERY_COLUMNS = "digest_id, target, status, attempts, error, detail, updated, not_before, next_retry"
_DIGEST_COLUMNS = "id, date, since, until, created, item_ids, item_count, stats, bodies"


def _delivery(row: Sequence[Any]) -> Delivery:
    digest_id, target, status, attempts, error, detail, updated, not_before, next_retry = row
    if status not in DELIVERY_STATUSES:  # written by no version of the bot: someone edited the database
        raise StoreError(f"The delivery of digest {digest_id} to {target} has the status {status!r}, which no "
                         f"version of the bot writes; set it to one of {', '.join(DELIVERY_STATUSES)}")
    return Delivery(digest_id=int(digest_id), target=str(target), status=cast(DeliveryStatus, status),
                    # masked again as it is read for printing (a row stored by an older version is raw)
                    attempts=int(attempts or 0), error=redact(error) if error else error,
                    detail=json.loads(detail) if detail else {},
                    updated=updated, not_before=not_before, next_retry=next_retry)


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


class DeliveryRecords:
    def install_id(self: LedgerBase) -> str:
        """This database's random id (made when it was created), in the marks of its Slack messages."""
        row = self.db.execute("select value from install where key = 'install_id'", []).fetchone()
        return str(row[0])

    # -- digests ----------------------------------------------------------------------------------
    def record_digest(self: LedgerBase, record: dict[str, Any], targets: Iterable[str], item_ids: Iterable[int],
                      repeats: Iterable[int] = ()) -> int:
        """The digest, its rendered bodies, its pending deliveries and its items marked digested: one
        transaction, so a crash leaves either all of it or none."""
        ids = list(item_ids)
        with self.transaction():
            cursor = self.db.execute(
                "insert into digests (date, since, until, created, item_ids, item_count, stats, bodies) "
                "values (?, ?, ?, ?, ?, ?, ?, ?)",
                [record["date"], record.get("since"), record.get("until"), record["created"], json.dumps(ids),
                 len(ids), json.dumps(record.get("stats", {})), json.dumps(record.get("bodies", {}))])
            digest_id = cursor.lastrowid
            assert isinstance(digest_id, int)
            for target in targets:
                self.db.execute("insert into deliveries (digest_id, target, status, attempts, error, detail, updated) "
                                "values (?, ?, 'pending', 0, null, '{}', ?)", [digest_id, target, self.now()])
            if ids:
                self.db.execute(f"update items set digest_id = ? where id in ({_marks(ids)})", [digest_id, *ids])
            covered = list(repeats)
            if covered:  # the same news as a shown item: never shown later on its own
                self.db.execute(f"update items set digest_id = ?, status = 'repeat' where id in ({_marks(covered)})",
                                [digest_id, *covered])
        return digest_id

    def digest(self: LedgerBase, digest_id: int) -> Digest | None:
        row = self.db.execute(f"select {_DIGEST_COLUMNS} from digests where id = ?", [digest_id]).fetchone()
        return None if row is None else _digest(self, row, with_bodies=True)

    def digests(self: LedgerBase, limit: int = 5) -> list[Digest]:
        """The latest digests, newest first, without their bodies."""
        rows = list(self.db.execute(f"select {_DIGEST_COLUMNS} from digests order by id desc limit ?", [limit]))
        return [_digest(self, row, with_bodies=False) for row in rows]

    def deliveries(self: LedgerBase, digest_id: int) -> list[Delivery]:
        return [_delivery(row) for row in self.db.execute(
            f"select {_DELIVERY_COLUMNS} from deliveries where digest_id = ? order by rowid", [digest_id])]

    def unfinished_deliveries(self: LedgerBase) -> list[Delivery]:
        return DeliveryRecords.deliveries_in(self, *UNFINISHED)

    def deliveries_in(self: LedgerBase, *statuses: DeliveryStatus) -> list[Delivery]:
        """Every digest's deliveries in one of these states, oldest digest first."""
        return [_delivery(row) for row in self.db.execute(
            f"select {_DELIVERY_COLUMNS} from deliveries where status in ({_marks(statuses)}) "
            "order by digest_id, rowid", list(statuses))]

    def count_waiting_deliveries(self: LedgerBase) -> int:
        """Deliveries not done: pending, failed, or with an outcome still to settle."""
        return int(self.db.execute(f"select count(*) from deliveries where status in ({_marks(WAITING)})",
                                   list(WAITING)).fetchone()[0])

    def not_before(self: LedgerBase, target: str) -> str | None:
        """The latest time this target's receiver asked (Slack's 429 Retry-After) not to be sent anything before."""
        row = self.db.execute("select max(not_before) from deliveries where target = ?", [target]).fetchone()
        return str(row[0]) if row and row[0] else None

    def last_digest_created(self: LedgerBase) -> str | None:
        row = self.db.execute("select max(created) from digests", []).fetchone()
        return str(row[0]) if row and row[0] else None

    def update_delivery(self: LedgerBase, digest_id: int, target: str, *, status: DeliveryStatus = KEEP,
                        detail: Detail = KEEP, error: str | None = KEEP, attempts: int = KEEP,
                        not_before: str | None = KEEP, next_retry: str | None = KEEP) -> None:
        """Sets the given columns of one delivery (the others keep their values) and its `updated` time."""
        if isinstance(error, str):  # a receiver's error may echo a token or a webhook path: never stored
            error = redact(error)
        given = {"status": status, "detail": detail, "error": error, "attempts": attempts, "not_before": not_before,
                 "next_retry": next_retry}
        fields = {k: (json.dumps(v) if k == "detail" else v) for k, v in given.items() if v is not KEEP}
        fields["updated"] = self.now()
        assigned = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction():
            self.db.execute(f"update deliveries set {assigned} where digest_id = ? and target = ?",
                            [*fields.values(), digest_id, target])


def _digest(store: LedgerBase, row: Sequence[Any], with_bodies: bool) -> Digest:
    digest_id, date, since, until, created, item_ids, item_count, stats, bodies = row
    return Digest(id=int(digest_id), date=str(date), since=since, until=until, created=str(created or ""),
                  item_ids=tuple(json.loads(item_ids) if item_ids else ()), item_count=int(item_count or 0),
                  stats=json.loads(stats) if stats else {},
                  bodies=(json.loads(bodies) if bodies else {}) if with_bodies else {},
                  deliveries=tuple(DeliveryRecords.deliveries(store, digest_id)))
