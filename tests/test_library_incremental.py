"""A changed reading document is read again section by section (bot.library.parser.reparse_document):
what the library holds afterwards is exactly what a from-scratch import of the document gives (entries,
their dates and identities, the links that are not URLs, `bot library check`'s answers), and the
entries of the sections that did not change stay as they were (same rows, lines shifted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import bot.library.api as lib
from bot.library.parser import SECTION_LINES
from bot.store.database import Store
from tests.conftest import cli_env, write_config

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def document(days: int = 6, per_day: int = 30) -> str:
    """A log with a year heading, dated sections (one without its year), sections long enough to be
    split at blank lines, a bullet-dated part, titles shared between sections, and placeholder links."""
    lines = ["# Reading", "", "## 2023 Log"]
    for day in range(days):
        lines.append(f"## {day + 3} May" if day % 2 else f"## {day + 3} May 2023")
        for n in range(per_day):
            if n % 9 == 0:
                lines.append("")
            if n % 11 == 0:
                lines.append("* [A title two sections share](https://shared.example/a)")
            elif n % 13 == 0:
                lines.append(f"* [Placeholder client {day} {n}](http://[your-host]/v1/{n})")
            else:
                lines.append(f"* [Notes on topic {day} number {n}](https://blog{day}.example/{n}) by someone")
        lines.append("")
    lines.append("## 2024 Log")
    lines.extend(f"* {m}/1 - [Bullet dated paper {m}](https://arxiv.org/abs/2401.{m:05d})" for m in range(1, 7))
    return "\n".join(lines) + "\n"


def rows(store: Store) -> list[tuple[Any, ...]]:
    """Every entry with its identities, without ids (which a from-scratch import numbers anew)."""
    idents: dict[int, list[tuple[str, str]]] = {}
    for kind, value, owner_id in store.entry_identity_rows():
        idents.setdefault(owner_id, []).append((kind, value))
    return sorted((e.file, e.line, e.kind, e.title, e.date, e.urls, e.internal_links, e.text,
                   tuple(sorted(idents.get(e.id, ())))) for e in store.library_entries())


QUERIES = ["https://shared.example/a", "A title two sections share", "https://blog2.example/5",
           "Notes on topic 3 number 7", "https://arxiv.org/abs/2401.00003", "Notes on topic 1 numbr 4",
           "A hand added entry about caching", "https://nowhere.example/"]


def answers(store: Store) -> list[dict[str, Any]]:
    found = []
    for result in lib.check(store, QUERIES):
        entry = result.entry or {}
        found.append({"query": result.query, "known": result.known, "rule": result.rule,
                      **{k: entry.get(k) for k in ("file", "line", "date", "title", "text")}})
    return found


def state(store: Store, log: Path) -> tuple[Any, ...]:
    doc = store.library_documents()[str(log.resolve())]
    return rows(store), answers(store), doc.entries, doc.ignored, doc.sections


def fresh(tmp_path: Path, text: str) -> tuple[Any, ...]:
    folder = tmp_path / "fresh"
    folder.mkdir(exist_ok=True)
    log = folder / "log.md"
    log.write_text(text, encoding="utf-8")
    store = Store.open(folder / "fresh.db")
    lib.import_documents(store, [log])
    found = state(store, log)
    store.close()
    (folder / "fresh.db").unlink()
    # The same document at another path: compare with the file name the incremental library uses.
    return found


def edits(text: str) -> list[tuple[str, str]]:
    lines = text.splitlines(keepends=True)
    middle = len(lines) // 2
    heading = next(i for i, line in enumerate(lines) if line.startswith("## 5 May 2023"))
    return [
        ("one line edited", "".join(lines[:middle] + ["* [A hand added entry about caching](https://hand.example/1)\n"]
                                    + lines[middle + 1:])),
        ("a line inserted at the top", "* [A hand added entry about caching](https://hand.example/1)\n" + text),
        ("a line inserted in the middle", "".join(lines[:middle] + ["* [Another](https://hand.example/2) by me\n"]
                                                  + lines[middle:])),
        ("lines deleted", "".join(lines[:10] + lines[14:])),
        ("a heading's date changed", "".join(lines[:heading] + ["## 9 June 2023\n"] + lines[heading + 1:])),
        ("the year heading changed", text.replace("## 2023 Log", "## 2022 Log")),
        ("a section repeated", text + "".join(lines[heading:heading + 12])),
        ("front matter added", "---\ntitle: Reading\n---\n" + text),
        ("a blank line removed where a section ends", text.replace("\n\n", "\n", 3)),
        ("the whole document rewritten", document(days=4, per_day=17).replace("Notes on", "Thoughts on")),
        ("emptied", ""),
    ]


@pytest.mark.parametrize("case", range(11))
def test_a_changed_document_reads_as_a_from_scratch_import(tmp_path: Path, case: int) -> None:
    text = document()
    assert len(text.splitlines()) > 3 * SECTION_LINES
    name, changed = edits(text)[case]
    log = tmp_path / "log.md"
    log.write_text(text, encoding="utf-8")
    store = Store.open(tmp_path / "bot.db")
    lib.sync_library(store, [log])
    # Each edit on top of the one before, as a person edits: the library follows every step.
    log.write_text(changed, encoding="utf-8")
    lib.sync_library(store, [log])
    got = state(store, log)
    want = fresh(tmp_path, changed)
    fix = str((tmp_path / "fresh" / "log.md").resolve()), str(log.resolve())
    want_rows = sorted((fix[1] if r[0] == fix[0] else r[0], *r[1:]) for r in want[0])
    want_answers = [{**a, "file": "log.md" if a["file"] else None} for a in want[1]]
    got_answers = [{**a, "file": "log.md" if a["file"] else None} for a in got[1]]
    assert got[0] == want_rows, name
    assert got_answers == want_answers, name
    assert got[2:] == want[2:], name


def test_unchanged_sections_keep_their_entries(tmp_path: Path) -> None:
    """A line inserted near the top of a long document: the entries below it are the same rows (their
    line numbers moved by one), and only the inserted line's entry is new."""
    text = document(days=40)
    log = tmp_path / "log.md"
    log.write_text(text, encoding="utf-8")
    store = Store.open(tmp_path / "bot.db")
    lib.sync_library(store, [log])
    before = {e.text: (e.id, e.line) for e in store.library_entries()}
    # Touched (saved unchanged): read again and found the same, it keeps how it was split.
    sections = store.library_documents()[str(log.resolve())].sections
    os.utime(log, ns=(log.stat().st_atime_ns, log.stat().st_mtime_ns + 5_000_000_000))
    assert lib.sync_library(store, [log]).read == ()
    assert store.library_documents()[str(log.resolve())].sections == sections != ()
    lines = text.splitlines(keepends=True)
    log.write_text("".join(lines[:5] + ["* [A hand added entry about caching](https://hand.example/1)\n"] + lines[5:]),
                   encoding="utf-8")
    lib.sync_library(store, [log])
    after = {e.text: (e.id, e.line) for e in store.library_entries()}
    new = [t for t in after if after[t][0] not in {i for i, _ in before.values()}]
    assert len(new) <= SECTION_LINES  # the inserted line's section only (read again as a whole)
    assert any("hand.example" in t for t in new)
    moved = [t for t in before if t in after and after[t][0] == before[t][0]]
    assert len(before) > 10 * SECTION_LINES and len(moved) >= len(before) - SECTION_LINES
    assert all(after[t][1] == before[t][1] + 1 for t in moved if before[t][1] > 5)


