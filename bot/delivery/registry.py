"""Delivery targets by name: a target is one module that registers how it renders a digest, how it
delivers what was rendered, and how it settles a send whose outcome is unknown.

    register_target(DeliveryTarget("toy", render=render_toy, deliver=deliver_toy))

The built-in targets (bot.delivery.builtin: Slack by webhook or bot token, the markdown log, git) are
registered the same way. The exactly-once ledger (bot.digest.pipeline) knows none of them by name:

- `render(day, items, footer)` returns the body (anything JSON can hold). It is recorded with the digest,
  under `body`, before anything is delivered, so a later run delivers exactly the same body.
- `deliver(send)` sends `send.body` and returns the details to remember (or None), or raises
  DeliveryError: a retryable error leaves the delivery "failed" and a later run sends it again; once it
  succeeds it is "done" and never sent again. A target that sends in parts records its progress with
  `send.record` (Slack: message by message, "sending" while a request is out), and a later run resumes
  from `send.detail`.
- `settle(send)` is asked about a delivery left "sending" (its process died mid-request) or "uncertain"
  (a timeout): "sent", "missing", or "unknown" (then a person decides, `--resend-uncertain`), with the
  detail to keep (Slack: one more message counted as sent).
- `enabled(config, options)` says whether a new digest goes to this target; it may raise ConfigError
  for options that contradict each other.
- `ledger` is the name of its deliveries in the database (default: its own name). Two targets may share
  one, when a configuration uses one or the other (the Slack webhook and the bot token are "slack").
- `after` names ledger entries that must be done first (git commits the log once it has its section).
- `connect(config)`: a target that talks to a service is registered unconnected (`ready=False`; its
  `unconfigured` says what to set up) and returns itself bound to a client built from the
  configuration, or None when the configuration sets none up. The composition root (bot.app) calls it.
"""

from __future__ import annotations

from bot.core.targets import Deliver, DeliveryTarget, Render, Send, Settle, Settled, always, cannot_tell

__all__ = ["Deliver", "DeliveryTarget", "Render", "Send", "Settle", "Settled", "always", "by_ledger",
           "cannot_tell", "delivery_target", "delivery_targets", "register_target", "unregister_target"]

# The digest's own bodies: no target records its body under these names.
RESERVED_BODIES = frozenset({"text", "footer"})
_TARGETS: dict[str, DeliveryTarget] = {}


def register_target(target: DeliveryTarget) -> DeliveryTarget:
    """Adds a target. A ledger name is shared only by targets that both say so (a `ledger` other than
    their name, as the two Slack targets do) and record the same body."""
    owner = by_ledger(target.ledger)
    if target.name in _TARGETS or (owner is not None and target.ledger in (target.name, owner.name)):
        raise ValueError(f"a delivery target called {target.name!r} is already registered")
    if target.body in RESERVED_BODIES:
        raise ValueError(f"a delivery target may not record its body as {target.body!r}: the digest's own")
    if owner is not None and owner.body != target.body:
        raise ValueError(f"the delivery target {target.name!r} shares the ledger name {target.ledger!r} with "
                         f"{owner.name!r}, so it must render the same body ({owner.body!r})")
    _TARGETS[target.name] = target
    return target


def unregister_target(name: str) -> None:
    """For tests that register a target of their own."""
    _TARGETS.pop(name, None)


def delivery_target(name: str) -> DeliveryTarget | None:
    return _TARGETS.get(name)


def delivery_targets() -> list[DeliveryTarget]:
    """Every registered target, in the order they were registered (the order their deliveries go)."""
    return list(_TARGETS.values())


def by_ledger(ledger: str) -> DeliveryTarget | None:
    """The first registered target whose deliveries carry this name."""
    return next((t for t in _TARGETS.values() if t.ledger == ledger), None)
