"""The fast path for feed documents: fastfeedparser (lxml underneath; the only module that imports it)
reads the plain, well-formed UTF-8 documents that are nearly every feed, in about a fortieth of
feedparser's time. Anything else goes to feedparser (bot.sources.parsers), which stays the reference.

Which documents the fast path takes is decided before parsing, by cheap scans of the bytes, and after,
by what it read (`fast_entries` returns None for "ask feedparser"):
- before: valid UTF-8 with no other encoding declared (feedparser decides every other encoding); no
  DOCTYPE (entities are feedparser's, whose handling is tested); no bare `&`, no control character and
  no named entity beyond XML's five (feedparser repairs those, or reads them leniently); an RSS, RDF or
  Atom root that the document closes (lxml recovers from truncation silently, feedparser reports it).
- after: at least one entry; every entry with a link or an id; an absolute link, and of an Atom
  entry's links exactly one alternate HTML link (feedparser's choice among several, and its resolving
  against xml:base, are feedparser's); every entry dated when the document holds any date element
  (fastfeedparser leaves out a date it cannot read, feedparser reads more).
What it reads is given in feedparser's shape for the fields the bot uses (title, link, id, comments,
summary, content, tags), with the date already as UTC ISO text. tests/test_parser_differential.py runs
both over every recorded document and requires the same items.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from bot.sources.encoding import declared_encodings

_ROOT_RE = re.compile(rb"^(?:\s+|<\?.*?\?>|<!--.*?-->)*<([A-Za-z][\w:.-]*)", re.DOTALL)
_ROOTS = {b"rss", b"feed", b"rdf:RDF", b"RDF"}
_LAST_CLOSE_RE = re.compile(rb"</([A-Za-z][\w:.-]*)\s*>(?:\s+|<!--.*?-->)*$", re.DOTALL)
# What XML itself cannot read but feedparser copes with: a DOCTYPE (and its entities: the root pattern
# above does not step over one), a C0 control character, and outside CDATA sections (hnrss puts every
# `Q&A` in one) an `&` that starts no reference or names an HTML entity.
_CONTROLS = bytes([*range(0, 9), 11, 12, *range(14, 32)])
_BARE_AMP_RE = re.compile(rb"&(?!#[0-9]{1,8};|#x[0-9A-Fa-f]{1,8};|amp;|lt;|gt;|quot;|apos;)")
_DATE_TAG_RE = re.compile(rb"<(?:[\w.-]+:)?(?:pubDate|published|updated|date|issued|modified|created)[\s>]")


def fast_entries(body: bytes, content_type: str = "", root_names: frozenset[bytes] | None = None
                 ) -> list[dict[str, Any]] | None:
    """The document's entries as the fast path reads them, or None when feedparser must read it."""
    if not _plain(body, content_type, root_names or frozenset(_ROOTS)):
        return None
    try:
        parsed = _parse(body)
    except Exception:  # noqa: BLE001 - fastfeedparser's "not a feed", or any fault of its own: the fast
        return None    # path only ever hands a document on, feedparser (the reference) says what it is
    entries = parsed.get("entries") or []
    if not entries:
        return None
    dated = _DATE_TAG_RE.search(body) is not None
    out = []
    for entry in entries:
        link = _link(entry)
        if link is None or not (link or entry.get("id")):
            return None
        own = _utc_iso(entry.get("published"))
        published = own or _utc_iso(entry.get("updated"))
        if published is None and dated:
            return None
        out.append({
            "title": _as_feedparser(entry.get("title")),
            "link": _as_feedparser(link),
            "id": _as_feedparser(entry.get("id")),
            "comments": _as_feedparser(entry.get("comments")),
            "summary": _as_feedparser(entry.get("description")),
            "content": [{"value": _as_feedparser(c.get("value"))} for c in entry.get("content") or ()
                        if isinstance(c, dict)],
            "tags": _tags(entry.get("tags")),
            "published_iso": published,
            "published_own_iso": own,  # arXiv's date is its <published> alone
        })
    return out


def _tags(tags: Any) -> list[dict[str, str]]:
    """The categories once each, as feedparser keeps them (a repeated term, scheme and label is one)."""
    seen: dict[tuple[Any, Any, Any], dict[str, str]] = {}
    for t in tags or ():
        if isinstance(t, dict):
            seen.setdefault((t.get("term"), t.get("scheme"), t.get("label")), {"term": _as_feedparser(t.get("term"))})
    return list(seen.values())


_ARXIV_NS = b'xmlns:arxiv="http://arxiv.org/schemas/atom"'
_OPENSEARCH_NS = b'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"'
_OPENSEARCH_RE = re.compile(rb"<opensearch:(totalResults|startIndex|itemsPerPage)\b[^>]*>([^<]*)<")
_ENTRY_START_RE = re.compile(rb"<entry[\s>]")
_DOI_RE = re.compile(rb"<arxiv:doi\b[^>]*>([^<]*)</arxiv:doi>")


