"""The commands a person types, at a terminal: each runs in a pseudo-terminal (tests/terminal.py), the
way `bot` meets people, where every other test runs it through pipes. Each asserts the exit code and
what the screen shows; progress bars and colours appear here only, and the cursor is never left hidden.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEEDS, cli_env
from tests.servers import FeedServer, Route, rss
from tests.terminal import Screen, run_in_terminal

# About 15 s of processes (20-25 s on a loaded machine): a slow tier, which CI runs like every other.
pytestmark = pytest.mark.slow
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
LOG = "## 27 May 2023\n* [QLoRA: Efficient Finetuning of Quantized LLMs](https://arxiv.org/abs/2305.14314)\n"


def posted(hours_ago: int) -> str:
    return (NOW - timedelta(hours=hours_ago)).strftime("%a, %d %b %Y %H:%M:%S GMT")


FEEDS = {
    "alpha": [{"title": "Quantized LLM inference on phones", "link": "https://alpha.example/phones",
               "description": "Running quantized large language models on a phone.", "pubDate": posted(20)}],
    "beta": [{"title": "Retrieval-augmented generation without a vector database", "link": "https://beta.example/rag",
              "description": "RAG with plain full-text search.", "pubDate": posted(30)}],
    "gamma": [{"title": "LoRA fine-tuning of LLMs on one GPU", "link": "https://gamma.example/lora",
               "description": "Parameter-efficient fine-tuning, step by step.", "pubDate": posted(40)}],
}


def project(folder: Path, feeds: FeedServer, slow: str | None = None) -> Path:
    """A person's folder: their log, and three feeds on the loopback server (`slow` answers after 30 s)."""
    (folder / "library").mkdir(parents=True)
    (folder / "library" / "log.md").write_text(LOG, encoding="utf-8")
    lines = [f'[bot]\nlog = "library/log.md"\ntopics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n'
             '[library]\npaths = ["library"]\n[hn]\nlookup = false\n[schedule]\npoll_every_minutes = 60\n']
    for name, items in FEEDS.items():
        url = feeds.route(f"/{name}.xml", Route(body=rss(items, title=name), delay=30.0 if name == slow else 0.0))
        lines.append(f'[[feeds]]\nname = "{name}"\nurl = "{url}"\n')
    (folder / "bot.toml").write_text("".join(lines), encoding="utf-8")
    return folder


def at_terminal(folder: Path, *args: str, **kwargs: object) -> Screen:
    return run_in_terminal(list(args), folder, cli_env(NOW), **kwargs)  # type: ignore[arg-type]


def piped(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=folder, env=cli_env(NOW), capture_output=True,
                          text=True, timeout=120)


def tidy(screen: Screen) -> None:
    """What every command leaves behind at a terminal: the cursor shown, no traceback, no crash."""
    assert not screen.cursor_hidden, screen.raw
    assert "Traceback" not in screen.text and "Unexpected error" not in screen.text, screen.text


def test_a_week_at_the_terminal_poll_digest_status(tmp_path: Path) -> None:
    with FeedServer() as feeds:
        folder = project(tmp_path, feeds)
        poll = at_terminal(folder, "poll")
        tidy(poll)
        assert poll.code == 0, poll.text
        assert "polling" in poll.raw, "no progress bar at a terminal"
        assert poll.coloured
        rows = [line for line in poll.text.splitlines() if line.startswith("│")]
        assert [r.split("│")[1].strip() for r in rows] == ["alpha", "beta", "gamma", "total"]
        assert all(r.split("│")[3].strip() == "1" for r in rows[:3]), poll.text  # one new item each
        assert "(imported 1 library entry from 1 document first)" in poll.text

        dry = at_terminal(folder, "digest", "--dry-run")
        tidy(dry)
        assert dry.code == 0, dry.text
        assert "Digest for 23 November 2026" in dry.text
        for title in ("Quantized LLM inference on phones", "LoRA fine-tuning of LLMs on one GPU"):
            assert title in dry.text

        status = at_terminal(folder, "status")
        tidy(status)
        assert status.code == 0, status.text
        assert "Sources" in status.text and "Pending: " in status.text
        for name in FEEDS:
            assert f"│ {name} " in status.text
        # The same facts in a pipe, without colours or progress.
        assert "Pending: " in piped(folder, "status").stdout


