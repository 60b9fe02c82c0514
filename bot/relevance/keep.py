"""How likely the person is to keep an item: the one scale on which items from every source compete
for the digest's slots (spec section 7).

A source's own score (relevance times HN points, arXiv cross-lists, recency) orders items well within
that source but means different things across sources: every paper titled "large language models" is
relevant, and arXiv offers thousands a week. So the digest ranks by an estimate of

    P(keep | item) = share of the person's keeps that are of the item's kind
                     x the part of that kind's keeps that falls at the item's rank within its kind

- Kinds: a Hacker News thread (any story with an HN id, including a paper that HN discussed: the
  discussion is the paper's popularity evidence), an arXiv paper without one, a post from a feed.
- The shares come from the library: entries that link an HN thread, entries that name an arXiv paper
  only, and entries that link anything else (an article; where it came from is not written down, so it
  counts for threads and feeds in proportion to what the stream offers of each). Add-one smoothing, so
  a kind the person never kept still shows its very best item now and then.
- Within a kind, keeps fall off with rank like 1/rank (Zipf) over everything of that kind the stream
  offered in the digest's window: the more a source offers, the thinner each item's share. Ten times
  as many papers a week does not mean ten times as many papers kept.

Verdicts (the person deleting or keeping what the bot appended to the log, bot.library.review) join
through `KindCounts`: `shown` (appended items of the kind with a verdict) and `deleted` (those whose line
the person removed). They multiply a kind's share by its acceptance rate over the overall one, each
a posterior under a prior centred on the overall acceptance rate with the weight of PRIOR_SHOWN items
shown: what a digest shows is mostly not kept (about 5% on the replays), so a week of deletions is the
expected case, not evidence against a kind. Eight weeks of nothing kept of one kind (and 5% of the other)
take its share from a half to a third, not to nothing (an even prior took HN to 2 of 162 slots). With no
verdicts the factor is 1.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, TypedDict

from bot.core.records import RankInput

Kind = Literal["hn", "paper", "feed"]
HN: Final = "hn"
PAPER: Final = "paper"
FEED: Final = "feed"
KINDS: tuple[Kind, ...] = (HN, PAPER, FEED)
SMOOTHING = 1.0  # add-one: pseudo-keeps per kind
PRIOR_RATE = 0.05  # the share of shown items a person keeps before any verdict: about 5% on the replays
PRIOR_SHOWN = 100.0  # the prior's weight, in shown items: a handful of weekly digests cannot swing it


def item_kind(hn_id: object, arxiv_id: object) -> Kind:
    if hn_id:
        return HN
    if arxiv_id:
        return PAPER
    return FEED


@dataclass
class KindCounts:
    """What the person kept of each kind (library entries), and what the stream offered this window.
    `shown`/`deleted` are the person's verdicts on items the bot appended to the log (not yet recorded:
    zero)."""

    kept: Counter[str] = field(default_factory=Counter)
    articles: int = 0  # entries linking neither an HN thread nor a paper: threads or feeds, we cannot tell
    offered: Counter[str] = field(default_factory=Counter)
    shown: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)

    def verdict_factor(self, kind: Kind) -> float:
        """The kind's acceptance rate over the overall one (1 with no verdicts), both posteriors: the
        overall rate under PRIOR_RATE, the kind's under the overall rate, each worth PRIOR_SHOWN items."""
        shown = sum(self.shown.values())
        overall = (shown - sum(self.deleted.values()) + PRIOR_SHOWN * PRIOR_RATE) / (shown + PRIOR_SHOWN)
        rate = (self.shown[kind] - self.deleted[kind] + PRIOR_SHOWN * overall) / (self.shown[kind] + PRIOR_SHOWN)
        return rate / overall

    def shares(self) -> dict[Kind, float]:
        """Share of the person's keeps per kind offered now (kinds the stream does not offer get none)."""
        present = [k for k in KINDS if self.offered[k] > 0]
        non_paper = sum(self.offered[k] for k in present if k != PAPER)
        weight = {}
        for k in present:
            kept = float(self.kept[k])
            if k != PAPER and non_paper:
                kept += self.articles * self.offered[k] / non_paper
            weight[k] = (kept + SMOOTHING) * self.verdict_factor(k)
        total = sum(weight.values())
        return {k: w / total for k, w in weight.items()} if total else {}


def library_counts(entry_kinds: Iterable[set[str]]) -> KindCounts:
    """Counts from the identity kinds of each library entry (hn, arxiv, url, doi, title)."""
    counts = KindCounts()
    for kinds in entry_kinds:
        if "hn" in kinds:
            counts.kept[HN] += 1
        elif "arxiv" in kinds:
            counts.kept[PAPER] += 1
        elif kinds & {"url", "doi"}:
            counts.articles += 1
    return counts


def add_verdicts(counts: KindCounts, verdicts: Mapping[tuple[bool, bool], tuple[int, int]]) -> KindCounts:
    """The person's verdicts, by (has an HN id, has an arXiv id) -> (decided, deleted), into the counts."""
    for (has_hn, has_arxiv), (decided, deleted) in verdicts.items():
        kind = item_kind(has_hn, has_arxiv)
        counts.shown[kind] += decided
        counts.deleted[kind] += deleted
    return counts


def _harmonic(n: int) -> float:
    if n < 50:
        return sum(1.0 / r for r in range(1, n + 1))
    return math.log(n) + 0.5772156649 + 1.0 / (2 * n)


class KeepExplanation(TypedDict):
    """How an item's keep was reached, as the digest stores it (in the item's explain["keep"])."""

    kind: Kind
    kind_share: float
    rank_in_kind: int
    offered_of_kind: int
    keep: float


@dataclass(frozen=True)
class Kept:
    id: int
    keep: float  # the share of the expected keeps among the candidates that falls on this item
    explain: KeepExplanation


def rank_by_keep(candidates: Sequence[RankInput], counts: KindCounts) -> list[Kept]:
    """The candidates (in any order) by keep, best first."""
    by_kind: dict[Kind, list[RankInput]] = {k: [] for k in KINDS}
    for row in candidates:
        by_kind[item_kind(row.hn_id, row.arxiv_id)].append(row)
    for k in KINDS:
        counts.offered[k] = max(counts.offered[k], len(by_kind[k]))
    shares = counts.shares()
    out = []
    for k, rows in by_kind.items():
        rows.sort(key=lambda r: (-(r.score or 0.0), r.id))
        offered = counts.offered[k]
        spread = _harmonic(offered)
        for rank, row in enumerate(rows, 1):
            keep = shares.get(k, 0.0) / (rank * spread)
            out.append(Kept(row.id, keep, {
                "kind": k, "kind_share": round(shares.get(k, 0.0), 4), "rank_in_kind": rank,
                "offered_of_kind": offered, "keep": round(keep, 5)}))
    out.sort(key=lambda kept: (-kept.keep, kept.id))
    return out
