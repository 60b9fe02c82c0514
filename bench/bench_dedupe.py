"""Dedupe and score throughput: N new items against a library of M entries.

    .venv/bin/python -m bench.bench_dedupe [--library 100000] [--items 10000]

The library is synthetic (random titles from a research vocabulary, a link each, some arXiv and HN
links); a quarter of the items are spellings of library links or titles (so they must come out known),
the rest are new. Timed: building the identity index and the library model (once per poll), and
merging + deciding + scoring the items (the per-item work). No database: this measures the pure core.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.core.identity import title_identity, url_identities
from bot.core.normalize import make_item
from bot.core.records import Discussion
from bot.library.matcher import IdentityIndex
from bot.relevance.dedupe import decide, merge
from bot.relevance.score import Scorer
from bot.relevance.taste import LibraryModel
from bot.relevance.topics import TopicMatcher
from bot.sources.feedlist import load_topics

ROOT = Path(__file__).resolve().parent.parent
WORDS = ("language model transformer attention scaling inference quantization adapter lora retrieval agent "
         "benchmark evaluation diffusion image speech token context window sparse expert routing alignment "
         "preference reward policy gradient graph neural network kernel compiler memory cache latency "
         "throughput dataset synthetic curriculum distillation pruning reasoning planning tool search "
         "embedding vector database index compression federated privacy robustness safety interpretability "
         "circuit feature probe multilingual translation summarization code generation protein weather").split()


def title(rng: random.Random) -> str:
    """Common research words plus a rarer name, as real titles have (model, method or dataset names)."""
    words = [rng.choice(WORDS) for _ in range(rng.randint(3, 9))]
    words.insert(rng.randrange(len(words) + 1), f"{rng.choice(WORDS)[:4]}{rng.randrange(20000)}")
    return " ".join(words).capitalize()


def build(library: int, items: int, seed: int = 7) -> tuple[list[Any], list[Any]]:
    rng = random.Random(seed)
    entries = []
    for n in range(library):
        url = (f"https://arxiv.org/abs/{2300 + n % 90:04d}.{n:05d}" if n % 5 == 0 else
               f"https://news.ycombinator.com/item?id={30000000 + n}" if n % 5 == 1 else
               f"https://blog{n % 997}.example/posts/{n}")
        entries.append((n, title(rng), url))
    fresh = []
    known_ids = iter(rng.sample(range(library), items // 4 + 1))
    for k in range(items):
        if k % 4 == 0:  # a known thing, spelled differently
            _, t, url = entries[next(known_ids)]
            url = url.replace("https://", "http://www.").replace("/abs/", "/pdf/")
            url += ("&" if "?" in url else "?") + "utm_source=rss"
            fresh.append(make_item(source="bench", title=t.upper(), url=url, published="2026-11-19T10:00:00+00:00"))
        else:
            fresh.append(make_item(source="bench", title=title(rng), url=f"https://new{k % 313}.example/{k}",
                                   published="2026-11-19T10:00:00+00:00", summary=title(rng),
                                   points=rng.randint(1, 900) if k % 2 else None,
                                   discussion=Discussion.hn(40000000 + k) if k % 2 else None))
    return entries, fresh


def run(library: int = 100_000, items: int = 10_000) -> dict[str, Any]:
    entries, fresh = build(library, items)
    c0 = time.process_time()
    t0 = time.perf_counter()
    index = IdentityIndex()
    for n, t, url in entries:
        idents = url_identities(url)
        ident = title_identity(t)
        if ident:
            idents.add(ident)
        index.add("entry", n, idents)
    model = LibraryModel.build((n, t, "", [url]) for n, t, url in entries)
    scorer = Scorer(TopicMatcher(load_topics(ROOT / "feeds" / "topics.toml")), model,
                    datetime(2026, 11, 20, tzinfo=UTC))
    t1 = time.perf_counter()
    c1 = time.process_time()
    decisions = decide(merge(fresh), index)
    scored = [scorer.score(d.candidate.item, d.candidate.sources) for d in decisions if not d.known]
    t2 = time.perf_counter()
    c2 = time.process_time()
    known = sum(1 for d in decisions if d.known)
    assert known >= items // 4, known
    return {"library_entries": library, "items": items, "setup_s": round(t1 - t0, 3),
            "setup_cpu_s": round(c1 - c0, 3), "dedupe_and_score_s": round(t2 - t1, 3),
            "dedupe_and_score_cpu_s": round(c2 - c1, 3), "known": known, "scored": len(scored),
            "items_per_s": round(items / (t2 - t1))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--library", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=10_000)
    args = parser.parse_args()
    print(json.dumps(run(args.library, args.items), indent=2))


if __name__ == "__main__":
    main()
