"""The library's identity index and relevance inputs, built once and kept in a file beside the database
(`<db>.library-cache`), so that a poll does not rebuild them from every library entry (5 to 8 s for
100,000 entries), and brought forward by the entries that changed when the library changes (a line
edited by hand costs a few entries' work, not a rebuild).

The file is a chain of records, each a plain text head line and its parts (a pickle, with the big arrays
and blobs beside it as buffers, read as views of the mapped file: bot.library.packed): a base (the whole
cache for one state of the library) and deltas (what changed from one state to the next). A state is named by
the code that builds the cache, the content of the library (a hash of every document's path and content
hash, bot.store.library.library_content_key), the database's token and generation, and the last row of
its change log (migration 14: a random nonce per row). Every head line is read and the chain checked
before anything is unpickled: a chain that reaches the state the library is in now is read as it is; a
chain whose last state is of this code, this database and a change-log row this database still holds
(not a restored or copied database: their rows are other rows) is read and brought forward by the
entries the log names since; anything else is never unpickled, and the cache is built again. What a
delta does is decided when it is made (which entry keeps a shared title needs the entries' places in
their documents, from the database) and only replayed when read, so the answers are those of a cache
built from scratch on the library as it is (tests/test_library_delta.py). Items are not cached (they
change every poll): `with_items` looks them up beside the loaded index.
"""

from __future__ import annotations

import gc
import hashlib
import importlib
import io
import marshal
import mmap
import os
import pickle
import struct
import tempfile
from array import array
from bisect import bisect_left
from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.core.identity import Identity, fuzzy_block_keys, title_key
from bot.library.matcher import IdentityIndex, Owner
from bot.library.packed import OUT_OF_BAND, out_of_band
from bot.relevance.taste import LibraryModel, TasteModel, WordCounts
from bot.relevance.words import tokens, url_words
from bot.store.database import Store

FORMAT = 5
MAGIC = b"bot-library-cache"
# The modules whose code decides what the cache holds: a change to any of them rebuilds it.
BUILT_BY = ("bot.core.identity", "bot.library.matcher", "bot.relevance.words", "bot.relevance.taste",
            "bot.store.library", __name__)
# A chain this long, or whose deltas outweigh an eighth of its base, is written again as one base.
MAX_DELTAS = 64
HEAD_MAX = 1000
_stamp: str | None = None

# What it takes to take an entry out of the cache again: its identities (in the order written) and links.
Record = tuple[tuple[tuple[str, str], ...], tuple[str, ...]]


class Records:
    """Every entry's Record, packed as the cache keeps them (ids sorted, offsets into one marshal blob:
    three objects to load, whatever the size of the library), with the changes since."""

    def __init__(self, ids: array[int] | None = None, offsets: array[int] | None = None, blob: bytes = b"") -> None:
        self.ids = ids if ids is not None else array("q")
        self.offsets = offsets if offsets is not None else array("q", [0])
        self.blob = blob
        self.changed: dict[int, Record | None] = {}

    @classmethod
    def pack(cls, records: dict[int, Record]) -> Records:
        ids = sorted(records)
        parts = [marshal.dumps(records[i]) for i in ids]
        offsets = array("q", [0])
        for part in parts:
            offsets.append(offsets[-1] + len(part))
        return cls(array("q", ids), offsets, b"".join(parts))

    def get(self, entry_id: int) -> Record | None:
        if entry_id in self.changed:
            return self.changed[entry_id]
        at = bisect_left(self.ids, entry_id)
        if at < len(self.ids) and self.ids[at] == entry_id:
            found: Record = marshal.loads(self.blob[self.offsets[at]:self.offsets[at + 1]])
            return found
        return None

    def packed(self) -> tuple[array[int], array[int], bytes]:
        if not self.changed:
            return self.ids, self.offsets, self.blob
        merged = {i: self.get(i) for i in self.ids}
        merged.update(self.changed)
        return Records.pack({i: r for i, r in merged.items() if r is not None}).packed()


@dataclass
class LibraryCache:
    index: IdentityIndex  # the library entries' identities (no items)
    model: LibraryModel  # TF-IDF of the entries, for similarity
    # The library's side of the taste model: in how many entries each word of what they name appears,
    # and how many entries there are.
    taste_counts: MutableMapping[str, int] = field(default_factory=WordCounts)
    taste_entries: int = 0
    state: str = ""  # the state of the library it is for (state_key)
    under_review: frozenset[int] = frozenset()  # entries left out of the model and taste
    files: tuple[str, ...] = ()  # the documents in the order their entries come (library_file_order)
    records: Records | None = None  # read only when the cache is to be brought forward


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


