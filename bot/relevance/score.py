"""Relevance and rank score (spec section 7): the decider that weighs the evidence. Pure: data in,
score and explanation out.

An item's relevance combines the tracked topics (`topics`), the person's taste (`taste`: words the
things their library names use far more than the stream does) and its similarity to single library
entries (`taste.LibraryModel`, TF-IDF cosine): their picks are the best signal of taste. Its rank
score weighs relevance by source signals (HN points, arXiv cross-lists, curated blogs), less the heat
of a thread that is mostly argument, and staleness beyond the digest's week (`hn_titles` reads an old
work's year and a job ad). Every number is explained in `explain`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NotRequired, TypedDict

from bot.core.records import FeedItem
from bot.relevance.hn_titles import is_job_ad, work_year
from bot.relevance.taste import LibraryModel, TasteModel
from bot.relevance.topics import TopicMatcher
from bot.relevance.words import site_token, tokens

# Weights of the parts of relevance and of the rank score. Chosen by rule, not fitted per story: the
# library is softer evidence than a topic hit, and source signals and recency only order what is
# already relevant.
LIBRARY_SCALE = 0.6  # a cosine of 0.6 against one library entry counts as fully similar
LIBRARY_WEIGHT = 0.4
TASTE_WEIGHT = 0.8
SIGNAL_WEIGHT = 0.15  # HN points, arXiv cross-lists: they order what is relevant
RECENCY_WEIGHT = 0.15
FRESH_DAYS = 7.0  # a weekly digest's period: items this young are all equally recent
# A thread with as many comments as points is a debate (news, policy, drama), not something to read
# and keep: Hacker News itself ranks such threads down. Comments per point, with points smoothed so
# that a young thread's first comments do not count as heat.
HEAT_WEIGHT = 0.15
HEAT_SMOOTHING = 10


def on_topic(topics: Sequence[str]) -> bool:
    """Whether an item matched a tracked topic. One that did not is relevant on library overlap and
    taste alone, softer evidence: a digest shows it only after every on-topic item
    (bot.digest.select), however high its own score."""
    return bool(topics)


class SimilarEntry(TypedDict):
    entry: int
    title: str | None
    cosine: float


class RankParts(TypedDict):
    """The parts of the rank score, each 0..1; a refresh re-ranks an item with these alone."""

    signal: float
    heat: float
    recency: float


class Explanation(RankParts):
    """Every number behind a score, as stored with the item (its `explain` JSON) in this key order."""

    topic_score: float
    topics: list[str]
    phrases: list[str]
    library_similarity: float
    taste: float
    taste_words: list[str]
    similar_to: list[SimilarEntry]
    job_ad: NotRequired[bool]  # present (True) only for a job ad, whose relevance is 0 whatever it matched


@dataclass(frozen=True)
class Scored:
    relevance: float
    score: float
    topics: tuple[str, ...]
    explain: Explanation


class Scorer:
    def __init__(self, topics: TopicMatcher, library: LibraryModel, now: datetime,
                 tracked_categories: Iterable[str] = ("cs.CL", "cs.LG", "cs.AI"),
                 taste: TasteModel | None = None) -> None:
        self.topics = topics
        self.library = library
        self.taste = taste or TasteModel()
        self.now = now
        self.tracked = set(tracked_categories)

    def score(self, item: FeedItem, sources: Sequence[str] = ()) -> Scored:
        topic_score, topic_names, phrases = self.topics.match(item.title, item.summary)
        # The title counts twice: the words of "title title summary", the title tokenized once (a space
        # ends every word, and NFKC and lower case work alike on either side of one).
        in_title = tokens(item.title)
        words = in_title + in_title + tokens(item.summary[:600])
        site = site_token(item.url)
        if site:
            words.append(site)
        similar = self.library.similar(words)
        lib_sim = min(1.0, similar[0][0] / LIBRARY_SCALE) if similar else 0.0
        taste, taste_words = self.taste.taste(words)
        relevance = 1.0 - (1.0 - topic_score) * (1.0 - LIBRARY_WEIGHT * lib_sim) * (1.0 - TASTE_WEIGHT * taste)
        job_ad = is_job_ad(item.title)
        if job_ad:
            relevance = 0.0
        score, parts = self.rank(relevance, item, sources)
        explain: Explanation = {
            "topic_score": round(topic_score, 3), "topics": topic_names, "phrases": phrases,
            "library_similarity": round(lib_sim, 3), "taste": round(taste, 3), "taste_words": taste_words,
            "similar_to": [{"entry": eid, "title": self.library.titles.get(eid), "cosine": round(s, 3)}
                           for s, eid in similar],
            **parts,
        }
        if job_ad:
            explain["job_ad"] = True
        return Scored(round(relevance, 4), score, tuple(topic_names), explain)

    def rank(self, relevance: float, item: FeedItem, sources: Sequence[str] = ()) -> tuple[float, RankParts]:
        """The rank score of an item of this relevance, and its parts for `explain`. Separate from
        relevance because a known item's points and comments climb between polls while what it is
        about does not: a refresh re-ranks it without re-reading it."""
        signal = self.signal(item, sources)
        recency = self.recency(item)
        heat = self.heat(item)
        score = relevance * (1.0 - SIGNAL_WEIGHT - RECENCY_WEIGHT + SIGNAL_WEIGHT * signal + RECENCY_WEIGHT * recency
                             - HEAT_WEIGHT * heat)
        return round(score, 4), {"signal": round(signal, 3), "heat": round(heat, 3), "recency": round(recency, 3)}

    def signal(self, item: FeedItem, sources: Sequence[str] = ()) -> float:
        votes = min(1.0, math.log1p(item.points or 0) / math.log1p(500))
        if item.hn_id or (item.points is not None and not item.arxiv_id):
            return votes
        if item.arxiv_id and item.categories:
            cross = len(self.tracked.intersection(item.categories))
            listed = min(1.0, 0.25 + 0.1 * cross)
        else:
            listed = 0.5  # a curated blog feed the person chose
        # A paper's upvotes (Hugging Face Daily Papers) can only add to how it is listed.
        return max(listed, votes) if item.points is not None else listed

    @staticmethod
    def heat(item: FeedItem) -> float:
        """0..1: comments per point of a discussion thread (0 when the source has no comments)."""
        if not item.comments:
            return 0.0
        return min(1.0, item.comments / ((item.points or 0) + HEAT_SMOOTHING))

    def recency(self, item: FeedItem) -> float:
        if not item.published:
            return 0.5
        try:
            published = datetime.fromisoformat(item.published)
        except ValueError:
            return 0.5
        year = work_year(item.title)
        if year is not None and year < published.year:
            published = published.replace(year=year, month=12, day=31)  # at the youngest the tag allows
        # Within the digest's week age says nothing about what is worth reading; an item older than that
        # (an old paper re-posted, a blog's back catalogue) fades.
        age_days = max(0.0, (self.now - published).total_seconds() / 86400)
        return math.exp(-max(0.0, age_days - FRESH_DAYS) / 7.0)
