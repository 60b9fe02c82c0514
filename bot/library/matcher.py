"""In-memory identity index: is this thing already known, and by which rule? Pure.

Lookups are dictionary hits, in a fixed order of trust: arXiv id, HN id, DOI, canonical URL, exact
title, then a fuzzy title restricted to candidates that equal the query but for one word (so 100,000
library titles cost a handful of comparisons per query, not 100,000).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

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

    def _fuzzy(self, normalized: str) -> Match | None:
        # Under a shared key the titles are equal but for the words left out (an exact match would
        # have been found by title_key already), so only those two words need comparing.
        for block, word in fuzzy_block_keys(normalized):
            for other, candidate, ref in self._blocks.get(block, ()):
                # the full check only confirms a hit (block keys are hashes, which may collide)
                if word != other and words_typo_equal(word, other) and titles_fuzzy_equal(normalized, candidate):
                    return Match("fuzzy_title", ref[0], ref[1], candidate)
        return None