def state_key(store: Store) -> str:
    """The code's stamp, the library's content key, the database's token and library generation (an
    entry changed by hand, not through its document, counts) and its change log's last row."""
    token, generation = store.library_version()
    seq, nonce = store.library_log_head()
    return f"{code_stamp()}:{store.library_content_key()}:{token}.{generation}:{seq}.{nonce}"


def cache_key(store: Store) -> bytes:
    return state_key(store).encode()


def _taste_words(record: Record) -> list[str]:
    # Taste is read from what the entries name (link texts, quoted titles, the words of their links).
    idents, urls = record
    return tokens(" ".join([*(value for kind, value in idents if kind == "title"), *map(url_words, urls)]))


def build(store: Store) -> LibraryCache:
    with store.snapshot():  # the key and the entries read under it are of the same library
        state = state_key(store)
        # The bot's own appended lines under review are not the person's picks: no taste, no similarity
        # (they stay in the index: what the log holds is known).
        under_review = frozenset(store.entries_under_review())
        files = tuple(store.library_file_order())
        # Entries in document order: the first in that order keeps a title or link that two share.
        grouped: dict[int, list[tuple[str, str]]] = {}
        for kind, value, owner_id in store.entry_identity_rows():
            grouped.setdefault(owner_id, []).append((kind, value))
        entries = sorted(store.library_entries(), key=lambda e: e.id)
    index = IdentityIndex()
    for owner_id, idents in grouped.items():
        index.add("entry", owner_id, [Identity(kind, value) for kind, value in idents])
    index.freeze()
    records = {e.id: (tuple(grouped.get(e.id, ())), tuple(e.urls)) for e in entries}
    picks = [e for e in entries if e.id not in under_review]
    model = LibraryModel.build((e.id, e.title or "", e.text or "", e.urls) for e in picks)
    counts, n = TasteModel.library_counts(_taste_words(records[e.id]) for e in picks)
    return LibraryCache(index, model, WordCounts(counts), n, state, under_review, files, Records.pack(records))


def load(store: Store, index_only: bool = False) -> LibraryCache:
    """The cache for the library as it is now: read from the file when its chain reaches this state,
    brought forward when it reaches an earlier state of this database's library, else built (and
    saved, when the database is a file). index_only: a lookup (`bot library check`) needs no model,
    and reads only the index (model and taste counts come back empty)."""
    path = cache_path(store)
    if path is None:
        return build(store)
    return _bring(store, path, index_only)[0]


def refresh(store: Store) -> bool:
    """Bring the file up to the library as it is now, unless it already is. Run where the library
    changes (`bot library import`), so that polls find it ready instead of paying for it. True when
    it was written."""
    path = cache_path(store)
    if path is None:
        return False
    chain = _chain(path)
    if chain and chain[-1].after == state_key(store):
        return False
    return _bring(store, path, False, compact=True)[1]


@dataclass(frozen=True)
class _Head:
    kind: bytes  # B: a base, D: a delta
    lens: tuple[int, ...]  # the lengths of its parts
    before: str
    after: str
    start: int  # where its parts start in the file
    line: bytes = b""  # the head line itself (checked again in the mapped file before it is read)

    @property
    def end(self) -> int:
        return self.start + sum(self.lens)


def _chain(path: Path) -> list[_Head]:
    """The head lines of the file's records, as far as they form one chain: a base, then deltas each
    from the state the one before reached. Nothing is unpickled."""
    heads: list[_Head] = []
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            at = 0
            while at < size:
                f.seek(at)
                line = f.readline(HEAD_MAX)
                parts = line.rstrip(b"\n").split(b" ")
                if not line.endswith(b"\n") or len(parts) != 5 or parts[0] != MAGIC:
                    break
                try:
                    lens = tuple(int(n) for n in parts[2].split(b","))
                except ValueError:
                    break
                head = _Head(parts[1], lens, parts[3].decode("ascii", "replace"), parts[4].decode("ascii", "replace"),
                             at + len(line), line)
                if head.end > size or (head.kind != b"B" if not heads else
                                       (head.kind != b"D" or head.before != heads[-1].after)):
                    break
                heads.append(head)
                at = head.end
    except OSError:
        return []
    return heads


def _continues(store: Store, state: str) -> bool:
    """Whether a cache of `state` can be brought forward here: this code, this database, and a change
    log that still holds (the same) row it was at."""
    try:
        stamp, _content, version, log = state.split(":")
        token = version.rsplit(".", 1)[0]
        seq, nonce = (int(n) for n in log.split("."))
    except ValueError:
        return False
    return (stamp == code_stamp() and token == store.library_version()[0]
            and store.library_changes_since(seq, nonce) is not None)


