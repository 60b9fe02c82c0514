"""The git target: commits the log once the digest's section is in it (`--commit`, or [bot] commit_log
for `bot run`). Its ledger name is "commit", as in every database written before the registry.

As a careful person uses git: the commit holds the log's path only, and of the log only the bot's own
appended section. The bot stages exactly that: the blob of HEAD's version of the log with the section
merged in, in an index of its own (GIT_INDEX_FILE) made from HEAD, so neither the person's unstaged
edits of the log nor anything they staged is swept in, and the repository's `.git/index.lock` is never
taken by the long-running commit. The commit runs the repository's hooks (`--no-verify` only when
[git] no_verify says so), with a long timeout ([git] timeout_seconds); a hook that runs over is
stopped with its whole process group, so nothing is left running or locked. A detached HEAD is
refused: the commit would be on no branch.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

from bot.core.config import Config
from bot.core.errors import ConfigError, DeliveryError
from bot.core.ledger import Detail, DigestOptions
from bot.core.plural import plural
from bot.delivery import log
from bot.delivery.registry import DeliveryTarget, Send

NAME = "git"
LEDGER = "commit"
SUBJECT_LIMIT = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")


def wanted(config: Config, options: DigestOptions) -> bool:
    if not options.commit:
        return False
    if options.log and config.log is not None:
        return True
    raise ConfigError("--commit needs the log: set [bot] log in bot.toml (and do not pass --no-log)")


def deliver(send: Send) -> Detail:
    if send.config.log is None:
        raise DeliveryError("There is no log to commit now: set [bot] log in bot.toml", LEDGER, retryable=False)
    section = send.body or ""
    return {"commit": git_commit(send.config.log, f"digest: {send.date}, {plural(send.item_count, 'item')}",
                                 [(section, None)] if section else [], timeout=send.config.git_timeout,
                                 no_verify=send.config.git_no_verify)}


def single_line(text: str) -> str:
    """A title as one line of plain text: newlines and other control characters become spaces, so a
    title cannot start a line of the message of its own (a forged `Signed-off-by:` trailer)."""
    return " ".join(_CONTROL.sub(" ", text).split())


def commit_subject(prefix: str, titles: Iterable[str]) -> str:
    subject = single_line(f"{prefix}{'; '.join(single_line(t) for t in titles)}")
    return subject if len(subject) <= SUBJECT_LIMIT else subject[:SUBJECT_LIMIT - 1] + "…"


class _Git:
    def __init__(self, folder: Path, timeout: float) -> None:
        self.folder = folder
        self.timeout = timeout

    def __call__(self, *args: str, index: str | None = None, stdin: str | None = None,
                 timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
        if index is not None:
            env["GIT_INDEX_FILE"] = index
        # A session of its own: on a timeout the hooks git started are stopped with it, not left running.
        # Bytes both ways, decoded without newline translation: a CRLF log keeps its line endings.
        proc = subprocess.Popen(["git", "-C", str(self.folder), *args], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
        try:
            out, err = proc.communicate(None if stdin is None else stdin.encode("utf-8", "surrogateescape"),
                                        timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
        return subprocess.CompletedProcess(proc.args, proc.returncode, out.decode("utf-8", "surrogateescape"),
                                           err.decode("utf-8", "replace"))


def git_commit(path: Path, message: str, sections: Sequence[tuple[str, date | None]], timeout: float = 600,
               no_verify: bool = False) -> str:
    """Commits the bot's own `sections` of the log (appended in this order) onto HEAD's version of it;
    returns the commit id, or "" when there was nothing to commit (HEAD has them already)."""
    path = path.resolve()
    git = _Git(path.parent, timeout)
    try:
        if git("rev-parse", "--is-inside-work-tree").returncode != 0:
            raise DeliveryError(f"The log {path} is not inside a git repository, so --commit cannot commit it",
                                LEDGER, retryable=False)
        if git("symbolic-ref", "-q", "HEAD").returncode != 0:
            raise DeliveryError(f"The repository of the log {path} is on a detached HEAD, so the bot did not "
                                "commit (the commit would be on no branch); check out a branch and run again",
                                LEDGER, retryable=False)
        if git("var", "GIT_COMMITTER_IDENT").returncode != 0:  # asked first: whatever else is wrong, this is
            raise _no_identity(path.parent)
        top = Path(git("rev-parse", "--show-toplevel").stdout.strip()).resolve()
        name = path.relative_to(top).as_posix()
        git.folder = top  # paths given to git from here on are the log's path from the top of the repository
        head = git("rev-parse", "-q", "--verify", "HEAD^{commit}").stdout.strip()
        shown = git("show", f"HEAD:{name}") if head else None
        tracked = shown is not None and shown.returncode == 0
        base = shown.stdout if shown is not None and tracked else ""
        wanted_text = base
        for section, day in sections:
            wanted_text = log.merge_section(wanted_text, section, day)
        if tracked and wanted_text == base:
            return ""  # HEAD has the section (a re-run after a crash between commit and bookkeeping)
        if not tracked and path.read_bytes().decode("utf-8", "surrogateescape") != wanted_text:
            raise DeliveryError(f"The log {path} is not in git yet and holds lines the bot did not write; commit "
                                "it once yourself (git add, git commit), and the bot commits its own appends "
                                "from then on", LEDGER, retryable=False)
        blob = git("hash-object", "-w", "--stdin", "--path", name, stdin=wanted_text).stdout.strip()
        return _commit(git, name, blob, head, single_line(message), no_verify)
    except FileNotFoundError as exc:
        raise DeliveryError("git is not installed, so --commit cannot commit the log", LEDGER,
                            retryable=False) from exc
    except subprocess.TimeoutExpired as exc:
        raise DeliveryError(f"git commit did not finish within {timeout:g} s (a slow hook?); it was stopped and "
                            "nothing was committed. Raise [git] timeout_seconds, or set [git] no_verify = true "
                            "to commit the log without hooks", LEDGER) from exc


def _commit(git: _Git, name: str, blob: str, head: str, message: str, no_verify: bool) -> str:
    mode = "100644"
    if head:
        listed = git("ls-tree", "HEAD", "--", name).stdout.split()
        mode = listed[0] if listed else mode
    with tempfile.TemporaryDirectory(prefix="bot-git-") as tmp:
        index = str(Path(tmp) / "index")  # the bot's own index: the repository's is not locked or changed
        made = git("read-tree", "HEAD", index=index) if head else git("read-tree", "--empty", index=index)
        staged = git("update-index", "--add", "--cacheinfo", f"{mode},{blob},{name}", index=index)
        for step in (made, staged):
            if step.returncode != 0:
                raise DeliveryError(f"git could not stage the log's section: {step.stderr.strip()}", LEDGER)
        done = git("commit", "-q", "-m", message, *(["--no-verify"] if no_verify else []), index=index,
                   timeout=git.timeout)
        if done.returncode != 0:
            said = (done.stderr or done.stdout).strip()
            if "user.email" in said or "user.name" in said or "identity unknown" in said.lower():
                raise _no_identity(git.folder)
            raise DeliveryError(f"git commit failed: {said}", LEDGER)
    commit = git("rev-parse", "HEAD").stdout.strip()
    # The person's index: where it held HEAD's old version of the log (nothing of theirs staged there),
    # it now holds the new one, so `git status` shows their own edits and nothing of the bot's.
    held = git("ls-files", "-s", "--", name).stdout.split()
    old = git("rev-parse", "-q", "--verify", f"{head}:{name}").stdout.strip() if head else ""
    if (held[1] if len(held) > 1 else "") == old:
        git("update-index", "--add", "--cacheinfo", f"{mode},{blob},{name}")
    return commit


def _no_identity(folder: Path) -> DeliveryError:
    # git's own answer is ten lines of advice: one sentence says it
    return DeliveryError("git commit failed: git does not know who you are; set it with "
                         "`git config user.name \"Your Name\"` and `git config user.email you@example.com` "
                         f"in {folder}", LEDGER, retryable=False)


TARGET = DeliveryTarget(NAME, deliver=deliver, render=log.render_section, body=log.BODY, enabled=wanted,
                        ledger=LEDGER, label="git", after=(log.NAME,))
