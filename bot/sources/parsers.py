"""Turns fetched documents into FeedItems: RSS/Atom through the fast path (bot.sources.fastparse) or
feedparser (this is the only module that imports it) for what the fast path leaves, the HN Algolia JSON,
and the arXiv export API's Atom. Bytes in, items out; no network.

feedparser only ever sees bytes that httpx fetched: it is never given a URL.
"""

from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.core.identity import arxiv_id_from_url, hn_id_from_url
from bot.core.normalize import make_item, plain_text
from bot.core.records import Discussion, FeedItem
from bot.sources.encoding import repair_utf8
from bot.sources.outcome import MAX_SKIPPED_REASONS

_HN_POINTS_RE = re.compile(r"Points:\s*(\d+)")
_HN_COMMENTS_RE = re.compile(r"#\s*Comments:\s*(\d+)")
# hnrss wraps each story in these lines; what is left is the story's own text, if any.
_HNRSS_BOILERPLATE = re.compile(
    r"<p>\s*(?:Article URL|Comments URL|Points|#\s*Comments):.*?</p>|(?:Article URL|Comments URL|Points|#\s*Comments):"
    r"\s*\S+|<hr\s*/?>|<a href=\"https://news\.ycombinator\.com/item\?id=\d+\"></a>",
    re.IGNORECASE | re.DOTALL,
)


class ParseError(Exception):
    """The document is not a feed we can read; the message says what it is instead."""


@dataclass
class Parsed:
    """A feed's items, and the entries that were skipped because they alone could not be read."""

    items: list[FeedItem] = field(default_factory=list)
    skipped: int = 0
    reasons: list[str] = field(default_factory=list)  # the first few: "'Title': its link ... is not a valid URL"

    def skip(self, title: Any, problem: Exception) -> None:
        self.skipped += 1
        if len(self.reasons) < MAX_SKIPPED_REASONS:
            self.reasons.append(f"{plain_text(str(title or ''), 80)!r}: {problem}")


def _iso(struct: Any) -> str | None:
    if not struct:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(struct), UTC).isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError):
        return None


def _fastparse() -> Any:
    """The fast path's module, imported on the first body, like feedparser: an all-304 poll needs neither."""
    from bot.sources import fastparse

    return fastparse


def _feedparser() -> Any:
    """feedparser, imported on the first body to parse: a poll of unchanged feeds never needs it."""
    import feedparser

    return feedparser


def _harmless(problem: Exception) -> bool:
    """Encoding notes and undeclared namespaces are feedparser telling us what it coped with."""
    feedparser = _feedparser()
    return isinstance(problem, feedparser.CharacterEncodingOverride | feedparser.NonXMLContentType
                      | feedparser.UndeclaredNamespace)


# The first element of a document, after any XML declaration, comments, doctype and whitespace.
_ROOT_RE = re.compile(rb"^(?:\s+|<\?.*?\?>|<!--.*?-->|<!doctype[^>]*>)*<([A-Za-z][\w:.-]*)", re.IGNORECASE | re.DOTALL)


def _looks_like_html(body: bytes, content_type: str) -> bool:
    """An HTML page (a login page, a blog's front page) where a feed was expected."""
    root = _ROOT_RE.match(body[:4096].lstrip(b"\xef\xbb\xbf"))
    if root:
        return root.group(1).split(b":")[-1].lower() == b"html"
    return "html" in content_type.lower()


# The end of a document: its last closing tag, then only whitespace and comments.
_LAST_CLOSE_RE = re.compile(rb"</([A-Za-z][\w:.-]*)\s*>(?:\s+|<!--.*?-->)*$", re.DOTALL)


# What XML forbids in text but feeds carry: an `&` that starts no reference, and C0 control characters.
_BARE_AMP_RE = re.compile(rb"&(?!#[0-9]{1,8};|#x[0-9A-Fa-f]{1,8};|[A-Za-z_][\w.-]{0,40};)")
_CONTROL_RE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _repair_xml(body: bytes) -> bytes:
    """The document with bare ampersands escaped and control characters dropped: what its author meant
    (`Q&A` stays `Q&A`, where feedparser's lenient reading makes it `Q&A;`)."""
    if body.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in body[:4]:
        return body  # UTF-16/32: bytes that are not characters; left to feedparser
    return _CONTROL_RE.sub(b"", _BARE_AMP_RE.sub(b"&amp;", body))


def _complete(body: bytes) -> bool:
    """The document ends by closing the element it opened with: it was not cut off on the way."""
    root = _ROOT_RE.match(body[:4096].lstrip(b"\xef\xbb\xbf"))
    end = _LAST_CLOSE_RE.search(body[-4096:])
    return bool(root and end and root.group(1) == end.group(1))


def parse_rss(body: bytes, source: str, content_type: str = "") -> list[FeedItem]:
    """The items of an RSS or Atom document (entries that cannot be read are left out)."""
    return read_rss(body, source, content_type).items


