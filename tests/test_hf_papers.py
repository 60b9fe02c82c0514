"""Hugging Face Daily Papers (optional, off by default): upvotes per arXiv paper, from a server on 127.0.0.1
shaped like huggingface.co/api/daily_papers."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from click.testing import CliRunner

from bot.cli.group import cli
from bot.core.config import load_config
from bot.core.records import StoredItem
from bot.sources.feedlist import load_feeds
from bot.store.database import Store
from tests.conftest import ROOT
from tests.servers import FeedServer, Route, arxiv_atom

DAILY = [  # the lists of the days asked, newest first, as Hugging Face shapes them
    [{"paper": {"id": "2611.00002", "title": "Tokens that route themselves in large language models",
                              "summary": "We route.", "upvotes": 240, "publishedAt": "2026-11-22T18:00:00.000Z"},
                    "title": "Tokens that route themselves in large language models",
                    "publishedAt": "2026-11-23T01:00:00.000Z", "numComments": 4}],
    [{"paper": {"id": "2611.00009", "title": "A paper only Hugging Face listed about LLM agents",
                              "upvotes": 3}, "numComments": 0},
                   {"paper": {"title": "no id: skipped"}}, "not an object"],
]


ASKED: list[str] = []


def daily_handler(handler: BaseHTTPRequestHandler) -> None:
    ASKED.append(parse_qs(urlsplit(handler.path).query).get("date", [""])[0])
    body = json.dumps(DAILY[len(ASKED) - 1] if len(ASKED) <= len(DAILY) else []).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def project(tmp: Path, server: FeedServer, hf: Route) -> None:
    server.route("/arxiv/query", Route(content_type="application/atom+xml", body=arxiv_atom([
        {"id": "2611.00001", "title": "Tokens that wander in large language models", "cats": ["cs.CL"],
         "published": "2026-11-22T10:00:00Z"},
        {"id": "2611.00002", "title": "Tokens that route themselves in large language models", "cats": ["cs.CL"],
         "published": "2026-11-22T10:00:00Z"}])))
    server.route("/api/daily_papers", hf)
    (tmp / "bot.toml").write_text(
        f'[bot]\ndb = "bot.db"\ntopics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n'
        '[library]\npaths = []\n[hn]\nlookup = false\n'
        f'[[feeds]]\nname = "arxiv"\nkind = "arxiv"\nmin_interval = 0\nurl = "{server.url("/arxiv/query")}"\n'
        f'[[feeds]]\nname = "hf"\nkind = "hf_papers"\nurl = "{server.url("/api/daily_papers")}"\n')


def poll(tmp: Path, hf: Route) -> tuple[dict[str, Any], dict[str | None, StoredItem]]:
    with FeedServer() as server:
        project(tmp, server, hf)
        result = CliRunner().invoke(cli, ["poll", "--json"], catch_exceptions=False)
    report = json.loads(result.stdout)
    store = Store.open(str(tmp / "bot.db"))
    rows = {r.arxiv_id: r for r in store.all_items()}
    store.close()
    return report, rows


def test_upvotes_join_the_paper_from_arxiv_and_lift_it(workdir: Path) -> None:
    ASKED.clear()
    report, rows = poll(workdir, Route(handler=daily_handler, content_type="application/json"))
    hf = next(s for s in report["sources"] if s["name"] == "hf")
    assert hf["result"] == "ok" and hf["requests"] == 2
    today, yesterday = (date.fromisoformat(d) for d in ASKED)  # one request per day, newest first
    assert today - yesterday == timedelta(days=1)
    routed, wandering = rows["2611.00002"], rows["2611.00001"]
    assert routed.sources == ("arxiv", "hf") and routed.points == 240 and routed.comments == 4
    # the same kind of paper, equally on topic: the upvoted one ranks higher, and says why
    assert routed.score > wandering.score and routed.explain["signal"] > wandering.explain["signal"]
    assert "2611.00009" in rows and rows["2611.00009"].points == 3  # listed by Hugging Face alone


def test_a_broken_answer_is_the_sources_error_and_loses_nothing_else(workdir: Path) -> None:
    report, rows = poll(workdir, Route(body=b"<html>rate limited</html>", content_type="text/html"))
    hf = next(s for s in report["sources"] if s["name"] == "hf")
    assert hf["result"] == "error" and "not JSON" in hf["error"]
    assert set(rows) == {"2611.00001", "2611.00002"}  # arXiv's papers are stored all the same


def test_off_by_default(workdir: Path) -> None:
    config = load_config(None, env={}, cwd=ROOT)  # the shipped feeds/ folder
    feeds = {f.name: f for f in load_feeds(config)}
    assert feeds["hf-daily-papers"].kind == "hf_papers" and not feeds["hf-daily-papers"].enabled


def test_a_few_upvotes_never_count_against_a_paper() -> None:
    from dataclasses import replace

    from bot.core.normalize import make_item
    from bot.relevance.score import Scorer
    from bot.relevance.taste import LibraryModel
    from bot.relevance.topics import TopicMatcher

    scorer = Scorer(TopicMatcher([]), LibraryModel(), datetime(2026, 11, 23, tzinfo=UTC))
    paper = make_item(source="arxiv", title="Tokens that wander", url="https://arxiv.org/abs/2611.00001",
                      published=None, arxiv_id="2611.00001")
    assert paper is not None
    listed = replace(paper, categories=("cs.CL", "cs.LG"))
    assert scorer.signal(replace(listed, points=2)) == scorer.signal(listed) == 0.45  # two tracked lists
    assert scorer.signal(replace(listed, points=300)) > 0.9
