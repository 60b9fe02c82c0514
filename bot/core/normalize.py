"""Normalization: whatever a source said, one clean FeedItem with its identities. Pure."""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import UTC, datetime

from bot.core.identity import (
    PLAIN_ARXIV_ABS_RE,
    Identity,
    clean_url,
    parse_link,
    title_identity,
    url_identities,
    with_scheme,
)
from bot.core.records import Discussion, FeedItem
from bot.core.redact import without_userinfo
from bot.core.shorten import head

MAX_TITLE = 300
MAX_SUMMARY = 4000
# Real HTML tags and comments only: `<!channel>` or `<https://x|y>` in a title is text, kept and
# escaped wherever it is shown.
_TAG_RE = re.compile(r"<!--.*?-->|</?[a-zA-Z][a-zA-Z0-9-]*(?:\s[^<>]*)?/?>", re.DOTALL)
_SCRIPT_RE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_INVISIBLE = {"Cc", "Cf", "Co", "Cs"}
# ASCII control characters other than whitespace; the rest of the invisible set (zero-width, bidi
# overrides, private use) is only looked for in non-ASCII text.
_INVISIBLE_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def plain_text(text: str, limit: int = MAX_SUMMARY) -> str:
    """HTML to one line of plain text: tags and scripts dropped, entities decoded, control,
    zero-width and bidi-override characters removed, whitespace folded, length capped."""
    if not text:
        return ""
    if (text.isascii() and text.isprintable() and len(text) <= limit and "<" not in text and "&" not in text
            and "  " not in text and text[0] != " " and text[-1] != " "):
        # Already plain: no tag, entity, control character or whitespace but single spaces between
        # words, nothing to cut. Every step below would leave it as it is (an abstract read twice, by
        # its source and by make_item, and most titles).
        return text
    if "<" in text:  # both patterns start with it; an abstract or a title mostly has none
        text = _SCRIPT_RE.sub(" ", text)
        text = _TAG_RE.sub(" ", text)
    text = html.unescape(text)
    text = _INVISIBLE_RE.sub("", text)
    if not text.isascii():
        text = "".join(ch for n, ch in enumerate(text)
                       if ch.isspace() or unicodedata.category(ch) not in _INVISIBLE or _joins_emoji(text, n))
    text = " ".join(text.split())
    if len(text) > limit:
        text = head(text, limit - 1).rstrip() + "…"
    return text


def _joins_emoji(text: str, n: int) -> bool:
    """A zero-width joiner or variation selector that is part of an emoji sequence (👩‍💻, ❤️): kept, or
    the emoji falls apart into others. Anywhere else it is an invisible character, and dropped."""
    ch = text[n]
    if ch == "\ufe0f":
        return n > 0 and unicodedata.category(text[n - 1]) == "So"
    if ch != "\u200d" or not 0 < n < len(text) - 1:
        return False
    before, after = text[n - 1], text[n + 1]
    return (unicodedata.category(before) == "So" or before == "\ufe0f" or "\U0001f3fb" <= before <= "\U0001f3ff") \
        and unicodedata.category(after) == "So"


class InvalidItem(ValueError):
    """This one item cannot be stored (its link cannot be parsed, a number is out of range, a field has
    the wrong type); the rest of its feed can."""


# The store keeps counts and thread ids as SQLite integers (signed 64-bit): a source's number beyond
# that would fail the whole poll's insert, so the item carrying it is refused here, alone.
MAX_STORED_INT = 2**63 - 1


def _count(name: str, value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_STORED_INT:
        raise InvalidItem(f"its {name} {str(value)[:40]!r} is not a count from 0 to 2^63-1")
    return value


def _checked_discussion(discussion: Discussion | None) -> Discussion | None:
    if discussion is not None and discussion.site == "hn":
        try:
            number = int(discussion.id)
        except ValueError:
            number = -1
        if not 0 < number <= MAX_STORED_INT:
            raise InvalidItem(f"its HN item id {discussion.id[:40]!r} is not a number from 1 to 2^63-1")
    return discussion


def iso_time(value: str | datetime | None) -> str | None:
    """A time as the store writes it; None for one that cannot be read. Raises InvalidItem for a value
    that is not a time at all (a number, an object): a source that sends that is not to be trusted
    with the rest of the item either."""
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        raise InvalidItem(f"its published time {str(value)[:40]!r} is not a date and time")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC).isoformat(timespec="seconds")
    except OverflowError:  # year 1 or 9999 moved across the date line
        return None


def make_item(*, source: str, title: object, url: object, published: object, summary: str = "",
              discussion: Discussion | None = None, points: object = None, comments: object = None,
              arxiv_id: str | None = None, doi: str | None = None, categories: tuple[str, ...] = (),
              version: int = 1) -> FeedItem | None:
    """None when there is nothing to show: no title and no link. Raises InvalidItem for a link that
    looks like a web link but cannot be parsed (`http://[oops/llm`): the caller skips and counts it.
    An item with a discussion and no link of its own (Ask HN) links its thread. Every field from a
    source is checked here (InvalidItem: this item alone is skipped and counted, with the reason): a
    title that is not text, a count or thread id the store cannot hold, a time that is no time."""
    if not isinstance(title, str):
        raise InvalidItem(f"its title is {type(title).__name__}, not text")
    if url is not None and not isinstance(url, str):
        raise InvalidItem(f"its link is {type(url).__name__}, not text")
    points, comments = _count("points", points), _count("comments", comments)
    discussion = _checked_discussion(discussion)
    published = iso_time(published)  # type: ignore[arg-type]  # anything else raises InvalidItem
    clean_title = plain_text(title, MAX_TITLE)
    link = None
    if url and PLAIN_ARXIV_ABS_RE.fullmatch(url):
        link = url  # nothing to strip, clean or check in arXiv's own spelling of its links (see there)
    elif url:
        absolute = with_scheme(url.strip())
        # javascript:, data:, relative: dropped. A user:password@ is never stored or shown.
        link = without_userinfo(clean_url(absolute)) if absolute else None
        if link is not None and parse_link(link) is None:
            raise InvalidItem(f"its link {url.strip()[:200]!r} is not a valid URL")
    thread = discussion.url if discussion else None
    if not clean_title and not link and not thread:
        return None
    identities: set[Identity] = set()
    if link:
        identities |= url_identities(link)
    if discussion:
        identities.add(discussion.identity)
    if arxiv_id:
        identities.add(Identity("arxiv", arxiv_id))
    if doi:
        identities.add(Identity("doi", doi))
    ident = title_identity(clean_title, min_words=3)
    if ident:
        identities.add(ident)
    found_arxiv = arxiv_id or next((i.value for i in identities if i.kind == "arxiv"), None)
    return FeedItem(
        source=source,
        title=clean_title or (link or thread or ""),
        url=link or thread,
        published=published,
        summary=plain_text(summary),
        discussion=discussion,
        arxiv_id=found_arxiv,
        doi=doi,
        points=points,
        comments=comments,
        categories=categories,
        identities=frozenset(identities),
        version=version,
    )
