"""In-memory identity index: is this thing already known, and by which rule? Pure.

Lookups are dictionary hits, in a fixed order of trust: arXiv id, HN id, DOI, canonical URL, exact
title, then a fuzzy title restricted to candidates that equal the query but for one word (so 100,000
library titles cost a handful of comparisons per query, not 100,000).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Iterator

from bot.core.identity import Identity, fuzzy_block_keys, title_key, titles_fuzzy_equal, words_typo_equal
from bot.core.records import Match

RULE_ORDER = ("arxiv", "hn", "doi", "url", "title")
Owner = tuple[str, int]


class IdentityIndex:
    def __init__(self) -> None:
        self._exact: dict[tuple[str, str], Owner] = {}
        self._titles: dict[str, tuple[str, Owner]] = {}  # title_key -> (normalized, owner)
        # block key -> (word left out, normalized title, owner): see identity.fuzzy_block_keys
        self._blocks: dict[int, list[tuple[str, str, Owner]]] = defaultdict(list)
        # The same for the titles added before `freeze`, packed: block keys sorted, with the number of
        # the title (in _frozen_titles) and of the word left out, in parallel arrays.
        self._frozen_keys = array("q")
        self._frozen_title = array("l")
        self._frozen_word = array("H")
        self._frozen_titles: list[tuple[str, Owner]] = []
        # Every owner of a key that more than one holds, the first (who keeps it) first: when the first
        # leaves the library, the next one keeps it (bot.library_cache brings the index forward so).
        self._exact_more: dict[tuple[str, str], list[Owner]] = {}
        self._title_more: dict[str, list[tuple[str, Owner]]] = {}
        # Blocks whose titles changed since `freeze`, in full (the packed arrays' share of them is stale).
        self._override: dict[int, list[tuple[str, str, Owner]]] = {}

    def __len__(self) -> int:
        return len(self._exact) + len(self._titles)

    def add(self, owner: str, owner_id: int, identities: Iterable[Identity]) -> None:
        ref = (owner, owner_id)
        for ident in identities:
            if ident.kind == "title":
                key = title_key(ident.value)
                held = self._titles.get(key)
                if held is not None:  # the first owner of a title keeps it (library before items)
                    self._title_more.setdefault(key, [held]).append((ident.value, ref))
                    continue
                self._titles[key] = (ident.value, ref)
                for block, word in fuzzy_block_keys(ident.value):
                    self._blocks[block].append((word, ident.value, ref))
            else:
                exact = (ident.kind, ident.value)
                first = self._exact.get(exact)
                if first is None:
                    self._exact[exact] = ref
                else:
                    self._exact_more.setdefault(exact, [first]).append(ref)

    def match(self, identities: Iterable[Identity], fuzzy: bool = True) -> Match | None:
        idents = list(identities)
        by_kind: dict[str, list[Identity]] = defaultdict(list)
        for ident in idents:
            by_kind[ident.kind].append(ident)
        for kind in RULE_ORDER:
            for ident in sorted(by_kind.get(kind, ())):
                if kind == "title":
                    hit = self._titles.get(title_key(ident.value))
                    if hit:
                        return Match("title", hit[1][0], hit[1][1], hit[0])
                    continue
                ref = self._exact.get((ident.kind, ident.value))
                if ref:
                    return Match(kind, ref[0], ref[1], ident.value)
        if fuzzy:
            for ident in by_kind.get("title", ()):
                found = self._fuzzy(ident.value)
                if found:
                    return found
        return None

    def freeze(self) -> None:
        """Packs the fuzzy-title blocks of the titles so far into arrays: an index of 100,000 library
        titles (700,000 blocks) then pickles to a few flat arrays and loads in milliseconds, not a second
        (bot.library_cache). Lookups find the same titles in the same order; titles added later go to
        the dictionary as before."""
        titles = list(self._titles.values())  # the order their blocks were added in
        number = {id(t): n for n, t in enumerate(titles)}
        packed = []
        for block, found in self._blocks.items():
            for word, normalized, _ref in found:
                n = number[id(self._titles[title_key(normalized)])]
                packed.append((block, n, normalized.split().index(word)))
        packed.sort(key=lambda p: (p[0], p[1]))  # by key; within a key, in the order added
        self._frozen_keys = array("q", (p[0] for p in packed))
        self._frozen_title = array("l", (p[1] for p in packed))
        self._frozen_word = array("H", (p[2] for p in packed))
        self._frozen_titles = titles
        self._blocks = defaultdict(list)

    # -- brought forward by the entries that changed (bot.library_cache) -------------------------
    def exact_owners(self, key: tuple[str, str]) -> list[Owner]:
        """Every owner of an identity other than a title, in the order they were added."""
        more = self._exact_more.get(key)
        if more is not None:
            return list(more)
        first = self._exact.get(key)
        return [first] if first is not None else []

    def title_owners(self, key: str) -> list[tuple[str, Owner]]:
        """Every (normalized title, owner) under a title key, in the order they were added."""
        more = self._title_more.get(key)
        if more is not None:
            return list(more)
        first = self._titles.get(key)
        return [first] if first is not None else []

    def exact_holder(self, key: tuple[str, str]) -> Owner | None:
        """The owner that keeps an identity other than a title (the first added), as match() finds it."""
        return self._exact.get(key)

    def title_holder(self, key: str) -> tuple[str, Owner] | None:
        """(normalized title, owner) that keeps a title key (the first added), as match() finds it."""
        return self._titles.get(key)

    def block(self, block: int) -> list[tuple[str, str, Owner]]:
        """The titles under a fuzzy block key: (word left out, normalized title, owner), in order."""
        return list(self._block(block))

    def set_exact(self, key: tuple[str, str], owners: list[Owner]) -> None:
        """The owners of an identity, in the order a build from scratch adds them (the first keeps it)."""
        self._exact_more.pop(key, None)
        if not owners:
            self._exact.pop(key, None)
            return
        self._exact[key] = owners[0]
        if len(owners) > 1:
            self._exact_more[key] = list(owners)

    def set_title(self, key: str, owners: list[tuple[str, Owner]]) -> None:
        """As set_exact for a title key; the fuzzy blocks of a title that gained or lost the key are
        set apart (set_block)."""
        self._title_more.pop(key, None)
        if not owners:
            self._titles.pop(key, None)
            return
        self._titles[key] = owners[0]
        if len(owners) > 1:
            self._title_more[key] = list(owners)

    def set_block(self, block: int, titles: list[tuple[str, str, Owner]]) -> None:
        """The titles under a block key, in the order a build from scratch adds them."""
        self._blocks.pop(block, None)
        self._override[block] = list(titles)

    def _block(self, block: int) -> Iterator[tuple[str, str, Owner]]:
        override = self._override.get(block)
        if override is not None:
            yield from override
            yield from self._blocks.get(block, ())
            return
        keys = self._frozen_keys
        i = bisect_left(keys, block)
        while i < len(keys) and keys[i] == block:
            normalized, ref = self._frozen_titles[self._frozen_title[i]]
            yield normalized.split()[self._frozen_word[i]], normalized, ref
            i += 1
        yield from self._blocks.get(block, ())

    def _fuzzy(self, normalized: str) -> Match | None:
        # Under a shared key the titles are equal but for the words left out (an exact match would
        # have been found by title_key already), so only those two words need comparing.
        for block, word in fuzzy_block_keys(normalized):
            for other, candidate, ref in self._block(block):
                # the full check only confirms a hit (block keys are hashes, which may collide)
                if word != other and words_typo_equal(word, other) and titles_fuzzy_equal(normalized, candidate):
                    return Match("fuzzy_title", ref[0], ref[1], candidate)
        return None
