"""What kind of link an item has, and so how its text is read. Pure: no I/O.

Only http(s) links are ever fetched: a feed that gives an item a file:, ftp: or data: link must not
make the bot read a local file or another service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from bot.core.identity import arxiv_id_from_url

LinkKind = Literal["html", "arxiv", "github", "pdf", "discussion", "other"]
_DISCUSSION_HOSTS = {"news.ycombinator.com", "lobste.rs"}  # a thread is not an article
_NOT_PAGES = (".pdf", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".mp4", ".mp3", ".zip", ".gz", ".tar")
_GITHUB_NOT_REPOS = {"orgs", "topics", "settings", "marketplace", "sponsors", "features", "about", "login"}


@dataclass(frozen=True)
class Link:
    kind: LinkKind
    url: str  # what is read: the page, the repository's page, or the paper's abs URL
    arxiv_id: str | None = None
    note: str | None = None  # for a link that is not read: why, said once in the item's explanation


def classify(url: str | None, arxiv_id: str | None = None) -> Link | None:
    """How an item's text would be read from its link; None when it has no link at all."""
    paper = arxiv_id or (arxiv_id_from_url(url) if url else None)
    if paper:  # abs or pdf: the abstract through the arXiv API, never the PDF
        return Link("arxiv", f"https://arxiv.org/abs/{paper}", arxiv_id=paper)
    if not url:
        return None
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return Link("other", url, note=f"links to a {parts.scheme or 'schemeless'} address, which is not read")
    if host.removeprefix("www.") in _DISCUSSION_HOSTS:
        return Link("discussion", url, note="links to a discussion thread, not an article")
    path = parts.path.lower()
    if path.endswith(".pdf"):
        return Link("pdf", url, note="links to a PDF; its text is not read")
    if path.endswith(_NOT_PAGES):
        return Link("other", url, note="links to a file that is not a web page; no text read")
    segments = [s for s in parts.path.split("/") if s]
    if host in ("github.com", "www.github.com") and len(segments) >= 2 and segments[0] not in _GITHUB_NOT_REPOS:
        # The repository's own page: GitHub renders the README there as HTML, which the extractor reads
        # like any article (the raw README is markdown, whose badges and link syntax it would keep).
        return Link("github", f"https://github.com/{segments[0]}/{segments[1]}")
    return Link("html", url)
