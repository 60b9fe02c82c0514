"""The fast feed path against feedparser, both in this one process, on the same documents: every
recorded feed in ../shared/fixtures (when present) and a made-up 5,000-paper arXiv answer. CPU seconds
of the whole read (bytes to FeedItems, items built the same way on both paths) and of the parse alone.

    .venv/bin/python -m bench.bench_parsers
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.bench_arxiv_week import papers
from bot.sources import fastparse
from bot.sources.parsers import _feedparser, parse_arxiv, read_rss
from tests.servers import arxiv_atom

FIXTURES = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures"


def cpu(fn: Callable[[], Any]) -> float:
    started = time.process_time()
    fn()
    return round(time.process_time() - started, 3)


def main() -> None:
    out: dict[str, Any] = {}
    docs = [p.read_bytes() for p in sorted(FIXTURES.rglob("*.xml"))] if FIXTURES.is_dir() else []
    read_rss(docs[0] if docs else arxiv_atom([]), "warm-up")  # imports both parsers before timing
    read_rss(docs[0] if docs else arxiv_atom([]), "warm-up", fast=False)
    if docs:
        fast = cpu(lambda: [read_rss(d, "b") for d in docs])
        slow = cpu(lambda: [read_rss(d, "b", fast=False) for d in docs])
        parse_fast = cpu(lambda: [fastparse.fast_entries(d) for d in docs])
        parse_slow = cpu(lambda: [_feedparser().parse(d, sanitize_html=False, resolve_relative_uris=False)
                                  for d in docs])
        out["recorded_feeds"] = {"documents": len(docs), "mb": round(sum(map(len, docs)) / 1e6, 1),
                                 "read_fast_cpu_s": fast, "read_feedparser_cpu_s": slow,
                                 "read_ratio": round(slow / fast, 1), "parse_fast_cpu_s": parse_fast,
                                 "parse_feedparser_cpu_s": parse_slow, "parse_ratio": round(parse_slow / parse_fast, 1)}
    body = arxiv_atom(papers(5000, datetime(2026, 11, 20, tzinfo=UTC)), total=5000)
    fast = cpu(lambda: parse_arxiv(body, "a"))
    slow = cpu(lambda: parse_arxiv(body, "a", fast=False))
    out["arxiv_5000"] = {"mb": round(len(body) / 1e6, 1), "read_fast_cpu_s": fast, "read_feedparser_cpu_s": slow,
                         "read_ratio": round(slow / fast, 1)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
