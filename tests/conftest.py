from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED_FIXTURES = ROOT.parent / "shared" / "fixtures"


@pytest.fixture
def shared_fixtures() -> Path:
    """The real recordings beside the checkout; absent in a user's fresh clone."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"real recordings not present at {SHARED_FIXTURES} (they live beside the checkout in CI)")
    return SHARED_FIXTURES


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder with no bot.toml, no .env and no BOT_CONFIG or secrets around."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_LOCK_WAIT", "0.5")
    for name in ("BOT_CONFIG", "SLACK_WEBHOOK_URL", "SLACK_BOT_TOKEN", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def cli_env(now: datetime, isolated: bool = False, **extra: str) -> dict[str, str]:
    """The environment for a test that starts the CLI as a process: this checkout on the path, no stray
    config, and the process's clock fixed at `now` through the test-only BOT_NOW hook (with the opt-in
    BOT_TEST_HOOKS=1 that lets test hooks act at all). `isolated`: no SLACK_, OPENAI_ or BOT_ variable
    of the surrounding environment either, only those in `extra`."""
    inherited = {k: v for k, v in os.environ.items()
                 if not (isolated and k.startswith(("SLACK_", "BOT_", "OPENAI_")))}
    env = {**inherited, "PYTHONPATH": str(ROOT), "BOT_NOW": now.isoformat(), "BOT_TEST_HOOKS": "1", **extra}
    env.pop("BOT_CONFIG", None)
    return env


def run_bot(folder: Path, now: datetime, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`bot ARGS...` as a process in `folder`, on the clock fixed at `now`."""
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=folder, env=cli_env(now),
                          capture_output=True, text=True, timeout=timeout)


def bot_ok(folder: Path, now: datetime, *args: str) -> str:
    """What `bot ARGS...` printed on stdout, which must have succeeded."""
    done = run_bot(folder, now, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def write_config(folder: Path, body: str) -> Path:
    path = folder / "bot.toml"
    path.write_text(body, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests talk only to servers they start on the loopback interface: any other address fails loudly."""
    import ipaddress
    import socket

    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else None
        if isinstance(host, str) and self.family in (socket.AF_INET, socket.AF_INET6):
            try:
                loopback = ipaddress.ip_address(host.split("%")[0]).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                raise OSError(f"test tried to reach {host}: tests must not touch the internet")
        return real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)
