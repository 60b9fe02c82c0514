"""A digest posted to Slack, message by message, by either client (bot.delivery.slack_webhook,
bot.delivery.slack_token): both deliver under the ledger name "slack", since a configuration uses one or
the other (the bot token when it has one and a channel, as it can thread). Imports no SDK: the clients
(bot.delivery.slack_api) satisfy `SlackPoster`.

Every message carries a mark unique to this database, digest and part. A delivery is "sending" from the
moment a request may reach Slack, and resumes after the messages recorded as sent. A send whose fate is
unknown is settled by looking for its mark in the channel, where the client can read it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, Protocol

import bot.digest.render as render
from bot.core.config import Config
from bot.core.errors import DeliveryError
from bot.core.ledger import Detail, DigestOptions
from bot.delivery.registry import DeliveryTarget, Send, Settled

LEDGER = "slack"
MARK_EVENT = "research_digest_message"  # the metadata event type that carries a message's mark
MISSING = "Slack is not configured (set SLACK_WEBHOOK_URL, or SLACK_BOT_TOKEN and [slack] channel)"

OnSend = Callable[[], None]


class SlackPoster(Protocol):
    target: str

    def post(self, message: dict[str, Any], thread_ts: str | None = None, mark: str | None = None,
             on_send: OnSend | None = None) -> str | None:
        """Posts one message; returns its ts when Slack tells it (bot token), else None. `mark` names
        the message (install, digest and part) so a later run can look for it. `on_send` is called
        when everything that can fail before the request goes out has passed."""

    def find(self, mark: str, thread_ts: str | None = None, oldest: str | None = None) -> bool | None:
        """Whether a message with this mark is in the channel (posted at `oldest`, a Slack ts, or later):
        True, False, or None when we cannot tell."""


def mark(install_id: str, digest_id: int, part: int) -> str:
    """Names one Slack message: unique to this database, so no other install's message matches it."""
    return f"digest-{install_id}-{digest_id}-part-{part + 1}"


def render_messages(day: date, items: Sequence[Any], footer: str) -> list[dict[str, Any]]:
    return render.render_slack(day, list(items), footer)


def wanted(_config: Config, options: DigestOptions) -> bool:
    return options.slack


# Slack stamps a message with its own wall clock, so the send's time is taken from the wall clock too
# (the application's injected clock may be frozen by a test), less a margin for the two clocks' skew.
SKEW_MARGIN_SECONDS = 600.0


def deliver(poster: SlackPoster, send: Send, wall_clock: Callable[[], float] = time.time) -> Detail:
    """Posts the messages not yet sent; the first one's ts (bot token) threads the rest."""
    messages: list[dict[str, Any]] = send.body or []
    detail = dict(send.detail)
    detail.pop("mark", None)
    detail.pop("oldest", None)
    for n in range(int(detail.get("sent", 0)), len(messages)):
        this = mark(send.install_id, send.digest_id, n)

        def going_out(this: str = this) -> None:  # from here on, Slack may get it: record what to look for
            oldest = f"{max(0.0, wall_clock() - SKEW_MARGIN_SECONDS):.6f}"  # where to start looking, as a Slack ts
            send.record("sending", {**detail, "mark": this, "oldest": oldest})

        ts = poster.post(messages[n], thread_ts=detail.get("ts") if n > 0 else None, mark=this, on_send=going_out)
        detail["sent"] = n + 1
        if n == 0 and ts:
            detail["ts"] = ts
        send.record("done" if n + 1 == len(messages) else "pending", detail)
        send.hook(f"slack-{n + 1}")
    return detail


def settle(poster: SlackPoster, send: Send) -> tuple[Settled, Detail]:
    """Only the exact mark this database put on that message proves it arrived. A send recorded without
    one (by a version whose marks were the same in every database) cannot be settled by reading."""
    detail = dict(send.detail)
    part = int(detail.get("sent", 0))
    this = detail.get("mark")
    found = poster.find(this, detail.get("ts") if part > 0 else None, detail.get("oldest")) if this else None
    if found is None:
        return "unknown", detail
    if found:  # it did arrive: count it as sent, and go on with the rest
        detail["sent"] = part + 1
        detail.pop("mark", None)
        detail.pop("oldest", None)
        return "sent", detail
    return "missing", detail


def target(name: str, poster: SlackPoster | None, connect: Callable[[Config], DeliveryTarget | None]) -> DeliveryTarget:
    """The Slack target `name` posting through `poster`: the composition root's client, or a test's;
    None for the registered, unconnected one (`connect` builds the client from the configuration)."""
    if poster is None:
        def unconnected(_send: Send) -> Detail:
            raise DeliveryError(f"{MISSING} now", LEDGER)

        return DeliveryTarget(name, deliver=unconnected, render=render_messages, enabled=wanted, ledger=LEDGER,
                              label="Slack", connect=connect, ready=False, unconfigured=MISSING)

    def deliver_through(send: Send) -> Detail:
        return deliver(poster, send)

    def settle_through(send: Send) -> tuple[Settled, Detail]:
        return settle(poster, send)

    return DeliveryTarget(name, deliver=deliver_through, render=render_messages, enabled=wanted,
                          settle=settle_through, ledger=LEDGER, label="Slack", connect=connect, unconfigured=MISSING)
