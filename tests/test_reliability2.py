"""Issue 26, reliability's second attack: every finding through the CLI against servers on 127.0.0.1.
(Killing polls and their workers: tests/test_kill.py.)"""

from __future__ import annotations

import importlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from bot.store.database import Store
from tests.conftest import ROOT, cli_env
from tests.servers import FeedServer, Route, SlackReceiver, algolia, rss

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def bot(folder: Path, *args: str, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=folder, capture_output=True, text=True,
                          env=env if env is not None else cli_env(NOW, isolated=True), timeout=timeout)


def project(folder: Path, feeds: list[dict[str, Any]], extra: str = "") -> Path:
    (folder / "library").mkdir(exist_ok=True)
    (folder / "library" / "log.md").write_text("## 2026 Log\n", encoding="utf-8")
    body = "".join("[[feeds]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in f.items()) for f in feeds)
    path = folder / "bot.toml"
    path.write_text(f'[bot]\ndb = "bot.db"\nlog = "library/log.md"\n'
                    f'topics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n'
                    f'[library]\npaths = ["library"]\n[hn]\nlookup = false\n{extra}{body}', encoding="utf-8")
    return path


# -- 2. one bad number or field skips its item alone -------------------------------------------------

HN_HITS = [
    {"id": 1001, "title": "Quantized LLM inference on one GPU, measured", "url": "https://good.example/a"},
    {"id": 1002, "title": "Points beyond any counter for LLM agents", "url": "https://bad.example/p", "points": 10**30},
    {"id": 10**39, "title": "A forty digit thread id about LLM evaluation", "url": "https://bad.example/i"},
    {"id": 1004, "title": ["list", "title"], "url": "https://bad.example/l"},
    {"id": 1005, "title": "Script links never reach the log about LLM tools", "url": "javascript://alert(1)"},
    {"id": 1006, "title": "Credentials in links about LLM serving", "url": "https://me:hunter2@cred.example/x"},
]
HF_DAY = [
    {"paper": {"id": "2611.00011", "title": "Healthy paper on LLM fine-tuning", "upvotes": 12,
               "publishedAt": "2026-11-19T10:00:00.000Z"}},
    {"paper": {"id": "2611.00012", "title": "Upvotes beyond 64 bits on LLM agents", "upvotes": 2**63}},
    {"paper": {"id": "2611.00013", "title": "A time that is a number on LLM inference", "publishedAt": 1795000000}},
    {"paper": {"id": "2611.00014", "title": "A time that is an object on LLM routing", "publishedAt": {"y": 1}}},
]


def test_a_bad_number_or_field_skips_its_item_alone_and_every_feed_is_saved(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.route("/hn", Route(body=algolia(HN_HITS), content_type="application/json"))
        server.route("/hf", Route(body=json.dumps(HF_DAY).encode(), content_type="application/json"))
        server.route("/blog.xml", Route(body=rss([{"title": "A healthy blog post on LLM inference",
                                                   "link": "https://blog.example/post"}])))
        project(tmp_path, [{"name": "hn", "kind": "hn", "url": server.url("/hn")},
                           {"name": "hf", "kind": "hf_papers", "url": server.url("/hf"), "lookback_days": 1},
                           {"name": "blog", "kind": "rss", "url": server.url("/blog.xml")}])
        done = bot(tmp_path, "poll", "--json")
    assert done.returncode == 0, done.stderr
    report = {s["name"]: s for s in json.loads(done.stdout)["sources"]}
    assert {n: (s["result"], s["fetched"], s["skipped"]) for n, s in report.items()} == {
        "hn": ("ok", 3, 3), "hf": ("ok", 1, 3), "blog": ("ok", 1, 0)}
    reasons = " | ".join(report["hn"]["skipped_items"] + report["hf"]["skipped_items"])
    for why in ("its points", "HN item id", "title is list",
                "published time '1795000000'", "published time \"{'y': 1}\""):
        assert why in reasons, reasons
    store = Store.open(tmp_path / "bot.db")
    try:
        urls = {row["url"] for row in store.db.rows("select url from items")}
        assert all(store.source_state(n).last_poll for n in ("hn", "hf", "blog"))
    finally:
        store.close()
    # the javascript: link falls back to the HN thread; no user:password@ is stored
    assert urls == {"https://good.example/a", "https://news.ycombinator.com/item?id=1005", "https://cred.example/x",
                    "https://arxiv.org/abs/2611.00011", "https://blog.example/post"}


# -- 3. secrets at rest ------------------------------------------------------------------------------

def _polled(folder: Path) -> None:
    (folder / "feed.xml").write_bytes(rss([{"title": f"Quantized LLM inference, part {n}",
                                            "link": f"https://blog.example/{n}"} for n in range(3)]))
    project(folder, [{"name": "feed", "kind": "rss", "url": "feed.xml"}], extra="[slack]\ntimeout = 2\n")
    done = bot(folder, "poll")
    assert done.returncode == 0, done.stderr


def test_a_slack_error_echoing_the_credential_is_masked_in_the_database_and_in_status(tmp_path: Path) -> None:
    _polled(tmp_path)
    with SlackReceiver() as slack:
        for env, secret in ((cli_env(LATER, isolated=True, SLACK_WEBHOOK_URL=slack.webhook_url), "XXXXSECRETXXXX"),
                            (cli_env(LATER, isolated=True, SLACK_BOT_TOKEN="plain-SECRET-token-42",
                                     SLACK_CHANNEL="#digest", SLACK_API_URL=slack.api_url), "SECRET-token")):
            slack.script = ["echo_400"]
            failed = bot(tmp_path, "digest", env=env)
            assert failed.returncode == 1 and len(slack.posts) >= 1
            assert secret in json.dumps(slack.posts[-1]) + str(slack.webhook_url)  # it was there to echo
            status, as_json = bot(tmp_path, "status", env=env), bot(tmp_path, "status", "--json", env=env)
            with sqlite3.connect(tmp_path / "bot.db") as db:
                errors = " ".join(str(e) for (e,) in db.execute("select error from deliveries"))
            assert "rejected" in errors and "***" in errors, errors
            for shown in (errors, failed.stderr, status.stdout, as_json.stdout):
                assert secret not in shown, shown
            assert "rejected" in status.stdout + status.stderr
            # the next digest posts the same one: clear the failure for the second client's round
            with sqlite3.connect(tmp_path / "bot.db") as db:
                db.execute("delete from deliveries")
                db.execute("delete from digests")
                db.execute("update items set digest_id = null")


def test_the_database_its_side_files_and_lock_files_are_owner_only(tmp_path: Path) -> None:
    _polled(tmp_path)
    made = [p for p in tmp_path.iterdir() if p.name.startswith("bot.db")]
    assert {p.name for p in made} >= {"bot.db", "bot.db.lock"}
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in made} == {p.name: "0o600" for p in made}
    for p in made:  # made by an older version: narrowed on the next command
        p.chmod(0o644)
    assert bot(tmp_path, "poll").returncode == 0
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in made if p.exists()} == {
        p.name: "0o600" for p in made if p.exists()}


