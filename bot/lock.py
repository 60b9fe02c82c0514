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
from bot.core.redact import redact

# The descriptors of the locks this process holds. A forked worker must not keep one open: a flock
# belongs to the open file, so a worker that outlived a killed command would hold its lock for ever.
# (Closing the child's copy leaves the parent's lock alone; unlocking it there would not.)
_held: set[int] = set()


def _close_held_in_child() -> None:
    for fd in list(_held):
        with contextlib.suppress(OSError):
            os.close(fd)
    _held.clear()


os.register_at_fork(after_in_child=_close_held_in_child)


def private_file(path: Path, flags: int) -> int:
    """Opens (creating) a file readable and writable by its owner only: a lock file names the command
    that holds it, and the database beside it holds the person's reading. An existing file is narrowed
    too (one made by an older version was 0644)."""
    old = os.umask(0o077)
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, 0o600)
    finally:
        os.umask(old)
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o600)
    return fd


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
    fd = private_file(path, os.O_RDWR)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                _held.add(fd)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockHeldError(
                        f"{_describe(path)} holds the lock on {path.name.removesuffix('.lock')}; "
                        f"{purpose} waited {wait:g} s. Try again when it has finished."
                    ) from None
                time.sleep(0.1)
        # The command line as shown to whoever waits: secrets and a URL's user:password@ masked.
        info = {"pid": os.getpid(), "command": redact(" ".join(["bot", *sys.argv[1:]]))[:200],
                "since": stamp(clock())}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        yield
    finally:
        _held.discard(fd)
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def work_lock(db: Path) -> Path:
    """Held during each poll and digest, by the daemon's jobs and by the CLI alike."""
    return db.with_name(db.name + ".lock")


def daemon_lock(db: Path) -> Path:
    """Held by `bot run` for its whole life: one daemon per database."""
    return db.with_name(db.name + ".run.lock")
