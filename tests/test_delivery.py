"""Delivery under a hostile Slack and an unusual log, through the CLI as a person meets it: marks unique
to a database, bad webhook URLs, Slack's definite rejections and Retry-After across runs, retries by
`bot run`, and a log that is a symbolic link or has CRLF line endings. Slack is a receiver on 127.0.0.1."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.core.config import Config, load_config
from bot.core.errors import StoreError
from bot.core.targets import DeliveryTarget
from bot.delivery import log
from bot.digest.pipeline import DigestOptions, run
from bot.store.database import Store
from tests.conftest import ROOT, cli_env
from tests.servers import SlackReceiver
from tests.test_digest import LOG, NOW, log_sections, polled_store, setup_project, targets

CHANNEL = "#ai-digest"


def project(folder: Path, log: str | None = None, extra: str = "") -> Config:
    """A polled project (three relevant items waiting) whose Slack requests time out after 1 s."""
    folder.mkdir(parents=True, exist_ok=True)
    config = setup_project(folder)
    if log is not None:
        (folder / "library" / "log.md").write_bytes(log.encode("utf-8"))
    with (folder / "bot.toml").open("a", encoding="utf-8") as f:
        f.write(f"[slack]\ntimeout = 1\n{extra}")
    config = load_config(str(folder / "bot.toml"), env={})
    polled_store(config).close()
    return config


def bot(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`bot ARGS` as a process, its clock at NOW (the test-only BOT_NOW) unless `env` says otherwise."""
    full = cli_env(NOW, isolated=True, **(env or {}))
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=folder, env=full, capture_output=True,
                          text=True, timeout=120)


def token_env(slack: SlackReceiver) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_CHANNEL": CHANNEL, "SLACK_API_URL": slack.api_url}


def deliveries(config: Config) -> dict[str, dict[str, object]]:
    store = Store.open(config.db)
    try:
        return {row["target"]: row for row in store.db.table("deliveries").rows}
    finally:
        store.close()


def marks(slack: SlackReceiver) -> list[str]:
    return [m["payload"]["metadata"]["event_payload"]["mark"] for m in slack.accepted]


# -- 1. a message from another install never settles ours ------------------------------------------

def test_another_installs_message_with_the_same_digest_number_is_not_proof(tmp_path: Path) -> None:
    a, b = project(tmp_path / "a"), project(tmp_path / "b")
    with SlackReceiver(hang_seconds=2) as slack:
        env = token_env(slack)
        first = bot(a.root, "digest", env=env)
        assert first.returncode == 0 and "slack: done" in first.stdout, first.stderr
        # B (a fresh database, the same channel) sends its digest 1; Slack stalls and never posts it.
        slack.script = ["stall"]
        stalled = bot(b.root, "digest", env=env)
        assert stalled.returncode == 1 and "uncertain" in stalled.stderr
        # The rerun reads the channel: A's digest 1 is there, B's is not. Still stalling, so not done.
        slack.script = ["stall"]
        rerun = bot(b.root, "digest", env=env)
        assert "slack: done" not in rerun.stdout, rerun.stdout
        assert rerun.returncode == 1
        # Slack takes posts again: B's digest arrives, once.
        last = bot(b.root, "digest", env=env)
        assert last.returncode == 0 and "slack: done" in last.stdout, last.stderr
        time.sleep(2.2)  # the stalled requests end on the receiver's side, unposted
    assert len(slack.accepted) == 2 and len(set(marks(slack))) == 2
    a_id, b_id = (Store.open(c.db).install_id() for c in (a, b))
    assert a_id != b_id and marks(slack) == [f"digest-{a_id}-1-part-1", f"digest-{b_id}-1-part-1"]


def test_an_older_database_gets_an_install_id_by_migration(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "old.db")
    store.db.execute("drop table install")
    store.db.execute("delete from _migrations where version = 6")
    store.db.execute("create table deliveries_copy as select digest_id, target, status, attempts, error, detail, "
                     "updated from deliveries")
    store.db.execute("drop table deliveries")
    store.db.execute("alter table deliveries_copy rename to deliveries")
    store.close()
    again = Store.open(tmp_path / "old.db")
    assert len(again.install_id()) == 16
    assert {"not_before", "next_retry"} <= set(again.db.table("deliveries").columns_dict)
    assert Store.open(tmp_path / "old.db").install_id() == again.install_id()  # made once, kept


# -- 6. a webhook URL that is not one ----------------------------------------------------------------

