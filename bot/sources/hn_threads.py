"""Finding an item's Hacker News discussion through the Algolia search API.

For an item with no HN thread yet (an arXiv paper, a blog post), ask Algolia for stories whose URL
contains the item's link (or its arXiv id), keep the hits whose URL is the same thing however spelled
(abs/pdf/html/versions, http/https, www., trailing slash, tracking parameters), and take the best
thread: most points, ties to the earliest. Lookups are cached per item and refreshed while the item is
young (points climb); a digest makes a bounded number of requests; HN being down just means no threads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit

from bot.core.config import HN_SEARCH_URL
from bot.core.identity import Identity, canonical_url, url_identities
from bot.core.records import Discussion, FeedItem, ItemUpdate, StoredItem
from bot.sources.fetch import Fetcher, FetchSettings
from bot.sources.parsers import ParseError, parse_algolia
from bot.store.database import Store

log = logging.getLogger(__name__)
YOUNG = timedelta(days=7)  # refresh points while the item is this young
REFRESH_EVERY = timedelta(hours=12)


@dataclass(frozen=True)
class Thread:
    """The HN story found for an item, with the points and comments it brings the item."""

    hn_id: int
    points: int | None
    comments: int | None
    created: str | None

    @property
    def discussion(self) -> Discussion:
        return Discussion.hn(self.hn_id)


def search_terms(url: str | None, arxiv_id: str | None) -> list[str]:
    """What to ask Algolia: the arXiv id (matches abs, pdf, html and versions at once) or the link
    without scheme, `www.` and tracking parameters."""
    if arxiv_id:
        return [arxiv_id]
    canon = canonical_url(url) if url else None
    return [canon] if canon else []


def best_thread(hits: Sequence[FeedItem], wanted: set[Identity]) -> Thread | None:
    """The hits about the same thing (by arXiv id or canonical URL), most points first, then earliest."""
    same = []
    for hit in hits:
        if not hit.hn_id or not hit.url:
            continue
        idents = {i for i in url_identities(hit.url) if i.kind in ("arxiv", "url", "doi")}
        if idents & wanted:
            same.append(hit)
    if not same:
        return None
    same.sort(key=lambda h: (-(h.points or 0), h.published or "", h.hn_id or 0))
    top = same[0]
    assert top.hn_id is not None
    return Thread(top.hn_id, top.points, top.comments, top.published)


class ThreadFinder:
    def __init__(self, fetcher_settings: FetchSettings, search_url: str = HN_SEARCH_URL,
                 max_requests: int = 30) -> None:
        self.settings = fetcher_settings
        self.search_url = search_url.rstrip("/")
        self.max_requests = max_requests

    async def find(self, fetcher: Fetcher, url: str | None, arxiv_id: str | None) -> tuple[Thread | None, str | None]:
        """(best thread or None, None) or (None, why the lookup failed)."""
        wanted = {i for i in url_identities(url or "") if i.kind in ("arxiv", "url", "doi")}
        if arxiv_id:
            wanted.add(Identity("arxiv", arxiv_id))
        hits: list[FeedItem] = []
        for term in search_terms(url, arxiv_id):
            query = urlencode({"query": term, "restrictSearchableAttributes": "url", "tags": "story",
                               "hitsPerPage": 50})
            res = await fetcher.get(f"{self.search_url}/search?{query}", accept="application/json")
            if res.status != "ok":
                return None, res.error or "HN search failed"
            try:
                found, _ = parse_algolia(res.body, "hn-search")
            except ParseError as exc:
                return None, str(exc)
            hits.extend(found)
        return best_thread(hits, wanted), None

    def attach(self, store: Store, rows: Sequence[StoredItem], now: datetime) -> dict[int, Thread]:
        """Looks up threads for the rows that need one, stores what it finds, returns {item id: thread}."""
        todo = [r for r in rows if self._needs_lookup(store, r, now)][: self.max_requests]
        if not todo:
            return {}

        async def run() -> list[tuple[Thread | None, str | None]]:
            async with Fetcher(self.settings, now=lambda: now) as fetcher:
                return list(await asyncio.gather(*(self.find(fetcher, r.url, r.arxiv_id)
                                                   for r in todo)))

        try:
            answers = asyncio.run(run())
        except Exception as exc:  # HN unreachable in some way we did not foresee: no threads, no failure
            log.warning("HN thread lookup skipped: %s", exc)
            return {}
        found: dict[int, Thread] = {}
        stamp = now.isoformat(timespec="seconds")
        for row, (thread, error) in zip(todo, answers, strict=True):
            if error:
                log.info("HN thread lookup for item %s: %s", row.id, error)
                continue  # not cached: try again next time
            store.record_hn_lookup(row.id, stamp, thread.hn_id if thread else None)
            if thread:
                found[row.id] = thread
                fields: ItemUpdate = {"discussion": thread.discussion}
                if thread.points is not None:
                    fields["points"] = thread.points
                if thread.comments is not None:
                    fields["comments"] = thread.comments
                store.update_item(row.id, fields, [thread.discussion.identity])
        return found

    @staticmethod
    def _needs_lookup(store: Store, row: StoredItem, now: datetime) -> bool:
        if not row.url and not row.arxiv_id:
            return False
        host = (urlsplit(row.url or "").hostname or "").lower()
        if host == "news.ycombinator.com":
            return False
        last = store.hn_lookup(row.id)
        if last is None:
            return not row.hn_id
        published = row.when
        if not published or now - datetime.fromisoformat(published) >= YOUNG:
            return False
        return now - datetime.fromisoformat(last.checked) >= REFRESH_EVERY
