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

    def __len__(self) -> int:
        return len(self._exact) + len(self._titles)

    def add(self, owner: str, owner_id: int, identities: Iterable[Identity]) -> None:
        ref = (owner, owner_id)
        for ident in identities:
            if ident.kind == "title":
                key = title_key(ident.value)
                if key in self._titles:
                    continue  # the first owner of a title keeps it (library before items)
                self._titles[key] = (ident.value, ref)
                for block, word in fuzzy_block_keys(ident.value):
                    self._blocks[block].append((word, ident.value, ref))
            else:
                self._exact.setdefault((ident.kind, ident.value), ref)

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

    def _block(self, block: int) -> Iterator[tuple[str, str, Owner]]:
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
