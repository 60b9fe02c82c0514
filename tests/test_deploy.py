"""The deploy recipes: files parse, paths they copy exist, commands they run exist in the CLI."""

from __future__ import annotations

import configparser
import re
import shlex

import click
import pytest
import yaml

from bot.cli.group import cli
from bot.core.config import load_config
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"


def assert_cli_command(line: str) -> None:
    """`bot digest --commit` must be a command line that click accepts (parsed, not run)."""
    args = shlex.split(line)
    assert args[0].endswith("bot"), line
    args = args[1:]
    command: click.Command = cli
    name = "bot"
    while isinstance(command, click.Group):
        name = args.pop(0)
        assert name in command.commands, f"{line}: no command {name!r}"
        command = command.commands[name]
    command.make_context(name, args)  # raises a UsageError for an unknown option


def test_workflow_parses_and_runs_real_commands() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "digest.yml").read_text())
    assert workflow[True if True in workflow else "on"]["schedule"][0]["cron"] == "0 9 * * 1"
    steps = workflow["jobs"]["digest"]["steps"]
    runs = [s["run"] for s in steps if "run" in s]
    bot_lines = [line.strip() for r in runs for line in r.splitlines() if line.strip().startswith("bot ")]
    assert bot_lines == ["bot poll", "bot digest --commit --new"]
    for line in bot_lines:
        assert_cli_command(line)
    secrets = {v for s in steps for v in (s.get("env") or {}).values()}
    assert "${{ secrets.SLACK_WEBHOOK_URL }}" in secrets
    assert any("git push" in r for r in runs)
    config = ROOT / workflow["jobs"]["digest"]["env"]["BOT_CONFIG"]  # committed, since bot.toml is git-ignored
    loaded = load_config(str(config), env={})
    assert loaded.log is not None and loaded.log.is_file() and loaded.db.parent == ROOT


def test_compose_file_parses() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    service = compose["services"]["bot"]
    assert service["command"] == ["run"] and "digest-data:/data" in service["volumes"]
    assert service["stop_signal"] == "SIGTERM"


@pytest.mark.parametrize("unit", ["research-digest-bot.service", "research-digest-bot-digest.service",
                                  "research-digest-bot-digest.timer"])
def test_systemd_units_parse_and_run_real_commands(unit: str) -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / unit).read_text())
    assert "Unit" in parser
    if unit.endswith(".service"):
        text = (DEPLOY / unit).read_text()
        for line in re.findall(r"^ExecStart=(.+)$", text, re.MULTILINE):
            assert_cli_command(line.replace("/opt/research-digest-bot/.venv/bin/bot", "bot"))
    else:
        assert parser["Timer"]["OnCalendar"].startswith("Mon")


def test_dockerfile_copies_what_exists_and_runs_non_root() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    for src in re.findall(r"^COPY (?!--from)(\S+)", text, re.MULTILINE):
        assert (ROOT / src).exists(), src
    assert "pip install -e" not in text and re.search(r"pip install .*\.whl", text)  # the wheel, as users get it
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and "*.db" in ignored and ".env" in ignored
    assert re.search(r"^USER bot$", text, re.MULTILINE)
    assert 'VOLUME ["/data"]' in text
    entry = (DEPLOY / "entrypoint.sh").read_text()
    assert 'exec bot "$@"' in entry
