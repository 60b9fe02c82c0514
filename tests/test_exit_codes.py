"""Every command's documented failures, walked to their exit codes: 0 ok, 1 the work failed, 2 usage or
configuration error, 130 interrupted (Ctrl-C; `bot run` too, while SIGTERM stops it with 0). The README's
exit-code table lists exactly these cases.

The table runs through `bot.cli.group.main` in this process (the function that turns every outcome into
the code, fast); the process tests check that the code main returns is the code the process exits with,
and the signals, which only a process can receive."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli.group import main
from bot.lock import hold, work_lock
from tests.conftest import ROOT, cli_env
from tests.servers import FeedServer, Route, SlackReceiver, rss

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LOG = "## 27 May 2023\n* [QLoRA: Efficient Finetuning of Quantized LLMs](https://arxiv.org/abs/2305.14314)\n"
ITEM = {"title": "Quantized LLM inference on phones", "link": "https://q.example/phones",
        "pubDate": "Mon, 23 Nov 2026 06:00:00 GMT"}


def project(folder: Path, extra: str = "", feed: str = "feed.xml") -> None:
    """A working folder: a log, one local feed with one relevant item, and `extra` config lines."""
    (folder / "library").mkdir(exist_ok=True)
    (folder / "library" / "log.md").write_text(LOG, encoding="utf-8")
    (folder / "feed.xml").write_bytes(rss([ITEM]))
    (folder / "bot.toml").write_text(
        f'[bot]\nlog = "library/log.md"\ntopics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n{extra}'
        f'[library]\npaths = ["library"]\n[hn]\nlookup = false\n[slack]\ntimeout = 1\n'
        f'[[feeds]]\nname = "feed"\nurl = "{feed}"\n', encoding="utf-8")


def polled(folder: Path) -> None:
    """A working folder whose database a poll made (the commands about stored items need one)."""
    project(folder)
    assert main(["-q", "poll"]) == 0


Setup = Callable[[Path], None]
# (what fails, its setup in the working folder, the command, the exit code, a part of the one sentence)
CASES: list[tuple[str, Setup, list[str], int, str]] = [
    # -- 2: usage or configuration ------------------------------------------------------------------
    ("an unknown command", project, ["nosuch"], 2, "No such command"),
    ("a config file that is not there", project, ["--config", "missing.toml", "status"], 2, "not found"),
    ("a config that is not TOML", lambda f: (f / "bot.toml").write_text("[bot\n"), ["status"], 2, "not valid TOML"),
    ("an unknown config key", lambda f: project(f, "colour = 1\n"), ["status"], 2, "Unknown key 'colour'"),
    ("relevance_threshold outside 0..1", lambda f: project(f, "relevance_threshold = 35\n"), ["poll"], 2,
     "relevance_threshold must be between 0 and 1"),
    ("a digest_cron with a day number", lambda f: (project(f), (f / "bot.toml").open("a").write(
        '[schedule]\ndigest_cron = "1 09:00"\n')) and None, ["run"], 2, "is not a day name"),
    ("no feed enabled", lambda f: project(f, feed='feed.xml"\nenabled = false\n#'), ["poll"], 2, "Nothing to poll"),
    ("no config and no seeds/ here", lambda f: None, ["library", "import"], 2,
     "no config file is in use"),
    ("poll with no config and no seeds/ here", lambda f: None, ["poll"], 2, "no config file is in use"),
    ("a reading document that is not there", project, ["library", "import", "nope.md"], 2,
     "No such reading document or folder: nope.md"),
    ("a configured library folder that is not there", lambda f: (project(f), (f / "library" / "log.md").unlink(),
                                                                 (f / "library").rmdir()) and None,
     ["poll"], 2, "fix [library] paths in"),
    ("library check without a query", project, ["library", "check"], 2, "Missing argument"),
    ("poll --source with an unknown feed", project, ["poll", "--source", "nosuch"], 2, "No feed named nosuch"),
    ("digest --since that is not a date", project, ["digest", "--dry-run", "--since", "soon"], 2, "is not a date"),
    ("digest --since after --until", project, ["digest", "--dry-run", "--since", "2026-11-20", "--until", "2026-11-10"],
     2, "is not before --until"),
    ("digest --json with another --format", project, ["digest", "--json", "--format", "markdown"], 2,
     "ask for two outputs"),
    ("digest --limit 0", project, ["digest", "--limit", "0"], 2, "--limit"),
    ("add with something that is not a link", project, ["add", "not a url"], 2, "'not a url' is not a link"),
    ("add --date that is not a date", project, ["add", "https://x.example/", "--title", "X", "--date", "soon"], 2,
     "is not a date"),
    ("eval of an archive that is not there", project, ["eval", "nope"], 2, "does not exist"),
    ("init over an existing config", project, ["init", "."], 2, "never overwrites"),
    ("a digest that goes nowhere (--no-slack --no-log) without --mark-only", project,
     ["digest", "--no-slack", "--no-log"], 2, "pass --mark-only"),
    ("explain of something neither an id nor a link", project, ["explain", "not an id"], 2, "neither an item id"),
    ("skip of something neither an id nor a link", project, ["skip", "nope nope"], 2, "neither an item id"),
    ("sources forget of a source still configured", project, ["sources", "forget", "feed"], 2,
     "still a configured source"),
    ("config check of a broken config", lambda f: (f / "bot.toml").write_text("[bot\n"), ["config", "check"], 2,
     "The configuration is broken"),
    # -- 1: the work failed -------------------------------------------------------------------------
    ("poll when every feed failed", lambda f: project(f, feed="missing.xml"), ["poll"], 1, "Every feed failed"),
    ("poll while another command holds the lock", project, ["poll"], 1, "holds the lock"),  # see LOCKED
    ("add of a link the library has", project, ["add", "https://arxiv.org/abs/2305.14314"], 1, "2305.14314"),
    ("explain of an id no stored item has", polled, ["explain", "999"], 1, "No stored item has the id 999"),
    ("skip of an id no stored item has", polled, ["skip", "999"], 1, "No stored item has the id 999"),
    ("sources forget of a name with no state", polled, ["sources", "forget", "gone"], 1, "No former source"),
    # -- 0 ------------------------------------------------------------------------------------------
    ("status with no database yet", lambda f: None, ["status"], 0, "none yet"),
    ("a digest with nothing new", project, ["digest", "--no-slack"], 0, "No new items"),
]
LOCKED = "poll while another command holds the lock"


@pytest.mark.parametrize("what,setup,args,code,sentence", CASES, ids=[c[0] for c in CASES])
def test_each_documented_failure_has_its_exit_code(workdir: Path, capsys: pytest.CaptureFixture[str], what: str,
                                                   setup: Setup, args: list[str], code: int, sentence: str) -> None:
    setup(workdir)  # no case depends on the time: one that does runs as a process below, on its clock
    capsys.readouterr()
    if what == LOCKED:
        with hold(work_lock(workdir / "bot.db"), "test", wait=0):
            got = main(args)
    else:
        got = main(args)
    out, err = capsys.readouterr()
    assert got == code, f"{what}: exit {got}, not {code}\n{out}{err}"
    assert sentence in out + err, f"{what}: {out}{err}"
    if code:
        assert "Traceback" not in err and "Unexpected error" not in err
    if what in ("status with no database yet", "poll with no config and no seeds/ here"):
        assert not (workdir / "bot.db").exists()  # a command that only reads, or did nothing, makes no database


def _bot(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=folder, env=cli_env(NOW, **(env or {})),
                          capture_output=True, text=True, timeout=60)


def test_the_process_exits_with_the_code_main_returns(tmp_path: Path) -> None:
    project(tmp_path, "relevance_threshold = 35\n")
    usage = _bot(tmp_path, "status")
    assert usage.returncode == 2 and usage.stderr.startswith("Error: [bot] relevance_threshold"), usage.stderr
    project(tmp_path, feed="missing.xml")
    failed = _bot(tmp_path, "poll")
    assert failed.returncode == 1 and "Every feed failed" in failed.stderr


def test_a_digest_whose_slack_post_failed_exits_1(tmp_path: Path) -> None:
    project(tmp_path)
    assert _bot(tmp_path, "-q", "poll").returncode == 0
    with SlackReceiver() as slack:
        slack.script = ["500"]
        failed = _bot(tmp_path, "digest", env={"SLACK_WEBHOOK_URL": slack.webhook_url})
    assert failed.returncode == 1, failed.stderr
    assert "Error: slack delivery failed" in failed.stderr


def _daemon(folder: Path, feeds: FeedServer) -> subprocess.Popen[str]:
    url = feeds.route("/f.xml", Route(body=rss([ITEM])))
    project(folder, feed=url)
    env = cli_env(datetime.now(UTC))
    env.pop("BOT_NOW")  # the daemon runs on the real clock, as APScheduler does
    return subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=folder, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 0)], ids=["SIGINT", "SIGTERM"])
def test_bot_run_exits_130_on_ctrl_c_and_0_on_sigterm(tmp_path: Path, signum: int, code: int) -> None:
    with FeedServer() as feeds:
        daemon = _daemon(tmp_path, feeds)
        try:
            deadline = time.monotonic() + 30
            while feeds.hits("/f.xml") < 1 and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.5)  # the first poll stores what it fetched
        finally:
            daemon.send_signal(signum)
            _, stderr = daemon.communicate(timeout=30)
    assert daemon.returncode == code, stderr
    assert f"stopping on {signal.Signals(signum).name}" in stderr and "stopped" in stderr


def test_a_quiet_poll_prints_no_table_but_still_names_what_failed(tmp_path: Path) -> None:
    project(tmp_path, feed="feed.xml")
    with (tmp_path / "bot.toml").open("a", encoding="utf-8") as config:
        config.write('[[feeds]]\nname = "gone"\nurl = "missing.xml"\n')
    quiet = _bot(tmp_path, "-q", "poll")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == ""  # a scheduled `bot -q poll` mails nothing when all is well
    said = [line for line in quiet.stderr.splitlines() if not line.startswith("bot: test hook")]
    assert len(said) == 1 and said[0].startswith("gone: ") and "missing.xml" in said[0], quiet.stderr
    loud = _bot(tmp_path, "poll")
    assert "Poll" in loud.stdout and "gone: " in loud.stdout, loud.stdout
    (tmp_path / "feed.xml").unlink()
    failed = _bot(tmp_path, "-q", "poll")
    assert failed.returncode == 1 and failed.stdout == ""
    assert "Every feed failed; see the errors above" in failed.stderr, failed.stderr
