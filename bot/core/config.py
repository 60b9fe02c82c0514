"""Configuration: a TOML file plus the environment (spec section 4).

Which file: `--config PATH`, else `./bot.toml` if present, else `$BOT_CONFIG`, else built-in defaults.
Relative paths in a file are relative to that file's folder; a config that names no topics file or
feeds folder gets the ones shipped with the tool. Secrets come only from the environment or a `.env`
file (beside the config file, or in the working folder) and are never printed (their repr is masked).
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.cron import validate_cron
from bot.core.errors import ConfigError
from bot.core.feed_kinds import FEED_KEYS, kind_options, known_kinds
from bot.core.resources import shipped_feeds, shipped_topics

# The services' own addresses, named once (the shipped feeds/sources.toml names them too, as data).
HN_SEARCH_URL = "https://hn.algolia.com/api/v1"
ARXIV_API_URL = "https://export.arxiv.org/api/query"

log = logging.getLogger(__name__)


class Secret(str):
    """A string that never shows itself in repr, logs or tracebacks."""

    def __repr__(self) -> str:
        return "Secret('***')"


@dataclass(frozen=True)
class FeedConfig:
    name: str
    kind: str
    url: str
    enabled: bool = True
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    root: Path
    file: Path | None
    db: Path
    log: Path | None
    timezone: str
    digest_limit: int
    topics: Path
    library_paths: tuple[Path, ...]
    feeds_dir: Path
    feeds: tuple[FeedConfig, ...] | None  # None: read feeds/*.toml and OPML files
    poll_every_minutes: int
    digest_cron: str
    commit_log: bool
    relevance_threshold: float
    slack_channel: str | None
    slack_api_url: str | None
    slack_webhook_url: Secret | None
    slack_bot_token: Secret | None
    llm_enabled: bool
    llm_model: str
    llm_max_items: int
    openai_api_key: Secret | None
    openai_base_url: str | None
    user_agent: str
    http: Mapping[str, float] = field(default_factory=dict)
    hn_lookup: bool = True
    hn_search_url: str = HN_SEARCH_URL
    hn_max_lookups: int = 30
    arxiv_api: str = ARXIV_API_URL
    slack_timeout: int = 15  # seconds for one Slack request
    llm_request_seconds: float = 20.0  # one request's overall deadline, however the bytes trickle in
    llm_budget_seconds: float = 60.0  # all of a digest's LLM summaries together
    articles_enabled: bool = True  # read the page an item links to when it has no text of its own
    articles_deadline: float = 30.0  # seconds for all of one digest's page fetches together
    articles_max_pages: int = 30  # pages fetched for one digest at most
    git_timeout: float = 600.0  # [git] timeout_seconds: a commit's hooks run this long before git is stopped
    git_no_verify: bool = False  # [git] no_verify: commit the log without running the repository's hooks
    digest_window_days: int = 14  # a digest offers items published (else first seen) this many days back

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


_KNOWN = {
    "bot": {"db", "log", "timezone", "digest_limit", "topics", "feeds_dir", "relevance_threshold", "user_agent",
            "arxiv_api", "digest_window_days"},
    "library": {"paths"},
    "schedule": {"poll_every_minutes", "digest_cron", "commit_log"},
    "slack": {"channel", "api_url", "timeout"},
    "llm": {"enabled", "model", "max_items", "request_seconds", "budget_seconds"},
    "http": {"connect_timeout", "read_timeout", "feed_deadline", "max_body_mb", "max_redirects",
             "concurrency", "per_host", "retry_after_cap_hours"},
    "hn": {"lookup", "search_url", "max_lookups"},
    "articles": {"enabled", "deadline_seconds", "max_pages"},
    "git": {"timeout_seconds", "no_verify"},
    "feeds": None,
}
DEFAULT_USER_AGENT = "research-digest-bot/0.1 (+https://github.com/; polite weekly poller)"


def choose_config_file(explicit: str | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"Config file not found: {explicit}")
        return path
    if (cwd / "bot.toml").is_file():
        return cwd / "bot.toml"
    if env.get("BOT_CONFIG"):
        path = Path(env["BOT_CONFIG"])
        if not path.is_file():
            raise ConfigError(f"BOT_CONFIG points at a missing file: {path}")
        return path
    return None


# Settings that say where a secret is sent. A `.env` in a working folder that is not the config's own
# may be anyone's (a cloned repository, a download folder): it must not send the environment's token
# elsewhere, so it may name no endpoint (SPEC sections 4 and 11).
ENDPOINT_VARIABLES = ("SLACK_API_URL", "OPENAI_BASE_URL")


def read_dotenv(path: Path) -> dict[str, str]:
    """The values of one `.env` file; a file that is not UTF-8 text is a configuration error naming the
    file and the line, not a crash of every command."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path} is not UTF-8 text (line {line}); save it as UTF-8") from None
    import io

    from dotenv import dotenv_values  # here: most folders have no .env, and every command reads config

    return {k: v for k, v in dotenv_values(stream=io.StringIO(text)).items() if v is not None}


