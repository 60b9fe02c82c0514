"""git as a careful person uses it: `bot add --commit` (the same commit as the digest's git target) in a
real repository in a temporary folder, the CLI as a process."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli_env

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LOG = "# Reading log\n\n## 2 November 2026\n\n* [An old find](https://old.example/one)\n"


def git(folder: Path, *args: str, check: bool = True) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=check,
                          timeout=60).stdout


def bot(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=folder, env=cli_env(NOW), capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "log.md").write_text(LOG, encoding="utf-8")
    config(tmp_path)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "person@example.com")
    git(tmp_path, "config", "user.name", "Person")
    git(tmp_path, "add", "library/log.md")
    git(tmp_path, "commit", "-qm", "my log")
    return tmp_path


def config(folder: Path, git_section: str = "") -> None:
    (folder / "bot.toml").write_text(
        f'[bot]\ndb = "bot.db"\nlog = "library/log.md"\ntopics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n'
        f'[library]\npaths = ["library"]\n[hn]\nlookup = false\n{git_section}', encoding="utf-8")


def add(folder: Path, title: str, link: str = "https://new.example/paper") -> subprocess.CompletedProcess[str]:
    return bot(folder, "add", link, "--title", title, "--date", "2026-11-23", "--commit")


def test_unstaged_edits_and_staged_files_of_the_person_stay_out_of_the_commit(repo: Path) -> None:
    log = repo / "library" / "log.md"
    log.write_text(LOG.replace("An old find", "An old find, which I liked"), encoding="utf-8")  # not staged
    (repo / "notes.txt").write_text("mine\n")
    git(repo, "add", "notes.txt")  # staged by the person, for a commit of their own
    done = add(repo, "Sparse attention for long documents")
    assert done.returncode == 0, done.stderr
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["library/log.md"]
    committed = git(repo, "show", "HEAD:library/log.md")
    assert "which I liked" not in committed  # the person's edit is not swept in
    assert committed.startswith(LOG) and "Sparse attention for long documents" in committed
    assert "which I liked" in log.read_text() and "Sparse attention" in log.read_text()
    assert "which I liked" in git(repo, "diff", "--", "library/log.md")  # still theirs, unstaged
    changed = [line for line in git(repo, "diff", "--", "library/log.md").splitlines()
               if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))]
    assert len(changed) == 2 and all("An old find" in line for line in changed)  # only the person's edit
    assert git(repo, "diff", "--cached", "--name-only").split() == ["notes.txt"]  # still staged, not committed


def test_a_detached_head_is_refused_in_one_sentence(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    before = git(repo, "rev-parse", "HEAD")
    done = add(repo, "Sparse attention for long documents")
    assert done.returncode == 1
    assert "detached HEAD" in done.stderr and "Traceback" not in done.stderr
    assert git(repo, "rev-parse", "HEAD") == before


def test_a_title_with_newlines_cannot_forge_trailers(repo: Path) -> None:
    done = add(repo, "Nice paper\n\nSigned-off-by: Mallory <m@example.com>\nCo-authored-by: Eve <e@example.com>")
    assert done.returncode == 0, done.stderr
    message = git(repo, "log", "-1", "--format=%B").strip()
    assert "\n" not in message and message.startswith("add: Nice paper")
    assert git(repo, "log", "-1", "--format=%(trailers)").strip() == ""


def hook(repo: Path, seconds: int) -> Path:
    marker = repo / ".git" / "hook-ran"
    path = repo / ".git" / "hooks" / "pre-commit"
    path.write_text(f"#!/bin/sh\nsleep {seconds}\ntouch '{marker}'\n")
    path.chmod(0o755)
    return marker


def test_a_slow_hook_runs_to_completion_within_the_timeout(repo: Path) -> None:
    config(repo, "[git]\ntimeout_seconds = 30\n")
    marker = hook(repo, 3)
    done = add(repo, "Sparse attention for long documents")
    assert done.returncode == 0, done.stderr
    assert marker.exists() and "Sparse attention" in git(repo, "show", "HEAD:library/log.md")


def test_a_hook_over_the_timeout_is_stopped_leaving_no_lock_and_a_usable_repository(repo: Path) -> None:
    config(repo, "[git]\ntimeout_seconds = 1\n")
    marker = hook(repo, 4)
    before = git(repo, "rev-parse", "HEAD")
    done = add(repo, "Sparse attention for long documents")
    assert done.returncode == 1
    assert "did not finish within 1 s" in done.stderr and "timeout_seconds" in done.stderr
    assert git(repo, "rev-parse", "HEAD") == before
    assert not (repo / ".git" / "index.lock").exists()
    (repo / ".git" / "hooks" / "pre-commit").unlink()
    (repo / "mine.txt").write_text("x\n")
    git(repo, "add", "mine.txt")
    git(repo, "commit", "-qm", "the person's own commit")  # works: nothing was left locked
    import time

    time.sleep(4)
    assert not marker.exists()  # the hook was stopped with git, not left running


def test_no_verify_only_when_configured(repo: Path) -> None:
    config(repo, "[git]\nno_verify = true\n")
    marker = hook(repo, 0)
    done = add(repo, "Sparse attention for long documents")
    assert done.returncode == 0, done.stderr
    assert not marker.exists() and "Sparse attention" in git(repo, "show", "HEAD:library/log.md")
