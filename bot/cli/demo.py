"""`bot demo`: the whole pipeline, offline, on sample feeds shipped in bot/demo_data: import the
sample library shipped with the tool (its seeds), poll an HN Algolia answer, an arXiv answer and a
blog feed (read from disk), dedupe and score them, and print the digest that would be posted. A
temporary database; no network, no Slack, nothing written outside a temporary folder."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

import bot.library.api as lib
from bot.articles.reader import reader_for, saved_pages
from bot.cli.render import poll_table
from bot.core.clock import fixed_clock
from bot.core.config import load_config
from bot.core.plural import plural
from bot.core.resources import demo_data, shipped_seeds, shipped_topics
from bot.digest.pipeline import DigestOptions, run
from bot.poll import poll
from bot.store.database import Store

DEMO_NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # the sample feeds are from the week before


def run_demo(console: Console, quiet: bool = False) -> str:
    data = demo_data()
    seeds = shipped_seeds()  # the demo's library: never the person's own, wherever it is run
    with tempfile.TemporaryDirectory(prefix="bot-demo-") as tmp:
        folder = Path(tmp)
        feeds = [
            {"name": "hn", "kind": "hn", "url": str(data / "hn-algolia.json")},
            {"name": "arxiv", "kind": "arxiv", "url": str(data / "arxiv.xml")},
            {"name": "blogs", "kind": "rss", "url": str(data / "blogs.xml")},
        ]
        lines = [
            f'[bot]\ndb = "demo.db"\ndigest_limit = 10\n'
            f'topics = {json.dumps(str(shipped_topics()))}\n',
            f"[library]\npaths = [{json.dumps(str(seeds))}]\n",
        ]
        lines += ["[[feeds]]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in f.items()) + "\n" for f in feeds]
        (folder / "bot.toml").write_text("\n".join(lines), encoding="utf-8")
        config = load_config(str(folder / "bot.toml"), env={})
        store = Store.open(config.db, fixed_clock(DEMO_NOW))
        try:
            report = lib.import_documents(store, config.library_paths)
            if not quiet:
                s = report.stats
                console.print(f"Library: {plural(s.entries, 'entry')} from the {plural(len(report.files), 'document')} "
                              f"of a sample reading library shipped with the tool, in {seeds} "
                              f"({plural(s.links, 'link')}, {plural(s.arxiv_ids, 'arXiv id')}, "
                              f"{plural(s.hn_ids, 'HN thread')}, {plural(s.title_only, 'title-only paper')}).",
                              highlight=False)
            polled = poll(config, store, now=DEMO_NOW)
            if not quiet:
                poll_table(console, polled)
            # The pages the HN items link to are saved copies in demo_data/pages: no network.
            reader = reader_for(config, store, pages=saved_pages(data / "pages"))
            outcome = run(config, store, DigestOptions(dry_run=True), [], DEMO_NOW,  # text only: no target
                          reader=reader)
        finally:
            store.close()
    console.print(outcome.bodies["text"], highlight=False, markup=False, end="")
    if not quiet:
        console.print("\n(demo: nothing was posted or appended; the database was temporary)", highlight=False)
    return str(outcome.bodies["text"])
