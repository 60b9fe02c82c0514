"""The stored items looked up in the database (bot.relevance.dedupe.KnownIndex, what
`library_cache.with_items` gives a poll) answer exactly as the in-memory index of the library and then
every stored item did: the same rule, owner and matched value for every lookup, the library before the
items, the first item in stored order before later ones, the first owner of a title keeping it. And the
ordered pass among a poll's new candidates, packed (dedupe.Pending), decides as an IdentityIndex of them
did."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from bot.core.identity import Identity, normalize_title
from bot.core.records import FeedItem, Match
from bot.library.matcher import IdentityIndex
from bot.relevance.dedupe import Candidate, Decision, KnownIndex, decide
from bot.store.database import Store
from tests.test_fuzzy_blocking import made_up_titles, typo


def in_memory(library: list[tuple[int, list[Identity]]], store: Store) -> IdentityIndex:
    """The index as `with_items` built it before: the entries, then every stored item in stored order."""
    index = IdentityIndex()
    for entry_id, idents in library:
        index.add("entry", entry_id, idents)
    grouped: dict[int, list[Identity]] = {}
    for kind, value, _owner, owner_id in sorted(store.identity_rows(owner="item"), key=lambda r: r[3]):
        grouped.setdefault(owner_id, []).append(Identity(kind, value))
    for owner_id, idents in grouped.items():
        index.add("item", owner_id, idents)
    return index


def made_up_identities(rng: random.Random, titles: list[str]) -> list[Identity]:
    """A few identities from small pools, so that the library, the items and the queries share many."""
    idents = [Identity("title", normalize_title(rng.choice(titles)))]
    if rng.random() < 0.2:  # a second title (an item merged from two reports), sometimes the same but spaced
        other = idents[0].value.replace(" ", "", 1) if rng.random() < 0.5 else normalize_title(rng.choice(titles))
        idents.append(Identity("title", other))
    if rng.random() < 0.8:
        idents.append(Identity("url", f"site{rng.randrange(300)}.example/p/{rng.randrange(3)}"))
    if rng.random() < 0.3:
        idents.append(Identity("arxiv", f"2401.{rng.randrange(200):05d}"))
    if rng.random() < 0.3:
        idents.append(Identity("hn", str(rng.randrange(200))))
    if rng.random() < 0.1:
        idents.append(Identity("doi", f"10.1000/{rng.randrange(60)}"))
    return idents


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_stored_items_in_the_database_answer_as_the_in_memory_index(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    titles = made_up_titles(rng, 300)
    titles += [" ".join(typo(w, rng) if rng.random() < 0.3 else w for w in t.split()) for t in titles[:200]]
    library = [(n, made_up_identities(rng, titles)) for n in range(1, 150)]
    store = Store.open(str(tmp_path / "bot.db"))
    item_ids = list(range(1, 500))
    rng.shuffle(item_ids)  # written out of order: "stored order" is the items' order, not the rows'
    with store.transaction():
        for item_id in item_ids:
            store.add_identities("item", item_id, made_up_identities(rng, titles))
    queries = [made_up_identities(rng, titles) for _ in range(3000)]

    oracle = in_memory(library, store)
    for frozen in (False, True):  # the library's index as built, and as the cache keeps it
        entries = in_memory(library, Store.open(":memory:"))
        if frozen:
            entries.freeze()
        known = KnownIndex(entries, store)
        expected = [oracle.match(q) for q in queries]
        assert [known.match(q) for q in queries] == expected
        # In batches, as a poll asks (every rule but fuzzy_title), then fuzzily those not found.
        exact = known.exact_all(queries, size=7)
        assert exact == [oracle.match(q, fuzzy=False) for q in queries]
        assert [m if m is not None else known.fuzzy(q) for m, q in zip(exact, queries, strict=True)] == expected
    # The cases that make the order matter did come up: both owners under each rule, fuzzy ones too.
    seen = Counter((m.rule, m.owner) for m in expected if m is not None)
    for rule in ("arxiv", "hn", "url", "title", "fuzzy_title"):
        assert seen[(rule, "entry")] and seen[(rule, "item")], seen
    assert any(m is None for m in expected)


def test_a_title_the_library_holds_is_the_library_entry_s_even_spelled_otherwise_by_an_item(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "bot.db"))
    with store.transaction():
        store.add_identities("item", 2, [Identity("title", "fewshot learners for code review")])
        store.add_identities("item", 1, [Identity("title", "few shot learners for code review"),
                                         Identity("url", "a.example/x")])
        store.add_identities("item", 3, [Identity("title", "attention is all you need")])
    library = IdentityIndex()
    library.add("entry", 7, [Identity("title", "attention is all you need")])
    known = KnownIndex(library, store)
    # The first stored item (id 1) keeps the title's key, with its own spelling.
    hit = known.match([Identity("title", "fewshot learners for code review")])
    assert hit is not None and (hit.rule, hit.owner, hit.owner_id, hit.value) == (
        "title", "item", 1, "few shot learners for code review")
    # A typo of a title both hold: the library's entry (the title is the library's), never the item.
    hit = known.match([Identity("title", "atention is all you need")])
    assert hit is not None and (hit.rule, hit.owner, hit.owner_id) == ("fuzzy_title", "entry", 7)
    # A link only an item holds is the item's, before any title rule.
    hit = known.match([Identity("title", "attention is all you need"), Identity("url", "a.example/x")])
    assert hit is not None and (hit.rule, hit.owner, hit.owner_id) == ("url", "item", 1)


def test_a_re_poll_of_what_was_stored_reads_no_stored_title(tmp_path: Path) -> None:
    """Every candidate found by its link: the stored titles are never read (nor held)."""
    store = Store.open(str(tmp_path / "bot.db"))
    with store.transaction():
        for n in range(1, 50):
            store.add_identities("item", n, [Identity("title", f"post number {n} of the feed"),
                                             Identity("url", f"a.example/{n}")])
    known = KnownIndex(IdentityIndex(), store)
    found = known.exact_all([[Identity("title", f"post number {n} of the feed"), Identity("url", f"a.example/{n}")]
                             for n in range(1, 50)])
    assert [m.owner_id if m else None for m in found] == list(range(1, 50))
    assert known._stored_titles is None


def test_a_typo_of_both_an_entry_and_an_item_is_read_block_by_block_the_library_first(tmp_path: Path) -> None:
    """Under one block key the library's titles come before the items'; across keys, the query's keys
    in order (an item under the first key before an entry under a later one), as the in-memory index."""
    stored = [(1, "quantized adapter tuning of kernels"), (2, "sparse expert routng for speech models")]
    entries = [(10, "quantized adapter tuning of kernals"), (9, "sparse expert routing for speach"),
               (8, "sparse expert routing for speech modls")]
    store = Store.open(str(tmp_path / "bot.db"))
    with store.transaction():
        for item_id, title in stored:
            store.add_identities("item", item_id, [Identity("title", title)])
    library = [(entry_id, [Identity("title", title)]) for entry_id, title in entries]
    queries = [[Identity("title", t)] for t in ("quantized adapter tuning of kernls",  # both, one block
                                                "sparse expert routing for speech models",  # two blocks
                                                "sparse expert routing for speach")]
    index = in_memory(library, Store.open(":memory:"))
    index.freeze()
    got = [KnownIndex(index, store).match(q) for q in queries]
    assert got == [in_memory(library, store).match(q) for q in queries]
    assert [(m.rule, m.owner, m.owner_id) if m else None for m in got] == [
        ("fuzzy_title", "entry", 10), ("fuzzy_title", "item", 2), ("title", "entry", 9)]


def decide_as_before(candidates: list[Candidate], found: list[Match | None]) -> list[Decision]:
    """The ordered pass with an IdentityIndex of the new candidates, as decide() made it before."""
    new = IdentityIndex()
    decisions = []
    for n, candidate in enumerate(candidates):
        match = found[n] or new.match(candidate.item.identities)
        if match is None:
            new.add("pending", n, candidate.item.identities)
        decisions.append(Decision(candidate, match))
    return decisions


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_the_packed_ordered_pass_decides_as_an_index_of_the_new_candidates(seed: int) -> None:
    rng = random.Random(seed)
    titles = made_up_titles(rng, 300)
    titles += [" ".join(typo(w, rng) if rng.random() < 0.3 else w for w in t.split()) for t in titles[:200]]
    candidates = [Candidate(item, ("s",), (item,)) for item in (
        FeedItem("s", "t", None, None, identities=frozenset(made_up_identities(rng, titles))) for _ in range(3000))]
    found: list[Match | None] = [Match("url", "entry", 1, "x") if rng.random() < 0.2 else None for _ in candidates]
    got = decide(candidates, IdentityIndex(), found)
    assert [d.match for d in got] == [d.match for d in decide_as_before(candidates, found)]
    rules = Counter(d.match.rule for d in got if d.match is not None and d.match.owner == "pending")
    assert rules["fuzzy_title"] and rules["title"] and rules["url"] and rules["arxiv"], rules
