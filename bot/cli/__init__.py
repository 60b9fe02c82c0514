"""The command line, `bot`: the click group and the helpers its commands share (group), the work commands
(work), their tables (render), and the logic of status, demo and init. `run` is the console script.

The commands register themselves on the group when their module is imported; importing them here, and
not from the group's module, keeps the group free of its commands (no import cycle)."""

import bot.cli.config_check  # noqa: F401  (registers config check)
import bot.cli.items  # noqa: F401  (registers items, explain and skip)
import bot.cli.sources  # noqa: F401  (registers sources and sources forget)
import bot.cli.work  # noqa: F401  (registers the work commands on the group)
from bot.cli.group import main, run

__all__ = ["main", "run"]
