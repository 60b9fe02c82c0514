"""Opening the database: many commands started at once on a fresh database all succeed, each
migration applied exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.store.database import Store
from bot.store.schema import MIGRATIONS
from tests.conftest import ROOT


@pytest.mark.slow
def test_commands_started_together_on_a_fresh_database_all_succeed(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("BOT_CONFIG", "SLACK_WEBHOOK_URL", "SLACK_BOT_TOKEN", "OPENAI_API_KEY"):
        env.pop(name, None)
    failures = []
    for trial in range(2):  # before the fix, most of the ten failed in each trial
        folder = tmp_path / f"trial{trial}"
        folder.mkdir()
        (folder / "bot.toml").write_text('[bot]\ndb = "bot.db"\n[library]\npaths = []\n', encoding="utf-8")
        commands = [["library", "stats", "--json"], ["status", "--json"]] * 5
        procs = [subprocess.Popen([sys.executable, "-m", "bot", *args], cwd=folder, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for args in commands]
        for args, proc in zip(commands, procs, strict=True):
            out, err = proc.communicate(timeout=60)
            if proc.returncode != 0:
                failures.append(f"trial {trial} {' '.join(args)}: {err.strip()}")
        store = Store.open(folder / "bot.db")
        applied = [row[0] for row in store.db.execute("select version from _migrations order by version")]
        store.close()
        assert applied == sorted(v for v, _, _ in MIGRATIONS)
    assert failures == []