def test_the_cli_answers_alike_after_an_edit(tmp_path: Path) -> None:
    """Through the CLI as a person runs it: `library import`, an edit, then `library check` answers as a
    library imported from the edited document does."""
    env = cli_env(NOW)
    answers_of = []
    for folder, steps in (("edited", [document(), edits(document())[3][1]]), ("scratch", [edits(document())[3][1]])):
        where = tmp_path / folder
        where.mkdir()
        write_config(where, '[bot]\ndb = "bot.db"\n[library]\npaths = ["log.md"]\n')
        for text in steps:
            (where / "log.md").write_text(text, encoding="utf-8")
            done = subprocess.run([sys.executable, "-m", "bot", "-q", "library", "import"], cwd=where, env=env,
                                  capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
        done = subprocess.run([sys.executable, "-m", "bot", "library", "check", "--json", *QUERIES], cwd=where,
                              env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode in (0, 1), done.stderr
        # Entry ids are the database's own numbering: a from-scratch import numbers its rows anew.
        answers_of.append([{**a, "entry": {k: v for k, v in (a["entry"] or {}).items() if k != "id"}}
                           for a in json.loads(done.stdout)])
    assert answers_of[0] == answers_of[1]
    assert any(a["known"] for a in answers_of[0])


@pytest.mark.parametrize("case", [0, 2, 3, 6])
def test_sections_kept_far_apart_move_entry_by_entry_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           case: int) -> None:
    """Kept sections that follow each other are moved by one statement per run of them; past
    MERGED_RANGES runs, entry by entry: the same library either way."""
    import bot.store.library

    monkeypatch.setattr(bot.store.library, "MERGED_RANGES", 0)
    test_a_changed_document_reads_as_a_from_scratch_import(tmp_path, case)
