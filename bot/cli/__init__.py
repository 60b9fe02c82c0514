"""The command line, `bot`: the click group and shared helpers (group), the work commands (work), their
tables (render), and the status, demo and init commands' logic. `run` is the console script."""

from bot.cli.group import main, run

__all__ = ["main", "run"]
