"""`bot config check`: is this configuration ready for its first scheduled run? The config file in use,
its feed files (there, readable, how many feeds), the topics file, the library paths and the log, the
database path, which secrets are present (never their values), and how Slack and the LLM are set up.
With `online`, Slack (auth.test for a bot token; a webhook cannot be checked without posting) and the
LLM (one request of one token) are asked whether they answer.

Nothing is written: no database is made, no Slack message posted. Each finding is a Check; "error" is a
configuration that a command would refuse (exit 2), "failed" an online check that did not pass (exit 1),
"warning" what works but may not be what the person wants.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bot.app import App
from bot.core.config import Config, Secret, choose_config_file, load_config, masked_url, parse_feeds
from bot.core.errors import BotError, ConfigError
from bot.core.plural import plural
from bot.core.redact import redact, register
from bot.sources.feedlist import load_feeds, load_topics, parse_opml

CheckStatus = Literal["ok", "warning", "error", "failed", "skipped"]
SECRETS = ("SLACK_WEBHOOK_URL", "SLACK_BOT_TOKEN", "OPENAI_API_KEY")


@dataclass(frozen=True)
class Check:
    what: str
    status: CheckStatus
    detail: str

    def as_json(self) -> dict[str, str]:
        return {"what": self.what, "status": self.status, "detail": self.detail}


@dataclass
class ConfigReport:
    config: str | None  # the file in use; None: the built-in defaults
    checks: list[Check] = field(default_factory=list)
    secrets: dict[str, str | None] = field(default_factory=dict)  # name -> where it comes from (or None)

    def add(self, what: str, status: CheckStatus, detail: str) -> None:
        self.checks.append(Check(what, status, redact(detail)))

    @property
    def exit_code(self) -> int:
        statuses = {c.status for c in self.checks}
        return 2 if "error" in statuses else 1 if "failed" in statuses else 0

    def as_json(self) -> dict[str, Any]:
        return {"config": self.config, "ok": self.exit_code == 0, "exit_code": self.exit_code,
                "secrets": self.secrets, "checks": [c.as_json() for c in self.checks]}


def check_config(explicit: str | None, online: bool = False, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None) -> ConfigReport:
    cwd = cwd or Path.cwd()
    try:
        config = load_config(explicit, env=env, cwd=cwd)
    except ConfigError as exc:
        report = ConfigReport(_named_file(explicit, os.environ if env is None else env, cwd))
        report.add("config", "error", str(exc))
        return report
    register(value for value in vars(config).values() if isinstance(value, Secret))  # masked in every detail
    config = App(config).config  # the log found among the library documents when [bot] log is not set
    report = ConfigReport(str(config.file) if config.file else None)
    report.add("config", "ok", f"{config.file}" if config.file else
               f"no config file: the built-in defaults, paths relative to {config.root}")
    _feeds(report, config)
    _topics(report, config)
    _library(report, config)
    _database(report, config)
    _secrets(report, config, env)
    _slack(report, config)
    _llm(report, config)
    if online:
        _online(report, config)
    return report


def _named_file(explicit: str | None, env: Mapping[str, str], cwd: Path) -> str | None:
    """The config file a broken config came from, chosen as every command chooses it."""
    try:
        path = choose_config_file(explicit, env, cwd)
    except ConfigError:  # named but not there: that name is the one to show
        return explicit or env.get("BOT_CONFIG")
    return str(path) if path else None


def _feeds(report: ConfigReport, config: Config) -> None:
    if config.feeds is not None:
        where = f"[[feeds]] in {config.file}"
    else:
        where = f"feeds folder {config.feeds_dir}"
        for path in sorted([*config.feeds_dir.glob("*.toml"), *config.feeds_dir.glob("*.opml")]):
            if path.resolve() == config.topics.resolve():
                continue
            try:
                if path.suffix == ".opml":
                    count = len(parse_opml(path.read_bytes(), str(path)))
                else:
                    data = tomllib.loads(path.read_text(encoding="utf-8"))
                    count = len(parse_feeds(data["feeds"], str(path), config.root)) if "feeds" in data else 0
            except (ConfigError, tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
                report.add(f"feed file {path.name}", "error", f"{path}: {exc}")
                continue
            report.add(f"feed file {path.name}", "ok", f"{path}: {plural(count, 'feed')}")
    try:
        feeds = load_feeds(config)
    except ConfigError as exc:
        report.add("feeds", "error", str(exc))
        return
    enabled = [f for f in feeds if f.enabled]
    report.add("feeds", "ok", f"{plural(len(feeds), 'feed')}, {len(enabled)} enabled, from the {where}")
    for feed in enabled:
        local = _local_path(feed.url)
        if local is not None and not local.exists():
            report.add(f"feed {feed.name}", "warning", f"its file {local} does not exist: its polls will fail")


def _local_path(url: str) -> Path | None:
    if url.startswith("file://"):
        return Path(url.removeprefix("file://"))
    return None if "://" in url else Path(url)


def _topics(report: ConfigReport, config: Config) -> None:
    try:
        topics = load_topics(config.topics)
    except ConfigError as exc:
        report.add("topics", "error", str(exc))
        return
    report.add("topics", "ok" if topics else "warning",
               f"{config.topics}: {plural(len(topics), 'topic')}" + ("" if topics else "; every item scores on the "
                                                                      "library alone"))


def _library(report: ConfigReport, config: Config) -> None:
    if not config.library_paths:
        report.add("library", "warning", "[library] paths is empty: nothing is known, every item is new")
    for path in config.library_paths:
        if path.is_dir():
            report.add("library", "ok", f"{path} (a folder)")
        elif path.is_file():
            report.add("library", "ok", f"{path}")
        else:
            report.add("library", "error", f"{path} does not exist; fix [library] paths in "
                                           f"{config.file or 'a bot.toml (`bot init` writes one)'}, or create it")
    log = config.log
    if log is None:
        report.add("log", "warning", "no log: set [bot] log (digests then go to Slack only, and `bot add` has "
                                     "nowhere to write)")
    elif log.is_file():
        report.add("log", "ok", f"{log}")
    else:
        report.add("log", "ok", f"{log} does not exist yet: the first digest or `bot add` creates it")


def _database(report: ConfigReport, config: Config) -> None:
    db = config.db
    if db.is_file():
        report.add("database", "ok", f"{db}")
    elif db.parent.is_dir():
        report.add("database", "ok", f"{db} does not exist yet: the first poll creates it")
    else:
        report.add("database", "error", f"{db}: its folder {db.parent} does not exist; create it or fix [bot] db")


def _secrets(report: ConfigReport, config: Config, env: Mapping[str, str] | None) -> None:
    process = os.environ if env is None else env
    values = {"SLACK_WEBHOOK_URL": config.slack_webhook_url, "SLACK_BOT_TOKEN": config.slack_bot_token,
              "OPENAI_API_KEY": config.openai_api_key}
    for name in SECRETS:
        where = None if not values[name] else "environment" if process.get(name, "").strip() else ".env"
        report.secrets[name] = where
        report.add(f"secret {name}", "ok", f"set (from the {where})" if where else "not set")


def _slack(report: ConfigReport, config: Config) -> None:
    if config.slack_bot_token and config.slack_channel:
        also = "; SLACK_WEBHOOK_URL is set too and not used" if config.slack_webhook_url else ""
        report.add("slack", "ok", f"bot token, channel {config.slack_channel}{also}")
    elif config.slack_bot_token and not config.slack_webhook_url:
        report.add("slack", "error", "SLACK_BOT_TOKEN is set but no channel: set [slack] channel (or SLACK_CHANNEL), "
                                     "or digests reach no Slack")
    elif config.slack_webhook_url:
        extra = "; SLACK_BOT_TOKEN without a channel is not used" if config.slack_bot_token else ""
        report.add("slack", "ok", f"incoming webhook {masked_url(config.slack_webhook_url)}{extra}")
    else:
        report.add("slack", "warning", "not set up (SLACK_WEBHOOK_URL, or SLACK_BOT_TOKEN and [slack] channel): "
                                       "digests go to the log only")


def _llm(report: ConfigReport, config: Config) -> None:
    if not config.llm_enabled:
        report.add("llm", "ok", "off: summaries are the first sentence of each item's text")
    elif not config.openai_api_key and not config.openai_base_url:
        report.add("llm", "error", "[llm] enabled needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local server), "
                                   "or set [llm] enabled = false")
    else:
        report.add("llm", "ok", f"model {config.llm_model} at {config.openai_base_url or 'api.openai.com'}")


def _online(report: ConfigReport, config: Config) -> None:
    if config.slack_bot_token and config.slack_channel:
        from bot.delivery.slack_api import check_token

        try:
            report.add("slack online", "ok", check_token(config.slack_bot_token, config.slack_api_url,
                                                         config.slack_timeout))
        except BotError as exc:
            report.add("slack online", "failed", str(exc))
    elif config.slack_webhook_url:
        report.add("slack online", "skipped", "a webhook cannot be checked without posting to the channel; "
                                              "`bot digest` says if a post fails")
    if config.llm_enabled and (config.openai_api_key or config.openai_base_url):
        from bot.digest.llm import check_endpoint

        try:
            report.add("llm online", "ok", check_endpoint(config.llm_model, config.openai_api_key,
                                                          config.openai_base_url, config.llm_request_seconds))
        except BotError as exc:
            report.add("llm online", "failed", str(exc))
