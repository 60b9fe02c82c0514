"""Secrets are masked by value, whatever their shape, in log lines, errors and tracebacks (-v)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from bot.cli.group import RedactSecrets
from bot.core.redact import redact, register
from tests.conftest import ROOT
from tests.servers import OpenAIServer
from tests.test_digest import polled_store, setup_project
from tests.test_llm import ITEMS

KEY = "local-provider-key-7f3a9c"  # no sk- prefix: the pattern net alone misses it
TOKEN = "bot-token-without-the-usual-prefix-51e2"
HOOK_PATH = "hooks/T0/B0/plainhookpath2c9d"  # not /services/: again only the value can catch it


def test_a_key_echoed_in_a_401_never_reaches_output_or_the_database(tmp_path: Path) -> None:
    config = setup_project(tmp_path, ITEMS)
    polled_store(config).close()
    with (tmp_path / "bot.toml").open("a") as f:
        f.write("[llm]\nenabled = true\n")
    with OpenAIServer() as llm:
        llm.script = ["401"] * 10
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": llm.base_url,
               "SLACK_BOT_TOKEN": TOKEN, "SLACK_CHANNEL": "#ai", "SLACK_API_URL": "http://127.0.0.1:9/api/",
               "SLACK_WEBHOOK_URL": f"http://127.0.0.1:9/{HOOK_PATH}"}
        env.pop("BOT_CONFIG", None)
        runs = [subprocess.run([sys.executable, "-m", "bot", "-vv", *args], cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=60)
                for args in (["digest", "--dry-run"], ["digest"], ["status"])]
        assert llm.requests and llm.requests[0]["auth"] == f"Bearer {KEY}"  # the server did see (and echo) it
    dry, real, _status = runs
    assert dry.returncode == 0 and "Incorrect API key provided: ***" in dry.stderr  # the log line is there
    assert real.returncode == 1 and "Traceback" in real.stderr  # Slack unreachable: an error with -v
    everything = "".join(r.stdout + r.stderr for r in runs)
    for db_file in tmp_path.glob("bot.db*"):
        everything += db_file.read_bytes().decode("utf-8", "replace")
    for secret in (KEY, TOKEN, HOOK_PATH, "plainhookpath"):
        assert secret not in everything


def test_log_lines_and_their_tracebacks_lose_registered_values() -> None:
    register(["another-secret-value-99"])
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed with %s", ("another-secret-value-99",),
                               None)
    try:
        raise ValueError("the server said: another-secret-value-99 is wrong")
    except ValueError:
        record.exc_info = sys.exc_info()
    RedactSecrets().filter(record)
    text = logging.Formatter().format(record)
    assert "another-secret-value-99" not in text and text.count("***") >= 2
    assert "another-secret-value%2D99" not in redact("x another-secret-value-99 y")
    assert redact("Bearer sk-abcdefghijkl and xoxb-1-2") == "Bearer *** and ***"
