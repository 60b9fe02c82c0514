"""`bot add URL`: the person's own finds, added to the log in their own style.

Resolves the title (arXiv and HN ids through their APIs, other pages by `og:title` or `<title>`),
finds the HN thread, refuses what the library already has (naming the entry), and appends
`* [title](url) and [HN thread](...)` with the note under the right dated heading, atomically.

Only the person's library (the log among it) blocks their own find. An item a poll stored and no digest
carried is theirs to add: it is promoted, appended with what the poll knew of it (its title unless
--title, its clean link, its HN thread), and marked "picked" so the digest never offers it again.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, replace
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from bot.core.config import ARXIV_API_URL, Config
from bot.core.errors import BotError, ConfigError
from bot.core.identity import (
    Identity,
    arxiv_id_from_url,
    clean_url,
    hn_id_from_url,
    parse_link,
    title_identity,
    url_identities,
    with_scheme,
)
from bot.core.normalize import plain_text
from bot.core.records import Discussion, Match, StoredItem
from bot.core.redact import without_userinfo
from bot.delivery.git import commit_subject, git_commit
from bot.delivery.log import append_section
from bot.digest.render import DigestItem, render_log_section
from bot.library.api import build_index, display_path, import_documents
from bot.sources.fetch import Fetcher, FetchSettings
from bot.sources.hn_threads import ThreadFinder
from bot.sources.parsers import ParseError, parse_arxiv
from bot.store.database import Store


class AddError(BotError):
    """This URL cannot be added; the message says why and what to do."""


@dataclass(frozen=True)
class AddResult:
    query: str
    status: str  # added | dry-run | known | failed
    message: str
    entry: str | None = None
    match: dict[str, Any] | None = None
    item: int | None = None  # the stored item it promoted (now the person's pick), if any

    def as_dict(self) -> dict[str, Any]:
        return {"query": self.query, "status": self.status, "message": self.message, "entry": self.entry,
                "match": self.match, "item": self.item}


class _TitleParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.og: str | None = None
        self.title_parts: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "meta" and (a.get("property") or a.get("name") or "").lower() in ("og:title", "twitter:title"):
            self.og = self.og or a.get("content")
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)


def page_title(body: bytes, charset: str | None = None) -> str | None:
    try:
        text = body[:512 * 1024].decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know: read it as UTF-8
        text = body[:512 * 1024].decode("utf-8", errors="replace")
    parser = _TitleParser()
    try:
        parser.feed(text)
    except Exception:  # html.parser is lenient; anything it still chokes on means no title
        return None
    title = plain_text(parser.og or "".join(parser.title_parts), 300)
    return title or None


class Adder:
    def __init__(self, config: Config, store: Store, settings: FetchSettings, finder: ThreadFinder | None,
                 arxiv_api: str = ARXIV_API_URL) -> None:
        self.config = config
        self.store = store
        self.settings = settings
        self.finder = finder
        self.arxiv_api = arxiv_api

    async def _title(self, fetcher: Fetcher, url: str) -> tuple[str, str, int | None]:
        """(title, link to keep, HN id when the link is an HN item)."""
        arxiv = arxiv_id_from_url(url)
        if arxiv:
            res = await fetcher.get(f"{self.arxiv_api}?id_list={arxiv}", accept="application/atom+xml")
            if res.status != "ok":
                raise AddError(f"arXiv did not answer for {arxiv}: {res.error}; pass --title to add it anyway")
            try:
                items, _ = parse_arxiv(res.body, "arxiv")
            except ParseError as exc:
                raise AddError(f"arXiv's answer for {arxiv} is unreadable ({exc}); pass --title") from exc
            if not items:
                raise AddError(f"arXiv has no paper {arxiv}")
            return items[0].title, f"https://arxiv.org/abs/{arxiv}", None
        hn = hn_id_from_url(url)
        if hn and self.finder is not None:
            res = await fetcher.get(f"{self.finder.search_url}/items/{hn}", accept="application/json")
            if res.status != "ok":
                raise AddError(f"HN did not answer for item {hn}: {res.error}; pass --title to add it anyway")
            try:
                data = json.loads(res.body)
            except ValueError as exc:
                raise AddError(f"HN's answer for item {hn} is not JSON; pass --title") from exc
            raw_title, raw_url = data.get("title"), data.get("url")  # text only: a list is no title
            title = plain_text(raw_title, 300) if isinstance(raw_title, str) else ""
            if not title:
                raise AddError(f"HN item {hn} has no title (a comment?); pass --title")
            link = with_scheme(raw_url) if isinstance(raw_url, str) else None  # http(s) only: no javascript:
            link = link if link and parse_link(link) else Discussion.hn(hn).url  # Ask HN, or no web link
            return title, without_userinfo(clean_url(link)), hn
        res = await fetcher.get(url, accept="text/html,application/xhtml+xml;q=0.9,*/*;q=0.5")
        if res.status != "ok":
            raise AddError(f"Cannot fetch {url}: {res.error}; pass --title to add it anyway")
        ctype = res.content_type.split(";")[0].strip().lower()
        if ctype and "html" not in ctype:
            raise AddError(f"{url} is not an HTML page ({ctype}), so it has no title to read; pass --title")
        charset = None
        if "charset=" in res.content_type:
            charset = res.content_type.split("charset=")[-1].split(";")[0].strip() or None
        found = page_title(res.body, charset)
        if not found:
            raise AddError(f"{url} has no <title> or og:title; pass --title")
        return found, without_userinfo(clean_url(url)), None

    async def _thread(self, fetcher: Fetcher, link: str, arxiv: str | None) -> Discussion | None:
        if self.finder is None:
            return None
        thread, _error = await self.finder.find(fetcher, link, arxiv)  # HN down: no thread, not an error
        return thread.discussion if thread else None

    def _known(self, query: str, match: Match) -> AddResult:
        entry = self.store.library_entry(match.owner_id)
        if entry is not None:
            entry = replace(entry, file=display_path(Path(entry.file)))  # stored absolute; shown as the person named it
            where, label = f"{entry.file}:{entry.line}", entry.title or (entry.text or "")[:80]
        else:  # in a race with an import, nothing any more
            where, label = f"library entry {match.owner_id}", ""
        return AddResult(query, "known", f"Already in the library: {where} ({label}), matched by {match.rule}",
                         match={"file": entry.file if entry else None, "line": entry.line if entry else None,
                                "title": entry.title if entry else None, "rule": match.rule})

    def _stored(self, items: Any, identities: set[Identity]) -> StoredItem | None:
        """The stored item these identities name that the person may still add: one no digest carried
        (a digested one went to the log already, unless the person deleted its line: then it is theirs
        again too)."""
        match = items.match(identities)
        return self.store.item(match.owner_id) if match is not None else None

    def _promote(self, query: str, stored: StoredItem, title: str | None, library: Any) -> AddResult | DigestItem:
        """A stored item as the person's own find: what the poll knew of it, checked against the
        library by every identity it has."""
        match = library.match(self.store.item_identities(stored.id))
        if match is not None:
            return self._known(query, match)
        link = (without_userinfo(clean_url(stored.url)) if stored.url
                else stored.discussion.url if stored.discussion else None)
        if link is None:
            return AddResult(query, "failed", f"Stored item {stored.id} has no link to add")
        return DigestItem(id=stored.id, title=title or stored.title, url=link, discussion=stored.discussion,
                          arxiv_id=stored.arxiv_id, sources=("add",), topics=(), score=0.0,
                          published=self.store.now(), summary=None)

    def add(self, queries: list[str], note: str | None, day: date, title: str | None, dry_run: bool,
            commit: bool) -> list[AddResult]:
        if self.config.log is None:
            raise ConfigError("No log to add to: set [bot] log in bot.toml")
        # Two indexes, not one: only the library blocks a find; a stored item is promoted.
        library = build_index(self.store, owners=("entry",))
        items = build_index(self.store, owners=("item",))
        results: list[AddResult] = []

        async def resolve_all() -> list[Any]:
            async with Fetcher(self.settings, now=self.store.clock) as fetcher:
                return list(await asyncio.gather(*(self._resolve(fetcher, q, title, library, items)
                                                   for q in queries), return_exceptions=True))

        resolved = asyncio.run(resolve_all())
        added_lines: list[str] = []
        added_titles: list[str] = []
        picked: list[int] = []
        added_sections: list[tuple[str, date | None]] = []  # what to commit: exactly what was appended
        for query, outcome in zip(queries, resolved, strict=True):
            if isinstance(outcome, AddResult):
                results.append(outcome)
                continue
            if isinstance(outcome, BaseException):
                results.append(AddResult(query, "failed", str(outcome)))
                continue
            item = replace(outcome, summary=note)
            section = render_log_section(day, [item])
            entry = "\n".join(section.splitlines()[1:])
            if entry.splitlines()[0] in added_lines:
                results.append(AddResult(query, "known", "Given twice in this run; added once", entry))
                continue
            added_lines.append(entry.splitlines()[0])
            stored = item.id or None  # a promoted item keeps its stored id; a new find has none
            promoted = f" (stored item {stored}, now your pick: no digest offers it)" if stored else ""
            if dry_run:
                results.append(AddResult(query, "dry-run", f"Would add under ## {section.splitlines()[0][3:]}"
                                         + promoted, section, item=stored))
                continue
            append_section(self.config.log, section, day)
            added_titles.append(item.title)
            added_sections.append((section, day))
            if stored:
                picked.append(stored)
            results.append(AddResult(query, "added", f"Added under {section.splitlines()[0]}{promoted}", entry,
                                     item=stored))
        if picked:  # in the log now, so the digest must not offer it as new
            self.store.mark_items(picked, "picked")
        if added_titles:
            import_documents(self.store, [self.config.log])  # known from now on
            if commit:
                git_commit(self.config.log, commit_subject("add: ", added_titles), added_sections,
                           timeout=self.config.git_timeout, no_verify=self.config.git_no_verify)
        return results

    async def _resolve(self, fetcher: Fetcher, query: str, title: str | None, library: Any,
                       items: Any) -> AddResult | DigestItem:
        url = with_scheme(query.strip())
        if url is None or parse_link(url) is None:
            return AddResult(query, "failed", f"{query!r} is not a link (http://, https:// or www.)")
        match = library.match(url_identities(url))
        if match is not None:
            return self._known(query, match)
        stored = self._stored(items, url_identities(url))
        if stored is not None:  # no need to fetch a title: the poll has it
            return self._promote(query, stored, title, library)
        if title:
            found_title, link, hn_item = title, without_userinfo(clean_url(url)), hn_id_from_url(url)
        else:
            found_title, link, hn_item = await self._title(fetcher, url)
        # The resolved link (an HN story's article, an arXiv abs page) or the title may be known even if
        # the query was not.
        discussion = Discussion.hn(hn_item) if hn_item else None
        resolved = url_identities(link) | ({discussion.identity} if discussion else set())
        title_ident = title_identity(found_title, min_words=3)
        match = library.match(resolved | ({title_ident} if title_ident else set()))
        if match is not None:
            return self._known(query, match)
        stored = self._stored(items, resolved)  # by its links only: a title alone may name another story
        if stored is not None:
            return self._promote(query, stored, title, library)
        if discussion is None:
            discussion = await self._thread(fetcher, link, arxiv_id_from_url(link))
        return DigestItem(id=0, title=found_title, url=link, discussion=discussion,
                          arxiv_id=arxiv_id_from_url(link), sources=("add",), topics=(), score=0.0,
                          published=self.store.now(), summary=None)
