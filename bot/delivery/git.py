"""The git target: commits the log once the digest's section is in it (`--commit`, or [bot] commit_log
for `bot run`). Its ledger name is "commit", as in every database written before the registry."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bot.core.config import Config
from bot.core.errors import ConfigError, DeliveryError
from bot.core.ledger import Detail, DigestOptions
from bot.core.plural import plural
from bot.delivery import log
from bot.delivery.registry import DeliveryTarget, Send

NAME = "git"
LEDGER = "commit"


def wanted(config: Config, options: DigestOptions) -> bool:
    if not options.commit:
        return False
    if options.log and config.log is not None:
        return True
    raise ConfigError("--commit needs the log: set [bot] log in bot.toml (and do not pass --no-log)")


def deliver(send: Send) -> Detail:
    if send.config.log is None:
        raise DeliveryError("There is no log to commit now: set [bot] log in bot.toml", LEDGER, retryable=False)
    return {"commit": git_commit(send.config.log, f"digest: {send.date}, {plural(send.item_count, 'item')}")}


def git_commit(path: Path, message: str) -> str:
    """Commits the log alone; returns the commit id, or "" when there was nothing to commit."""
    folder = path.resolve().parent

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=60)

    try:
        if git("rev-parse", "--is-inside-work-tree").returncode != 0:
            raise DeliveryError(f"The log {path} is not inside a git repository, so --commit cannot commit it",
                                "commit", retryable=False)
        name = str(path.resolve())
        added = git("add", "--", name)
        if added.returncode != 0:
            raise DeliveryError(f"git add failed: {added.stderr.strip()}", "commit")
        if git("diff", "--cached", "--quiet", "--", name).returncode == 0:
            return ""  # already committed (a re-run after a crash between commit and bookkeeping)
        done = git("commit", "-m", message, "--", name)
        if done.returncode != 0:
            said = (done.stderr or done.stdout).strip()
            if "user.email" in said or "user.name" in said or "identity unknown" in said.lower():
                # git's own answer is ten lines of advice: one sentence says it
                raise DeliveryError("git commit failed: git does not know who you are; set it with "
                                    "`git config user.name \"Your Name\"` and `git config user.email you@example.com` "
                                    f"in {path.parent}", "commit", retryable=False)
            raise DeliveryError(f"git commit failed: {said}", "commit")
        return git("rev-parse", "HEAD").stdout.strip()
    except FileNotFoundError as exc:
        raise DeliveryError("git is not installed, so --commit cannot commit the log", "commit",
                            retryable=False) from exc
    except subprocess.TimeoutExpired as exc:
        raise DeliveryError("git did not finish within 60 s", "commit") from exc


TARGET = DeliveryTarget(NAME, deliver=deliver, enabled=wanted, ledger=LEDGER, label="git", after=(log.NAME,))
