"""Kill `bot poll` at random moments, kill -9 and SIGTERM, on the command and on one of its worker
processes: afterwards no process of that poll remains (within 5 s), the next poll runs at once (no
orphan holds the lock), and every item is stored exactly once. Bounded: 20 kills, seeded."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli_env
from tests.servers import FeedServer, Route, rss

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
HOSTS = ("127.0.0.2", "127.0.0.3")
FEEDS_PER_HOST = 20
KILLS = 20
WORDS = ["quantized", "adapters", "inference", "retrieval", "alignment", "distillation", "sparse", "tokenizer",
         "agents", "benchmarks", "latency", "kernels", "evaluation", "reasoning", "pruning", "caching"]


def _title(round_: int, host: int, feed: int, k: int) -> str:
    rng = random.Random(f"{round_}-{host}-{feed}-{k}")  # distinct words, so no two titles look alike
    return f"{' '.join(rng.sample(WORDS, 5))} for LLM fine-tuning, study {round_}.{host}.{feed}.{k}"


def _serve_round(servers: list[FeedServer], round_: int) -> int:
    """Every feed answers two items new in this round (and the previous round's, already known)."""
    count = 0
    for h, server in enumerate(servers):
        for n in range(FEEDS_PER_HOST):
            items = [{"title": _title(r, h, n, k), "link": f"https://r{r}-h{h}.example/{n}/{k}"}
                     for r in (round_ - 1, round_) if r >= 0 for k in range(2)]
            server.route(f"/k{n}.xml", Route(delay=0.15, body=rss(items)))
            count += 2
    return count


def _children(pid: int) -> set[int]:
    """Every descendant of `pid`, from /proc."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                kids = (task / "children").read_text().split()
                for k in map(int, kids):
                    if k not in found:
                        found.add(k)
                        todo.append(k)
        except OSError:
            continue
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has ended; only its parent's wait is missing


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads the process tree from /proc (Linux)")
def test_killed_polls_leave_no_process_no_lock_and_lose_nothing(tmp_path: Path) -> None:
    rng = random.Random(26)
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "log.md").write_text("## 2026 Log\n", encoding="utf-8")
    env = cli_env(NOW, BOT_LOCK_WAIT="0.5")
    with FeedServer(HOSTS[0]) as a, FeedServer(HOSTS[1]) as b:
        servers = [a, b]
        _serve_round(servers, 0)
        feeds = "".join(f'[[feeds]]\nname = "h{h}f{n}"\nkind = "rss"\nurl = "{s.url(f"/k{n}.xml")}"\n'
                        for h, s in enumerate(servers) for n in range(FEEDS_PER_HOST))
        (tmp_path / "bot.toml").write_text(
            f'[bot]\ndb = "bot.db"\ntopics = "{(ROOT / "feeds" / "topics.toml").as_posix()}"\n'
            '[library]\npaths = ["library"]\n[hn]\nlookup = false\n'
            "[http]\nconnect_timeout = 2\nread_timeout = 5\nfeed_deadline = 20\n" + feeds, encoding="utf-8")
        expected = 0
        hit = 0
        for round_ in range(KILLS):
            expected += _serve_round(servers, round_)
            sig = rng.choice([signal.SIGKILL, signal.SIGTERM])
            on_worker = rng.random() < 0.5
            # Output to a file, not a pipe: an orphaned worker would hold a pipe open and hang the wait.
            with (tmp_path / "killed.err").open("w") as err:
                proc = subprocess.Popen([sys.executable, "-m", "bot", "poll"], cwd=tmp_path, env=env,
                                        stdout=subprocess.DEVNULL, stderr=err)
            seen: set[int] = set()
            deadline = time.monotonic() + 20
            while on_worker and proc.poll() is None and not seen and time.monotonic() < deadline:
                seen = _children(proc.pid)  # the workers start once the poll has read its feeds
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 1.2))
            seen |= _children(proc.pid)
            victim = rng.choice(sorted(seen)) if on_worker and seen else proc.pid
            if proc.poll() is None and _running(victim):
                hit += 1
                with contextlib.suppress(ProcessLookupError):  # it may end on its own just now
                    os.kill(victim, sig)
            seen |= _children(proc.pid)
            proc.wait(timeout=30)
            gone_by = time.monotonic() + 5
            while time.monotonic() < gone_by and any(_running(p) for p in seen):
                time.sleep(0.05)
            left = [p for p in seen if _running(p)]
            assert not left, f"round {round_}: {sig.name} on {'a worker' if on_worker else 'the poll'} left {left}"
            after = subprocess.run([sys.executable, "-m", "bot", "poll", "--json"], cwd=tmp_path, env=env,
                                   capture_output=True, text=True, timeout=120)
            assert after.returncode == 0, f"round {round_}: the next poll failed: {after.stderr}"
            assert all(s["result"] == "ok" for s in json.loads(after.stdout)["sources"])
            with sqlite3.connect(tmp_path / "bot.db") as db:
                rows, urls = db.execute("select count(*), count(distinct url) from items").fetchone()
            assert rows == urls == expected, f"round {round_}: {rows} rows, {urls} links, {expected} expected"
    assert hit >= KILLS * 3 // 4, f"only {hit} of {KILLS} kills found the poll still running"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads the process tree from /proc (Linux)")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_daemon_leaves_no_parser_process(tmp_path: Path, sig: signal.Signals) -> None:
    """`bot run` parses a poll of many feeds in a pool of processes started by a fork server: all of
    them end with the daemon, whatever kills it."""
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "log.md").write_text("## 2026 Log\n", encoding="utf-8")
    env = cli_env(NOW, BOT_LOCK_WAIT="0.5")
    env.pop("BOT_NOW")  # the daemon runs on the real clock, as APScheduler does
    with FeedServer(HOSTS[0]) as a, FeedServer(HOSTS[1]) as b:
        servers = [a, b]
        for h, server in enumerate(servers):
            for n in range(FEEDS_PER_HOST):
                server.route(f"/k{n}.xml", Route(delay=1.0 + n * 0.1, body=rss([
                    {"title": _title(0, h, n, 0), "link": f"https://d-h{h}.example/{n}"}])))
        feeds = "".join(f'[[feeds]]\nname = "h{h}f{n}"\nkind = "rss"\nurl = "{s.url(f"/k{n}.xml")}"\n'
                        for h, s in enumerate(servers) for n in range(FEEDS_PER_HOST))
        (tmp_path / "bot.toml").write_text(
            f'[bot]\ndb = "bot.db"\ntopics = "{(ROOT / "feeds" / "topics.toml").as_posix()}"\n'
            '[library]\npaths = ["library"]\n[hn]\nlookup = false\n'
            "[http]\nconnect_timeout = 2\nread_timeout = 10\nfeed_deadline = 30\n" + feeds, encoding="utf-8")
        with (tmp_path / "daemon.err").open("w") as err:
            daemon = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env,
                                      stdout=subprocess.DEVNULL, stderr=err)
        try:
            seen: set[int] = set()
            deadline = time.monotonic() + 60
            # the resource tracker, the fork server and its parser processes (one per core)
            while time.monotonic() < deadline and len(seen) < 2 + min(os.cpu_count() or 1, 2) \
                    and daemon.poll() is None:
                seen |= _children(daemon.pid)
                time.sleep(0.05)
            assert len(seen) >= 3, f"the daemon's poll started no parser processes: {seen}"
            time.sleep(0.5)  # while bodies come in and are parsed
            os.kill(daemon.pid, sig)
            daemon.wait(timeout=60)
        finally:
            if daemon.poll() is None:
                daemon.kill()
        gone_by = time.monotonic() + 5
        while time.monotonic() < gone_by and any(_running(p) for p in seen):
            time.sleep(0.05)
        assert not [p for p in seen if _running(p)]
        after = subprocess.run([sys.executable, "-m", "bot", "poll"], cwd=tmp_path, env=cli_env(NOW, BOT_LOCK_WAIT="0.5"),
                               capture_output=True, text=True, timeout=120)
        assert after.returncode == 0, after.stderr