def test_ctrl_c_during_a_poll_exits_130_and_gives_the_cursor_back(tmp_path: Path) -> None:
    with FeedServer() as feeds:
        folder = project(tmp_path, feeds, slow="gamma")
        # ^C once alpha and beta have answered (their progress ticks are on the screen), gamma still silent.
        screen = at_terminal(folder, "poll", timeout=60,
                             interrupt=lambda text: feeds.hits("/gamma.xml") >= 1 and "2/3" in text)
        tidy(screen)
        assert screen.code == 130, screen.text
        assert screen.text.rstrip().endswith("Interrupted."), screen.text
        assert screen.seconds < 20, "Ctrl-C waited for the slow feed"
        # The terminal sent SIGINT to every process of the poll: what the finished feeds brought is kept.
        status = json.loads(piped(folder, "status", "--json").stdout)
    assert {s["name"]: s["result"] for s in status["sources"]} == {"alpha": "ok", "beta": "ok", "gamma": None}
    assert status["pending"]["relevant"] == 2


def test_a_poll_with_fetch_workers_at_the_terminal_and_ctrl_c_in_it(tmp_path: Path) -> None:
    """Twenty feeds on two hosts (127.0.0.1 and localhost, one server): enough for the poll to fork a
    fetching worker per host group, which the three-feed tests never do. At a terminal the bar counts
    every feed the workers report; ^C reaches the whole process group (workers too): the poll exits 130
    with the cursor back, keeps what the finished feeds brought, and leaves no worker behind holding
    anything (the next poll runs at once and asks only the feed that had not answered)."""
    with FeedServer() as feeds:
        (tmp_path / "library").mkdir()
        (tmp_path / "library" / "log.md").write_text(LOG, encoding="utf-8")
        lines = [f'[bot]\nlog = "library/log.md"\ntopics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n'
                 '[library]\npaths = ["library"]\n[hn]\nlookup = false\n']
        for n in range(20):
            item = {"title": f"LLM inference note {n}: quantized kernels", "link": f"https://notes.example/{n}",
                    "pubDate": posted(n + 1)}
            url = feeds.route(f"/f{n}.xml", Route(body=rss([item]), delay=30.0 if n == 7 else 0.0))
            if n % 2:
                url = url.replace("127.0.0.1", "localhost")
            lines.append(f'[[feeds]]\nname = "f{n}"\nurl = "{url}"\n')
        (tmp_path / "bot.toml").write_text("".join(lines), encoding="utf-8")
        screen = at_terminal(tmp_path, "poll", timeout=60,
                             interrupt=lambda text: feeds.hits("/f7.xml") >= 1 and "19/20" in text)
        tidy(screen)
        assert screen.code == 130, screen.text
        assert "polling" in screen.raw and "19/20" in screen.text, screen.text
        assert screen.seconds < 20, "Ctrl-C waited for the slow feed"
        status = json.loads(piped(tmp_path, "status", "--json").stdout)
        results = {s["name"]: s["result"] for s in status["sources"]}
        assert results == {**{f"f{n}": "ok" for n in range(20) if n != 7}, "f7": None}, results
        assert status["pending"]["relevant"] == 19
        again = subprocess.run([sys.executable, "-m", "bot", "poll", "--source", "f0", "--json"], cwd=tmp_path,
                               env=cli_env(NOW), capture_output=True, text=True, timeout=30)
        assert again.returncode == 0, again.stderr  # no worker of the interrupted poll holds the lock


