"""The review the person does in the log: lines deleted from an appended digest are their "no", lines left
for the review period their "yes". The CLI as a process, a loopback feed, the clock moved by BOT_NOW."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.store.database import Store
from tests.conftest import ROOT, cli_env
from tests.servers import FeedServer, Route, rss

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LOG = """# Reading log

## 2 November 2026

* [Speculative decoding for faster LLM inference](https://a.example/spec)

## 9 November 2026

* [Mixture of experts routing at scale](https://c.example/moe)

## 16 November 2026

* [Quantized attention kernels for transformers](https://d.example/kernels)
"""
ITEMS = [("Faster LLM inference with paged attention", "https://n.example/paged"),
         ("Fine-tuning large language models with LoRA adapters", "https://n.example/lora"),
         ("Retrieval augmented generation for LLM agents", "https://n.example/rag")]


def bot(folder: Path, now: datetime, *args: str) -> tuple[int, str, str]:
    done = subprocess.run([sys.executable, "-m", "bot", *args], cwd=folder, env=cli_env(now), capture_output=True,
                          text=True, timeout=120)
    return done.returncode, done.stdout, done.stderr


def project(folder: Path, server: FeedServer, items: list[tuple[str, str]] = ITEMS) -> None:
    (folder / "library").mkdir(exist_ok=True)
    (folder / "library" / "log.md").write_text(LOG, encoding="utf-8")
    server.route("/feed.xml", Route(body=rss([{"title": t, "link": u, "pubDate": "Sat, 21 Nov 2026 10:00:00 GMT"}
                                              for t, u in items])))
    (folder / "bot.toml").write_text(
        f'[bot]\ndb = "bot.db"\nlog = "library/log.md"\ntopics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n'
        f'[library]\npaths = ["library"]\n[hn]\nlookup = false\n'
        f'[[feeds]]\nname = "blog"\nurl = "{server.url("/feed.xml")}"\n', encoding="utf-8")


def review(folder: Path, now: datetime) -> dict[str, int]:
    code, out, err = bot(folder, now, "status", "--json")
    assert code == 0, err
    return dict(json.loads(out)["review"])


def digest_links(folder: Path, now: datetime) -> list[str]:
    code, out, err = bot(folder, now, "digest", "--dry-run", "--json")
    assert code == 0, err
    return [i["url"] for i in json.loads(out)["items"]]


def test_deleted_lines_are_the_persons_no_and_lines_left_for_a_week_their_yes(tmp_path: Path) -> None:
    log = tmp_path / "library" / "log.md"
    with FeedServer() as server:
        project(tmp_path, server)
        assert bot(tmp_path, NOW, "poll")[0] == 0
        code, _, err = bot(tmp_path, NOW, "digest", "--no-slack")
        assert code == 0, err
        appended = log.read_text()
        assert all(u in appended for _, u in ITEMS)
        assert review(tmp_path, NOW) == {"pending": 3, "kept": 0, "deleted": 0}
        # The person deletes one appended line.
        log.write_text("".join(line for line in appended.splitlines(keepends=True) if "n.example/lora" not in line))
        later = NOW + timedelta(days=2)
        code, out, err = bot(tmp_path, later, "poll", "--json")
        assert code == 0, err
        assert json.loads(out)["totals"].get("new", 0) == 0  # the deleted one is not new again
        assert review(tmp_path, later) == {"pending": 2, "kept": 0, "deleted": 1}
        code, out, _ = bot(tmp_path, later, "status")
        assert "2 still in review" in out and "1 deleted by you" in out
        assert "https://n.example/lora" not in digest_links(tmp_path, later)
        week = NOW + timedelta(days=8)
        assert bot(tmp_path, week, "poll")[0] == 0
        assert review(tmp_path, week) == {"pending": 0, "kept": 2, "deleted": 1}


def test_appended_lines_under_review_are_not_the_persons_picks(tmp_path: Path) -> None:
    with FeedServer() as server:
        project(tmp_path, server)
        assert bot(tmp_path, NOW, "poll")[0] == 0
        assert bot(tmp_path, NOW, "digest", "--no-slack")[0] == 0
        assert bot(tmp_path, NOW, "poll")[0] == 0  # reads the log again: the review remembers the appended items
        store = Store.open(tmp_path / "bot.db")
        try:
            assert len(store.entries_under_review()) == 3
            assert len(store.entry_identity_kinds()) == 3  # the person's own three lines, not the bot's
        finally:
            store.close()
        assert bot(tmp_path, NOW + timedelta(days=8), "poll")[0] == 0
        store = Store.open(tmp_path / "bot.db")
        try:
            assert store.entries_under_review() == set()
            assert len(store.entry_identity_kinds()) == 6  # kept: the person's picks from now on
        finally:
            store.close()


def test_a_stored_item_the_person_logs_by_hand_is_not_offered(tmp_path: Path) -> None:
    log = tmp_path / "library" / "log.md"
    with FeedServer() as server:
        project(tmp_path, server)
        assert bot(tmp_path, NOW, "poll")[0] == 0
        assert "https://n.example/rag" in digest_links(tmp_path, NOW)
        log.write_text(LOG + "* [RAG for agents](https://n.example/rag)\n")
        assert "https://n.example/rag" not in digest_links(tmp_path, NOW)


@pytest.mark.slow
def test_eval_review_reports_recall_with_and_without_simulated_verdicts(tmp_path: Path, shared_fixtures: Path) -> None:
    """On the recorded HN front pages and arXiv listings, the simulated review (each week's digest items
    that are not picks deleted) must not cost recall: both at least today's 0.50."""
    code, out, err = bot(ROOT, NOW, "eval", str(shared_fixtures / "hnrss-frontpage-2023"), "--also",
                         str(shared_fixtures / "arxiv-nlp-daily-2023"), "--review", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["review"] is True
    assert report["overall"]["bot"]["recall_micro"] >= 0.50
    assert report["overall"]["bot_review"]["recall_micro"] >= 0.50
    decided = sum(v["decided"] for v in report["simulated_verdicts"].values())
    deleted = sum(v["deleted"] for v in report["simulated_verdicts"].values())
    assert decided == 20 * report["weeks"] and 0 < deleted < decided
