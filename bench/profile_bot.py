"""Runs `bot` with cProfile on its main process and writes the profile to $PROF_OUT when the command
ends: `bot` ends through os._exit after its atexit handlers, so `python -m cProfile -o` never writes."""

from __future__ import annotations

import atexit
import cProfile
import os
import sys

profile = cProfile.Profile()


@atexit.register
def _dump() -> None:
    profile.disable()
    profile.dump_stats(os.environ["PROF_OUT"])


sys.argv = ["bot", *sys.argv[1:]]
profile.enable()
from bot.cli import run  # noqa: E402  (imported under the profiler: start-up is part of what is measured)

run()
