"""The real recordings in ../shared/fixtures, read from there (never copied): the parsers against real
documents, and a poll of them served from 127.0.0.1. Skips when the folder is absent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import bot.library.api as lib
from bot.poll import poll
from bot.sources.parsers import parse_algolia, parse_arxiv, parse_rss
from bot.store.database import Store
from tests.conftest import SEEDS
from tests.servers import FeedServer, Route
from tests.test_poll import NOW, make_config

pytestmark = pytest.mark.fixtures

BLOG_COUNTS = {"lilianweng-index-2023-11-06.xml": 46, "simonw-substack-2023-05-27.xml": 17,
               "anthropic-news-feedgen.xml": 255, "the-batch-feedgen.xml": 372}


@pytest.mark.parametrize("name,count", sorted(BLOG_COUNTS.items()))
def test_real_blog_feeds_parse(shared_fixtures: Path, name: str, count: int) -> None:
    items = parse_rss((shared_fixtures / "blogs" / name).read_bytes(), "blog")
    assert len(items) == count
    assert all(i.url and i.url.startswith("https://") and i.title for i in items)
    assert sum(1 for i in items if i.published) >= count * 0.9
    assert len({i.url for i in items}) >= count * 0.95


def test_real_hnrss_front_pages_are_hn_items_with_counts(shared_fixtures: Path) -> None:
    files = sorted((shared_fixtures / "hnrss-frontpage-2023").glob("*.xml"))
    assert len(files) == 120
    total = with_points = with_hn = 0
    for path in files:
        items = parse_rss(path.read_bytes(), "hnrss")
        assert items, path.name
        with_hn += sum(1 for i in items if i.hn_id and i.hn_url)
        with_points += sum(1 for i in items if i.points is not None)
        total += len(items)
    assert 7500 <= total <= 8100
    # A few records were captured without their counts or their HN links; nearly all have both.
    assert with_hn >= total * 0.995 and with_points >= total * 0.99


def test_real_algolia_answers(shared_fixtures: Path) -> None:
    folder = shared_fixtures / "hn-algolia"
    front, paging = parse_algolia((folder / "algolia_front_page_2023-01.json").read_bytes(), "hn")
    assert len(front) == 30 and paging["nbHits"] == 45 and paging["oldest"]
    assert all(i.hn_id and i.points is not None for i in front)
    comments, _ = parse_algolia((folder / "algolia_comments_page_2023-01.json").read_bytes(), "hn")
    assert comments == []  # comments are not stories


def test_real_arxiv_answers(shared_fixtures: Path) -> None:
    folder = shared_fixtures / "arxiv-api"
    search, paging = parse_arxiv(next(folder.glob("q_*.xml")).read_bytes(), "arxiv")
    assert len(search) == 100 and paging["total"] and paging["total"] > 100
    assert all(i.arxiv_id and re.match(r"^\d{4}\.\d{4,5}$|^[a-z-]+(\.[a-z]{2})?/\d{7}$", i.arxiv_id) for i in search)
    assert all(i.url == f"https://arxiv.org/abs/{i.arxiv_id}" and i.summary for i in search)
    by_id, _ = parse_arxiv(next(folder.glob("id_*.xml")).read_bytes(), "arxiv")
    assert len(by_id) == 1  # the invalid id's error entry is not a paper


def test_poll_of_real_recordings_served_over_http(shared_fixtures: Path, tmp_path: Path) -> None:
    with FeedServer() as server:
        feeds = []
        for n, name in enumerate(sorted(BLOG_COUNTS)):
            url = server.route(f"/blog{n}.xml", Route(body=(shared_fixtures / "blogs" / name).read_bytes(),
                                                      etag=f'"b{n}"', gzip=n % 2 == 0))
            feeds.append({"name": f"blog{n}", "url": url})
        day = shared_fixtures / "hnrss-frontpage-2023" / "2023-03-11.xml"
        feeds.append({"name": "hnrss", "url": server.route("/hnrss.xml", Route(body=day.read_bytes(), etag='"h"'))})
        arxiv = next((shared_fixtures / "arxiv-api").glob("q_*.xml")).read_bytes()
        feeds.append({"name": "arxiv", "kind": "arxiv", "min_interval": 0, "url": server.route(
            "/api/query", Route(body=arxiv, content_type="application/atom+xml"))})
        config = make_config(tmp_path, feeds, http="max_body_mb = 5\n")
        store = Store.open(config.db)
        lib.import_documents(store, [SEEDS])
        first = {s.name: s for s in poll(config, store, now=NOW).sources}
        second = {s.name: s for s in poll(config, store, now=NOW).sources}
    assert all(s.result == "ok" for s in first.values()), {n: s.error for n, s in first.items()}
    assert first["hnrss"].fetched > 50 and first["arxiv"].fetched == 100
    # The person's own pick that day (llama.cpp on Apple silicon, HN 35100086) is known, not new.
    assert not [i for i in store.all_items() if i.hn_id == 35100086]
    assert first["hnrss"].known >= 1
    assert all(second[f"blog{n}"].not_modified for n in range(4)) and second["hnrss"].not_modified


def test_logged_front_page_stories_are_never_new(shared_fixtures: Path, tmp_path: Path) -> None:
    """Every HN thread the log links that appears on a recorded front page is known on a poll of it."""
    logged = set(re.findall(r"news\.ycombinator\.com/item\?id=(\d+)", (SEEDS / "001_71959d29a843dc8b.txt").read_text()))
    days = sorted((shared_fixtures / "hnrss-frontpage-2023").glob("*.xml"))
    feeds = [{"name": p.stem, "url": str(p)} for p in days]
    config = make_config(tmp_path, feeds)
    store = Store.open(config.db)
    lib.import_documents(store, [SEEDS])
    poll(config, store, now=NOW)
    stored = {str(i.hn_id) for i in store.all_items() if i.hn_id is not None}
    on_front_pages = {str(i.hn_id) for p in days for i in parse_rss(p.read_bytes(), "x")}
    assert logged & on_front_pages, "the recordings should include some of the person's picks"
    assert not (logged & stored)
