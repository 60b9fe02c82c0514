"""A real week's arXiv volume beside the Hacker News front page: `bot poll` and `bot digest` timed as
whole processes (start-up included), and how many of the digest's slots went to papers.

    .venv/bin/python -m bench.bench_arxiv_week [--papers 5000] [--stories 450] [--rounds 3]
        [--against ../base]

`--against DIR` runs another checkout's `bot` (its own `.venv`) on the same served data in the same
run, round by round in turn with this one (a burst of load on a shared machine hits both), and gives
each side's best and median round. Every time is wall seconds beside the CPU seconds of the command's
whole process tree (its workers included), with the load average before and after.

The papers are made up, with abstracts, and every title matches a tracked topic ("large language
models"), the case that used to flood the digest. They are served by an arXiv export API stand-in on
127.0.0.1 (pages of 1,000), the stories by an hnrss-like feed, and the HN search that the digest asks
for the discussions of its items finds none. The library is the project's seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.servers import FeedServer, Route, algolia, arxiv_atom, rss

ROOT = Path(__file__).resolve().parent.parent
PAGE = 1000
_METHODS = ["Contrastive", "Sparse", "Recursive", "Calibrated", "Federated", "Curriculum", "Adaptive", "Latent"]
_NOUNS = ["prompting", "distillation", "alignment", "retrieval", "decoding", "tokenization", "evaluation", "pruning"]
_SYLLABLES = ["zor", "quil", "mar", "tes", "om", "van", "kel", "dus", "fen", "rab", "lio", "nek", "pra", "sul", "tav",
              "wim"]


def made_up_name(k: int) -> str:
    """A distinct invented name per paper ("Zorquilmar"): real titles differ in more than a number."""
    parts = [_SYLLABLES[(k >> shift) & 15] for shift in (0, 4, 8, 12)]
    return "".join(parts).capitalize()


def papers(n: int, now: datetime) -> list[dict[str, Any]]:
    out = []
    for k in range(n):
        m, o, p = _METHODS[k % 8], _NOUNS[(k // 8) % 8], made_up_name(k)
        title = (f"{p}: {m} {o} of {made_up_name(k * 7919 + 13).lower()} {made_up_name(k * 104729 + 7).lower()} "
                 f"for large language models")
        abstract = (f"We study {o.lower()} for large language models. Our {m.lower()} method improves "
                    f"{o} on {p} by {k % 17 + 1} points over strong baselines, and we release code. " * 4)
        out.append({"id": f"2611.{k:05d}", "title": title, "summary": abstract,
                    "published": (now - timedelta(minutes=k)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "cats": ["cs.CL", "cs.LG"][: 1 + k % 2]})
    return out


_STORY_TOPICS = ["AI chatbots", "neural networks", "machine learning", "prompt engineering", "Stable Diffusion",
                 "AI models", "deep learning", "ChatGPT"]


def stories(n: int, now: datetime) -> bytes:
    """A front page: one story in ten about AI, each told differently, the rest about anything else."""
    items = []
    for k in range(n):
        name, other, place = made_up_name(k), made_up_name(k * 31 + 5), made_up_name(k * 97 + 3)
        title = f"{name} and {other}: {_STORY_TOPICS[(k // 10) % 8]} in {place}" if k % 10 == 0 else \
            f"{name} council votes on {other} parking rules"
        items.append({"title": title, "link": f"https://story{k}.example/post",
                      "comments": f"https://news.ycombinator.com/item?id={40000000 + k}",
                      "description": f"<p>Points: {10 + (k * 37) % 900}</p><p># Comments: {k % 150}</p>",
                      "pubDate": (now - timedelta(minutes=10 * k)).strftime("%a, %d %b %Y %H:%M:%S GMT")})
    return rss(items, title="Hacker News: Front Page")


def arxiv_pages(all_papers: list[dict[str, Any]]) -> Any:
    def handler(request: BaseHTTPRequestHandler) -> None:
        query = parse_qs(urlsplit(request.path).query)
        start, size = int(query.get("start", ["0"])[0]), int(query.get("max_results", [str(PAGE)])[0])
        body = arxiv_atom(all_papers[start:start + size], total=len(all_papers), start=start)
        request.send_response(200)
        request.send_header("Content-Type", "application/atom+xml")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)
    return handler


def write_config(folder: Path, hn_url: str, arxiv_url: str, search_url: str) -> Path:
    text = (f'[bot]\ndb = "bench.db"\ntopics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n'
            f'log = {json.dumps(str(ROOT / "seeds" / "001_71959d29a843dc8b.txt"))}\n'
            f"[library]\npaths = [{json.dumps(str(ROOT / 'seeds'))}]\n"
            f'[hn]\nsearch_url = "{search_url}"\n'

            f'[[feeds]]\nname = "hn"\nkind = "rss"\nurl = "{hn_url}"\n'
            f'[[feeds]]\nname = "arxiv"\nkind = "arxiv"\nurl = "{arxiv_url}"\n'
            f"page_size = {PAGE}\nmax_pages = 10\nmin_interval = 0\nlookback_days = 7\n")
    path = folder / "bot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _bot(config: Path, *args: str, python: str = sys.executable) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (with its workers') and output of one whole `bot` process, run by
    `python` (another checkout's interpreter runs that checkout's bot). BENCH_PROFILE=FOLDER writes a
    cProfile of each command's main process there."""
    started = time.perf_counter()
    cpu = _children_cpu()
    profile = os.environ.get("BENCH_PROFILE")
    env = {**os.environ, "NO_COLOR": "1", "PROF_OUT": str(Path(profile or ".") / f"{args[0]}.prof")}
    runner = [str(ROOT / "bench" / "profile_bot.py")] if profile else ["-m", "bot"]
    done = subprocess.run([python, *runner, "--config", str(config), *args], capture_output=True,
                          text=True, cwd=config.parent, env=env, check=False)
    took = time.perf_counter() - started
    used = _children_cpu() - cpu
    if done.returncode != 0:
        raise RuntimeError(f"bot {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return took, used, done.stdout


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(n_papers: int = 5000, n_stories: int = 450, checkouts: Sequence[tuple[str, str]] = (("this", sys.executable),),
        rounds: int = 1) -> dict[str, Any]:
    """One poll and digest per round and checkout (a name and its interpreter), in turn, on the same
    served data, each in a new folder and database. The first checkout's first round gives the
    top-level figures."""
    now = datetime.now(UTC)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in checkouts}
    load_before = os.getloadavg()[0]
    with FeedServer() as server:
        hn_url = server.route("/frontpage", Route(body=stories(n_stories, now)))
        arxiv_url = server.route("/api/query", Route(handler=arxiv_pages(papers(n_papers, now))))
        # The HN search finds no discussion: the digest still makes its lookups (at most [hn] max_lookups).
        server.route("/hn/search", Route(body=algolia([]), content_type="application/json"))
        for _ in range(rounds):
            for name, python in checkouts:
                with tempfile.TemporaryDirectory() as tmp:
                    config = write_config(Path(tmp), hn_url, arxiv_url, server.url("/hn"))
                    poll_s, poll_cpu, _ = _bot(config, "poll", python=python)
                    digest_s, digest_cpu, out = _bot(config, "digest", "--dry-run", "--format", "json", python=python)
                items = json.loads(out)["items"]
                runs[name].append({
                    "poll_s": round(poll_s, 2), "poll_cpu_s": round(poll_cpu, 2), "digest_s": round(digest_s, 2),
                    "digest_cpu_s": round(digest_cpu, 2), "digest_items": len(items),
                    "paper_slots": sum(1 for i in items if i["arxiv_id"] and not i["hn_id"])})
    first = runs[checkouts[0][0]][0]
    result: dict[str, Any] = {"papers": n_papers, "stories": n_stories, **first,
                              "load": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
    if rounds > 1 or len(checkouts) > 1:
        result["by_checkout"] = {name: summary(rows) for name, rows in runs.items()}
    return result


def summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Each timing's best and median over the rounds, and every round as it was."""
    out: dict[str, Any] = {}
    for key in ("poll_s", "poll_cpu_s", "digest_s", "digest_cpu_s"):
        values = [r[key] for r in rows]
        out[key] = {"best": min(values), "median": round(statistics.median(values), 2)}
    out["rounds"] = [" ".join(f"{k}={v}" for k, v in r.items()) for r in rows]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=5000)
    parser.add_argument("--stories", type=int, default=450)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--against", type=Path, action="append", default=[],
                        help="another checkout (with its .venv) to run in turn with this one")
    args = parser.parse_args()
    checkouts = [("this", sys.executable), *((str(d), str(d.resolve() / ".venv" / "bin" / "python")) for d in args.against)]
    print(json.dumps(run(args.papers, args.stories, checkouts, args.rounds), indent=2))


if __name__ == "__main__":
    main()
