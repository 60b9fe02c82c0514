"""A pseudo-terminal to run the CLI in, as a person at a terminal does: stdin, stdout and stderr are one
tty of a known size, which is the process's controlling terminal, so ^C typed into it sends SIGINT to
the foreground process group (the command and every process it forked), exactly as at a shell.

Stdlib only (pty, termios): a test tier must not depend on a terminal library's own way of driving one."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Run in the child before the bot starts: a new session (start_new_session) has no controlling terminal
# until it claims one; only then does the terminal turn ^C into SIGINT for it.
_CLAIM_TTY = ("import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
              "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])")
_ANSI = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"
COLUMNS, ROWS = 100, 40


@dataclass
class Screen:
    code: int | None  # None: still running when the test gave up on it (it was killed)
    raw: str  # what the terminal received, escape sequences included
    seconds: float  # from start to exit
    interrupted_at: list[float]  # seconds from start at which ^C was typed

    @property
    def text(self) -> str:
        """What a person reads: escape sequences dropped, carriage-return redraws resolved to their last
        state (a progress bar redrawn in place leaves one line)."""
        lines = []
        for line in _ANSI.sub("", self.raw).replace("\r\n", "\n").split("\n"):
            lines.append(line.split("\r")[-1] if "\r" in line.rstrip("\r") else line.rstrip("\r"))
        return "\n".join(lines)

    @property
    def cursor_hidden(self) -> bool:
        """Whether the command left the cursor hidden (it hid it and did not show it again)."""
        return self.raw.rfind(HIDE_CURSOR) > self.raw.rfind(SHOW_CURSOR)

    @property
    def coloured(self) -> bool:
        return "\x1b[" in self.raw.replace(HIDE_CURSOR, "").replace(SHOW_CURSOR, "")


def run_in_terminal(args: list[str], cwd: Path, env: dict[str, str], *, interrupt: Callable[[str], bool] | None = None,
                    interrupts: int = 1, interrupt_every: float = 0.5, timeout: float = 90) -> Screen:
    """`python -m bot ARGS` at a COLUMNS x ROWS terminal. `interrupt(screen_text)` says when to type ^C
    (`interrupts` times, `interrupt_every` seconds apart); the screen is read until the process exits."""
    master, slave = os.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TERM")}
    env["TERM"] = "xterm-256color"
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", _CLAIM_TTY, "-m", "bot", *args], cwd=cwd, env=env,
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True, close_fds=True)
    os.close(slave)
    received = b""
    typed: list[float] = []
    timed_out = False
    try:
        while True:
            if time.monotonic() - started > timeout:
                timed_out = True
                break
            if interrupt is not None and len(typed) < interrupts and (
                    typed and time.monotonic() - started - typed[-1] >= interrupt_every
                    or not typed and interrupt(_ANSI.sub("", received.decode("utf-8", "replace")))):
                os.write(master, b"\x03")
                typed.append(time.monotonic() - started)
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every process holding the terminal has gone
                    break
                if not chunk:
                    break
                received += chunk
            elif proc.poll() is not None:  # exited, and nothing more to read
                break
        code = None if timed_out else proc.wait(timeout=10)
    finally:
        with contextlib.suppress(ProcessLookupError):  # the command and whatever it forked (its group)
            os.killpg(proc.pid, signal.SIGKILL)
        os.close(master)
    seconds = time.monotonic() - started
    return Screen(code, received.decode("utf-8", "replace"), seconds, typed)
