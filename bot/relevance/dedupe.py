"""Merging and deduplication. Pure: items and an identity index in, decisions out.

Items from different sources that share any identity are one item (an HN story linking an arXiv
paper that arXiv also returned becomes one entry with both links). Each merged item is then known
(the library or an earlier item has it) or new.
"""

from __future__ import annotations

import zlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import chain
from typing import Any, Protocol

from bot.core.identity import Identity, fuzzy_block_keys, title_key, titles_fuzzy_equal, words_typo_equal
from bot.core.records import FeedItem, Match
from bot.library.matcher import RULE_ORDER, IdentityIndex


@dataclass(frozen=True, slots=True)  # slots: a big poll holds one per item (100,000 on 500x200)
class Candidate:
    item: FeedItem  # the merged view
    sources: tuple[str, ...]
    members: tuple[FeedItem, ...]


def merge(items: Sequence[FeedItem]) -> list[Candidate]:
    """Union-find over shared identities; order of first appearance is kept."""
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[Identity, int] = {}
    for i, item in enumerate(items):
        for ident in item.identities:
            j = owner.setdefault(ident, i)
            if j != i:
                a, b = find(i), find(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups: dict[int, list[FeedItem]] = {}
    for i, item in enumerate(items):
        groups.setdefault(find(i), []).append(item)
    return [combine(members) for _, members in sorted(groups.items())]


def combine(members: Sequence[FeedItem]) -> Candidate:
    """One view of several reports of the same thing: the article link over the discussion's (HN) link,
    a paper or blog title over a discussion's title, the first discussion, the longest summary, the
    largest counts, the earliest date."""
    first = members[0]
    if len(members) == 1 and len(set(first.categories)) == len(first.categories):
        return Candidate(first, (first.source,), (first,))  # most items are reported once: nothing to combine
    undiscussed = [m for m in members if not m.discussion] or list(members)
    best = undiscussed[0]
    # The article's own source knows its link best (arXiv's abs page over an HN submission's pdf link).
    ordered = [m for m in members if not m.discussion] + [m for m in members if m.discussion]
    url = next((m.url for m in ordered if m.url and not (m.discussion and m.url == m.discussion.url)), first.url)
    dates = [m.published for m in members if m.published]
    merged = replace(
        best,
        url=url,
        discussion=next((m.discussion for m in members if m.discussion), None),
        arxiv_id=next((m.arxiv_id for m in members if m.arxiv_id), None),
        doi=next((m.doi for m in members if m.doi), None),
        published=min(dates) if dates else None,
        summary=max((m.summary for m in members), key=len),
        points=max((m.points for m in members if m.points is not None), default=None),
        comments=max((m.comments for m in members if m.comments is not None), default=None),
        categories=tuple(dict.fromkeys(c for m in members for c in m.categories)),
        identities=frozenset().union(*(m.identities for m in members)),
        version=max(m.version for m in members),
    )
    return Candidate(merged, tuple(dict.fromkeys(m.source for m in members)), tuple(members))


@dataclass(frozen=True, slots=True)
class Decision:
    candidate: Candidate
    match: Match | None  # None: new

    @property
    def known(self) -> bool:
        return self.match is not None


def decide(candidates: Sequence[Candidate], index: IdentityIndex,
           found: Sequence[Match | None] | None = None) -> list[Decision]:
    """Known or new for each candidate. Each is looked up in `index` (the library and the stored items;
    `found` holds those lookups when processes that shared the work made them). One that the index does
    not know is then looked up among the new candidates before it, and joins them if none matches, so
    two candidates that only a fuzzy title links are not both new. The index itself is left as it was."""
    if found is None:
        found = [index.match(c.item.identities) for c in candidates]
    pending = Pending(candidates, [n for n, match in enumerate(found) if match is None])
    return [pending.decide(n, match) for n, match in enumerate(found)]


class Pending:
    """The ordered pass of `decide`: this poll's new candidates, each looked up among the new ones before
    it, as an IdentityIndex they were added to in order would answer (rule "pending", the candidate's
    position as its id), but packed: the fuzzy blocks of every candidate that may turn out new are
    computed first into flat arrays (about 14 bytes each, 7 a title), and a candidate's come alive when
    it is added. An IdentityIndex keeps a list per block and a tuple per title in it: 100,000 new titles
    held 95 MB that way."""

    def __init__(self, candidates: Sequence[Candidate], unmatched: Iterable[int]) -> None:
        self._candidates = candidates
        self._exact: dict[Identity, int] = {}
        self._titles: dict[str, tuple[str, int]] = {}  # title key -> (normalized title, first owner)
        self._live = bytearray(len(candidates))  # 1: added (new); its blocks count from then on
        keys, numbers, words, titles = array("q"), array("l"), array("H"), []
        for n in unmatched:
            own: set[str] = set()
            for ident in candidates[n].item.identities:  # the order IdentityIndex.add reads them in
                if ident.kind != "title":
                    continue
                key = title_key(ident.value)
                if key in own:
                    continue  # a second spelling of its own title: the first keeps the key and the blocks
                own.add(key)
                split = ident.value.split()
                for block, word in fuzzy_block_keys(ident.value):
                    keys.append(block)
                    numbers.append(n)
                    words.append(split.index(word))
                    titles.append(ident.value)
        order = sorted(range(len(keys)), key=keys.__getitem__)  # stable: within a key, in the order added
        self._keys = array("q", (keys[i] for i in order))
        self._numbers = array("l", (numbers[i] for i in order))
        self._words = array("H", (words[i] for i in order))
        self._block_titles = [titles[i] for i in order]

    def decide(self, n: int, found: Match | None) -> Decision:
        """Candidate n (after every one before it), given what the index found for it."""
        candidate = self._candidates[n]
        match = found if found is not None else self.match(n)
        if match is None:
            self.add(n)
        return Decision(candidate, match)

    def add(self, n: int) -> None:
        for ident in self._candidates[n].item.identities:
            if ident.kind == "title":
                self._titles.setdefault(title_key(ident.value), (ident.value, n))
            else:
                self._exact.setdefault(ident, n)
        self._live[n] = 1

    def match(self, n: int) -> Match | None:
        """IdentityIndex.match among the candidates added before n: by rule, then fuzzy titles."""
        idents = list(self._candidates[n].item.identities)
        for ident in sorted((i for i in idents if i.kind in _RANK), key=_rule_then_value):
            if ident.kind == "title":
                held = self._titles.get(title_key(ident.value))
                if held is not None:
                    return Match("title", "pending", held[1], held[0])
                continue
            owner = self._exact.get(ident)
            if owner is not None:
                return Match(ident.kind, "pending", owner, ident.value)
        for ident in idents:
            if ident.kind != "title":
                continue
            for block, word in fuzzy_block_keys(ident.value):
                i = bisect_left(self._keys, block)
                while i < len(self._keys) and self._keys[i] == block:
                    other_n = self._numbers[i]
                    if other_n >= n:
                        break  # added later, if ever
                    if self._live[other_n]:
                        candidate = self._block_titles[i]
                        other = candidate.split()[self._words[i]]
                        if word != other and words_typo_equal(word, other) and titles_fuzzy_equal(ident.value,
                                                                                                  candidate):
                            return Match("fuzzy_title", "pending", other_n, candidate)
                    i += 1
        return None


class StoredIdentities(Protocol):
    """The stored items' identities as the store answers for them (bot.store.identities)."""

    def first_item_owners(self, kind: str, values: Sequence[str]) -> dict[str, int]: ...

    def item_titles(self) -> Iterable[tuple[int, str]]: ...


_RANK = {kind: rank for rank, kind in enumerate(RULE_ORDER)}


def _rule_then_value(ident: Identity) -> tuple[int, str]:
    return _RANK[ident.kind], ident.value


def _key_hash(normalized: str) -> int:
    return zlib.crc32(title_key(normalized).encode())


Block = tuple[str, str, tuple[str, int]]  # (word left out, normalized title, owner): IdentityIndex's


class StoredTitles:
    """The stored items' titles, packed: what an IdentityIndex of every item (added in stored order,
    after the library) holds of them, in flat arrays instead of a dictionary entry per title and a list
    per fuzzy block (100,000 items: about 20 MB instead of over 100). A title whose key the library
    holds, or an earlier item, is not the item's (the first owner keeps it), so it is left out, as
    IdentityIndex.add leaves it out."""

    def __init__(self, rows: Iterable[tuple[int, str]], library: IdentityIndex) -> None:
        self._titles: list[str] = []
        self._owners = array("q")
        seen: set[str] = set()
        keys, numbers, words = array("q"), array("l"), array("H")
        for owner_id, normalized in rows:
            key = title_key(normalized)
            if key in seen or library.match([Identity("title", normalized)], fuzzy=False) is not None:
                continue
            seen.add(key)
            n = len(self._titles)
            self._titles.append(normalized)
            self._owners.append(owner_id)
            split = normalized.split()
            for block, word in fuzzy_block_keys(normalized):
                keys.append(block)
                numbers.append(n)
                words.append(split.index(word))
        # Exact titles by a hash of their key (each hit is checked against the title itself); crc32, not
        # hash(): the same in every process.
        by_hash = sorted(range(len(self._titles)), key=lambda n: _key_hash(self._titles[n]))
        self._hashes = array("q", (_key_hash(self._titles[n]) for n in by_hash))
        self._by_hash = array("l", by_hash)
        # Blocks by key; within a key in the order the titles were added (sorted() is stable).
        order = sorted(range(len(keys)), key=keys.__getitem__)
        self._keys = array("q", (keys[i] for i in order))
        self._numbers = array("l", (numbers[i] for i in order))
        self._words = array("H", (words[i] for i in order))

    def __len__(self) -> int:
        return len(self._titles)

    def exact(self, normalized: str) -> Match | None:
        key = title_key(normalized)
        h = _key_hash(normalized)
        i = bisect_left(self._hashes, h)
        while i < len(self._hashes) and self._hashes[i] == h:
            n = self._by_hash[i]
            if title_key(self._titles[n]) == key:
                return Match("title", "item", self._owners[n], self._titles[n])
            i += 1
        return None

    def block(self, block: int) -> Iterator[Block]:
        i = bisect_left(self._keys, block)
        while i < len(self._keys) and self._keys[i] == block:
            n = self._numbers[i]
            normalized = self._titles[n]
            yield normalized.split()[self._words[i]], normalized, ("item", self._owners[n])
            i += 1


class KnownIndex(IdentityIndex):
    """The library's index and the stored items, answering as one IdentityIndex holding the library's
    entries and then every stored item in stored order would (bot.library.api.build_index with both
    owners): the same rule, owner and value for every lookup, the library before the items. But the
    items stay in the database: their links and ids are looked up there in batches (the identities
    table's (kind, value) index), and their titles are read and packed (StoredTitles) only when some
    lookup gets as far as titles. A re-poll of what was stored costs memory for what it brought, not for
    everything ever seen."""

    def __init__(self, library: IdentityIndex, stored: StoredIdentities | None = None) -> None:
        super().__init__()  # holds nothing itself
        self.library = library
        self.stored = stored
        self._stored_titles: StoredTitles | None = None

    def __len__(self) -> int:
        return len(self.library)

    def __getstate__(self) -> dict[str, Any]:
        # For a worker process: the library's index and the stored titles as read, not the database
        # (a connection is this process's own); a worker only looks up fuzzily.
        self.stored_titles()
        return {**self.__dict__, "stored": None}

    def add(self, owner: str, owner_id: int, identities: Iterable[Identity]) -> None:
        raise TypeError("a KnownIndex is read-only: the library's index and the stored items")

    def stored_titles(self) -> StoredTitles | None:
        """The stored items' titles, read and packed once (before forked workers need them)."""
        if self._stored_titles is None and self.stored is not None:
            self._stored_titles = StoredTitles(self.stored.item_titles(), self.library)
        return self._stored_titles

    def match(self, identities: Iterable[Identity], fuzzy: bool = True) -> Match | None:
        idents = list(identities)
        found = self.exact_all([idents])[0]
        return self.fuzzy(idents) if found is None and fuzzy else found

    def exact_all(self, batch: Sequence[Iterable[Identity]], size: int = 2000) -> list[Match | None]:
        """The exact match (every rule but fuzzy_title) of each set of identities, the stored items'
        looked up `size` sets at a time."""
        found: list[Match | None] = []
        for start in range(0, len(batch), size):
            chunk = [list(idents) for idents in batch[start:start + size]]
            owners: dict[str, dict[str, int]] = {}
            if self.stored is not None:
                wanted: dict[str, list[str]] = {}
                for idents in chunk:
                    for ident in idents:
                        if ident.kind != "title":
                            wanted.setdefault(ident.kind, []).append(ident.value)
                owners = {kind: self.stored.first_item_owners(kind, values) for kind, values in wanted.items()}
            found.extend(self._exact_one(idents, owners) for idents in chunk)
        return found

    def _exact_one(self, idents: list[Identity], owners: dict[str, dict[str, int]]) -> Match | None:
        # IdentityIndex.match's order: by rule, each rule's identities sorted; at each one the library's
        # owner first (it was added first), then the first stored item's. The library's holders are read
        # one identity at a time: a poll asks this for every candidate, and match() per identity costs 5
        # times more.
        library_exact, library_titles = self.library.exact_holder, self.library.title_holder
        titles: StoredTitles | None = None
        for ident in sorted((i for i in idents if i.kind in _RANK), key=_rule_then_value):
            kind, value = ident.kind, ident.value
            if kind == "title":
                held = library_titles(title_key(value))
                if held is not None:
                    return Match("title", held[1][0], held[1][1], held[0])
                titles = titles or self.stored_titles()
                hit = titles.exact(value) if titles is not None else None
                if hit is not None:
                    return hit
                continue
            ref = library_exact((kind, value))
            if ref is not None:
                return Match(kind, ref[0], ref[1], value)
            owner = owners.get(kind, {}).get(value)
            if owner is not None:
                return Match(kind, "item", owner, value)
        return None

    def fuzzy(self, identities: Iterable[Identity]) -> Match | None:
        """The fuzzy-title match (for identities no exact rule matched), in IdentityIndex's order: each
        title, each of its blocks, the library's titles under it before the stored items'."""
        titles = self.stored_titles()
        for ident in identities:
            if ident.kind != "title":
                continue
            for block, word in fuzzy_block_keys(ident.value):
                under = self.library.block(block)  # the library's titles under the key, as its lookups read them
                for other, candidate, ref in chain(under, titles.block(block) if titles is not None else ()):
                    if word != other and words_typo_equal(word, other) and titles_fuzzy_equal(ident.value, candidate):
                        return Match("fuzzy_title", ref[0], ref[1], candidate)
        return None
