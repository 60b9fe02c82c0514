"""The library cache brought forward by the entries that changed (bot.library_cache deltas) answers
exactly as one built from scratch on the same database: random edits of the documents (lines added,
removed and changed, sections added, removed and moved, documents added and removed) and entries changed
by hand, each followed by a sync and a load; the index's matches (exact, title, fuzzy: which entry
keeps a shared key), the model's similarities (scores to the last bit, and which entries) and the taste
counts are compared with `library_cache.build` on the same database, and the index and model read from
the file (packed, views of it) with the simple ones (no packing) built from scratch."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

import bot.library.api as lib
from bot import library_cache
from bot.core.identity import Identity, normalize_title
from bot.relevance.taste import LibraryModel
from bot.relevance.words import tokens
from bot.store.database import Store

WORDS = ("sparse attention kernels retrieval agents quantized adapters speculative decoding reward models "
         "long context windows diffusion planning compilers memory caching tokenizer alignment").split()


def a_title(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 6))).capitalize()


def a_line(rng: random.Random, titles: list[str]) -> str:
    # Titles and links repeat (within and across documents), so who keeps a shared key matters.
    title = rng.choice(titles) if titles and rng.random() < 0.3 else a_title(rng)
    if rng.random() < 0.4:  # a typo of another title: found fuzzily
        words = title.split()
        k = rng.randrange(len(words))
        if len(words[k]) > 4:
            words[k] = words[k][:2] + words[k][3] + words[k][2] + words[k][4:]
        title = " ".join(words)
    titles.append(title)
    url = f"https://blog{rng.randrange(6)}.example/{rng.randrange(60)}"
    return f"* [{title}]({url})" if rng.random() < 0.9 else f"* “{title}” by someone (2021)"


def a_section(rng: random.Random, titles: list[str]) -> list[str]:
    return [f"## {rng.randint(1, 28)} May 2023", *(a_line(rng, titles) for _ in range(rng.randint(1, 9))), ""]


def edit(rng: random.Random, lines: list[str], titles: list[str]) -> str:
    """One edit as a person makes it; returns what it was."""
    kind = rng.choice(["add", "add", "remove", "change", "section", "drop section", "move section"])
    at = rng.randrange(len(lines) + 1)
    if kind == "add" or not lines:
        lines.insert(at, a_line(rng, titles))
    elif kind == "remove":
        del lines[min(at, len(lines) - 1)]
    elif kind == "change":
        lines[min(at, len(lines) - 1)] = a_line(rng, titles)
    else:
        heads = [i for i, line in enumerate(lines) if line.startswith("## ")]
        if kind == "section" or len(heads) < 2:
            lines[at:at] = a_section(rng, titles)
        else:
            k = rng.randrange(len(heads) - 1)
            section = lines[heads[k]:heads[k + 1]]
            del lines[heads[k]:heads[k + 1]]
            if kind == "move section":
                to = rng.choice([i for i, line in enumerate(lines) if line.startswith("## ")] + [len(lines)])
                lines[to:to] = section
    return kind


def identities(q: str) -> set[Identity]:
    return {Identity("url", q.replace("https://", ""))} if q.startswith("http") else {Identity("title", normalize_title(q))}


def answers(cache: library_cache.LibraryCache, queries: list[str]) -> dict[str, Any]:
    matches = [cache.index.match(identities(q)) for q in queries]
    return {"matches": matches, "similar": [cache.model.similar(tokens(q)) for q in queries],
            "taste": dict(cache.taste_counts), "taste_entries": cache.taste_entries, "size": cache.model.size,
            "titles": cache.model.titles, "idf": cache.model.idf}


def queries(rng: random.Random, titles: list[str]) -> list[str]:
    found = list(dict.fromkeys(titles))
    for title in found[:]:  # typos of known titles, each typo-equal to the title and to its variants
        words = title.split()
        for k, word in enumerate(words):
            if len(word) > 5:
                found.append(" ".join([*words[:k], word[:-2] + word[-1] + word[-2], *words[k + 1:]]))
    found += [f"https://blog{b}.example/{n}" for b in range(6) for n in range(0, 60, 7)]
    found += [a_title(rng) for _ in range(20)]
    return found


def counting_builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    built: list[int] = []
    real = library_cache.build

    def build(store: Store) -> library_cache.LibraryCache:
        built.append(1)
        return real(store)

    monkeypatch.setattr(library_cache, "build", build)
    return built


@pytest.mark.parametrize("seed", [0, 1, *(pytest.param(s, marks=pytest.mark.slow) for s in range(2, 6))])
def test_random_edits_answer_as_a_cache_built_from_scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           seed: int) -> None:
    rng = random.Random(seed)
    titles: list[str] = []
    docs = {tmp_path / "log.md": ["## 2023 Log"], tmp_path / "notes.md": ["# Notes"]}
    for lines in docs.values():
        for _ in range(8):
            lines.extend(a_section(rng, titles))
    for path, lines in docs.items():
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = Store.open(tmp_path / "bot.db")
    lib.sync_library(store, list(docs))
    library_cache.load(store)
    built = counting_builds(monkeypatch)
    kinds = []
    for step in range(25):
        path = rng.choice(list(docs))
        if step == 12:  # a third document comes, another leaves
            docs[tmp_path / "more.md"] = a_section(rng, titles) + a_section(rng, titles)
            del docs[tmp_path / "notes.md"]
            kinds.append("documents")
            path = tmp_path / "more.md"
        elif step % 8 == 3:  # an entry goes under review (the bot's own appended line), another leaves it
            store.db.execute("update log_review set verdict = 'kept'")
            entry = rng.choice(list(store.library_entries()))
            for kind, value in store.entries_with_identities([entry.id])[entry.id][1]:
                if kind != "title":
                    store.db.execute("insert into identities (kind, value, owner, owner_id) values (?, ?, 'item', ?)",
                                     [kind, value, 1000 + step])
            store.db.execute("insert into log_review (item_id, line, appended) values (?, 'x', 'then')", [1000 + step])
            kinds.append("review")
        elif step % 8 == 7:  # by hand, not through a document: a title changed, an entry's line moved
            entry = rng.choice(list(store.library_entries()))
            new = a_title(rng)
            store.db.execute("update library_entries set title = ? where id = ?", [new, entry.id])
            store.db.execute("update identities set value = ? where owner = 'entry' and owner_id = ? and kind = 'title'",
                             [normalize_title(new), entry.id])
            other = rng.choice(list(store.library_entries()))
            store.db.execute("update library_lines set line = 1 where id = ?", [other.id])
            titles.append(new)
            kinds.append("by hand")
        else:
            for _ in range(rng.randint(1, 3)):
                kinds.append(edit(rng, docs[path], titles))
        for p, lines in docs.items():
            p.write_text("\n".join(lines) + "\n", encoding="utf-8")
        lib.sync_library(store, list(docs))
        if step % 10 == 9:  # as `bot library import` does: brought forward and written again whole
            library_cache.refresh(store)
            assert [h.kind for h in library_cache._chain(tmp_path / "bot.db.library-cache")] == [b"B"]
        got = library_cache.load(store)
        want = library_cache.build(store)
        built.pop()  # the comparison's own build
        asked = queries(rng, titles)
        assert answers(got, asked) == answers(want, asked), (step, kinds[-3:])
        # and read back from the file (base and deltas replayed), alike
        read = library_cache.load(store)
        assert answers(read, asked) == answers(want, asked), (step, kinds[-3:])
        # and the index (packed, views of the file, dictionaries over them) as the simple open index of
        # the same entries, built from scratch (bot.library.api.build_index: no packing)
        simple = lib.build_index(store)
        assert [read.index.match(q) for q in map(identities, asked)] == \
            [simple.match(q) for q in map(identities, asked)], (step, kinds[-3:])
        # and the model as one with its words and titles in plain dictionaries, built from scratch
        under = set(store.entries_under_review())
        plain = LibraryModel.build(((e.id, e.title or "", e.text or "", e.urls) for e in store.library_entries()
                                    if e.id not in under), packed=False)
        assert [read.model.similar(tokens(q)) for q in asked] == [plain.similar(tokens(q)) for q in asked], step
    # Brought forward, not rebuilt, except where entries moved among each other (a moved section) or
    # documents changed their order.
    assert len(built) <= kinds.count("move section") + kinds.count("documents") + 2, kinds


def test_a_one_line_edit_is_a_delta_not_a_rebuild(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(1)
    titles: list[str] = []
    lines = ["## 2023 Log"]
    for _ in range(30):
        lines.extend(a_section(rng, titles))
    log = tmp_path / "log.md"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = Store.open(tmp_path / "bot.db")
    lib.import_documents(store, [log])
    library_cache.refresh(store)
    path = tmp_path / "bot.db.library-cache"
    size = path.stat().st_size
    built = counting_builds(monkeypatch)
    lines.insert(len(lines) // 2, "* [Speculative decoding with tiny drafts](https://hand.example/1)")
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    lib.sync_library(store, [log])
    cache = library_cache.load(store)
    assert built == []
    match = cache.index.match({Identity("url", "hand.example/1")})
    assert match is not None and match.owner == "entry"
    chain = library_cache._chain(path)
    assert [h.kind for h in chain] == [b"B", b"D"] and chain[-1].after == library_cache.state_key(store)
    assert path.stat().st_size - size < 10_000  # the delta, not the cache again
    # The change log keeps the rows since the base only once a base is written again.
    assert library_cache.refresh(store) is False


def _one_entry_library(tmp_path: Path) -> tuple[Path, Store]:
    """A log of one entry and a fresh database beside it (not synced yet)."""
    log = tmp_path / "log.md"
    log.write_text("## 1 May 2023\n* [Sparse attention kernels for long context](https://a.example/1)\n",
                   encoding="utf-8")
    return log, Store.open(tmp_path / "bot.db")


def test_a_restored_database_is_not_brought_forward_by_another_history(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A database copied back from before the cache's last state: its change log's later rows are not
    the ones the cache read (the nonce differs), so the cache is built again, never replayed onto it."""
    import shutil

    log, store = _one_entry_library(tmp_path)
    lib.sync_library(store, [log])
    library_cache.load(store)
    store.close()
    shutil.copy(tmp_path / "bot.db", tmp_path / "backup.db")
    store = Store.open(tmp_path / "bot.db")
    log.write_text(log.read_text() + "* [Quantized adapters for retrieval agents](https://b.example/2)\n")
    lib.sync_library(store, [log])
    library_cache.load(store)  # the cache moves on to a state the backup never had
    store.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{tmp_path / 'bot.db'}{suffix}").unlink(missing_ok=True)
    shutil.copy(tmp_path / "backup.db", tmp_path / "bot.db")
    store = Store.open(tmp_path / "bot.db")
    log.write_text(log.read_text().replace("b.example/2", "c.example/3"))
    store.db.execute("update library_documents set size = -1")  # read again
    lib.sync_library(store, [log])
    built = counting_builds(monkeypatch)
    cache = library_cache.load(store)
    assert cache.index.match({Identity("url", "c.example/3")}) is not None
    assert cache.index.match({Identity("url", "b.example/2")}) is None
    assert answers(cache, ["Quantized adapters for retrieval agents"]) == \
        answers(library_cache.build(store), ["Quantized adapters for retrieval agents"])
    assert len(built) == 2  # the load's and the comparison's


