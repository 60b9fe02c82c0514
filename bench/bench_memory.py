"""Peak memory of `bot poll` and its workers: 500 feeds x 200 items (issue 27: 766 MB on the first poll,
1,206 MB re-polling the same bodies). The feeds come from bench/serve_feeds.py without ETags, so the
re-poll gets every body again (no 304s) and must find all 100,000 items already stored.

    .venv/bin/python -m bench.bench_memory [--feeds 500] [--items 200] [--hosts 50] [--latency 0.05]

The process tree (the poll and every process below it) is sampled from /proc every 20 ms: the sum of
its resident sets (VmRSS; forked workers' shared pages count once per process, as `ps` shows them) and
the sum of its proportional sets (Pss, shared pages divided among the processes sharing them).
"""

from __future__ import annotations

import argparse
import json
import os
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


def watch(pid: int, peak: dict[str, int], done: threading.Event) -> None:
    while not done.is_set():
        pids = tree(pid)
        rss = sum(_kib(f"/proc/{p}/status", "VmRSS:") for p in pids)
        pss = sum(_kib(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids)
        peak["rss_kib"] = max(peak.get("rss_kib", 0), rss)
        peak["pss_kib"] = max(peak.get("pss_kib", 0), pss)
        peak["processes"] = max(peak.get("processes", 0), len(pids))
        done.wait(0.02)


def measured(cmd: list[str], cwd: Path) -> dict[str, Any]:
    peak: dict[str, int] = {}
    done = threading.Event()
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watcher = threading.Thread(target=watch, args=(proc.pid, peak, done))
    watcher.start()
    out, err = proc.communicate(timeout=1200)
    took = time.perf_counter() - started
    done.set()
    watcher.join()
    if proc.returncode != 0:
        raise RuntimeError(f"bot poll failed ({proc.returncode}): {err.strip()[-800:]}")
    totals = json.loads(out)["totals"]
    return {"wall_s": round(took, 2), "peak_rss_mb": round(peak.get("rss_kib", 0) / 1024),
            "peak_pss_mb": round(peak.get("pss_kib", 0) / 1024), "processes": peak.get("processes", 0),
            "fetched": totals.get("fetched"), "new": totals.get("new"), "errors": totals.get("errors", 0)}


def main() -> None:
    parser = feed_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    parser.set_defaults(feeds=500, items=200, hosts=50, latency=0.05)
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, "-m", "bench.serve_feeds", "--feeds", str(args.feeds), "--latency",
                               str(args.latency), "--items", str(args.items), "--hosts", str(args.hosts), "--no-etag"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert server.stdout is not None
        urls = json.loads(server.stdout.readline())
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            lines = [f'[bot]\ndb = "bot.db"\ntopics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n',
                     f"[library]\npaths = [{json.dumps(str(ROOT / 'seeds'))}]\n"]
            lines += [f'[[feeds]]\nname = "f{n}"\nurl = "{url}"\n' for n, url in enumerate(urls)]
            (folder / "bot.toml").write_text("\n".join(lines), encoding="utf-8")
            subprocess.run([*bot_command(), "-q", "library", "import"], cwd=folder, env=clean_env(), check=True,
                           capture_output=True)
            first = measured([*bot_command(), "poll", "--json"], folder)
            again = measured([*bot_command(), "poll", "--json"], folder)
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=30)
    print(json.dumps({"feeds": args.feeds, "items_per_feed": args.items, "hosts": args.hosts,
                      "load": " ".join(f"{x:.2f}" for x in os.getloadavg()), "first_poll": first,
                      "repoll_same_bodies": again}, indent=2))


if __name__ == "__main__":
    main()
