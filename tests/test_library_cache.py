"""The library's identity index and model, cached beside the database: used while the library is as it
was, rebuilt whenever it changes (whoever changed it), and never read stale."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import bot.library.api as lib
from bot import library_cache
from bot.core.identity import Identity, normalize_title
from bot.store.database import Store
from tests.conftest import ROOT

FIRST = """## 2023 Log
## 27 May 2023
* ['QLoRA: Efficient Finetuning of Quantized Language Models'](https://arxiv.org/abs/2305.14314)
"""
ADDED = "* [Speculative decoding makes large model inference faster](https://example.org/speculative)\n"


def library(tmp_path: Path, text: str) -> Store:
    (tmp_path / "log.md").write_text(text, encoding="utf-8")
    store = Store.open(tmp_path / "bot.db")
    lib.import_documents(store, [tmp_path / "log.md"])
    return store


def title(text: str) -> set[Identity]:
    return {Identity("title", normalize_title(text))}


def no_rebuilds(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(store: Store) -> Any:
        raise AssertionError("rebuilt although the cache file was current")

    monkeypatch.setattr(library_cache, "build", refuse)


def test_a_current_cache_is_read_not_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = library(tmp_path, FIRST)
    built = library_cache.load(store)
    assert (tmp_path / "bot.db.library-cache").is_file()
    no_rebuilds(monkeypatch)
    cached = library_cache.load(store)
    assert cached.model.size == built.model.size == 1 and cached.taste_counts == built.taste_counts
    assert cached.index.match(title("QLoRA: efficient finetuning of quantized language models")) is not None


def test_a_library_import_invalidates_the_cache(tmp_path: Path) -> None:
    store = library(tmp_path, FIRST)
    assert library_cache.load(store).index.match(title("Speculative decoding makes large model inference faster")) is None
    (tmp_path / "log.md").write_text(FIRST + ADDED, encoding="utf-8")
    lib.import_documents(store, [tmp_path / "log.md"])
    fresh = library_cache.load(store)
    assert fresh.model.size == 2
    assert fresh.index.match(title("Speculative decoding makes large model inference faster")) is not None


def test_any_change_to_the_entries_invalidates_it_even_by_hand(tmp_path: Path) -> None:
    store = library(tmp_path, FIRST)
    library_cache.load(store)
    store.db.execute("update library_entries set title = 'Mixture of depths for efficient transformers'")
    store.db.execute("update identities set value = ? where owner = 'entry' and kind = 'title'",
                     [normalize_title("Mixture of depths for efficient transformers")])
    fresh = library_cache.load(store)
    assert fresh.index.match(title("Mixture of depths for efficient transformers")) is not None
    assert "mixture" in fresh.model.idf


def test_a_new_database_never_reads_the_old_ones_cache(tmp_path: Path) -> None:
    """Same path, same generation, another database (deleted and made again): its token differs."""
    store = library(tmp_path, FIRST)
    library_cache.load(store)
    store.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp_path / 'bot.db'}{suffix}").unlink(missing_ok=True)
    other = library(tmp_path, FIRST.replace("QLoRA: Efficient Finetuning of Quantized Language Models",
                                            "Ring attention with blockwise transformers for long contexts"))
    fresh = library_cache.load(other)
    assert fresh.index.match(title("QLoRA: efficient finetuning of quantized language models")) is None
    assert fresh.index.match(title("Ring attention with blockwise transformers for long contexts")) is not None


def test_a_damaged_cache_file_is_rebuilt(tmp_path: Path) -> None:
    store = library(tmp_path, FIRST)
    library_cache.load(store)
    path = tmp_path / "bot.db.library-cache"
    path.write_bytes(path.read_bytes()[:200])
    assert library_cache.load(store).model.size == 1


def test_fuzzy_title_keys_mean_the_same_in_every_process(tmp_path: Path) -> None:
    """The cache is written by one process and read by another, whose string hashes differ: a typo of a
    library title must still be found through the cached index."""
    library(tmp_path, FIRST).close()
    build = "from bot.store.database import Store; from bot import library_cache; library_cache.load(Store.open('bot.db'))"
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", build], cwd=tmp_path, env=env, check=True, timeout=60)
    store = Store.open(tmp_path / "bot.db")
    chain = library_cache._chain(tmp_path / "bot.db.library-cache")
    assert [head.after for head in chain] == [library_cache.state_key(store)]
    cached = library_cache._read(tmp_path / "bot.db.library-cache", chain)
    assert cached is not None
    match = cached.index.match(title("QLoRA: Efficient Finetunign of Quantized Language Models"))
    assert match is not None and match.rule == "fuzzy_title"


def test_a_lookup_reads_only_the_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = library(tmp_path, FIRST)
    library_cache.load(store)
    no_rebuilds(monkeypatch)
    lookup = library_cache.load(store, index_only=True)
    assert lookup.model.size == 0 and lookup.index.match(title("QLoRA: efficient finetuning of quantized language models"))
    assert library_cache.load(store).model.size == 1


TITLES = ["Efficient finetuning of quantized language models", "Efficient finetuning of quantized vision models",
          "Attention is all you need", "Speculative decoding for fast language model inference",
          "Ring attention with blockwise transformers", "Efficient fine tuning of quantized language models"]
QUERIES = ["Efficient finetunign of quantized language models", "Efficient finetuning of quantised vision models",
           "Speculative decoding for fast langauge model inference", "Ring attention with blockwise transformer",
           "Attention is all you need", "Something else entirely about databases", "Late addition about robotic arms",
           "Late addition about robotic armz"]


def test_a_frozen_index_finds_what_the_open_one_finds() -> None:
    """The cache packs the index's fuzzy-title blocks into arrays: same matches, same order of
    preference, and titles added afterwards (the stored items, this poll's) are found too."""
    from bot.library.matcher import IdentityIndex

    indexes = [IdentityIndex(), IdentityIndex()]
    for index in indexes:
        for n, text in enumerate(TITLES):
            index.add("entry", n, title(text))
    indexes[1].freeze()
    for index in indexes:
        index.add("item", 99, title("Late addition about robotic arms"))
    found = [[index.match(title(q)) for q in QUERIES] for index in indexes]
    assert found[0] == found[1]
    assert sum(m is not None and m.rule == "fuzzy_title" for m in found[1]) == 5  # all but the exact two and the unrelated one


def test_a_pickled_model_scores_as_the_model_built() -> None:
    """The cache keeps the model's postings packed in arrays, with the weights as built: read back, it
    scores as the model did."""
    import pickle

    from bot.relevance.taste import LibraryModel
    from bot.relevance.words import tokens

    model = LibraryModel.build((n, t, "", []) for n, t in enumerate(TITLES))
    read = pickle.loads(pickle.dumps(model))
    for q in QUERIES:
        assert read.similar(tokens(q)) == model.similar(tokens(q))
    assert read.idf == model.idf and read.titles == model.titles


def test_the_dated_log_is_the_document_with_the_most_dated_headings(tmp_path: Path) -> None:
    """Every command looks for the log among the library's documents (App): found by its headings."""
    from bot.library.documents import find_log

    (tmp_path / "notes.md").write_text("## 1 May 2023\n## Ideas\n## 2 May\n", encoding="utf-8")
    (tmp_path / "log.md").write_text("intro\n## 27 March 2023\r\n* a\n## 28 March\n##29 March\n### 30 March\n"
                                     "## 31 March 2023 \n## April notes\n", encoding="utf-8")
    assert find_log([tmp_path]) == tmp_path / "log.md"  # three dated headings against two
    (tmp_path / "log.md").write_text("## 27 March 2023\n## 28 March\n", encoding="utf-8")
    assert find_log([tmp_path]) is None  # fewer than three anywhere


def test_the_cache_is_read_in_place_and_travels_to_a_worker(tmp_path: Path) -> None:
    """The big arrays and blobs are read as views of the mapped file (no copy); such a cache pickled for
    another process (a spawned judging worker: protocol 4 or 5) is read there as the arrays again, and
    answers alike; a model read so can still be changed (its arrays thawed first)."""
    import pickle
    from array import array

    from bot.relevance.words import tokens

    store = library(tmp_path, FIRST + ADDED)
    built = library_cache.load(store)
    cached = library_cache.load(store)
    assert isinstance(cached.index._frozen_keys, memoryview) and isinstance(cached.model._pw, memoryview)
    queries = ["QLoRA: efficient finetunign of quantized language models", "speculative decoding inference"]

    def answers(cache: library_cache.LibraryCache) -> list[object]:
        return [cache.index.match(title(q)) for q in queries] + [cache.model.similar(tokens(q)) for q in queries]

    assert answers(cached) == answers(built)
    for protocol in (4, 5):
        sent = pickle.loads(pickle.dumps((cached.index, cached.model), protocol=protocol))
        assert isinstance(sent[0]._frozen_keys, array)
        assert answers(library_cache.LibraryCache(*sent)) == answers(built)
    cached.model.remove(cached.model._eid[0])
    cached.model.settle()
    assert isinstance(cached.model._df, array) and cached.model.size == built.model.size - 1


@pytest.mark.parametrize("damage", ["buffer count", "buffer length", "pickle length", "replaced"])
def test_a_damaged_part_or_a_file_replaced_under_its_head_lines_is_rebuilt(tmp_path: Path, damage: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Each part of a record says how long its pickle and its buffers are; lengths that do not add up to
    the part's place (a truncated or damaged buffer, whatever the head line says) are never read: the
    cache is built again. So is a file replaced between reading its head lines and mapping it."""
    import struct

    monkeypatch.setattr(library_cache, "OUT_OF_BAND", 0)  # every buffer beside its pickle, however small
    store = library(tmp_path, FIRST + ADDED)
    library_cache.load(store)
    path = tmp_path / "bot.db.library-cache"
    chain = library_cache._chain(path)
    data = bytearray(path.read_bytes())
    index_part = chain[0].start + chain[0].lens[0]  # the index: the first part with buffers beside it
    size, count = struct.unpack_from("<qq", data, index_part)
    if damage == "buffer count":
        struct.pack_into("<q", data, index_part + 8, count - 1)
    elif damage == "buffer length":
        assert count > 0
        first = struct.unpack_from("<q", data, index_part + 16)[0]
        struct.pack_into("<q", data, index_part + 16, first - 8)
    elif damage == "pickle length":
        struct.pack_into("<q", data, index_part, size + 8)
    else:
        data = bytearray(data.replace(library_cache.state_key(store).encode()[:20], b"x" * 20, 1))
    path.write_bytes(bytes(data))
    assert library_cache._read(path, chain) is None
    assert library_cache.load(store).index.match(title("Speculative decoding makes large model inference faster"))
