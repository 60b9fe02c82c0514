"""What a new user meets: `bot init`, the shipped defaults wherever the config lives, and the input
that is refused with exit 2 and one sentence instead of a traceback or silence."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli.group import hoist_global_flags, main
from bot.core.shorten import middle
from bot.store.database import Store
from tests.conftest import ROOT, cli_env, write_config
from tests.servers import FeedServer, Route, rss

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SHIPPED_SOURCES = {"hn", "arxiv", "hnrss-frontpage"}  # feeds/sources.toml; the blogs come from the OPML
# Undated, so the in-process commands below (on the real clock) find them in the digest window whatever
# today's date: an undated item's time is when it was first seen.
ITEMS = [{"title": "Speculative decoding for faster LLM inference", "link": "https://a.example/spec"},
         {"title": "LoRA adapters for fine-tuning large language models", "link": "https://b.example/lora"}]


def bot(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def status_sources(capsys: pytest.CaptureFixture[str], *config: str) -> dict[str, dict[str, object]]:
    code, out, err = bot([*config, "status", "--json"], capsys)
    assert code == 0, err
    return {s["name"]: s for s in json.loads(out)["sources"]}


# -- bot init -------------------------------------------------------------------------------------
def test_init_writes_a_config_and_the_feed_files_then_refuses_to_overwrite(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = bot(["init", "digest"], capsys)
    assert code == 0
    folder = workdir / "digest"
    text = (folder / "bot.toml").read_text()
    assert 'feeds_dir = "feeds"' in text and 'log = "library/reading-log.md"' in text
    assert "# digest_cron" in text and "# max_lookups" in text  # every key is there, with its comment
    for name in ("topics.toml", "sources.toml", "blogs.opml"):
        assert (folder / "feeds" / name).read_bytes() == (ROOT / "feeds" / name).read_bytes()
    assert "library import" in out and "digest --dry-run" in out and "SLACK_WEBHOOK_URL" in out
    (folder / "feeds" / "topics.toml").write_text("# mine\n")
    code, _, err = bot(["init", "digest"], capsys)
    assert code == 2
    assert "already exist" in err and "never overwrites" in err and "Traceback" not in err
    assert (folder / "feeds" / "topics.toml").read_text() == "# mine\n"  # untouched


def test_a_config_written_by_init_lists_the_shipped_sources_polls_and_digests(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert bot(["init", "digest"], capsys)[0] == 0
    config = str(workdir / "digest" / "bot.toml")
    sources = status_sources(capsys, "--config", config)
    assert SHIPPED_SOURCES <= set(sources) and len(sources) > 10  # the blogs of the OPML too
    # The person edits their copy of the sources (here: one feed on a local server, nothing else).
    feeds = workdir / "digest" / "feeds"
    (feeds / "blogs.opml").unlink()
    with FeedServer() as server:
        url = server.route("/f.xml", Route(body=rss(ITEMS)))
        (feeds / "sources.toml").write_text(f'[[feeds]]\nname = "mine"\nkind = "rss"\nurl = "{url}"\n')
        code, out, err = bot(["--config", config, "poll", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["totals"]["new"] == 2
    code, out, err = bot(["--config", config, "digest", "--dry-run"], capsys)
    assert code == 0, err
    assert "Speculative decoding" in out


def test_a_config_elsewhere_that_names_only_its_database_gets_the_shipped_feeds_and_topics(
        workdir: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]) -> None:
    elsewhere = tmp_path_factory.mktemp("digest")
    write_config(elsewhere, '[bot]\ndb = "state/bot.db"\n[library]\npaths = []\n')
    sources = status_sources(capsys, "--config", str(elsewhere / "bot.toml"))
    assert SHIPPED_SOURCES <= set(sources)
    assert sources["hn"]["enabled"] and not sources["hnrss-frontpage"]["enabled"]
    code, out, _ = bot(["--config", str(elsewhere / "bot.toml"), "status", "--json"], capsys)
    status = json.loads(out)
    assert status["database"] == str(elsewhere / "state" / "bot.db") and status["database_exists"] is False
    assert not (elsewhere / "state").exists() and list(workdir.iterdir()) == []  # status only reads


def test_a_config_may_name_its_own_feeds_folder(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "my-feeds").mkdir()
    (workdir / "my-feeds" / "list.toml").write_text('[[feeds]]\nname = "only"\nurl = "https://x.example/f.xml"\n')
    write_config(workdir, '[bot]\nfeeds_dir = "my-feeds"\n[library]\npaths = []\n')
    assert set(status_sources(capsys)) == {"only"}


@pytest.mark.parametrize("body,message", [
    ('[bot]\nfeeds_dir = "empty"\n[library]\npaths = []\n', "Nothing to poll: the feeds folder"),
    ('[library]\npaths = []\n[[feeds]]\nname = "x"\nurl = "https://x.example/"\nenabled = false\n',
     "enables no feed"),
])
def test_a_config_that_leaves_no_enabled_feed_is_refused(workdir: Path, capsys: pytest.CaptureFixture[str],
                                                         body: str, message: str) -> None:
    (workdir / "empty").mkdir()
    write_config(workdir, body)
    code, out, err = bot(["poll"], capsys)
    assert code == 2 and out == ""
    assert message in err and "[[feeds]]" in err and "Traceback" not in err


# -- refusals ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("key,value,message", [
    ("per_host", 0, "[http] per_host must be greater than 0, not 0"),
    ("read_timeout", -5, "[http] read_timeout must be greater than 0, not -5"),
    ("concurrency", -1, "[http] concurrency must be 0 (sized from the hosts) or more, not -1"),
])
def test_zero_or_negative_http_numbers_are_refused(workdir: Path, capsys: pytest.CaptureFixture[str],
                                                   key: str, value: int, message: str) -> None:
    write_config(workdir, f"[http]\n{key} = {value}\n")
    code, _, err = bot(["status"], capsys)
    assert code == 2
    assert message in err


def test_since_after_until_is_refused(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_config(workdir, '[library]\npaths = []\n[[feeds]]\nname = "f"\nurl = "f.xml"\n')
    code, out, err = bot(["digest", "--dry-run", "--since", "2026-11-30", "--until", "2026-11-01"], capsys)
    assert code == 2 and out == ""
    assert "--since 2026-11-30 is not before --until 2026-11-01" in err


def test_a_type_error_names_the_type_in_words(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_config(workdir, '[bot]\ndigest_limit = "many"\n')
    code, _, err = bot(["status"], capsys)
    assert code == 2 and "[bot] digest_limit must be an integer, not 'many'" in err


# -- the first digests --------------------------------------------------------------------------------
def polled_project(folder: Path, log: bool, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "feed.xml").write_bytes(rss(ITEMS))
    write_config(folder, ('[bot]\nlog = "log.md"\n' if log else "")
                 + '[library]\npaths = []\n[hn]\nlookup = false\n[[feeds]]\nname = "f"\nurl = "feed.xml"\n')
    code, _, err = bot(["poll"], capsys)
    assert code == 0, err


def digested(folder: Path) -> int:
    store = Store.open(folder / "bot.db")
    try:
        return store.count_digested()
    finally:
        store.close()


def test_without_slack_or_a_log_a_digest_marks_nothing_and_says_why(workdir: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    polled_project(workdir, log=False, capsys=capsys)
    code, _, err = bot(["digest"], capsys)
    assert code == 2
    assert "Slack is not configured" in err and "nothing was marked digested" in err
    assert digested(workdir) == 0
    code, _, err = bot(["digest", "--no-slack"], capsys)  # no Slack and no log: it would reach no one
    assert code == 2 and "--mark-only" in err
    assert digested(workdir) == 0
    code, _, err = bot(["digest", "--mark-only"], capsys)  # asked for: the items are done with
    assert code == 0, err
    assert digested(workdir) == 2


def test_without_slack_a_digest_goes_to_the_log_and_says_so(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    polled_project(workdir, log=True, capsys=capsys)
    code, _, err = bot(["digest"], capsys)
    assert code == 0, err
    assert "Slack is not configured" in err and "the log only" in err
    assert "Speculative decoding" in (workdir / "log.md").read_text()
    assert digested(workdir) == 2


def test_digest_accepts_json_as_the_readme_says(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    polled_project(workdir, log=True, capsys=capsys)
    code, out, err = bot(["digest", "--dry-run", "--json"], capsys)
    assert code == 0, err
    assert {i["url"] for i in json.loads(out)["items"]} == {"https://a.example/spec", "https://b.example/lora"}
    code, _, err = bot(["digest", "--dry-run", "--json", "--format", "slack"], capsys)
    assert code == 2 and "--json and --format slack" in err


def test_bot_add_into_a_log_that_does_not_exist_yet_creates_it(workdir: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    write_config(workdir, '[bot]\nlog = "notes/log.md"\n[library]\npaths = ["notes/log.md"]\n[hn]\nlookup = false\n'
                          '[[feeds]]\nname = "f"\nurl = "f.xml"\n')
    code, _, err = bot(["add", "https://c.example/post", "--title", "A post about LLM agents", "--date",
                        "2026-11-23"], capsys)
    assert code == 0, err
    assert "## 23 November 2026" in (workdir / "notes" / "log.md").read_text()
    code, _, err = bot(["add", "https://c.example/post", "--title", "A post about LLM agents"], capsys)
    assert code == 1 and "already" in err.lower()  # the new log is the library from now on


def test_a_missing_library_document_is_refused_with_exit_2(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_config(workdir, '[library]\npaths = ["nowhere"]\n[[feeds]]\nname = "f"\nurl = "f.xml"\n')
    code, _, err = bot(["library", "import"], capsys)
    assert code == 2 and "No such reading document or folder" in err and "[library] paths" in err


def test_dotenv_beside_the_config_is_read(workdir: Path, tmp_path_factory: pytest.TempPathFactory,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from bot.core.config import load_config

    elsewhere = tmp_path_factory.mktemp("cfg")
    write_config(elsewhere, "[llm]\nenabled = false\n")
    (elsewhere / ".env").write_text("OPENAI_BASE_URL=http://127.0.0.1:9/v1\n")
    assert load_config(str(elsewhere / "bot.toml")).openai_base_url == "http://127.0.0.1:9/v1"
    (workdir / ".env").write_text("OPENAI_BASE_URL=http://127.0.0.1:8/v1\nSLACK_CHANNEL=#here\n")
    config = load_config(str(elsewhere / "bot.toml"))
    assert config.openai_base_url == "http://127.0.0.1:9/v1"  # the config's own .env wins over ./.env
    assert config.slack_channel == "#here"  # and ./.env still counts


def test_status_names_the_config_and_the_database(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_config(workdir, '[bot]\ndb = "state.db"\n[library]\npaths = []\n[[feeds]]\nname = "f"\nurl = "f.xml"\n')
    code, out, _ = bot(["status"], capsys)
    assert code == 0
    assert f"Config: {workdir / 'bot.toml'}; database: {workdir / 'state.db'}" in out.replace("\n", "")
    assert "No digest yet: the first one is due" in out
    data = json.loads(bot(["status", "--json"], capsys)[1])
    assert data["config"] == str(workdir / "bot.toml") and data["database"] == str(workdir / "state.db")


# -- smaller things ------------------------------------------------------------------------------------
def test_verbose_and_quiet_work_after_the_command_too(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert hoist_global_flags(["status", "-q", "--json"]) == ["-q", "status", "--json"]
    assert hoist_global_flags(["add", "u", "--", "-v"]) == ["add", "u", "--", "-v"]
    write_config(workdir, '[library]\npaths = ["nowhere"]\n[[feeds]]\nname = "f"\nurl = "f.xml"\n')
    code, _, err = bot(["library", "import", "-v"], capsys)
    assert code == 2 and "Traceback" in err  # -v after the command: the traceback is shown
    code, out, _ = bot(["init", "fresh", "-q"], capsys)
    assert code == 0 and out == ""


def test_long_paths_and_errors_lose_their_middle_not_their_end() -> None:
    path = "/home/someone/a/very/long/folder/name/that/goes/on/seeds/001_71959d29a843dc8b.txt:412"
    short = middle(path, 48)
    assert len(short) == 48 and short.startswith("/home/some") and short.endswith("001_71959d29a843dc8b.txt:412")
    assert middle("short", 40) == "short"


def test_status_table_at_80_columns_keeps_both_ends_of_an_error(workdir: Path, capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.cli.group as cli_module

    monkeypatch.setattr(cli_module.real_console(cli_module.out), "width", 80)
    write_config(workdir, '[library]\npaths = []\n[[feeds]]\nname = "f"\nurl = "f.xml"\n')
    store = Store.open(workdir / "bot.db")
    error = "ConnectError: " + "x" * 200 + " (the host refused the connection)"
    store.save_source_state("f", kind="rss", url="f.xml", result="error", error=error,
                            last_poll="2026-11-23T09:00:00+00:00")
    store.close()
    code, out, _ = bot(["status"], capsys)
    assert code == 0
    (line,) = [x for x in out.splitlines() if x.startswith("f: ")]
    assert line.startswith("f: ConnectError: xxx") and line.endswith("(the host refused the connection)")
    assert "…" in line and len(line) <= 80


@pytest.mark.slow
def test_ctrl_c_exits_130_and_keeps_the_feeds_that_had_finished(tmp_path: Path) -> None:
    with FeedServer() as server:
        fast = server.route("/fast.xml", Route(body=rss(ITEMS)))
        slow = server.route("/slow.xml", Route(body=rss([]), delay=30))
        write_config(tmp_path, f'[library]\npaths = []\n[[feeds]]\nname = "fast"\nurl = "{fast}"\n'
                               f'[[feeds]]\nname = "slow"\nurl = "{slow}"\n')
        proc = subprocess.Popen([sys.executable, "-m", "bot", "poll"], cwd=tmp_path, env=cli_env(NOW),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while server.hits("/slow.xml") < 1 or server.hits("/fast.xml") < 1:
            assert time.monotonic() < deadline, "the poll never asked both feeds"
            time.sleep(0.05)
        time.sleep(1.0)  # the fast feed's answer is parsed while the slow one hangs
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    store = Store.open(tmp_path / "bot.db")
    assert store.count_items() == 2
    assert store.source_state("fast").result == "ok"


def test_the_wheel_build_maps_the_top_level_folders_into_the_package() -> None:
    """No second copy of feeds/, templates/ or seeds/: the build maps them (pyproject force-include)."""
    import tomllib

    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert build["force-include"] == {"feeds": "bot/_shipped/feeds", "templates": "bot/_shipped/templates",
                                      "seeds": "bot/_shipped/seeds", "bot.toml.example": "bot/_shipped/bot.toml.example"}
    assert not (ROOT / "bot" / "_shipped").exists()
    assert os.environ.get("BOT_NOW") is None  # the suite itself never fixes the clock globally


def test_eval_on_a_folder_without_daily_documents_at_its_top_level_is_refused(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Documents in a subfolder do not count: the archive is the folder that holds them."""
    (workdir / "archive" / "nested").mkdir(parents=True)
    (workdir / "archive" / "nested" / "2023-03-27.xml").write_bytes(rss(ITEMS))
    (workdir / "archive" / "notes.txt").write_text("not a feed")
    write_config(workdir, '[library]\npaths = []\n[[feeds]]\nname = "f"\nurl = "f.xml"\n')
    code, out, err = bot(["eval", "archive"], capsys)
    assert code == 2 and out == ""
    assert "holds no daily feed documents at its top level" in err and "Traceback" not in err
