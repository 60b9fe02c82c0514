"""One huge answer through `bot poll`: a Hugging Face daily-papers answer of 55,000 papers (about 17 MB,
under the 20 MB body cap), half of whose titles differ only by a number, the case where fuzzy title
matching used to compare every pair (issue 27: over 400 s, holding the work lock). Whole processes,
seeds library.

    .venv/bin/python -m bench.bench_big_answer [--papers 55000] [--numbered-feed 16000]

Also polls, in a second project, one RSS feed whose titles differ only by a number (issue 27: 4.5 s for
4,000 items, 56 s for 16,000). Reports wall and CPU seconds (the process and its workers) of each poll.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.bench_arxiv_week import _METHODS, _NOUNS, made_up_name
from tests.servers import FeedServer, Route, rss

ROOT = Path(__file__).resolve().parent.parent


def paper_title(k: int) -> str:
    """Every other title differs from the others only by its number (the quadratic case); the rest are
    made-up research titles, as in bench_arxiv_week."""
    if k % 2 == 0:
        return f"Scaling study of large language model inference, report {k}"
    return (f"{made_up_name(k)}: {_METHODS[k % 8]} {_NOUNS[(k // 8) % 8]} of {made_up_name(k * 7919 + 13).lower()} "
            "for large language models")


def hf_answer(n: int, now: datetime) -> bytes:
    papers = [{"paper": {"id": f"{2500 + k // 100000:04d}.{k % 100000:05d}", "title": paper_title(k),
                         "summary": f"We measure {_NOUNS[k % 8]} cost for configuration {k} across batch sizes.",
                         "upvotes": k % 300, "publishedAt": (now - timedelta(minutes=k)).isoformat()},
               "title": paper_title(k), "numComments": k % 7}
              for k in range(n)]
    return json.dumps(papers).encode()


def numbered_feed(n: int, now: datetime) -> bytes:
    return rss([{"title": f"LLM inference notes, episode {k}", "link": f"https://numbered.example/{k}",
                 "pubDate": (now - timedelta(minutes=k)).strftime("%a, %d %b %Y %H:%M:%S GMT")} for k in range(n)])


def _config(folder: Path, feed: str) -> Path:
    path = folder / "bot.toml"
    path.write_text(f'[bot]\ndb = "bench.db"\ntopics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n'
                    f"[library]\npaths = [{json.dumps(str(ROOT / 'seeds'))}]\n"
                    "[http]\nread_timeout = 120\nfeed_deadline = 600\n" + feed, encoding="utf-8")
    return path


def _poll(config: Path) -> dict[str, Any]:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bot", "--config", str(config), "poll", "--json"],
                          capture_output=True, text=True, cwd=config.parent, env={**os.environ, "NO_COLOR": "1"},
                          check=False)
    took = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"bot poll failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    sources = json.loads(done.stdout)["sources"]
    return {"wall_s": round(took, 2),
            "cpu_s": round(after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime, 2),
            "fetched": sum(s["fetched"] for s in sources), "new": sum(s["new"] for s in sources)}


def run(n_papers: int = 55_000, n_numbered: int = 16_000) -> dict[str, Any]:
    now = datetime.now(UTC)
    out: dict[str, Any] = {}
    with FeedServer() as server:
        answer = hf_answer(n_papers, now)
        hf = server.route("/api/daily_papers", Route(body=answer, content_type="application/json"))
        feed = server.route("/numbered.xml", Route(body=numbered_feed(n_numbered, now)))
        with tempfile.TemporaryDirectory() as tmp:
            config = _config(Path(tmp), f'[[feeds]]\nname = "hf"\nkind = "hf_papers"\nurl = "{hf}"\n'
                                        "lookback_days = 1\n")
            out["hf_answer"] = {"papers": n_papers, "mb": round(len(answer) / 1e6, 1), **_poll(config)}
        with tempfile.TemporaryDirectory() as tmp:
            config = _config(Path(tmp), f'[[feeds]]\nname = "numbered"\nurl = "{feed}"\n')
            out["numbered_feed"] = {"items": n_numbered, **_poll(config)}
    out["load"] = os.getloadavg()[0]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=55_000)
    parser.add_argument("--numbered-feed", type=int, default=16_000)
    args = parser.parse_args()
    print(json.dumps(run(args.papers, args.numbered_feed), indent=2))


if __name__ == "__main__":
    main()
