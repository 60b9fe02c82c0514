"""HN discussion lookup and `bot add`, against Algolia-, arXiv- and page-shaped servers on 127.0.0.1."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

import bot.library.api as lib
from bot.cli.group import cli
from bot.core.config import load_config
from bot.digest.pipeline import DigestOptions, run
from bot.poll import fetch_settings, poll
from bot.sources.hn_threads import ThreadFinder
from bot.store.database import Store
from tests.conftest import ROOT, SEEDS
from tests.servers import FeedServer, Route, arxiv_atom, rss
from tests.test_digest import targets

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
STORIES = [  # what "HN" knows: (id, title, url, points, created_at_i)
    (47000001, "Sparse attention paper (pdf)", "https://arxiv.org/pdf/2611.00001v2", 120, 1795000000),
    (47000002, "Sparse attention, resubmitted", "http://arxiv.org/abs/2611.00001", 40, 1795000500),
    (47000003, "LoRA for everyone", "https://www.lora.example/post/?utm_source=hn&ref=hn", 77, 1795001000),
    (47000004, "Unrelated with the id in the query", "https://example.com/2611.00001-notes", 999, 1795002000),
    (47000005, "A page about caching", "https://cache.example/page", 10, 1795003000),
]


def algolia_handler(handler: BaseHTTPRequestHandler) -> None:
    parts = urlsplit(handler.path)
    if parts.path.startswith("/api/v1/items/"):
        hn = int(parts.path.rsplit("/", 1)[-1])
        story = next((s for s in STORIES if s[0] == hn), None)
        body = json.dumps({"id": hn, "title": story[1], "url": story[2], "points": story[3]} if story
                          else {"id": hn, "title": None}).encode()
    else:
        query = parse_qs(parts.query)["query"][0]
        hits = [{"objectID": str(i), "title": t, "url": u, "points": p, "num_comments": 5, "created_at_i": c,
                 "_tags": ["story"]} for i, t, u, p, c in STORIES if query.lower() in u.lower()]
        body = json.dumps({"hits": hits, "nbHits": len(hits)}).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def project(tmp: Path, server: FeedServer, hn_up: bool = True) -> Any:
    (tmp / "library").mkdir(exist_ok=True)
    log = (SEEDS / "001_71959d29a843dc8b.txt").read_text(encoding="utf-8")
    (tmp / "library" / "log.md").write_text(log, encoding="utf-8")
    server.route("/api/v1/search", Route(handler=algolia_handler))
    server.route("/api/v1/items", Route(handler=algolia_handler))
    for n in (47000001, 47000002, 47000003, 47000004, 47000005, 47000099):
        server.route(f"/api/v1/items/{n}", Route(handler=algolia_handler))
    search = server.url("/api/v1") if hn_up else "http://127.0.0.1:9/api/v1"
    (tmp / "bot.toml").write_text(
        f'[bot]\ndb = "bot.db"\nlog = "library/log.md"\ntopics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n'
        f'arxiv_api = "{server.url("/arxiv/query")}"\n'
        f'[library]\npaths = ["library"]\n[hn]\nsearch_url = "{search}"\n'
        "[http]\nconnect_timeout = 1\nread_timeout = 2\nfeed_deadline = 4\n"
        f'[[feeds]]\nname = "arxiv"\nkind = "arxiv"\nmin_interval = 0\nurl = "{server.url("/arxiv/query")}"\n'
        f'[[feeds]]\nname = "blog"\nurl = "{server.url("/blog.xml")}"\n')
    return load_config(str(tmp / "bot.toml"), env={})


def feeds(server: FeedServer) -> None:
    server.route("/arxiv/query", Route(content_type="application/atom+xml", body=arxiv_atom([
        {"id": "2611.00001", "title": "Sparse Attention for Long-Context LLM Inference", "cats": ["cs.CL"]}])))
    server.route("/blog.xml", Route(body=rss([
        {"title": "LoRA fine-tuning for everyone", "link": "https://lora.example/post"},
        {"title": "KV cache tricks for LLM inference", "link": "https://kv.example/tricks"}])))


def digest_items(tmp: Path, hn_up: bool = True) -> dict[str, Any]:
    with FeedServer() as server:
        feeds(server)
        config = project(tmp, server, hn_up)
        store = Store.open(config.db)
        lib.import_documents(store, config.library_paths)
        poll(config, store, now=NOW)
        finder = ThreadFinder(fetch_settings(config, []), config.hn_search_url)
        outcome = run(config, store, DigestOptions(slack=False), targets(), NOW, finder=finder)
    return {i.url: i for i in outcome.items}


def test_digest_items_get_their_best_hn_thread(tmp_path: Path) -> None:
    items = digest_items(tmp_path)
    paper = items["https://arxiv.org/abs/2611.00001"]
    assert paper.hn_id == 47000001 and paper.points == 120  # the pdf v2 submission has more points
    blog = items["https://lora.example/post"]
    assert blog.hn_id == 47000003  # its HN story links it with www., a slash and tracking parameters
    assert items["https://kv.example/tricks"].hn_url is None  # no thread: no link, not an error
    log = (tmp_path / "library" / "log.md").read_text()
    assert "* [LoRA fine-tuning for everyone](https://lora.example/post) and " \
           "[HN thread](https://news.ycombinator.com/item?id=47000003)" in log
    assert "* [KV cache tricks for LLM inference](https://kv.example/tricks)\n" in log


def test_hn_down_means_a_digest_without_threads(tmp_path: Path) -> None:
    items = digest_items(tmp_path, hn_up=False)
    assert len(items) == 3 and all(i.hn_url is None for i in items.values())
    assert "## 23 November 2026" in (tmp_path / "library" / "log.md").read_text()


# ---- bot add -------------------------------------------------------------------------------------

PERSON_LINE = re.compile(r"^\* \[[^\]\n]+\]\(https?://[^)\s]+\)( and \[HN thread\]\(https://news\.ycombinator\.com/item\?id=\d+\))?$")
HEADING = re.compile(r"^## \d{2} [A-Z][a-z]+ \d{4}$")


def test_the_persons_own_lines_match_the_pattern_add_writes() -> None:
    log = (SEEDS / "001_71959d29a843dc8b.txt").read_text().splitlines()
    own = [line.strip() for line in log if PERSON_LINE.match(line.strip())]
    assert len(own) >= 3  # e.g. "* [RAG variants](...)" and "* [HN thread](...) about ..."
    assert sum(1 for line in log if HEADING.match(line)) > 30


def add(tmp: Path, server: FeedServer, *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--config", str(tmp / "bot.toml"), "add", *args], input=input,
                                catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def pages(server: FeedServer) -> None:
    html = b"<html><head><title>Ignored</title><meta property='og:title' content='Mixture of Depths, explained'></head></html>"
    server.route("/page", Route(body=html, content_type="text/html; charset=utf-8"))
    server.route("/plain", Route(body=b"<html><head><title>A plain &amp; simple page</title></head></html>",
                                 content_type="text/html"))
    server.route("/untitled", Route(body=b"<html><body>no title here</body></html>", content_type="text/html"))
    server.route("/paper.pdf", Route(body=b"%PDF-1.4 ...", content_type="application/pdf"))
    server.route("/arxiv/query", Route(content_type="application/atom+xml", body=arxiv_atom([
        {"id": "2611.00001", "title": "Sparse Attention for Long-Context LLM Inference"}])))


def test_add_writes_the_persons_style_under_a_new_dated_heading(workdir: Path) -> None:
    with FeedServer() as server:
        pages(server)
        project(workdir, server)
        code, out, err = add(workdir, server, server.url("/page"), "--date", "2026-11-23", "--note", "Read later.")
        code2, _, _ = add(workdir, server, "https://arxiv.org/pdf/2611.00001v3.pdf", "--date", "2026-11-23")
    assert code == 0 and code2 == 0, err
    lines = (workdir / "library" / "log.md").read_text().splitlines()
    at = lines.index("## 23 November 2026")
    assert HEADING.match(lines[at])
    assert lines[at + 1] == f"* [Mixture of Depths, explained]({server.url('/page')})"
    assert lines[at + 2] == "\t* Read later."
    assert lines[at + 3] == ("* [Sparse Attention for Long-Context LLM Inference](https://arxiv.org/abs/2611.00001) "
                             "and [HN thread](https://news.ycombinator.com/item?id=47000001)")
    assert PERSON_LINE.match(lines[at + 1]) and PERSON_LINE.match(lines[at + 3])
    assert lines.count("## 23 November 2026") == 1


def test_add_files_an_old_date_in_order(workdir: Path) -> None:
    with FeedServer() as server:
        pages(server)
        project(workdir, server)
        code, _, _ = add(workdir, server, server.url("/plain"), "--date", "2023-05-02")
    lines = (workdir / "library" / "log.md").read_text().splitlines()
    assert code == 0
    new = lines.index("## 02 May 2023")
    assert lines.index("## 01 May 2023") < new < lines.index("## 03 May 2023")
    assert lines[new + 1] == f"* [A plain & simple page]({server.url('/plain')})"


def test_add_refuses_what_the_library_has_and_names_the_entry(workdir: Path) -> None:
    with FeedServer() as server:
        pages(server)
        project(workdir, server)
        before = (workdir / "library" / "log.md").read_text()
        code, _, err = add(workdir, server, "http://www.arxiv.org/abs/2305.14314v2?utm_source=x")
    assert code == 1
    assert "Already in the library: library/log.md:" in err and "QLoRA" in err and "arxiv" in err
    assert (workdir / "library" / "log.md").read_text() == before


@pytest.mark.parametrize("path,message", [
    ("/untitled", "has no <title> or og:title; pass --title"),
    ("/paper.pdf", "is not an HTML page (application/pdf)"),
    ("UNREACHABLE", "Cannot fetch"),
])
def test_add_explains_what_it_cannot_do(workdir: Path, path: str, message: str) -> None:
    with FeedServer() as server:
        pages(server)
        project(workdir, server)
        url = "http://127.0.0.1:9/nothing" if path == "UNREACHABLE" else server.url(path)
        code, _, err = add(workdir, server, url)
        assert code == 1 and message in err
        code, out, _ = add(workdir, server, url, "--title", "Named by hand", "--date", "2026-11-23")
    assert code == 0 and "* [Named by hand](" in (workdir / "library" / "log.md").read_text()


def test_add_many_from_stdin_with_dry_run(workdir: Path) -> None:
    with FeedServer() as server:
        pages(server)
        project(workdir, server)
        before = (workdir / "library" / "log.md").read_text()
        stdin = f"{server.url('/page')}\n{server.url('/plain')}\nhttps://news.ycombinator.com/item?id=36064568\n"
        code, out, err = add(workdir, server, "-", "--dry-run", "--json", input=stdin)
    results = json.loads(out)
    assert [r["status"] for r in results] == ["dry-run", "dry-run", "known"]
    assert code == 1  # one of them was refused
    assert (workdir / "library" / "log.md").read_text() == before


def test_add_refuses_a_known_title_under_another_link(workdir: Path) -> None:
    with FeedServer() as server:
        pages(server)
        project(workdir, server)
        server.route("/qlora-mirror", Route(body=b"<html><head><title>QLoRA: Efficient Finetuning of Quantized LLMs"
                                                 b"</title></head></html>", content_type="text/html"))
        code, _, err = add(workdir, server, server.url("/qlora-mirror"))
    assert code == 1 and "Already in the library" in err and "title" in err