def _bring(store: Store, path: Path, index_only: bool, compact: bool = False) -> tuple[LibraryCache, bool]:
    """The cache for the library now, and whether the file was written. compact: a cache brought
    forward is written again whole (with its deltas folded in), not as one more delta, and the change
    log pruned."""
    chain = _chain(path)
    state = state_key(store)
    reached = [head.after for head in chain]
    if state in reached:
        found = _read(path, chain[:reached.index(state) + 1], index_only)
        if found is not None:
            return found, False
    elif chain and _continues(store, chain[-1].after):
        cache = _read(path, chain, index_only, records=True)
        if cache is not None:
            with store.snapshot():
                delta = _delta(cache, store)
            if delta is not None:
                _apply(cache, delta, index_only)
                base = chain[0].end - chain[0].start
                if not index_only and (compact or len(chain) >= MAX_DELTAS or chain[-1].end - chain[0].end > base // 8
                                       or os.path.getsize(path) != chain[-1].end):
                    _write(path, cache)
                    if compact:
                        _prune(store, cache.state)
                elif os.path.getsize(path) == chain[-1].end:  # else a record half written: left as it is
                    _append(path, chain[-1].after, delta)
                return cache, True
    built = build(store)
    _write(path, built)
    if compact:
        _prune(store, built.state)
    return built, True


def _prune(store: Store, state: str) -> None:
    """Forgets the change log's rows from before the state just written. Only where the library is
    imported (`refresh`): a poll reads the cache in a thread beside its requests, and writes nothing."""
    store.prune_library_changes(int(state.rsplit(":", 1)[1].split(".")[0]))


def _read(path: Path, chain: Sequence[_Head], index_only: bool = False, records: bool = False) -> LibraryCache | None:
    """The cache as the chain leaves it: the base's parts (meta, index, model, taste counts, records),
    then each delta replayed. Only called with a chain whose keys were checked. The file is mapped, and
    the big arrays and blobs are read as views of it (bot.library.packed.frozen): no copy, and only the
    pages a lookup touches are read."""
    try:
        with path.open("rb") as f:
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        view = memoryview(mapped)
        # The file may have been replaced since its head lines were read: the same lines, where they were.
        if any(view[head.start - len(head.line):head.start] != head.line for head in chain):
            return None
        base = chain[0]
        offsets = [base.start]
        for n in base.lens:
            offsets.append(offsets[-1] + n)
        collecting = gc.isenabled()
        gc.disable()  # many small objects in the deltas: the collector would walk them over and over
        try:
            under_review, files = _load_part(view, offsets[0], offsets[1])
            index = _load_part(view, offsets[1], offsets[2])
            model, counts, n = LibraryModel(), WordCounts(), 0
            if not index_only:
                model = _load_part(view, offsets[2], offsets[3])
                counts, n = _load_part(view, offsets[3], offsets[4])
            packed = _load_part(view, offsets[4], offsets[5]) if records else None
            deltas = [_load_part(view, head.start, head.end) for head in chain[1:]]
        finally:
            if collecting:
                gc.enable()
    except (OSError, EOFError, IndexError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError,
            struct.error):
        return None  # missing, truncated or from other code: rebuilt
    if not (isinstance(index, IdentityIndex) and isinstance(model, LibraryModel) and isinstance(counts, WordCounts)
            and all(isinstance(d, dict) for d in deltas)):
        return None
    cache = LibraryCache(index, model, counts, int(n), base.after, frozenset(under_review), tuple(files),
                         Records(*packed) if packed is not None else None)
    for delta in deltas:
        _apply(cache, delta, index_only)
    return cache


# A part of a record: its pickle's length and how many buffers go beside it, each buffer's length, the
# pickle, then the buffers (bot.library.packed.out_of_band: the big arrays and blobs, read in place).
_PART = struct.Struct("<qq")


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        return out_of_band(obj)


def _dump_part(obj: object) -> list[bytes | memoryview]:
    out = io.BytesIO()
    buffers: list[memoryview] = []

    def beside(buffer: pickle.PickleBuffer) -> bool:  # True: in the pickle (small)
        raw = buffer.raw()
        if raw.nbytes < OUT_OF_BAND:
            return True
        buffers.append(raw)
        return False

    _Pickler(out, protocol=5, buffer_callback=beside).dump(obj)
    data = out.getvalue()
    head = _PART.pack(len(data), len(buffers)) + struct.pack(f"<{len(buffers)}q", *(b.nbytes for b in buffers))
    return [head, data, *buffers]


