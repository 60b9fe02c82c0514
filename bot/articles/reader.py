"""Reading the linked pages of one digest's items: which items need it, the cache, the budgets.

An item whose own text (an abstract, a feed's description, an Ask HN's text) is long enough keeps it.
For the others the link is read once: an HTML page's main text (bot.articles.extract), an arXiv
paper's abstract through the export API (one request for all of a digest's papers, so arXiv's one
request per 3 s is kept without waiting), a GitHub repository's page (its README). A PDF, a thread or
a non-http link is not read, and the item's explanation says so once.

Every fetch goes through the hardened client (bot.sources.fetch): size cap while streaming, a deadline
per page, redirects checked hop by hop, per-host politeness, the bot's User-Agent, conditional GET on
a refetch. All of a digest's pages share one deadline and a bound on their number; what is not read
by then is left out (not cached) and the digest goes out with what it has. Each result, text or none,
is cached per URL, so a dry run and the real run after it fetch nothing twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from bot.articles.extract import main_text
from bot.articles.links import Link, classify
from bot.core.clock import stamp
from bot.core.config import Config
from bot.core.normalize import plain_text
from bot.core.records import CachedArticle, ItemText, StoredItem, TextSource
from bot.sources.answer import FetchResult, is_local
from bot.sources.feedlist import load_feeds
from bot.sources.fetch import Fetcher, FetchSettings, global_limit
from bot.sources.parsers import ParseError, parse_arxiv
from bot.sources.redirects import address_class, host_class
from bot.store.database import Store

log = logging.getLogger(__name__)
OWN_TEXT_ENOUGH = 300  # an item's own text at least this long is its text; a shorter one is a teaser
TEXT_OK_FOR = timedelta(days=30)  # an article read is read again (conditionally) after this
NONE_FOR = timedelta(days=7)  # a 404, a PDF, a page without text: asked again after this
RETRY_AFTER = timedelta(hours=1)  # a timeout, a 5xx, a refused connection: a later digest tries again
# What arXiv asks of API clients, as bot.sources.arxiv keeps it; not imported from there, since importing a
# source kind registers it, and the registry's order is the order the kinds are first imported in.
ARXIV_INTERVAL = 3.0
ACCEPT_HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"


@dataclass(frozen=True)
class ArticleSettings:
    deadline: float = 30.0  # all of one digest's pages together
    max_pages: int = 30  # fetched for one digest at most (cached ones are free)
    page_seconds: float = 15.0  # one page, first byte to last
    max_body: int = 5 * 1024 * 1024  # one page; a longer one gives no text
    per_host: int = 2  # pages from one host at once


class ArticleReader:
    """`reader.texts(rows, now)` -> {item id: ItemText}. `pages` maps links to saved copies (the offline
    demo): when given, only those are read and nothing goes to the network.

    A link is untrusted data from a feed: one to an internal address (loopback, private, link-local,
    such as a cloud metadata service) is read only for items of `own_sources`, the feeds that are
    themselves local files or on internal addresses (the person's own, a test's); an item of a public
    feed may not reach inside the network, as a redirect may not (bot.sources.redirects)."""

    def __init__(self, store: Store, fetch: FetchSettings, settings: ArticleSettings | None = None,
                 arxiv_api: str = "https://export.arxiv.org/api/query",
                 pages: Mapping[str, str] | None = None, own_sources: frozenset[str] = frozenset()) -> None:
        self.store = store
        self.own_sources = own_sources
        self.settings = settings or ArticleSettings()
        self.arxiv_api = arxiv_api
        self.pages = pages
        self._inside_ok: set[str] = set()
        s = self.settings
        self.fetch = replace(fetch, deadline=min(s.page_seconds, s.deadline), max_body=s.max_body,
                             per_host=s.per_host, min_interval={**fetch.min_interval,
                                                                _host(arxiv_api): ARXIV_INTERVAL})

    def texts(self, rows: Sequence[StoredItem], now: datetime) -> dict[int, ItemText]:
        own = {r.id: plain_text(r.summary or "", limit=20_000) for r in rows}
        found: dict[int, ItemText] = {}
        links: dict[int, Link] = {}
        for row in rows:
            text = own[row.id]
            link = classify(row.url, row.arxiv_id) if len(text) < OWN_TEXT_ENOUGH else None
            if link is None or link.note:  # enough text of its own, or nothing we read
                found[row.id] = (ItemText(_own_kind(row), text) if text
                                 else ItemText("none", None, link.note if link else None))
            else:
                links[row.id] = link
        if not links:
            return found
        wanted = {link.url: link for link in links.values()}
        by_id = {r.id: r for r in rows}
        self._inside_ok = {link.url for row_id, link in links.items() if set(by_id[row_id].sources) & self.own_sources}
        cached = self.store.cached_articles(list(wanted))
        todo = [link for url, link in wanted.items()
                if url not in cached or datetime.fromisoformat(cached[url].refetch_after) <= now]
        if self.pages is not None:
            todo = [link for link in todo if link.url in self.pages]
        skipped = {link.url for link in todo[self.settings.max_pages:]}
        todo = todo[: self.settings.max_pages]
        fresh: dict[str, CachedArticle] = {}
        if todo:
            try:
                fresh = asyncio.run(self._read_all(todo, cached, now))
            except Exception as exc:  # something unforeseen: the digest goes out without article text
                log.warning("reading linked pages skipped: %s", exc)
            self.store.cache_articles(list(fresh.values()))
        unread = {link.url for link in todo} - fresh.keys()
        if skipped or unread:
            log.info("linked pages: %d not read (page bound %d, deadline %g s)", len(skipped | unread),
                     self.settings.max_pages, self.settings.deadline)
        for row_id, link in links.items():
            article = fresh.get(link.url) or cached.get(link.url)
            text = own[row_id]
            if article is not None and article.status == "ok" and len(article.text or "") > len(text):
                found[row_id] = ItemText("abstract" if link.kind == "arxiv" else "article", article.text)
                continue
            if article is not None and article.status == "none":
                why = article.reason
            elif link.url in skipped or link.url in unread:
                why = "not read: the digest's time or page budget for linked pages ran out"
            else:
                why = "not read: the demo reads only its saved pages"
            found[row_id] = ItemText(_own_kind(by_id[row_id]), text, why) if text else ItemText("none", None, why)
        return found

    async def _read_all(self, links: Sequence[Link], cached: Mapping[str, CachedArticle],
                        now: datetime) -> dict[str, CachedArticle]:
        """Every link read concurrently (per-host bound kept by the fetcher) within the one deadline;
        what is unfinished then is cancelled and left out."""
        pages = [link for link in links if link.kind != "arxiv"]
        papers = [link for link in links if link.kind == "arxiv"]
        hosts = {_host(link.url) for link in pages} | ({_host(self.arxiv_api)} if papers else set())
        settings = replace(self.fetch, concurrency=global_limit(len(hosts), self.fetch.per_host))
        results: dict[str, CachedArticle] = {}
        async with Fetcher(settings, now=lambda: now) as fetcher:
            tasks = [asyncio.create_task(self._page(fetcher, link, cached.get(link.url), now)) for link in pages]
            if papers:
                tasks.append(asyncio.create_task(self._abstracts(fetcher, papers, now)))
            done, pending = await asyncio.wait(tasks, timeout=self.settings.deadline)
            for task in pending:
                task.cancel()
            if pending:  # let cancelled requests close their connections; never wait long for it
                await asyncio.wait(pending, timeout=1.0)
            for task in done:
                if task.exception() is not None:
                    log.warning("reading a linked page failed: %r", task.exception())
                    continue
                results.update(task.result())
        return results

    async def _page(self, fetcher: Fetcher, link: Link, old: CachedArticle | None,
                    now: datetime) -> dict[str, CachedArticle]:
        target = self.pages.get(link.url, link.url) if self.pages is not None else link.url
        if self.pages is None and link.url not in self._inside_ok and await host_class(_host(link.url)) == "internal":
            return {link.url: _none(link, f"links to an internal address ({_host(link.url)}), which an item of a "
                                          "public feed may not make the bot read", now, FetchResult(link.url, "error"))}
        res = await fetcher.get(target, etag=old.etag if old else None,
                                last_modified=old.last_modified if old else None, accept=ACCEPT_HTML)
        if res.status == "not_modified" and old is not None:  # unchanged: what we read stands
            return {link.url: replace(old, fetched=stamp(now), refetch_after=stamp(now + _keep_for(old.status)))}
        if res.status != "ok":
            if old is not None and old.status == "ok" and _transient(res):  # what we read stands; try later
                return {link.url: replace(old, refetch_after=stamp(_not_before(now, res, True)))}
            return {link.url: _none(link, res.error or "no answer", now, res, transient=_transient(res))}
        ctype = res.content_type.split(";")[0].strip().lower()
        if ctype == "application/pdf":
            return {link.url: _none(link, "a PDF; its text is not read", now, res)}
        if ctype and "html" not in ctype and "xml" not in ctype:
            return {link.url: _none(link, f"not a web page ({ctype}); no text read", now, res)}
        # Inline, not in a thread: extraction takes milliseconds, and a thread left running past the
        # deadline would hold up the digest at the event loop's shutdown.
        extracted = main_text(res.body, link.url, res.content_type)
        if extracted.text is None:
            return {link.url: _none(link, extracted.reason or "no readable text", now, res)}
        return {link.url: CachedArticle(link.url, link.kind, "ok", extracted.text, None, res.etag, res.last_modified,
                                        stamp(now), stamp(now + TEXT_OK_FOR))}

    async def _abstracts(self, fetcher: Fetcher, papers: Sequence[Link], now: datetime) -> dict[str, CachedArticle]:
        """All the papers' abstracts in one API request."""
        ids = [link.arxiv_id or "" for link in papers]
        if self.pages is not None:  # offline: no API to ask
            return {}
        query = urlencode({"id_list": ",".join(ids), "max_results": len(ids)})
        res = await fetcher.get(f"{self.arxiv_api}?{query}", accept="application/atom+xml")
        if res.status != "ok":
            return {link.url: _none(link, f"arXiv did not answer: {res.error}", now, res, transient=_transient(res))
                    for link in papers}
        try:
            items, _ = parse_arxiv(res.body, "arxiv")
        except ParseError as exc:
            return {link.url: _none(link, f"arXiv's answer is unreadable: {exc}", now, res, transient=True)
                    for link in papers}
        abstracts = {item.arxiv_id: item.summary for item in items if item.arxiv_id and item.summary}
        found: dict[str, CachedArticle] = {}
        for link in papers:
            text = abstracts.get(link.arxiv_id or "")
            if text:
                found[link.url] = CachedArticle(link.url, "arxiv", "ok", text, None, None, None, stamp(now),
                                                stamp(now + TEXT_OK_FOR))
            else:
                found[link.url] = _none(link, "arXiv gave no abstract for it", now, res)
        return found


