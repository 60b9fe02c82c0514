"""`bot items`, `bot explain`, `bot skip` through the CLI as a person runs them: the pending items as the
next digest ranks them, why one is where it is, and the person's "no" that keeps an item out for good."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import bot_ok, run_bot, write_config
from tests.servers import rss

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ITEMS = [
    {"title": "Speculative decoding for faster LLM inference", "link": "https://a.example/spec",
     "pubDate": "Fri, 20 Nov 2026 10:00:00 GMT"},
    {"title": "LoRA adapters for fine-tuning large language models", "link": "https://b.example/lora",
     "pubDate": "Fri, 20 Nov 2026 11:00:00 GMT"},
    {"title": "Quantization of large language models to 4 bits", "link": "https://c.example/quant",
     "pubDate": "Sat, 21 Nov 2026 11:00:00 GMT"},
    {"title": "A recipe for sourdough bread", "link": "https://d.example/bread",
     "pubDate": "Sat, 21 Nov 2026 12:00:00 GMT"},
]


def bot(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_bot(folder, NOW, *args)


def ok(folder: Path, *args: str) -> str:
    return bot_ok(folder, NOW, *args)


@pytest.fixture
def project(workdir: Path) -> Path:
    (workdir / "feed.xml").write_bytes(rss(ITEMS))
    (workdir / "log.md").write_text("# Log\n\n## 2 November 2026\n\n* [Something about LLM agents]"
                                    "(https://z.example/agents)\n", encoding="utf-8")
    write_config(workdir, '[bot]\nlog = "log.md"\ndigest_limit = 2\n[library]\npaths = ["log.md"]\n'
                          '[hn]\nlookup = false\n[[feeds]]\nname = "f"\nurl = "feed.xml"\n')
    ok(workdir, "poll")
    return workdir


def ids_by_url(folder: Path) -> dict[str, int]:
    return {row["url"]: row["id"] for row in json.loads(ok(folder, "items", "--json"))["items"]}


def test_items_ranks_the_pending_items_as_the_next_digest_does(project: Path) -> None:
    board = json.loads(ok(project, "items", "--json"))
    digest = json.loads(ok(project, "digest", "--dry-run", "--json"))
    assert board["candidates"] == 3 and board["pending"] == 3  # the bread post is off-topic, not pending
    assert [row["url"] for row in board["items"]][:2] == [item["url"] for item in digest["items"]]
    assert [row["next_digest"] for row in board["items"]] == [True, True, False]
    assert [row["rank"] for row in board["items"]] == [1, 2, 3]
    scores = [row["score"] for row in board["items"]]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
    assert [round(s, 4) for s in scores[:2]] == [item["score"] for item in digest["items"]]
    text = ok(project, "items")
    assert "top 2 of 3 pending" in text and "Speculative decoding" in text


def test_items_with_nothing_pending_says_so(workdir: Path) -> None:
    (workdir / "feed.xml").write_bytes(rss(ITEMS[3:]))
    write_config(workdir, '[library]\npaths = []\n[hn]\nlookup = false\n[[feeds]]\nname = "f"\nurl = "feed.xml"\n')
    ok(workdir, "poll")
    assert "Nothing pending" in ok(workdir, "items")
    assert json.loads(ok(workdir, "items", "--json"))["items"] == []


def test_explain_finds_an_item_by_id_or_any_spelling_of_its_link(project: Path) -> None:
    item_id = ids_by_url(project)["https://b.example/lora"]
    by_id = json.loads(ok(project, "explain", str(item_id), "--json"))
    by_url = json.loads(ok(project, "explain", "http://www.b.example/lora/?utm_source=feed#top", "--json"))
    assert by_id == by_url
    assert by_id["item"]["id"] == item_id and by_id["status"] == "pending" and by_id["rank"] in (1, 2)
    assert "url:b.example/lora" in by_id["identities"]
    parts = by_id["score"]["parts"]
    assert "parameter-efficient fine-tuning" in parts["topics"] and parts["topic_score"] > 0
    assert {"library_similarity", "taste", "signal", "heat", "recency"} <= parts.keys()
    assert by_id["score"]["keep"]["kind"] == "feed" and by_id["score"]["keep"]["keep"] > 0
    text = ok(project, "explain", f"item:{item_id}")
    assert f"rank {by_id['rank']} of 3: in the next digest" in text and "parameter-efficient" in text


def test_explain_says_why_an_item_is_not_pending(project: Path) -> None:
    text = ok(project, "explain", "https://d.example/bread")
    assert "off-topic" in text and "relevance 0" in text


def test_explain_unknown_is_exit_1_and_malformed_exit_2(project: Path) -> None:
    unknown = bot(project, "explain", "9999")
    assert unknown.returncode == 1 and "No stored item has the id 9999" in unknown.stderr
    assert "Traceback" not in unknown.stderr and unknown.stdout == ""
    link = bot(project, "explain", "https://never.example/x")
    assert link.returncode == 1 and "No stored item has the link" in link.stderr
    malformed = bot(project, "explain", "not an id")
    assert malformed.returncode == 2 and "neither an item id" in malformed.stderr


def test_skip_drops_an_item_for_good_and_says_what_it_skipped(project: Path) -> None:
    ids = ids_by_url(project)
    skipped = json.loads(ok(project, "skip", "https://www.a.example/spec/", "--json"))
    assert skipped == [{"query": "https://www.a.example/spec/", "id": ids["https://a.example/spec"],
                        "title": ITEMS[0]["title"], "status": "skipped"}]
    assert "https://a.example/spec" not in ids_by_url(project)
    digest = json.loads(ok(project, "digest", "--dry-run", "--json"))
    assert "https://a.example/spec" not in {i["url"] for i in digest["items"]}
    ok(project, "poll")  # the feed still carries it: it stays known, and stays out
    assert "https://a.example/spec" not in ids_by_url(project)
    assert "skipped by you" in ok(project, "explain", str(ids["https://a.example/spec"]))
    again = ok(project, "skip", str(ids["https://a.example/spec"]))
    assert "Already skipped" in again
    status = json.loads(ok(project, "status", "--json"))
    assert status["pending"]["relevant"] == 2
    undone = json.loads(ok(project, "skip", "--undo", "https://a.example/spec", "--json"))
    assert [r["status"] for r in undone] == ["pending again"]  # a skip taken back
    assert "https://a.example/spec" in ids_by_url(project)
    assert "Not skipped" in ok(project, "skip", "--undo", "https://a.example/spec")


def test_skip_with_an_unknown_or_malformed_reference_skips_nothing(project: Path) -> None:
    ids = ids_by_url(project)
    unknown = bot(project, "skip", str(ids["https://a.example/spec"]), "9999")
    assert unknown.returncode == 1 and "9999" in unknown.stderr
    malformed = bot(project, "skip", str(ids["https://a.example/spec"]), "what?")
    assert malformed.returncode == 2
    assert ids_by_url(project) == ids  # nothing was skipped


def test_skip_refuses_an_item_that_already_went_out(project: Path) -> None:
    ok(project, "digest", "--no-slack")
    sent = json.loads(ok(project, "explain", "https://a.example/spec", "--json"))
    assert sent["status"] == "digested"
    refused = bot(project, "skip", "https://a.example/spec")
    assert refused.returncode == 1 and "already went out in digest" in refused.stderr


def test_before_any_poll_nothing_is_pending_and_no_database_is_made(workdir: Path) -> None:
    write_config(workdir, '[library]\npaths = []\n[[feeds]]\nname = "f"\nurl = "feed.xml"\n')
    assert json.loads(ok(workdir, "items", "--json"))["items"] == []
    assert "Nothing pending" in ok(workdir, "items")
    assert bot(workdir, "items", "--limit", "0").returncode == 2  # usage
    for command in (["explain", "1"], ["skip", "1"]):
        done = bot(workdir, *command)
        assert done.returncode == 1 and "No database yet" in done.stderr
    assert not list(workdir.glob("bot.db*"))


def test_pending_benchmark_runs_small() -> None:
    from bench import bench_pending

    result = bench_pending.run(items=30, repeat=1)
    assert result["stored_new"] == 30 and result["pending"] == 30 and result["ranked_500"] == 30
    assert result["items_s"] > 0 and result["explain_last_s"] > 0


def test_explain_names_the_item_a_repeat_repeats(workdir: Path) -> None:
    (workdir / "feed.xml").write_bytes(rss([ITEMS[0], {
        "title": "Speculative decoding for faster LLM inference, explained", "link": "https://e.example/again",
        "pubDate": "Fri, 20 Nov 2026 09:00:00 GMT"}]))
    write_config(workdir, '[library]\npaths = []\n[hn]\nlookup = false\n[[feeds]]\nname = "f"\nurl = "feed.xml"\n')
    ok(workdir, "poll")
    board = json.loads(ok(workdir, "items", "--json"))
    assert [r["url"] for r in board["items"]] == ["https://a.example/spec"]
    assert [r["url"] for r in board["repeats"]] == ["https://e.example/again"]
    text = ok(workdir, "explain", "https://e.example/again")
    assert f"same news as an item ranked above it (item {board['items'][0]['id']}: {ITEMS[0]['title']})" in text


def test_items_keeps_to_the_digest_window_and_explain_says_so(workdir: Path) -> None:
    old = {"title": "Quantization of large language models, an old post", "link": "https://c.example/old",
           "pubDate": "Mon, 01 Apr 2024 10:00:00 GMT"}
    (workdir / "feed.xml").write_bytes(rss([ITEMS[0], old]))
    write_config(workdir, '[library]\npaths = []\n[hn]\nlookup = false\n[[feeds]]\nname = "f"\nurl = "feed.xml"\n')
    ok(workdir, "poll")
    board = json.loads(ok(workdir, "items", "--json"))
    digest = json.loads(ok(workdir, "digest", "--dry-run", "--json"))
    assert [r["url"] for r in board["items"]] == [i["url"] for i in digest["items"]] == ["https://a.example/spec"]
    assert board["since"] == digest["since"] and board["since"] is not None
    assert "outside the digest's window" in ok(workdir, "explain", "https://c.example/old")
