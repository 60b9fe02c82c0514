"""The library's identity index and relevance inputs, built once per state of the library and kept in
a file beside the database (`<db>.library-cache`), so that a poll does not rebuild them from every
library entry (5 to 8 s for 100,000 entries).

The file is keyed by the content of the library (a hash of every document's path and content hash,
bot.store.library.library_content_key) and by the code that builds it: on any difference it is
rebuilt, so a stale cache is never used. Not by a counter the database keeps alone: a database
restored from a backup or copied from another machine counts the same generations of another library
(the counter is in the key too, for entries changed by hand). The key is a
plain text line at the head of the file, compared before anything is unpickled: a file that is not ours
(or not for this library) is never unpickled. Items are not cached (they change every poll):
`with_items` looks them up beside the loaded index.
"""

from __future__ import annotations

import gc
import hashlib
import importlib
import os
import pickle
import tempfile
from array import array
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.library.api import build_index
from bot.library.matcher import IdentityIndex
from bot.relevance.taste import LibraryModel, TasteModel
from bot.relevance.words import tokens, url_words
from bot.store.database import Store

FORMAT = 3
MAGIC = b"bot-library-cache"
# The modules whose code decides what the cache holds: a change to any of them rebuilds it.
BUILT_BY = ("bot.core.identity", "bot.library.matcher", "bot.relevance.words", "bot.relevance.taste",
            "bot.library.api", __name__)
_stamp: str | None = None


@dataclass
class LibraryCache:
    index: IdentityIndex  # the library entries' identities (no items)
    model: LibraryModel  # TF-IDF of the entries, for similarity
    # The library's side of the taste model: in how many entries each word of what they name appears,
    # and how many entries there are.
    taste_counts: Counter[str] = field(default_factory=Counter)
    taste_entries: int = 0


class PackedPostings(Mapping[str, list[tuple[int, float]]]):
    """LibraryModel.postings as the cache keeps it: every posting in two flat arrays, each word's list
    unpacked on first use (a poll touches a few thousand of a big library's 100,000 words). 750,000
    postings load in milliseconds instead of half a second."""

    def __init__(self, postings: Mapping[str, list[tuple[int, float]]]) -> None:
        self._span: dict[str, int] = {}  # word -> its number; its postings are _ids[_start[n]:_start[n + 1]]
        self._start = array("q", [0])
        self._ids = array("q")
        self._weights = array("d")
        self._open: dict[str, list[tuple[int, float]]] = {}
        for word, found in postings.items():
            self._span[word] = len(self._span)
            self._ids.extend(entry_id for entry_id, _ in found)
            self._weights.extend(weight for _, weight in found)
            self._start.append(len(self._ids))

    def __getitem__(self, word: str) -> list[tuple[int, float]]:
        found = self._open.get(word)
        if found is None:
            n = self._span[word]  # KeyError for an unknown word, as a dict
            a, b = self._start[n], self._start[n + 1]
            found = self._open[word] = list(zip(self._ids[a:b], self._weights[a:b], strict=True))
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._span)

    def __len__(self) -> int:
        return len(self._span)

    def __getstate__(self) -> dict[str, object]:
        return {**self.__dict__, "_open": {}}


def code_stamp() -> str:
    global _stamp
    if _stamp is None:
        digest = hashlib.sha256(str(FORMAT).encode())
        for name in BUILT_BY:
            digest.update(Path(str(importlib.import_module(name).__file__)).read_bytes())
        _stamp = digest.hexdigest()
    return _stamp


def cache_path(store: Store) -> Path | None:
    return None if store.path == ":memory:" else Path(store.path + ".library-cache")


def cache_key(store: Store) -> bytes:
    """The head line the cache file starts with: the code's stamp, the library's content key, and the
    database's generation counter too (an entry changed by hand, not through its document, counts)."""
    token, generation = store.library_version()
    return b"%s %s %s %s.%d\n" % (MAGIC, code_stamp().encode(), store.library_content_key().encode(),
                                   token.encode(), generation)


def build(store: Store) -> tuple[bytes, LibraryCache]:
    with store.snapshot():  # the key and the entries read under it are of the same library
        key = cache_key(store)
        # The bot's own appended lines under review are not the person's picks: no taste, no similarity
        # (they stay in the index: what the log holds is known).
        under_review = store.entries_under_review()
        entries = [e for e in store.library_entries() if e.id not in under_review]
        model = LibraryModel.build((e.id, e.title or "", e.text or "", e.urls) for e in entries)
        model.postings = PackedPostings(model.postings)  # type: ignore[assignment]  # read-only from here
        # Taste is read from what the entries name (link texts, quoted titles, the words of their links).
        titles = store.entry_titles()
        counts, n = TasteModel.library_counts(tokens(" ".join([*titles.get(e.id, ()), *map(url_words, e.urls)]))
                                              for e in entries)
        index = build_index(store, owners=("entry",))
        index.freeze()
    return key, LibraryCache(index, model, counts, n)


def load(store: Store, index_only: bool = False) -> LibraryCache:
    """The cache for the library as it is now: read from the file when it matches, else built (and
    saved, when the database is a file). index_only: a lookup (`bot library check`) needs no model,
    and reads only the index (model and taste counts come back empty)."""
    path = cache_path(store)
    key = cache_key(store)
    if path is not None:
        cached = _read(path, key, index_only)
        if cached is not None:
            return cached
    key, built = build(store)
    if path is not None:
        _write(path, key, built)
    return built


def refresh(store: Store) -> bool:
    """Build and save the cache now, unless the file already holds it for the library as it is. Run
    where the library changes (`bot library import`), so that polls find it ready instead of paying
    for it. True when it was built."""
    path = cache_path(store)
    if path is None:
        return False
    if _head(path) == cache_key(store):
        return False
    key, built = build(store)
    _write(path, key, built)
    return True


def _head(path: Path) -> bytes | None:
    try:
        with path.open("rb") as f:
            return f.readline(len(MAGIC) + 200)
    except OSError:
        return None


def _read(path: Path, key: bytes, index_only: bool = False) -> LibraryCache | None:
    """The file holds the key line, then the index, the model and the taste counts, one pickle each.
    Nothing is unpickled unless the key line is this library's."""
    try:
        with path.open("rb") as f:
            if f.readline(len(MAGIC) + 200) != key:
                return None
            collecting = gc.isenabled()
            gc.disable()  # many small objects: the collector would walk them over and over
            try:
                index = pickle.load(f)
                model = LibraryModel() if index_only else pickle.load(f)
                counts, n = (Counter[str](), 0) if index_only else pickle.load(f)
            finally:
                if collecting:
                    gc.enable()
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError):
        return None  # missing, truncated or from other code: rebuilt
    if not (isinstance(index, IdentityIndex) and isinstance(model, LibraryModel) and isinstance(counts, Counter)):
        return None
    return LibraryCache(index, model, counts, int(n))


def _write(path: Path, key: bytes, cache: LibraryCache) -> None:
    """Atomically (a reader sees the old file or the new one), and quietly: a cache that cannot be
    saved is rebuilt next time."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(key)
                for part in (cache.index, cache.model, (cache.taste_counts, cache.taste_entries)):
                    pickle.dump(part, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass


def with_items(index: IdentityIndex, store: Store) -> IdentityIndex:
    """The library's index plus every stored item, answering as one index of the entries and then the
    items in the order they were stored (a match names the person's own entry rather than an item). The
    items stay in the database (bot.relevance.dedupe.KnownIndex looks them up there in batches): what a
    poll holds does not grow with everything stored before it."""
    from bot.relevance.dedupe import KnownIndex

    return KnownIndex(index, store)
