"""Advisory file locks beside the database, so one daemon runs per database and a poll or digest never
overlaps another. The lock file says who holds it, for the error message."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from bot.core.clock import Clock, stamp, system_clock
from bot.core.errors import LockHeldError


def _describe(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return "another bot process"
    return f"`{info.get('command', 'bot')}` (pid {info.get('pid', '?')}, since {info.get('since', '?')})"


@contextlib.contextmanager
def hold(path: Path, purpose: str, wait: float | None = None, clock: Clock = system_clock) -> Iterator[None]:
    """Takes the lock, waiting up to `wait` seconds (default 5, or $BOT_LOCK_WAIT); raises
    LockHeldError naming the holder."""
    if wait is None:
        try:
            wait = float(os.environ.get("BOT_LOCK_WAIT", "5"))
        except ValueError:
            wait = 5.0
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockHeldError(
                        f"{_describe(path)} holds the lock on {path.name.removesuffix('.lock')}; "
                        f"{purpose} waited {wait:g} s. Try again when it has finished."
                    ) from None
                time.sleep(0.1)
        info = {"pid": os.getpid(), "command": " ".join(["bot", *sys.argv[1:]])[:200],
                "since": stamp(clock())}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def work_lock(db: Path) -> Path:
    """Held during each poll and digest, by the daemon's jobs and by the CLI alike."""
    return db.with_name(db.name + ".lock")


def daemon_lock(db: Path) -> Path:
    """Held by `bot run` for its whole life: one daemon per database."""
    return db.with_name(db.name + ".run.lock")