# -- 4. endpoints only from sources as trusted as the secret -----------------------------------------

class Proxy(FeedServer):
    """An HTTP proxy on 127.0.0.1 that records what comes to it and forwards nothing: every request of
    the bot goes through it, so nothing leaves the machine, and the test sees where each was going."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []
        proxy = self

        def record(handler: BaseHTTPRequestHandler) -> None:
            proxy.seen.append(f"{handler.command} {handler.path} {handler.headers.get('Authorization')}")
            handler.send_response(502)
            handler.send_header("Content-Length", "0")
            handler.end_headers()

        handler_class = self.httpd.RequestHandlerClass
        handler_class.do_CONNECT = record  # type: ignore[attr-defined]
        handler_class.do_POST = record  # type: ignore[attr-defined]


def test_a_working_folder_env_names_no_endpoint_for_a_config_elsewhere(tmp_path: Path) -> None:
    conf, work = tmp_path / "conf", tmp_path / "work"
    conf.mkdir()
    work.mkdir()
    _polled(conf)
    with Proxy() as proxy:
        (work / ".env").write_text("SLACK_API_URL=https://attacker.example/api/\n"
                                   "OPENAI_BASE_URL=https://attacker.example/v1\n", encoding="utf-8")
        env = cli_env(LATER, isolated=True, SLACK_BOT_TOKEN="xoxb-real-token-1", SLACK_CHANNEL="#digest",
                      HTTPS_PROXY=proxy.url(""), HTTP_PROXY=proxy.url(""))
        sent = bot(work, "--config", str(conf / "bot.toml"), "digest", env=env)
        assert proxy.seen, sent.stderr
        assert not [r for r in proxy.seen if "attacker" in r or "xoxb-real-token-1" in r], proxy.seen
        assert "SLACK_API_URL, which is ignored" in sent.stderr, sent.stderr
        # The config's own .env may name one.
        proxy.seen.clear()
        (conf / ".env").write_text("SLACK_API_URL=https://own-slack.example/api/\n", encoding="utf-8")
        sent = bot(work, "--config", str(conf / "bot.toml"), "digest", env={**env, **cli_env(LATER + timedelta(hours=1))})
        assert [r.split()[1] for r in proxy.seen] == ["own-slack.example:443"], sent.stderr
    importlib.import_module("bot.sources.builtin")  # the source kinds a configuration is checked against
    from bot.core.config import load_config

    config = load_config(str(conf / "bot.toml"), env=None, cwd=work)
    assert config.openai_base_url is None and config.slack_api_url == "https://own-slack.example/api/"


# -- 7. a .env that is not UTF-8 ---------------------------------------------------------------------

def test_a_dotenv_that_is_not_utf8_is_a_config_error_naming_the_file_and_line(tmp_path: Path) -> None:
    _polled(tmp_path)
    (tmp_path / ".env").write_bytes("SLACK_CHANNEL=#digest\n".encode("utf-16"))
    done = bot(tmp_path, "status")
    assert done.returncode == 2, done.stderr
    assert f"{tmp_path / '.env'} is not UTF-8 text (line 1)" in done.stderr
    assert "Unexpected" not in done.stderr and len(done.stderr.strip().splitlines()) <= 2, done.stderr


# -- 6. test hooks act only with the opt-in ----------------------------------------------------------

def test_test_hooks_act_only_with_the_opt_in_and_say_so(tmp_path: Path) -> None:
    (tmp_path / "feed.xml").write_bytes(rss([{"title": "Quantized LLM inference", "link": "https://blog.example/1"}]))
    project(tmp_path, [{"name": "feed", "kind": "rss", "url": "feed.xml"}])
    left_set = cli_env(NOW, isolated=True, BOT_KILL_AT="poll-fetched")
    del left_set["BOT_TEST_HOOKS"]  # as a production shell with the variables left over would have it
    done = bot(tmp_path, "poll", "--json", env=left_set)
    assert done.returncode == 0, done.stderr  # not killed
    assert "BOT_KILL_AT is set but ignored" in done.stderr and "BOT_NOW is set but ignored" in done.stderr
    assert not json.loads(done.stdout)["started"].startswith(NOW.date().isoformat())  # the real clock
    killed = bot(tmp_path, "poll", env=cli_env(NOW, isolated=True, BOT_KILL_AT="poll-fetched"))
    assert killed.returncode == -9
    assert "test hook active: BOT_KILL_AT=poll-fetched" in killed.stderr
    assert "test hook active: BOT_NOW=" in killed.stderr


# -- 5. settling an uncertain send reads everything since it, however busy the channel --------------

def test_an_uncertain_send_is_found_behind_250_later_messages(tmp_path: Path) -> None:
    _polled(tmp_path)
    with SlackReceiver(hang_seconds=2.5) as slack:
        env = cli_env(LATER, isolated=True, SLACK_BOT_TOKEN="xoxb-test", SLACK_CHANNEL="#digest",
                      SLACK_API_URL=slack.api_url)
        slack.script = ["hang"]  # Slack posts it, but answers after the client gave up
        first = bot(tmp_path, "digest", env=env)
        assert first.returncode == 1 and "uncertain" in first.stderr, first.stderr
        time.sleep(2.0)  # the slow answer lands: the message is in the channel
        slack.chatter(250)  # and a busy channel talks on
        rerun = bot(tmp_path, "digest", env=env)
    assert rerun.returncode == 0, rerun.stderr
    ours = [m for m in slack.accepted if m["payload"].get("metadata")]
    assert len(ours) == 1, "the digest was posted a second time"
    assert slack.reads >= 2  # more than one page was read


# -- 9. Slack messages within Slack's size limits ----------------------------------------------------

WORDS = ["quantized", "adapters", "inference", "retrieval", "alignment", "distillation", "sparse", "tokenizer",
         "agents", "benchmarks", "latency", "kernels", "evaluation", "reasoning", "pruning", "caching"]


def _block_text(block: dict[str, Any]) -> int:
    texts = [block.get("text") or {}] + list(block.get("elements") or [])
    return sum(len(t.get("text") or "") for t in texts if isinstance(t, dict))


def test_long_titles_are_split_into_messages_within_slacks_size_limits(tmp_path: Path) -> None:
    rng = random.Random(9)
    items = [{"title": f"LLM fine-tuning with {' '.join(rng.sample(WORDS, 6))} " * 6 + f"study {n}",
              "link": f"https://long.example/{n}", "description": " ".join(rng.choices(WORDS, k=300))}
             for n in range(47)]
    (tmp_path / "feed.xml").write_bytes(rss(items))
    project(tmp_path, [{"name": "feed", "kind": "rss", "url": "feed.xml"}], extra="[slack]\ntimeout = 5\n")
    assert bot(tmp_path, "poll").returncode == 0
    with SlackReceiver() as slack:
        done = bot(tmp_path, "digest", "--limit", "47",
                   env=cli_env(LATER, isolated=True, SLACK_WEBHOOK_URL=slack.webhook_url))
    assert done.returncode == 0, done.stderr
    shown = 0
    for post in slack.accepted:
        blocks = post["payload"]["blocks"]
        assert len(blocks) <= 50
        assert all(_block_text(b) <= 3000 for b in blocks)
        assert sum(_block_text(b) for b in blocks) <= 10_000, sum(_block_text(b) for b in blocks)
        shown += sum(1 for b in blocks if b["type"] == "section")
    with sqlite3.connect(tmp_path / "bot.db") as db:
        (count,) = db.execute("select item_count from digests").fetchone()
    assert shown == count >= 30 and len(slack.accepted) > 2, done.stdout


# -- 8. small ones: joined emoji, full-width titles, git identity --------------------------------------

FAMILY = "\U0001f469\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # one emoji of seven code points


def test_a_shortened_title_never_splits_a_joined_emoji_and_full_width_titles_are_on_topic(tmp_path: Path) -> None:
    long_title = "LLM inference " + "x" * 280 + FAMILY + " tail"
    (tmp_path / "feed.xml").write_bytes(rss([
        {"title": long_title, "link": "https://emoji.example/1"},
        {"title": "Ｆａｓｔ ＬＬＭ ｉｎｆｅｒｅｎｃｅ ｏｎ ｏｎｅ ＧＰＵ", "link": "https://wide.example/1"},
        {"title": "Fast LLM inference on one GPU, in plain letters", "link": "https://narrow.example/1"}]))
    project(tmp_path, [{"name": "feed", "kind": "rss", "url": "feed.xml"}])
    done = bot(tmp_path, "poll")
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(tmp_path / "bot.db") as db:
        rows = dict(db.execute("select url, title from items").fetchall())
        status = dict(db.execute("select url, status from items").fetchall())
    title = rows["https://emoji.example/1"]
    assert title.endswith("…") and len(title) <= 300
    kept = title.removesuffix("…").removeprefix("LLM inference ").lstrip("x")
    assert kept in ("", FAMILY), repr(kept)  # the whole emoji or none of it
    assert status["https://wide.example/1"] == status["https://narrow.example/1"] == "relevant"


def test_a_missing_git_identity_is_one_sentence(tmp_path: Path) -> None:
    _polled(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    git_env = {"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "XDG_CONFIG_HOME": str(home)}
    for args in (["init", "-q"], ["config", "user.useConfigOnly", "true"]):
        subprocess.run(["git", *args], cwd=tmp_path / "library", check=True, env={**cli_env(NOW), **git_env})
    env = cli_env(LATER, isolated=True, **git_env)
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        env.pop(name, None)
    done = bot(tmp_path, "digest", "--no-slack", "--commit", env=env)
    assert done.returncode == 1
    error = [line for line in done.stderr.splitlines() if line.startswith("Error")]
    assert len(error) == 1 and "git config user.name" in error[0], done.stderr
    assert "*** Please tell me who you are" not in done.stderr


# -- 1 (the lock's part). a forked process never keeps the command's lock ----------------------------

def test_a_process_forked_while_the_lock_is_held_does_not_keep_it(tmp_path: Path) -> None:
    from bot.lock import hold

    path, worker = tmp_path / "bot.db.lock", tmp_path / "worker.pid"
    # A command takes the lock, forks a worker, and is killed (no unlock): the worker lives on.
    code = ("import os, signal, sys, time, pathlib\n"
            "from bot.lock import hold\n"
            "with hold(pathlib.Path(sys.argv[1]), 'the killed command', wait=0):\n"
            "    child = os.fork()\n"
            "    if child == 0:\n"
            "        time.sleep(60); os._exit(0)\n"
            "    pathlib.Path(sys.argv[2]).write_text(str(child))\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    killed = subprocess.run([sys.executable, "-c", code, str(path), str(worker)], env=cli_env(NOW),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    assert killed.returncode == -9
    try:
        with hold(path, "the next command", wait=0):  # at once, though the worker still runs
            pass
    finally:
        os.kill(int(worker.read_text()), signal.SIGKILL)


# -- 8 (bot add). an HN item's script link, list title, and a link's user:password@ ------------------

def test_bot_add_keeps_no_script_link_no_list_title_and_no_credentials(tmp_path: Path) -> None:
    with FeedServer() as hn:
        for n, body in ((1, {"id": 1, "title": "LLM agents that script", "url": "javascript://alert(1)"}),
                        (2, {"id": 2, "title": ["list", "title"], "url": "https://list.example/x"})):
            hn.route(f"/api/v1/items/{n}", Route(body=json.dumps(body).encode(), content_type="application/json"))
        hn.route("/api/v1/search", Route(body=json.dumps({"hits": [], "nbHits": 0}).encode(),
                                         content_type="application/json"))
        project(tmp_path, [{"name": "feed", "kind": "rss", "url": "feed.xml"}])
        (tmp_path / "feed.xml").write_bytes(rss([]))
        with (tmp_path / "bot.toml").open("a", encoding="utf-8") as f:
            f.write(f'[hn]\nsearch_url = "{hn.url("/api/v1")}"\n')
        text = (tmp_path / "bot.toml").read_text(encoding="utf-8").replace("[hn]\nlookup = false\n", "", 1)
        (tmp_path / "bot.toml").write_text(text, encoding="utf-8")
        script = bot(tmp_path, "add", "https://news.ycombinator.com/item?id=1", "--date", "2026-11-20")
        listed = bot(tmp_path, "add", "https://news.ycombinator.com/item?id=2", "--date", "2026-11-20")
        secret = bot(tmp_path, "add", "https://me:hunter2@cred.example/post", "--title", "Private LLM notes",
                     "--date", "2026-11-20")
    log = (tmp_path / "library" / "log.md").read_text(encoding="utf-8")
    assert script.returncode == 0, script.stderr
    assert "* [LLM agents that script](https://news.ycombinator.com/item?id=1)" in log, log
    assert "](" + ")" not in log and "javascript" not in log
    assert listed.returncode != 0 and "['list'" not in log and "no title" in listed.stderr, listed.stderr
    assert secret.returncode == 0, secret.stderr
    assert "hunter2" not in log and "https://cred.example/post" in log
