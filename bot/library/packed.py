"""Strings packed in flat buffers, for what the library cache keeps of 100,000 entries. Pure.

A dictionary of 100,000 titles unpickles as 100,000 strings, tuples and dictionary slots (a few tenths of
a second per poll); the same strings in one UTF-8 blob with an array of offsets, and found by an array of
their hashes, unpickle as three buffers, and a poll pays only for the few it looks up.
"""

from __future__ import annotations

import copyreg
import pickle
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import accumulate
from typing import Any

# Lone surrogates (a document decoded leniently) survive the round trip through the blob.
_ERRORS = "surrogatepass"
# Past this many lookups (a poll of hundreds of items; one of 20 asks about 1,500 words) a plain
# dictionary of the keys is built once (about 0.03 s for 100,000): a dictionary hit is ten times cheaper
# than a search of the hashes, and its cost is then paid back.
DICT_AFTER = 5_000


# Buffers at least this big are written beside the pickle in the cache file (bot.library_cache), and read
# back as views of the mapped file: no copy, and only the pages a poll touches are read.
OUT_OF_BAND = 1 << 14


def frozen(typecode: str, data: Any) -> Any:
    """An array as the cache file holds it: a read-only view of its bytes with the array's items (the
    same indexing, slicing, length and order as the array). What changes one first thaws it (thawed)."""
    return memoryview(data).cast("B").cast(typecode)  # type: ignore[call-overload]


def thawed(values: Any) -> Any:
    """An array of the items of an array or of a view made by frozen (a copy, which can change)."""
    if isinstance(values, array):
        return values
    found = array(values.format)
    found.frombytes(values.cast("B"))
    return found


def out_of_band(obj: object) -> Any:
    """For a pickler's reducer_override: arrays and views of them go as buffers (beside the pickle when
    its buffer_callback takes them), read back by frozen."""
    if isinstance(obj, array):
        return frozen, (obj.typecode, pickle.PickleBuffer(obj))
    if isinstance(obj, memoryview):
        return frozen, (obj.format, pickle.PickleBuffer(obj))
    return NotImplemented


# A view read from the cache file, pickled for another process (a spawned judging worker): an array again.
copyreg.pickle(memoryview, lambda view: (thawed, (array(view.format, view.tobytes()),)))


def key_hash(key: str) -> int:
    # crc32, not hash(): str hashes differ from process to process, and the tables are cached on disk.
    return zlib.crc32(key.encode("utf-8", _ERRORS))


class Strings(Sequence[str]):
    """A read-only sequence of strings: one UTF-8 blob, the strings joined by NUL, and where each starts
    in it. When no string holds a NUL (plain), reading them all is one decode and one split."""

    def __init__(self, items: Iterable[str] = ()) -> None:
        parts = [s.encode("utf-8", _ERRORS) for s in items]
        self.offsets = array("q", accumulate((len(p) + 1 for p in parts), initial=0))
        self.blob = b"\0".join(parts)
        self.plain = not any(b"\0" in p for p in parts)

    def __reduce_ex__(self, protocol: Any) -> Any:
        # The blob as a buffer: beside the pickle in the cache file (read back as a view of it).
        blob = pickle.PickleBuffer(self.blob) if protocol >= 5 else bytes(self.blob)
        return _strings, (self.offsets, blob, self.plain)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    # One string at a time: nothing here needs slices.
    def __getitem__(self, n: int) -> str:  # type: ignore[override]
        if not 0 <= n < len(self.offsets) - 1:
            raise IndexError(n)
        return str(self.blob[self.offsets[n]:self.offsets[n + 1] - 1], "utf-8", _ERRORS)

    def __iter__(self) -> Iterator[str]:
        if not len(self):
            return iter(())
        if self.plain:
            return iter(str(self.blob, "utf-8", _ERRORS).split("\0"))
        return (self[n] for n in range(len(self)))


def _strings(offsets: Any, blob: Any, plain: bool) -> Strings:
    strings = Strings.__new__(Strings)
    strings.offsets, strings.blob, strings.plain = offsets, blob, plain
    return strings


class KeyTable:
    """Where each of a sequence of keys is: the keys' hashes sorted, each with the key's number. A
    lookup hashes the key, searches the hashes and confirms each candidate with `same` (hashes of
    different keys may be equal), so the keys themselves need not be held here."""

    def __init__(self, keys: Iterable[str] = ()) -> None:
        hashes = [key_hash(k) for k in keys]
        order = sorted(range(len(hashes)), key=hashes.__getitem__)
        self.hashes = array("q", (hashes[n] for n in order))
        self.numbers = array("q", order)
        self._lookups = 0
        self._dict: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.numbers)

    def __getstate__(self) -> dict[str, object]:
        return {"hashes": self.hashes, "numbers": self.numbers}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lookups = 0
        self._dict = None

    def table(self) -> dict[str, int] | None:
        """Key -> number of every key, once find built it (after DICT_AFTER lookups)."""
        return self._dict

    def find(self, key: str, same: Callable[[int, str], bool], every: Callable[[], Iterable[tuple[str, int]]]) -> int:
        """The number of the key (-1 when absent). same(n, key): whether key number n is this key;
        every(): (key, number) of every key, for the dictionary built after DICT_AFTER lookups."""
        found = self._dict
        if found is not None:
            return found.get(key, -1)
        self._lookups += 1
        if self._lookups > DICT_AFTER:
            self._dict = dict(every())
            return self._dict.get(key, -1)
        hashes = self.hashes
        if not hashes:
            return -1
        h = key_hash(key)
        i = bisect_left(hashes, h)
        while i < len(hashes) and hashes[i] == h:
            n = self.numbers[i]
            if same(n, key):
                return n
            i += 1
        return -1