def environment(cwd: Path, base: Mapping[str, str] | None = None, config_folder: Path | None = None) -> dict[str, str]:
    """The process environment over the values of the `.env` beside the config file, over those of
    `./.env`: the real environment wins, then the file that belongs to the config. With a config file
    in another folder, `./.env` names no endpoint (ENDPOINT_VARIABLES): ignored, with a warning."""
    env: dict[str, str] = {}
    folders = [cwd] + ([config_folder] if config_folder is not None else [])
    seen: set[Path] = set()
    own = config_folder.resolve() if config_folder is not None else None
    for folder in folders:
        dotenv = folder / ".env"
        if dotenv.is_file() and dotenv.resolve() not in seen:
            seen.add(dotenv.resolve())
            values = read_dotenv(dotenv)
            if own is not None and folder.resolve() != own:
                for name in [k for k in ENDPOINT_VARIABLES if k in values]:
                    del values[name]
                    log.warning("%s sets %s, which is ignored: endpoints come only from the environment, the "
                                "config file or the .env beside it (%s)", dotenv, name, own / ".env")
            env.update(values)
    env.update(os.environ if base is None else base)
    return env


def load_config(explicit: str | None = None, env: Mapping[str, str] | None = None,
                cwd: Path | None = None) -> Config:
    cwd = cwd or Path.cwd()
    given = env
    env = environment(cwd) if given is None else dict(given)
    file = choose_config_file(explicit, env, cwd)
    if file is not None and given is None:
        env = environment(cwd, config_folder=file.resolve().parent)
    data: dict[str, Any] = {}
    if file is not None:
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file} is not valid TOML: {exc}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"Cannot read config file {file}: {exc}") from exc
        _check_keys(data, file)
    root = file.parent if file else cwd
    return _build(data, root, file, env)


def _check_keys(data: dict[str, Any], file: Path) -> None:
    for section, value in data.items():
        if section not in _KNOWN:
            raise ConfigError(f"Unknown section [{section}] in {file}; expected one of "
                              f"{', '.join(sorted(_KNOWN))}")
        allowed = _KNOWN[section]
        if allowed is None:
            continue
        if not isinstance(value, dict):
            raise ConfigError(f"[{section}] in {file} must be a table")
        for key in value:
            if key not in allowed:
                raise ConfigError(f"Unknown key '{key}' in [{section}] of {file}; expected one of "
                                  f"{', '.join(sorted(allowed))}")


_KIND_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "a list"}


def _get(data: dict[str, Any], section: str, key: str, default: Any, kind: type | tuple[type, ...]) -> Any:
    value = data.get(section, {}).get(key, default)
    if value is default:
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        names = " or ".join(_KIND_NAMES.get(k, k.__name__) for k in kinds)
        raise ConfigError(f"[{section}] {key} must be {names}, not {value!r}")
    return value


def _threshold(value: float) -> float:
    """Relevance is a probability-like score, 0..1: 35 (a percentage) would make every item off-topic."""
    if not 0 <= value <= 1:
        raise ConfigError(f"[bot] relevance_threshold must be between 0 and 1 (scores run from 0 to 1; the default "
                          f"is 0.35), not {value:g}")
    return value


