"""Worker processes die with the command that started them, whatever kills it (kill -9, SIGTERM, a
crash): a worker left behind would hold memory, write to a dead pipe for ever and, before the lock
stopped being inherited (bot.lock), keep every later command out.

Two nets, both set up by `die_with` as a worker's initializer. On Linux the kernel sends the worker
SIGKILL when its parent dies (prctl PR_SET_PDEATHSIG); a parser worker's parent is the fork server,
which itself exits when the command does. Everywhere, a thread in the worker looks every half second
whether the command is still there, and ends the worker when it is not.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
WATCH_EVERY = 0.5  # seconds between a worker's looks at the command that started it


def _parent_death_signal() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # no prctl here: the watching thread still ends the worker
        pass


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process now has that number: ours is gone
        return False
    return True


def die_with(command_pid: int) -> None:
    """Initializer of every worker pool: this process ends when the process `command_pid` does."""
    parent = os.getppid()
    _parent_death_signal()
    # The parent may have died between the fork and the prctl: then no signal will ever come.
    if os.getppid() != parent or not alive(command_pid):
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(WATCH_EVERY)
            if os.getppid() != parent or not alive(command_pid):
                os._exit(1)  # no cleanup: everything a worker holds belongs to the dead command

    threading.Thread(target=watch, name="watch-command", daemon=True).start()