def _load_part(view: memoryview, start: int, end: int) -> Any:
    """A part written by _dump_part, from the mapped file; a part whose lengths do not add up to its
    place in the record (a truncated or damaged buffer) is refused (ValueError)."""
    part = view[start:end]
    size, count = _PART.unpack_from(part)
    if not 0 <= count <= (len(part) - _PART.size) // 8:
        raise ValueError("a part of the library cache is damaged")
    lens = struct.unpack_from(f"<{count}q", part, _PART.size)
    at = _PART.size + 8 * count
    data = part[at:at + size]
    at += size
    buffers = []
    for n in lens:
        if n < 0:
            raise ValueError("a part of the library cache is damaged")
        buffers.append(part[at:at + n])
        at += n
    if size < 0 or at != len(part):
        raise ValueError("a part of the library cache is damaged")
    return pickle.loads(data, buffers=buffers)


def _write(path: Path, cache: LibraryCache) -> None:
    """Atomically (a reader sees the old file or the new one), and quietly: a cache that cannot be
    saved is rebuilt next time."""
    ids, offsets, blob = (cache.records or Records()).packed()
    cache.model = cache.model.compacted()
    parts = [_dump_part(part) for part in (
        (cache.under_review, cache.files), cache.index, cache.model, (cache.taste_counts, cache.taste_entries),
        (ids, offsets, memoryview(blob)))]  # a view: beside the pickle (bytes would go in it)
    lens = [sum(len(chunk) if isinstance(chunk, bytes) else chunk.nbytes for chunk in part) for part in parts]
    head = b"%s B %s - %s\n" % (MAGIC, b",".join(b"%d" % n for n in lens), cache.state.encode())
    try:
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(head)
                for part in parts:
                    for chunk in part:
                        f.write(chunk)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass


def _append(path: Path, before: str, delta: dict[str, Any]) -> None:
    payload = b"".join(_dump_part(delta))
    head = b"%s D %d %s %s\n" % (MAGIC, len(payload), before.encode(), delta["state"].encode())
    try:
        with path.open("ab") as f:
            f.write(head + payload)  # one write: a reader sees a whole record or a short one (ignored)
    except OSError:
        pass


