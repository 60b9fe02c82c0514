"""The fast feed parser against feedparser (issue 27): every recorded document, the demo data and a
hostile corpus read both ways must give the same items (ids, links, titles, summaries, dates to the
second, categories, HN counts: every field of FeedItem) or the same error. FeedItem carries no author,
so authors are not compared. Where the two would differ, bot.sources.fastparse sends the document to
feedparser; those cases are here too, each with the reason. And the fast path is safe as feedparser is
against entity expansion, external references and huge trees."""

from __future__ import annotations

import resource
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from bot.core.resources import demo_data
from bot.sources import fastparse
from bot.sources.encoding import repair_utf8
from bot.sources.parsers import Parsed, ParseError, parse_arxiv, read_rss
from tests.servers import arxiv_atom, atom, rss


def both(body: bytes, content_type: str = "") -> tuple[Any, Any]:
    """(fast path, feedparser alone): each a list of item dicts with the skip counts, or the error text."""
    def run(fast: bool) -> Any:
        try:
            parsed: Parsed = read_rss(body, "src", content_type, fast=fast)
        except ParseError as exc:
            return f"ParseError: {exc}"
        return [asdict(item) for item in parsed.items], parsed.skipped, parsed.reasons
    return run(True), run(False)


def arxiv_both(body: bytes) -> tuple[Any, Any]:
    def run(fast: bool) -> Any:
        try:
            items, paging = parse_arxiv(body, "arxiv", fast=fast)
        except ParseError as exc:
            return f"ParseError: {exc}"
        return [asdict(item) for item in items], paging
    return run(True), run(False)


def taken(body: bytes, content_type: str = "") -> bool:
    """The fast path reads the document (after the UTF-8 repair that read_rss makes first)."""
    return fastparse.fast_entries(repair_utf8(body, content_type), content_type) is not None


def check_recorded(documents: list[Path]) -> None:
    differ, fast = [], 0
    for path in documents:
        body = path.read_bytes()
        fast += taken(body)
        one, other = both(body)
        if one != other:
            differ.append(path.name)
    assert differ == []
    assert fast == len(documents)  # every recorded feed is a plain one: the fast path is what polls use


@pytest.mark.slow
@pytest.mark.fixtures
def test_every_recorded_document_reads_the_same_both_ways(shared_fixtures: Path) -> None:
    documents = sorted(shared_fixtures.rglob("*.xml"))
    assert len(documents) > 100
    check_recorded(documents)


@pytest.mark.fixtures
def test_one_recorded_document_of_each_kind_reads_the_same_both_ways(shared_fixtures: Path) -> None:
    """The default suite's sample of the slow test above: the first document of each folder."""
    check_recorded([sorted(folder.rglob("*.xml"))[0] for folder in sorted(shared_fixtures.iterdir())
                    if folder.is_dir() and any(folder.rglob("*.xml"))])


@pytest.mark.fixtures
def test_recorded_arxiv_answers_read_the_same_both_ways(shared_fixtures: Path) -> None:
    documents = sorted((shared_fixtures / "arxiv-api").glob("*.xml"))
    assert documents
    for path in documents:
        one, other = arxiv_both(path.read_bytes())
        assert one == other, path.name
        assert len(one[0]) > 0


def test_the_demo_data_reads_the_same_both_ways() -> None:
    blogs = (demo_data() / "blogs.xml").read_bytes()
    assert taken(blogs)
    one, other = both(blogs)
    assert one == other and len(one[0]) > 0
    one, other = arxiv_both((demo_data() / "arxiv.xml").read_bytes())
    assert one == other and len(one[0]) > 0


GOOD = {"title": "Quantization of large language models", "link": "https://good.example/q",
        "pubDate": "Mon, 02 Nov 2026 10:00:00 GMT"}

ATOM_HEAD = (b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
             b"<id>urn:x</id><updated>2026-11-20T00:00:00Z</updated>")

