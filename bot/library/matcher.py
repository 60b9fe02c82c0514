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
from itertools import count

from bot.core.identity import Identity, fuzzy_block_keys, title_key, titles_fuzzy_equal, words_typo_equal
from bot.core.records import Match
from bot.library import packed
from bot.library.packed import KeyTable, Strings

RULE_ORDER = ("arxiv", "hn", "doi", "url", "title")
Owner = tuple[str, int]
_ABSENT = object()


class IdentityIndex:
    def __init__(self) -> None:
        # What was added since `freeze` (all of it before), and what a delta set since: a key whose
        # value is None left (it is still in the packed tables below).
        self._exact: dict[tuple[str, str], Owner | None] = {}
        self._titles: dict[str, tuple[str, Owner] | None] = {}  # title_key -> (normalized, owner)
        # block key -> (word left out, normalized title, owner): see identity.fuzzy_block_keys
        self._blocks: dict[int, list[tuple[str, str, Owner]]] = defaultdict(list)
        # Everything added before `freeze`, packed (bot.library.packed: a few buffers to unpickle, not a
        # dictionary of 100,000 tuples). The identities other than titles as "kind\0value", and the
        # titles (normalized), each with its owner (a number in _owner_kinds, and the id); found by hash.
        self._owner_kinds: list[str] = []
        self._pe_keys = Strings()
        self._pe_kind = array("b")
        self._pe_id = array("q")
        self._pe_table = KeyTable()
        self._pt_titles = Strings()
        self._pt_kind = array("b")
        self._pt_id = array("q")
        self._pt_table = KeyTable()
        # The fuzzy-title blocks of those titles: block keys sorted, with the number of the title (in
        # _pt_titles) and of the word left out, in parallel arrays.
        self._frozen_keys = array("q")
        self._frozen_title = array("l")
        self._frozen_word = array("H")
        # Every owner of a key that more than one holds, the first (who keeps it) first: when the first
        # leaves the library, the next one keeps it (bot.library_cache brings the index forward so).
        self._exact_more: dict[tuple[str, str], list[Owner]] = {}
        self._title_more: dict[str, list[tuple[str, Owner]]] = {}
        # Blocks whose titles changed since `freeze`, in full (the packed arrays' share of them is stale).
        self._override: dict[int, list[tuple[str, str, Owner]]] = {}
        # The packed tables as dictionaries, once many lookups were made (_count_lookup).
        self._full: tuple[dict[tuple[str, str], Owner], dict[str, tuple[str, Owner]]] | None = None
        self._lookups = 0

    # -- the packed tables --------------------------------------------------------------------------
    def _packed_exact(self, key: tuple[str, str]) -> Owner | None:
        if not self._pe_id:  # not frozen (being built)
            return None
        n = self._pe_table.find(f"{key[0]}\0{key[1]}", self._same_exact, self._every_exact)
        return None if n < 0 else (self._owner_kinds[self._pe_kind[n]], self._pe_id[n])

    def _same_exact(self, n: int, key: str) -> bool:
        return self._pe_keys[n] == key

    def _every_exact(self) -> Iterator[tuple[str, int]]:
        return zip(self._pe_keys, count())

    def _packed_title(self, key: str) -> tuple[str, Owner] | None:
        if not self._pt_id:
            return None
        n = self._pt_table.find(key, self._same_title, self._every_title)
        return None if n < 0 else self._title_at(n)

    def _title_at(self, n: int) -> tuple[str, Owner]:
        return self._pt_titles[n], (self._owner_kinds[self._pt_kind[n]], self._pt_id[n])

    def _same_title(self, n: int, key: str) -> bool:
        return title_key(self._pt_titles[n]) == key

    def _every_title(self) -> Iterator[tuple[str, int]]:
        return ((title_key(normalized), n) for n, normalized in enumerate(self._pt_titles))

    def _exact_get(self, key: tuple[str, str]) -> Owner | None:
        found = self._exact.get(key, _ABSENT)
        if found is not _ABSENT:
            return found  # type: ignore[return-value]
        if self._full is None:
            self._count_lookup()
            if self._full is None:
                return self._packed_exact(key)
        return self._full[0].get(key)

    def _title_get(self, key: str) -> tuple[str, Owner] | None:
        found = self._titles.get(key, _ABSENT)
        if found is not _ABSENT:
            return found  # type: ignore[return-value]
        if self._full is None:
            self._count_lookup()
            if self._full is None:
                return self._packed_title(key)
        return self._full[1].get(key)

    def _count_lookup(self) -> None:
        """Past packed.DICT_AFTER lookups (a poll of thousands of items), the packed tables are read into
        dictionaries once (about 0.15 s for 100,000 entries): a dictionary hit costs a tenth of a search."""
        if not self._pe_id and not self._pt_id:
            return
        self._lookups += 1
        if self._lookups > packed.DICT_AFTER:
            kinds = self._owner_kinds
            exact: dict[tuple[str, str], Owner] = {}
            for key, kind_n, owner_id in zip(self._pe_keys, self._pe_kind, self._pe_id, strict=True):
                kind, value = key.split("\0", 1)
                exact[(kind, value)] = (kinds[kind_n], owner_id)
            titles = {title_key(normalized): (normalized, (kinds[kind_n], owner_id)) for normalized, kind_n, owner_id
                      in zip(self._pt_titles, self._pt_kind, self._pt_id, strict=True)}
            self._full = (exact, titles)

    def __getstate__(self) -> dict[str, object]:
        return {**self.__dict__, "_full": None, "_lookups": 0}

    def __len__(self) -> int:
        # The packed keys, and those set since: one that came counts, one that left does not.
        n = len(self._pe_id) + len(self._pt_id)
        n += sum((owner is not None) - (self._packed_exact(key) is not None) for key, owner in self._exact.items())
        n += sum((held is not None) - (self._packed_title(key) is not None) for key, held in self._titles.items())
        return n

    def add(self, owner: str, owner_id: int, identities: Iterable[Identity]) -> None:
        ref = (owner, owner_id)
        for ident in identities:
            if ident.kind == "title":
                key = title_key(ident.value)
                held = self._title_get(key)
                if held is not None:  # the first owner of a title keeps it (library before items)
                    self._title_more.setdefault(key, [held]).append((ident.value, ref))
                    continue
                self._titles[key] = (ident.value, ref)
                for block, word in fuzzy_block_keys(ident.value):
                    self._blocks[block].append((word, ident.value, ref))
            else:
                exact = (ident.kind, ident.value)
                first = self._exact_get(exact)
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
                    hit = self._title_get(title_key(ident.value))
                    if hit:
                        return Match("title", hit[1][0], hit[1][1], hit[0])
                    continue
                ref = self._exact_get((ident.kind, ident.value))
                if ref:
                    return Match(kind, ref[0], ref[1], ident.value)
        if fuzzy:
            for ident in by_kind.get("title", ()):
                found = self._fuzzy(ident.value)
                if found:
                    return found
        return None

    def freeze(self) -> None:
        """Packs everything added so far (bot.library.packed): an index of 100,000 library titles and
        links (700,000 fuzzy blocks) then pickles to a few flat buffers and loads in milliseconds, not
        tenths of a second (bot.library_cache). Lookups find the same owners, titles and blocks in the
        same order; what is added later goes to the dictionaries as before. Once only: on an empty
        index, before anything was set over it."""
        assert not self._pe_id and not self._pt_id and not self._override, "an index is frozen once"
        kinds = {name: n for n, name in enumerate(self._owner_kinds)}
        for owner in [*self._exact.values(), *(held[1] for held in self._titles.values() if held)]:
            if owner is not None and owner[0] not in kinds:
                kinds[owner[0]] = len(kinds)
        self._owner_kinds = list(kinds)
        exact = [(key, owner) for key, owner in self._exact.items() if owner is not None]
        self._pe_keys = Strings(f"{kind}\0{value}" for (kind, value), _ in exact)
        self._pe_kind = array("b", (kinds[owner[0]] for _, owner in exact))
        self._pe_id = array("q", (owner[1] for _, owner in exact))
        self._pe_table = KeyTable(self._pe_keys)
        titles = [held for held in self._titles.values() if held is not None]  # the order added
        self._pt_titles = Strings(normalized for normalized, _ in titles)
        self._pt_kind = array("b", (kinds[owner[0]] for _, owner in titles))
        self._pt_id = array("q", (owner[1] for _, owner in titles))
        self._pt_table = KeyTable(title_key(normalized) for normalized, _ in titles)
        number = {title_key(normalized): n for n, (normalized, _) in enumerate(titles)}
        packed = []
        for block, found in self._blocks.items():
            for word, normalized, _ref in found:
                packed.append((block, number[title_key(normalized)], normalized.split().index(word)))
        packed.sort(key=lambda p: (p[0], p[1]))  # by key; within a key, in the order added
        self._frozen_keys = array("q", (p[0] for p in packed))
        self._frozen_title = array("l", (p[1] for p in packed))
        self._frozen_word = array("H", (p[2] for p in packed))
        self._exact = {}
        self._titles = {}
        self._blocks = defaultdict(list)

    # -- brought forward by the entries that changed (bot.library_cache) -------------------------
    def exact_owners(self, key: tuple[str, str]) -> list[Owner]:
        """Every owner of an identity other than a title, in the order they were added."""
        more = self._exact_more.get(key)
        if more is not None:
            return list(more)
        first = self._exact_get(key)
        return [first] if first is not None else []

    def title_owners(self, key: str) -> list[tuple[str, Owner]]:
        """Every (normalized title, owner) under a title key, in the order they were added."""
        more = self._title_more.get(key)
        if more is not None:
            return list(more)
        first = self._title_get(key)
        return [first] if first is not None else []

    def exact_holder(self, key: tuple[str, str]) -> Owner | None:
        """The owner that keeps an identity other than a title (the first added), as match() finds it."""
        return self._exact_get(key)

    def title_holder(self, key: str) -> tuple[str, Owner] | None:
        """(normalized title, owner) that keeps a title key (the first added), as match() finds it."""
        return self._title_get(key)

    def block(self, block: int) -> list[tuple[str, str, Owner]]:
        """The titles under a fuzzy block key: (word left out, normalized title, owner), in order."""
        return list(self._block(block))

    def set_exact(self, key: tuple[str, str], owners: list[Owner]) -> None:
        """The owners of an identity, in the order a build from scratch adds them (the first keeps it)."""
        self._exact_more.pop(key, None)
        if not owners:
            self._exact[key] = None  # gone, also from the packed table
            return
        self._exact[key] = owners[0]
        if len(owners) > 1:
            self._exact_more[key] = list(owners)

    def set_title(self, key: str, owners: list[tuple[str, Owner]]) -> None:
        """As set_exact for a title key; the fuzzy blocks of a title that gained or lost the key are
        set apart (set_block)."""
        self._title_more.pop(key, None)
        if not owners:
            self._titles[key] = None  # gone, also from the packed table
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
            normalized, ref = self._title_at(self._frozen_title[i])
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
