"""The delivery target interface: what a target registers (DeliveryTarget, see bot.delivery.registry)
and what the exactly-once ledger (bot.digest.pipeline) hands it for one delivery (Send). Here, below
both, so that the ledger knows targets only through this interface and a target may render through the
digest's templates."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from bot.core.config import Config
from bot.core.ledger import DeliveryStatus, Detail, DigestOptions

Settled = Literal["sent", "missing", "unknown"]


@dataclass(frozen=True)
class Send:
    """One delivery of one recorded digest to one target, as the ledger hands it over."""

    config: Config
    digest_id: int
    date: str
    item_count: int
    body: Any  # what the target rendered for this digest (None: nothing recorded under its body name)
    detail: Mapping[str, Any]  # what earlier attempts recorded
    install_id: str  # this database's random id, for marks that no other install's messages carry
    record: Callable[[DeliveryStatus, Detail], None]  # progress, written at once
    hook: Callable[[str], None]  # crash tests stop the process at a named step
    read_into_library: Callable[[Path], None]  # a document the target wrote is library knowledge from now on


Render = Callable[[date, Sequence[Any], str], Any]  # (day, items: the digest's DigestItems, footer) -> body
Deliver = Callable[[Send], Detail | None]
Settle = Callable[[Send], tuple[Settled, Detail]]  # the outcome, and the detail to keep (resume from)
Enabled = Callable[[Config, DigestOptions], bool]


def always(_config: Config, _options: DigestOptions) -> bool:
    return True


def cannot_tell(send: Send) -> tuple[Settled, Detail]:
    return "unknown", dict(send.detail)


@dataclass(frozen=True)
class DeliveryTarget:
    """What a delivery target registers (each field is described in bot.delivery.registry)."""

    name: str
    deliver: Deliver
    render: Render | None = None  # None: the target needs no body of its own
    enabled: Enabled = always
    settle: Settle = cannot_tell
    ledger: str = ""  # its deliveries' name in the database; "" is the target's own name
    body: str = ""  # the name its rendered body is recorded under; "" is the ledger name
    label: str = ""  # how a sentence names it ("Slack", "the log"); "" is the ledger name
    after: tuple[str, ...] = ()
    connect: Callable[[Config], DeliveryTarget | None] | None = None
    ready: bool = True  # False: registered but not connected (its `connect` found nothing set up)
    unconfigured: str = ""  # for a target that is not ready: what to set up, said when it is asked for

    def __post_init__(self) -> None:
        object.__setattr__(self, "ledger", self.ledger or self.name)
        object.__setattr__(self, "body", self.body or self.ledger)
        object.__setattr__(self, "label", self.label or self.ledger)