# (name, body, content type, does the fast path take it, why not when it does not)
HOSTILE: list[tuple[str, bytes, str, bool, str]] = [
    ("bad link in one item", rss([{**GOOD, "title": "LLM serving", "link": "http://[oops/llm"}, GOOD]), "", True, ""),
    ("javascript link", rss([{**GOOD, "title": "Click me please now", "link": "javascript://alert(1)"}, GOOD]), "",
     False, "a link that is not absolute http(s): feedparser's (it resolves relative ones against xml:base)"),
    ("site-relative link", rss([{**GOOD, "title": "Relative link post here", "link": "/posts/1"}, GOOD]), "", False,
     "a link that is not absolute http(s): feedparser's (it resolves relative ones against xml:base)"),
    ("one undated entry", rss([{"title": "Undated post about LLMs", "link": "https://u.example/"}, GOOD]), "", False,
     "an entry without a date beside dated ones: feedparser may read a date fastfeedparser cannot"),
    ("no dates at all", rss([{"title": "Undated post about LLMs", "link": "https://u.example/"}]), "", True, ""),
    ("an unreadable date", rss([{**GOOD, "pubDate": "the day after tomorrow"}]), "", False,
     "a date element fastfeedparser cannot read: feedparser may read more of them"),
    ("timezone offsets", rss([{**GOOD, "pubDate": "Mon, 02 Nov 2026 10:00:00 +0530"},
                              {**GOOD, "link": "https://good.example/2", "pubDate": "Tue, 03 Nov 2026 23:59:59 -0800"}]),
     "", True, ""),
    ("hnrss item", rss([{"title": "Ask HN: What are you reading?", "link": "https://news.ycombinator.com/item?id=1",
                         "comments": "https://news.ycombinator.com/item?id=1", "guid": "https://news.ycombinator.com/item?id=1",
                         "description": "<p>Points: 42</p><p># Comments: 7</p><p>My own text &amp; more</p>"}]),
     "", True, ""),
    ("atom with html", atom([{"title": "Tokens &amp; &lt;b&gt;bold&lt;/b&gt; LLMs", "link": "https://a.example/1",
                              "summary": "&lt;p&gt;Para&lt;/p&gt;"}]), "", True, ""),
    ("guid only", b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>Only a guid'
                  b' here</title><guid>https://g.example/1</guid></item></channel></rss>', "", True, ""),
    ("no link, no guid", b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>Nothing'
                         b' to link</title></item></channel></rss>', "", False,
     "an entry with neither link nor id: feedparser decides what it is"),
    ("bare ampersand", rss([GOOD]).replace(b"<![CDATA[Quantization", b"Q&A Quantization").replace(
        b" models]]>", b" models"), "", False, "not XML: feedparser's repair reads it"),
    ("html entity", rss([GOOD]).replace(b"<![CDATA[Quantization", b"&nbsp;Quantization").replace(
        b" models]]>", b" models"), "", False, "not an XML entity: feedparser knows HTML's"),
    ("control character", rss([{**GOOD, "title": "LLM \x1b notes on things"}]), "", False,
     "not XML: feedparser's repair reads it"),
    ("truncated", rss([GOOD, GOOD])[:-40], "", False, "lxml would recover silently: feedparser reports it"),
    ("damaged utf-8", rss([{**GOOD, "title": "Café naïve @@ LLM notes"}]).replace(b"@@", b"\xe2\x80"), "", True,
     ""),
    ("latin-1 declared", rss([{**GOOD, "title": "Caf\xe9 LLM notes"}]).decode().replace("utf-8", "iso-8859-1")
     .encode("latin-1"), "", False, "another encoding: feedparser decodes it"),
    ("cp1252 under a utf-8 label", rss([{**GOOD, "title": "Caf\xe9 \u201cLLM\u201d notes"}]).decode()
     .encode("cp1252"), "text/xml; charset=utf-8", False, "not UTF-8: feedparser's fallback reads it"),
    ("utf-16", rss([GOOD]).decode().replace("utf-8", "utf-16").encode("utf-16"), "", False,
     "another encoding: feedparser decodes it"),
    ("html page", b"<!doctype html><html><head><title>Login</title></head><body>hi</body></html>", "text/html",
     False, "not a feed"),
    ("json", b'{"hits": []}', "application/json", False, "not a feed"),
    ("empty channel", b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>', "",
     False, "no entries: feedparser says whether it is a feed"),
    ("binary", bytes(range(256)) * 16, "application/octet-stream", False, "not a feed"),
    ("double-encoded utf-8", rss([{**GOOD, "title": "Caf\xc3\xa9 LLM notes"}]), "", True, ""),
    ("c1 controls", rss([{**GOOD, "title": "\x93Quoted\x94 LLM notes"}]), "", True, ""),
    ("rss content only", b'<?xml version="1.0"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/'
     b'content/"><channel><title>t</title><item><title>Content only LLM post</title><link>https://c.example/1</link>'
     b"<pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate><content:encoded><![CDATA[<p>Full <b>text</b> &amp; more.</p>]]>"
     b"</content:encoded></item></channel></rss>", "", True, ""),
    ("rss 1.0", b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
     b'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel rdf:about="https://r.'
     b'example/"><title>t</title><link>https://r.example/</link><description>d</description></channel><item rdf:'
     b'about="https://r.example/1"><title>RDF LLM item one</title><link>https://r.example/1</link><dc:date>2026-11-19'
     b"T08:00:00+01:00</dc:date></item></rdf:RDF>", "", True, ""),
    ("atom html title, replies link", ATOM_HEAD + b'<entry><title type="html">A &lt;em&gt;tagged&lt;/em&gt; LLM title'
     b'</title><link rel="alternate" href="https://a.example/1"/><link rel="replies" href="https://a.example/1#c"/>'
     b'<id>urn:1</id><updated>2026-11-20T00:00:00+02:00</updated><content type="html">&lt;p&gt;Body&lt;/p&gt;'
     b'</content><category term="ml"/></entry></feed>', "", True, ""),
    ("atom enclosure before the page", ATOM_HEAD + b'<entry><title>Enclosure first LLM</title><link rel="enclosure" '
     b'href="https://a.example/x.mp3"/><link href="https://a.example/page"/><id>urn:1</id><updated>2026-11-20T00:00:'
     b"00Z</updated></entry></feed>", "", True, ""),
    ("atom two alternate links", ATOM_HEAD + b'<entry><title>Two pages LLM</title><link href="https://a.example/1"/>'
     b'<link href="https://a.example/2"/><id>urn:1</id><updated>2026-11-20T00:00:00Z</updated></entry></feed>', "",
     False, "several alternate links: feedparser takes the last, fastfeedparser the first"),
    ("atom xml:base", ATOM_HEAD.replace(b"<feed ", b'<feed xml:base="https://base.example/blog/" ') + b"<entry><title>"
     b'Relative LLM link entry</title><link href="posts/1"/><id>urn:1</id><updated>2026-11-20T00:00:00Z</updated>'
     b"</entry></feed>", "", False, "a relative link: feedparser resolves it against xml:base"),
    ("atom naive and rfc822 dates", ATOM_HEAD + b'<entry><title>Naive date LLM</title><link href="https://n.example/1"/>'
     b"<id>urn:1</id><updated>2026-11-20T10:00:00</updated></entry><entry><title>Mail date LLM</title><link href="
     b'"https://n.example/3"/><id>urn:3</id><updated>Mon, 02 Nov 2026 10:00:00 +0100</updated></entry></feed>', "",
     True, ""),
    ("a date out of range", ATOM_HEAD + b'<entry><title>Year one LLM</title><link href="https://n.example/2"/>'
     b"<id>urn:2</id><updated>0001-01-01T00:00:00+05:00</updated></entry></feed>", "", False,
     "a date the fast path cannot place in UTC: feedparser's"),
    ("categories", rss([GOOD]).replace(b"</item>", b"<category>ml</category><category>ml</category>"
                                                   b"<category>llm</category></item>"), "", True, ""),
]


