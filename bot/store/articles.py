"""The article cache: what reading each linked URL gave (its main text, or none and why), one row per URL."""

from __future__ import annotations

from typing import cast

from bot.core.errors import StoreError
from bot.core.records import ArticleStatus, CachedArticle
from bot.store.base import StoreBase

_STATUSES = ("ok", "none")
_CHUNK = 500  # keys per query: SQLite's bound on parameters is 999 in old builds
_COLUMNS = "url, kind, status, text, reason, etag, last_modified, fetched, refetch_after"


class ArticleRecords(StoreBase):
    def cached_articles(self, urls: list[str]) -> dict[str, CachedArticle]:
        """The cached results for these URLs, by URL (URLs never read are left out)."""
        found: dict[str, CachedArticle] = {}
        for i in range(0, len(urls), _CHUNK):
            chunk = urls[i:i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(f"select {_COLUMNS} from articles where url in ({marks})", chunk):
                found[row[0]] = _article(row)
        return found

    def cache_articles(self, results: list[CachedArticle]) -> None:
        """Keeps these results, replacing what was kept for the same URLs, in one transaction."""
        if not results:
            return
        with self.transaction():
            for a in results:
                self.db.execute(
                    f"insert into articles ({_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (url) do "
                    "update set kind = excluded.kind, status = excluded.status, text = excluded.text, "
                    "reason = excluded.reason, etag = excluded.etag, last_modified = excluded.last_modified, "
                    "fetched = excluded.fetched, refetch_after = excluded.refetch_after",
                    [a.url, a.kind, a.status, a.text, a.reason, a.etag, a.last_modified, a.fetched,
                     a.refetch_after])


def _article(row: tuple[object, ...]) -> CachedArticle:
    url, kind, status, text, reason, etag, last_modified, fetched, refetch_after = row
    if status not in _STATUSES:  # written by no version of the bot: someone edited the database
        raise StoreError(f"The cached article {url} has the status {status!r}, which no version of the bot "
                         "writes; delete the row, and the page is read again")
    return CachedArticle(url=str(url), kind=str(kind), status=cast(ArticleStatus, status),
                         text=cast("str | None", text), reason=cast("str | None", reason),
                         etag=cast("str | None", etag), last_modified=cast("str | None", last_modified),
                         fetched=str(fetched), refetch_after=str(refetch_after))