def _path(root: Path, value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(os.path.expanduser(value))
    # Lexically normalized ("deploy/../bot.db" is "bot.db"); links are left alone, so a log that is a
    # symlink is written through.
    return Path(os.path.normpath(path if path.is_absolute() else root / path))


def resolve_feed_url(url: str, root: Path) -> str:
    """A relative local path is relative to the folder of the file that names it."""
    if "://" in url or Path(url).is_absolute():
        return url
    return str(root / url)


def parse_feeds(raw: Any, where: str, root: Path | None = None) -> tuple[FeedConfig, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"feeds in {where} must be an array of tables ([[feeds]])")
    feeds = []
    names: set[str] = set()
    for i, item in enumerate(raw, 1):
        if not isinstance(item, dict):
            raise ConfigError(f"feed #{i} in {where} must be a table")
        name, kind, url = item.get("name"), item.get("kind", "rss"), item.get("url")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"feed #{i} in {where} has no name")
        if kind not in known_kinds():
            known = ", ".join(known_kinds())
            raise ConfigError(f"feed '{name}' in {where} has kind {kind!r}; expected one of {known}")
        if not isinstance(url, str) or not url.strip():
            raise ConfigError(f"feed '{name}' in {where} has no url")
        if name in names:
            raise ConfigError(f"feed name '{name}' appears twice in {where}")
        names.add(name)
        options = {k: v for k, v in item.items() if k not in (*FEED_KEYS, "enabled")}
        _warn_unread_options(name, kind, item, where)
        if root is not None:
            url = resolve_feed_url(url, root)
        feeds.append(FeedConfig(name=name, kind=kind, url=url, enabled=bool(item.get("enabled", True)),
                                options=options))
    return tuple(feeds)


def _warn_unread_options(name: str, kind: str, item: Mapping[str, Any], where: str) -> None:
    """An option the feed's kind does not read is ignored, as it always was, but said: it is most
    likely a misspelling (`min_point = 50`) that would otherwise change nothing, silently."""
    reads = kind_options(kind)
    for key in item:
        if key not in FEED_KEYS and key not in reads:
            log.warning("feed '%s' in %s: kind %r reads no option %r, so it is ignored (it reads %s)",
                        name, where, kind, key, ", ".join(reads))


