"""Which feeds and topics: `[[feeds]]` in bot.toml, else `feeds/*.toml` plus `feeds/*.opml`; the
topics file from `[bot] topics`."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import bot.sources.builtin  # noqa: F401 -- the kinds the feed files may name, registered before they are read
from bot.core.config import Config, FeedConfig, parse_feeds
from bot.core.errors import ConfigError
from bot.relevance.topics import Topic, parse_topics


def load_feeds(config: Config) -> list[FeedConfig]:
    """The configured feeds; a configuration that leaves none enabled is refused, since a poll of
    nothing would look like a quiet week."""
    feeds = list(config.feeds) if config.feeds is not None else _feeds_folder(config)
    if not any(f.enabled for f in feeds):
        where = (f"the [[feeds]] of {config.file}" if config.feeds is not None
                 else f"the feeds folder {config.feeds_dir}")
        what = "lists no feed" if not feeds else "enables no feed"
        raise ConfigError(f"Nothing to poll: {where} {what}; add an enabled [[feeds]] table to the config, or set "
                          "[bot] feeds_dir to a folder of feed files (`bot init` writes one)")
    return feeds


def polled_feed_names(config: Config) -> set[str] | None:
    """The names of the enabled feeds a poll fetches now; None when the configuration lists none (what
    reports about sources then show is left as it was: the poll refuses such a config)."""
    try:
        return {f.name for f in load_feeds(config) if f.enabled}
    except ConfigError:
        return None


def _feeds_folder(config: Config) -> list[FeedConfig]:
    """`*.toml` feed lists and `*.opml` blog lists in the feeds folder (the topics file is skipped)."""
    folder = config.feeds_dir
    feeds: list[FeedConfig] = []
    if not folder.is_dir():
        raise ConfigError(f"The feeds folder {folder} does not exist; fix [bot] feeds_dir in {config.file}")
    for path in sorted(folder.glob("*.toml")):
        if path.resolve() == config.topics.resolve():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
        if "feeds" in data:
            feeds.extend(parse_feeds(data["feeds"], str(path), config.root))
    for path in sorted(folder.glob("*.opml")):
        feeds.extend(parse_opml(path.read_bytes(), str(path)))
    names = [f.name for f in feeds]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"feed names appear twice in {folder}: {', '.join(dupes)}")
    return feeds


def parse_opml(data: bytes, where: str = "OPML") -> list[FeedConfig]:
    """Every <outline xmlUrl=...> is an rss feed named by its title (or text), made slug-like."""
    import xml.etree.ElementTree as ET  # here, not at the top: most polls read no OPML (start-up time)

    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ConfigError(f"{where} is not valid OPML: {exc}") from exc
    feeds = []
    for outline in root.iter("outline"):
        url = outline.get("xmlUrl")
        if not url:
            continue
        label = outline.get("title") or outline.get("text") or url
        name = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "feed"
        feeds.append(FeedConfig(name=name, kind="rss", url=url, enabled=outline.get("enabled", "true") != "false"))
    return feeds


def load_topics(path: Path) -> list[Topic]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"Topics file not found: {path} (set [bot] topics in bot.toml)") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    try:
        return parse_topics(data, str(path))
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
