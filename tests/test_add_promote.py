"""`bot add` of an item a poll stored and no digest carried: only the person's library blocks their own
find, so the stored item is promoted into the log as their pick, and the digest never offers it again."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import bot_ok, run_bot, write_config
from tests.servers import FeedServer, Route, rss

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def bot(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_bot(folder, NOW, *args)


def ok(folder: Path, *args: str) -> str:
    return bot_ok(folder, NOW, *args)


def polled(folder: Path, server: FeedServer) -> tuple[str, str]:
    spec = server.route("/posts/spec", Route(body=b"<title>Page title</title>", content_type="text/html"))
    lora = server.route("/posts/lora", Route(body=b"<title>Page title</title>", content_type="text/html"))
    feed = server.route("/feed.xml", Route(body=rss([
        {"title": "Speculative decoding for faster LLM inference", "link": spec,
         "pubDate": "Fri, 20 Nov 2026 10:00:00 GMT"},
        {"title": "LoRA adapters for fine-tuning large language models", "link": lora,
         "pubDate": "Fri, 20 Nov 2026 11:00:00 GMT"}])))
    (folder / "log.md").write_text("# Log\n\n## 2 November 2026\n\n* [Something about LLM agents]"
                                   "(https://z.example/agents)\n", encoding="utf-8")
    write_config(folder, f'[bot]\nlog = "log.md"\n[library]\npaths = ["log.md"]\n[hn]\nlookup = false\n'
                         f'[[feeds]]\nname = "f"\nurl = "{feed}"\n')
    ok(folder, "poll")
    return spec, lora


def pending_urls(folder: Path) -> set[str]:
    return {row["url"] for row in json.loads(ok(folder, "items", "--json"))["items"]}


def test_add_promotes_a_stored_item_into_the_log_as_the_persons_pick(workdir: Path) -> None:
    with FeedServer() as server:
        spec, lora = polled(workdir, server)
        assert pending_urls(workdir) == {spec, lora}
        done = bot(workdir, "add", spec + "?utm_source=rss", "--title", "My own words on speculative decoding",
                   "--date", "2026-11-23", "--json")
        assert done.returncode == 0, done.stderr  # before: "Already in the library: stored item:1", exit 1
        result = json.loads(done.stdout)[0]
        assert result["status"] == "added" and result["item"] is not None
        assert f"* [My own words on speculative decoding]({spec})" in (workdir / "log.md").read_text()
        assert server.hits("/posts/spec") == 0  # the poll knew it: nothing fetched
        assert pending_urls(workdir) == {lora}  # never offered again
        digest = json.loads(ok(workdir, "digest", "--dry-run", "--json"))
        assert [i["url"] for i in digest["items"]] == [lora]
        explained = json.loads(ok(workdir, "explain", spec, "--json"))
        assert explained["status"] == "picked"
        assert any(m["owner"] == "library" and m["where"].startswith("log.md:") for m in explained["matches"])
        check = json.loads(ok(workdir, "library", "check", "--json", spec))[0]
        assert check["known"] and check["entry"]["source"] == "library"  # a library entry: counts as a pick
        again = bot(workdir, "add", spec)
        assert again.returncode == 1 and "Already in the library: " in again.stderr and "log.md:" in again.stderr


def test_add_without_a_title_takes_the_stored_items_title(workdir: Path) -> None:
    with FeedServer() as server:
        _, lora = polled(workdir, server)
        out = ok(workdir, "add", lora, "--date", "2026-11-23")
        assert "now your pick" in out
        assert f"* [LoRA adapters for fine-tuning large language models]({lora})" in (workdir / "log.md").read_text()
        assert server.hits("/posts/lora") == 0


def test_add_dry_run_of_a_stored_item_changes_nothing(workdir: Path) -> None:
    with FeedServer() as server:
        spec, lora = polled(workdir, server)
        before = (workdir / "log.md").read_text()
        out = ok(workdir, "add", spec, "--dry-run")
        assert "Speculative decoding" in out and (workdir / "log.md").read_text() == before
        assert pending_urls(workdir) == {spec, lora}