def _own_kind(row: StoredItem) -> TextSource:
    """Where an item's own text came from: a paper's is its abstract, anything else's its feed's."""
    return "abstract" if row.arxiv_id else "feed"


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _keep_for(status: str) -> timedelta:
    return TEXT_OK_FOR if status == "ok" else NONE_FOR


def _transient(res: FetchResult) -> bool:
    """A failure that may pass soon (a timeout, a refused connection, a 5xx, a 429), as against one that
    says what the link is (a 404, a page over the size cap, a redirect the bot will not follow)."""
    if res.http_status is not None:
        return res.http_status >= 500 or res.http_status == 429
    error = res.error or ""
    return not ("cap" in error or "refused:" in error or "redirects" in error)


def _not_before(now: datetime, res: FetchResult, transient: bool) -> datetime:
    """When a URL may be asked again: a site's Retry-After (429, 503) is kept to, if later than our own wait."""
    ours = now + (RETRY_AFTER if transient else NONE_FOR)
    return max(ours, res.retry_after) if res.retry_after is not None else ours


def _none(link: Link, reason: str, now: datetime, res: FetchResult, transient: bool = False) -> CachedArticle:
    return CachedArticle(link.url, link.kind, "none", None, reason, res.etag, res.last_modified, stamp(now),
                         stamp(_not_before(now, res, transient)))


