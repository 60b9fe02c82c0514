"""Fitting long text into a table column without losing the part that matters."""

from __future__ import annotations

import unicodedata

_ZWJ = "\u200d"


def _regional(ch: str) -> bool:
    return "\U0001f1e6" <= ch <= "\U0001f1ff"


def _extends(ch: str) -> bool:
    """A character that belongs to the one before it on screen: a combining mark, a variation selector,
    a skin tone, a tag (flags of regions), or the zero-width joiner itself."""
    return (ch == _ZWJ or unicodedata.category(ch) in ("Mn", "Me", "Mc") or "\ufe00" <= ch <= "\ufe0f"
            or "\U0001f3fb" <= ch <= "\U0001f3ff" or "\U000e0020" <= ch <= "\U000e007f"
            or "\U000e0100" <= ch <= "\U000e01ef")


def boundary(text: str, at: int) -> int:
    """The nearest place at or before `at` where `text` can be cut without splitting what shows as one
    character (an emoji joined with ZWJ, a flag, a letter and its accents): cutting `👩‍👩‍👧` after its
    first person would show a different emoji. A small rule for the common sequences, not all of
    Unicode's grapheme clusters."""
    at = max(0, min(at, len(text)))
    while 0 < at < len(text) and (_extends(text[at]) or text[at - 1] == _ZWJ):
        at -= 1
    if 0 < at < len(text) and _regional(text[at]) and _regional(text[at - 1]):
        run = at
        while run > 0 and _regional(text[run - 1]):
            run -= 1
        if (at - run) % 2:  # inside a flag's pair of letters
            at -= 1
    return at


def head(text: str, width: int) -> str:
    """At most `width` characters from the start of `text`, never splitting what shows as one."""
    return text[:boundary(text, width)]


def middle(text: str, width: int) -> str:
    """`text` cut to `width` characters by dropping its middle: a path keeps its file name and line, an
    error keeps what failed and why (the whole text is in --json)."""
    if len(text) <= width:
        return text
    width = max(width, 9)
    front = (width - 1) // 3  # the end says more: a file name and line, the reason of an error
    start = len(text) - (width - 1 - front)
    back = boundary(text, start)
    if back < start:  # the tail starts inside a joined sequence: start after it instead
        back = start
        while back < len(text) and boundary(text, back) != back:
            back += 1
    return head(text, front) + "…" + text[back:]
