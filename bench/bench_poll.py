"""Poll benchmark: N feeds on 127.0.0.x loopback hosts, each answering after an injected latency;
a first poll (full bodies) and a re-poll (every feed answers 304 to its ETag).

    .venv/bin/python -m bench.bench_poll [--feeds 200] [--latency 0.1] [--items 20] [--hosts 50]

Feeds are spread over several loopback addresses, as real feeds are over several hosts, so the
per-host connection limit applies as it would in use.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bot.library.api as lib
from bot.core.config import load_config
from bot.poll import poll
from bot.store.database import Store
from tests.servers import FeedServer, Route, rss

ROOT = Path(__file__).resolve().parent.parent
TOPICS = ["LLM inference", "fine-tuning with LoRA", "retrieval-augmented generation", "transformer attention",
          "diffusion models", "AI agents", "quantization", "scaling laws", "interpretability", "kitchen renovation"]


def make_feed(n: int, items: int) -> bytes:
    return rss([{"title": f"{TOPICS[(n + k) % len(TOPICS)].capitalize()} notes {n}-{k}",
                 "link": f"https://feed{n}.example/posts/{k}",
                 "description": f"Post {k} of feed {n} about {TOPICS[(n + k) % len(TOPICS)]}.",
                 "pubDate": "Wed, 18 Nov 2026 10:00:00 GMT"} for k in range(items)])


@contextlib.contextmanager
def serve(feeds: int, latency: float, items: int, hosts: int) -> Any:
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(FeedServer(host=f"127.0.0.{h + 2}")) for h in range(hosts)]
        urls = []
        for n in range(feeds):
            server = servers[n % hosts]
            urls.append(server.route(f"/feed{n}.xml", Route(body=make_feed(n, items), delay=latency, etag=f'"e{n}"')))
        yield urls, servers


def write_config(folder: Path, urls: list[str]) -> Path:
    lines = [f'[bot]\ndb = "bench.db"\ntopics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n',
             f"[library]\npaths = [{json.dumps(str(ROOT / 'seeds'))}]\n",
             "[http]\nconcurrency = 200\nper_host = 6\n"]
    lines += [f'[[feeds]]\nname = "f{n}"\nurl = "{url}"\n' for n, url in enumerate(urls)]
    (folder / "bot.toml").write_text("\n".join(lines), encoding="utf-8")
    return folder / "bot.toml"


def poll_twice(urls: list[str]) -> dict[str, Any]:
    """A first poll and a re-poll of the given feeds, in a temporary project; seconds for each."""
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(str(write_config(Path(tmp), urls)), env={})
        store = Store.open(config.db)
        lib.import_documents(store, config.library_paths)
        now = datetime(2026, 11, 20, tzinfo=UTC)
        t0 = time.perf_counter()
        first = poll(config, store, now=now)
        t1 = time.perf_counter()
        second = poll(config, store, now=now)
        t2 = time.perf_counter()
        assert all(s.result == "ok" for s in first.sources), [s.error for s in first.sources if s.error][:3]
        assert all(s.not_modified for s in second.sources)
        return {"first_poll_s": round(t1 - t0, 3), "repoll_304_s": round(t2 - t1, 3), "items": store.count_items()}


def run(feeds: int = 200, latency: float = 0.1, items: int = 20, hosts: int = 50) -> dict[str, Any]:
    """In one process with its servers: quick to run, but the servers' threads share the interpreter
    with the poll. bench_vs_reader serves from a separate process for the comparison."""
    with serve(feeds, latency, items, hosts) as (urls, servers):
        result = poll_twice(urls)
        requests = sum(len(s.requests) for s in servers)
    return {"feeds": feeds, "latency_s": latency, "items_per_feed": items, "hosts": hosts, **result,
            "requests": requests}


def feed_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options every poll benchmark shares: how many feeds, their latency, size and hosts."""
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--hosts", type=int, default=50)
    return parser


def main() -> None:
    args = feed_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0])).parse_args()
    print(json.dumps(run(args.feeds, args.latency, args.items, args.hosts), indent=2))


if __name__ == "__main__":
    main()
