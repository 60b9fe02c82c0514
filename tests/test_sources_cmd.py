"""`bot sources` and `bot sources forget` through the CLI: the configured sources with their health; a
feed that left the config (removed from blogs.opml) leaves the source list, `bot status` and the digest
footer (Slack included), and its state can be forgotten while its items stay known."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import bot_ok, run_bot, write_config
from tests.servers import FeedServer, Route, rss

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
GOOD = [{"title": "Speculative decoding for faster LLM inference", "link": "https://a.example/spec",
         "pubDate": "Fri, 20 Nov 2026 10:00:00 GMT"}]
LEAVING = [{"title": "LoRA adapters for fine-tuning large language models", "link": "https://b.example/lora",
            "pubDate": "Fri, 20 Nov 2026 11:00:00 GMT"}]


def bot(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_bot(folder, NOW, *args)


def ok(folder: Path, *args: str) -> str:
    return bot_ok(folder, NOW, *args)


def opml(folder: Path, *names: str) -> None:
    outlines = "".join(f'<outline type="rss" text="{n}" xmlUrl="{folder / (n + ".xml")}"/>' for n in names)
    (folder / "feeds" / "blogs.opml").write_text(f'<?xml version="1.0"?><opml version="2.0"><head/><body>{outlines}'
                                                 "</body></opml>", encoding="utf-8")


@pytest.fixture
def project(workdir: Path) -> Path:
    (workdir / "feeds").mkdir()
    (workdir / "good.xml").write_bytes(rss(GOOD))
    (workdir / "leaving.xml").write_bytes(rss(LEAVING))
    # "broken" names a file that is not there: its polls fail
    opml(workdir, "good", "leaving", "broken")
    write_config(workdir, '[bot]\nfeeds_dir = "feeds"\n[library]\npaths = []\n[hn]\nlookup = false\n')
    bot(workdir, "poll")  # one feed fails: exit 0, the others did their work
    return workdir


def test_sources_lists_the_configured_sources_with_their_health(project: Path) -> None:
    report = json.loads(ok(project, "sources", "--json"))
    by_name = {s["name"]: s for s in report["sources"]}
    assert set(by_name) == {"good", "leaving", "broken"} and report["former"] == []
    assert by_name["good"]["result"] == "ok" and by_name["good"]["items"]["stored"] == 1
    assert by_name["good"]["items"]["pending"] == 1 and by_name["good"]["last_poll"].startswith("2026-11-23T09:00")
    assert by_name["broken"]["result"] == "error" and by_name["broken"]["error"]
    assert by_name["good"]["next_fetch"] == (NOW + timedelta(minutes=360)).isoformat()
    text = ok(project, "sources")
    assert "broken" in text and "never polled" not in text


def test_a_feed_that_left_the_config_leaves_sources_status_and_the_digest_footer(project: Path) -> None:
    assert "failed sources: broken" in ok(project, "digest", "--dry-run")
    opml(project, "good", "leaving")  # the person unsubscribes from "broken" and "leaving"
    opml(project, "good")
    report = json.loads(ok(project, "sources", "--json"))
    assert [s["name"] for s in report["sources"]] == ["good"]
    assert {s["name"] for s in report["former"]} == {"leaving", "broken"}
    assert {s["name"] for s in json.loads(ok(project, "status", "--json"))["sources"]} == {"good"}
    assert "failed sources" not in ok(project, "digest", "--dry-run")
    slack = json.dumps(json.loads(ok(project, "digest", "--dry-run", "--format", "slack")))
    assert "failed sources" not in slack and "broken" not in slack
    assert "bot sources forget" in ok(project, "sources")


def test_forget_removes_a_former_sources_state_and_its_items_stay_known(project: Path) -> None:
    opml(project, "good")
    assert "Forgot leaving" in ok(project, "sources", "forget", "leaving")
    assert {s["name"] for s in json.loads(ok(project, "sources", "--json"))["former"]} == {"broken"}
    checked = json.loads(ok(project, "library", "check", "--json", "https://b.example/lora"))
    assert checked[0]["known"] is True  # its item is still known: it will not come back as new
    again = bot(project, "sources", "forget", "leaving")
    assert again.returncode == 1 and "No former source called 'leaving'" in again.stderr
    configured = bot(project, "sources", "forget", "good")
    assert configured.returncode == 2 and "still a configured source" in configured.stderr
    assert json.loads(ok(project, "sources", "--json"))["sources"][0]["result"] == "ok"


def test_a_source_that_asked_us_to_wait_says_until_when(workdir: Path) -> None:
    with FeedServer() as server:
        url = server.route("/feed.xml", Route(status=429, headers={"Retry-After": "7200"}))
        write_config(workdir, f'[library]\npaths = []\n[hn]\nlookup = false\n[[feeds]]\nname = "busy"\nurl = "{url}"\n')
        bot(workdir, "poll")
    busy = json.loads(ok(workdir, "sources", "--json"))["sources"][0]
    assert busy["result"] == "error" and busy["next_fetch"] == (NOW + timedelta(hours=2)).isoformat()
    assert "Retry-After" in busy["next_fetch_reason"]


def test_before_any_poll_every_source_is_never_polled_and_no_database_is_made(workdir: Path) -> None:
    write_config(workdir, '[library]\npaths = []\n[[feeds]]\nname = "f"\nurl = "feed.xml"\n')
    report = json.loads(ok(workdir, "sources", "--json"))
    assert [(s["name"], s["last_poll"], s["items"]["stored"]) for s in report["sources"]] == [("f", None, 0)]
    assert "never polled" in ok(workdir, "sources")
    done = bot(workdir, "sources", "forget", "old")
    assert done.returncode == 1 and "No database yet" in done.stderr
    assert not list(workdir.glob("bot.db*"))
