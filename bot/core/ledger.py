"""The delivery ledger's records: a recorded digest and its deliveries, one per target (spec section 8).

A delivery's status moves pending -> sending -> done; "failed" waits for a retry, and "uncertain" (a
send whose fate is unknown) waits for a person or for the target to settle it by looking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

DeliveryStatus = Literal["pending", "sending", "done", "failed", "uncertain"]
DELIVERY_STATUSES: tuple[DeliveryStatus, ...] = get_args(DeliveryStatus)
UNFINISHED: tuple[DeliveryStatus, ...] = ("pending", "failed")  # what a later run delivers
UNSETTLED: tuple[DeliveryStatus, ...] = ("sending", "uncertain")  # sent or not: nobody knows yet
WAITING: tuple[DeliveryStatus, ...] = (*UNFINISHED, *UNSETTLED)  # everything not done

Detail = dict[str, Any]  # what a target remembers of its delivery (Slack: messages sent, the thread ts)


@dataclass(frozen=True)
class DigestOptions:
    """What a `bot digest` run was asked for; targets read slack, log and commit to say whether they go."""

    dry_run: bool = False
    since: str | None = None
    until: str | None = None
    limit: int | None = None
    slack: bool = True
    log: bool = True
    commit: bool = False
    resend_uncertain: bool = False
    new: bool = False  # make a new digest even when this run retried an earlier one (the scheduler does)
    mark_only: bool = False  # record the digest and mark its items digested with no delivery at all


@dataclass(frozen=True)
class Delivery:
    """One digest's delivery to one target, by the target's ledger name ("slack", "log", "commit", ...)."""

    digest_id: int
    target: str
    status: DeliveryStatus
    attempts: int = 0
    error: str | None = None
    detail: Detail = field(default_factory=dict)
    updated: str | None = None
    not_before: str | None = None  # the receiver asked for nothing before this (Slack's 429 Retry-After)
    next_retry: str | None = None  # when `bot run` tries a failed delivery again (backoff)

    @property
    def done(self) -> bool:
        return self.status == "done"

    def as_json(self) -> dict[str, Any]:
        return {"digest_id": self.digest_id, "target": self.target, "status": self.status,
                "attempts": self.attempts, "error": self.error, "detail": dict(self.detail),
                "updated": self.updated, "not_before": self.not_before, "next_retry": self.next_retry}


@dataclass(frozen=True)
class Digest:
    """A recorded digest: its items, its rendered bodies (one per target, by body name) and its deliveries."""

    id: int
    date: str
    since: str | None
    until: str | None
    created: str
    item_ids: tuple[int, ...]
    item_count: int
    stats: dict[str, Any]
    bodies: dict[str, Any]
    deliveries: tuple[Delivery, ...] = ()

    def delivery(self, target: str) -> Delivery | None:
        return next((d for d in self.deliveries if d.target == target), None)

    def as_json(self) -> dict[str, Any]:
        """What `bot status --json` shows of a digest: everything but the bodies."""
        return {"id": self.id, "date": self.date, "since": self.since, "until": self.until, "created": self.created,
                "item_ids": list(self.item_ids), "item_count": self.item_count, "stats": self.stats,
                "deliveries": [d.as_json() for d in self.deliveries]}
