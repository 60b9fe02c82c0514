"""The small things a person notices at the command line (issue 25): counts in words, tables in a pipe,
log lines of the SDKs, what `bot init`, `bot demo` and `bot add --dry-run` say. Each through the CLI as
a process."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.conftest import ROOT, cli_env
from tests.servers import SlackReceiver, rss

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LOG = "## 27 May 2023\n* [QLoRA: Efficient Finetuning of Quantized LLMs](https://arxiv.org/abs/2305.14314)\n"


def bot(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = cli_env(NOW, **env)
    for name in ("COLUMNS", "LINES", "SLACK_WEBHOOK_URL", "SLACK_BOT_TOKEN", "OPENAI_API_KEY"):
        if name not in env:
            full.pop(name, None)
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=folder, env=full, capture_output=True, text=True,
                          timeout=120)


def project(folder: Path, feed_name: str = "feed", items: list[dict[str, str]] | None = None) -> Path:
    (folder / "library").mkdir(parents=True, exist_ok=True)
    (folder / "library" / "log.md").write_text(LOG, encoding="utf-8")
    when = (NOW - timedelta(hours=5)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    one = [{"title": "Quantized LLM inference on phones", "link": "https://q.example/phones",
            "comments": "https://news.ycombinator.com/item?id=46100001",
            "description": "<p>Points: 1</p><p># Comments: 1</p>", "pubDate": when}]
    (folder / "feed.xml").write_bytes(rss(items if items is not None else one))
    (folder / "bot.toml").write_text(
        f'[bot]\nlog = "library/log.md"\ntopics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n'
        f'[library]\npaths = ["library"]\n[hn]\nlookup = false\n[[feeds]]\nname = "{feed_name}"\nurl = "feed.xml"\n',
        encoding="utf-8")
    return folder


def test_one_of_a_thing_is_said_in_the_singular(tmp_path: Path) -> None:
    folder = project(tmp_path)
    polled = bot(folder, "poll")
    assert polled.returncode == 0, polled.stderr
    assert "(imported 1 library entry from 1 document first)" in polled.stderr
    text = bot(folder, "digest", "--dry-run")
    assert text.returncode == 0, text.stderr
    assert "(1 point, 1 comment)" in text.stdout, text.stdout
    assert "1 of 1 new relevant item." in text.stdout
    slack = bot(folder, "digest", "--dry-run", "--format", "slack").stdout
    assert "HN 1 pt, 1 comment>" in slack and "1 of 1 new relevant item." in slack, slack
    status = bot(folder, "status").stdout
    assert "Pending: 1 relevant item waiting" in status, status
    done = bot(folder, "digest", "--no-slack")
    assert done.returncode == 0, done.stderr
    assert "1 item (" in done.stdout, done.stdout
    assert "(1 item)" in bot(folder, "status").stdout
    for output in (polled.stderr, text.stdout, slack, status, done.stdout):
        for wrong in ("1 items", "1 comments", "1 pts", "1 entries", "1 documents", "(s)"):
            assert wrong not in output, output


def test_tables_in_a_pipe_keep_every_name_whole(tmp_path: Path) -> None:
    name = "lilianweng-lil-log-github-io-posts-feed-with-a-long-name"
    folder = project(tmp_path, feed_name=name, items=[])
    (folder / "feed.xml").unlink()  # its error names the missing file in full
    polled = bot(folder, "poll")
    assert polled.returncode == 1
    rows = [line for line in polled.stdout.splitlines() if line.startswith("│")]
    assert rows and any(f"│ {name} " in r for r in rows), polled.stdout
    assert all(len(r) == len(rows[0]) for r in rows)  # one line per row: nothing folded onto a second line
    status = bot(folder, "status")
    assert f"│ {name} " in status.stdout, status.stdout
    assert str(folder / "feed.xml") in status.stdout  # the error, not cut in the middle


def test_a_failed_slack_post_is_one_sentence_without_the_sdks_log_line(tmp_path: Path) -> None:
    folder = project(tmp_path)
    with (folder / "bot.toml").open("a", encoding="utf-8") as f:
        f.write("[slack]\ntimeout = 1\n")
    assert bot(folder, "poll").returncode == 0
    with SlackReceiver(hang_seconds=2) as slack:
        slack.script = ["stall"]  # no answer within the timeout: slack_sdk logs an ERROR line of its own
        failed = bot(folder, "digest", SLACK_WEBHOOK_URL=slack.webhook_url)
    assert failed.returncode == 1
    assert "slack_sdk" not in failed.stderr and " ERROR " not in failed.stderr, failed.stderr
    assert "\nError: slack delivery uncertain: Slack webhook timed out" in failed.stderr, failed.stderr
    # A warning of the command's own reads as a sentence: no timestamp or logger name (those are -v's).
    assert all(not line[:1].isdigit() and "bot.digest" not in line for line in failed.stderr.splitlines())


def test_bot_init_keeps_secrets_and_the_database_out_of_git(tmp_path: Path) -> None:
    made = bot(tmp_path, "init", "mine")
    assert made.returncode == 0, made.stderr
    folder = tmp_path / "mine"
    assert "Copy to bot.toml" not in (folder / "bot.toml").read_text(encoding="utf-8")
    assert "written by `bot init`" in (folder / "bot.toml").read_text(encoding="utf-8").splitlines()[0]
    assert f"wrote {Path('mine') / '.gitignore'}" in made.stdout
    # A week of use leaves a secret, the database with its side files, locks and the library cache.
    (folder / ".env").write_text("SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T0/B0/secret\n")
    (folder / "library" / "reading-log.md").write_text(LOG, encoding="utf-8")
    for name in ("bot.db", "bot.db-wal", "bot.db-shm", "bot.db.lock", "bot.db.run.lock", "bot.db.library-cache",
                 "bot.db.library-cache.x1y2"):
        (folder / name).write_bytes(b"x")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=folder, check=True)
    subprocess.run([*git, "add", "-A"], cwd=folder, check=True)
    staged = set(subprocess.run([*git, "diff", "--cached", "--name-only"], cwd=folder, check=True, capture_output=True,
                                text=True).stdout.split())
    assert staged == {".gitignore", "bot.toml", "feeds/blogs.opml", "feeds/sources.toml", "feeds/topics.toml",
                      "library/reading-log.md"}


def test_bot_init_appends_to_an_existing_gitignore_and_keeps_its_lines(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / ".gitignore").write_text("node_modules/\n.env", encoding="utf-8")
    made = bot(tmp_path, "init", "mine")
    assert made.returncode == 0, made.stderr
    lines = (tmp_path / "mine" / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert lines[:2] == ["node_modules/", ".env"] and lines.count(".env") == 1 and "*.db" in lines
    assert "to the existing" in made.stdout and "*.db" in made.stdout


def test_the_demo_says_where_its_library_came_from(tmp_path: Path) -> None:
    shown = bot(tmp_path, "demo")
    assert shown.returncode == 0, shown.stderr
    first = shown.stdout.splitlines()[0]
    assert "sample reading library shipped with the tool" in first and "in seeds/" not in first, first
    assert list(tmp_path.iterdir()) == []


def test_add_dry_run_shows_the_tab_the_log_gets(tmp_path: Path) -> None:
    folder = project(tmp_path)
    dry = bot(folder, "add", "https://new.example/post", "--title", "A new LLM paper", "--note", "worth a look",
              "--date", "2026-11-22", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "* [A new LLM paper](https://new.example/post)\n\t* worth a look\n" in dry.stdout, repr(dry.stdout)
    added = bot(folder, "add", "https://new.example/post", "--title", "A new LLM paper", "--note", "worth a look",
                "--date", "2026-11-22")
    assert added.returncode == 0, added.stderr
    assert "* [A new LLM paper](https://new.example/post)\n\t* worth a look\n" in \
        (folder / "library" / "log.md").read_text(encoding="utf-8")


def test_the_projects_own_gitignore_keeps_the_library_cache_out() -> None:
    if not (ROOT / ".git").exists():
        import pytest

        pytest.skip("not a git checkout")
    for name in ("bot.db.library-cache", "state/bot.db.library-cache.tmp123", "bot.db.lock", "bot.db-wal", ".env"):
        assert subprocess.run(["git", "check-ignore", "-q", name], cwd=ROOT).returncode == 0, name