def read_rss(body: bytes, source: str, content_type: str = "", fast: bool = True) -> Parsed:
    """RSS 0.9x/1.0/2.0 and Atom. Any entry whose link, guid or comments link is an HN item is an
    HN item whatever the feed (hnrss). An entry that cannot be read alone is skipped and counted.
    `fast=False` reads with feedparser alone: the reference the fast path is tested against."""
    if not body.strip():
        raise ParseError("empty response body")
    body = repair_utf8(body, content_type)
    entries = _fastparse().fast_entries(body, content_type) if fast else None
    if entries is not None:  # nearly every feed: read by fastfeedparser, checked by bot.sources.fastparse
        return _items(entries, source)
    # We reduce every field to plain text ourselves, so feedparser's HTML sanitizer (most of its
    # time on big feeds) and relative-URI resolution are switched off.
    headers = {"content-type": content_type} if content_type else None
    parsed = _feedparser().parse(body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
    import xml.sax  # imported by feedparser already: here, so that a poll of unchanged feeds needs neither

    problem = parsed.get("bozo_exception")
    if parsed.get("bozo") and isinstance(problem, xml.sax.SAXException) and not _harmless(problem):
        repaired = _repair_xml(body)
        if repaired != body:  # a bare `&` or a control character: escaped or dropped, it is XML again
            again = _feedparser().parse(repaired, response_headers=headers, sanitize_html=False,
                                        resolve_relative_uris=False)
            if not (again.get("bozo") and isinstance(again.get("bozo_exception"), xml.sax.SAXException)
                    and not _harmless(again.get("bozo_exception"))):
                parsed, problem = again, None
    entries = parsed.get("entries") or []
    if not entries and _looks_like_html(body, content_type):
        raise ParseError("got an HTML page, not a feed")  # not "malformed XML": it was never a feed
    if (problem is not None and parsed.get("bozo") and isinstance(problem, xml.sax.SAXException)
            and not _harmless(problem) and not (entries and _complete(body))):
        # Strict XML refused it and feedparser's lenient reading stands in. That reading is trusted for a
        # whole document (one bare `&` or control character in one title must not lose 21 entries), not
        # for a truncated one, whose last entry may be half an entry: that is reported.
        raise ParseError(f"malformed XML: {problem}")
    if not entries:
        if parsed.get("bozo"):
            raise ParseError(f"malformed feed: {parsed.get('bozo_exception')}")
        if not parsed.get("version"):
            raise ParseError("not an RSS or Atom feed")
    return _items(entries, source)


def _items(entries: list[Any], source: str) -> Parsed:
    result = Parsed()
    for entry in entries:
        try:
            item = _rss_item(entry, source)
        except ValueError as exc:  # one entry's bad link or date; the feed's other entries stand
            result.skip(entry.get("title"), exc)
            continue
        if item is not None:
            result.items.append(item)
    return result


def _rss_item(entry: Any, source: str) -> FeedItem | None:
    """One entry as an item; raises ValueError (InvalidItem) when the entry alone cannot be read."""
    link = entry.get("link") or ""
    guid = entry.get("id") or ""
    comments = entry.get("comments") or ""
    hn_id = None
    for candidate in (comments, guid, link):
        hn_id = hn_id_from_url(candidate) if candidate else None
        if hn_id:
            break
    description = entry.get("summary") or ""
    content = " ".join(c.get("value", "") for c in entry.get("content", []) if isinstance(c, dict))
    points = comments_n = None
    if hn_id:
        m = _HN_POINTS_RE.search(description)
        points = int(m.group(1)) if m else None
        m = _HN_COMMENTS_RE.search(description)
        comments_n = int(m.group(1)) if m else None
        if hn_id_from_url(link) == hn_id:
            link = ""  # Ask HN and similar: the thread is the item
        description = _HNRSS_BOILERPLATE.sub(" ", description)  # keep an Ask HN's own text
    if not link and not hn_id and guid.startswith(("http://", "https://")):
        link = guid
    tags = tuple(t.get("term", "") for t in entry.get("tags", []) if isinstance(t, dict) and t.get("term"))
    return make_item(
        source=source,
        title=entry.get("title") or "",
        url=link or None,
        published=(entry["published_iso"] if "published_iso" in entry  # the fast path's, already UTC
                   else _iso(entry.get("published_parsed") or entry.get("updated_parsed"))),
        summary=plain_text(description or content),
        discussion=Discussion.hn(hn_id) if hn_id else None,
        points=points,
        comments=comments_n,
        categories=tags,
        arxiv_id=arxiv_id_from_url(link) if link else None,
    )


def parse_algolia(body: bytes, source: str) -> tuple[list[FeedItem], dict[str, Any]]:
    """HN Algolia search JSON -> (items, paging info: nbHits, nbPages, page, oldest created_at_i,
    skipped: the hits that could not be read alone, with the first few reasons)."""
    try:
        # Invalid UTF-8 in one title must not lose the answer: damaged bytes become U+FFFD.
        data = json.loads(body.decode(json.detect_encoding(body), errors="replace"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ParseError(f"HN Algolia answer is not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("hits"), list):
        raise ParseError("HN Algolia answer has no 'hits' list")
    result = Parsed()
    oldest: int | None = None
    for hit in data["hits"]:
        if not isinstance(hit, dict):
            continue
        tags = hit.get("_tags") or []
        if tags and "story" not in tags:
            continue  # comments and polls are not reading material
        object_id = str(hit.get("objectID") or hit.get("story_id") or "")
        if not (object_id.isascii() and object_id.isdigit()):
            continue
        created = hit.get("created_at_i")
        try:
            published = (datetime.fromtimestamp(created, UTC).isoformat(timespec="seconds")
                         if isinstance(created, int) else hit.get("created_at"))
            if isinstance(created, int):  # paging goes by every story's time, readable or not
                oldest = created if oldest is None else min(oldest, created)
            item = make_item(
                source=source,
                title=hit.get("title") or hit.get("story_title") or "",  # make_item refuses a non-text title
                url=hit.get("url") if isinstance(hit.get("url"), str) else None,
                published=published if isinstance(published, str) else None,
                summary=plain_text(str(hit.get("story_text") or "")),
                discussion=Discussion.hn(object_id),
                points=hit.get("points") if isinstance(hit.get("points"), int) else None,
                comments=hit.get("num_comments") if isinstance(hit.get("num_comments"), int) else None,
            )
        except (ValueError, OverflowError, OSError) as exc:  # a bad link or timestamp: this hit only
            result.skip(hit.get("title"), exc)
            continue
        if item is not None:
            result.items.append(item)
    paging = {"nbHits": data.get("nbHits"), "nbPages": data.get("nbPages"), "page": data.get("page"),
              "hits": len(data["hits"]), "oldest": oldest, "skipped": result.skipped,
              "skipped_items": result.reasons}
    return result.items, paging


def parse_arxiv(body: bytes, source: str, fast: bool = True) -> tuple[list[FeedItem], dict[str, Any]]:
    """arXiv export API Atom -> (items, paging: totalResults, startIndex, itemsPerPage, oldest).
    Read by the fast path when it can (bot.sources.fastparse.fast_arxiv); `fast=False`: feedparser alone."""
    if not body.strip():
        raise ParseError("empty response body")
    body = repair_utf8(body)
    read = _fastparse().fast_arxiv(body) if fast else None
    if read is not None:
        entries, feed = read
    else:
        parsed = _feedparser().parse(body, sanitize_html=False, resolve_relative_uris=False)
        if not parsed.get("entries") and parsed.get("bozo"):
            raise ParseError(f"malformed arXiv answer: {parsed.get('bozo_exception')}")
        entries, feed = parsed.get("entries", []), parsed.get("feed", {})
    result = Parsed()
    oldest: str | None = None
    for entry in entries:
        try:
            item = _arxiv_item(entry, source)
        except ValueError as exc:
            result.skip(entry.get("title"), exc)
            continue
        if item is not None:
            result.items.append(item)
            if item.published and (oldest is None or item.published < oldest):
                oldest = item.published

    def _int(key: str) -> int | None:
        value = feed.get(key)
        try:
            return int(value) if value is not None else None
        except (TypeError, ValueError):
            return None

    paging = {"total": _int("opensearch_totalresults"), "start": _int("opensearch_startindex"),
              "per_page": _int("opensearch_itemsperpage"), "count": len(entries),
              "oldest": oldest, "skipped": result.skipped, "skipped_items": result.reasons}
    return result.items, paging


def _arxiv_item(entry: Any, source: str) -> FeedItem | None:
    """One paper; None for the API's error entries (no paper id)."""
    abs_url = entry.get("id") or entry.get("link") or ""
    arxiv_id = arxiv_id_from_url(abs_url)
    if not arxiv_id:
        return None  # the API reports errors as entries without a paper id
    version = re.search(r"v(\d+)$", abs_url)
    categories = tuple(t.get("term", "") for t in entry.get("tags", []) if isinstance(t, dict))
    doi = entry.get("arxiv_doi")
    return make_item(
        source=source,
        title=entry.get("title") or "",
        url=f"https://arxiv.org/abs/{arxiv_id}",
        published=(entry["published_own_iso"] if "published_own_iso" in entry
                   else _iso(entry.get("published_parsed"))),
        summary=plain_text(entry.get("summary") or ""),
        arxiv_id=arxiv_id,
        doi=doi.lower() if isinstance(doi, str) else None,
        categories=categories,
        version=int(version.group(1)) if version else 1,
    )
