"""`bot poll` against feed servers on 127.0.0.1: dedupe, cross-source merge, 304s, and faults."""

from __future__ import annotations

import copy
import json
import multiprocessing
import os
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import bot.library.api as lib
from bot import poll as poll_module
from bot.cli.group import cli
from bot.core.config import Config, load_config
from bot.poll import PARALLEL_FROM, partition_by_host, poll, select_feeds
from bot.store.database import Store
from tests.conftest import ROOT, cli_env
from tests.servers import FeedServer, Route, algolia, arxiv_atom, atom, gzip_bomb, rss

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LIBRARY_DOC = """## 2023 Log
## 27 May 2023
* New paper ['QLoRA: Efficient Finetuning of Quantized LLMs'](https://arxiv.org/abs/2305.14314) and [HN thread](https://news.ycombinator.com/item?id=36064568)
* Simon Willison on [CLI tools for LLMs](https://simonwillison.net/2023/May/18/cli-tools-for-llms/)
* [Illustrated Transformer](http://jalammar.github.io/illustrated-transformer/)
"""


def make_config(tmp: Path, feeds: list[dict[str, Any]], http: str = "") -> Config:
    (tmp / "library").mkdir(exist_ok=True)
    (tmp / "library" / "log.md").write_text(LIBRARY_DOC, encoding="utf-8")
    lines = [f'[bot]\ndb = "bot.db"\ntopics = "{(ROOT / "feeds" / "topics.toml").as_posix()}"\n',
             '[library]\npaths = ["library"]\n',
             "[http]\nconnect_timeout = 1\nread_timeout = 1\nfeed_deadline = 3\n" + (http or "max_body_mb = 1\n")]
    for f in feeds:
        body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in f.items())
        lines.append(f"[[feeds]]\n{body}\n")
    (tmp / "bot.toml").write_text("\n".join(lines), encoding="utf-8")
    return load_config(str(tmp / "bot.toml"), env={})


def open_store(config: Config) -> Store:
    store = Store.open(config.db)
    lib.import_documents(store, config.library_paths)
    return store


def by_name(report: Any) -> dict[str, Any]:
    return {s.name: s for s in report.sources}


