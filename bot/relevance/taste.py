"""What the person's library says about their taste (spec section 7). Pure: only processes data.

Two models of the library, both over the words of `bot.relevance.words`: `LibraryModel`, the TF-IDF
vectors of its entries, finds the entries an item resembles (their picks are the best signal of taste);
`TasteModel` weighs the words the things the library names use far more than the stream does.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bot.relevance.words import site_token, strip_urls, tokens

MIN_SHARED_WORDS = 2
MAX_POSTINGS_PER_ITEM = 4000
TASTE_MIN_ENTRIES = 2  # a word must recur in the library to say anything about taste
TASTE_MAX_WEIGHT = 4.0
TASTE_TOP_WORDS = 4
TASTE_SCALE = 6.0


@dataclass
class LibraryModel:
    """TF-IDF vectors of the library entries, with an inverted index so that scoring an item touches
    only entries sharing a word with it."""

    titles: dict[int, str] = field(default_factory=dict)
    idf: dict[str, float] = field(default_factory=dict)
    postings: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    size: int = 0

    @classmethod
    def build(cls, entries: Iterable[tuple[int, str, str, Sequence[str]]]) -> LibraryModel:
        """entries: (id, title, text, urls)."""
        docs: dict[int, Counter[str]] = {}
        titles: dict[int, str] = {}
        for entry_id, title, text, urls in entries:
            words = tokens(f"{title} {title} {strip_urls(text)}")
            for url in urls:
                site = site_token(url)
                if site:
                    words.append(site)
            if words:
                docs[entry_id] = Counter(words)
                titles[entry_id] = title or text[:80]
        n = len(docs)
        df: Counter[str] = Counter()
        for counts in docs.values():
            df.update(counts.keys())
        # Words in more than a fifth of the library are its common vocabulary, not a signal.
        idf = {w: math.log((1 + n) / (1 + d)) + 1.0 for w, d in df.items() if d <= max(3, n // 5)}
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for entry_id, counts in docs.items():
            vec = {w: (1 + math.log(c)) * idf[w] for w, c in counts.items() if w in idf}
            norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
            for w, v in vec.items():
                postings[w].append((entry_id, v / norm))
        return cls(titles=titles, idf=idf, postings=dict(postings), size=n)

    def similar(self, words: Sequence[str], top: int = 3) -> list[tuple[float, int]]:
        counts = Counter(w for w in words if w in self.idf)
        if not counts:
            return []
        vec = {w: (1 + math.log(c)) * self.idf[w] for w, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        acc: dict[int, float] = defaultdict(float)
        shared: Counter[int] = Counter()
        budget = MAX_POSTINGS_PER_ITEM
        # Rarest words first: they say the most, and their posting lists are short. Common words whose
        # lists would exceed the budget are left out, so a big library costs a bounded time per item.
        for w in sorted(vec, key=lambda word: len(self.postings.get(word, ()))):
            postings = self.postings.get(w, ())
            if len(postings) > budget:
                break
            budget -= len(postings)
            q = vec[w] / norm
            for entry_id, weight in postings:
                acc[entry_id] += q * weight
                shared[entry_id] += 1
        # One shared word between two short texts gives a high cosine and means nothing: an entry
        # resembles the item only when they share at least two informative words.
        best = sorted(((e, s) for e, s in acc.items() if shared[e] >= MIN_SHARED_WORDS),
                      key=lambda kv: -kv[1])[:top]
        return [(score, entry_id) for entry_id, score in best]


@dataclass
class TasteModel:
    """Which words the person's library uses far more than the stream of stories does: log-odds of a
    word's document frequency in the library against the background (recent items). Product and
    model names the person follows ("llama", "gpt") earn weight here without being topics."""

    weights: dict[str, float] = field(default_factory=dict)

    @classmethod
    def build(cls, library_docs: Iterable[Sequence[str]], background_docs: Iterable[Sequence[str]]) -> TasteModel:
        return cls.from_library_counts(*cls.library_counts(library_docs), background_docs)

    @staticmethod
    def library_counts(library_docs: Iterable[Sequence[str]]) -> tuple[Counter[str], int]:
        """The library's side (document frequencies, number of documents): what the library cache keeps."""
        lib_df: Counter[str] = Counter()
        n_lib = 0
        for words in library_docs:
            lib_df.update(set(words))
            n_lib += 1
        return lib_df, n_lib

    @classmethod
    def from_library_counts(cls, lib_df: Counter[str], n_lib: int,
                            background_docs: Iterable[Sequence[str]]) -> TasteModel:
        bg_df: Counter[str] = Counter()
        n_bg = 0
        for words in background_docs:
            bg_df.update(set(words))
            n_bg += 1
        weights = {}
        for word, count in lib_df.items():
            if count < TASTE_MIN_ENTRIES or word.startswith("site:"):
                continue
            odds = math.log((count / n_lib) / ((bg_df.get(word, 0) + 1) / (n_bg + 2)))
            if odds > 0:
                weights[word] = min(odds, TASTE_MAX_WEIGHT)
        return cls(weights)

    def taste(self, words: Iterable[str]) -> tuple[float, list[str]]:
        """(0..1, the words that carried it): the strongest few distinct words, summed and squashed."""
        found = sorted(((self.weights[w], w) for w in set(words) if w in self.weights), reverse=True)[:TASTE_TOP_WORDS]
        total = sum(v for v, _ in found)
        return 1.0 - math.exp(-total / TASTE_SCALE), [w for _, w in found]
