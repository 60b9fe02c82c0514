"""`bot status`'s library counts (Store.library_stats), read in one pass over the entries and through
the (kind, value) index, are those the separate queries gave, on the shipped seeds (every format: links,
internal links, arXiv and HN ids, DOIs, title-only lines) and with entries and ids shared and removed."""

from __future__ import annotations

from pathlib import Path

import bot.library.api as lib
from bot.core.records import LibraryStats
from bot.store.database import Store
from tests.conftest import ROOT


def counted_apart(store: Store) -> LibraryStats:
    """The statistics as one query each (the simple path)."""

    def one(sql: str) -> int:
        return int(store.db.execute(sql).fetchone()[0] or 0)

    return LibraryStats(
        entries=one("select count(*) from library_entries"),
        links=one("select coalesce(sum(json_array_length(urls)), 0) from library_entries"),
        internal_links=one("select coalesce(sum(json_array_length(internal_links)), 0) from library_entries"),
        arxiv_ids=one("select count(distinct value) from identities where owner='entry' and kind='arxiv'"),
        hn_ids=one("select count(distinct value) from identities where owner='entry' and kind='hn'"),
        dois=one("select count(distinct value) from identities where owner='entry' and kind='doi'"),
        title_only=one("select count(*) from library_entries where kind = 'title-only'"),
        documents=one("select count(distinct file) from library_entries"),
    )


def test_library_stats_count_what_the_separate_queries_count(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    assert store.library_stats() == counted_apart(store) == LibraryStats(0, 0, 0, 0, 0, 0, 0, 0)
    lib.import_documents(store, [ROOT / "seeds"])
    stats = store.library_stats()
    assert stats == counted_apart(store)
    assert min(stats.entries, stats.links, stats.arxiv_ids, stats.hn_ids, stats.title_only, stats.documents) > 0
    # Stored items share the entries' ids: they are not the library's.
    store.db.execute("insert into identities (kind, value, owner, owner_id) "
                     "select kind, value || 'x', 'item', owner_id from identities where owner = 'entry'")
    log = tmp_path / "log.md"
    log.write_text("## 1 May 2023\n* [Again](https://arxiv.org/abs/1706.03762) and https://doi.org/10.1000/xyz123\n"
                   "* “A Title Only Entry About Attention” by someone (2017)\n", encoding="utf-8")
    lib.import_documents(store, [log])
    assert store.library_stats() == counted_apart(store)
    store.remove_library_file(str(log.resolve()))
    assert store.library_stats() == counted_apart(store) == stats


def test_the_entries_files_found_by_index_searches_are_those_distinct_and_group_by_find(tmp_path: Path) -> None:
    """library_files, library_file_order and the legacy part of library_content_key search the file
    index once per file instead of reading all of it: the same answers as `select distinct file` and
    `group by file order by min(id)`, with entries under names no document row holds (an old database)
    and without a file at all (written by hand)."""
    store = Store.open(tmp_path / "bot.db")

    def by_sql() -> tuple[set[str], list[str], int]:
        return ({r[0] for r in store.db.execute("select distinct file from library_entries")},
                [r[0] for r in store.db.execute("select file from library_entries group by file order by min(id)")],
                int(store.db.execute("select count(distinct file) from library_entries").fetchone()[0]))

    def found() -> tuple[set[str], list[str], int]:
        return store.library_files(), store.library_file_order(), store.library_stats().documents

    assert found() == by_sql() == (set(), [], 0)
    lib.import_documents(store, [ROOT / "seeds"])
    assert found() == by_sql() and len(found()[1]) > 3
    key = store.library_content_key()
    store.db.execute("insert into library_entries (file, kind, title, urls, internal_links) "
                     "values ('seeds/old-relative-name.md', 'link', 'Old', '[]', '[]')")
    assert found() == by_sql()
    assert store.library_content_key() != key  # entries no document accounts for: keyed by generation
    store.db.execute("insert into library_entries (file, kind, title, urls, internal_links) "
                     "values (null, 'link', 'By hand', '[]', '[]')")
    store.db.execute("update library_entries set file = 'aaa-first.md' where id = (select min(id) from library_entries)")
    assert found() == by_sql() and None in found()[0]
