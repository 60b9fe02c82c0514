"""Documents that strict XML refuses but a lenient reading gets whole, and UTF-8 with damaged bytes
(issue 26, findings 6 and 8), met through the CLI against feed servers on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers import FeedServer, Route
from tests.test_source_faults import poll_json, project, stored_titles

TITLES = [f"Notes on LLM inference, part {n}" for n in range(21)]


def rss_raw(titles: list[bytes], declaration: bytes = b'<?xml version="1.0" encoding="utf-8"?>') -> bytes:
    """An RSS document with each title written as given (no CDATA: the bytes are what XML sees)."""
    items = b"".join(b"<item><title>" + t + b"</title><link>https://lenient.example/" + str(n).encode()
                     + b"</link><pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate></item>"
                     for n, t in enumerate(titles))
    return (declaration + b'<rss version="2.0"><channel><title>t</title><link>https://lenient.example/</link>'
            + items + b"</channel></rss>")


@pytest.mark.parametrize("bad", [b"Q&A", b"\x08", b"\x0b", b"\x1b"], ids=["ampersand", "bs", "vt", "esc"])
def test_one_bad_character_in_one_title_keeps_the_whole_feed(workdir: Path, bad: bytes) -> None:
    titles = [t.encode() for t in TITLES]
    titles[7] = b"LLM serving " + bad + b" latency notes"
    with FeedServer() as server:
        url = server.route("/feed.xml", Route(body=rss_raw(titles)))
        project(workdir, [{"name": "lenient", "url": url}])
        report = poll_json(workdir)
    assert report["lenient"]["result"] == "ok", report["lenient"]["error"]
    assert report["lenient"]["fetched"] == 21
    stored = stored_titles(workdir)
    assert len(stored) == 21
    assert [t for t in stored if t.startswith("LLM serving")] == [
        "LLM serving Q&A latency notes" if bad == b"Q&A" else "LLM serving latency notes"]


def test_a_truncated_document_is_still_malformed(workdir: Path) -> None:
    body = rss_raw([t.encode() for t in TITLES] + [b"LLM serving Q&A notes"])[:-60]
    with FeedServer() as server:
        url = server.route("/feed.xml", Route(body=body))
        project(workdir, [{"name": "cut", "url": url}])
        report = poll_json(workdir)
    assert report["cut"]["result"] == "error"
    assert report["cut"]["error"].startswith("malformed XML"), report["cut"]["error"]
    assert stored_titles(workdir) == []


@pytest.mark.parametrize("ctype", ["application/rss+xml; charset=utf-8", "application/rss+xml"])
def test_one_damaged_sequence_in_a_utf8_feed_becomes_one_replacement_character(workdir: Path, ctype: str) -> None:
    titles = ["Café naïve — LLM inference notes".encode(), b"Quantization of LLM weights \xe2\x80 and \xff\xfe more"]
    titles += [t.encode() for t in TITLES[:3]]
    with FeedServer() as server:
        url = server.route("/feed.xml", Route(body=rss_raw(titles), content_type=ctype))
        project(workdir, [{"name": "enc", "url": url}])
        report = poll_json(workdir)
    assert report["enc"]["fetched"] == 5, report["enc"]
    stored = stored_titles(workdir)
    assert "Café naïve — LLM inference notes" in stored
    assert "Quantization of LLM weights \ufffd and \ufffd\ufffd more" in stored
