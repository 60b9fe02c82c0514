"""A poll against a big library: `bot poll` as a whole process, with a library of N entries (synthetic
titles and links in dated log sections), one feed of 20 new items on a loopback server. `bot library
import` builds the library's identity index and model and caches them beside the database; every poll
reads the cache (each poll's feed has new items, so the index and model are needed every time).

    .venv/bin/python -m bench.bench_library_poll [--library 100000] [--polls 3] [--folder DIR]

--folder DIR keeps the imported library there (the database, its cache and the log as imported) and
starts every later run with the same --library from a copy of them, skipping the import (about 40 s for
100,000 entries); an unchanged re-import first brings a cache written by other code up to date (and it
is kept). A folder made by other code (another schema) is not reused: give each its own.

Also times `bot status` and `bot library check` against that library, `bot --help`, an unchanged
re-import, and the poll after a one-line edit of the log (which brings the library up to date first).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench.bench_dedupe import title
from bench.bench_vs_reader import CPU, ROOT, bot_command, clean_env, load, timed
from tests.servers import FeedServer, Route, rss


def write_library(path: Path, entries: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    lines = ["## 2024 Log"]
    for n in range(entries):
        if n % 50 == 0:
            lines.append(f"## {1 + n // 50 % 28} March {2000 + n // 1400}")
        url = (f"https://arxiv.org/abs/{2300 + n % 90:04d}.{n:05d}" if n % 5 == 0 else
               f"https://blog{n % 997}.example/posts/{n}")
        lines.append(f"* [{title(rng)}]({url})")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


KEPT = ("log.md", "bot.db", "bot.db.library-cache")


def run(library: int = 100_000, polls: int = 3, keep: Path | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"library_entries": library, "load_before": load()}
    with tempfile.TemporaryDirectory() as tmp, FeedServer() as server:
        # Documents are keyed by their absolute path: a kept library is run again in the folder it was
        # imported in (DIR/N/run), from the copies taken after its import (DIR/N/saved).
        folder = keep / str(library) / "run" if keep else Path(tmp)
        saved = keep / str(library) / "saved" if keep else None
        if keep:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
        env = clean_env()
        (folder / "bot.toml").write_text(
            f'[bot]\ndb = "bot.db"\ntopics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n'
            '[library]\npaths = ["log.md"]\n'
            f'[[feeds]]\nname = "blog"\nurl = "{server.url("/feed.xml")}"\n', encoding="utf-8")
        if saved and all((saved / name).exists() for name in KEPT):
            for name in KEPT:
                shutil.copy2(saved / name, folder / name)  # with its mtime: the log is as imported
            result["import_s"] = "kept from " + str(saved)
            # A cache written by other code (this checkout changed since) is rebuilt by an unchanged
            # re-import, as after an upgrade, and kept for the next run: no timed poll pays for it.
            cache = folder / "bot.db.library-cache"
            before = cache.read_bytes()
            result["refresh_s"] = round(timed([*bot_command(), "-q", "library", "import"], folder, env)[0], 3)
            if cache.read_bytes() != before:
                for name in KEPT[1:]:
                    shutil.copy2(folder / name, saved / name)
        else:
            write_library(folder / "log.md", library)
            result["import_s"] = round(timed([*bot_command(), "-q", "library", "import"], folder, env)[0], 3)
            if saved:
                saved.mkdir(parents=True, exist_ok=True)
                for name in KEPT:
                    shutil.copy2(folder / name, saved / name)
        times: list[float] = []
        cpus: list[float] = []
        for p in range(polls):
            server.route("/feed.xml", Route(body=rss([
                {"title": f"Poll {p}: notes on LLM inference number {k}", "link": f"https://new.example/{p}/{k}"}
                for k in range(20)])))
            took, out = timed([*bot_command(), "poll", "--json"], folder, env)
            assert json.loads(out)["totals"].get("fetched") == 20, out
            times.append(round(took, 3))
            cpus.append(CPU[0])
        result["polls_s"] = times  # each reads the cache that the import built
        result["polls_cpu_s"] = cpus
        for label, args in (("help_s", ["--help"]), ("status_s", ["status"]),
                            ("library_check_s", ["library", "check", "https://arxiv.org/abs/2300.00000"])):
            result[label] = min(round(timed([*bot_command(), *args], folder, env)[0], 3) for _ in range(3))
        result["cache_mb"] = round((folder / "bot.db.library-cache").stat().st_size / 1e6, 1)
        # The library as the person changes it: an unchanged re-import, then one line edited by hand and
        # the next poll (which brings the library up to date first), then a poll with nothing changed.
        result["reimport_unchanged_s"] = round(timed([*bot_command(), "-q", "library", "import"], folder, env)[0], 3)
        log = folder / "log.md"
        text = log.read_text(encoding="utf-8")
        at = text.index("\n* [", len(text) // 2) + 1
        log.write_text(text[:at] + "* [An entry the person just added by hand](https://hand.example/1)\n" + text[at:],
                       encoding="utf-8")
        took, out = timed([*bot_command(), "poll", "--json"], folder, env)
        result["poll_after_one_line_edit_s"] = round(took, 3)
        result["poll_after_one_line_edit_cpu_s"] = CPU[0]
        took, out = timed([*bot_command(), "poll", "--json"], folder, env)
        result["poll_after_that_s"] = round(took, 3)
        result["poll_after_that_cpu_s"] = CPU[0]
    result["load_after"] = load()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--library", type=int, default=100_000)
    parser.add_argument("--polls", type=int, default=3)
    parser.add_argument("--folder", type=Path, help="keep the imported library here and reuse it")
    args = parser.parse_args()
    print(json.dumps(run(args.library, args.polls, args.folder), indent=2))


if __name__ == "__main__":
    main()