def _delta(cache: LibraryCache, store: Store) -> dict[str, Any] | None:
    """What changed in the library since the cache's state, as a delta to replay: the entries that left
    or changed (with their records as the cache held them), the entries as they are now, and for every
    identity, title and fuzzy block they touch, its owners in the order a build from scratch adds them
    (read from the database: their documents' order, lines and ids). None when it cannot be told: the
    cache is rebuilt."""
    assert cache.records is not None
    seq, nonce = (int(n) for n in cache.state.rsplit(":", 1)[1].split("."))
    state = state_key(store)
    changes = store.library_changes_since(seq, nonce)
    if changes is None or None in changes:
        return None
    under_review = frozenset(store.entries_under_review())
    files = tuple(store.library_file_order())
    present = set(files)
    old_files = [f for f in cache.files if f in present]
    if list(files[:len(old_files)]) != old_files:
        return None  # the documents now come in another order: every shared key would need looking at
    changed = sorted({i for i in changes if i} | (cache.under_review ^ under_review))
    now = store.entries_with_identities(changed)
    removed: list[tuple[int, Record]] = []
    for entry_id in changed:
        record = cache.records.get(entry_id)
        if record is not None:
            removed.append((entry_id, record))
    added = [(entry_id, (tuple(idents), tuple(entry.urls)), entry.title or "", entry.text or "")
             for entry_id, (entry, idents) in sorted(now.items())]
    gone = set(changed)

    index = cache.index
    exact: dict[tuple[str, str], list[Owner]] = {}
    titles: dict[str, list[tuple[str, Owner]]] = {}
    for _, (idents, _urls) in removed:
        for kind, value in idents:
            if kind == "title":
                titles.setdefault(title_key(value), [])
            else:
                exact.setdefault((kind, value), [])
    for ekey in exact:
        exact[ekey] = [o for o in index.exact_owners(ekey) if o[1] not in gone]
    for tkey in titles:
        titles[tkey] = [(v, o) for v, o in index.title_owners(tkey) if o[1] not in gone]
    for entry_id, (idents, _urls), _title, _text in added:
        for kind, value in idents:
            if kind == "title":
                tkey = title_key(value)
                if tkey not in titles:
                    titles[tkey] = [(v, o) for v, o in index.title_owners(tkey) if o[1] not in gone]
                titles[tkey].append((value, ("entry", entry_id)))
            else:
                held = exact.get((kind, value))
                if held is None:
                    held = exact[(kind, value)] = [o for o in index.exact_owners((kind, value)) if o[1] not in gone]
                if ("entry", entry_id) not in held:
                    held.append(("entry", entry_id))
    if any(o[0] != "entry" for owners in exact.values() for o in owners) or \
            any(o[0] != "entry" for owners in titles.values() for _, o in owners):
        return None  # an index with items in it is not the library's
    ids = {o[1] for owners in exact.values() for o in owners} | {o[1] for owners in titles.values() for _, o in owners}
    places = store.entry_positions(ids)
    rowids = store.title_rowids({o[1] for owners in titles.values() for _, o in owners})
    if not ids <= places.keys():
        return None

    def title_place(value: str, owner: Owner) -> tuple[int, ...]:
        return (*places[owner[1]], rowids.get((owner[1], value), 0))

    exact_ops = [(key, sorted(owners, key=lambda o: places[o[1]])) for key, owners in exact.items()]
    title_ops = [(key, sorted(owners, key=lambda vo: title_place(*vo))) for key, owners in titles.items()]
    # A title that gained or lost its key (or whose holder changed place) moves in its fuzzy blocks.
    lost: set[tuple[str, Owner]] = set()
    gained: list[tuple[str, Owner]] = []
    for tkey, towners in title_ops:
        before, after = index.title_holder(tkey), (towners[0] if towners else None)
        if before == after and (before is None or before[1][1] not in gone):
            continue
        if before is not None:
            lost.add(before)
        if after is not None:
            gained.append(after)
    blocks: dict[int, list[tuple[str, str, Owner]]] = {}
    for normalized, _owner in [*lost, *gained]:
        for block, _word in fuzzy_block_keys(normalized):
            if block not in blocks:
                blocks[block] = [c for c in index.block(block) if (c[1], c[2]) not in lost]
    for normalized, owner in gained:
        for block, word in fuzzy_block_keys(normalized):
            blocks[block].append((word, normalized, owner))
    more = {c[2][1] for found in blocks.values() for c in found} - places.keys()
    if any(c[2][0] != "entry" for found in blocks.values() for c in found):
        return None
    places.update(store.entry_positions(more))
    rowids.update(store.title_rowids({c[2][1] for found in blocks.values() for c in found}))
    if not more <= places.keys():
        return None
    block_ops = [(block, sorted(found, key=lambda c: title_place(c[1], c[2]))) for block, found in blocks.items()]
    return {"state": state, "removed": removed, "added": added, "exact": exact_ops, "titles": title_ops,
            "blocks": block_ops, "under_review": under_review, "files": files}


def _apply(cache: LibraryCache, delta: dict[str, Any], index_only: bool) -> None:
    """Replays a delta (made by _delta): the index's owners as decided then, the model and the taste
    counts without the entries that left or changed and with them as they are now."""
    index = cache.index
    for key, owners in delta["exact"]:
        index.set_exact(key, owners)
    for key, owners in delta["titles"]:
        index.set_title(key, owners)
    for block, found in delta["blocks"]:
        index.set_block(block, found)
    was, now = cache.under_review, delta["under_review"]
    if not index_only:
        counts = cache.taste_counts
        for entry_id, record in delta["removed"]:
            cache.model.remove(entry_id)
            if entry_id not in was:
                _count(counts, _taste_words(record), -1)
                cache.taste_entries -= 1
        for entry_id, record, title, text in delta["added"]:
            if entry_id not in now:
                cache.model.add(entry_id, title, text, record[1])
                _count(counts, _taste_words(record), 1)
                cache.taste_entries += 1
        cache.model.settle()
    if cache.records is not None:
        for entry_id, _record in delta["removed"]:
            cache.records.changed[entry_id] = None
        for entry_id, record, _title, _text in delta["added"]:
            cache.records.changed[entry_id] = record
    cache.under_review, cache.files, cache.state = now, delta["files"], delta["state"]


def _count(counts: MutableMapping[str, int], words: Iterable[str], step: int) -> None:
    for word in set(words):
        now = counts.get(word, 0) + step
        if now > 0:
            counts[word] = now
        elif word in counts:
            del counts[word]


def with_items(index: IdentityIndex, store: Store) -> IdentityIndex:
    """The library's index plus every stored item, answering as one index of the entries and then the
    items in the order they were stored (a match names the person's own entry rather than an item). The
    items stay in the database (bot.relevance.dedupe.KnownIndex looks them up there in batches): what a
    poll holds does not grow with everything stored before it."""
    from bot.relevance.dedupe import KnownIndex

    return KnownIndex(index, store)
