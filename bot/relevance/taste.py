"""What the person's library says about their taste (spec section 7). Pure: only processes data.

Two models of the library, both over the words of `bot.relevance.words`: `LibraryModel`, the TF-IDF
vectors of its entries, finds the entries an item resembles (their picks are the best signal of taste);
`TasteModel` weighs the words the things the library names use far more than the stream does.
"""

from __future__ import annotations

import heapq
import itertools
import math
from array import array
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field

from bot.library.packed import KeyTable, Strings, thawed
from bot.relevance.words import site_token, strip_urls, tokens

MIN_SHARED_WORDS = 2
MAX_POSTINGS_PER_ITEM = 4000
TASTE_MIN_ENTRIES = 2  # a word must recur in the library to say anything about taste
TASTE_MAX_WEIGHT = 4.0
TASTE_TOP_WORDS = 4
TASTE_SCALE = 6.0
_ABSENT = object()


@dataclass
class _Doc:
    """One entry's words for the model: (word, 1 + log count) in the order they first occur."""

    id: int
    title: str
    words: list[tuple[str, float]]


def _doc(entry_id: int, title: str, text: str, urls: Sequence[str]) -> _Doc | None:
    words = tokens(f"{title} {title} {strip_urls(text)}")
    for url in urls:
        site = site_token(url)
        if site:
            words.append(site)
    if not words:
        return None
    return _Doc(entry_id, title or text[:80], [(w, 1 + math.log(c)) for w, c in Counter(words).items()])


class EntryTitles(MutableMapping[int, str]):
    """Entry id -> title: those of a model as built packed (ids sorted, the titles in one blob: three
    buffers to unpickle, not 100,000 dictionary slots), with the changes since over them."""

    def __init__(self, titles: dict[int, str] | None = None) -> None:
        ids = sorted(titles or {})
        self._ids = array("q", ids)
        self._titles = Strings((titles or {})[i] for i in ids)
        self._changed: dict[int, str | None] = {}
        self._len = len(ids)

    def _packed(self, entry_id: int) -> str | None:
        at = bisect_left(self._ids, entry_id)
        return self._titles[at] if at < len(self._ids) and self._ids[at] == entry_id else None

    def get(self, entry_id: int, default: str | None = None) -> str | None:  # type: ignore[override]
        # Without Mapping.get's KeyError: a scorer asks for three titles per item.
        found = self._changed.get(entry_id, _ABSENT)
        title = self._packed(entry_id) if found is _ABSENT else found
        return default if title is None else title  # type: ignore[return-value]

    def __getitem__(self, entry_id: int) -> str:
        found = self._changed.get(entry_id, _ABSENT)
        title = self._packed(entry_id) if found is _ABSENT else found
        if title is None:
            raise KeyError(entry_id)
        return title  # type: ignore[return-value]

    def __setitem__(self, entry_id: int, title: str) -> None:
        if entry_id not in self:
            self._len += 1
        self._changed[entry_id] = title

    def __delitem__(self, entry_id: int) -> None:
        if entry_id not in self:
            raise KeyError(entry_id)
        self._changed[entry_id] = None
        self._len -= 1

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[int]:
        changed = self._changed
        for entry_id in self._ids:
            if changed.get(entry_id, "") is not None:
                yield entry_id
        for entry_id, title in changed.items():
            if title is not None and self._packed(entry_id) is None:
                yield entry_id


