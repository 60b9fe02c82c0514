"""The library is a function of the documents on disk, whatever folder a command runs in: the CLI as a
process, real files, a loopback feed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core.identity import Identity
from bot.store.database import Store
from tests.conftest import ROOT, SEEDS, cli_env
from tests.servers import FeedServer, Route, rss

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LOG = """# Reading log

## 2 November 2026

* [Speculative decoding for faster LLM inference](https://a.example/spec)
* [LoRA adapters for fine-tuning large language models](https://b.example/lora)

## 9 November 2026

* [Mixture of experts routing at scale](https://c.example/moe)

## 16 November 2026

* [Quantized attention kernels for transformers](https://d.example/kernels)
"""


def bot(folder: Path, *args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    done = subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd or folder, env=cli_env(NOW),
                          capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout, done.stderr


def project(folder: Path, feed_url: str = "http://127.0.0.1:9/none.xml", extra_paths: tuple[str, ...] = ()) -> Path:
    (folder / "library").mkdir(parents=True, exist_ok=True)
    (folder / "library" / "log.md").write_text(LOG, encoding="utf-8")
    paths = json.dumps(["library", *extra_paths])
    (folder / "bot.toml").write_text(
        f'[bot]\ndb = "bot.db"\nlog = "library/log.md"\ntopics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n'
        f'[library]\npaths = {paths}\n[[feeds]]\nname = "blog"\nurl = "{feed_url}"\n', encoding="utf-8")
    return folder / "bot.toml"


def entries(folder: Path) -> int:
    code, out, err = bot(folder, "library", "stats", "--json")
    assert code == 0, err
    return int(json.loads(out)["entries"])


def poll_totals(folder: Path, cwd: Path | None = None, *config: str) -> dict[str, int]:
    code, out, err = bot(folder, *config, "poll", "--json", cwd=cwd)
    assert code == 0, err
    return dict(json.loads(out)["totals"])


def digest_dry_run(folder: Path) -> None:
    """A command that dedupes, with no feed to reach: the digest's dry run."""
    code, _, err = bot(folder, "digest", "--dry-run")
    assert code == 0, err


def feed(*links: str) -> bytes:
    return rss([{"title": f"Notes on LLM inference: {link.rsplit('/', 1)[-1]}", "link": link,
                 "pubDate": "Sat, 21 Nov 2026 10:00:00 GMT"} for link in links])


def test_importing_from_another_folder_or_with_config_does_not_double_the_library(tmp_path: Path) -> None:
    folder = tmp_path / "digest"
    config = project(folder, extra_paths=(str(SEEDS),))
    assert bot(folder, "library", "import")[0] == 0
    first = entries(folder)
    assert first > 300
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, _, err = bot(folder, "--config", str(config), "library", "import", cwd=elsewhere)
    assert code == 0, err
    assert entries(folder) == first
    code, _, err = bot(folder, "library", "import", str(folder / "library" / "log.md"))
    assert code == 0, err
    assert entries(folder) == first  # the log named by its absolute path is the same document


def test_a_line_removed_from_the_log_leaves_the_library_at_the_next_poll(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.route("/feed.xml", Route(body=feed("https://c.example/moe")))
        project(tmp_path, server.url("/feed.xml"))
        assert bot(tmp_path, "library", "import")[0] == 0
        log = tmp_path / "library" / "log.md"
        log.write_text(LOG.replace("* [Mixture of experts routing at scale](https://c.example/moe)\n", ""))
        totals = poll_totals(tmp_path, tmp_path.parent, "--config", str(tmp_path / "bot.toml"))
    assert totals.get("known", 0) == 0 and totals.get("new", 0) + totals.get("off_topic", 0) == 1
    assert entries(tmp_path) == 3


def test_a_line_added_by_hand_is_known_at_the_next_poll(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.route("/feed.xml", Route(body=feed("https://e.example/by-hand")))
        project(tmp_path, server.url("/feed.xml"))
        assert bot(tmp_path, "library", "import")[0] == 0
        log = tmp_path / "library" / "log.md"
        log.write_text(LOG + "* [Attention sinks in streaming LLM inference](https://e.example/by-hand)\n")
        totals = poll_totals(tmp_path)
    assert totals.get("known") == 1 and not totals.get("new")


def test_a_document_no_longer_configured_leaves_with_its_entries(tmp_path: Path) -> None:
    project(tmp_path, extra_paths=(str(SEEDS),))
    assert bot(tmp_path, "library", "import")[0] == 0
    assert entries(tmp_path) > 300
    project(tmp_path)  # the seeds are no longer under [library] paths
    digest_dry_run(tmp_path)
    assert entries(tmp_path) == 4


def test_a_document_deleted_from_a_library_folder_leaves_with_its_entries(tmp_path: Path) -> None:
    project(tmp_path)
    (tmp_path / "library" / "more.md").write_text("+ [Ring attention with blockwise transformers](https://f.example/ring)\n")
    assert bot(tmp_path, "library", "import")[0] == 0
    assert entries(tmp_path) == 5
    (tmp_path / "library" / "more.md").unlink()
    digest_dry_run(tmp_path)
    assert entries(tmp_path) == 4


def test_a_database_from_before_documents_were_recorded_is_brought_forward_without_doubling(tmp_path: Path) -> None:
    """Entries stored under names relative to whatever folder an earlier version imported from (and no
    document rows) are replaced by the documents under their absolute paths."""
    import bot.library.parser as parser

    project(tmp_path)
    store = Store.open(tmp_path / "bot.db")
    store.replace_library_file("library/log.md", parser.parse_document(LOG, "library/log.md"))
    store.replace_library_file("../digest/library/log.md", parser.parse_document(LOG, "../digest/library/log.md"))
    store.close()
    assert entries(tmp_path) == 8  # doubled, as earlier versions left it
    digest_dry_run(tmp_path)
    assert entries(tmp_path) == 4


def test_a_restored_database_does_not_trust_a_cache_of_another_library(tmp_path: Path) -> None:
    """Backup at [A, B]; the library moves on to [A, C] and its cache is built; the backup comes back and
    the log is now [A, D]. The cache of [A, C] must not answer for [A, D]: C unlogged is new, D logged
    is known."""
    with FeedServer() as server:
        server.route("/feed.xml", Route(body=feed("https://x.example/c-paper", "https://x.example/d-paper")))
        project(tmp_path, server.url("/feed.xml"))
        log = tmp_path / "library" / "log.md"

        def write(*links: str) -> None:
            log.write_text(LOG + "".join(f"* [Paper {link[-7]} on sparse attention]({link})\n" for link in links))

        write("https://x.example/b-paper")
        assert bot(tmp_path, "library", "import")[0] == 0
        shutil.copy(tmp_path / "bot.db", tmp_path / "backup.db")
        write("https://x.example/c-paper")
        assert bot(tmp_path, "library", "import")[0] == 0  # builds the cache of [A, C]
        shutil.copy(tmp_path / "backup.db", tmp_path / "bot.db")
        for side in ("-wal", "-shm"):
            (tmp_path / f"bot.db{side}").unlink(missing_ok=True)
        write("https://x.example/d-paper")
        assert bot(tmp_path, "library", "import")[0] == 0
        code, out, err = bot(tmp_path, "library", "check", "--json", "https://x.example/c-paper",
                             "https://x.example/d-paper")
    assert code == 0, err
    assert [r["known"] for r in json.loads(out)] == [False, True]


def test_the_cache_is_not_unpickled_unless_its_head_line_is_this_library(tmp_path: Path) -> None:
    """A file beside the database that is not this library's cache is never unpickled: a pickle that
    would run code on load is rebuilt over, and the code never runs."""
    import pickle

    project(tmp_path)
    assert bot(tmp_path, "library", "import")[0] == 0
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (exec, (f"open({str(marker)!r}, 'w')",))

    cache = tmp_path / "bot.db.library-cache"
    head = cache.read_bytes().split(b"\n", 1)[0]
    cache.write_bytes(pickle.dumps(Evil()) + pickle.dumps(Evil()))  # no head line: an old or foreign file
    code, out, err = bot(tmp_path, "library", "check", "--json", "https://c.example/moe")
    assert code == 0, err
    assert json.loads(out)[0]["known"] is True
    assert not marker.exists()
    assert cache.read_bytes().split(b"\n", 1)[0] == head  # rebuilt


@pytest.mark.parametrize("args", [["poll"], ["digest", "--dry-run"], ["add", "https://other.example/x", "--title", "X"],
                                  ["library", "import"]], ids=["poll", "digest", "add", "import"])
def test_a_command_waiting_for_the_lock_has_not_touched_the_library(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    args: list[str]) -> None:
    """Bringing the library up to date writes to it, so it happens under the work lock: a command that
    finds the lock held (a scheduled poll of `bot run`, say) changes nothing, and two syncs of one edited
    document never interleave (a shift of line numbers applied twice)."""
    from bot.cli.group import main
    from bot.lock import hold, work_lock
    from tests.test_exit_codes import polled

    polled(workdir)
    with (workdir / "library" / "log.md").open("a", encoding="utf-8") as log:
        log.write("* [A find logged by hand](https://hand.example/find)\n")
    monkeypatch.setenv("BOT_LOCK_WAIT", "0")
    with hold(work_lock(workdir / "bot.db"), "the test", wait=0):
        assert main(args) == 1
    assert not library_knows(workdir, Identity("url", "hand.example/find"))
    assert main(["-q", "poll"]) == 0
    assert library_knows(workdir, Identity("url", "hand.example/find"))


def library_knows(folder: Path, identity: Identity) -> bool:
    store = Store.open(folder / "bot.db")
    try:
        return any(owner == "entry" for _, owner, _ in store.identity_owners({identity}))
    finally:
        store.close()
