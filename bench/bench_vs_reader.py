"""`bot poll` against lemon24/reader's `update_feeds` the way a user meets them: each poll a fresh whole
process (interpreter start-up and imports included), on feeds served from a separate process on as
many distinct loopback addresses as there are feeds (127.0.0.2, 127.0.0.3, ...: Linux routes all of
127.0.0.0/8 to the loopback interface), each answering after an injected latency. A first poll, then
an all-304 re-poll. The bot runs `bot poll` as installed with its default settings; reader runs at
each worker count given and its best is reported. Best of --repeat rounds, all in one run; the
result is the ratio reader/bot.

    .venv/bin/python -m bench.bench_vs_reader [--feeds 200] [--hosts 200] [--latency 0.1]
                                             [--workers 20,50,100,200] [--repeat 3] [--baseline BOT]

--floor adds the floor under an all-304 re-poll on the bot's parts (bench/floor_repoll.py: a process
that only reads the ETags, sends the conditional GETs from forked workers through httpx, and writes the
results), bare and with the bot's network backend, and its ratio to reader: how far under reader any
re-poll built this way can go.

--baseline names another `bot` executable (an earlier checkout's, say ../base/.venv/bin/bot): it runs
the same rounds, interleaved with the others, so a before and an after are measured in one run.

reader is installed in the benchmark's own environment (bench/.reader-venv, created on first run
with pip), never in the project's.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_poll import feed_arguments

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV = HERE / ".reader-venv"


def reader_python() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "reader>=3.12", "sgmllib3k"], check=True)
    return python


def bot_command() -> list[str]:
    """`bot` as installed beside this interpreter (the console script pip made)."""
    script = Path(sys.executable).with_name("bot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


CPU: list[float] = [0.0]  # CPU seconds (user + system) of the last process `timed` ran, with its children


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """Wall-clock seconds of one whole process, and its standard output; its CPU seconds (and those of
    the processes it waited for: the bot's workers, reader's) go to CPU[0]."""
    cpu = _children_cpu()
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    took = time.perf_counter() - t0
    CPU[0] = round(_children_cpu() - cpu, 3)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[-3:])} failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    return took, done.stdout


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "SLACK_", "OPENAI_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: bytecode is cached, as pip leaves it
    return env


def bot_round(urls: list[str], items: int, bot: list[str] | None = None) -> dict[str, Any]:
    """One first poll and one re-poll by `bot poll` (or the given `bot`) in a fresh project with default
    settings."""
    bot = bot or bot_command()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        lines = [f'[bot]\ndb = "bot.db"\ntopics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n',
                 f"[library]\npaths = [{json.dumps(str(ROOT / 'seeds'))}]\n"]
        lines += [f'[[feeds]]\nname = "f{n}"\nurl = "{url}"\n' for n, url in enumerate(urls)]
        (folder / "bot.toml").write_text("\n".join(lines), encoding="utf-8")
        env = clean_env()
        timed([*bot, "-q", "library", "import"], folder, env)  # set-up, untimed
        first_s, first = timed([*bot, "poll", "--json"], folder, env)
        first_cpu = CPU[0]
        repoll_s, again = timed([*bot, "poll", "--json"], folder, env)
        repoll_cpu = CPU[0]
        totals, again_totals = json.loads(first)["totals"], json.loads(again)["totals"]
        assert totals.get("errors", 0) == 0 and totals.get("fetched") == len(urls) * items, totals
        assert again_totals.get("not_modified") == len(urls), again_totals
        return {"first_poll_s": round(first_s, 3), "repoll_304_s": round(repoll_s, 3), "first_cpu_s": first_cpu,
                "repoll_cpu_s": repoll_cpu, "fetched": totals["fetched"]}


def reader_round(python: Path, urls: list[str], workers: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = str(folder / "reader.sqlite")
        env = clean_env()
        runner = [str(python), str(HERE / "reader_runner.py")]
        timed([*runner, "add", json.dumps({"urls": urls, "db": db})], folder, env)  # set-up, untimed
        step = json.dumps({"workers": workers, "db": db})
        first_s, first = timed([*runner, "update", step], folder, env)
        first_cpu = CPU[0]
        repoll_s, _ = timed([*runner, "update", step], folder, env)
        return {"workers": workers, "first_poll_s": round(first_s, 3), "repoll_304_s": round(repoll_s, 3),
                "first_cpu_s": first_cpu, "repoll_cpu_s": CPU[0], "entries": json.loads(first)["entries"]}


def floor_round(urls: list[str], backend: bool) -> dict[str, Any]:
    """bench/floor_repoll.py's re-poll as a whole process: the conditional GETs alone on the bot's parts."""
    with tempfile.TemporaryDirectory() as tmp:
        folder, env = Path(tmp), clean_env()
        runner = [sys.executable, str(HERE / "floor_repoll.py")]
        timed([*runner, "setup", "floor.db", *urls], folder, env)  # set-up, untimed
        took, _ = timed([*runner, "poll", "floor.db", *(["--bot-backend"] if backend else [])], folder, env)
        return {"repoll_304_s": round(took, 3), "repoll_cpu_s": CPU[0]}


def best_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each timing (wall and CPU seconds: the keys ending in `_s`) at its best among runs of one contender."""
    return {**runs[0], **{k: min(r[k] for r in runs) for k in runs[0] if k.endswith("_s")}, "runs": len(runs)}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = feed_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    parser.set_defaults(hosts=200)
    parser.add_argument("--workers", default="20,50,100,200")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", metavar="BOT", help="another bot executable to measure beside this one")
    parser.add_argument("--floor", action="store_true",
                        help="also the all-304 floor: bench/floor_repoll.py, bare httpx and with the bot's backend")
    args = parser.parse_args()
    python = reader_python()
    compileall.compile_dir(str(ROOT / "bot"), quiet=1)  # as a pip install leaves it
    workers = [int(w) for w in args.workers.split(",")]
    server = subprocess.Popen([sys.executable, "-m", "bench.serve_feeds", "--feeds", str(args.feeds), "--latency",
                               str(args.latency), "--items", str(args.items), "--hosts", str(args.hosts)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    load_before = load()
    bot_runs: list[dict[str, Any]] = []
    baseline_runs: list[dict[str, Any]] = []
    reader_runs: dict[int, list[dict[str, Any]]] = {w: [] for w in workers}
    floor_runs: dict[str, list[dict[str, Any]]] = {"httpx": [], "httpx_bot_backend": []}
    try:
        assert server.stdout is not None
        urls = json.loads(server.stdout.readline())
        # Rounds interleave the contenders, so a burst of load on this shared machine hits both.
        for _ in range(args.repeat):
            bot_runs.append(bot_round(urls, args.items))
            if args.baseline:
                baseline_runs.append(bot_round(urls, args.items, [args.baseline]))
            for w in workers:
                reader_runs[w].append(reader_round(python, urls, w))
            if args.floor:
                for name, backend in (("httpx", False), ("httpx_bot_backend", True)):
                    floor_runs[name].append(floor_round(urls, backend))
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=30)
    bot = best_of(bot_runs)
    readers = [best_of(runs) for runs in reader_runs.values()]
    best_first = min(readers, key=lambda r: r["first_poll_s"])
    best_repoll = min(readers, key=lambda r: r["repoll_304_s"])
    baseline: dict[str, Any] = {}
    if baseline_runs:
        before = best_of(baseline_runs)
        baseline = {"baseline": before, "baseline_runs": baseline_runs,
                    "baseline_ratio_first": round(best_first["first_poll_s"] / before["first_poll_s"], 2),
                    "baseline_ratio_repoll": round(best_repoll["repoll_304_s"] / before["repoll_304_s"], 2),
                    "baseline_cpu_ratio_first": round(best_first["first_cpu_s"] / before["first_cpu_s"], 2),
                    "baseline_cpu_ratio_repoll": round(best_repoll["repoll_cpu_s"] / before["repoll_cpu_s"], 2)}
    floors = {f"floor_{name}": {**best_of(runs), "ratio_repoll": round(best_repoll["repoll_304_s"] / best_of(runs)["repoll_304_s"], 2)}
              for name, runs in floor_runs.items() if runs}
    print(json.dumps({
        "feeds": args.feeds, "hosts": args.hosts, "latency_s": args.latency, "items_per_feed": args.items,
        "load_before": load_before, "load_after": load(),
        "bot": bot, "bot_runs": bot_runs, "reader_runs": readers,
        "reader_best_first": best_first, "reader_best_repoll": best_repoll,
        "ratio_first": round(best_first["first_poll_s"] / bot["first_poll_s"], 2),
        "ratio_repoll": round(best_repoll["repoll_304_s"] / bot["repoll_304_s"], 2),
        # CPU seconds beside the wall times: on a shared machine the least disturbed measure of the work.
        "cpu_ratio_first": round(best_first["first_cpu_s"] / bot["first_cpu_s"], 2),
        "cpu_ratio_repoll": round(best_repoll["repoll_cpu_s"] / bot["repoll_cpu_s"], 2),
        **baseline, **floors,
    }, indent=2))


if __name__ == "__main__":
    main()
