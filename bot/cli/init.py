"""`bot init [FOLDER]`: a working configuration for a new person, in a folder of their own.

It writes `bot.toml` (the documented example, every key with its comment, pointed at this folder)
and editable copies of the shipped feed files (topics, sources, OPML) in `feeds/`, plus an empty
`library/` for the person's reading documents, and a `.gitignore` that keeps secrets, the database
and caches out of git (the folder is meant to be a repository: the log is committed). It never
overwrites anything: if any of the config or feed files exists, it writes nothing and says which; an
existing `.gitignore` only gets the lines it lacks, appended.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from bot.core.errors import ConfigError
from bot.core.resources import shipped_example_config, shipped_feeds

LIBRARY_FOLDER = "library"
LOG_NAME = "reading-log.md"
FEED_FILES = ("topics.toml", "sources.toml", "blogs.opml")

# The example's values that point into the project's checkout, and what they become in a new folder.
_SETTINGS = {
    ("bot", "log"): f'"{LIBRARY_FOLDER}/{LOG_NAME}"',
    ("bot", "topics"): '"feeds/topics.toml"',
    ("bot", "feeds_dir"): '"feeds"',
    ("library", "paths"): f'["{LIBRARY_FOLDER}"]',
}


# What must never be committed from the folder: the secrets' file, the database with its WAL, shared-memory,
# journal and lock files (bot.lock: "<db>.lock", "<db>.run.lock"), and the library cache built beside the
# database (bot.library_cache: "<db>.library-cache", written through a temporary "<db>.library-cache.*").
GITIGNORE = (".env", "*.db", "*.db-wal", "*.db-shm", "*.db-journal", "*.lock", "*.library-cache", "*.library-cache.*")
GITIGNORE_HEADER = "# research digest bot: secrets, the database and caches stay out of git (`bot init`)"
# The example's first line tells a reader of the checkout to copy it; the written file is the copy.
HEADER = ("# research digest bot: configuration, written by `bot init`. Edit it here; every key is described "
          "below\n# with its default.\n")


@dataclass(frozen=True)
class InitReport:
    folder: Path
    written: tuple[Path, ...]
    gitignore: Path
    gitignore_added: tuple[str, ...]  # the lines appended to (or written into) .gitignore
    gitignore_existed: bool


def configure(example: str) -> str:
    """The example config with the settings above; each line keeps its comment, aligned as before."""
    section = ""
    lines = []
    for line in example.splitlines(keepends=True):
        header = re.match(r"\[(\w+)\]", line)
        if header:
            section = header.group(1)
        setting = re.match(r"(\w+)( = )(\S+(?: \S+)*?)(\s*#.*)?$", line.rstrip("\n"))
        if setting and (section, setting.group(1)) in _SETTINGS:
            key, eq, old, comment = setting.groups()
            new = _SETTINGS[(section, key)]
            comment = comment or ""
            if comment:  # keep the comment's column
                comment = " " * max(1, len(old) + len(comment) - len(comment.lstrip()) - len(new)) + comment.lstrip()
            line = f"{key}{eq}{new}{comment}\n"
        lines.append(line)
    if lines and "Copy to bot.toml" in lines[0]:
        lines[0] = HEADER
    text = "".join(lines)
    missing = [f"[{s}] {k}" for (s, k) in _SETTINGS if not re.search(rf"^{k} = ", text, re.MULTILINE)]
    if missing:  # the example lost a key this depends on: a packaging bug, say so plainly
        raise ConfigError(f"The shipped bot.toml.example has no {', '.join(missing)}; reinstall the tool")
    return text


def init_folder(folder: Path) -> InitReport:
    folder = folder.expanduser()
    feeds = folder / "feeds"
    targets = [folder / "bot.toml", *(feeds / name for name in FEED_FILES)]
    existing = [p for p in targets if p.exists()]
    if existing:
        verb = "exists" if len(existing) == 1 else "exist"
        raise ConfigError(f"{', '.join(str(p) for p in existing)} already {verb}; `bot init` never overwrites. "
                          "Choose another folder, or move them away first")
    source = shipped_feeds()
    text = configure(shipped_example_config().read_text(encoding="utf-8"))
    try:
        feeds.mkdir(parents=True, exist_ok=True)
        (folder / LIBRARY_FOLDER).mkdir(exist_ok=True)
        for name in FEED_FILES:
            shutil.copyfile(source / name, feeds / name)
        with open(folder / "bot.toml", "x", encoding="utf-8") as f:  # "x": never overwrite, even in a race
            f.write(text)
        existed, added = ignore_in_git(folder / ".gitignore")
    except OSError as exc:
        raise ConfigError(f"Cannot write into {folder}: {exc.strerror or exc}") from exc
    return InitReport(folder, tuple(targets), folder / ".gitignore", added, existed)


def ignore_in_git(path: Path) -> tuple[bool, tuple[str, ...]]:
    """Appends to `path` the GITIGNORE lines it lacks (creating it if need be), keeping every line it
    has. Returns whether it existed and the lines added."""
    existed = path.exists()
    old = path.read_text(encoding="utf-8") if existed else ""
    have = {line.strip() for line in old.splitlines()}
    added = tuple(line for line in GITIGNORE if line not in have)
    if added:
        block = "\n".join((GITIGNORE_HEADER, *added)) + "\n"
        with path.open("a", encoding="utf-8") as f:
            f.write(("\n" if old and not old.endswith("\n") else "") + ("\n" if old else "") + block)
    return existed, added