@pytest.mark.parametrize("name, value", [
    ("SLACK_WEBHOOK_URL", "hooks.slack.com/services/T0SECRET/B0SECRET/XXSECRETXX"),
    ("SLACK_WEBHOOK_URL", "http://hooks.slack.com/services/T0SECRET/B0SECRET/XXSECRETXX"),
    ("SLACK_API_URL", "127.0.0.1:9/api/"),
])
def test_a_slack_url_of_the_wrong_shape_stops_before_anything_is_recorded(tmp_path: Path, name: str,
                                                                         value: str) -> None:
    config = project(tmp_path)
    env = {name: value}
    if name == "SLACK_API_URL":
        env.update(SLACK_BOT_TOKEN="xoxb-test-SECRET", SLACK_CHANNEL=CHANNEL)
    result = bot(tmp_path, "digest", env=env)
    assert result.returncode == 2, result.stderr
    assert name in result.stderr and "***" in result.stderr
    assert "SECRET" not in result.stdout + result.stderr
    assert deliveries(config) == {}  # nothing recorded, so nothing left "sending" or later "uncertain"
    with SlackReceiver() as slack:
        fixed = bot(tmp_path, "digest", env={"SLACK_WEBHOOK_URL": slack.webhook_url})
    assert fixed.returncode == 0 and "slack: done" in fixed.stdout and len(slack.accepted) == 1


def test_a_send_that_never_started_is_failed_not_sending(tmp_path: Path) -> None:
    config = project(tmp_path)
    with SlackReceiver() as slack:
        port = slack.port
    refused = bot(tmp_path, "digest", env={"SLACK_WEBHOOK_URL": f"http://127.0.0.1:{port}/services/T/B/X"})
    assert refused.returncode == 1
    row = deliveries(config)["slack"]
    assert row["status"] == "failed" and "unreachable" in str(row["error"])
    with SlackReceiver() as slack:
        again = bot(tmp_path, "digest", env={"SLACK_WEBHOOK_URL": slack.webhook_url})
    assert again.returncode == 0 and "slack: done" in again.stdout and len(slack.accepted) == 1


# -- 9. definite rejections and Retry-After ---------------------------------------------------------

@pytest.mark.parametrize("how", ["webhook", "token"])
@pytest.mark.parametrize("answer", ["invalid_blocks_400", "invalid_blocks_200"])
def test_invalid_blocks_is_a_failure_with_its_reason(tmp_path: Path, how: str, answer: str) -> None:
    config = project(tmp_path)
    with SlackReceiver() as slack:
        env = token_env(slack) if how == "token" else {"SLACK_WEBHOOK_URL": slack.webhook_url}
        slack.script = [answer]
        first = bot(tmp_path, "digest", env=env)
        status = bot(tmp_path, "status", env=env)
        slack.script = [answer]
        rerun = bot(tmp_path, "digest", env=env)
    assert first.returncode == 1 and "slack delivery failed" in first.stderr and "invalid_blocks" in first.stderr
    assert "uncertain" not in first.stderr + status.stdout + rerun.stderr
    assert "slack: failed" in status.stdout and "invalid_blocks" in status.stdout
    assert rerun.returncode == 1 and "slack delivery failed" in rerun.stderr and "invalid_blocks" in rerun.stderr
    assert slack.accepted == [] and deliveries(config)["slack"]["status"] == "failed"


@pytest.mark.parametrize("how", ["webhook", "token"])
def test_retry_after_is_honoured_by_the_next_run(tmp_path: Path, how: str) -> None:
    project(tmp_path)
    with SlackReceiver() as slack:
        env = token_env(slack) if how == "token" else {"SLACK_WEBHOOK_URL": slack.webhook_url}
        slack.script = ["429:120"]
        before = NOW  # every run's clock (BOT_NOW): the rerun comes at the same moment, still inside the wait
        first = bot(tmp_path, "digest", env=env)
        time.sleep(1)
        rerun = bot(tmp_path, "digest", env=env)
        status = bot(tmp_path, "status", "--json", env=env)
    assert first.returncode == 1 and "429" in first.stderr
    assert len(slack.posts) == 1 and slack.accepted == []  # the rerun a second later sent nothing
    assert rerun.returncode == 1 and "next try at" in rerun.stderr
    retry = json.loads(status.stdout)["next"]["delivery_retry"]
    assert retry is not None
    assert before + timedelta(seconds=110) <= datetime.fromisoformat(retry) <= before + timedelta(seconds=200)
    assert retry in rerun.stderr  # it says when


# -- 10. `bot run` retries failed deliveries on its poll tick ---------------------------------------

