"""What the sources can throw at the bot, met through the CLI against servers on 127.0.0.1: a bad link
in one item, a placeholder link in a note, redirects into other internal addresses, 410 Gone and
301 Moved Permanently, an HTML page instead of a feed, invalid UTF-8 in a title (issue 17)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli.group import cli, main
from bot.core.errors import BotError
from tests.conftest import ROOT
from tests.servers import FeedServer, Route, algolia, rss

RELEVANT = "Quantization of large language models on a laptop"


def project(tmp: Path, feeds: list[dict[str, Any]], notes: str = "* [Illustrated Transformer](http://jalammar.github.io/illustrated-transformer/)\n") -> None:
    (tmp / "library").mkdir(exist_ok=True)
    (tmp / "library" / "notes.md").write_text(notes, encoding="utf-8")
    lines = [f'[bot]\ndb = "bot.db"\ntopics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n',
             '[library]\npaths = ["library"]\n',
             "[http]\nconnect_timeout = 1\nread_timeout = 2\nfeed_deadline = 4\n"]
    for f in feeds:
        lines.append("[[feeds]]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in f.items()) + "\n")
    (tmp / "bot.toml").write_text("\n".join(lines), encoding="utf-8")


def bot(tmp: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--config", str(tmp / "bot.toml"), *args])
    if result.exception is not None and not isinstance(result.exception, (BotError, SystemExit)):
        raise result.exception  # a bug, not a reported failure
    return result.exit_code, result.stdout, result.stderr


def poll_json(tmp: Path, *args: str) -> dict[str, Any]:
    code, out, err = bot(tmp, "poll", "--json", *args)
    assert code in (0, 1), err
    return {s["name"]: s for s in json.loads(out)["sources"]}


def status_json(tmp: Path) -> dict[str, Any]:
    code, out, err = bot(tmp, "status", "--json")
    assert code == 0, err
    return {s["name"]: s for s in json.loads(out)["sources"]}


def stored_titles(tmp: Path) -> list[str]:
    from bot.store.database import Store

    store = Store.open(tmp / "bot.db")
    try:
        return sorted(r.title for r in store.all_items())
    finally:
        store.close()


# -- item 2: one malformed item link ---------------------------------------------------------------

def test_one_malformed_item_link_skips_that_item_and_keeps_the_rest(workdir: Path) -> None:
    with FeedServer() as server:
        blog = server.route("/blog.xml", Route(body=rss([
            {"title": "LLM serving on a budget", "link": "http://[oops/llm"},
            {"title": RELEVANT, "link": "https://good.example/q"},
            {"title": "Speculative decoding for LLM inference", "link": "https://good.example/spec"},
        ])))
        hn = server.route("/hn", Route(content_type="application/json", body=algolia([
            {"id": 46100001, "title": "Prompt caching for LLM agents", "url": "http://[::1/x"},
            {"id": 46100002, "title": "Retrieval-augmented generation in practice", "url": "https://rag.example/"},
        ])))
        project(workdir, [{"name": "blog", "url": blog}, {"name": "hn", "kind": "hn", "url": hn, "min_points": 1}])
        report = poll_json(workdir)
        code, table, _ = bot(workdir, "poll")
    assert report["blog"]["result"] == "ok" and report["blog"]["error"] is None
    assert report["blog"]["fetched"] == 2 and report["blog"]["skipped"] == 1
    assert "http://[oops/llm" in report["blog"]["skipped_items"][0]
    assert report["hn"]["result"] == "ok" and report["hn"]["fetched"] == 1 and report["hn"]["skipped"] == 1
    assert "skipped" in table
    titles = stored_titles(workdir)
    assert RELEVANT in titles and "Retrieval-augmented generation in practice" in titles
    assert not any("budget" in t or "caching" in t for t in titles)


def test_a_configured_feed_url_that_is_no_url_fails_that_feed_alone(workdir: Path) -> None:
    with FeedServer() as server:
        good = server.route("/f.xml", Route(body=rss([{"title": RELEVANT, "link": "https://good.example/q"}])))
        project(workdir, [{"name": "typo", "url": "http://[oops/feed.xml", "min_interval": 1},
                          {"name": "good", "url": good}])
        code, out, err = bot(workdir, "poll", "--json")
    assert code == 0, err
    report = {s["name"]: s for s in json.loads(out)["sources"]}
    assert report["good"]["new"] == 1
    assert report["typo"]["error"] == "its url 'http://[oops/feed.xml' is not a valid URL; fix it in the configuration"


# -- item 3: a placeholder link in a library note --------------------------------------------------

NOTES = """# Notes
Serving notes
* call http://[your-host]/v1/chat for the local model
* [Local LLM serving guide](http://[your-host]:8080/guide) with my notes
* [QLoRA paper](https://arxiv.org/abs/2305.14314)
"""


def test_a_placeholder_link_in_a_note_is_reported_and_nothing_stops(workdir: Path) -> None:
    with FeedServer() as server:
        feed = server.route("/f.xml", Route(body=rss([{"title": RELEVANT, "link": "https://good.example/q"}])))
        project(workdir, [{"name": "f", "url": feed}], notes=NOTES)
        code, out, err = bot(workdir, "library", "import", "--json")
        assert code == 0, err
        report = json.loads(out)
        code, table, err = bot(workdir, "library", "import")
        assert code == 0, err
        code, checked, err = bot(workdir, "library", "check", "--json", "https://arxiv.org/pdf/2305.14314v2")
        assert code == 0, err
        code, _, err = bot(workdir, "poll")
        assert code == 0, err
    ignored = [(i["file"], i["line"], i["link"]) for i in report["ignored_links"]]
    assert ignored == [("library/notes.md", 3, "http://[your-host]/v1/chat"),
                       ("library/notes.md", 4, "http://[your-host]:8080/guide")]
    assert "library/notes.md:3" in table and "http://[your-host]/v1/chat" in table
    assert json.loads(checked)[0]["known"] is True
    code, found, _ = bot(workdir, "library", "search", "--json", "serving guide")
    (row,) = json.loads(found)
    assert row["line"] == 4 and row["title"] == "Local LLM serving guide" and "[your-host]" in row["text"]
    assert stored_titles(workdir) == [RELEVANT]


# -- item 15b / 15c: an HTML page, invalid UTF-8 ---------------------------------------------------

def test_an_html_page_is_named_as_such(workdir: Path) -> None:
    pages = {
        "/login": b"<!doctype html><html><head><title>Login</title></head><body>hi</body></html>",
        "/blog": b"<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>Blog</title></head>"
                 b"<body><p>hi<br><img src=x></body></html>",
        "/bare": b"<html><body><p>x &nbsp; y<br></p></body></html>",
    }
    with FeedServer() as server:
        feeds = [{"name": path.strip("/"), "url": server.route(path, Route(body=body, content_type=ctype))}
                 for (path, body), ctype in zip(pages.items(), ["text/html", "text/html; charset=utf-8", ""],
                                                strict=True)]
        project(workdir, feeds)
        report = poll_json(workdir)
    assert {name: s["error"] for name, s in report.items()} == {
        name: "got an HTML page, not a feed" for name in ("login", "blog", "bare")}


def test_invalid_utf8_in_a_title_becomes_a_replacement_character_not_mojibake(workdir: Path) -> None:
    title = "Café naïve".encode() + b" \xff " + b"LLM inference notes"
    body = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title><item><title>'
            + title + b"</title><link>https://enc.example/a</link></item></channel></rss>")
    hn_body = algolia([{"id": 46100003, "title": "Quantization of LLM weights @@", "url": "https://q.example/"}])
    hn_body = hn_body.replace(b"@@", "für".encode() + b"\xfe")
    with FeedServer() as server:
        feed = server.route("/enc.xml", Route(body=body))
        hn = server.route("/hn", Route(content_type="application/json", body=hn_body))
        project(workdir, [{"name": "enc", "url": feed}, {"name": "hn", "kind": "hn", "url": hn, "min_points": 1}])
        report = poll_json(workdir)
    assert report["enc"]["fetched"] == 1 and report["hn"]["fetched"] == 1, report
    assert stored_titles(workdir) == ["Café naïve \ufffd LLM inference notes", "Quantization of LLM weights für\ufffd"]


# -- item 8: redirects into other internal addresses -----------------------------------------------

def test_a_redirect_to_another_internal_address_is_refused(workdir: Path) -> None:
    with FeedServer() as server, FeedServer() as inside:
        secret = inside.route("/admin.xml", Route(body=rss([{"title": "Internal LLM admin page", "link": "https://x.example/"}])))
        here = server.route("/feed.xml", Route(body=rss([{"title": RELEVANT, "link": "https://good.example/q"}])))
        project(workdir, [
            {"name": "moved-here", "url": server.route("/old.xml", Route(redirect_to=here))},  # same host: fine
            {"name": "to-inside", "url": server.route("/evil.xml", Route(redirect_to=secret))},
            {"name": "to-file", "url": server.route("/file.xml", Route(redirect_to="file:///etc/passwd"))},
        ])
        report = poll_json(workdir)
        assert inside.hits("/admin.xml") == 0
    assert report["moved-here"]["result"] == "ok" and report["moved-here"]["new"] == 1
    assert report["to-inside"]["result"] == "error"
    assert report["to-inside"]["error"].startswith(f"redirect to {secret} refused")
    assert report["to-file"]["error"].startswith("redirect to file:") and "refused" in report["to-file"]["error"]
    assert stored_titles(workdir) == [RELEVANT]


def test_bot_add_does_not_follow_a_redirect_inside(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FeedServer() as server, FeedServer() as inside:
        secret = inside.route("/page", Route(body=b"<html><head><title>Router admin</title></head></html>",
                                             content_type="text/html"))
        (workdir / "library").mkdir()
        (workdir / "library" / "log.md").write_text("## 1 May 2023\n* [A](https://a.example/)\n", encoding="utf-8")
        (workdir / "bot.toml").write_text(
            f'[bot]\ndb = "bot.db"\nlog = "library/log.md"\n[library]\npaths = ["library"]\n'
            f'[hn]\nsearch_url = "{server.url("/hn")}"\n', encoding="utf-8")
        code, _, err = bot(workdir, "add", server.route("/go", Route(redirect_to=secret)))
        assert inside.hits("/page") == 0
    assert code == 1 and "refused" in err
    assert "Router admin" not in (workdir / "library" / "log.md").read_text()
    capsys.readouterr()
    code = main(["--config", str(workdir / "bot.toml"), "add", "http://[your-host]/v1/chat"])
    assert code == 2 and "is not a link" in capsys.readouterr().err  # a usage error, before any request


@pytest.fixture
def only_127_0_0_1_is_internal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests can only listen on loopback: pretend 127.0.0.2 and .3 are public hosts."""
    import bot.sources.redirects as redirects

    real = redirects.address_class

    def pretend(address: str) -> str:
        return "public" if address in ("127.0.0.2", "127.0.0.3") else real(address)

    monkeypatch.setattr(redirects, "address_class", pretend)


def test_a_public_host_may_redirect_to_another_public_host_but_not_inside(
        workdir: Path, only_127_0_0_1_is_internal: None) -> None:
    with FeedServer("127.0.0.2") as public, FeedServer("127.0.0.3") as other, FeedServer() as inside:
        there = other.route("/feed.xml", Route(body=rss([{"title": RELEVANT, "link": "https://good.example/q"}])))
        secret = inside.route("/meta", Route(body=rss([{"title": "Cloud LLM credentials", "link": "https://m.example/"}])))
        project(workdir, [
            {"name": "public-to-public", "url": public.route("/a.xml", Route(redirect_to=there))},
            {"name": "public-to-inside", "url": public.route("/b.xml", Route(redirect_to=secret))},
            # a public hop in between does not launder the address
            {"name": "via-public", "url": public.route("/c.xml", Route(redirect_to=other.route(
                "/hop", Route(redirect_to=secret))))},
        ])
        report = poll_json(workdir)
        assert inside.hits("/meta") == 0
    assert report["public-to-public"]["result"] == "ok" and report["public-to-public"]["new"] == 1
    assert report["public-to-inside"]["error"].startswith(f"redirect to {secret} refused")
    assert report["via-public"]["error"].startswith(f"redirect to {secret} refused")


# -- item 11: 410 Gone and 301 Moved Permanently ---------------------------------------------------

def test_a_gone_feed_is_not_asked_again_until_the_person_asks(workdir: Path) -> None:
    with FeedServer() as server:
        gone = server.route("/gone.xml", Route(status=410, body=b"gone", content_type="text/plain"))
        live = server.route("/live.xml", Route(body=rss([{"title": RELEVANT, "link": "https://good.example/q"}])))
        project(workdir, [{"name": "gone", "url": gone}, {"name": "live", "url": live}])
        first = poll_json(workdir)
        second = poll_json(workdir)
        code, table, _ = bot(workdir, "status")
        status = status_json(workdir)
        assert server.hits("/gone.xml") == 1
        server.route("/gone.xml", Route(body=rss([{"title": "Back: speculative decoding for LLM inference",
                                                   "link": "https://back.example/"}])))
        again = poll_json(workdir, "--source", "gone")
        assert server.hits("/gone.xml") == 2
        poll_json(workdir)
        assert server.hits("/gone.xml") == 3  # polled as usual again
    assert first["gone"]["result"] == "gone" and "410" in first["gone"]["error"]
    assert second["gone"]["result"] == "gone" and second["gone"]["requests"] == 0
    assert second["live"]["result"] in ("ok", "not_modified")
    assert status["gone"]["result"] == "gone" and status["gone"]["gone"]
    assert "bot poll --source gone" in status["gone"]["error"]
    assert "bot poll --source gone" in table
    assert again["gone"]["result"] == "ok" and again["gone"]["new"] == 1
    assert status_json(workdir)["gone"]["gone"] is None


@pytest.mark.parametrize("permanent", [301, 308])
def test_a_permanent_redirect_moves_the_stored_address(workdir: Path, permanent: int) -> None:
    with FeedServer() as server:
        new = server.route("/new.xml", Route(body=rss([{"title": RELEVANT, "link": "https://good.example/q"}])))
        old = server.route("/old.xml", Route(redirect_to=new, redirect_status=permanent))
        temporary = server.route("/tmp.xml", Route(redirect_to=new))
        project(workdir, [{"name": "moved", "url": old}, {"name": "temporary", "url": temporary}])
        poll_json(workdir)
        second = poll_json(workdir)
        status = status_json(workdir)
        code, table, _ = bot(workdir, "status")
        assert server.hits("/old.xml") == 1 and server.hits("/tmp.xml") == 2
        assert server.hits("/new.xml") == 4
    assert second["moved"]["result"] == "ok"
    assert status["moved"]["moved_to"] == new and status["temporary"]["moved_to"] is None
    assert f"moved permanently to {new}" in table


def test_a_changed_configuration_url_wins_over_an_old_move(workdir: Path) -> None:
    with FeedServer() as server:
        new = server.route("/new.xml", Route(body=rss([{"title": RELEVANT, "link": "https://good.example/q"}])))
        old = server.route("/old.xml", Route(redirect_to=new, redirect_status=301))
        other = server.route("/other.xml", Route(body=rss([{"title": "KV cache tricks for LLM inference",
                                                           "link": "https://kv.example/"}])))
        project(workdir, [{"name": "f", "url": old}])
        poll_json(workdir)
        project(workdir, [{"name": "f", "url": other}])
        report = poll_json(workdir)
        assert server.hits("/other.xml") == 1
    assert report["f"]["new"] == 1
    assert status_json(workdir)["f"]["moved_to"] is None


@pytest.mark.parametrize("source,target,refused", [
    ("https://a.example/f", "http://a.example/f", "leaves https for http"),  # no downgrade
    ("http://a.example/f", "ftp://a.example/f", "leaves http for ftp"),
    ("http://93.184.216.34/f", "https://93.184.216.34/f", None),  # the upgrade is fine
    ("http://93.184.216.34/f", "http://8.8.8.8/f", None),  # public to public
    ("http://93.184.216.34/f", "http://169.254.169.254/latest/meta-data", "not a public address"),  # cloud metadata
    ("http://93.184.216.34/f", "http://10.0.0.7/admin", "not a public address"),
    ("http://93.184.216.34/f", "http://[::ffff:127.0.0.1]:8080/", "not a public address"),
    ("http://93.184.216.34/f", "http://[fe80::1]/", "not a public address"),
    ("http://127.0.0.1:8000/a", "http://127.0.0.1:8000/b", None),  # within the address asked
    ("http://127.0.0.1:8000/a", "http://127.0.0.1:8001/b", "not a public address"),
    ("http://10.0.0.7/a", "https://10.0.0.7/b", None),  # an internal feed upgrading itself
])
def test_the_redirect_rule(source: str, target: str, refused: str | None) -> None:
    import asyncio

    import httpx

    from bot.sources.redirects import RedirectRefused, check_hop

    hop = check_hop(httpx.URL(source), httpx.URL(target), httpx.URL(source))
    if refused is None:
        asyncio.run(hop)
    else:
        with pytest.raises(RedirectRefused, match=refused):
            asyncio.run(hop)
