"""Merging and deduplication. Pure: items and an identity index in, decisions out.

Items from different sources that share any identity are one item (an HN story linking an arXiv
paper that arXiv also returned becomes one entry with both links). Each merged item is then known
(the library or an earlier item has it) or new.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.core.identity import Identity
from bot.core.records import FeedItem, Match
from bot.library.matcher import IdentityIndex


@dataclass(frozen=True, slots=True)  # slots: a big poll holds one per item (100,000 on 500x200)
class Candidate:
    item: FeedItem  # the merged view
    sources: tuple[str, ...]
    members: tuple[FeedItem, ...]


def merge(items: Sequence[FeedItem]) -> list[Candidate]:
    """Union-find over shared identities; order of first appearance is kept."""
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[Identity, int] = {}
    for i, item in enumerate(items):
        for ident in item.identities:
            j = owner.setdefault(ident, i)
            if j != i:
                a, b = find(i), find(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups: dict[int, list[FeedItem]] = {}
    for i, item in enumerate(items):
        groups.setdefault(find(i), []).append(item)
    return [combine(members) for _, members in sorted(groups.items())]


def combine(members: Sequence[FeedItem]) -> Candidate:
    """One view of several reports of the same thing: the article link over the discussion's (HN) link,
    a paper or blog title over a discussion's title, the first discussion, the longest summary, the
    largest counts, the earliest date."""
    first = members[0]
    if len(members) == 1 and len(set(first.categories)) == len(first.categories):
        return Candidate(first, (first.source,), (first,))  # most items are reported once: nothing to combine
    undiscussed = [m for m in members if not m.discussion] or list(members)
    best = undiscussed[0]
    # The article's own source knows its link best (arXiv's abs page over an HN submission's pdf link).
    ordered = [m for m in members if not m.discussion] + [m for m in members if m.discussion]
    url = next((m.url for m in ordered if m.url and not (m.discussion and m.url == m.discussion.url)), first.url)
    dates = [m.published for m in members if m.published]
    merged = replace(
        best,
        url=url,
        discussion=next((m.discussion for m in members if m.discussion), None),
        arxiv_id=next((m.arxiv_id for m in members if m.arxiv_id), None),
        doi=next((m.doi for m in members if m.doi), None),
        published=min(dates) if dates else None,
        summary=max((m.summary for m in members), key=len),
        points=max((m.points for m in members if m.points is not None), default=None),
        comments=max((m.comments for m in members if m.comments is not None), default=None),
        categories=tuple(dict.fromkeys(c for m in members for c in m.categories)),
        identities=frozenset().union(*(m.identities for m in members)),
        version=max(m.version for m in members),
    )
    return Candidate(merged, tuple(dict.fromkeys(m.source for m in members)), tuple(members))


@dataclass(frozen=True, slots=True)
class Decision:
    candidate: Candidate
    match: Match | None  # None: new

    @property
    def known(self) -> bool:
        return self.match is not None


def decide(candidates: Sequence[Candidate], index: IdentityIndex,
           found: Sequence[Match | None] | None = None) -> list[Decision]:
    """Known or new for each candidate. Each is looked up in `index` (the library and the stored items;
    `found` holds those lookups when processes that shared the work made them). One that the index does
    not know is then looked up among the new candidates before it, and joins them if none matches, so
    two candidates that only a fuzzy title links are not both new. The index itself is left as it was."""
    new = IdentityIndex()
    decisions = []
    for n, candidate in enumerate(candidates):
        identities = candidate.item.identities
        match = found[n] if found is not None else index.match(identities)
        if match is None:
            match = new.match(identities)
            if match is None:
                new.add("pending", n, identities)
        decisions.append(Decision(candidate, match))
    return decisions
