"""Relevance (spec section 7). Pure: only processes data.

An item's relevance combines the tracked topics (phrases, with negative phrases that veto a topic),
the person's taste (words the things their library names use far more than the stream does) and its
similarity to single library entries (TF-IDF cosine): their picks are the best signal of taste. Its
rank score weighs relevance by source signals (HN points, arXiv cross-lists, curated blogs), less the
heat of a thread that is mostly argument, and staleness beyond the digest's week. Every number is
explained in `explain`.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from bot.core.records import FeedItem

_WORD_RE = re.compile(r"[a-z0-9][a-z0-9+#\-.]*[a-z0-9+#]|[a-z0-9]")
STOPWORDS = frozenset(
    """a an the and or of to in on for with by from at as is are was were be been being it its this that these
    those how why what when where who which we you your our their his her my i me us not no yes can could should
    would will just about into over under than then there here more most very also via vs new using use used
    show ask hn tell part one two three via up out all any some do does did has have had get got make made
    via de la le el en but etc good great really like well much many first last next year years today way
    thing things article post page link links thread comment comments here see also read found""".split()
)
# Weights of the parts of relevance and of the rank score. Chosen by rule, not fitted per story:
# a topic hit in the title is strong evidence, the library is a softer one, and source signals and
# recency only order what is already relevant.
TITLE_HIT = 0.7
EXTRA_HIT = 0.15
SUMMARY_HIT = 0.1
LIBRARY_SCALE = 0.6  # a cosine of 0.6 against one library entry counts as fully similar
MIN_SHARED_WORDS = 2
SECOND_TOPIC = 0.25
SIGNAL_WEIGHT = 0.15  # HN points, arXiv cross-lists: they order what is relevant
RECENCY_WEIGHT = 0.15
FRESH_DAYS = 7.0  # a weekly digest's period: items this young are all equally recent
# A thread with as many comments as points is a debate (news, policy, drama), not something to read
# and keep: Hacker News itself ranks such threads down. Comments per point, with points smoothed so
# that a young thread's first comments do not count as heat.
HEAT_WEIGHT = 0.15
HEAT_SMOOTHING = 10
TASTE_MIN_ENTRIES = 2  # a word must recur in the library to say anything about taste
TASTE_MAX_WEIGHT = 4.0
TASTE_TOP_WORDS = 4
TASTE_SCALE = 6.0
TASTE_WEIGHT = 0.8
MAX_POSTINGS_PER_ITEM = 4000
LIBRARY_WEIGHT = 0.4


def tokens(text: str) -> list[str]:
    words = _WORD_RE.findall(text.lower())
    out = []
    for w in words:
        w = w.strip(".-")
        if len(w) < 2 or w in STOPWORDS or w.isdigit():
            continue
        if len(w) > 4 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]  # plural folding: "models" ~ "model", "llms" stays distinct from "llm" below
        out.append(w)
    return out


def site_token(url: str | None) -> str | None:
    if not url:
        return None
    host = (urlsplit(url).hostname or "").lower()
    host = host[4:] if host.startswith("www.") else host
    if not host or host in ("news.ycombinator.com", "github.com", "arxiv.org", "youtube.com", "twitter.com",
                            "x.com", "medium.com", "substack.com"):
        return None  # hosts of everything say nothing about taste
    return "site:" + host


@dataclass(frozen=True)
class Topic:
    name: str
    phrases: tuple[str, ...]
    negative: tuple[str, ...] = ()
    weight: float = 1.0
    modifier: bool = False  # a kind of item (explainers), not an area: it only adds to a real topic



def _phrase_source(phrase: str) -> str:
    return r"[\s\-]+".join(re.escape(w) for w in phrase.lower().split())


def _alternation(phrases: Sequence[str]) -> re.Pattern[str] | None:
    """One regex for a list of phrases (whole words, "fine tuning" also matches "fine-tuning");
    longest first so the most specific phrase is the one reported."""
    if not phrases:
        return None
    ordered = sorted(set(phrases), key=lambda p: (-len(p), p))
    return re.compile(r"(?<![\w])(?:" + "|".join(_phrase_source(p) for p in ordered) + r")(?![\w])")


def _canonical(found: str) -> str:
    return " ".join(re.split(r"[\s\-]+", found.lower()))


def parse_topics(data: Mapping[str, Any], where: str = "topics file") -> list[Topic]:
    raw = data.get("topics")
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{where} needs at least one [[topics]] table")
    topics = []
    for i, t in enumerate(raw, 1):
        if not isinstance(t, dict) or not isinstance(t.get("name"), str):
            raise ValueError(f"topic #{i} in {where} needs a name")
        phrases = t.get("phrases", [])
        negative = t.get("negative", [])
        if not phrases or not all(isinstance(p, str) and p.strip() for p in phrases):
            raise ValueError(f"topic '{t['name']}' in {where} needs a list of phrases")
        if not all(isinstance(p, str) for p in negative):
            raise ValueError(f"topic '{t['name']}' in {where}: negative must be a list of strings")
        weight = t.get("weight", 1.0)
        if not isinstance(weight, int | float) or weight <= 0:
            raise ValueError(f"topic '{t['name']}' in {where}: weight must be a positive number")
        topics.append(Topic(t["name"], tuple(phrases), tuple(negative), float(weight), bool(t.get("modifier", False))))
    return topics


class TopicMatcher:
    """Every phrase of every topic is one regex (and every negative phrase another), so an item costs
    four searches whatever the number of topics. A phrase found is credited to each topic that lists
    it; where phrases overlap in the text, the longest wins."""

    def __init__(self, topics: Sequence[Topic]) -> None:
        self.topics = list(topics)
        self._owners: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self._vetoes: dict[str, set[int]] = defaultdict(set)
        for n, topic in enumerate(self.topics):
            for phrase in topic.phrases:
                self._owners[_canonical(phrase)].append((n, phrase))
            for phrase in topic.negative:
                self._vetoes[_canonical(phrase)].add(n)
        self._modifier = {t.name: t.modifier for t in self.topics}
        self._positive = _alternation([p for t in self.topics for p in t.phrases])
        self._negative = _alternation([p for t in self.topics for p in t.negative])

    def _found(self, text: str) -> dict[int, list[str]]:
        hits: dict[int, list[str]] = defaultdict(list)
        if text and self._positive is not None:
            for match in self._positive.findall(text):
                for n, phrase in self._owners.get(_canonical(match), ()):
                    if phrase not in hits[n]:
                        hits[n].append(phrase)
        return hits

    def match(self, title: str, summary: str) -> tuple[float, list[str], list[str]]:
        """(score 0..1, matched topic names best first, matched phrases)."""
        title_l, summary_l = title.lower(), summary.lower()
        vetoed: set[int] = set()
        if self._negative is not None:
            for text in (title_l, summary_l):
                for match in self._negative.findall(text) if text else ():
                    vetoed |= self._vetoes.get(_canonical(match), set())
        in_title_by, in_summary_by = self._found(title_l), self._found(summary_l)
        best: list[tuple[float, str]] = []
        phrases: list[str] = []
        for n in sorted(set(in_title_by) | set(in_summary_by)):
            if n in vetoed:
                continue
            topic = self.topics[n]
            in_title = in_title_by.get(n, [])
            in_summary = [p for p in in_summary_by.get(n, []) if p not in in_title]
            s = (TITLE_HIT + EXTRA_HIT * (len(in_title) - 1)) if in_title else 0.0
            s += SUMMARY_HIT * min(len(in_summary), 3) + (0.2 if in_summary and not in_title else 0.0)
            best.append((min(1.0, s) * topic.weight, topic.name))
            phrases += in_title + in_summary
        best.sort(reverse=True)
        areas = [b for b in best if not self._modifier[b[1]]]
        if not areas:
            return 0.0, [], []  # an explainer of something else entirely is not relevant
        # The best area counts fully; a second topic touched at once (an explainer about LLMs) adds a little.
        second = [b for b in best if b is not areas[0]]
        score = areas[0][0] + (SECOND_TOPIC * second[0][0] if second else 0.0)
        return min(1.0, score), [name for _, name in best], phrases


@dataclass
class LibraryModel:
    """TF-IDF vectors of the library entries, with an inverted index so that scoring an item touches
    only entries sharing a word with it."""

    titles: dict[int, str] = field(default_factory=dict)
    idf: dict[str, float] = field(default_factory=dict)
    postings: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    size: int = 0

    @classmethod
    def build(cls, entries: Iterable[tuple[int, str, str, Sequence[str]]]) -> LibraryModel:
        """entries: (id, title, text, urls)."""
        docs: dict[int, Counter[str]] = {}
        titles: dict[int, str] = {}
        for entry_id, title, text, urls in entries:
            words = tokens(f"{title} {title} {strip_urls(text)}")
            for url in urls:
                site = site_token(url)
                if site:
                    words.append(site)
            if words:
                docs[entry_id] = Counter(words)
                titles[entry_id] = title or text[:80]
        n = len(docs)
        df: Counter[str] = Counter()
        for counts in docs.values():
            df.update(counts.keys())
        # Words in more than a fifth of the library are its common vocabulary, not a signal.
        idf = {w: math.log((1 + n) / (1 + d)) + 1.0 for w, d in df.items() if d <= max(3, n // 5)}
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for entry_id, counts in docs.items():
            vec = {w: (1 + math.log(c)) * idf[w] for w, c in counts.items() if w in idf}
            norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
            for w, v in vec.items():
                postings[w].append((entry_id, v / norm))
        return cls(titles=titles, idf=idf, postings=dict(postings), size=n)

    def similar(self, words: Sequence[str], top: int = 3) -> list[tuple[float, int]]:
        counts = Counter(w for w in words if w in self.idf)
        if not counts:
            return []
        vec = {w: (1 + math.log(c)) * self.idf[w] for w, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        acc: dict[int, float] = defaultdict(float)
        shared: Counter[int] = Counter()
        budget = MAX_POSTINGS_PER_ITEM
        # Rarest words first: they say the most, and their posting lists are short. Common words whose
        # lists would exceed the budget are left out, so a big library costs a bounded time per item.
        for w in sorted(vec, key=lambda word: len(self.postings.get(word, ()))):
            postings = self.postings.get(w, ())
            if len(postings) > budget:
                break
            budget -= len(postings)
            q = vec[w] / norm
            for entry_id, weight in postings:
                acc[entry_id] += q * weight
                shared[entry_id] += 1
        # One shared word between two short texts gives a high cosine and means nothing: an entry
        # resembles the item only when they share at least two informative words.
        best = sorted(((e, s) for e, s in acc.items() if shared[e] >= MIN_SHARED_WORDS),
                      key=lambda kv: -kv[1])[:top]
        return [(score, entry_id) for entry_id, score in best]


_ID_HOSTS = ("news.ycombinator.com", "youtu.be", "youtube.com", "twitter.com", "x.com")
_PATH_SPLIT_RE = re.compile(r"[/\-_.+~=&?#%]+")
_NOT_WORD_RE = re.compile(r"\d+|[0-9a-f]{8,}|html?|php|aspx?|pdf|abs|index|posts?|blog|p|www|en|wiki|item")


def url_words(url: str) -> str:
    """The words of a link's path ("/2023/02/what-is-chatgpt-doing/" -> "what is chatgpt doing"). A log
    line's link text is often a name or "HN thread"; the address usually carries the work's title."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if any(host == h or host.endswith("." + h) for h in _ID_HOSTS):
        return ""  # paths there are ids
    words = (w for w in _PATH_SPLIT_RE.split(unquote(parts.path)) if w)
    return " ".join(w for w in words if not _NOT_WORD_RE.fullmatch(w.lower()))


