"""The tracked topics (spec section 7): the topics file's tables as records, and the matcher that says
which topics an item is about. Pure: only processes data (bot.sources.feedlist reads the file).

A topic is a list of phrases; its negative phrases veto it ("wheel alignment" is not alignment of
models). A modifier topic is a kind of item (explainers), not an area: it only adds to a real topic.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

# What a topic hit is worth. Chosen by rule, not fitted per story: a topic phrase in the title is
# strong evidence, further phrases and the summary add a little.
TITLE_HIT = 0.7
EXTRA_HIT = 0.15
SUMMARY_HIT = 0.1
SECOND_TOPIC = 0.25


@dataclass(frozen=True)
class Topic:
    name: str
    phrases: tuple[str, ...]
    negative: tuple[str, ...] = ()
    weight: float = 1.0
    modifier: bool = False  # a kind of item (explainers), not an area: it only adds to a real topic


def parse_topics(data: Mapping[str, Any], where: str = "topics file") -> list[Topic]:
    """The topics of a parsed topics file (its `[[topics]]` tables); a ValueError names the bad one."""
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


_SEP = None  # between a phrase's words: the separator class (whitespace or hyphens), not a character
_Atoms = tuple[str | None, ...]


def _atoms(phrase: str) -> _Atoms:
    """A phrase as the regex spells it: its lower-case characters, _SEP between its words (so "fine
    tuning" also matches "fine-tuning")."""
    out: list[str | None] = []
    for n, word in enumerate(phrase.lower().split()):
        if n:
            out.append(_SEP)
        out.extend(word)
    return tuple(out)


def _source(atoms: Sequence[str | None]) -> str:
    return "".join(r"[\s\-]+" if a is _SEP else re.escape(a) for a in atoms)


_REMEMBERED = 4096  # spellings of found phrases whose owners a matcher keeps
_MAX_NESTING = 32  # shared prefixes grouped this deep at most; below that, alternatives are listed flat


def _grouped(seqs: Sequence[_Atoms], depth: int = 0) -> list[str]:
    r"""The alternatives `seqs` (in the order they are to be tried) as regex alternatives that share
    their leading characters: "llms|llm|local llm" becomes "l(?:lm(?:s|)|ocal[\s\-]+llm)". Python's
    regex tries every alternative at every word start, one quick character test each; sharing prefixes
    makes a start cost a few tests instead of one per phrase (3 to 4 times faster on abstracts).
    It finds exactly what the flat alternation finds: at a position, alternatives that begin with
    different characters cannot both match, so only those are regrouped; each group keeps its members
    in their order, and an alternative that begins with no character (the end of a phrase, or the
    separator between its words) stays where it was among the others, which may match with it."""
    if depth >= _MAX_NESTING:
        return [_source(seq) for seq in seqs]
    out: list[str] = []
    i = 0
    while i < len(seqs):
        if not seqs[i] or seqs[i][0] is _SEP:
            out.append(_source(seqs[i]))
            i += 1
            continue
        j = i
        while j < len(seqs) and seqs[j] and seqs[j][0] is not _SEP:
            j += 1
        groups: dict[str | None, list[_Atoms]] = {}
        for seq in seqs[i:j]:
            groups.setdefault(seq[0], []).append(seq)
        for members in groups.values():
            if len(members) == 1:
                out.append(_source(members[0]))
                continue
            # The characters every member begins with, taken at once (one group, not one per character).
            shared = 1
            while all(len(m) > shared and m[shared] is not _SEP for m in members) and \
                    len({m[shared] for m in members}) == 1:
                shared += 1
            inner = _grouped([m[shared:] for m in members], depth + 1)
            out.append(_source(members[0][:shared]) + (inner[0] if len(inner) == 1 else "(?:" + "|".join(inner) + ")"))
        i = j
    return out


def _alternation(phrases: Sequence[str]) -> re.Pattern[str] | None:
    """One regex for a list of phrases (whole words, "fine tuning" also matches "fine-tuning");
    longest first so the most specific phrase is the one reported."""
    if not phrases:
        return None
    ordered = sorted(set(phrases), key=lambda p: (-len(p), p))
    # A phrase spelled like an earlier one (case, spacing) could only match where that one did.
    seqs = list(dict.fromkeys(_atoms(p) for p in ordered))
    return re.compile(r"(?<![\w])(?:" + "|".join(_grouped(seqs)) + r")(?![\w])")


def _canonical(found: str) -> str:
    return " ".join(re.split(r"[\s\-]+", found.lower()))


def _folded(text: str) -> str:
    """Text as topics are looked for in it: lower case, and compatibility forms folded (a title in
    full-width letters, `ＬＬＭ ｉｎｆｅｒｅｎｃｅ`, is the same words)."""
    return (text if text.isascii() else unicodedata.normalize("NFKC", text)).lower()


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
        # The owners of each text found, by the text as found: an abstract says its phrase many times,
        # and thousands of abstracts say the same few spellings.
        self._owners_of: dict[str, Sequence[tuple[int, str]]] = {}

    # Compiled when the first item is matched, not when the matcher is made: a poll makes it before any
    # request (a bad topics file fails there) and an all-304 poll matches nothing (the two regexes of the
    # shipped topics take 15 ms to compile, a twentieth of such a poll's start-up).
    @cached_property
    def _positive(self) -> re.Pattern[str] | None:
        return _alternation([p for t in self.topics for p in t.phrases])

    @cached_property
    def _negative(self) -> re.Pattern[str] | None:
        return _alternation([p for t in self.topics for p in t.negative])

    def _owners_of_found(self, found: str) -> Sequence[tuple[int, str]]:
        owners = self._owners_of.get(found)
        if owners is None:
            if len(self._owners_of) >= _REMEMBERED:  # spellings are few; a hostile text cannot grow it
                self._owners_of.clear()
            owners = self._owners_of[found] = self._owners.get(_canonical(found), ())
        return owners

    def _found(self, text: str) -> dict[int, list[str]]:
        hits: dict[int, list[str]] = defaultdict(list)
        if text and self._positive is not None:
            # Each spelling once, in the order of its first appearance: a repeat adds no phrase.
            for match in dict.fromkeys(self._positive.findall(text)):
                for n, phrase in self._owners_of_found(match):
                    if phrase not in hits[n]:
                        hits[n].append(phrase)
        return hits

    def match(self, title: str, summary: str) -> tuple[float, list[str], list[str]]:
        """(score 0..1, matched topic names best first, matched phrases)."""
        title_l, summary_l = _folded(title), _folded(summary)
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
