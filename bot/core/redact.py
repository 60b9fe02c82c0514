"""Keeping secrets out of what the bot prints: log lines, error messages and tracebacks.

Two nets. By value: every configured secret (API key, bot token, webhook URL) is replaced wherever it
appears, whatever its shape, since a local server's key has no `sk-` prefix and a server may echo it
in an error. By pattern: things that look like Slack webhooks, Slack tokens, OpenAI keys or bearer
credentials, for secrets the bot was never told about.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, urlsplit

MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words; no real key is that short
MIN_PART_LENGTH = 8  # a piece of a secret URL (its path's last segment) is masked from this length on
PATTERN = re.compile(r"(hooks\.slack\.com/services/|/services/)[^\s'\"]+|xox[abprs]-[\w-]+|sk-[\w-]{8,}"
                     r"|(Bearer\s+)[^\s'\"]+", re.IGNORECASE)

# A URL's user:password@ part (`https://me:hunter2@feeds.example/rss`): credentials, whatever they are.
USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#'\"<>]+@")

_lock = threading.Lock()
_values: set[str] = set()


def _parts(value: str) -> set[str]:
    """A secret and the pieces of it a server may echo alone: a webhook URL's path with and without
    `/services/`, and its last segment (the part that is the credential)."""
    found = {value}
    parts = urlsplit(value) if "://" in value else None
    if parts is not None and parts.path.strip("/"):
        path = parts.path
        found.update({path, path.removeprefix("/services/"), path.rstrip("/").rsplit("/", 1)[-1]})
        if parts.password:
            found.add(parts.password)
    return {p for p in found if len(p) >= MIN_SECRET_LENGTH and (p == value or len(p) >= MIN_PART_LENGTH)}


def register(values: Iterable[str | None]) -> None:
    """Remembers secret values (and their URL-encoded forms, and the pieces of a URL that a server may
    echo alone) for every later `redact`."""
    with _lock:
        for value in values:
            value = (value or "").strip()
            if len(value) >= MIN_SECRET_LENGTH:
                for part in _parts(value):
                    _values.update({part, quote(part, safe=""), quote(part, safe="/:")})


def redact(text: str, extra: Iterable[str | None] = ()) -> str:
    """`text` with every registered secret (and any in `extra`) and every secret-shaped token masked."""
    with _lock:
        values = set(_values)
    values.update(v for v in extra if v and len(v) >= MIN_SECRET_LENGTH)
    for value in sorted(values, key=len, reverse=True):  # a longer secret first: it may contain a shorter
        text = text.replace(value, MASK)
    text = USERINFO.sub(r"\1", text)
    return PATTERN.sub(lambda m: (m.group(1) or m.group(2) or "") + MASK, text)


def without_userinfo(url: str) -> str:
    """`url` without a user:password@ part: what is stored and shown of a link never carries one."""
    return USERINFO.sub(r"\1", url)