# Hacker News conventions in titles. A year in brackets at the end marks an old work posted again
# ("A Note on Distributed Computing (1994) [pdf]"): it is as old as that year, however new the post.
# A company with its YC batch and a role is a job ad ("Acme (YC S18) Is Hiring Engineers"), which the
# front page carries between stories: nothing to read.
_YEAR_TAG_RE = re.compile(r"\((19\d\d|20\d\d)\)(?=(?:\s*\[[^\]]*\]?)*\s*$)")
_YC_BATCH_RE = re.compile(r"\(YC (?:[A-Z]\d\d|nonprofit)\)", re.IGNORECASE)
_JOB_WORDS_RE = re.compile(r"\b(?:hiring|looking for|engineers?|developers?|dev|founding|join)\b", re.IGNORECASE)
_HN_POST_RE = re.compile(r"^(?:launch|show|ask|tell) hn\b", re.IGNORECASE)


def work_year(title: str) -> int | None:
    """The year an HN title says the work is from, if it says."""
    m = _YEAR_TAG_RE.search(title)
    return int(m.group(1)) if m else None


def is_job_ad(title: str) -> bool:
    return bool(_YC_BATCH_RE.search(title) and _JOB_WORDS_RE.search(title) and not _HN_POST_RE.match(title))


def strip_urls(text: str) -> str:
    return re.sub(r"\(?https?://\S+", " ", text)


