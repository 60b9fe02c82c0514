"""The library: the person's documents imported into the store, and "is this known?" over it."""

from __future__ import annotations

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
from bot.core.records import LibraryStats
from bot.library.matcher import IdentityIndex
from bot.library.sync import (
    IgnoredLink,
    SyncReport,
    apply_scan,
    display_path,
    scan_documents,
    stored_ignored_links,
    sync_library,
)
from bot.store.database import Store

__all__ = ["IgnoredLink", "SyncReport", "display_path", "sync_library", "import_documents", "check", "build_index"]


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


def import_documents(store: Store, paths: Iterable[str | Path]) -> ImportReport:
    """Reads the documents `paths` name into the library (what changed of them; nothing is removed: see
    sync_library). Every document is parsed before anything is written: a bad file stops the import
    before anything is written, so nothing is lost."""
    scan = scan_documents(store, paths)
    apply_scan(store, scan)
    return ImportReport(files=tuple(display_path(Path(n)) for n in scan.names), stats=store.library_stats(),
                        ignored_links=stored_ignored_links(store, scan.names))


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