def test_a_title_added_above_a_similar_one_is_found_first_as_from_scratch(tmp_path: Path) -> None:
    """Two library titles a typo apart share a fuzzy block; a query a typo from both names the one that
    comes first in the documents. A line added above the older one comes first, though its entry is
    newer: the delta puts it before it in the block, as a build from scratch does."""
    log = tmp_path / "log.md"
    lines = ["## 1 May 2023", *(f"* [Filler entry number {n} about caching](https://f.example/{n})" for n in range(5)),
             "* [Efficient finetuning of quantized language models](https://a.example/1)"]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = Store.open(tmp_path / "bot.db")
    lib.sync_library(store, [log])
    library_cache.load(store)
    query = {Identity("title", normalize_title("Efficient finetuninq of quantized language models"))}
    lines.insert(1, "* [Efficient finetunign of quantized language models](https://b.example/2)")
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    lib.sync_library(store, [log])
    got, want = library_cache.load(store).index.match(query), library_cache.build(store).index.match(query)
    assert got == want and want is not None and want.value == normalize_title(lines[1][3:lines[1].index("]")])


def test_library_import_prunes_the_change_log_a_poll_does_not(tmp_path: Path) -> None:
    log, store = _one_entry_library(tmp_path)
    lib.import_documents(store, [log])
    library_cache.refresh(store)
    rows = store.db.execute("select count(*) from library_changes").fetchone()[0]
    assert rows == 1  # the row naming the state the cache is at
    log.write_text(log.read_text() + "* [Quantized adapters for retrieval agents](https://b.example/2)\n")
    lib.sync_library(store, [log])
    library_cache.load(store)
    assert store.db.execute("select count(*) from library_changes").fetchone()[0] > 1
    assert library_cache.refresh(store) is False  # already brought forward by the load
    lib.import_documents(store, [log])
    log.write_text(log.read_text() + "* [Reward models for planning](https://c.example/3)\n")
    lib.import_documents(store, [log])
    assert library_cache.refresh(store) is True
    assert store.db.execute("select count(*) from library_changes").fetchone()[0] == 1


def test_a_change_log_emptied_by_hand_rebuilds(tmp_path: Path) -> None:
    log, store = _one_entry_library(tmp_path)
    lib.sync_library(store, [log])
    library_cache.load(store)
    store.db.execute("delete from library_changes")
    log.write_text(log.read_text() + "* [Quantized adapters for retrieval agents](https://b.example/2)\n")
    lib.sync_library(store, [log])
    cache = library_cache.load(store)
    assert cache.index.match({Identity("url", "b.example/2")}) is not None
    assert answers(cache, ["Quantized adapters for retrieval agents"]) == \
        answers(library_cache.build(store), ["Quantized adapters for retrieval agents"])
