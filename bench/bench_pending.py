"""The commands a person runs on what waits for the digest, against a busy week: `bot items`, `bot items
--limit 500`, `bot explain` (the item ranked last, so the whole bounded ranking is built) and `bot
sources`, each a whole process, after one `bot poll` of N relevant items from a loopback feed.

    .venv/bin/python -m bench.bench_pending [--items 3000]

Leaving out repeats compares each ranked item with every one chosen above it, so `bot items` ranks to a
bounded depth (bot.pending.MAX_DEPTH); this shows what that depth costs.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path
from typing import Any

from bench.bench_dedupe import title
from bench.bench_vs_reader import ROOT, bot_command, clean_env, load, timed
from tests.servers import FeedServer, Route, rss

TOPIC_WORDS = ("LLM inference", "fine-tuning large language models", "retrieval-augmented generation",
               "diffusion models", "LLM agents")


def run(items: int = 3000, repeat: int = 3) -> dict[str, Any]:
    result: dict[str, Any] = {"items": items, "load_before": load()}
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as tmp, FeedServer() as server:
        folder = Path(tmp)
        feed = server.route("/feed.xml", Route(body=rss([
            {"title": f"{title(rng)} for {TOPIC_WORDS[n % len(TOPIC_WORDS)]}", "link": f"https://b{n % 40}.example/{n}",
             "pubDate": "Fri, 20 Nov 2026 10:00:00 GMT"} for n in range(items)])))
        (folder / "bot.toml").write_text(
            f'[bot]\ndb = "bot.db"\ntopics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n'
            f'[library]\npaths = []\n[hn]\nlookup = false\n[[feeds]]\nname = "blog"\nurl = "{feed}"\n',
            encoding="utf-8")
        env = {**clean_env(), "BOT_NOW": "2026-11-23T09:00:00+00:00", "BOT_TEST_HOOKS": "1"}
        took, out = timed([*bot_command(), "poll", "--json"], folder, env)
        result["poll_s"] = round(took, 3)
        result["stored_new"] = json.loads(out)["totals"].get("new", 0)
        _, out = timed([*bot_command(), "items", "--limit", "500", "--json"], folder, env)
        board = json.loads(out)
        result["pending"], result["ranked_500"] = board["pending"], len(board["items"])
        last = board["items"][-1]["id"] if board["items"] else 1
        for label, args in (("items_s", ["items", "--json"]), ("items_500_s", ["items", "--limit", "500", "--json"]),
                            ("explain_last_s", ["explain", str(last), "--json"]), ("sources_s", ["sources", "--json"])):
            result[label] = min(round(timed([*bot_command(), *args], folder, env)[0], 3) for _ in range(repeat))
    result["load_after"] = load()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(run(args.items, args.repeat), indent=2))


if __name__ == "__main__":
    main()
