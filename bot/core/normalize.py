"""Normalization: whatever a source said, one clean FeedItem with its identities. Pure."""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import UTC, datetime

from bot.core.identity import Identity, clean_url, parse_link, title_identity, url_identities, with_scheme
from bot.core.records import Discussion, FeedItem

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
    text = _SCRIPT_RE.sub(" ", text)
    text = _TAG_RE.sub(" ", text)
    text = html.unescape(text)
    text = _INVISIBLE_RE.sub("", text)
    if not text.isascii():
        text = "".join(ch for ch in text if ch.isspace() or unicodedata.category(ch) not in _INVISIBLE)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


class InvalidItem(ValueError):
    """This one item cannot be stored (its link cannot be parsed); the rest of its feed can."""


def iso_time(value: str | datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def make_item(*, source: str, title: str, url: str | None, published: str | None, summary: str = "",
              discussion: Discussion | None = None, points: int | None = None, comments: int | None = None,
              arxiv_id: str | None = None, doi: str | None = None, categories: tuple[str, ...] = (),
              version: int = 1) -> FeedItem | None:
    """None when there is nothing to show: no title and no link. Raises InvalidItem for a link that
    looks like a web link but cannot be parsed (`http://[oops/llm`): the caller skips and counts it.
    An item with a discussion and no link of its own (Ask HN) links its thread."""
    clean_title = plain_text(title, MAX_TITLE)
    link = None
    if url:
        absolute = with_scheme(url.strip())
        link = clean_url(absolute) if absolute else None  # javascript:, data:, relative: dropped
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
        published=iso_time(published),
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
