"""The library cache's packed tables (bot.library.packed) answer as the dictionaries they replace: the
identity index frozen or not, the model's words and titles, the taste counts and weights, whatever the
hashes collide on, after the switch to a dictionary for many lookups, pickled and read back."""

from __future__ import annotations

import math
import pickle
import random
from collections import Counter

import pytest

from bot.core.identity import Identity, normalize_title
from bot.library import packed
from bot.library.matcher import IdentityIndex
from bot.relevance.taste import (
    TASTE_MAX_WEIGHT,
    TASTE_MIN_ENTRIES,
    EntryTitles,
    LibraryModel,
    TasteModel,
    WordCounts,
)
from bot.relevance.words import tokens

WORDS = ("sparse attention kernels retrieval agents quantized adapters speculative decoding reward models "
         "long context windows diffusion planning compilers memory caching tokenizer alignment naïve "
         "\udcff").split()


@pytest.fixture(params=["crc32", "colliding"])
def hashes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs with the real hash and with one under which most keys collide (each candidate
    must be confirmed against the key itself)."""
    if request.param == "colliding":
        monkeypatch.setattr(packed, "key_hash", lambda key: len(key) % 3)
    return str(request.param)


@pytest.fixture(params=[packed.DICT_AFTER, 3])
def dict_after(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(packed, "DICT_AFTER", request.param)
    return int(request.param)


def a_title(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6)))


@pytest.mark.parametrize("items", [["", "a", "naïve", "\udcff lone surrogate", "tab\tand\nnewline", "日本語"],
                                   ["a NUL \0 inside", "", "b"], [""], []])
def test_strings_round_trip_any_text(items: list[str]) -> None:
    """Read one by one or all at once (one split of the blob when no string holds a NUL)."""
    strings = packed.Strings(items)
    assert strings.plain == (not any("\0" in s for s in items))
    assert list(strings) == items and [strings[n] for n in range(len(items))] == items and len(strings) == len(items)
    with pytest.raises(IndexError):
        strings[len(items)]
    for protocol in (4, 5):
        assert list(pickle.loads(pickle.dumps(strings, protocol=protocol))) == items


def test_key_table_finds_each_key_and_nothing_else(hashes: str, dict_after: int) -> None:
    keys = [f"key {n}" for n in range(50)] + ["", "naïve", "\udcff"]
    table = packed.KeyTable(keys)
    strings = packed.Strings(keys)

    def find(key: str) -> int:
        return table.find(key, lambda n, k: strings[n] == k, lambda: ((k, n) for n, k in enumerate(strings)))

    for _ in range(2):  # the second time past DICT_AFTER lookups (a dictionary), when it is small
        assert [find(k) for k in keys] == list(range(len(keys)))
        assert find("key 50") == -1 and find("other") == -1
    read = pickle.loads(pickle.dumps(table))
    assert read.find("naïve", lambda n, k: strings[n] == k, lambda: iter(())) == keys.index("naïve")


def an_index(rng: random.Random, n: int) -> list[tuple[int, list[Identity]]]:
    owners = []
    for owner_id in range(n):
        idents = [Identity("title", normalize_title(a_title(rng)))]
        if rng.random() < 0.8:
            idents.append(Identity("url", f"blog{rng.randrange(4)}.example/{rng.randrange(40)}"))
        if rng.random() < 0.2:
            idents.append(Identity("arxiv", f"2301.{rng.randrange(30):05d}"))
        owners.append((owner_id, idents))
    return owners


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_frozen_index_answers_as_the_open_one(seed: int, hashes: str, dict_after: int) -> None:
    """Same matches (rule, owner, value), same holders and owners of shared keys, same fuzzy blocks in
    the same order; and after the same changes (keys set, removed, added) still the same."""
    rng = random.Random(seed)
    entries = an_index(rng, 150)
    open_, frozen = IdentityIndex(), IdentityIndex()
    for index in (open_, frozen):
        for owner_id, idents in entries:
            index.add("entry", owner_id, idents)
    frozen.freeze()
    frozen = pickle.loads(pickle.dumps(frozen))
    queries = [{Identity("title", normalize_title(a_title(rng)))} for _ in range(200)]
    queries += [set(idents) for _, idents in entries]
    queries += [{Identity("url", f"blog{b}.example/{k}")} for b in range(5) for k in range(0, 45, 3)]

    def answers(index: IdentityIndex) -> list[object]:
        found: list[object] = [index.match(q) for q in queries]
        for q in queries:
            for ident in q:
                if ident.kind == "title":
                    key = ident.value.replace(" ", "")
                    found.append((index.title_holder(key), index.title_owners(key)))
                else:
                    found.append((index.exact_holder((ident.kind, ident.value)),
                                  index.exact_owners((ident.kind, ident.value))))
        found.append(len(index))
        return found

    assert answers(frozen) == answers(open_)
    for index in (open_, frozen):  # the same changes, as a delta makes them
        index.set_exact(("url", "blog1.example/3"), [])
        index.set_exact(("url", "new.example/1"), [("entry", 500)])
        some = next(i.value for _, idents in entries for i in idents if i.kind == "title")
        index.set_title(some.replace(" ", ""), [])
        index.add("item", 900, [Identity("title", "a title the items bring along"), Identity("hn", "123")])
    assert answers(frozen) == answers(open_)


def test_entry_titles_as_a_dictionary(hashes: str) -> None:
    plain = {n: f"title {n}" for n in range(0, 40, 3)}
    titles = EntryTitles(dict(plain))
    for mapping in (plain, titles):
        del mapping[3]
        mapping[4] = "four"
        mapping[6] = "six again"
    assert dict(titles) == plain and len(titles) == len(plain) and titles == plain
    assert titles.get(3) is None and titles.get(4) == "four" and 3 not in titles
    with pytest.raises(KeyError):
        del titles[3]
    assert pickle.loads(pickle.dumps(titles)) == plain


def test_word_counts_as_a_counter(hashes: str) -> None:
    rng = random.Random(5)
    plain: Counter[str] = Counter(rng.choice(WORDS) for _ in range(300))
    counts = WordCounts(plain)
    assert dict(counts) == dict(plain) and list(counts) == list(plain)
    for word in WORDS + ["unseen"]:
        step = rng.choice([-3, -1, 1, 2])
        for mapping in (plain, counts):
            now = mapping.get(word, 0) + step
            if now > 0:
                mapping[word] = now
            elif word in mapping:
                del mapping[word]
    assert dict(counts) == {w: c for w, c in plain.items() if c > 0} and len(counts) == len(dict(counts))
    assert pickle.loads(pickle.dumps(counts)) == counts
    with pytest.raises(ValueError):
        counts["x"] = 0


def eager_weights(lib_df: Counter[str], n_lib: int, background: list[list[str]]) -> dict[str, float]:
    """TasteModel.from_library_counts as it computed every word's weight at once (the simple path)."""
    bg_df: Counter[str] = Counter()
    for words in background:
        bg_df.update(set(words))
    weights = {}
    for word, count in lib_df.items():
        if count < TASTE_MIN_ENTRIES or word.startswith("site:"):
            continue
        odds = math.log((count / n_lib) / ((bg_df.get(word, 0) + 1) / (len(background) + 2)))
        if odds > 0:
            weights[word] = min(odds, TASTE_MAX_WEIGHT)
    return weights


