"""`bot poll` against lemon24/reader's `update_feeds`, side by side in one run, on the same feeds
served from 127.0.0.x with injected latency: first poll and all-304 re-poll; and, on the same
feeds, what the requests alone cost one bare httpx client (the floor for a poll through one client).

    .venv/bin/python -m bench.bench_vs_reader [--feeds 200] [--latency 0.1] [--workers 1,4,8,16,32,64] [--repeat 3]

reader is installed in the benchmark's own environment (bench/.reader-venv, created on first run
with pip), never in the project's. It runs at each worker setting given; its best is reported.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import httpx_floor
from bench.bench_poll import feed_arguments, poll_twice

HERE = Path(__file__).resolve().parent
VENV = HERE / ".reader-venv"


def reader_python() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "reader>=3.12", "sgmllib3k"], check=True)
    return python


def run_reader(python: Path, urls: list[str], workers: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        args = json.dumps({"urls": urls, "workers": workers, "db": str(Path(tmp) / "reader.sqlite")})
        out = subprocess.run([str(python), str(HERE / "reader_runner.py"), args], check=True, capture_output=True,
                             text=True, timeout=1800)
        return {"workers": workers, **json.loads(out.stdout.strip().splitlines()[-1])}


def best_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest first poll and the fastest re-poll among runs of one contender."""
    return {**runs[0], "first_poll_s": min(r["first_poll_s"] for r in runs),
            "repoll_304_s": min(r["repoll_304_s"] for r in runs), "runs": len(runs)}


def main() -> None:
    parser = feed_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    parser.add_argument("--workers", default="1,4,8,16,32,64")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    python = reader_python()
    server = subprocess.Popen([sys.executable, "-m", "bench.serve_feeds", "--feeds", str(args.feeds), "--latency",
                               str(args.latency), "--items", str(args.items), "--hosts", str(args.hosts)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=HERE.parent)
    try:
        assert server.stdout is not None
        urls = json.loads(server.stdout.readline())
        # Best of --repeat runs for each contender (and each reader worker setting): timings on a
        # shared 2-core machine vary by a tenth of a second from run to run.
        bot = best_of([poll_twice(urls) for _ in range(args.repeat)])
        floor = httpx_floor.measure(urls, args.repeat)
        readers = [best_of([run_reader(python, urls, int(w)) for _ in range(args.repeat)])
                   for w in args.workers.split(",")]
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=30)
    best_first = min(readers, key=lambda r: r["first_poll_s"])
    best_repoll = min(readers, key=lambda r: r["repoll_304_s"])
    result = {
        "feeds": args.feeds, "latency_s": args.latency, "items_per_feed": args.items, "hosts": args.hosts,
        "bot": bot, "reader_runs": readers,
        "reader_best_first": best_first, "reader_best_repoll": best_repoll,
        "speedup_first": round(best_first["first_poll_s"] / bot["first_poll_s"], 2),
        "speedup_repoll": round(best_repoll["repoll_304_s"] / bot["repoll_304_s"], 2),
        # What the same requests cost one bare httpx client: no poll through one client goes below it.
        "httpx_alone": floor,
        "repoll_needed_for_2x_s": round(best_repoll["repoll_304_s"] / 2, 3),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