@pytest.mark.parametrize("name,body,ctype,fast,why", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_documents_read_the_same_both_ways(name: str, body: bytes, ctype: str, fast: bool, why: str) -> None:
    assert taken(body, ctype) == fast, why
    one, other = both(body, ctype)
    assert one == other


BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
                  + b"".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(8))
                  + b']><rss version="2.0"><channel><title>t</title><item><title>Laughs &i; LLM</title>'
                  b"<link>https://bomb.example/</link></item></channel></rss>")
EXTERNAL = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            b'<rss version="2.0"><channel><title>t</title><item><title>Secret &xxe; LLM notes</title>'
            b"<link>https://xxe.example/</link></item></channel></rss>")


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL], ids=["billion-laughs", "external-entity"])
def test_entities_are_not_expanded_on_either_path(body: bytes) -> None:
    assert not taken(body)  # a DOCTYPE goes to feedparser...
    for fast in (True, False):
        try:
            titles = [i.title for i in read_rss(body, "src", fast=fast).items]
        except ParseError:
            titles = []
        assert all(len(t) < 200 and "root:" not in t for t in titles)
    # ...and fastfeedparser itself, given it anyway, expands neither.
    parsed = fastparse._parse(body)
    text = " ".join(str(e.get("title")) for e in parsed.get("entries") or [])
    assert len(text) < 200 and "root:" not in text