class LibraryModel:
    """TF-IDF vectors of the library entries, with an inverted index so that scoring an item touches
    only entries sharing a word with it.

    Kept as raw counts so that entries can come and go (bot.library_cache brings a cached model forward
    by the entries that changed instead of rebuilding it): per word its postings (entry, 1 + log count),
    whose number is the word's document frequency; per entry the sums that give its norm for any library
    size. IDF, the common-word cut and the norms are computed from those when asked, so the answers are
    those of a model built from scratch on the same entries. Entries are numbered in the order they
    came in (postings are in that order); a removed entry's number is dead, never reused."""

    def __init__(self) -> None:
        self.titles: MutableMapping[int, str] = {}
        self.size = 0  # entries with at least one word
        # word -> its number: the words of the model as built packed (word number k is _words[k]), and
        # those that came since in _vocab.
        self._vocab: dict[str, int] = {}
        self._words = Strings()
        self._word_table = KeyTable()
        self._every: dict[str, int] | None = None  # all of them in one dictionary, after many lookups
        self._df = array("l")  # by word number: how many live entries hold it
        # The postings packed when built (word number k: _pnum/_pt[_pstart[k]:_pstart[k + 1]]), and
        # those added since, per word number.
        self._pstart = array("q", [0])
        self._pnum = array("l")
        self._pt = array("d")
        self._added: dict[int, list[tuple[int, float]]] = {}
        # By entry number: its id, its words (word number, 1 + log count) and the sums of its norm.
        self._eid = array("q")
        self._estart = array("q", [0])
        self._ewno = array("l")
        self._et = array("d")
        self._sums = (array("d"), array("d"), array("d"))
        self._dead: set[int] = set()
        self._dirty: set[int] = set()  # entries whose sums wait to be computed (those added)
        # Words whose frequency changed (or crossed the common-word cut) since the model was built: an
        # entry holding one has its sums computed again when first asked after each batch of changes
        # (settle), and is then fresh until the next batch. A word, not its entries: a batch touching
        # common words would otherwise mark every entry of the library.
        self._stale: set[int] = set()
        self._fresh: set[int] = set()
        # Entry id -> number: the first _sorted entries came in id order (as built) and are found by a
        # search of _eid; those after them in _id_num, made when first needed.
        self._sorted = 0
        self._id_num: dict[int, int] | None = None
        # The weights as built (by posting), while nothing changed since: the common case reads them.
        self._pw: array[float] | None = None
        self._open: dict[int, list[tuple[int, float]]] = {}  # word number -> (entry id, weight), this state
        # Words whose frequency changed in the batch being applied, each with its frequency before it.
        self._touched: dict[int, int] | None = None
        self._size_before = 0

    # -- building ---------------------------------------------------------------------------------
    @classmethod
    def build(cls, entries: Iterable[tuple[int, str, str, Sequence[str]]], packed: bool = True) -> LibraryModel:
        """entries: (id, title, text, urls), in the order of their ids. packed=False: the words and
        titles left in dictionaries (the simple path the packed one is tested against)."""
        return cls._from_docs((doc for doc in (_doc(*entry) for entry in entries) if doc is not None), packed)

    @classmethod
    def _from_docs(cls, docs: Iterable[_Doc], packed: bool = True) -> LibraryModel:
        model = cls()
        grouped: list[list[tuple[int, float]]] = []
        for doc in docs:
            num = model._new_entry(doc)
            for w, t in doc.words:
                k = model._vocab[w]
                if k == len(grouped):
                    grouped.append([])
                grouped[k].append((num, t))
        model._pstart = array("q", [0])
        for found in grouped:
            model._pnum.extend(num for num, _ in found)
            model._pt.extend(t for _, t in found)
            model._pstart.append(len(model._pnum))
        model._dirty = set()
        eid = model._eid
        model._sorted = next((n for n in range(1, len(eid)) if eid[n - 1] >= eid[n]), len(eid))
        model._compute_sums(range(len(model._eid)))
        # Every weight at once: each entry's norm computed once (as _norm computes it), not per posting.
        a = 1 + math.log(1 + model.size)
        norms = [math.sqrt(max(a * a * s0 - 2 * a * s1 + s2, 0.0)) or 1.0
                 for s0, s1, s2 in zip(*model._sums, strict=True)]
        pw = model._pw = array("d")
        pnum, pt, pstart = model._pnum, model._pt, model._pstart
        for k in range(len(model._df)):
            idf = model._idf(model._df[k])
            lo, hi = pstart[k], pstart[k + 1]
            pw.extend([t * idf / norms[num] for num, t in zip(pnum[lo:hi], pt[lo:hi], strict=True)])
        if packed:
            model._pack()
        return model

    def _pack(self) -> None:
        """The words and titles as built, packed (bot.library.packed): what a poll unpickles of them
        is a few buffers, and it looks up only its items' words."""
        assert not self._words, "packed once, as built"
        self._words = Strings(self._vocab)  # in the order numbered
        self._word_table = KeyTable(self._vocab)
        self._vocab = {}
        self.titles = EntryTitles(dict(self.titles))

    def _word(self, word: str) -> int | None:
        every = self._every
        if every is not None:
            return every.get(word)
        k = self._vocab.get(word)
        if k is None and self._word_table.numbers:  # an array's length, not Strings.__len__ (many calls)
            n = self._word_table.find(word, self._same_word, self._every_word)
            table = self._word_table.table()
            if table is not None:  # many lookups: one dictionary of every word from now on
                self._every = {**table, **self._vocab}
            return None if n < 0 else n
        return k

    def _same_word(self, k: int, word: str) -> bool:
        return self._words[k] == word

    def _every_word(self) -> Iterator[tuple[str, int]]:
        return zip(self._words, itertools.count())

    def _vocabulary(self) -> Iterator[tuple[str, int]]:
        """(word, number) of every word."""
        yield from self._every_word()
        yield from self._vocab.items()

    def compacted(self) -> LibraryModel:
        """The same model packed again as a build from scratch packs it (no removed entries, no
        postings apart, the weights ready): for a cache written again after many changes."""
        if self._pw is not None and not self._dead:
            return self
        words = [""] * len(self._df)
        for w, k in self._vocabulary():
            words[k] = w
        live = sorted((entry_id, num) for num, entry_id in enumerate(self._eid) if num not in self._dead)
        est, ewno, et = self._estart, self._ewno, self._et
        return LibraryModel._from_docs(
            _Doc(entry_id, self.titles[entry_id], [(words[ewno[i]], et[i]) for i in range(est[num], est[num + 1])])
            for entry_id, num in live)

    def _new_entry(self, doc: _Doc) -> int:
        num = len(self._eid)
        self._eid.append(doc.id)
        for w, t in doc.words:
            k = self._word(w)
            if k is None:
                k = self._vocab[w] = len(self._df)
                if self._every is not None:
                    self._every[w] = k
                self._df.append(0)
                self._pstart.append(self._pstart[-1])
            self._df[k] += 1
            self._ewno.append(k)
            self._et.append(t)
        self._estart.append(len(self._ewno))
        for sums in self._sums:
            sums.append(0.0)
        self._dirty.add(num)
        self.titles[doc.id] = doc.title
        self.size += 1
        if self._id_num is not None:
            self._id_num[doc.id] = num
        return num

    def _compute_sums(self, nums: Iterable[int]) -> None:
        """The sums of 1 + log count squared, times b and times b squared (b = log(1 + document
        frequency)) over an entry's words under the cut: its norm for a library of n entries is
        sqrt(A^2 s0 - 2 A s1 + s2), A = 1 + log(1 + n), since each word's IDF is A - b."""
        self._thaw()
        cut = self._cut()
        df, ewno, et, estart = self._df, self._ewno, self._et, self._estart
        s0a, s1a, s2a = self._sums
        for num in nums:
            s0 = s1 = s2 = 0.0
            for i in range(estart[num], estart[num + 1]):
                d = df[ewno[i]]
                if d <= cut:
                    t2 = et[i] * et[i]
                    b = math.log(1 + d)
                    s0 += t2
                    s1 += t2 * b
                    s2 += t2 * b * b
            s0a[num], s1a[num], s2a[num] = s0, s1, s2

    def _cut(self) -> int:
        # Words in more than a fifth of the library are its common vocabulary, not a signal.
        return max(3, self.size // 5)

    def _norm(self, num: int, a: float) -> float:
        if num in self._dirty:
            self._compute_sums((num,))
            self._dirty.discard(num)
            self._fresh.add(num)
        elif self._stale and num not in self._fresh:
            stale, ewno = self._stale, self._ewno
            if any(ewno[i] in stale for i in range(self._estart[num], self._estart[num + 1])):
                self._compute_sums((num,))
            self._fresh.add(num)  # computed, or holding no changed word: right until the next batch
        s0, s1, s2 = (s[num] for s in self._sums)
        return math.sqrt(max(a * a * s0 - 2 * a * s1 + s2, 0.0)) or 1.0

    def _idf(self, d: int) -> float:
        return math.log((1 + self.size) / (1 + d)) + 1.0

    def _live(self, k: int) -> Iterator[tuple[int, float]]:
        """Word k's postings, (entry number, 1 + log count), in the order the entries came in."""
        dead, eid = self._dead, self._eid
        lo, hi = self._pstart[k], self._pstart[k + 1]
        base = ((num, t) for num, t in zip(self._pnum[lo:hi], self._pt[lo:hi], strict=True) if num not in dead)
        added = [(num, t) for num, t in self._added.get(k, ()) if num not in dead]
        if not added:
            yield from base
        elif not lo < hi or eid[added[0][0]] > eid[self._pnum[hi - 1]]:
            yield from base
            yield from added
        else:
            yield from heapq.merge(base, added, key=lambda p: eid[p[0]])

    def _weights_of(self, words: Iterable[int]) -> Iterator[float]:
        a = 1 + math.log(1 + self.size)
        for k in words:
            idf = self._idf(self._df[k])
            for num, t in self._live(k):
                yield t * idf / self._norm(num, a)

    def _postings(self, k: int) -> list[tuple[int, float]]:
        found = self._open.get(k)
        if found is None:
            eid = self._eid
            if self._pw is not None:  # as built: the weights are there
                lo, hi = self._pstart[k], self._pstart[k + 1]
                found = [(eid[num], w) for num, w in zip(self._pnum[lo:hi], self._pw[lo:hi], strict=True)]
            else:
                found = [(eid[num], w) for (num, _), w in zip(self._live(k), self._weights_of((k,)), strict=True)]
            self._open[k] = found
        return found

    # -- changes ----------------------------------------------------------------------------------
    def remove(self, entry_id: int) -> None:
        """Takes an entry out (no-op for one the model does not hold: no words, or under review)."""
        num = self._num(entry_id)
        if num is None:
            return
        self._ids().pop(entry_id, None)
        self._changing()
        touched, df = self._touched, self._df
        assert touched is not None
        for i in range(self._estart[num], self._estart[num + 1]):
            k = self._ewno[i]
            touched.setdefault(k, df[k])
            df[k] -= 1
        self._dead.add(num)
        self._dirty.discard(num)
        del self.titles[entry_id]
        self.size -= 1

    def add(self, entry_id: int, title: str, text: str, urls: Sequence[str]) -> None:
        """Puts an entry in, after every entry the model holds (its id is the highest)."""
        doc = _doc(entry_id, title, text, urls)
        if doc is None:
            return
        self._changing()
        self._ids()
        num = self._new_entry(doc)
        eid = self._eid
        for i in range(self._estart[num], self._estart[num + 1]):
            k = self._ewno[i]
            added = self._added.setdefault(k, [])
            # In id order, as a model built from scratch holds them (an entry changed by hand comes back
            # with its id): ties between equal scores are broken alike.
            at = len(added)
            while at and eid[added[at - 1][0]] > entry_id:
                at -= 1
            added.insert(at, (num, self._et[i]))
            assert self._touched is not None
            self._touched.setdefault(k, self._df[k] - 1)  # _new_entry counted it (once: words are distinct)

    def _ids(self) -> dict[int, int]:
        """Id -> number of the live entries after the first _sorted."""
        if self._id_num is None:
            dead, eid = self._dead, self._eid
            self._id_num = {eid[num]: num for num in range(self._sorted, len(eid)) if num not in dead}
        return self._id_num

    def _num(self, entry_id: int) -> int | None:
        """The number of the live entry with this id (None: the model does not hold it)."""
        num = self._ids().get(entry_id)
        if num is None:
            at = bisect_left(self._eid, entry_id, 0, self._sorted)
            if at < self._sorted and self._eid[at] == entry_id and at not in self._dead:
                num = at
        return num

    def _thaw(self) -> None:
        """The arrays that changes write to, made arrays again if they are views of the cache file
        (bot.library.packed.frozen): before anything changes them."""
        self._pstart, self._df, self._eid = thawed(self._pstart), thawed(self._df), thawed(self._eid)
        self._estart, self._ewno, self._et = thawed(self._estart), thawed(self._ewno), thawed(self._et)
        self._sums = (thawed(self._sums[0]), thawed(self._sums[1]), thawed(self._sums[2]))

    def _changing(self) -> None:
        self._thaw()
        if self._touched is None:
            self._touched = {}
            self._size_before = self.size
        self._pw = None
        self._open = {}

    def settle(self) -> None:
        """After a batch of remove/add: the entries whose norm sums changed are computed again when asked
        (those holding a word whose document frequency changed, or which crossed the common-word cut)."""
        touched = self._touched
        if touched is None:
            return
        cut_before = max(3, self._size_before // 5)
        cut = self._cut()
        # A word above the cut before and after counts in no entry's sums, then or now (the common words,
        # whose entries are a fifth of the library): only the others' entries are computed again.
        df = self._df
        words = {k for k, before in touched.items() if before <= cut_before or df[k] <= cut}
        if cut != cut_before:
            lo, hi = min(cut, cut_before), max(cut, cut_before)
            words.update(k for k, d in enumerate(self._df) if lo < d <= hi)
        if words:
            self._stale |= words
            self._fresh = set()
        self._dirty -= self._dead
        self._touched = None

    def __getstate__(self) -> dict[str, object]:
        return {**self.__dict__, "_open": {}, "_id_num": None, "_every": None}

    # -- scoring ----------------------------------------------------------------------------------
    @property
    def idf(self) -> dict[str, float]:
        """Every word under the cut with its IDF (for inspection; scoring does not build it)."""
        cut = self._cut()
        return {w: self._idf(self._df[k]) for w, k in self._vocabulary() if 0 < self._df[k] <= cut}

    def similar(self, words: Sequence[str], top: int = 3) -> list[tuple[float, int]]:
        word, df, cut = self._word, self._df, self._cut()
        every = self._every  # after many lookups, one dictionary hit per word (not a call of _word)
        kept = {}
        for w in words:
            k = every.get(w) if every is not None else word(w)
            if k is not None and 0 < df[k] <= cut:
                kept[w] = k
        counts = Counter(w for w in words if w in kept)
        if not counts:
            return []
        vec = {w: (1 + math.log(c)) * self._idf(df[kept[w]]) for w, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        acc: dict[int, float] = defaultdict(float)
        shared: Counter[int] = Counter()
        budget = MAX_POSTINGS_PER_ITEM
        # Rarest words first: they say the most, and their posting lists are short. Common words whose
        # lists would exceed the budget are left out, so a big library costs a bounded time per item.
        for w in sorted(vec, key=lambda word: df[kept[word]]):
            if df[kept[w]] > budget:
                break
            budget -= df[kept[w]]
            q = vec[w] / norm
            for entry_id, weight in self._postings(kept[w]):
                acc[entry_id] += q * weight
                shared[entry_id] += 1
        # One shared word between two short texts gives a high cosine and means nothing: an entry
        # resembles the item only when they share at least two informative words.
        best = sorted(((e, s) for e, s in acc.items() if shared[e] >= MIN_SHARED_WORDS),
                      key=lambda kv: -kv[1])[:top]
        return [(score, entry_id) for entry_id, score in best]


class WordCounts(MutableMapping[str, int]):
    """Word -> in how many library entries it appears (the library's side of taste, kept by the library
    cache): the counts as built packed (the words in one blob found by hash, the counts in an array:
    a poll unpickles three buffers and looks up its items' words only), with the changes since over
    them. Counts are positive: a word whose count falls to zero leaves."""

    def __init__(self, counts: Mapping[str, int] | None = None) -> None:
        counts = counts or {}
        self._words = Strings(counts)
        self._table = KeyTable(counts)
        self._counts = array("q", counts.values())
        self._changed: dict[str, int] = {}  # 0: gone
        self._len = len(self._counts)

    def _packed(self, word: str) -> int:
        n = self._table.find(word, self._same, self._every)
        return self._counts[n] if n >= 0 else 0

    def _same(self, n: int, word: str) -> bool:
        return self._words[n] == word

    def _every(self) -> Iterator[tuple[str, int]]:
        return zip(self._words, itertools.count())

    def get(self, word: str, default: int = 0) -> int:  # type: ignore[override]
        count = self._changed.get(word)
        if count is None:
            count = self._packed(word)
        return count if count > 0 else default

    def __getitem__(self, word: str) -> int:
        count = self.get(word)
        if count <= 0:
            raise KeyError(word)
        return count

    def __setitem__(self, word: str, count: int) -> None:
        if count <= 0:
            raise ValueError(f"a count is positive: {word!r} {count}")
        if self.get(word) <= 0:
            self._len += 1
        self._changed[word] = count

    def __delitem__(self, word: str) -> None:
        if self.get(word) <= 0:
            raise KeyError(word)
        self._changed[word] = 0
        self._len -= 1

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[str]:
        return (word for word, _ in self.pairs())

    def pairs(self) -> Iterator[tuple[str, int]]:
        """(word, count) of every word: those counted when built in that order, then those that came."""
        changed = self._changed
        for word, count in zip(self._words, self._counts, strict=True):
            now = changed.get(word, count)
            if now > 0:
                yield word, now
        for word, count in changed.items():
            if count > 0 and self._packed(word) <= 0:
                yield word, count


class TasteWeights(Mapping[str, float]):
    """A TasteModel's weights, each computed when first asked (the same formula, so the same value, as
    computing every word's at once): a poll scoring 20 items asks for a few hundred words, not the
    library's 100,000. The counts it reads must not change while it is used."""

    def __init__(self, lib_df: Mapping[str, int], n_lib: int, bg_df: Mapping[str, int], n_bg: int) -> None:
        self._lib_df, self._n_lib, self._bg_df, self._n_bg = lib_df, n_lib, bg_df, n_bg
        self._known: dict[str, float | None] = {}

    def _weight(self, word: str) -> float | None:
        found = self._known.get(word, _ABSENT)
        if found is _ABSENT:
            found = None
            count = self._lib_df.get(word, 0)
            if count >= TASTE_MIN_ENTRIES and not word.startswith("site:"):
                odds = math.log((count / self._n_lib) / ((self._bg_df.get(word, 0) + 1) / (self._n_bg + 2)))
                if odds > 0:
                    found = min(odds, TASTE_MAX_WEIGHT)
            self._known[word] = found
        return found  # type: ignore[return-value]

    def __getitem__(self, word: str) -> float:
        found = self._weight(word)
        if found is None:
            raise KeyError(word)
        return found

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self._weight(word) is not None

    def __iter__(self) -> Iterator[str]:
        words = self._lib_df.pairs() if isinstance(self._lib_df, WordCounts) else self._lib_df.items()
        return (word for word, _ in words if self._weight(word) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass
class TasteModel:
    """Which words the person's library uses far more than the stream of stories does: log-odds of a
    word's document frequency in the library against the background (recent items). Product and
    model names the person follows ("llama", "gpt") earn weight here without being topics."""

    weights: Mapping[str, float] = field(default_factory=dict)

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
    def from_library_counts(cls, lib_df: Mapping[str, int], n_lib: int,
                            background_docs: Iterable[Sequence[str]]) -> TasteModel:
        bg_df: Counter[str] = Counter()
        n_bg = 0
        for words in background_docs:
            bg_df.update(set(words))
            n_bg += 1
        return cls(TasteWeights(lib_df, n_lib, bg_df, n_bg))

    def taste(self, words: Iterable[str]) -> tuple[float, list[str]]:
        """(0..1, the words that carried it): the strongest few distinct words, summed and squashed."""
        found = sorted(((self.weights[w], w) for w in set(words) if w in self.weights), reverse=True)[:TASTE_TOP_WORDS]
        total = sum(v for v, _ in found)
        return 1.0 - math.exp(-total / TASTE_SCALE), [w for _, w in found]