def reader_for(config: Config, store: Store, pages: Mapping[str, str] | None = None) -> ArticleReader:
    """The reader the configuration sets up: [articles] for the budgets, [http] and [bot] user_agent for
    the client (the same limits the feeds are fetched with)."""
    h = config.http
    fetch = FetchSettings(connect_timeout=h.get("connect_timeout", 5.0), read_timeout=h.get("read_timeout", 15.0),
                          max_redirects=int(h.get("max_redirects", 5)), retry_after_cap=24 * 3600.0,
                          user_agent=config.user_agent)
    settings = ArticleSettings(deadline=config.articles_deadline, max_pages=config.articles_max_pages)
    return ArticleReader(store, fetch, settings, config.arxiv_api, pages, own_sources(config))


def own_sources(config: Config) -> frozenset[str]:
    """The feeds whose items may link to internal addresses: those read from a file or asked of an
    internal address literal (localhost, 127.0.0.1, 10.x ...), which only the person configures."""
    try:
        feeds = load_feeds(config)
    except Exception:  # no feeds to judge (a digest of stored items still runs): trust none
        return frozenset()
    return frozenset(f.name for f in feeds if is_local(f.url) or _internal_literal(_host(f.url)))


def _internal_literal(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return address_class(host) == "internal"
    except ValueError:  # a name: feeds on public names are not the person's own
        return False


def saved_pages(folder: Path) -> dict[str, str]:
    """The saved copies of pages in `folder` (its index.json maps each link to a file there), by link."""
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    return {url: str(folder / name) for url, name in index["pages"].items()}