def test_a_huge_tree_is_read_in_bounded_time_and_memory() -> None:
    deep = b"<div>" * 50_000 + b"x" + b"</div>" * 50_000
    wide = b"<p>w</p>" * 200_000
    for filler in (deep, wide):
        body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>Huge LLM tree'
                b"</title><link>https://huge.example/</link><description>" + filler
                + b"</description></item></channel></rss>")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.process_time()
        try:
            read_rss(body, "src")
        except ParseError:
            pass  # refusing it is as good as reading it
        fastparse._parse(body) if taken(body) else None
        assert time.process_time() - started < 10
        assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 300_000  # KiB


def test_arxiv_answers_read_the_same_both_ways() -> None:
    papers = [{"id": f"2611.{n:05d}", "title": f"Paper {n} on LLM inference", "summary": "An abstract $\u03b1$.",
               "categories": ["cs.CL", "cs.LG"]} for n in range(30)]
    body = arxiv_atom(papers, total=90)
    assert fastparse.fast_arxiv(body) is not None
    one, other = arxiv_both(body)
    assert one == other and len(one[0]) == 30 and one[1]["total"] == 90


def test_only_a_poll_that_gets_a_body_loads_a_parser(workdir: Path) -> None:
    """`bot --help` and an all-304 re-poll import neither parser nor lxml (start-up stays as it was); a
    poll that gets a body parses it on the fast path."""
    import json

    from tests.conftest import SEEDS, write_config
    from tests.servers import FeedServer, Route
    from tests.test_poll_startup import LOADED, _bot

    parsers = {"fastfeedparser", "lxml", "lxml.etree", "feedparser", "bot.sources.fastparse"}
    with FeedServer() as server:
        url = server.route("/a.xml", Route(body=rss([GOOD]), etag='"v1"'))
        write_config(workdir, f'[bot]\ndb = "bot.db"\n[library]\npaths = ["{SEEDS}"]\n'
                              f'[[feeds]]\nname = "a"\nkind = "rss"\nurl = "{url}"\n')
        first = _bot(["poll", "--json"], workdir, code=LOADED)
        again = _bot(["poll", "--json"], workdir, code=LOADED)
        helped = _bot(["--help"], workdir, code=LOADED)
    assert first.returncode == 0 and again.returncode == 0 and helped.returncode == 0, first.stderr
    loaded = [set(json.loads(p.stderr.strip().splitlines()[-1])) for p in (first, again, helped)]
    assert json.loads(first.stdout)["totals"]["fetched"] == 1
    assert "fastfeedparser" in loaded[0] and "feedparser" not in loaded[0]
    assert json.loads(again.stdout)["totals"]["not_modified"] == 1
    assert loaded[1].isdisjoint(parsers) and loaded[2].isdisjoint(parsers), (loaded[1] | loaded[2]) & parsers


def test_a_fault_of_the_fast_parser_hands_the_document_to_feedparser(monkeypatch: pytest.MonkeyPatch) -> None:
    body = rss([GOOD])
    expected = both(body)[1]

    def broken(_body: bytes) -> Any:
        raise RuntimeError("a bug in the fast parser")

    monkeypatch.setattr(fastparse, "_parse", broken)
    assert both(body)[0] == expected and len(expected[0]) == 1
