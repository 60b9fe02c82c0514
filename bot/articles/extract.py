"""The main text of an HTML page: the one module that imports trafilatura.

trafilatura was measured against jusText on pages written for the project (bench/bench_articles.py
--compare): on a blog post with a cookie banner, navigation, comments and a footer it kept exactly the
article, where jusText's default settings kept nothing of it; both take a few milliseconds a page.
Comments and tables are left out (favor_precision): a summary is made from the article's own prose.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

MAX_CHARS = 20_000  # what is kept of one page's text: plenty for a summary, bounded in the store
MIN_CHARS = 200  # less than this is no article: a script-only page's noscript line, an error stub
# A paywall's stub: a paragraph or two, then one of these. Only a short text is judged by them, so an
# article that merely mentions subscriptions is kept.
_PAYWALL = re.compile(
    r"subscribe (?:now )?to (?:continue|keep) reading|to continue reading|already a subscriber|"
    r"this (?:article|story|content) is (?:for|available to) (?:paid )?(?:subscribers|members)|"
    r"create a free account to (?:continue|read)|sign in to (?:continue|read)|members[- ]only",
    re.IGNORECASE)
PAYWALL_SHORTER_THAN = 1500


@dataclass(frozen=True)
class Extracted:
    text: str | None
    reason: str | None = None  # why there is none


def _decode(body: bytes, content_type: str) -> str:
    charset = None
    if "charset=" in content_type:
        charset = content_type.split("charset=")[-1].split(";")[0].strip().strip('"') or None
    for encoding in (charset, "utf-8"):
        if encoding:
            try:
                return body.decode(encoding)
            except (LookupError, UnicodeDecodeError):
                continue
    return body.decode("utf-8", errors="replace")


def main_text(body: bytes, url: str, content_type: str = "") -> Extracted:
    """The page's article text (paragraphs on lines of their own, at most MAX_CHARS), or why not."""
    import trafilatura  # here, not at the top: 0.3 s of start-up that a digest reading no page never needs

    # trafilatura logs an ERROR for every empty or script-only page; the item's explanation already
    # says why it has no text, and a digest that went fine should not print errors.
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    if not body.strip():
        return Extracted(None, "an empty page")
    html = _decode(body, content_type)
    try:
        text = trafilatura.extract(html, url=url, include_comments=False, include_tables=False,
                                   include_links=False, include_images=False, favor_precision=True)
        # No deduplicate=True: it remembers text across calls, process-wide, and then drops the same
        # article read a second time (a refetch, a second digest in one daemon) as a duplicate.
    except Exception as exc:  # a page the parser chokes on is a page without text, not a failed digest
        return Extracted(None, f"unreadable page ({type(exc).__name__})")
    text = (text or "").strip()
    if len(text) < MIN_CHARS:
        return Extracted(None, "no readable text (a page that needs scripts, or too little to read)")
    if len(text) < PAYWALL_SHORTER_THAN and _PAYWALL.search(text):
        return Extracted(None, "behind a paywall")
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS].rsplit(" ", 1)[0]
    return Extracted(text)