def fast_arxiv(body: bytes) -> tuple[list[dict[str, Any]], dict[str, str]] | None:
    """An arXiv export API answer's entries (with `arxiv_doi`) and its opensearch counts by feedparser's
    names, or None when feedparser must read it. The arXiv fields fastfeedparser does not read are taken
    from the bytes, which is safe only with the prefixes arXiv declares: anything else is feedparser's."""
    if _ARXIV_NS not in body[:2048] or _OPENSEARCH_NS not in body[:2048]:
        return None
    entries = fast_entries(body, "", frozenset({b"feed"}))
    if entries is None:
        return None
    starts = [m.start() for m in _ENTRY_START_RE.finditer(body)]
    if len(starts) != len(entries):
        return None
    for entry, start, end in zip(entries, starts, [*starts[1:], len(body)], strict=True):
        doi = _DOI_RE.search(body, start, end)
        entry["arxiv_doi"] = _as_feedparser(doi.group(1).decode("utf-8").strip()) if doi else None
    head = body[:starts[0]] if starts else body
    feed = {"opensearch_" + m.group(1).decode().lower(): m.group(2).decode("utf-8").strip()
            for m in _OPENSEARCH_RE.finditer(head)}
    return entries, feed


_HTML_TYPES = (None, "", "text/html", "application/xhtml+xml")


def _link(entry: Any) -> str | None:
    """The entry's link as feedparser gives it, or None when only feedparser can say. An RSS <link> is
    the link; of Atom's links feedparser takes the alternate HTML one (fastfeedparser may take the first,
    an enclosure), so one such link is taken and several or none are left to feedparser. A relative link
    is too: feedparser resolves it against xml:base."""
    links = [x for x in entry.get("links") or () if isinstance(x, dict)]
    if links:
        alternates = [x.get("href") for x in links
                      if x.get("rel") in (None, "", "alternate") and x.get("type") in _HTML_TYPES]
        if len(alternates) != 1 or not isinstance(alternates[0], str):
            return None
        link = alternates[0]
    else:
        link = entry.get("link") or ""
    if not isinstance(link, str) or (link and not link.strip().lower().startswith(("http://", "https://"))):
        return None
    return link


def _plain(body: bytes, content_type: str, roots: frozenset[bytes]) -> bool:
    """The document is one the fast path reads as feedparser does (see the module's docstring)."""
    if any(codec != "utf-8" for codec in declared_encodings(body, content_type)):
        return False
    root = _ROOT_RE.match(body[:4096].removeprefix(b"\xef\xbb\xbf"))
    end = _LAST_CLOSE_RE.search(body[-4096:])
    if not (root and end and root.group(1) == end.group(1) and root.group(1) in roots):
        return False
    if len(body.translate(None, _CONTROLS)) != len(body):  # a C-speed scan, unlike a character class
        return False
    if _BARE_AMP_RE.search(body) and _bare_amp_outside_cdata(body):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _bare_amp_outside_cdata(body: bytes) -> bool:
    parts = body.split(b"<![CDATA[")
    return any(_BARE_AMP_RE.search(part) for part in
               [parts[0], *(p.partition(b"]]>")[2] for p in parts[1:])])


def _parse(body: bytes) -> Any:
    """fastfeedparser over bytes only (given a str that looks like a URL, it would fetch it), imported on
    the first body: a poll of unchanged feeds never loads it or lxml."""
    import fastfeedparser

    _without_natural_language_dates()
    return fastfeedparser.parse(bytes(body), include_media=False, include_enclosures=False)


def _without_natural_language_dates() -> None:
    """When dateparser is installed (trafilatura brings it, through htmldate), fastfeedparser guesses a date
    that no rule reads with it: "the day after tomorrow" would become a date relative to the real clock,
    not the bot's, and the fast path would no longer leave such an item to feedparser. Its rules (ISO 8601,
    RFC 822, dateutil) stay; only that guess goes."""
    import fastfeedparser.main as engine

    if getattr(engine, "_slow_dateparser", None) is not None:
        engine._slow_dateparser = lambda value: None  # type: ignore[attr-defined]


def _utc_iso(value: Any) -> str | None:
    """fastfeedparser's ISO date as UTC to the second, as feedparser's parsed dates become."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC).isoformat(timespec="seconds")
    except (OverflowError, ValueError):
        return None


# U+0080 to U+009F as windows-1252 reads those bytes (curly quotes, dashes): what feedparser maps them to.
_CP1252 = {b: bytes([b]).decode("cp1252") for b in range(0x80, 0xA0) if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}


def _as_feedparser(text: Any) -> str:
    """A text field as feedparser gives it from a UTF-8 document: text that was UTF-8 read as latin-1 and
    encoded again (`Î±` for `α`, as in a recorded arXiv answer) is undone, and the C1 controls become the
    windows-1252 characters their authors meant."""
    if not isinstance(text, str):
        return ""
    if text.isascii():
        return text
    try:
        text = text.encode("iso-8859-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    return text.translate(_CP1252)
