"""What a poll's process loads and how it ends: an all-304 re-poll imports none of the deciding side (the
relevance models, the library's cache, rich); `bot library import` builds the library's cache so that
no poll has to; and the command line's quick exit keeps exit codes and every byte of output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli.group import cli
from bot.store.database import Store
from tests.conftest import SEEDS, cli_env, write_config
from tests.servers import FeedServer, Route, rss

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
# Runs `bot` with the given arguments, then names every module the process holds (the output stays clean).
LOADED = """
import json, sys
from bot.cli.group import main
code = main(sys.argv[1:])
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
sys.exit(code)
"""
# What only items that came need: the identity index and library model, dedupe (with its fuzzy title
# comparison) and scoring, and rich (the progress bar and tables; `--json` prints neither).
DECIDING = {"bot.library_cache", "bot.relevance.score", "bot.relevance.dedupe", "bot.relevance.taste",
            "bot.library.api", "rich.console", "rapidfuzz"}


def _bot(args: list[str], cwd: Path, code: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "bot", *args]
    return subprocess.run(command, cwd=cwd, env=cli_env(NOW), capture_output=True, text=True, timeout=120)


def test_an_all_304_poll_loads_nothing_that_deciding_needs(workdir: Path) -> None:
    with FeedServer() as server:
        url = server.route("/a.xml", Route(body=rss([{"title": "LLM inference at scale", "link": "https://a.example/1"}]),
                                           etag='"v1"'))
        write_config(workdir, f'[bot]\ndb = "bot.db"\n[library]\npaths = ["{SEEDS}"]\n'
                              f'[[feeds]]\nname = "a"\nkind = "rss"\nurl = "{url}"\n')
        first = _bot(["poll", "--json"], workdir)
        assert first.returncode == 0, first.stderr
        assert json.loads(first.stdout)["totals"]["fetched"] == 1
        again = _bot(["poll", "--json"], workdir, code=LOADED)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["totals"]["not_modified"] == 1
    loaded = set(json.loads(again.stderr.strip().splitlines()[-1]))
    assert "bot.poll" in loaded
    assert loaded.isdisjoint(DECIDING), sorted(loaded & DECIDING)


def test_library_import_builds_the_library_cache_once(workdir: Path) -> None:
    from click.testing import CliRunner

    from bot import library_cache

    write_config(workdir, f'[bot]\ndb = "bot.db"\n[library]\npaths = ["{SEEDS}"]\n')
    cache = workdir / "bot.db.library-cache"
    assert CliRunner().invoke(cli, ["library", "import", "--json"]).exit_code == 0
    assert cache.is_file()  # built by the import, not left to the first poll
    built = cache.stat().st_mtime_ns
    store = Store.open(workdir / "bot.db")
    try:
        assert library_cache.refresh(store) is False  # it matches the library as imported
        assert library_cache.load(store).taste_entries > 0
    finally:
        store.close()
    assert CliRunner().invoke(cli, ["library", "import", "--json"]).exit_code == 0
    assert cache.stat().st_mtime_ns == built  # the same library: not built again


def test_a_changed_library_is_rebuilt_by_its_import(workdir: Path) -> None:
    from click.testing import CliRunner

    from bot import library_cache

    docs = workdir / "docs"
    docs.mkdir()
    (docs / "list.md").write_text("+ [QLoRA](https://arxiv.org/abs/2305.14314)\n", encoding="utf-8")
    write_config(workdir, '[bot]\ndb = "bot.db"\n[library]\npaths = ["docs"]\n')
    assert CliRunner().invoke(cli, ["library", "import"]).exit_code == 0
    (docs / "list.md").write_text("+ [QLoRA](https://arxiv.org/abs/2305.14314)\n"
                                  "+ [LoRA](https://arxiv.org/abs/2106.09685)\n", encoding="utf-8")
    assert CliRunner().invoke(cli, ["library", "import"]).exit_code == 0
    store = Store.open(workdir / "bot.db")
    try:
        assert library_cache.refresh(store) is False  # the import already built it for two entries
        assert library_cache.load(store).taste_entries == 2
    finally:
        store.close()


def test_the_quick_exit_keeps_exit_codes_and_all_output(workdir: Path) -> None:
    write_config(workdir, f'[bot]\ndb = "bot.db"\n[library]\npaths = ["{SEEDS}"]\n')
    assert _bot(["library", "import"], workdir).returncode == 0
    queries = [f"https://example.org/page/{n}" for n in range(400)]  # a long answer: 400 objects
    done = _bot(["library", "check", "--json", *queries], workdir)
    assert done.returncode == 0, done.stderr
    assert [r["query"] for r in json.loads(done.stdout)] == queries
    bad = _bot(["--config", "missing.toml", "status"], workdir)
    assert bad.returncode == 2 and "missing.toml" in bad.stderr
    usage = _bot(["digest", "--limit", "0"], workdir)
    assert usage.returncode == 2 and "limit" in usage.stderr.lower()


# Runs `bot` with a finder in front of the import system that names, on stderr, each HTTP-stack module
# a process imports (a finder is asked only for modules that process has not imported yet; forked
# workers inherit it): "IMPORT <pid> <module>".
IMPORTS = """
import os, sys
class Spy:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("httpcore", "h11", "anyio") or name == "bot.sources.network":
            print("IMPORT", os.getpid(), name, file=sys.stderr, flush=True)
        return None
