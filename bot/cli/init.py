"""`bot init [FOLDER]`: a working configuration for a new person, in a folder of their own.

It writes `bot.toml` (the documented example, every key with its comment, pointed at this folder)
and editable copies of the shipped feed files (topics, sources, OPML) in `feeds/`, plus an empty
`library/` for the person's reading documents. It never overwrites anything: if any of those files
exists, it writes nothing and says which.
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


@dataclass(frozen=True)
class InitReport:
    folder: Path
    written: tuple[Path, ...]


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
    except OSError as exc:
        raise ConfigError(f"Cannot write into {folder}: {exc.strerror or exc}") from exc
    return InitReport(folder, tuple(targets))
