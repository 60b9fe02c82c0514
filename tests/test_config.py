"""Configuration: which file, defaults, validation, and secrets from the environment only."""

from __future__ import annotations

from pathlib import Path

import pytest

import bot.sources.builtin  # noqa: F401 -- the kinds a feed may name (the configuration checks feeds against them)
from bot.core.config import load_config
from bot.core.cron import validate_cron
from bot.core.errors import ConfigError
from tests.conftest import write_config


def test_defaults_without_a_file(workdir: Path) -> None:
    config = load_config(env={})
    assert config.file is None
    assert config.db == workdir / "bot.db"
    assert config.digest_limit == 20 and config.timezone == "UTC" and config.feeds is None


def test_bot_toml_then_bot_config(workdir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    other = tmp_path_factory.mktemp("elsewhere")
    write_config(other, '[bot]\ndb = "other.db"\n')
    config = load_config(env={"BOT_CONFIG": str(other / "bot.toml")})
    assert config.db == other / "other.db"  # relative to the config file's folder
    write_config(workdir, '[bot]\ndb = "here.db"\n')
    assert load_config(env={"BOT_CONFIG": str(other / "bot.toml")}).db == workdir / "here.db"


def test_secrets_come_from_env_and_dotenv_and_never_show(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / ".env").write_text("SLACK_WEBHOOK_URL=https://hooks.example/T/B/secretvalue\nOPENAI_API_KEY=sk-dotenv\n")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    config = load_config()
    assert config.slack_webhook_url == "https://hooks.example/T/B/secretvalue"
    assert config.openai_api_key == "sk-from-env"  # the real environment wins over .env
    assert "secretvalue" not in repr(config) and "sk-from-env" not in repr(config)


@pytest.mark.parametrize(
    "body,message",
    [
        ("[bot]\ntimezone = 'Mars/Olympus'\n", "Unknown timezone"),
        ("[bot]\ndigest_limit = 'many'\n", "digest_limit must be an integer"),
        ("[bot]\ndigest_limit = 0\n", "at least 1"),
        ("[schedule]\ndigest_cron = '1 09:00'\n", "not a day name"),
        ("[schedule]\ndigest_cron = 'mon 25:00'\n", "not a time"),
        ("[[feeds]]\nname = 'x'\nkind = 'gopher'\nurl = 'x'\n", "kind 'gopher'"),
        ("[[feeds]]\nname = 'x'\nurl = 'a'\n[[feeds]]\nname = 'x'\nurl = 'b'\n", "appears twice"),
        ("[slak]\nchannel = 'x'\n", "Unknown section [slak]"),
        ("not = [valid", "not valid TOML"),
    ],
)
def test_bad_config_says_what_is_wrong(workdir: Path, body: str, message: str) -> None:
    write_config(workdir, body)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(env={})


def test_missing_explicit_config(workdir: Path) -> None:
    with pytest.raises(ConfigError, match="Config file not found"):
        load_config("nope.toml", env={})


def test_feeds_in_config_replace_defaults(workdir: Path) -> None:
    write_config(workdir, "[[feeds]]\nname = 'hn'\nkind = 'hn'\nurl = 'https://hn.algolia.com/api/v1/search_by_date'\nmin_points = 50\n")
    (feed,) = load_config(env={}).feeds or ()
    assert feed.kind == "hn" and feed.options["min_points"] == 50


def test_cron_accepts_day_names() -> None:
    assert validate_cron("Mon,Thu 08:30") == "mon,thu 08:30"
    assert validate_cron("daily 07:00") == "daily 07:00"


def test_an_option_the_feed_s_kind_does_not_read_is_ignored_with_a_warning(
        workdir: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_config(workdir, "[[feeds]]\nname = 'hn'\nkind = 'hn'\nurl = 'https://hn.example/search'\n"
                          "min_point = 50\nmin_interval = 1\n")
    (feed,) = load_config(env={}).feeds or ()
    assert feed.options == {"min_point": 50, "min_interval": 1}  # kept, as before: the kind never reads it
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "feed 'hn' in " in warning and "kind 'hn' reads no option 'min_point', so it is ignored" in warning
    assert "min_points" in warning  # what it does read, so the misspelling shows


def test_the_shipped_feeds_set_only_options_their_kinds_read(workdir: Path, caplog: pytest.LogCaptureFixture) -> None:
    from bot.sources.feedlist import load_feeds

    assert {f.kind for f in load_feeds(load_config(env={}))} == {"hn", "arxiv", "rss", "hf_papers"}
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == []


def test_reading_feeds_before_any_kind_is_registered_is_a_program_error_that_says_so() -> None:
    """The configuration learns the kinds from the registry: a program that reads feeds without
    importing bot.sources.builtin (as the composition root and the feed list do) fails loudly."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = "from bot.core.config import parse_feeds; parse_feeds([{'name': 'a', 'kind': 'hn', 'url': 'x'}], 'here')"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "RuntimeError: no source kinds are registered: import bot.sources.builtin" in done.stderr
