"""Leaving out repeats: two items whose titles tell the same news (from two sites, with different links)
take one digest slot, not two. Pure: titles in, choices out."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from bot.core.identity import normalize_title
from bot.core.records import Headline
from bot.relevance.words import STOPWORDS

REPEAT_OVERLAP = 0.6  # share of title words (Jaccard) above which two items say the same thing
# Two headlines of one launch often share little but its name ("Stability AI Launches StableLM: A New
# Open-Source Language Model" / "Stability AI Launches the First of Its StableLM Suite of Language
# Models"): a lower overlap is enough when they share a word of 5+ letters that at most 3 candidates use.
NAMED_REPEAT_OVERLAP = 0.4
NAME_MAX_TITLES = 3
# Long, rare-looking words that name no one: a month shared by two "Ask HN: ... (January 2023)"
# threads does not make them one story.
NOT_NAMES = frozenset("january february march april june july august september october november december "
                      "monday tuesday wednesday thursday friday saturday sunday".split())
ROMAN_NUMERALS = frozenset("ii iii iv vi vii viii ix xi xii".split())
# Words whose swap makes the opposite story ("less than $2k MRR" / "more than $2k MRR").
OPPOSITES = (frozenset({"less", "more"}), frozenset({"fewer", "more"}), frozenset({"best", "worst"}),
             frozenset({"for", "against"}), frozenset({"pro", "anti"}), frozenset({"open", "closed"}),
             frozenset({"frontend", "backend"}), frozenset({"before", "after"}), frozenset({"win", "lose"}),
             frozenset({"buy", "sell"}), frozenset({"rise", "fall"}), frozenset({"up", "down"}))
_SERIES_SPLIT = re.compile(r":\s|\s[-–—]\s")


def without_repeats(ranked: list[Headline], limit: int) -> tuple[list[Headline], list[int]]:
    """The top items, leaving out one whose title is nearly another's already chosen (the same news
    from two sites, with different links). Returns the chosen ones and the ids left out."""
    chosen, pairs = repeat_pairs(ranked, limit)
    return chosen, [left_out.id for left_out, _ in pairs]


def repeat_pairs(ranked: list[Headline], limit: int) -> tuple[list[Headline], list[tuple[Headline, Headline]]]:
    """The chosen ones, and each one left out with the chosen one it repeats (what the archive check
    in the tests reviews)."""
    chosen: list[Headline] = []
    pairs: list[tuple[Headline, Headline]] = []
    seen: list[_Headline] = []
    headlines = [_Headline.of(row.title or "") for row in ranked]
    used_by = Counter(w for h in headlines for w in h.words)
    rare = {w for w, n in used_by.items()
            if n <= NAME_MAX_TITLES and len(w) >= 5 and w.isalpha() and w not in NOT_NAMES}
    for row, headline in zip(ranked, headlines, strict=True):
        kept = next((n for n, other in enumerate(seen) if len(headline.words) >= 3
                     and _same_news(headline, other, rare)), None)
        if kept is not None:
            pairs.append((row, chosen[kept]))
            continue
        chosen.append(row)
        seen.append(headline)
        if len(chosen) == limit:
            break
    return chosen, pairs


@dataclass(frozen=True)
class _Headline:
    words: frozenset[str]  # normalized, without stopwords
    every_word: frozenset[str]  # with them
    head: frozenset[str]  # the words before a `:` or ` - `, if the title has one
    tail: frozenset[str]  # the words after it

    @classmethod
    def of(cls, title: str) -> _Headline:
        def words(text: str) -> frozenset[str]:
            return frozenset(normalize_title(text).split()) - STOPWORDS

        head, sep, tail = _split_series(title)
        return cls(words(title), frozenset(normalize_title(title).split()),
                   words(head) if sep else frozenset(), words(tail) if sep else frozenset())


def _split_series(title: str) -> tuple[str, str, str]:
    match = _SERIES_SPLIT.search(title)
    if match is None:
        return title, "", ""
    return title[:match.start()], match.group(0), title[match.end():]


def _same_news(a: _Headline, b: _Headline, rare: set[str]) -> bool:
    """Mostly the same words, or many of them and a rare one (a name); but not when
    - a number differs ("Part 2", "GPT-4" vs "GPT-3", "Part II" are other things);
    - one word is swapped for another and nothing else differs ("Why did Backend / Frontend
      development explode", "Hotglue / Swipe (YC S21) Is Hiring": one template, two subjects);
    - one says what the other denies ("less" / "more", "best" / "worst");
    - both are `series: part` titles with the same series and parts that share no word."""
    differ = a.words ^ b.words
    if any(ch.isdigit() for word in differ for ch in word) or differ & ROMAN_NUMERALS:
        return False
    only_a, only_b = a.words - b.words, b.words - a.words
    if len(only_a) == 1 and len(only_b) == 1 and not _same_stem(next(iter(only_a)), next(iter(only_b))):
        return False
    if a.head and a.head == b.head and not (a.tail & b.tail):
        return False
    every = a.every_word ^ b.every_word
    if any(pair <= every and not pair <= a.every_word and not pair <= b.every_word for pair in OPPOSITES):
        return False
    shared, either = len(a.words & b.words), len(a.words | b.words)
    return shared >= REPEAT_OVERLAP * either or (shared >= NAMED_REPEAT_OVERLAP * either
                                                 and bool(a.words & b.words & rare))


def _same_stem(x: str, y: str) -> bool:
    """"union" and "unionization", "launch" and "launches": one word in two forms."""
    stem = min(len(x), len(y), 5)
    return stem >= 4 and x[:stem] == y[:stem]
