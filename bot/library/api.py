"""The library: the person's documents imported into the store, and "is this known?" over it."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.core.identity import (
    Identity,
    arxiv_id_from_query,
    looks_like_url,
    text_identities,
    title_identity,
    url_identities,
)
from bot.core.records import LibraryEntry, LibraryStats
from bot.core.errors import LibraryError
from bot.library.documents import decode_document, document_paths
from bot.library.matcher import IdentityIndex
from bot.library.parser import parse_document
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


@dataclass(frozen=True)
class ImportReport:
    files: tuple[str, ...]
    stats: LibraryStats
    ignored_links: tuple[IgnoredLink, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"files": list(self.files), **self.stats.as_dict(),
                "ignored_links": [dict(i.__dict__) for i in self.ignored_links]}


@dataclass(frozen=True)
class CheckResult:
    query: str
    known: bool
    rule: str | None = None
    entry: dict[str, Any] | None = None
    identities: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"query": self.query, "known": self.known, "entry": self.entry, "rule": self.rule}


def display_path(path: Path, root: Path | None = None) -> str:
    """Paths are stored relative to the working folder when inside it, so a database moves with
    its project."""
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
class _Scan:
    names: tuple[str, ...]  # every document the paths name, resolved, each once
    parsed: tuple[tuple[DocumentState, list[LibraryEntry]], ...]  # new or changed content
    touched: tuple[DocumentState, ...]  # same content, new stat
    unchanged: int


def _scan(store: Store, paths: Iterable[str | Path]) -> _Scan:
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
            touched.append(DocumentState(name, size, st.st_mtime_ns, sha, old.entries))
            continue
        entries = parse_document(decode_document(data), name)
        parsed.append((DocumentState(name, size, st.st_mtime_ns, sha, len(entries)), entries))
    return _Scan(names, tuple(parsed), tuple(touched), unchanged)


def _apply(store: Store, scan: _Scan, remove: Iterable[str] = ()) -> list[str]:
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
    return removed


def sync_library(store: Store, paths: Iterable[str | Path]) -> SyncReport:
    """Brings the library up to date with the documents `paths` name, as they are on disk now: changed
    documents read again, new ones read, and every document that is gone or no longer named leaves with
    its entries. Every command that dedupes runs this first; when nothing changed it costs a stat per
    document and writes nothing."""
    scan = _scan(store, paths)
    keep = set(scan.names)
    stale = sorted((set(store.library_documents()) | store.library_files()) - keep)
    removed = _apply(store, scan, stale) if scan.parsed or scan.touched or stale else []
    return SyncReport(tuple(s.path for s, _ in scan.parsed), tuple(removed), scan.unchanged, _ignored(scan))


def import_documents(store: Store, paths: Iterable[str | Path]) -> ImportReport:
    """Reads the documents `paths` name into the library (what changed of them; nothing is removed: see
    sync_library). Every document is parsed before anything is written: a bad file stops the import
    before anything is written, so nothing is lost."""
    scan = _scan(store, paths)
    _apply(store, scan)
    return ImportReport(files=tuple(display_path(Path(n)) for n in scan.names), stats=store.library_stats(),
                        ignored_links=_ignored(scan))


def _ignored(scan: _Scan) -> tuple[IgnoredLink, ...]:
    return tuple(IgnoredLink(display_path(Path(e.file)), e.line, link) for _, entries in scan.parsed
                 for e in entries for link in e.ignored_links)


def build_index(store: Store, owners: tuple[str, ...] = ("entry",)) -> IdentityIndex:
    index = IdentityIndex()
    rows = [r for r in store.identity_rows() if r[2] in owners]
    # Library entries go first so a match names the person's own entry rather than an item.
    rows.sort(key=lambda r: (r[2] != "entry", r[3]))
    grouped: dict[tuple[str, int], list[Identity]] = {}
    for kind, value, owner, owner_id in rows:
        grouped.setdefault((owner, owner_id), []).append(Identity(kind, value))
    for (owner, owner_id), idents in grouped.items():
        index.add(owner, owner_id, idents)
    return index


def query_identities(query: str) -> set[Identity]:
    """What a `library check` query names: a link, a bare arXiv id, or a title."""
    q = query.strip()
    if looks_like_url(q):
        return url_identities(q)
    arxiv = arxiv_id_from_query(q)
    if arxiv:
        return {Identity("arxiv", arxiv)}
    found = text_identities(q)
    ident = title_identity(q, min_words=1)
    if ident:
        found.add(ident)
    return found


def check(store: Store, queries: Iterable[str], index: IdentityIndex | None = None) -> list[CheckResult]:
    index = index or build_index(store, owners=("entry", "item"))
    results = []
    for query in queries:
        idents = query_identities(query)
        match = index.match(idents)
        if match is None:
            results.append(CheckResult(query, False, identities=[f"{i.kind}:{i.value}" for i in idents]))
            continue
        found = store.library_entry(match.owner_id) if match.owner == "entry" else store.item(match.owner_id)
        entry = {**found.as_json(), "source": "library" if match.owner == "entry" else "item"} if found else None
        if entry is not None and match.owner == "entry":
            entry["file"] = display_path(Path(entry["file"]))  # stored absolute; shown relative to here when inside
        results.append(CheckResult(query, True, match.rule, entry, [f"{i.kind}:{i.value}" for i in idents]))
    return results
