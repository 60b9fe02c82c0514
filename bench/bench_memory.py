"""Peak memory of `bot poll` and its workers: 500 feeds x 200 items (issue 27: 766 MB on the first poll,
1,206 MB re-polling the same bodies). The feeds come from bench/serve_feeds.py without ETags, so the
re-poll gets every body again (no 304s) and must find all 100,000 items already stored.

    .venv/bin/python -m bench.bench_memory [--feeds 500] [--items 200] [--hosts 50] [--latency 0.05]
        [--bot OTHER/bin/bot ...] [--rounds 1] [--timeline]

With --bot, each named `bot` (another checkout's, say the code before a change) is measured beside this
one's, their polls interleaved (every contender's first poll, then every contender's re-poll), so that
a burst of load on the shared machine hits them alike.

The process tree (the poll and every process below it) is sampled from /proc every 20 ms: the sum of
its resident sets (VmRSS; forked workers' shared pages count once per process, as `ps` shows them) and
the sum of its proportional sets (Pss, shared pages divided among the processes sharing them). Beside
the peaks: when the resident peak came (seconds after the start) and each process's share of it, and
the CPU seconds of the poll and its workers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.bench_poll import feed_arguments
from bench.bench_vs_reader import bot_command, clean_env

ROOT = Path(__file__).resolve().parent.parent


def tree(pid: int) -> list[int]:
    """pid and its descendants, from /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


def _kib(path: str, field: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def watch(pid: int, peak: dict[str, int], done: threading.Event, timeline: list[Any] | None = None) -> None:
    started = time.perf_counter()
    next_mark = 0.0
    while not done.is_set():
        pids = tree(pid)
        each = [_kib(f"/proc/{p}/status", "VmRSS:") for p in pids]
        rss = sum(each)
        pss = sum(_kib(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids)
        if rss > peak.get("rss_kib", 0):
            peak["rss_kib"] = rss
            peak["rss_at_ms"] = int((time.perf_counter() - started) * 1000)
            peak["rss_each_mb"] = [round(k / 1024) for k in each]  # type: ignore[assignment]
        peak["pss_kib"] = max(peak.get("pss_kib", 0), pss)
        peak["processes"] = max(peak.get("processes", 0), len(pids))
        if timeline is not None and (at := time.perf_counter() - started) >= next_mark:
            timeline.append([round(at, 1), round(rss / 1024), [round(k / 1024) for k in each]])
            next_mark += 0.5
        done.wait(0.02)


def measured(cmd: list[str], cwd: Path, timeline: bool = False) -> dict[str, Any]:
    peak: dict[str, int] = {}
    marks: list[Any] | None = [] if timeline else None
    done = threading.Event()
    cpu = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watcher = threading.Thread(target=watch, args=(proc.pid, peak, done, marks))
    watcher.start()
    out, err = proc.communicate(timeout=1200)
    took = time.perf_counter() - started
    cpu = _children_cpu() - cpu  # the poll's and its workers' (each waited for by its parent)
    done.set()
    watcher.join()
    if proc.returncode != 0:
        raise RuntimeError(f"bot poll failed ({proc.returncode}): {err.strip()[-800:]}")
    totals = json.loads(out)["totals"]
    return {"wall_s": round(took, 2), "cpu_s": round(cpu, 2), "peak_rss_mb": round(peak.get("rss_kib", 0) / 1024),
            "peak_pss_mb": round(peak.get("pss_kib", 0) / 1024), "processes": peak.get("processes", 0),
            "peak_at_s": round(peak.get("rss_at_ms", 0) / 1000, 1), "peak_each_mb": peak.get("rss_each_mb", []),
            "fetched": totals.get("fetched"), "new": totals.get("new"), "errors": totals.get("errors", 0),
            **({"timeline": marks} if marks is not None else {})}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def project(folder: Path, urls: list[str], bot: list[str]) -> None:
    """A project polling the served feeds, with the seeds library imported."""
    folder.mkdir()
    lines = [f'[bot]\ndb = "bot.db"\ntopics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n',
             f"[library]\npaths = [{json.dumps(str(ROOT / 'seeds'))}]\n"]
    lines += [f'[[feeds]]\nname = "f{n}"\nurl = "{url}"\n' for n, url in enumerate(urls)]
    (folder / "bot.toml").write_text("\n".join(lines), encoding="utf-8")
    subprocess.run([*bot, "-q", "library", "import"], cwd=folder, env=clean_env(), check=True, capture_output=True)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = feed_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    parser.set_defaults(feeds=500, items=200, hosts=50, latency=0.05)
    parser.add_argument("--bot", action="append", default=[], help="another `bot` to measure beside this one")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--timeline", action="store_true",
                        help="also the tree's resident MB (total, each process) every half second, to see which stage peaks")
    args = parser.parse_args()
    contenders = {"this": bot_command(), **{path: [path] for path in args.bot}}
    server = subprocess.Popen([sys.executable, "-m", "bench.serve_feeds", "--feeds", str(args.feeds), "--latency",
                               str(args.latency), "--items", str(args.items), "--hosts", str(args.hosts), "--no-etag"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in contenders}
    try:
        assert server.stdout is not None
        urls = json.loads(server.stdout.readline())
        for r in range(args.rounds):
            with tempfile.TemporaryDirectory() as tmp:
                folders = {name: Path(tmp) / str(n) for n, name in enumerate(contenders)}
                for name, bot in contenders.items():
                    project(folders[name], urls, bot)
                rounds: dict[str, dict[str, Any]] = {name: {"round": r} for name in contenders}
                for poll in ("first_poll", "repoll_same_bodies"):  # interleaved: each contender's, then the next
                    for name, bot in contenders.items():
                        rounds[name][poll] = {"load": load(), **measured([*bot, "poll", "--json"], folders[name],
                                                                                 args.timeline)}
                        print(f"{name} {poll}: {json.dumps(rounds[name][poll])}", file=sys.stderr, flush=True)
                for name in contenders:
                    results[name].append(rounds[name])
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=30)
    print(json.dumps({"feeds": args.feeds, "items_per_feed": args.items, "hosts": args.hosts, "load": load(),
                      "results": results}, indent=2))


if __name__ == "__main__":
    main()
