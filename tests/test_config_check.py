"""`bot config check` through the CLI: the config, its files, which secrets are present (never their
values), and with --online whether Slack and the LLM answer (loopback servers). Exit 0 ready, 2 broken,
1 an online check failed."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import cli_env, write_config
from tests.servers import OpenAIServer, SlackReceiver, rss

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TOKEN = "xoxb-1111-TOKENVALUE"
KEY = "sk-test-KEYVALUE-0123456789"
GOOD = '[bot]\nlog = "log.md"\n[library]\npaths = ["log.md"]\n[[feeds]]\nname = "f"\nurl = "feed.xml"\n'


def bot(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=folder, env=cli_env(NOW, **env),
                          capture_output=True, text=True, timeout=120)


def checks(done: subprocess.CompletedProcess[str]) -> dict[str, dict[str, str]]:
    return {c["what"]: c for c in json.loads(done.stdout)["checks"]}


def project(folder: Path, body: str = GOOD) -> Path:
    (folder / "feed.xml").write_bytes(rss([]))
    (folder / "log.md").write_text("# Log\n", encoding="utf-8")
    write_config(folder, body)
    return folder


def test_a_ready_config_exits_0_and_names_its_secrets_without_their_values(workdir: Path) -> None:
    project(workdir, GOOD + '[slack]\nchannel = "#ai"\n[llm]\nenabled = true\n')
    (workdir / ".env").write_text(f"OPENAI_API_KEY={KEY}\n", encoding="utf-8")
    done = bot(workdir, "config", "check", "--json", SLACK_BOT_TOKEN=TOKEN)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and report["config"] == str(workdir / "bot.toml")
    assert report["secrets"] == {"SLACK_WEBHOOK_URL": None, "SLACK_BOT_TOKEN": "environment", "OPENAI_API_KEY": ".env"}
    found = checks(done)
    assert found["feeds"]["detail"].startswith("1 feed, 1 enabled")
    assert found["slack"]["detail"] == "bot token, channel #ai" and "gpt-4o-mini" in found["llm"]["detail"]
    assert "does not exist yet" in found["database"]["detail"]
    assert not (workdir / "bot.db").exists()  # a check writes nothing
    text = bot(workdir, "config", "check", SLACK_BOT_TOKEN=TOKEN)
    assert text.returncode == 0 and "Ready." in text.stdout
    for output in (done.stdout, done.stderr, text.stdout, text.stderr):
        assert TOKEN not in output and KEY not in output


def test_a_broken_config_exits_2_and_says_what_is_wrong(workdir: Path) -> None:
    project(workdir, GOOD.replace('paths = ["log.md"]', 'paths = ["nowhere"]') + '[slack]\n')
    done = bot(workdir, "config", "check", "--json", SLACK_BOT_TOKEN=TOKEN)
    assert done.returncode == 2
    found = checks(done)
    assert found["library"]["status"] == "error" and "nowhere does not exist" in found["library"]["detail"]
    assert found["slack"]["status"] == "error" and "no channel" in found["slack"]["detail"]
    text = bot(workdir, "config", "check")
    assert text.returncode == 2 and "broken" in text.stdout and "Traceback" not in text.stderr


def test_a_config_that_does_not_parse_is_one_error(workdir: Path) -> None:
    write_config(workdir, "[bot\n")
    done = bot(workdir, "config", "check", "--json")
    assert done.returncode == 2
    assert [c["what"] for c in json.loads(done.stdout)["checks"]] == ["config"]
    assert "not valid TOML" in checks(done)["config"]["detail"]


def test_a_broken_feed_file_is_named(workdir: Path) -> None:
    project(workdir, '[bot]\nfeeds_dir = "feeds"\n[library]\npaths = []\n')
    (workdir / "feeds").mkdir()
    (workdir / "feeds" / "blogs.opml").write_text("<opml><body><outline xmlUrl=", encoding="utf-8")
    done = bot(workdir, "config", "check", "--json")
    assert done.returncode == 2
    assert checks(done)["feed file blogs.opml"]["status"] == "error"


def test_online_asks_slack_and_the_llm_and_a_failure_exits_1(workdir: Path) -> None:
    with SlackReceiver() as slack, OpenAIServer() as llm:
        project(workdir, GOOD + f'[slack]\nchannel = "#ai"\napi_url = "{slack.api_url}"\n[llm]\nenabled = true\n')
        env = {"SLACK_BOT_TOKEN": TOKEN, "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": llm.base_url}
        done = bot(workdir, "config", "check", "--online", "--json", **env)
        assert done.returncode == 0, done.stdout + done.stderr
        found = checks(done)
        assert found["slack online"]["status"] == "ok" and found["llm online"]["status"] == "ok"
        assert [p["path"] for p in slack.posts] == ["/api/auth.test"]  # asked who the token is; posted nothing
        assert slack.posts[0]["auth"] == f"Bearer {TOKEN}"
        assert llm.requests[0]["body"]["max_tokens"] == 1
        slack.script, llm.script = ["500"], ["401"]  # the 401 echoes the key it was sent
        failed = bot(workdir, "config", "check", "--online", **env)
        assert failed.returncode == 1
        assert "Slack refused the bot token" in failed.stdout and "did not answer" in failed.stdout
        assert KEY not in failed.stdout + failed.stderr and TOKEN not in failed.stdout + failed.stderr


def test_online_does_not_post_to_a_webhook(workdir: Path) -> None:
    with SlackReceiver() as slack:
        project(workdir)
        done = bot(workdir, "config", "check", "--online", "--json", SLACK_WEBHOOK_URL=slack.webhook_url)
        assert done.returncode == 0, done.stdout + done.stderr
        assert checks(done)["slack online"]["status"] == "skipped" and slack.posts == []
        assert "XXXXSECRETXXXX" not in done.stdout


def test_a_broken_config_is_named_as_every_command_chooses_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """./bot.toml comes before BOT_CONFIG for every command: the broken file named is the one in use."""
    from bot.config_check import check_config

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    project(elsewhere)
    here = tmp_path / "here"
    here.mkdir()
    (here / "bot.toml").write_text("[bot\n", encoding="utf-8")
    monkeypatch.setenv("BOT_CONFIG", str(elsewhere / "bot.toml"))
    report = check_config(None, cwd=here)
    assert report.exit_code == 2
    assert report.config == str(here / "bot.toml")