def test_add_at_the_terminal(tmp_path: Path) -> None:
    with FeedServer() as feeds:
        folder = project(tmp_path, feeds)
        dry = at_terminal(folder, "add", "https://new.example/post", "--title", "A new LLM paper", "--note",
                          "worth a look", "--date", "2026-11-22", "--dry-run")
        tidy(dry)
        assert dry.code == 0, dry.text
        assert "* [A new LLM paper](https://new.example/post)" in dry.text
        assert "worth a look" in dry.text
        bad = at_terminal(folder, "add", "not a url")
        tidy(bad)
        assert bad.code == 2, bad.text
        assert "not a url" in bad.text and len([line for line in bad.text.splitlines() if line.strip()]) == 1
    assert (folder / "library" / "log.md").read_text(encoding="utf-8") == LOG  # neither wrote anything


def test_library_import_and_check_at_the_terminal(tmp_path: Path) -> None:
    imported = at_terminal(tmp_path, "library", "import", str(SEEDS))
    tidy(imported)
    assert imported.code == 0, imported.text
    assert "Imported 4 documents" in imported.text and "title-only" in imported.text
    assert "reading the documents" in imported.raw, "no stage line at a terminal"  # (transient: in raw only)
    check = at_terminal(tmp_path, "library", "check", "https://arxiv.org/pdf/2305.14314v2.pdf",
                        "https://example.com/never-seen")
    tidy(check)
    assert check.code == 0, check.text
    rows = [line for line in check.text.splitlines() if line.startswith("│")]
    assert any("2305.14314" in r and "│ yes" in r and "arxiv" in r for r in rows), check.text
    assert any("never-seen" in r and "│ no" in r for r in rows), check.text


def test_eval_at_the_terminal(tmp_path: Path) -> None:
    from tests.test_eval import write_project

    write_project(tmp_path)
    screen = at_terminal(tmp_path, "eval", "archive", "--limit", "5")
    tidy(screen)
    assert screen.code == 0, screen.text
    assert "recall@5" in screen.text and "overall" in screen.text


def test_init_then_demo_at_the_terminal(tmp_path: Path) -> None:
    init = at_terminal(tmp_path, "init", "mine")
    tidy(init)
    assert init.code == 0, init.text
    assert "Next steps:" in init.text and (tmp_path / "mine" / "bot.toml").is_file()
    again = at_terminal(tmp_path, "init", "mine")
    tidy(again)
    assert again.code == 2 and "never overwrites" in again.text, again.text
    demo = at_terminal(tmp_path, "demo")
    tidy(demo)
    assert demo.code == 0, demo.text
    assert "Digest for 20 November 2026" in demo.text and "nothing was posted" in demo.text


def test_run_stops_on_ctrl_c_with_130(tmp_path: Path) -> None:
    with FeedServer() as feeds:
        folder = project(tmp_path, feeds)
        screen = run_in_terminal(["run"], folder, _daemon_env(),
                                 interrupt=lambda text: "poll: 3 sources" in text, timeout=60)
    tidy(screen)
    assert screen.code == 130, screen.text
    assert "stopping on SIGINT" in screen.text and "stopped" in screen.text


def test_a_second_ctrl_c_abandons_the_running_job_at_once(tmp_path: Path) -> None:
    with FeedServer() as feeds:
        folder = project(tmp_path, feeds, slow="gamma")  # the first poll waits 30 s for gamma
        screen = run_in_terminal(["run"], folder, _daemon_env(), interrupt=lambda _: feeds.hits("/gamma.xml") >= 1,
                                 interrupts=2, interrupt_every=0.5, timeout=60)
    tidy(screen)
    assert screen.code == 130, screen.text
    assert "letting the current job finish" in screen.text and "abandoning the current job" in screen.text
    assert len(screen.interrupted_at) == 2 and screen.seconds - screen.interrupted_at[1] < 5, screen.text


def _daemon_env() -> dict[str, str]:
    env = cli_env(datetime.now(UTC))
    env.pop("BOT_NOW")  # the daemon runs on the real clock, as APScheduler does
    return env


@pytest.fixture(autouse=True)
def _has_a_tty() -> None:
    import os

    if not hasattr(os, "openpty"):
        pytest.skip("no pseudo-terminals on this system")