def test_retry_backoff_doubles_and_is_capped() -> None:
    from bot.digest.pipeline import retry_delay

    assert [retry_delay(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert retry_delay(50) == timedelta(hours=6)


def test_the_poll_tick_retries_only_what_is_due(tmp_path: Path) -> None:
    config = project(tmp_path)
    with SlackReceiver() as slack:
        slack.script = ["500"]
        failed = bot(tmp_path, "digest", env={"SLACK_WEBHOOK_URL": slack.webhook_url})
        assert failed.returncode == 1
        row = deliveries(config)["slack"]
        next_retry = datetime.fromisoformat(str(row["next_retry"]))
        app = App(load_config(str(tmp_path / "bot.toml"), env={"SLACK_WEBHOOK_URL": slack.webhook_url}))
        try:
            assert app.retry_job(now=next_retry - timedelta(seconds=1)) == ""  # not yet: backoff
            assert len(slack.posts) == 1
            assert app.retry_job(now=next_retry) == "digest 1: slack done, log done"
            assert app.retry_job(now=next_retry + timedelta(hours=1)) == ""  # done is never repeated
        finally:
            app.close()
    assert len(slack.accepted) == 1


@pytest.mark.slow
def test_bot_run_retries_a_failed_post_on_the_next_poll_tick(tmp_path: Path) -> None:
    config = project(tmp_path, extra="[schedule]\npoll_every_minutes = 1\n")
    with SlackReceiver() as slack:
        slack.script = ["500"]
        env = {"SLACK_WEBHOOK_URL": slack.webhook_url, "BOT_LOCK_WAIT": "5"}
        # The post failed an hour ago (its first retry, 30 s later, is long due); the daemon's poll
        # tick, not the next digest time days away, must send it.
        an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        failed = bot(tmp_path, "digest", env={**env, "BOT_NOW": an_hour_ago})
        assert failed.returncode == 1 and len(slack.posts) == 1 and slack.accepted == []
        status = bot(tmp_path, "status", env=env)
        assert "slack failed" in status.stdout and "`bot run` retries at" in status.stdout, status.stdout
        full = cli_env(NOW, isolated=True, **env)
        full.pop("BOT_NOW")  # the daemon runs on the real clock, as APScheduler does
        daemon = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=full, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not slack.accepted:
                time.sleep(0.5)
            assert len(slack.accepted) == 1, "the failed post was not retried on the next tick"
        finally:
            daemon.send_signal(signal.SIGTERM)
            _, stderr = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, stderr
    assert "retry: digest 1: slack done" in stderr
    assert deliveries(config)["slack"]["status"] == "done"


# -- 13, 14. a log that is a link, a log with CRLF endings ------------------------------------------

def test_a_symlinked_log_is_written_through_the_link(tmp_path: Path) -> None:
    config = project(tmp_path)
    assert config.log is not None
    real = tmp_path / "notes" / "real-log.md"
    real.parent.mkdir()
    real.write_text(LOG, encoding="utf-8")
    config.log.unlink()
    config.log.symlink_to(real)
    result = bot(tmp_path, "digest", "--no-slack")
    assert result.returncode == 0, result.stderr
    assert config.log.is_symlink() and config.log.resolve() == real.resolve()
    assert real.read_text(encoding="utf-8").startswith(LOG)
    assert real.read_text(encoding="utf-8").count("https://c.example/three") == 1
    added = bot(tmp_path, "add", "https://d.example/new", "--title", "A new LLM paper", "--date", "2026-11-24")
    assert added.returncode == 0, added.stderr
    assert config.log.is_symlink() and "https://d.example/new" in real.read_text(encoding="utf-8")
    assert [p.name for p in real.parent.iterdir()] == ["real-log.md"]  # no temp file left behind


CRLF_LOG = LOG.replace("\n", "\r\n")


@pytest.mark.parametrize("command", [("digest", "--no-slack"),
                                     ("add", "https://d.example/new", "--title", "A new LLM paper",
                                      "--date", "2026-11-23")])
def test_a_crlf_log_keeps_its_line_endings(tmp_path: Path, command: tuple[str, ...]) -> None:
    config = project(tmp_path, log=CRLF_LOG)
    assert config.log is not None
    result = bot(tmp_path, *command)
    assert result.returncode == 0, result.stderr
    after = config.log.read_bytes().decode("utf-8")
    assert after.startswith(CRLF_LOG)  # every earlier line byte for byte
    added = after[len(CRLF_LOG):]
    assert "\r\n## " in added and added.endswith("\r\n")  # a dated section (the digest's is today's)
    assert added.count("\n") == added.count("\r\n") >= 2  # the new lines end like the file's


def test_other_lines_keep_their_endings_in_a_mixed_log(tmp_path: Path) -> None:
    mixed = "# Log\r\n\r\n## 22 November 2026\n* [old](https://o.example/)\r\n\r\n## 24 November 2026\r\n* [x](https://x.example/)\r\n"
    config = project(tmp_path, log=mixed)
    assert config.log is not None
    result = bot(tmp_path, "add", "https://d.example/new", "--title", "A new LLM paper", "--date", "2026-11-23")
    assert result.returncode == 0, result.stderr
    after = config.log.read_bytes().decode("utf-8")
    head, _, tail = mixed.partition("## 24 November 2026")
    assert after.startswith(head) and after.endswith("## 24 November 2026" + tail)
    assert after[len(head):-len("## 24 November 2026" + tail)] == \
        "## 23 November 2026\r\n* [A new LLM paper](https://d.example/new)\r\n\r\n"


# -- the ledger and its targets ---------------------------------------------------------------------

def test_importing_the_digest_or_a_slack_target_loads_no_slack_sdk() -> None:
    """The Slack targets know their client through a Protocol; slack_sdk is loaded when a client is built."""
    code = ("import sys, bot.digest.pipeline, bot.delivery.builtin, bot.delivery.slack_token; "
            "print('slack_sdk' in sys.modules, 'bot.delivery.slack_api' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("in_the_log", [True, False])
def test_an_interrupted_log_append_is_settled_by_reading_the_log(tmp_path: Path, in_the_log: bool) -> None:
    config = setup_project(tmp_path)
    assert config.log is not None
    store = polled_store(config)
    first = run(config, store, DigestOptions(slack=False), targets(), NOW)
    assert first.digest_id is not None and [(d.target, d.status) for d in first.deliveries] == [("log", "done")]
    if not in_the_log:  # the process died before the section was written
        config.log.write_text(LOG, encoding="utf-8")
    store.update_delivery(first.digest_id, "log", status="sending")  # ... while the append was under way
    again = run(config, store, DigestOptions(slack=False), targets(), NOW)
    (settled,) = again.finished_earlier[0].deliveries
    assert settled.status == "done"  # never "uncertain": the log can tell
    assert settled.detail["changed"] is not in_the_log  # appended only when it was missing
    assert len(log_sections(config)) == 1


def test_a_target_that_cannot_tell_leaves_an_interrupted_send_to_a_person(tmp_path: Path) -> None:
    config = setup_project(tmp_path)
    store = polled_store(config)
    first = run(config, store, DigestOptions(slack=False), targets(), NOW)
    assert first.digest_id is not None
    store.update_delivery(first.digest_id, "log", status="sending")
    blind_log = DeliveryTarget("log", deliver=log.deliver, render=log.render_section, body=log.BODY,
                              label="the log")  # the log, as a target with no way to look
    again = run(config, store, DigestOptions(slack=False), [blind_log], NOW)
    assert again.finished_earlier == []
    (row,) = store.deliveries(first.digest_id)
    assert row.status == "uncertain" and row.error is not None
    assert row.error == "interrupted while sending; check the log, then use --resend-uncertain if missing"


def test_commit_without_a_log_is_refused_before_anything_is_recorded(tmp_path: Path) -> None:
    config = project(tmp_path)
    result = bot(tmp_path, "digest", "--no-slack", "--no-log", "--commit")
    assert result.returncode == 2 and "--commit needs the log" in result.stderr
    assert deliveries(config) == {}


def test_the_ledger_reads_records_and_refuses_a_status_no_version_writes(tmp_path: Path) -> None:
    config = setup_project(tmp_path)
    store = polled_store(config)
    outcome = run(config, store, DigestOptions(slack=False), targets(), NOW)
    assert outcome.digest_id is not None
    digest = store.digest(outcome.digest_id)
    assert digest is not None and digest.item_count == 3 and digest.bodies["markdown"].startswith("## 23 November")
    assert [(d.target, d.status, d.detail["changed"]) for d in digest.deliveries] == [("log", "done", True)]
    assert store.digests()[0].bodies == {}  # the list leaves the bodies out
    store.db.execute("update deliveries set status = 'posted' where target = 'log'")
    with pytest.raises(StoreError, match=r"status 'posted', which no version of the bot writes; set it to one of "
                                         r"pending, sending, done, failed, uncertain"):
        store.deliveries(outcome.digest_id)

