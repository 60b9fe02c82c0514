"""Bringing the library up to date with the reading documents on disk: which documents changed since
the library read them (a stat each; a read and a hash where size or mtime differ; a parse only where
the content does), and which left. Apart from the import API so that a poll whose documents did not
change loads neither the parser nor the matcher."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.core.errors import LibraryError
from bot.core.records import LibraryEntry
from bot.library.documents import decode_document, document_paths
from bot.store.database import Store
from bot.store.library import DocumentState

# A document whose mtime is this close to now may still change within the same mtime tick without its
# size changing (git's "racy" files): its stat is not trusted, so the next sync reads it again.
RACY_NS = 2_000_000_000


@dataclass(frozen=True)
class IgnoredLink:
    """A link in a reading document that is not a URL (a placeholder like `http://[your-host]/`)."""

    file: str
    line: int
    link: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.link}"


def display_path(path: Path, root: Path | None = None) -> str:
    """A document's path as a person reads it: relative to the working folder when inside it. (The
    store keys documents by their resolved absolute path; this is for messages and reports only.)"""
    root = root or Path.cwd()
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path.resolve())


@dataclass(frozen=True)
class SyncReport:
    """What bringing the library up to date did: documents read again (new or changed), documents that
    left (gone from disk, or no longer configured), and how many were unchanged (a stat each)."""

    read: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: int
    ignored_links: tuple[IgnoredLink, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.read or self.removed)


@dataclass(frozen=True)
class Scan:
    names: tuple[str, ...]  # every document the paths name, resolved, each once
    parsed: tuple[tuple[DocumentState, list[LibraryEntry]], ...]  # new or changed content
    touched: tuple[DocumentState, ...]  # same content, new stat
    unchanged: int


def scan_documents(store: Store, paths: Iterable[str | Path]) -> Scan:
    """Which documents changed on disk since the library read them: a stat per document, a read and a
    hash only where size or mtime differ, a parse only where the content does. Documents are keyed by
    their resolved absolute path, so the same file named from two working folders (or as a seed and as
    the log) is one document."""
    names = tuple(dict.fromkeys(str(p.resolve()) for p in document_paths(paths)))
    held = store.library_documents()
    now = time.time_ns()  # compared with file mtimes, which are the file system's time, not the bot's clock
    parsed: list[tuple[DocumentState, list[LibraryEntry]]] = []
    touched: list[DocumentState] = []
    unchanged = 0
    for name in names:
        path = Path(name)
        try:
            st = path.stat()
            old = held.get(name)
            if old is not None and old.size == st.st_size and old.mtime_ns == st.st_mtime_ns:
                unchanged += 1
                continue
            data = path.read_bytes()
        except OSError as exc:
            raise LibraryError(f"Cannot read {path}: {exc.strerror or exc}", name) from exc
        sha = hashlib.sha256(data).hexdigest()
        size = st.st_size if now - st.st_mtime_ns > RACY_NS else -1
        if old is not None and old.sha256 == sha:
            touched.append(DocumentState(name, size, st.st_mtime_ns, sha, old.entries, old.ignored))
            continue
        from bot.library.parser import parse_document  # only when a document changed (start-up time)

        entries = parse_document(decode_document(data), name)
        ignored = tuple((e.line, link) for e in entries for link in e.ignored_links)
        parsed.append((DocumentState(name, size, st.st_mtime_ns, sha, len(entries), ignored), entries))
    return Scan(names, tuple(parsed), tuple(touched), unchanged)


def apply_scan(store: Store, scan: Scan, remove: Iterable[str] = ()) -> list[str]:
    removed = []
    with store.transaction():
        for state, entries in scan.parsed:
            store.replace_library_file(state.path, entries)
            store.record_document(state)
        for state in scan.touched:
            store.record_document(state)
        for name in remove:
            store.remove_library_file(name)
            removed.append(name)
        if scan.parsed:
            store.retire_items_the_library_holds()
    return removed


def sync_library(store: Store, paths: Iterable[str | Path]) -> SyncReport:
    """Brings the library up to date with the documents `paths` name, as they are on disk now: changed
    documents read again, new ones read, and every document that is gone or no longer named leaves with
    its entries. Every command that dedupes runs this first; when nothing changed it costs a stat per
    document and writes nothing."""
    scan = scan_documents(store, paths)
    keep = set(scan.names)
    stale = sorted((set(store.library_documents()) | store.library_files()) - keep)
    removed = apply_scan(store, scan, stale) if scan.parsed or scan.touched or stale else []
    return SyncReport(tuple(s.path for s, _ in scan.parsed), tuple(removed), scan.unchanged, ignored_links_of(scan))


def ignored_links_of(scan: Scan) -> tuple[IgnoredLink, ...]:
    """The links that are not URLs in the documents this scan read."""
    return tuple(IgnoredLink(display_path(Path(state.path)), line, link) for state, _ in scan.parsed
                 for line, link in state.ignored)


def stored_ignored_links(store: Store, names: Iterable[str]) -> tuple[IgnoredLink, ...]:
    """The links that are not URLs in these documents as the library last read them (read again or not)."""
    held = store.library_documents()
    return tuple(IgnoredLink(display_path(Path(name)), line, link) for name in names if name in held
                 for line, link in held[name].ignored)


