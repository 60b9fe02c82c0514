"""Delivery commands say and do one thing: a rerun after a failure retries that digest and posts no
second one unless asked (--new); --resend-uncertain resends only; a digest that goes nowhere needs
--mark-only; the "run `bot digest` again" hint follows only failures a rerun can mend. Through the CLI,
against a Slack receiver on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, cli_env, write_config
from tests.servers import SlackReceiver, rss
from tests.test_digest_window import NOW

FIRST = [{"title": "Speculative decoding for faster LLM inference", "link": "https://a.example/spec",
          "pubDate": "Fri, 20 Nov 2026 10:00:00 GMT"},
         {"title": "LoRA adapters for fine-tuning large language models", "link": "https://a.example/lora",
          "pubDate": "Fri, 20 Nov 2026 11:00:00 GMT"}]
LATER = [{"title": "Retrieval-augmented generation with long-context LLMs", "link": "https://a.example/rag",
          "pubDate": "Sat, 21 Nov 2026 10:00:00 GMT"}]
RETRY = "Run `bot digest` again"


def project(folder: Path, items: list[dict[str, str]]) -> None:
    (folder / "library").mkdir()
    (folder / "library" / "log.md").write_text("## 2 January 2026\n* [Notes](https://notes.example/a)\n")
    feed(folder, items)
    write_config(folder, f'[bot]\ndb = "bot.db"\nlog = "library/log.md"\n'
                         f'topics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n'
                         '[library]\npaths = ["library"]\n[hn]\nlookup = false\n[slack]\ntimeout = 1\n'
                         '[[feeds]]\nname = "blog"\nurl = "feed.xml"\n')


def feed(folder: Path, items: list[dict[str, str]]) -> None:
    (folder / "feed.xml").write_bytes(rss(items))


def bot(folder: Path, slack: SlackReceiver, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=folder, capture_output=True, text=True,
                          env=cli_env(NOW, SLACK_WEBHOOK_URL=slack.webhook_url), timeout=120)


def status(folder: Path, slack: SlackReceiver) -> dict[str, Any]:
    done = bot(folder, slack, "status", "--json")
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def titles(post: dict[str, Any]) -> str:
    return json.dumps(post["payload"]["blocks"])


def test_a_rerun_after_a_slack_failure_retries_that_digest_and_posts_no_second(tmp_path: Path) -> None:
    project(tmp_path, FIRST)
    with SlackReceiver() as slack:
        assert bot(tmp_path, slack, "poll").returncode == 0
        slack.script = ["500"]
        failed = bot(tmp_path, slack, "digest")
        assert failed.returncode == 1 and RETRY in failed.stderr  # Slack answered 500: a rerun may pass
        feed(tmp_path, FIRST + LATER)  # meanwhile a new item arrives
        assert bot(tmp_path, slack, "poll").returncode == 0
        rerun = bot(tmp_path, slack, "digest")
        assert rerun.returncode == 0, rerun.stderr
        assert len(slack.accepted) == 1  # the old digest, retried; no second post
        assert "a.example/spec" in titles(slack.accepted[0]) and "a.example/rag" not in titles(slack.accepted[0])
        assert "made no new digest" in rerun.stderr and "--new" in rerun.stderr
        assert status(tmp_path, slack)["pending"]["relevant"] == 1  # the new item waits for the next digest
        # The next plain run, with nothing left to retry, makes the new digest.
        nxt = bot(tmp_path, slack, "digest")
        assert nxt.returncode == 0, nxt.stderr
        assert len(slack.accepted) == 2 and "a.example/rag" in titles(slack.accepted[1])


def test_new_asks_for_the_new_digest_in_the_same_run(tmp_path: Path) -> None:
    project(tmp_path, FIRST)
    with SlackReceiver() as slack:
        assert bot(tmp_path, slack, "poll").returncode == 0
        slack.script = ["500"]
        assert bot(tmp_path, slack, "digest").returncode == 1
        feed(tmp_path, FIRST + LATER)
        assert bot(tmp_path, slack, "poll").returncode == 0
        both = bot(tmp_path, slack, "digest", "--new")
        assert both.returncode == 0, both.stderr
        assert len(slack.accepted) == 2 and "a.example/rag" in titles(slack.accepted[1])


def test_resend_uncertain_resends_and_makes_no_new_digest(tmp_path: Path) -> None:
    project(tmp_path, FIRST)
    with SlackReceiver(hang_seconds=2) as slack:
        assert bot(tmp_path, slack, "poll").returncode == 0
        slack.script = ["hang"]  # Slack posts it but answers after our 1 s timeout
        uncertain = bot(tmp_path, slack, "digest")
        assert uncertain.returncode == 1 and RETRY not in uncertain.stderr  # a rerun would not resend it
        assert "--resend-uncertain" in uncertain.stderr
        time.sleep(1.5)
        feed(tmp_path, FIRST + LATER)
        assert bot(tmp_path, slack, "poll").returncode == 0
        resent = bot(tmp_path, slack, "digest", "--resend-uncertain")
        assert resent.returncode == 0, resent.stderr
        assert len(slack.accepted) == 2  # the uncertain one once more, nothing else
        assert "a.example/rag" not in titles(slack.accepted[1])
        assert status(tmp_path, slack)["pending"]["relevant"] == 1


def test_a_digest_that_goes_nowhere_is_refused_unless_mark_only(tmp_path: Path) -> None:
    project(tmp_path, FIRST)
    with SlackReceiver() as slack:
        assert bot(tmp_path, slack, "poll").returncode == 0
        refused = bot(tmp_path, slack, "digest", "--no-slack", "--no-log")
        assert refused.returncode == 2 and refused.stdout == ""
        assert "--mark-only" in refused.stderr and "nothing was done" in refused.stderr
        errors = [line for line in refused.stderr.splitlines() if not line.startswith("bot: test hook active")]
        assert len(errors) == 1 and errors[0].startswith("Error: ") and "Traceback" not in refused.stderr
        assert status(tmp_path, slack)["pending"] == {"relevant": 2, "older_than_window": 0, "off_topic": 0,
                                                     "digested": 0}
        marked = bot(tmp_path, slack, "digest", "--mark-only")
        assert marked.returncode == 0, marked.stderr
        assert status(tmp_path, slack)["pending"]["digested"] == 2
        assert slack.posts == [] and "a.example" not in (tmp_path / "library" / "log.md").read_text()


def test_no_retry_hint_after_a_rejection_a_rerun_cannot_mend(tmp_path: Path) -> None:
    project(tmp_path, FIRST)
    with SlackReceiver() as slack:
        assert bot(tmp_path, slack, "poll").returncode == 0
        slack.script = ["invalid_blocks_400"]
        rejected = bot(tmp_path, slack, "digest")
    assert rejected.returncode == 1
    assert "rejected the message" in rejected.stderr and RETRY not in rejected.stderr