def test_known_items_never_come_back_whatever_their_spelling(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.route("/blog.xml", Route(body=rss([
            {"title": "QLoRA explained", "link": "https://arxiv.org/pdf/2305.14314v2.pdf"},
            {"title": "CLI tools", "link": "http://www.simonwillison.net/2023/May/18/cli-tools-for-llms?utm_source=rss#x"},
            {"title": "Transformer", "link": "https://jalammar.github.io/illustrated-transformer/index.html"},
            {"title": "Thread", "link": "https://example.com/x", "comments": "https://news.ycombinator.com/item?id=36064568&p=2"},
            {"title": "A new method for LLM inference with speculative decoding", "link": "https://example.com/new-post"},
        ])))
        config = make_config(tmp_path, [{"name": "blog", "kind": "rss", "url": server.url("/blog.xml")}])
        store = open_store(config)
        report = by_name(poll(config, store, now=NOW))
    assert report["blog"].fetched == 5
    assert report["blog"].known == 4
    assert report["blog"].new == 1
    (item,) = store.all_items()
    assert item.url == "https://example.com/new-post" and item.status == "relevant"


def test_cross_source_duplicates_become_one_item(tmp_path: Path) -> None:
    title = "Sparse Mixture of Experts for Efficient LLM Inference"
    with FeedServer() as server:
        server.route("/hn", Route(content_type="application/json", body=algolia([
            {"id": 46000001, "title": title, "url": "https://arxiv.org/pdf/2611.01234v2", "points": 250, "num_comments": 80},
        ])))
        server.route("/arxiv", Route(content_type="application/atom+xml", body=arxiv_atom([
            {"id": "2611.01234", "title": title, "cats": ["cs.CL", "cs.LG"], "summary": "We route tokens to experts."},
        ])))
        config = make_config(tmp_path, [
            {"name": "hn", "kind": "hn", "url": server.url("/hn"), "min_points": 10},
            {"name": "arxiv", "kind": "arxiv", "url": server.url("/arxiv"), "min_interval": 0},
        ])
        store = open_store(config)
        poll(config, store, now=NOW)
        hn_request = next(r for r in server.requests if r["path"].startswith("/hn"))
        arxiv_request = next(r for r in server.requests if r["path"].startswith("/arxiv"))
    items = store.all_items()
    assert len(items) == 1
    (item,) = items
    assert item.arxiv_id == "2611.01234" and item.hn_id == 46000001
    assert item.hn_url == "https://news.ycombinator.com/item?id=46000001"
    assert sorted(item.sources) == ["arxiv", "hn"]
    assert item.points == 250 and item.summary == "We route tokens to experts."
    assert "tags=story" in hn_request["path"] and "points%3E%3D10" in hn_request["path"]
    assert "submittedDate" in arxiv_request["path"] and "cat%3Acs.CL" in arxiv_request["path"]
    assert "research-digest-bot" in arxiv_request["headers"]["User-Agent"]


def test_second_poll_of_unchanged_feeds_is_all_304(tmp_path: Path) -> None:
    with FeedServer() as server:
        for n in range(3):
            server.route(f"/f{n}.xml", Route(etag=f'"v{n}"', body=atom([
                {"title": f"Fine-tuning LLMs with adapters, part {n}", "link": f"https://blog{n}.example/post"}])))
        config = make_config(tmp_path, [{"name": f"f{n}", "kind": "rss", "url": server.url(f"/f{n}.xml")} for n in range(3)])
        store = open_store(config)
        first = poll(config, store, now=NOW)
        second = poll(config, store, now=NOW)
        conditional = [r for r in server.requests[3:] if r["headers"].get("If-None-Match")]
    assert sum(s.new for s in first.sources) == 3
    assert all(s.not_modified and s.fetched == 0 and s.result == "not_modified" for s in second.sources)
    assert len(conditional) == 3
    assert store.count_items() == 3


def test_a_known_item_is_re_ranked_as_its_points_climb(tmp_path: Path) -> None:
    """The digest ranks by the signals at digest time: a story first seen with a few points that the
    front page then carried rises; what it is about (its relevance) stays as first read."""
    early = {"id": 46000010, "title": "Speculative decoding for LLM inference", "url": "https://a.example/spec",
             "points": 3, "num_comments": 0}
    steady = {"id": 46000011, "title": "Quantization of LLM weights for inference", "url": "https://b.example/q",
              "points": 60, "num_comments": 5}
    later = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
    with FeedServer() as server:
        server.route("/hn", Route(content_type="application/json", body=algolia([early, steady])))
        config = make_config(tmp_path, [{"name": "hn", "kind": "hn", "url": server.url("/hn"), "min_points": 1}])
        store = open_store(config)
        poll(config, store, now=NOW)
        first = {r.hn_id: r for r in store.all_items()}
        server.route("/hn", Route(content_type="application/json", body=algolia([
            {**early, "points": 450, "num_comments": 40}, steady])))
        poll(config, store, now=later)
    after = {r.hn_id: r for r in store.all_items()}
    assert first[46000010].score < first[46000011].score
    climbed = after[46000010]
    assert climbed.points == 450 and climbed.comments == 40
    assert climbed.score > after[46000011].score
    assert climbed.relevance == first[46000010].relevance
    assert climbed.explain["signal"] > first[46000010].explain["signal"]
    assert climbed.explain["heat"] > 0 and climbed.explain["topics"] == first[46000010].explain["topics"]
    assert after[46000011].score == first[46000011].score  # nothing changed, nothing re-ranked


def test_an_item_a_digest_carried_is_not_re_ranked(tmp_path: Path) -> None:
    story = {"id": 46000012, "title": "LLM inference on a phone", "url": "https://c.example/p", "points": 5}
    with FeedServer() as server:
        server.route("/hn", Route(content_type="application/json", body=algolia([story])))
        config = make_config(tmp_path, [{"name": "hn", "kind": "hn", "url": server.url("/hn"), "min_points": 1}])
        store = open_store(config)
        poll(config, store, now=NOW)
        (row,) = store.all_items()
        store.update_item(row.id, {"digest_id": 1})
        server.route("/hn", Route(content_type="application/json", body=algolia([{**story, "points": 500}])))
        poll(config, store, now=NOW)
    (after,) = store.all_items()
    assert after.points == 5 and after.score == row.score


HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")  # Linux routes all of 127.0.0.0/8 to the loopback interface


def _many_hosts(servers: list[FeedServer], tmp_path: Path, feeds_per_host: int = 6, delay: float = 0.0,
                http: str = "") -> Config:
    """Enough feeds on several hosts that the poll spreads them over processes."""
    feeds = []
    for h, server in enumerate(servers):
        for n in range(feeds_per_host):
            url = server.route(f"/m{n}.xml", Route(delay=delay, body=rss([
                {"title": f"Fine-tuning LLMs with adapters, note {h}-{n}-{k}", "link": f"https://many{h}-{n}.example/{k}"}
                for k in range(3)])))
            feeds.append({"name": f"h{h}m{n}", "kind": "rss", "url": url})
    assert len(feeds) >= PARALLEL_FROM
    return make_config(tmp_path, feeds, http=http)


class CountingPool(poll_module.ProcessPoolExecutor):
    """The real pool, counting the shares of judging handed to worker processes."""
    shares: list[Any] = []  # what each chunk of judging was sent with

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        CountingPool.shares.append(args[:2])
        return super().submit(fn, *args, **kwargs)


class SpyContext:
    """A real multiprocessing context that counts the fetch workers a poll starts (the feeds of each
    share), and makes the start of the shares named in `refuse` fail as where processes cannot be made."""

    def __init__(self, real: Any, shares: list[int], refuse: set[int]) -> None:
        self.real, self.shares, self.refuse = real, shares, refuse

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def Process(self, *args: Any, **kwargs: Any) -> Any:  # noqa: N802
        process = self.real.Process(*args, **kwargs)
        if kwargs.get("target") is not poll_module._fetch_worker:  # a parser pool's, say
            return process
        share = len(kwargs["args"][2])  # _fetch_worker(command_pid, partition, feeds, ...)
        if len(self.shares) in self.refuse:
            def cannot() -> None:
                raise OSError("no processes here")
            process.start = cannot
        self.shares.append(share)
        return process


def _spy(monkeypatch: pytest.MonkeyPatch, refuse: set[int] | None = None) -> list[int]:
    """The feeds of each share a poll hands to a fetch worker, once it has polled."""
    shares: list[int] = []
    real = multiprocessing.get_context
    monkeypatch.setattr(poll_module.multiprocessing, "get_context",
                        lambda method=None: SpyContext(real(method), shares, refuse or set()))
    return shares


def test_many_feeds_on_many_hosts_are_fetched_by_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The test's servers are threads, so `bot poll` would fetch in-process here; the fork server is safe.
    monkeypatch.setattr(poll_module, "_start_method", lambda: "forkserver")
    shares = _spy(monkeypatch)
    with FeedServer(HOSTS[0]) as a, FeedServer(HOSTS[1]) as b, FeedServer(HOSTS[2]) as c:
        config = _many_hosts([a, b, c], tmp_path)
        report = poll(config, open_store(config), now=NOW)
    assert [s.result for s in report.sources] == ["ok"] * 18
    assert [s.name for s in report.sources] == [f"h{h}m{n}" for h in range(3) for n in range(6)]
    assert sum(s.new + s.off_topic for s in report.sources) == 3 * 18
    workers = min(os.cpu_count() or 1, 3)
    assert (sorted(shares) == sorted(len(p) for p in partition_by_host(
        select_feeds(config), workers))) if workers > 1 else shares == []


def _long_timeouts(tmp_path: Path) -> Config:
    """The project in tmp_path with timeouts long enough that only the test decides when a held feed answers."""
    toml = tmp_path / "bot.toml"
    text = toml.read_text(encoding="utf-8").replace("read_timeout = 1\n", "read_timeout = 20\n")
    toml.write_text(text.replace("feed_deadline = 3\n", "feed_deadline = 30\n"), encoding="utf-8")
    return load_config(str(toml), env={})


def test_a_workers_outcomes_arrive_while_its_share_is_still_being_fetched(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Streaming: each fetch worker sends a feed's outcome as soon as it is complete, not when its whole
    share is. One feed of each worker's share answers only once the poll has reported every other feed;
    a worker that held its outcomes until its share was done would hold them until the timeout."""
    import threading
    import time

    monkeypatch.setattr(poll_module, "_start_method", lambda: "forkserver")
    monkeypatch.setattr(poll_module, "partition_by_host", lambda feeds, parts: _halves(feeds))
    shares = _spy(monkeypatch)
    released = threading.Event()
    answered: list[bool] = []

    def held(handler: Any) -> None:
        answered.append(released.wait(15))
        body = rss([{"title": "Held LLM note", "link": f"https://held.example{handler.path}"}])
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    reported: list[str] = []

    def progress(name: str) -> None:
        reported.append(name)
        if len(reported) == 16:  # all but the two held feeds
            released.set()

    with FeedServer(HOSTS[0]) as a, FeedServer(HOSTS[1]) as b:
        _many_hosts([a, b], tmp_path, feeds_per_host=9)
        config = _long_timeouts(tmp_path)
        for server in (a, b):
            server.route("/m0.xml", Route(handler=held))
        started = time.monotonic()
        report = poll(config, open_store(config), now=NOW, progress=progress)
        took = time.monotonic() - started
    assert shares == [9, 9]
    assert answered == [True, True], "the held feeds answered on the timeout: nothing came before the share ended"
    assert took < 15
    assert [s.result for s in report.sources] == ["ok"] * 18
    assert sorted(reported) == sorted(s.name for s in report.sources)  # each feed reported once
    assert set(reported[16:]) == {"h0m0", "h1m0"}


@pytest.mark.parametrize("refuse", [{0, 1}, {1}], ids=["none-starts", "one-of-two-starts"])
def test_without_processes_one_client_fetches_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         refuse: set[int]) -> None:
    """Where no process can be made, one client here fetches every feed; where only some can, the shares
    of those that could not are fetched here beside them. Every feed is asked once."""
    monkeypatch.setattr(poll_module, "_start_method", lambda: "forkserver")
    monkeypatch.setattr(poll_module, "partition_by_host", lambda feeds, parts: _halves(feeds))
    shares = _spy(monkeypatch, refuse)
    with FeedServer(HOSTS[0]) as a, FeedServer(HOSTS[1]) as b:
        config = _many_hosts([a, b], tmp_path, feeds_per_host=9)
        report = poll(config, open_store(config), now=NOW)
        hits = [server.hits(f"/m{n}.xml") for server in (a, b) for n in range(9)]
    assert shares == [9, 9]
    assert [s.result for s in report.sources] == ["ok"] * 18
    assert sum(s.new + s.off_topic for s in report.sources) == 3 * 18
    assert hits == [1] * 18


def _halves(feeds: Any) -> list[list[int]]:
    """Two shares, one per host, whatever the cores."""
    return [[n for n in range(len(feeds)) if HOSTS[0] in feeds[n].url],
            [n for n in range(len(feeds)) if HOSTS[0] not in feeds[n].url]]


def test_a_worker_that_dies_loses_no_feed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker process killed mid-poll: its share is fetched by the poll itself."""
    monkeypatch.setattr(poll_module, "_start_method", lambda: "forkserver")
    monkeypatch.setattr(poll_module, "partition_by_host", lambda feeds, parts: _halves(feeds))
    monkeypatch.setattr(poll_module, "fetch_partition", _die_on_first_host)
    with FeedServer(HOSTS[0]) as a, FeedServer(HOSTS[1]) as b:
        config = _many_hosts([a, b], tmp_path, feeds_per_host=9)
        report = poll(config, open_store(config), now=NOW)
    assert [s.result for s in report.sources] == ["ok"] * 18
    assert sum(s.new + s.off_topic for s in report.sources) == 3 * 18


def test_a_worker_killed_after_sending_some_outcomes_loses_none_and_doubles_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker killed (like kill -9) after it sent two of its feeds: the poll keeps those two, fetches
    the rest of that share itself (not the two again), and the other worker's share is left alone."""
    monkeypatch.setattr(poll_module, "_start_method", lambda: "forkserver")
    monkeypatch.setattr(poll_module, "partition_by_host", lambda feeds, parts: _halves(feeds))
    monkeypatch.setattr(poll_module, "fetch_partition", _die_after_sending_two)
    reported: list[str] = []
    with FeedServer(HOSTS[0]) as a, FeedServer(HOSTS[1]) as b:
        config = _many_hosts([a, b], tmp_path, feeds_per_host=9)
        report = poll(config, open_store(config), now=NOW, progress=reported.append)
        first = [a.hits(f"/m{n}.xml") for n in range(9)]
        second = [b.hits(f"/m{n}.xml") for n in range(9)]
    assert [s.result for s in report.sources] == ["ok"] * 18
    assert sum(s.new + s.off_topic for s in report.sources) == 3 * 18
    assert sorted(reported) == sorted(s.name for s in report.sources)  # each outcome kept once
    assert second == [1] * 9
    assert first.count(1) >= 2 and set(first) <= {1, 2}, first  # the two it sent were not asked again


@pytest.mark.slow
def test_ctrl_c_while_workers_fetch_keeps_what_they_sent_and_leaves_no_process(tmp_path: Path) -> None:
    """^C (SIGINT to every process of the command, as a terminal sends it) while the fetch workers wait on
    a feed of each share: the poll stores what the workers had sent, exits 130, and ends its workers."""
    import subprocess
    import sys
    import time

    from tests.conftest import cli_env

    with FeedServer(HOSTS[0]) as a, FeedServer(HOSTS[1]) as b:
        _many_hosts([a, b], tmp_path, feeds_per_host=9)
        _long_timeouts(tmp_path)
        for server in (a, b):
            server.route("/m0.xml", Route(delay=30, body=rss([])))
        # The command is its process's only thread: its workers are forked, as a user's `bot poll` forks them.
        proc = subprocess.Popen([sys.executable, "-m", "bot", "poll"], cwd=tmp_path, env=cli_env(NOW),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        deadline = time.monotonic() + 60
        while sum(server.hits(f"/m{n}.xml") for server in (a, b) for n in range(9)) < 18:
            assert time.monotonic() < deadline and proc.poll() is None, "the poll never asked every feed"
            time.sleep(0.05)
        time.sleep(2.0)  # the fast feeds' outcomes reach the poll while the held ones hang
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    left = [pid for pid in _session(proc.pid) if pid != proc.pid]
    assert not left, f"processes of the poll left behind: {left}"
    store = Store.open(tmp_path / "bot.db")
    results = {name: store.source_state(name).result for name in (f"h{h}m{n}" for h in range(2) for n in range(9))}
    assert results == {name: None if name.endswith("m0") else "ok" for name in results}
    assert store.count_items() == 2 * 8 * 3


def _session(sid: int) -> list[int]:
    """The processes still alive (not zombies) in session `sid`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[3]) == sid:
                found.append(int(entry))
    return found


_REAL_FETCH_PARTITION = poll_module.fetch_partition


def _die_on_first_host(feeds: Any, *args: Any) -> Any:
    """Run in a worker process: the worker given the first host's feeds is killed like kill -9 would."""
    import signal

    if HOSTS[0] in feeds[0].url:
        os.kill(os.getpid(), signal.SIGKILL)
    return _REAL_FETCH_PARTITION(feeds, *args)


def _die_after_sending_two(feeds: Any, *args: Any) -> Any:
    """Run in a worker process: the worker given the first host's feeds is killed like kill -9 would be as it
    frames its third outcome, the first two written to its pipe (at once: the poll reads it empty)."""
    if HOSTS[0] in feeds[0].url:
        real, framed = poll_module._framed, [0]

        def dying(message: Any) -> bytes:
            framed[0] += 1
            if framed[0] == 3:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(message)

        poll_module._framed = dying  # (in the worker's own copy of the module)
    return _REAL_FETCH_PARTITION(feeds, *args)


@pytest.mark.skipif(not hasattr(__import__("fcntl"), "F_GETPIPE_SZ"), reason="pipe sizes are Linux's")
def test_a_fetch_workers_pipe_holds_many_outcomes() -> None:
    """The pipe a fetch worker writes is widened from the system's 64 kB, so that a worker whose event loop
    is busy parsing writes many outcomes at each step rather than piling them up until its end."""
    import fcntl

    receive, send = multiprocessing.Pipe(duplex=False)
    try:
        assert fcntl.fcntl(send.fileno(), fcntl.F_GETPIPE_SZ) < poll_module.PIPE_BYTES
        poll_module._widen(send)
        assert fcntl.fcntl(send.fileno(), fcntl.F_GETPIPE_SZ) == poll_module.PIPE_BYTES
    finally:
        receive.close()
        send.close()


def test_a_worker_frames_its_outcomes_as_the_poll_reads_them() -> None:
    """A fetch worker writes its pipe through the event loop, framed by hand as multiprocessing's
    Connection frames a message; the poll reads them with Connection.recv, big ones too."""
    import threading
    from multiprocessing.reduction import ForkingPickler

    receive, send = multiprocessing.Pipe(duplex=False)
    messages = [(3, "x" * 10), (7, "y" * 300_000), None]  # one bigger than a pipe holds
    writer = threading.Thread(target=lambda: [os.write(send.fileno(), poll_module._framed(ForkingPickler.dumps(m)))
                                              for m in messages])
    writer.start()
    try:
        assert [receive.recv() for _ in messages] == messages
    finally:
        writer.join()
        receive.close()
        send.close()


@pytest.mark.parametrize("workers", [None, "forkserver"], ids=["one-client", "processes"])
def test_each_host_gets_at_most_per_host_connections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     workers: str | None) -> None:
    """Politeness: however many feeds a host serves and however the feeds are spread over processes, no
    more than per_host connections to it are open at once (counted by the servers), while the hosts
    are fetched side by side."""
    monkeypatch.setattr(poll_module, "_start_method", lambda: workers)
    with FeedServer(HOSTS[0]) as a, FeedServer(HOSTS[1]) as b:
        config = _many_hosts([a, b], tmp_path, feeds_per_host=10, delay=0.15, http="per_host = 3\n")
        started = datetime.now(UTC)
        report = poll(config, open_store(config), now=NOW)
        took = (datetime.now(UTC) - started).total_seconds()
        most = (a.most_connections, b.most_connections)
    assert [s.result for s in report.sources] == ["ok"] * 20
    assert most == (3, 3), most  # the bound is reached (so it is what limits) and never passed
    assert took >= 4 * 0.15  # 10 feeds, 3 at a time: four rounds of the server's delay


FAULTS = {
    "timeout": Route(delay=5, body=b""),
    "http500": Route(status=500, body=b"boom", content_type="text/plain"),
    "http429": Route(status=429, body=b"", content_type="text/plain", headers={"Retry-After": "3600"}),
    "html": Route(body=b"<!doctype html><html><head><title>Login</title></head><body>hi</body></html>",
                  content_type="text/html"),
    "malformed": Route(body=b"<?xml version='1.0'?><rss><channel><title>x</title><item><title>broken"),
    "huge": Route(endless=True),
    "bomb": Route(body=b"", handler=None),
    "loop": Route(redirect_to="/loop"),
    "drip": Route(body=rss([{"title": "slow", "link": "https://slow.example/"}]), drip=0.05),
    "http503": Route(status=503, body=b"", content_type="text/plain"),
    "http503_retry_date": Route(status=503, body=b"", content_type="text/plain",
                                headers={"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}),
    "truncated": Route(body=rss([{"title": "LLM news", "link": "https://t.example/"}])[:-40]),
    "refused": Route(),
    "empty": Route(body=b""),
    "binary": Route(body=bytes(range(256)) * 64, content_type="application/octet-stream"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_failing_feed_is_recorded_and_the_others_are_stored(tmp_path: Path, fault: str) -> None:
    with FeedServer() as server:
        good = server.route("/good.xml", Route(body=rss([
            {"title": "Quantization of large language models on a laptop", "link": "https://good.example/q"}])))
        route = FAULTS[fault]
        if fault == "bomb":
            bomb = gzip_bomb(64 * 1024 * 1024)
            route = Route(body=b"", handler=lambda h: _send_raw(h, bomb, {"Content-Encoding": "gzip"}))
        if fault == "loop":
            route = Route(redirect_to=server.url("/loop"))
        bad = server.route(f"/{fault}", route)
        if fault == "refused":
            bad = "http://127.0.0.1:9/refused"  # the discard port: nothing listens there
        config = make_config(tmp_path, [{"name": "good", "url": good}, {"name": "bad", "url": bad}])
        store = open_store(config)
        started = datetime.now(UTC)
        report = by_name(poll(config, store, now=NOW))
        took = (datetime.now(UTC) - started).total_seconds()
    assert report["good"].new == 1 and report["good"].result == "ok"
    assert report["bad"].result == "error" and report["bad"].error
    assert took < 10, f"{fault} took {took:.1f}s"
    state = store.source_state("bad")
    assert state.result == "error" and state.error == report["bad"].error


def _send_raw(handler: Any, body: bytes, headers: dict[str, str]) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    handler.send_header("Content-Length", str(len(body)))
    for k, v in headers.items():
        handler.send_header(k, v)
    handler.end_headers()
    try:
        handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass


def test_retry_after_is_honoured_without_sleeping(tmp_path: Path) -> None:
    with FeedServer() as server:
        url = server.route("/busy", Route(status=429, body=b"", headers={"Retry-After": "7200"}))
        config = make_config(tmp_path, [{"name": "busy", "url": url}])
        store = open_store(config)
        poll(config, store, now=NOW)
        later = poll(config, store, now=NOW.replace(hour=13))
        assert server.hits("/busy") == 1  # not asked again before the time it gave
        much_later = poll(config, store, now=NOW.replace(hour=15))
        assert server.hits("/busy") == 2
    assert "wait until 2026-11-20T14:00:00" in (later.sources[0].error or "")
    assert much_later.sources[0].result == "error"


def test_hostile_titles_and_links_are_made_inert(tmp_path: Path) -> None:
    with FeedServer() as server:
        url = server.route("/h.xml", Route(body=rss([
            {"title": "<script>alert(1)</script>LLM \u202eevil\u200b <!channel> " + "x" * 10_000,
             "link": "javascript:alert(1)"},
        ])))
        config = make_config(tmp_path, [{"name": "h", "url": url}])
        store = open_store(config)
        poll(config, store, now=NOW)
    (item,) = store.all_items()
    assert item.url is None
    assert "<script>" not in item.title and "\u202e" not in item.title and "\u200b" not in item.title
    assert len(item.title) <= 300


def test_poll_cli_json_and_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FeedServer() as server:
        url = server.route("/a.xml", Route(etag='"1"', body=rss([
            {"title": "Prompt engineering for retrieval-augmented generation", "link": "https://a.example/rag"}])))
        make_config(tmp_path, [{"name": "a", "url": url}, {"name": "down", "url": server.url("/missing")}])
        monkeypatch.chdir(tmp_path)
        runner = CliRunner()
        result = runner.invoke(cli, ["poll", "--json"], catch_exceptions=False)
        assert result.exit_code == 0
        data = json.loads(result.stdout)
        assert [s["name"] for s in data["sources"]] == ["a", "down"]
        assert data["sources"][0]["new"] == 1 and data["sources"][1]["error"] == "HTTP 404 Not Found"
        result = runner.invoke(cli, ["status", "--json"], catch_exceptions=False)
    status = json.loads(result.stdout)
    sources = {s["name"]: s for s in status["sources"]}
    assert sources["a"]["result"] == "ok" and sources["a"]["etag"] == '"1"' and sources["a"]["error"] is None
    assert sources["down"]["result"] == "error" and "404" in sources["down"]["error"]
    assert status["pending"]["relevant"] == 1
    assert "digests" in status


def test_unknown_source_name_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_config(tmp_path, [{"name": "a", "url": "/nowhere.xml"}])
    monkeypatch.chdir(tmp_path)
    from bot.cli.group import main

    assert main(["poll", "--source", "nope"]) == 2


@pytest.mark.parametrize(
    "body,ctype",
    [
        ("<?xml version='1.0' encoding='iso-8859-1'?><rss version='2.0'><channel><title>t</title><item>"
         "<title>Caf\xe9 LLM inference notes</title><link>https://enc.example/a</link></item></channel></rss>"
         .encode("latin-1"), "application/rss+xml"),  # declared latin-1
        ("<?xml version='1.0'?><rss version='2.0'><channel><title>t</title><item><title>Caf\xe9 LLM inference "
         "notes</title><link>https://enc.example/a</link></item></channel></rss>".encode("latin-1"),
         "application/rss+xml"),  # latin-1 bytes, no declaration at all
        ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>t</title><item><title>Caf\xe9 "
         "LLM inference notes</title><link>https://enc.example/a</link></item></channel></rss>".encode("cp1252"),
         "text/xml; charset=utf-8"),  # wrong declaration
    ],
)
def test_wrong_or_missing_encodings_still_give_the_item(tmp_path: Path, body: bytes, ctype: str) -> None:
    with FeedServer() as server:
        url = server.route("/enc.xml", Route(body=body, content_type=ctype))
        config = make_config(tmp_path, [{"name": "enc", "url": url}])
        store = open_store(config)
        report = by_name(poll(config, store, now=NOW))
    assert report["enc"].fetched == 1, report["enc"].error
    (item,) = store.all_items()
    assert item.title.startswith("Caf") and "LLM inference notes" in item.title


@pytest.mark.slow
def test_memory_stays_bounded_on_endless_and_bomb_bodies(tmp_path: Path) -> None:
    """A real `bot poll` process against an endless body and a 200 MB gzip bomb (cap 5 MB): it
    finishes, records both errors, and its peak memory stays far below what it was sent."""
    import subprocess
    import sys

    bomb = gzip_bomb(200 * 1024 * 1024)
    with FeedServer() as server:
        good = server.route("/good.xml", Route(body=rss([{"title": "LLM inference notes", "link": "https://g.example/"}])))
        endless = server.route("/endless", Route(endless=True))
        bombed = server.route("/bomb", Route(handler=lambda h: _send_raw(h, bomb, {"Content-Encoding": "gzip"})))
        make_config(tmp_path, [{"name": "good", "url": good}, {"name": "endless", "url": endless},
                               {"name": "bomb", "url": bombed}], http="max_body_mb = 5\n")
        env = cli_env(NOW)
        # The peak of this poll alone: RUSAGE_CHILDREN of the test process would include every child
        # that any earlier test started, so a fresh process starts the poll and reports its peak.
        measure = ("import resource, subprocess, sys; "
                   "code = subprocess.run([sys.executable, '-m', 'bot', 'poll', '--json']).returncode; "
                   "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
                   "sys.exit(code)")
        result = subprocess.run([sys.executable, "-c", measure], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    peak_kb = int(result.stderr.strip().splitlines()[-1])
    report = {s["name"]: s for s in json.loads(result.stdout)["sources"]}
    assert report["good"]["new"] == 1
    assert "cap" in report["endless"]["error"] and "after decompression" in report["bomb"]["error"]
    assert 10 * 1024 < peak_kb < 250 * 1024, f"peak RSS {peak_kb / 1024:.0f} MB"


def test_many_new_items_are_scored_on_every_core_with_the_same_results(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.core.normalize import make_item
    from bot.library.matcher import IdentityIndex
    from bot.relevance.dedupe import decide, merge
    from bot.relevance.topics import TopicMatcher
    from bot.sources.feedlist import load_topics

    config = make_config(tmp_path, [])
    store = open_store(config)
    items = [make_item(source="s", title=f"{('LLM inference', 'Kitchen tiles', 'LoRA adapters')[n % 3]} note {n}",
                       url=f"https://x{n}.example/{n}", summary=f"post {n}", published="2026-11-18T10:00:00+00:00")
             for n in range(poll_module.PARALLEL_SCORING_FROM + 100)]
    candidates = merge([i for i in items if i is not None])
    decisions = decide(candidates, IdentityIndex())
    scorer = poll_module.build_scorer(TopicMatcher(load_topics(config.topics)), store, NOW)
    monkeypatch.setattr(poll_module, "ProcessPoolExecutor", CountingPool)
    CountingPool.shares = []
    monkeypatch.setattr(poll_module, "_start_method", lambda: "fork")
    judged, scored = poll_module.judge_all(candidates, IdentityIndex(), scorer)
    assert [d.match for d in judged] == [d.match for d in decisions]
    assert [scored[id(d)] for d in judged] == [scorer.score(d.candidate.item, d.candidate.sources) for d in decisions]
    assert bool(CountingPool.shares) == ((os.cpu_count() or 1) > 1)  # chunks handed to a worker


def test_judging_on_every_core_decides_as_one_core_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Known by the library, known as a typo of an earlier new candidate of the same poll, or new: the
    forked lookups and the ordered pass after them decide each as the one-process path does."""
    from bot.core.identity import url_identities
    from bot.core.normalize import make_item
    from bot.library.matcher import IdentityIndex
    from bot.relevance.dedupe import merge
    from bot.relevance.topics import TopicMatcher
    from bot.sources.feedlist import load_topics

    config = make_config(tmp_path, [])
    store = open_store(config)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
    items = []
    for n in range(poll_module.PARALLEL_SCORING_FROM + 100):
        title = f"Serving {words[n % 10]} {words[n // 10 % 10]} {words[n // 100 % 10]} models quickly"
        if n % 7 == 3:  # a typo of the title of the item before it (same words otherwise): a fuzzy duplicate
            prev = n - 1
            title = f"Servng {words[prev % 10]} {words[prev // 10 % 10]} {words[prev // 100 % 10]} models quickly"
        items.append(make_item(source="s", title=title, url=f"https://x{n}.example/{n}", summary=f"post {n}",
                               published="2026-11-18T10:00:00+00:00"))
    candidates = merge([i for i in items if i is not None])

    def library() -> IdentityIndex:
        index = IdentityIndex()
        for n in range(0, len(items), 10):  # every tenth link is in the library already
            index.add("entry", n, url_identities(f"https://x{n}.example/{n}"))
        return index

    scorer = poll_module.build_scorer(TopicMatcher(load_topics(config.topics)), store, NOW)
    monkeypatch.setattr(poll_module, "_start_method", lambda: None)  # one process
    alone, alone_scored = poll_module.judge_all(candidates, library(), scorer)
    monkeypatch.setattr(poll_module, "ProcessPoolExecutor", CountingPool)
    CountingPool.shares = []
    monkeypatch.setattr(poll_module, "_start_method", lambda: "fork")
    shared, shared_scored = poll_module.judge_all(candidates, library(), scorer)
    rules = [d.match.rule if d.match else None for d in shared]
    assert rules == [d.match.rule if d.match else None for d in alone]
    assert rules.count("url") >= 50 and rules.count("fuzzy_title") >= 50 and rules.count(None) >= 400
    assert [shared_scored[id(d)] for d in shared if not d.match] == [alone_scored[id(d)] for d in alone if not d.match]
    assert bool(CountingPool.shares) == ((os.cpu_count() or 1) > 1)


_REAL_SLIM_ROWS = poll_module._slim_rows
_SENT: list[int] = []


def _kill_the_workers_then_send(start: int, stop: int) -> Any:
    """The rows of a chunk for a judging worker; from the second on, after killing the workers: a worker
    dies with chunks in hand and others coming."""
    _SENT.append(start)
    if len(_SENT) > 1:
        for child in multiprocessing.active_children():
            os.kill(child.pid or 0, signal.SIGKILL)
    return _REAL_SLIM_ROWS(start, stop)


def _judging_setup(tmp_path: Path, count: int, known: Any) -> tuple[Any, Any, Any]:
    """`count` made-up candidates, a library index that knows those numbered in `known` by their links,
    and a scorer: what judge_all takes. Skips where one core never starts a judging worker."""
    from bot.core.identity import url_identities
    from bot.core.normalize import make_item
    from bot.library.matcher import IdentityIndex
    from bot.relevance.dedupe import merge
    from bot.relevance.topics import TopicMatcher
    from bot.sources.feedlist import load_topics

    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: judging never starts a worker")
    config = make_config(tmp_path, [])
    store = open_store(config)
    items = [make_item(source="s", title=f"LLM inference note {n}", url=f"https://x{n}.example/{n}",
                       summary=f"post {n}", published="2026-11-18T10:00:00+00:00") for n in range(count)]
    index = IdentityIndex()
    for n in known:
        index.add("entry", n, url_identities(f"https://x{n}.example/{n}"))
    scorer = poll_module.build_scorer(TopicMatcher(load_topics(config.topics)), store, NOW)
    return merge([i for i in items if i is not None]), index, scorer


def test_a_judging_worker_that_dies_leaves_the_work_to_this_process(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.library.matcher import IdentityIndex
    from bot.relevance.dedupe import decide

    candidates, _, scorer = _judging_setup(tmp_path, poll_module.PARALLEL_SCORING_FROM + 100, ())
    monkeypatch.setattr(poll_module, "_start_method", lambda: "fork")
    monkeypatch.setattr(poll_module, "_slim_rows", _kill_the_workers_then_send)
    _SENT.clear()
    judged, scored = poll_module.judge_all(candidates, IdentityIndex(), scorer)
    assert len(_SENT) > 1  # chunks went to a worker, and it was killed
    expected = decide(candidates, IdentityIndex())
    assert [d.match for d in judged] == [d.match for d in expected]
    assert [scored[id(d)] for d in judged] == [scorer.score(d.candidate.item, d.candidate.sources) for d in expected]


def test_items_come_back_from_a_fetching_worker_equal_and_their_identities_lighter() -> None:
    """What a worker sends (the pool's pickler, with the identities' reduction a poll registers) is what
    the parent receives: every field and identity of every item of a recorded feed, the same."""
    import pickle
    from multiprocessing.reduction import ForkingPickler

    from bot.sources.parsers import parse_rss

    feed = rss([{"title": "Attention Is All You Need", "link": "https://arxiv.org/abs/1706.03762v7",
                 "comments": "https://news.ycombinator.com/item?id=36064568", "description": "Points: 12"},
                {"title": "A post", "link": "https://www.example.org/post/?utm_source=x", "guid": "post-1"},
                {"title": "A DOI", "link": "https://doi.org/10.1145/3597503.3639187"}])
    items = parse_rss(feed, "a") * 50
    assert items and all(item.identities for item in items)
    plain = pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL)
    poll_module.carry_identities_lightly()
    carried = bytes(ForkingPickler.dumps(items))
    assert len(carried) < len(plain)  # the identities go as two strings each, not as a state to set
    back = pickle.loads(carried)
    assert back == items
    assert [sorted(i.identities) for i in back] == [sorted(i.identities) for i in items]
    assert {type(identity) for item in back for identity in item.identities} == {type(next(iter(items[0].identities)))}


def _poll_twice(tmp_path: Path, body: bytes, again: bytes) -> list[tuple[Any, ...]]:
    """Two polls of one feed (the second with other items and some of the first) into a fresh project;
    every stored item's id, title, status, score, sources and points."""
    tmp_path.mkdir()
    with FeedServer() as server:
        server.route("/a.xml", Route(body=body))
        config = make_config(tmp_path, [{"name": "a", "kind": "rss", "url": server.url("/a.xml")}],
                             http="max_body_mb = 5\n")
        store = open_store(config)
        poll(config, store, now=NOW)
        server.route("/a.xml", Route(body=again))
        poll(config, store, now=NOW)
    return [(i.id, i.title, i.status, i.score, i.sources, i.points) for i in store.all_items()]


def test_judging_and_storing_chunk_by_chunk_stores_what_one_chunk_does(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A big poll is judged, decided and stored a chunk at a time (forked workers scoring most chunks);
    tiny chunks and batches store the same items, in the same order, with the same scores, as one chunk
    and one batch: typos of earlier titles in other chunks, repeats of stored items, new ones."""
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]

    def title(n: int) -> str:
        about = "language models" if n % 4 else "garden furniture"  # on topic, and not
        return f"Serving {words[n % 10]} {words[n // 10 % 10]} {words[n // 100 % 10]} {about}"

    first = [{"title": title(n), "link": f"https://x.example/{n}"} for n in range(600)]
    again = [{"title": title(n).replace("Serving", "Servng") if n % 5 == 0 else title(n),
              "link": f"https://x.example/{n if n % 3 else n + 1000}"} for n in range(0, 1200, 2)]
    runs = []
    for name, chunk, batch in (("one", 10**6, 10**6), ("chunks", 7, 5)):
        monkeypatch.setattr(poll_module, "JUDGE_CHUNK", chunk)
        monkeypatch.setattr(poll_module, "STORE_BATCH", batch)
        monkeypatch.setattr(poll_module, "_start_method", lambda: "fork")
        runs.append(_poll_twice(tmp_path / name, rss(first), rss(again)))
    assert runs[0] == runs[1]
    assert len(runs[0]) > 700 and len({r[2] for r in runs[0]}) == 2  # new ones and known ones; both statuses


def test_judging_workers_are_forked_for_an_ordinary_poll_and_spawned_for_a_huge_one() -> None:
    # A spawned worker costs a fresh interpreter and its imports (0.3 s of a 4,000-item first poll); a
    # forked one is counted for every page of the poll it came from, which matters only for a huge poll.
    from bot.poll import SPAWN_JUDGES_FROM, _judging_context

    assert _judging_context(4_000).get_start_method() == "fork"
    assert _judging_context(SPAWN_JUDGES_FROM - 1).get_start_method() == "fork"
    assert _judging_context(SPAWN_JUDGES_FROM).get_start_method() == "spawn"
    assert _judging_context(100_000).get_start_method() == "spawn"


def test_this_process_judges_a_share_while_the_worker_judges_the_rest(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # With a chunk per half-process (4 chunks for 2,000 candidates on 2 cores) every chunk went ahead to
    # the one worker and this process only waited: a 5,000-paper poll was judged on one core.
    from bot.library.matcher import IdentityIndex

    candidates, _, scorer = _judging_setup(tmp_path, 2_000, ())
    here: list[tuple[int, int]] = []
    real = poll_module._judge_range

    def judged_here(start: int, stop: int) -> Any:
        here.append((start, stop))
        return real(start, stop)

    monkeypatch.setattr(poll_module, "_start_method", lambda: "fork")
    monkeypatch.setattr(poll_module, "_judge_range", judged_here)
    judged, _ = poll_module.judge_all(candidates, IdentityIndex(), scorer)
    assert len(judged) == 2_000
    assert here and sum(b - a for a, b in here) < 2_000  # a share here, the rest in the worker


def test_judging_workers_are_spawned_when_the_poll_holds_many_items_though_few_are_new(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A re-poll of 100,000 items that found 1,620 new forked its judging worker from a 240 MB process
    # (467 MB at the peak): what the poll holds is every candidate, not only those left to judge.
    candidates, index, scorer = _judging_setup(tmp_path, 2_000, range(1_400))  # 600 left to judge
    monkeypatch.setattr(poll_module, "_start_method", lambda: "fork")
    monkeypatch.setattr(poll_module, "SPAWN_JUDGES_FROM", 1_000)  # more than the 600 judged, less than held
    asked: list[int] = []
    real = poll_module._judging_context

    def context(held: int) -> Any:
        asked.append(held)
        return real(held)

    monkeypatch.setattr(poll_module, "_judging_context", context)
    decisions, _ = poll_module.judge_all(candidates, index, scorer)
    assert asked == [2_000] and real(asked[0]).get_start_method() == "spawn"
    assert sum(d.match is None for d in decisions) == 600


def test_spawned_judging_workers_decide_as_one_process_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A huge poll's judging workers are started afresh and sent the index and scorer (pickled, without
    # the store's connection); an ordinary poll's are forked, so this path is forced here.
    candidates, index, scorer = _judging_setup(tmp_path, 1_000, range(0, 1_000, 10))

    def library() -> Any:  # a fresh copy for each run: judging may pack what it looks up
        return copy.deepcopy(index)

    monkeypatch.setattr(poll_module, "_start_method", lambda: None)
    alone, alone_scored = poll_module.judge_all(candidates, library(), scorer)
    monkeypatch.setattr(poll_module, "_start_method", lambda: "fork")
    monkeypatch.setattr(poll_module, "SPAWN_JUDGES_FROM", 0)
    started: list[str] = []
    real = poll_module._judging_context

    def context(count: int) -> Any:
        started.append(real(count).get_start_method())
        return real(count)

    here: list[int] = []
    real_range = poll_module._judge_range

    def judged_here(start: int, stop: int) -> Any:
        here.append(stop - start)
        return real_range(start, stop)

    monkeypatch.setattr(poll_module, "_judging_context", context)
    monkeypatch.setattr(poll_module, "_judge_range", judged_here)
    shared, shared_scored = poll_module.judge_all(candidates, library(), scorer)
    assert started == ["spawn"]
    # The chunks sent ahead came back from the spawned worker (a worker that failed to start or to
    # unpickle what it was sent would have left every chunk to this process).
    assert sum(here) < sum(1 for d in alone if d.match is None or d.match.rule != "url")
    assert [d.match for d in shared] == [d.match for d in alone]
    assert [shared_scored[id(d)] for d in shared if not d.match] == [alone_scored[id(d)] for d in alone if not d.match]
