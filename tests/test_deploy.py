"""The deploy recipes: files parse, paths they copy exist, commands they run exist in the CLI."""

from __future__ import annotations

import configparser
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import click
import pytest
import yaml

import bot.library.api as lib
from bot.cli.group import cli
from bot.core.config import load_config
from bot.store.database import Store
from tests.conftest import ROOT, SEEDS

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


def _entrypoint(tmp_path: Path, data: Path) -> None:
    """deploy/entrypoint.sh as the container runs it, with /app as this checkout and /data a folder."""
    script = (DEPLOY / "entrypoint.sh").read_text().replace("\nAPP=/app\n", f"\nAPP={ROOT}\n")
    script = script.replace("\nDATA=/data\n", f"\nDATA={data}\n")
    script = script.replace('exec bot "$@"', "exit 0")
    (tmp_path / "entrypoint.sh").write_text(script)
    subprocess.run(["sh", str(tmp_path / "entrypoint.sh")], check=True, timeout=30)


def _container_library(data: Path) -> int:
    text = (data / "bot.toml").read_text().replace('"/app/', f'"{ROOT}/').replace('"/data/', f'"{data}/')
    (data / "local.toml").write_text(text)
    config = load_config(str(data / "local.toml"), env={})
    store = Store.open(":memory:")
    lib.sync_library(store, [*config.library_paths, *([config.log] if config.log else [])])
    return store.library_stats().entries


def _seed_entries() -> int:
    store = Store.open(":memory:")
    lib.import_documents(store, [SEEDS])
    return store.library_stats().entries


def test_the_docker_image_reads_the_log_once(tmp_path: Path) -> None:
    """The log on the volume is the first start's copy of a seed: the library holds it once (the seeds'
    own count), not once as a seed and again as the log."""
    data = tmp_path / "data"
    data.mkdir()
    _entrypoint(tmp_path, data)
    assert (data / "log.md").read_bytes() == (SEEDS / "001_71959d29a843dc8b.txt").read_bytes()
    assert _container_library(data) == _seed_entries()


def test_the_entrypoint_mends_the_config_an_earlier_image_wrote(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    old = (DEPLOY / "docker-bot.toml").read_text()
    old = re.sub(r"^paths = \[.*?\]\n", 'paths = ["/app/seeds", "/data/log.md"]\n', old, flags=re.MULTILINE | re.DOTALL)
    (data / "bot.toml").write_text(old + "# my own note\n")
    _entrypoint(tmp_path, data)
    mended = (data / "bot.toml").read_text()
    assert '"/app/seeds",' not in mended and mended.endswith("# my own note\n")
    assert _container_library(data) == _seed_entries()


def test_the_workflow_saves_the_database_even_when_a_step_failed() -> None:
    """A Slack post followed by a failed `git push` must be remembered as posted next week."""
    steps = yaml.safe_load((ROOT / ".github" / "workflows" / "digest.yml").read_text())["jobs"]["digest"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    restore = uses.index("actions/cache/restore@v4")
    save = steps[uses.index("actions/cache/save@v4")]
    assert save.get("if") == "always()" and save["with"]["path"] == steps[restore]["with"]["path"] == "bot.db"
    assert uses.index("actions/cache/save@v4") == len(steps) - 1  # after the push, whatever it did
    assert "actions/cache@v4" not in uses  # the combined action saves only when the job succeeds


def test_the_github_config_shows_how_to_turn_on_summaries_and_token_delivery() -> None:
    text = (DEPLOY / "github-bot.toml").read_text()
    enabled = "\n".join(m.group(1) for m in re.finditer(r"^# (\[\w+\]|\w+ = .*)$", text, re.MULTILINE))
    parsed = tomllib.loads(enabled)  # the commented sections are valid TOML once uncommented
    assert parsed["llm"]["enabled"] is True and parsed["slack"]["channel"]


@pytest.mark.parametrize("unit", ["research-digest-bot.service", "research-digest-bot-digest.service"])
def test_systemd_units_say_which_paths_they_can_write(unit: str) -> None:
    text = (DEPLOY / unit).read_text()
    assert "ProtectSystem=strict" in text
    assert re.search(r"^ReadWritePaths=/opt/research-digest-bot$", text, re.MULTILINE)
    comment = text.split("ProtectSystem=strict", 1)[1].split("\nReadWritePaths=", 1)[0]
    assert "log" in comment and "Read-only file system" in comment  # says what else must be added, and why