sys.meta_path.insert(0, Spy())
from bot.cli.group import main
sys.exit(main(sys.argv[1:]))
"""


def test_forked_fetching_workers_inherit_the_http_stack_instead_of_each_importing_it(workdir: Path) -> None:
    """A poll of many feeds on several hosts forks a worker per core; httpcore, h11, anyio's asyncio half
    and the network backend are imported once, by the poll, before it forks: no worker imports any."""
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: the poll fetches in its own process")
    feed = rss([{"title": "LLM inference at scale", "link": "https://a.example/1"}])
    with FeedServer() as one, FeedServer(host="127.0.0.2") as two:
        urls = [server.route(f"/{n}.xml", Route(body=feed, etag=f'"{n}"')) for n in range(8) for server in (one, two)]
        write_config(workdir, f'[bot]\ndb = "bot.db"\n[library]\npaths = ["{SEEDS}"]\n'
                     + "".join(f'[[feeds]]\nname = "f{n}"\nkind = "rss"\nurl = "{url}"\n' for n, url in enumerate(urls)))
        for _ in range(2):  # a first poll and an all-304 one
            done = subprocess.run([sys.executable, "-c", IMPORTS, "poll", "--json"], cwd=workdir, env=cli_env(NOW),
                                  capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr[-2000:]
            events = [line.split()[1:] for line in done.stderr.splitlines() if line.startswith("IMPORT ")]
            assert ["bot.sources.network"] in [name for _pid, *name in events]
            assert len({pid for pid, _name in events}) == 1, events  # the poll's own process alone
            assert json.loads(done.stdout)["totals"]["errors"] == 0


def test_a_command_process_collects_cycles_less_often_than_pythons_default() -> None:
    """`bot` (the console script and `python -m bot`) raises the collector's first threshold for the
    command it runs; importing the CLI (tests, a host program) leaves the process's own setting."""
    import gc

    from bot.cli.group import GC_THRESHOLD

    report = ("import atexit, gc, sys; atexit.register(lambda: print('GC', gc.get_threshold()[0], file=sys.stderr)); "
              "sys.argv = ['bot', '--help']; from bot.cli import run; run()")
    done = subprocess.run([sys.executable, "-c", report], env=cli_env(NOW), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"GC {GC_THRESHOLD}" in done.stderr and GC_THRESHOLD > 700
    assert gc.get_threshold()[0] != GC_THRESHOLD  # this test process imported bot.cli: untouched
