"""Test-only hooks (`BOT_NOW`, a fixed clock; `BOT_KILL_AT`, a kill point): they act only when the
environment also opts in with `BOT_TEST_HOOKS=1`, and say so on stderr either way. A hook variable
left set in production (a shell profile, a copied unit file) must not freeze the clock or kill every
poll silently: without the opt-in it is ignored, with a warning.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

OPT_IN = "BOT_TEST_HOOKS"
_said: set[tuple[str, str]] = set()  # each hook is announced once per process, not once per App


def hooks_enabled(env: Mapping[str, str] | None = None) -> bool:
    return (os.environ if env is None else env).get(OPT_IN, "").strip() == "1"


def hook_value(name: str, env: Mapping[str, str] | None = None) -> str:
    """The value of test hook `name` when it may act, else "" (a set but ignored hook is warned about)."""
    value = (os.environ if env is None else env).get(name, "").strip()
    if not value:
        return ""
    if not hooks_enabled(env):
        _say(name, value, f"bot: warning: {name} is set but ignored: it is a test-only hook, and {OPT_IN}=1 "
                          "is not set")
        return ""
    _say(name, value, f"bot: test hook active: {name}={value}")
    return value


def _say(name: str, value: str, line: str) -> None:
    if (name, value) in _said:
        return
    _said.add((name, value))
    print(line, file=sys.stderr, flush=True)
