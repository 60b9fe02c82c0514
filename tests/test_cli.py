"""The command line through click's runner: output shapes, exit codes, error style."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bot.cli.group import cli, main
from tests.conftest import SEEDS, write_config


def run(args: list[str], input: str | None = None) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(cli, args, input=input, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_every_command_has_help() -> None:
    def walk(command: click.Command, path: list[str]) -> list[list[str]]:
        found = [path]
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                found += walk(sub, [*path, name])
        return found

    for path in walk(cli, []):
        code, stdout, _ = run([*path, "--help"])
        assert code == 0, path
        assert "Usage:" in stdout
        command = cli
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        assert command.help, f"{' '.join(path) or 'bot'} has no help text"


def test_library_import_json_and_idempotence(workdir: Path) -> None:
    code, stdout, _ = run(["library", "import", str(SEEDS), "--json"])
    assert code == 0
    first = json.loads(stdout)
    assert first["entries"] > 300 and first["title_only"] == 14 and len(first["files"]) == 4
    code, stdout, _ = run(["library", "import", str(SEEDS), "--json"])
    assert json.loads(stdout) == first


def test_library_check_json_in_order_with_stdin(workdir: Path) -> None:
    run(["library", "import", str(SEEDS)])
    queries = "https://arxiv.org/pdf/2305.14314v2.pdf\nhttps://example.com/never-seen\n“attention is all you need”\n"
    code, stdout, _ = run(["library", "check", "--json", "-"], input=queries)
    assert code == 0
    results = json.loads(stdout)
    assert [r["query"] for r in results] == [q for q in queries.splitlines()]
    assert [r["known"] for r in results] == [True, False, True]
    assert results[0]["rule"] == "arxiv" and results[0]["entry"]["title"].startswith("QLoRA")
    assert results[1]["entry"] is None and results[1]["rule"] is None
    assert set(results[2]) == {"query", "known", "entry", "rule"}


def test_check_imports_the_library_when_empty(workdir: Path) -> None:
    write_config(workdir, f'[library]\npaths = ["{SEEDS.as_posix()}"]\n')
    code, stdout, _ = run(["library", "check", "--json", "https://news.ycombinator.com/item?id=36064568"])
    assert code == 0 and json.loads(stdout)[0]["known"] is True


def test_stats_and_search(workdir: Path) -> None:
    run(["library", "import", str(SEEDS)])
    code, stdout, _ = run(["library", "stats", "--json"])
    assert json.loads(stdout)["hn_ids"] > 50
    code, stdout, _ = run(["library", "search", "--json", "quantized"])
    assert code == 0
    assert any("QLoRA" in (r["title"] or "") for r in json.loads(stdout))
    code, stdout, _ = run(["library", "search", 'quote"d (odd'])  # FTS syntax in user text is quoted, not an error
    assert code == 0


def test_missing_document_is_one_clear_error(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["library", "import", "no-such-folder"])
    captured = capsys.readouterr()
    assert code == 2  # a path that is not there is a usage error, not failed work
    assert "No such reading document or folder: no-such-folder" in captured.err
    assert "Traceback" not in captured.err


def test_bad_config_exits_2(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_config(workdir, "[bot]\ndigest_limt = 3\n")
    code = main(["library", "stats"])
    assert code == 2
    assert "Unknown key 'digest_limt' in [bot]" in capsys.readouterr().err


def test_usage_error_exits_2(workdir: Path) -> None:
    assert main(["library", "frobnicate"]) == 2
    assert main(["library", "check"]) == 2


# The SDKs a command loads only when it talks to the network, an LLM, Slack or the scheduler.
HEAVY = ("httpx", "openai", "slack_sdk", "feedparser", "apscheduler")
LOADED = """
import json, sys
from bot.cli.group import main
code = main(sys.argv[1:]) if sys.argv[1:] else 0
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [[], ["--help"], ["status", "--json"],
                                  ["library", "check", "--json", "https://arxiv.org/abs/1706.03762"]])
def test_start_up_imports_only_what_the_command_uses(workdir: Path, args: list[str]) -> None:
    """`bot --help`, `bot status` and `bot library check` start fast: importing the CLI, or running these
    commands, loads no HTTP, LLM, Slack, feed-parsing or scheduler library (a fresh process tells)."""
    import subprocess
    import sys

    import bot.library.api as lib
    from bot.store.database import Store

    write_config(workdir, f'[bot]\ndb = "bot.db"\n[library]\npaths = ["{SEEDS}"]\n')
    store = Store.open(workdir / "bot.db")  # a database in use: made, migrated and its library imported
    lib.import_documents(store, [SEEDS])
    store.close()
    done = subprocess.run([sys.executable, "-c", LOADED, *args], cwd=workdir, capture_output=True, text=True,
                          timeout=60)
    loaded = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert "bot" in loaded and "click" in loaded
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))
    assert "sqlite_utils" not in loaded  # reads are plain SQL; sqlite_utils (0.1 s to import) is for writes
