"""Counts in words: "1 item", "2 items". A person reads "1 comments" as a bug, so every count that the
CLI, the templates, Slack or a commit message shows goes through here."""

from __future__ import annotations

# Nouns whose plural is not the singular plus "s".
_IRREGULAR = {"entry": "entries", "summary": "summaries", "library": "libraries", "this": "these"}


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`count` and the noun, singular for exactly one (the plural form given, irregular or noun + "s")."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {many or _IRREGULAR.get(noun) or noun + 's'}"