def masked_url(url: str) -> str:
    """Enough of a secret URL to recognise it (its scheme and host), never its path or a token."""
    scheme, _, rest = url.strip().rpartition("://")
    host = rest.split("/", 1)[0]
    if not (("." in host or host.startswith("localhost")) and all(c.isalnum() or c in ".-:[]" for c in host)):
        return rest[:4] + "***"  # not a host name: as little of it as can be recognised
    return (f"{scheme}://" if scheme else "") + host + "/***"


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def check_slack_url(url: str, name: str) -> None:
    """An https:// URL with a host and a path (plain http only on this machine, for local receivers),
    or a ConfigError that shows the URL masked: a URL Slack cannot be sent to must fail at start,
    not mid-delivery."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        parts.port  # noqa: B018 -- raises on a port that is not a number
    except ValueError:
        parts, host = None, ""
    if parts is None or parts.scheme not in ("https", "http") or not host or parts.path in ("", "/"):
        raise ConfigError(f"{name} ({masked_url(url)}) is not a Slack URL: it must look like "
                          "https://hooks.slack.com/services/...")
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise ConfigError(f"{name} ({masked_url(url)}) must use https://, not http://")


def _build(data: dict[str, Any], root: Path, file: Path | None, env: Mapping[str, str]) -> Config:
    timezone = _get(data, "bot", "timezone", "UTC", str)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"Unknown timezone {timezone!r} in [bot] timezone") from exc
    digest_limit = _get(data, "bot", "digest_limit", 20, int)
    if digest_limit < 1:
        raise ConfigError("[bot] digest_limit must be at least 1")
    window_days = _get(data, "bot", "digest_window_days", 14, int)
    if window_days < 1:
        raise ConfigError(f"[bot] digest_window_days must be at least 1 (day), not {window_days}; remove it to "
                          "use the default (14)")
    poll_every = _get(data, "schedule", "poll_every_minutes", 360, int)
    if poll_every < 1:
        raise ConfigError("[schedule] poll_every_minutes must be at least 1")
    paths = _get(data, "library", "paths", ["seeds"], list)
    if not all(isinstance(p, str) for p in paths):
        raise ConfigError("[library] paths must be a list of strings")
    feeds = parse_feeds(data["feeds"], str(file), root) if "feeds" in data else None
    http_defaults = {"connect_timeout": 5.0, "read_timeout": 15.0, "feed_deadline": 45.0, "max_body_mb": 20.0,
                     "max_redirects": 5.0, "concurrency": 0.0, "per_host": 4.0, "retry_after_cap_hours": 24.0}
    http = {k: float(_get(data, "http", k, v, (int, float))) for k, v in http_defaults.items()}
    for key, value in http.items():
        if key == "concurrency" and value < 0:
            raise ConfigError(f"[http] concurrency must be 0 (sized from the hosts) or more, not {value:g}")
        if key != "concurrency" and value <= 0:
            raise ConfigError(f"[http] {key} must be greater than 0, not {value:g}; remove it to use the default "
                              f"({http_defaults[key]:g})")

    llm_seconds = {key: _get(data, "llm", key, default, float)
                   for key, default in (("request_seconds", 20.0), ("budget_seconds", 60.0))}
    for key, value in llm_seconds.items():
        if not value > 0:
            raise ConfigError(f"[llm] {key} must be more than 0 seconds, not {value!r}")

    articles_deadline = _get(data, "articles", "deadline_seconds", 30.0, float)
    articles_max_pages = _get(data, "articles", "max_pages", 30, int)
    if not articles_deadline > 0:
        raise ConfigError(f"[articles] deadline_seconds must be more than 0 seconds, not {articles_deadline:g}")
    if articles_max_pages < 0:
        raise ConfigError(f"[articles] max_pages must be 0 (read no page) or more, not {articles_max_pages}")

    def secret(name: str) -> Secret | None:
        value = env.get(name, "").strip()
        return Secret(value) if value else None

    if secret("SLACK_WEBHOOK_URL"):
        check_slack_url(env["SLACK_WEBHOOK_URL"], "SLACK_WEBHOOK_URL")

    return Config(
        root=root,
        file=file,
        db=_path(root, _get(data, "bot", "db", "bot.db", str)) or root / "bot.db",
        log=_path(root, _get(data, "bot", "log", None, str)),
        timezone=timezone,
        digest_limit=digest_limit,
        topics=_path(root, _get(data, "bot", "topics", None, str)) or shipped_topics(),
        library_paths=tuple(_path(root, p) or root for p in paths),
        feeds_dir=_path(root, _get(data, "bot", "feeds_dir", None, str)) or shipped_feeds(),
        feeds=feeds,
        poll_every_minutes=poll_every,
        digest_cron=validate_cron(_get(data, "schedule", "digest_cron", "mon 09:00", str)),
        commit_log=_get(data, "schedule", "commit_log", False, bool),
        relevance_threshold=_threshold(_get(data, "bot", "relevance_threshold", 0.35, float)),
        slack_channel=_get(data, "slack", "channel", None, str) or env.get("SLACK_CHANNEL") or None,
        slack_api_url=_get(data, "slack", "api_url", None, str) or env.get("SLACK_API_URL") or None,
        slack_webhook_url=secret("SLACK_WEBHOOK_URL"),
        slack_bot_token=secret("SLACK_BOT_TOKEN"),
        llm_enabled=_get(data, "llm", "enabled", False, bool),
        llm_model=_get(data, "llm", "model", "gpt-4o-mini", str),
        llm_max_items=_get(data, "llm", "max_items", 20, int),
        openai_api_key=secret("OPENAI_API_KEY"),
        openai_base_url=env.get("OPENAI_BASE_URL") or None,
        user_agent=_get(data, "bot", "user_agent", DEFAULT_USER_AGENT, str),
        http=http,
        hn_lookup=_get(data, "hn", "lookup", True, bool),
        hn_search_url=_get(data, "hn", "search_url", HN_SEARCH_URL, str),
        hn_max_lookups=_get(data, "hn", "max_lookups", 30, int),
        arxiv_api=_get(data, "bot", "arxiv_api", ARXIV_API_URL, str),
        slack_timeout=max(1, _get(data, "slack", "timeout", 15, int)),
        llm_request_seconds=llm_seconds["request_seconds"],
        llm_budget_seconds=llm_seconds["budget_seconds"],
        articles_enabled=_get(data, "articles", "enabled", True, bool),
        articles_deadline=articles_deadline,
        articles_max_pages=articles_max_pages,
        git_timeout=max(1.0, float(_get(data, "git", "timeout_seconds", 600, (int, float)))),
        git_no_verify=_get(data, "git", "no_verify", False, bool),
        digest_window_days=window_days,
    )
