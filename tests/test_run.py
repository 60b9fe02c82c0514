"""`bot run` as a real process, `bot demo`, and the database locks."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli.group import cli, main
from bot.core.cron import digest_missed, next_occurrence, previous_occurrence
from bot.lock import hold, work_lock
from tests.conftest import ROOT, cli_env
from tests.servers import FeedServer, Route, SlackReceiver, rss


def test_demo_runs_offline_and_shows_the_ranked_digest(workdir: Path) -> None:
    result = CliRunner().invoke(cli, ["demo"], catch_exceptions=False)
    assert result.exit_code == 0
    out = result.stdout
    assert "Digest for 20 November 2026" in out
    assert "Speculative decoding makes 70B models" in out
    assert "QLoRA" not in out.split("Digest for")[1]  # already in the library
    assert "Crop Yield Forecasting" not in out and "sourdough" not in out  # off-topic
    assert "https://arxiv.org/abs/2611.04211" in out  # HN story and arXiv paper merged into one
    assert list(workdir.iterdir()) == []  # nothing written outside a temporary folder


def test_previous_occurrence_and_missed_digest() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday
    assert previous_occurrence("mon 09:00", "UTC", now) == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert previous_occurrence("mon 09:00", "Europe/Paris", now).isoformat() == "2026-11-23T09:00:00+01:00"
    assert not digest_missed("mon 09:00", "UTC", now, None)  # a new database waits for the schedule
    assert digest_missed("mon 09:00", "UTC", now, datetime(2026, 11, 20, tzinfo=UTC))
    assert not digest_missed("mon 09:00", "UTC", now, datetime(2026, 11, 23, 9, 5, tzinfo=UTC))
    assert next_occurrence("mon,thu 08:30", "UTC", now) == datetime(2026, 11, 26, 8, 30, tzinfo=UTC)
    assert next_occurrence("daily 07:00", "UTC", now) == datetime(2026, 11, 26, 7, 0, tzinfo=UTC)


def test_a_poll_waits_for_the_lock_then_names_the_holder(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "feed.xml").write_bytes(rss([]))
    (workdir / "bot.toml").write_text('[library]\npaths = []\n[[feeds]]\nname = "f"\nurl = "feed.xml"\n')
    with hold(work_lock(workdir / "bot.db"), "test", wait=0):
        code = main(["poll"])
    assert code == 1
    err = capsys.readouterr().err
    assert "holds the lock on bot.db" in err and "pid" in err


def _wait(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _daemon_project(tmp_path: Path, url: str) -> None:
    (tmp_path / "bot.toml").write_text(
        f'[bot]\ndb = "bot.db"\ntopics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n'
        '[library]\npaths = ["library"]\n[hn]\nlookup = false\n[schedule]\npoll_every_minutes = 1\ndigest_cron = "mon 09:00"\n'
        f'[[feeds]]\nname = "f"\nurl = "{url}"\n')


@pytest.mark.slow
def test_bot_run_on_a_new_database_polls_but_waits_for_the_schedule_to_digest(tmp_path: Path) -> None:
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "log.md").write_text("## 27 May 2023\n* [a](https://a.example/)\n")
    with FeedServer() as feeds, SlackReceiver() as slack:
        url = feeds.route("/f.xml", Route(body=rss([
            {"title": "Quantized LLM inference on phones", "link": "https://q.example/phones"}])))
        _daemon_project(tmp_path, url)
        env = {**cli_env(datetime.now(UTC)), "SLACK_WEBHOOK_URL": slack.webhook_url}
        env.pop("BOT_NOW")  # the daemon runs on the real clock, as APScheduler does
        daemon = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert _wait(lambda: feeds.hits("/f.xml") >= 1, 30), "no poll"
            time.sleep(3.0)  # a start-up digest would run one second after the first poll
        finally:
            daemon.send_signal(signal.SIGTERM)
            _, stderr = daemon.communicate(timeout=30)
        status = subprocess.run([sys.executable, "-m", "bot", "status"], cwd=tmp_path, env=env, capture_output=True,
                                text=True, timeout=60)
    assert daemon.returncode == 0, stderr
    assert slack.accepted == [] and "digest (missed)" not in stderr
    assert "No digest yet: the first one is due" in status.stdout and "09:00:00" in status.stdout


@pytest.mark.slow
def test_bot_run_polls_posts_the_due_digest_once_refuses_a_twin_and_stops_on_sigterm(tmp_path: Path) -> None:
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "log.md").write_text("## 27 May 2023\n* [a](https://a.example/)\n## 28 May 2023\n"
                                                 "* [b](https://b.example/)\n## 29 May 2023\n* [c](https://c.example/)\n")
    with FeedServer() as feeds, SlackReceiver() as slack:
        url = feeds.route("/f.xml", Route(body=rss([
            {"title": "Quantized LLM inference on phones", "link": "https://q.example/phones"},
            {"title": "Retrieval-augmented generation without a vector database", "link": "https://r.example/rag"}])))
        _daemon_project(tmp_path, url)
        env = {**cli_env(datetime.now(UTC)), "SLACK_WEBHOOK_URL": slack.webhook_url, "BOT_LOCK_WAIT": "1"}
        env.pop("BOT_NOW")  # the daemon runs on the real clock, as APScheduler does
        # The database's last digest (an empty one, nothing polled yet) is from two weeks ago, so a
        # scheduled digest fell due while the daemon was down.
        earlier = subprocess.run([sys.executable, "-m", "bot", "digest", "--mark-only"], cwd=tmp_path,
                                 env={**env, "BOT_NOW": (datetime.now(UTC) - timedelta(days=14)).isoformat()},
                                 capture_output=True, text=True, timeout=60)
        assert earlier.returncode == 0, earlier.stderr
        daemon = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert _wait(lambda: len(slack.accepted) >= 1, 30), "no digest posted"
            assert feeds.hits("/f.xml") >= 1
            twin = subprocess.run([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env, capture_output=True,
                                  text=True, timeout=60)
            assert twin.returncode == 1
            assert "holds the lock" in twin.stderr and "bot run" in twin.stderr
            time.sleep(1.0)
            assert len(slack.accepted) == 1
        finally:
            daemon.send_signal(signal.SIGTERM)
            try:
                _, stderr = daemon.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                raise
    assert daemon.returncode == 0, stderr
    assert "poll: 1 source," in stderr and "digest (missed):" in stderr and "2 items" in stderr
    assert "stopped" in stderr
    assert "SECRET" not in stderr  # the webhook URL never appears in logs
    assert (tmp_path / "library" / "log.md").read_text().count("https://q.example/phones") == 1
