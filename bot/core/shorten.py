"""Fitting long text into a table column without losing the part that matters."""

from __future__ import annotations


def middle(text: str, width: int) -> str:
    """`text` cut to `width` characters by dropping its middle: a path keeps its file name and line, an
    error keeps what failed and why (the whole text is in --json)."""
    if len(text) <= width:
        return text
    width = max(width, 9)
    head = (width - 1) // 3  # the end says more: a file name and line, the reason of an error
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]