@dataclass
class TasteModel:
    """Which words the person's library uses far more than the stream of stories does: log-odds of a
    word's document frequency in the library against the background (recent items). Product and
    model names the person follows ("llama", "gpt") earn weight here without being topics."""

    weights: dict[str, float] = field(default_factory=dict)

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
    def from_library_counts(cls, lib_df: Counter[str], n_lib: int,
                            background_docs: Iterable[Sequence[str]]) -> TasteModel:
        bg_df: Counter[str] = Counter()
        n_bg = 0
        for words in background_docs:
            bg_df.update(set(words))
            n_bg += 1
        weights = {}
        for word, count in lib_df.items():
            if count < TASTE_MIN_ENTRIES or word.startswith("site:"):
                continue
            odds = math.log((count / n_lib) / ((bg_df.get(word, 0) + 1) / (n_bg + 2)))
            if odds > 0:
                weights[word] = min(odds, TASTE_MAX_WEIGHT)
        return cls(weights)

    def taste(self, words: Iterable[str]) -> tuple[float, list[str]]:
        """(0..1, the words that carried it): the strongest few distinct words, summed and squashed."""
        found = sorted(((self.weights[w], w) for w in set(words) if w in self.weights), reverse=True)[:TASTE_TOP_WORDS]
        total = sum(v for v, _ in found)
        return 1.0 - math.exp(-total / TASTE_SCALE), [w for _, w in found]


@dataclass(frozen=True)
class Scored:
    relevance: float
    score: float
    topics: tuple[str, ...]
    explain: dict[str, Any]


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
        words = tokens(f"{item.title} {item.title} {item.summary[:600]}")
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
        explain = {
            "topic_score": round(topic_score, 3), "topics": topic_names, "phrases": phrases,
            "library_similarity": round(lib_sim, 3), "taste": round(taste, 3), "taste_words": taste_words,
            "similar_to": [{"entry": eid, "title": self.library.titles.get(eid), "cosine": round(s, 3)}
                           for s, eid in similar],
            **parts,
        }
        if job_ad:
            explain["job_ad"] = True
        return Scored(round(relevance, 4), score, tuple(topic_names), explain)

    def rank(self, relevance: float, item: FeedItem, sources: Sequence[str] = ()) -> tuple[float, dict[str, float]]:
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
