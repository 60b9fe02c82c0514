"""The benchmarks' own code, run small: a benchmark that breaks unnoticed reports nothing."""

from __future__ import annotations

from bench import bench_poll, httpx_floor
from bench.bench_vs_reader import best_of


def test_poll_benchmark_runs_small() -> None:
    result = bench_poll.run(feeds=3, latency=0.0, items=2, hosts=2)
    assert result["items"] == 6
    # a first poll and a re-poll: each feed asked twice, the second time answered 304
    assert result["requests"] == 6
    assert result["first_poll_s"] > 0 and result["repoll_304_s"] > 0


def test_httpx_floor_makes_the_same_requests() -> None:
    with bench_poll.serve(3, 0.0, 2, 1) as (urls, servers):
        result = httpx_floor.measure(urls, repeat=1)  # it checks itself that all answered 200, then 304
    assert set(result) == {"full_s", "conditional_304_s"}
    conditional = [r for s in servers for r in s.requests
                   if {k.lower(): v for k, v in r["headers"].items()}.get("if-none-match")]
    assert sum(len(s.requests) for s in servers) == 6 and len(conditional) == 3


def test_best_of_takes_each_timing_at_its_best() -> None:
    runs = [{"first_poll_s": 2.0, "repoll_304_s": 0.3}, {"first_poll_s": 1.5, "repoll_304_s": 0.4}]
    assert best_of(runs) == {"first_poll_s": 1.5, "repoll_304_s": 0.3, "runs": 2}


def test_arxiv_week_benchmark_runs_small() -> None:
    from bench import bench_arxiv_week

    result = bench_arxiv_week.run(n_papers=30, n_stories=20)
    assert result["digest_items"] == 20 and result["poll_s"] > 0 and result["digest_s"] > 0
    assert 0 <= result["paper_slots"] < 20


def test_arxiv_week_benchmark_runs_checkouts_in_turn() -> None:
    import sys

    from bench import bench_arxiv_week

    result = bench_arxiv_week.run(n_papers=10, n_stories=10, checkouts=[("a", sys.executable), ("b", sys.executable)],
                                  rounds=2)
    assert set(result["by_checkout"]) == {"a", "b"}
    for side in result["by_checkout"].values():
        assert len(side["rounds"]) == 2 and side["poll_cpu_s"]["best"] <= side["poll_cpu_s"]["median"]
def test_the_benchmark_server_answers_200_then_304_on_distinct_hosts() -> None:
    import json
    import subprocess
    import sys

    import httpx

    from tests.conftest import ROOT

    server = subprocess.Popen([sys.executable, "-m", "bench.serve_feeds", "--feeds", "3", "--hosts", "2", "--latency",
                               "0", "--items", "2"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert server.stdout is not None
        urls = json.loads(server.stdout.readline())
        assert [httpx.URL(u).host for u in urls] == ["127.0.0.2", "127.0.0.3", "127.0.0.2"]
        with httpx.Client(trust_env=False) as client:
            first = [client.get(u) for u in urls]
            again = [client.get(u, headers={"If-None-Match": r.headers["etag"]}) for u, r in zip(urls, first, strict=True)]
        assert [r.status_code for r in first] == [200] * 3 and all(b"<item>" in r.content for r in first)
        assert [r.status_code for r in again] == [304] * 3
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=30)