@pytest.mark.parametrize("seed", [0, 1])
def test_taste_weights_are_those_computed_at_once_to_the_bit(seed: int, hashes: str) -> None:
    rng = random.Random(seed)
    library = [tokens(a_title(rng)) + (["site:blog.example"] if rng.random() < 0.3 else []) for _ in range(200)]
    background = [tokens(a_title(rng)) for _ in range(150)]
    lib_df, n_lib = TasteModel.library_counts(library)
    want = eager_weights(lib_df, n_lib, background)
    for counts in (lib_df, WordCounts(lib_df)):
        model = TasteModel.from_library_counts(counts, n_lib, background)
        probe = list(WORDS) + ["site:blog.example", "unseen"]
        assert {w: model.weights[w] for w in probe if w in model.weights} == {w: want[w] for w in probe if w in want}
        assert dict(model.weights) == want and list(model.weights) == list(want) and len(model.weights) == len(want)
        for _ in range(20):
            words = tokens(a_title(rng))
            found = sorted(((want[w], w) for w in set(words) if w in want), reverse=True)[:4]
            assert model.taste(words) == (1.0 - math.exp(-sum(v for v, _ in found) / 6.0), [w for _, w in found])


@pytest.mark.parametrize("seed", [0, 1])
def test_a_packed_model_scores_as_an_unpacked_one_to_the_bit(seed: int, hashes: str, dict_after: int) -> None:
    rng = random.Random(seed)
    entries = [(n, a_title(rng), a_title(rng) if rng.random() < 0.5 else "", [f"https://blog{n % 3}.example/{n}"])
               for n in range(120)]
    simple = LibraryModel.build(entries, packed=False)
    model = pickle.loads(pickle.dumps(LibraryModel.build(entries)))
    queries = [tokens(a_title(rng)) for _ in range(60)]
    assert [model.similar(q) for q in queries] == [simple.similar(q) for q in queries]
    assert model.idf == simple.idf and dict(model.titles) == simple.titles
    for m in (simple, model):  # the same changes, as a delta makes them
        m.remove(5)
        m.remove(70)
        m.add(200, "a brand new word zyzzyva about attention", "", [])
        m.settle()
    assert [model.similar(q) for q in queries + [["zyzzyva", "attention"]]] == \
        [simple.similar(q) for q in queries + [["zyzzyva", "attention"]]]
    assert model.idf == simple.idf and dict(model.titles) == simple.titles
    again = model.compacted()
    assert [again.similar(q) for q in queries] == [simple.similar(q) for q in queries]


def test_changes_to_common_words_leave_scores_as_from_scratch() -> None:
    """A word in more than a fifth of the library counts in no entry's norm: its entries are not
    computed again when only its frequency changes (settle), and the scores stay those of a model built
    from scratch on the entries as they are, to the bit; so do they when the cut itself moves."""
    rng = random.Random(3)
    entries = {n: (n, f"common words {a_title(rng)}", "", []) for n in range(60)}
    model = LibraryModel.build(entries.values())
    queries = [tokens(f"common {a_title(rng)}") for _ in range(40)]
    for step in range(6):
        gone = rng.sample(sorted(entries), 3 if step % 2 else 12)  # the cut moves when the size does
        for n in gone:
            model.remove(n)
            del entries[n]
        for n in range(100 + 10 * step, 100 + 10 * step + rng.randint(1, 9)):
            entries[n] = (n, f"common {a_title(rng)}", "", [])
            model.add(*entries[n])
        model.settle()
        want = LibraryModel.build(sorted(entries.values()), packed=False)
        assert [model.similar(q) for q in queries] == [want.similar(q) for q in queries], step
