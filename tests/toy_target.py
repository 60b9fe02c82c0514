"""A toy delivery target, registered from the test folder: the digest's titles, one JSON line per digest,
appended to toy-outbox.jsonl beside the database. One module and one registration line."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from bot.core.config import Config
from bot.core.errors import DeliveryError
from bot.delivery.registry import DeliveryTarget, Send, register_target
from bot.digest.render import DigestItem

NAME = "toy"
failures_to_come = 0  # tests set this to make the next deliveries fail (retryably)


def outbox(config: Config) -> Path:
    return Path(config.db).parent / "toy-outbox.jsonl"


def render_toy(day: date, items: Sequence[DigestItem], footer: str) -> dict[str, Any]:
    return {"day": day.isoformat(), "titles": [i.title for i in items], "footer": footer}


def deliver_toy(send: Send) -> dict[str, Any]:
    global failures_to_come
    if failures_to_come > 0:
        failures_to_come -= 1
        raise DeliveryError("the toy outbox is closed", NAME, retryable=True)
    with outbox(send.config).open("a", encoding="utf-8") as f:
        f.write(json.dumps(send.body) + "\n")
    return {"lines": 1}


TARGET = register_target(DeliveryTarget(NAME, render=render_toy, deliver=deliver_toy))
