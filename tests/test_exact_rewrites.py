"""The scoring path's rewrites for speed (issue 27, the 5,000-paper arXiv week) against the code they
replaced, kept here as the reference: the same results on every recorded title and summary, on hostile
strings (unicode, empty, huge) and on generated ones. Scores must not move at all, so every comparison
is for equality."""

from __future__ import annotations

import html
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.core import identity
from bot.core.normalize import plain_text
from bot.relevance import topics as topics_module
from bot.relevance.topics import Topic, TopicMatcher, _alternation, _canonical, _folded
from bot.relevance.words import _WORD_RE, STOPWORDS, site_token, tokens
from bot.sources.feedlist import load_topics
from bot.sources.parsers import parse_algolia, parse_arxiv, read_rss

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = load_topics(ROOT / "feeds" / "topics.toml")

HOSTILE = [
    "", " ", "-", "--", "\n\t", "a", "LLM", "llms", "LLMs!", "fine-tuning", "fine - - tuning", "fine\u00a0tuning",
    "Fine\tTuning and FINE-TUNED models", "self-attention", "a.i.", "A.I. and AI", "ai-ai-ai", "c++ and c#",
    "ＬＬＭ ｉｎｆｅｒｅｎｃｅ", "ΣΑΣ ΟΔΟΣ llm", "İstanbul inference", "ﬁne-tuning", "straße model", "e\u0301llm llm\u0301",
    "\u200bllm\u200b", "llm\u0000inference", "4-bit 8-bit 16-bit", "gpt disk gpt partition gpt", "wheel alignment",
    "large language models" * 50, "x" * 10_000, ("retrieval augmented " * 500) + "generation",
    "Large  Language   Models,  large-language-models; LARGE\nLANGUAGE\nMODEL.", "🤖 llm 🦙 llama", "<b>llm</b>",
    "https://arxiv.org/abs/2305.14314 llm-based rag-doll", "a" + "\u0301" * 100 + " transformer",
]


def _fixture_texts(shared: Path) -> list[str]:
    """Every title and summary of the recorded documents, as the poll makes them."""
    texts: list[str] = []
    for path in sorted(shared.rglob("*")):
        if not path.is_file():
            continue
        body = path.read_bytes()
        try:
            if path.suffix == ".json":
                items = parse_algolia(body, "x")[0] if b'"hits"' in body else []
            elif path.suffix == ".xml" and b"arxiv.org/schemas/atom" in body[:2048]:
                items = parse_arxiv(body, "x")[0]
            elif path.suffix == ".xml":
                items = read_rss(body, "x").items
            else:
                continue
        except Exception:  # noqa: BLE001 - a recording no parser reads has no texts to compare
            continue
        for item in items:
            texts += [item.title, item.summary]
    return texts


@pytest.fixture(scope="module")
def recorded_texts() -> list[str]:
    shared = ROOT.parent / "shared" / "fixtures"
    if not shared.is_dir():
        pytest.skip(f"real recordings not present at {shared}")
    texts = _fixture_texts(shared)
    assert len(texts) > 10_000
    return texts


# -- topics: the grouped alternation against the flat one ------------------------------------------

def flat_alternation(phrases: Sequence[str]) -> re.Pattern[str] | None:
    """The alternation as it was: one alternative per phrase, longest first."""
    if not phrases:
        return None
    ordered = sorted(set(phrases), key=lambda p: (-len(p), p))
    source = "|".join(r"[\s\-]+".join(re.escape(w) for w in p.lower().split()) for p in ordered)
    return re.compile(r"(?<![\w])(?:" + source + r")(?![\w])")


class ReferenceMatcher(TopicMatcher):
    """TopicMatcher with the flat regexes and the lookup of every match as it was."""

    def __init__(self, topics: Sequence[Topic]) -> None:
        super().__init__(topics)
        self._positive = flat_alternation([p for t in self.topics for p in t.phrases])
        self._negative = flat_alternation([p for t in self.topics for p in t.negative])

    def _found(self, text: str) -> dict[int, list[str]]:
        hits: dict[int, list[str]] = defaultdict(list)
        if text and self._positive is not None:
            for match in self._positive.findall(text):
                for n, phrase in self._owners.get(_canonical(match), ()):
                    if phrase not in hits[n]:
                        hits[n].append(phrase)
        return hits


def _shipped_phrase_lists() -> list[list[str]]:
    return [[p for t in SHIPPED for p in t.phrases], [p for t in SHIPPED for p in t.negative]]


@pytest.mark.slow
@pytest.mark.fixtures
def test_grouped_alternation_finds_what_the_flat_one_finds_on_every_recorded_text(
        recorded_texts: list[str]) -> None:
    for phrases in _shipped_phrase_lists():
        grouped, flat = _alternation(phrases), flat_alternation(phrases)
        assert grouped is not None and flat is not None
        assert grouped.pattern != flat.pattern  # the prefixes are shared: this is the rewritten regex
        for text in [*recorded_texts, *HOSTILE]:
            folded = _folded(text)
            assert grouped.findall(folded) == flat.findall(folded), text[:200]


@pytest.mark.slow
@pytest.mark.fixtures
def test_topic_matcher_scores_recorded_and_hostile_texts_as_before(recorded_texts: list[str]) -> None:
    fast, reference = TopicMatcher(SHIPPED), ReferenceMatcher(SHIPPED)
    pairs = list(zip(recorded_texts[0::2], recorded_texts[1::2], strict=False))
    pairs += [(a, b) for a in HOSTILE for b in ("", HOSTILE[-3])] + [(b, a) for a in HOSTILE for b in ("x", "llm")]
    for title, summary in pairs:
        assert fast.match(title, summary) == reference.match(title, summary), (title[:100], summary[:100])
        assert fast.match(title, summary) == reference.match(title, summary)  # and again, from its memory


# Phrases from a small alphabet, so that they share prefixes, are prefixes of each other, differ only by
# a separator or case, repeat, and end in characters that are not word characters.
_PHRASE_CHARS = "abAB+.-_ é"
phrase_lists = st.lists(st.text(alphabet=_PHRASE_CHARS, max_size=7), max_size=12)
texts = st.text(alphabet=_PHRASE_CHARS + "\t\n\u00a0x", max_size=60)


@given(phrases=phrase_lists, text=texts)
@settings(max_examples=400, deadline=None)
def test_grouped_alternation_equals_the_flat_one_on_generated_phrases(phrases: list[str], text: str) -> None:
    grouped, flat = _alternation(phrases), flat_alternation(phrases)
    assert (grouped is None) == (flat is None)
    if grouped is not None and flat is not None:
        assert grouped.findall(text) == flat.findall(text)
        assert grouped.findall(text.lower()) == flat.findall(text.lower())


@given(phrases=st.lists(st.text(alphabet="ab -", min_size=1, max_size=6).filter(str.strip), min_size=1, max_size=8),
       negative=st.lists(st.text(alphabet="ab -", max_size=6), max_size=3),
       title=st.text(alphabet="abAB -.", max_size=30), summary=st.text(alphabet="abAB -.", max_size=60))
@settings(max_examples=300, deadline=None)
def test_topic_matcher_equals_the_reference_on_generated_topics(phrases: list[str], negative: list[str], title: str,
                                                                summary: str) -> None:
    topics = [Topic("one", tuple(phrases[::2]), tuple(negative)), Topic("two", tuple(phrases[1::2]) or ("zz",)),
              Topic("kind", tuple(phrases[:1]), modifier=True)]
    assert TopicMatcher(topics).match(title, summary) == ReferenceMatcher(topics).match(title, summary)


def _nesting(pattern: str) -> int:
    """How deep the groups of a regex source nest (escapes and character classes skipped)."""
    depth = deepest = 0
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 1
        elif ch == "[":
            i = pattern.index("]", i + 2)
        elif ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth -= 1
        i += 1
    return deepest


def test_long_shared_prefixes_nest_only_so_deep() -> None:
    """Phrases that each extend the one before (a hostile topics file) do not nest the regex beyond
    _MAX_NESTING groups: it compiles, and finds what the flat one finds."""
    phrases = ["a" * k for k in range(1, 400)] + ["a " * k for k in range(1, 50)]
    grouped, flat = _alternation(phrases), flat_alternation(phrases)
    assert grouped is not None and flat is not None
    assert _nesting(grouped.pattern) <= topics_module._MAX_NESTING + 2  # and the outer group, the lookbehind
    for text in ["a" * 500, "a" * 399, "a a a a-a", ("a " * 60).strip(), "b" + "a" * 10]:
        assert grouped.findall(text) == flat.findall(text)


# -- words: tokens with its memory of words against the loop it replaced -------------------------

def reference_tokens(text: str) -> list[str]:
    words = _WORD_RE.findall((text if text.isascii() else unicodedata.normalize("NFKC", text)).lower())
    out = []
    for w in words:
        w = w.strip(".-")
        if len(w) < 2 or w in STOPWORDS or w.isdigit():
            continue
        if len(w) > 4 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        out.append(w)
    return out


@pytest.mark.slow
@pytest.mark.fixtures
def test_tokens_of_recorded_and_hostile_texts_are_as_before(recorded_texts: list[str]) -> None:
    for text in [*recorded_texts, *HOSTILE]:
        assert tokens(text) == reference_tokens(text)
        assert tokens(text) == reference_tokens(text)  # and again, from its memory of words


@given(st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_tokens_of_generated_text_are_as_before(text: str) -> None:
    assert tokens(text) == reference_tokens(text)


@pytest.mark.slow
@pytest.mark.fixtures
def test_the_scorers_words_are_those_of_title_title_summary(recorded_texts: list[str]) -> None:
    """Scorer.score tokenizes the title once for the two times it counts: the same words as tokenizing
    "title title summary" (a space ends every word; NFKC and lower case, final sigma included, work
    alike on either side of one)."""
    pairs = list(zip(recorded_texts[0::2], recorded_texts[1::2], strict=False))
    pairs += [(a, b) for a in HOSTILE for b in ("\u0301x", "ΣΑΣ", "", "ﾞa")] + [("ΣΑΣ", "\u0301σ"), ("aΣ", "Σa")]
    for title, summary in pairs:
        assert tokens(title) * 2 + tokens(summary[:600]) == tokens(f"{title} {title} {summary[:600]}")


@given(st.text(max_size=40), st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_the_scorers_words_on_generated_text(title: str, summary: str) -> None:
    assert tokens(title) * 2 + tokens(summary) == tokens(f"{title} {title} {summary}")


def reference_site_token(url: str | None) -> str | None:
    from urllib.parse import urlsplit

    if not url:
        return None
    host = (urlsplit(url).hostname or "").lower()
    host = host[4:] if host.startswith("www.") else host
    if not host or host in ("news.ycombinator.com", "github.com", "arxiv.org", "youtube.com", "twitter.com",
                            "x.com", "medium.com", "substack.com"):
        return None
    return "site:" + host


site_links = st.builds(
    lambda scheme, www, host, after, rest: f"{scheme}{www}{host}{after}{rest}",
    st.sampled_from(["https://", "http://", "HTTPS://", " https://", "ftp://", "https:/", ""]),
    st.sampled_from(["", "www.", "WWW.", "user@", "m."]),
    st.sampled_from(["arxiv.org", "x.com", "github.com", "news.ycombinator.com", "xx.com", "arxiv.org.evil.example",
                     "blog.example", "ARXIV.ORG", "substack.com"]),
    st.sampled_from(["/", ":443/", "?", "#", "", ".", "\n/", "@evil.example/"]),
    st.text(alphabet="ab/?#@:.\n\t ", max_size=12))


@given(site_links)
@settings(max_examples=400, deadline=None)
def test_site_token_is_as_before(url: str) -> None:
    try:
        expected: Any = reference_site_token(url)
    except ValueError as exc:
        expected = type(exc)
    try:
        got: Any = site_token(url)
    except ValueError as exc:
        got = type(exc)
    assert got == expected


# -- normalize and identity ------------------------------------------------------------------------

def reference_plain_text(text: str, limit: int = 4000) -> str:
    """plain_text as it was: both tag patterns on every text."""
    from bot.core import normalize

    if not text:
        return ""
    text = normalize._SCRIPT_RE.sub(" ", text)
    text = normalize._TAG_RE.sub(" ", text)
    text = html.unescape(text)
    text = normalize._INVISIBLE_RE.sub("", text)
    if not text.isascii():
        text = "".join(ch for n, ch in enumerate(text) if ch.isspace() or unicodedata.category(ch)
                       not in normalize._INVISIBLE or normalize._joins_emoji(text, n))
    text = " ".join(text.split())
    if len(text) > limit:
        text = normalize.head(text, limit - 1).rstrip() + "…"
    return text


_MARKUP = st.lists(st.sampled_from(["a", "b", " ", "  ", "<", ">", "/", "!", "-", "&", ";", "\n", "\t", "\x1f", "\x7f",
                                    "\x0b", "\u200b", "\u00a0", "<b>", "</b>", "<script>", "</script>", "<!--", "-->",
                                    "&lt;", "&amp;", "lt", "é", "…"]), max_size=30)


@given(_MARKUP.map("".join))
@example("a  b")
@example(" a b")
@example("a b ")
@example("a\tb")
@example("a\x7fb")
@example("a\x1fb")
@example("plain words, already read")
@example("x" * 4001)
@settings(max_examples=300, deadline=None)
def test_plain_text_is_as_before(text: str) -> None:
    assert plain_text(text) == reference_plain_text(text)
    assert plain_text(text, 10) == reference_plain_text(text, 10)
    once = reference_plain_text(text)
    assert plain_text(once) == reference_plain_text(once)  # make_item reads an abstract its source already read


@pytest.mark.slow
@pytest.mark.fixtures
def test_plain_text_of_recorded_and_hostile_texts_is_as_before(recorded_texts: list[str]) -> None:
    for text in [*recorded_texts, *HOSTILE, "&lt;b&gt;llm&lt;/b&gt;"]:
        assert plain_text(text) == reference_plain_text(text)


@pytest.mark.parametrize("url", ["https://arxiv.org/abs/2305.14314", "http://[oops/x", "http://host:abc/",
                                 "https://user:pw@Example.COM:443/a?utm_source=x&b=1#f", "", "mailto:x@y.z",
                                 "https://news.ycombinator.com/item?id=1", "https://例え.jp/パス", "http://\udcff/"])
def test_remembered_link_parts_are_the_parts(url: str) -> None:
    assert identity.parse_link(url) == identity.parse_link.__wrapped__(url)
    assert identity.parse_link(url) == identity.parse_link.__wrapped__(url)
    netloc = identity.parse_link.__wrapped__(url)
    if netloc is not None:
        assert identity._host(netloc.netloc) == identity._host.__wrapped__(netloc.netloc)


# -- the store's insert: the values of each row against the dictionaries they replaced ---------------

def test_inserted_rows_are_as_the_per_field_encoding_made_them(tmp_path: Path) -> None:
    from bot.core.identity import Identity
    from bot.core.records import NewItem, hn_discussion
    from bot.store import items as items_module
    from bot.store.database import Store

    def item(n: int, **changes: Any) -> NewItem:
        fields: dict[str, Any] = dict(
            title=f"Paper {n} ΣΑΣ 🤖", url=f"https://arxiv.org/abs/2611.{n:05d}", discussion=None, arxiv_id=f"2611.{n:05d}",
            doi=None, published="2026-11-30T10:00:00+00:00", first_seen="2026-12-06T00:00:00+00:00",
            sources=("arxiv",), topics=("large language models", "LLM inference"), score=0.5 + n / 1000,
            relevance=0.75, status="relevant", summary="An abstract, \"quoted\" and \\ slashed. " * 3,
            categories=("cs.CL", "cs.LG"), points=None, comments=None,
            explain={"topic_score": 0.7, "topics": ["large language models"], "similar_to": [{"entry": 1, "title": "é"}]},
            identities=frozenset({Identity("arxiv", f"2611.{n:05d}"), Identity("title", f"paper {n}")}))
        fields.update(changes)
        return NewItem(**fields)

    batch = [item(0), item(1), item(2, discussion=hn_discussion(40000002, None), points=10, comments=3,
                                       sources=("hn", "arxiv"), status="off_topic", topics=(), categories=()),
             item(3, url=None, arxiv_id=None, published=None, summary="", explain={}),
             item(4, topics=("large language models",), sources=["listed"]), item(5, sources="already text"),
             item(6, identities=frozenset())]
    fast, reference = Store.open(tmp_path / "fast.db"), Store.open(tmp_path / "reference.db")
    assert fast.insert_items(batch) == [1, 2, 3, 4, 5, 6, 7]
    with reference.transaction():
        reference._insert_rows("items", [{**items_module._new_row(i), "id": n}
                                         for n, i in enumerate(batch, 1)])
        reference._insert_rows("identities", [{"kind": i.kind, "value": i.value, "owner": "item", "owner_id": n}
                                              for n, it in enumerate(batch, 1) for i in it.identities])

    def rows(store: Store, table: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in store.db.execute(f"select * from {table} order by rowid")]

    assert rows(fast, "items") == rows(reference, "items")
    assert sorted(rows(fast, "identities")) == sorted(rows(reference, "identities"))


# -- arXiv's own links: the fast path against the general rules --------------------------------------

_NEVER = re.compile(r"(?!)")


def _general_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every link through the general rules: the fast path's pattern matches nothing."""
    from bot.core import normalize

    monkeypatch.setattr(identity, "PLAIN_ARXIV_ABS_RE", _NEVER)
    monkeypatch.setattr(normalize, "PLAIN_ARXIV_ABS_RE", _NEVER)


def _link_facts(url: str) -> tuple[Any, ...]:
    from bot.core.normalize import InvalidItem, make_item

    try:
        item = make_item(source="s", title="A title of four words", url=url, published=None)
        made: Any = (item.url, sorted(item.identities), item.arxiv_id) if item else None
    except InvalidItem as exc:
        made = str(exc)
    return identity.arxiv_id_from_url(url), sorted(identity.url_identities(url)), made


arxiv_links = st.builds(
    lambda scheme, host, head, tail, version, end: f"{scheme}://{host}/abs/{head}.{tail}{version}{end}",
    st.sampled_from(["http", "https", "HTTPS", "ftp"]), st.sampled_from(["arxiv.org", "www.arxiv.org", "ARXIV.org"]),
    st.from_regex(r"[0-9]{3,5}", fullmatch=True) | st.sampled_from(["２６１１", "26a1"]),
    st.from_regex(r"[0-9]{3,6}", fullmatch=True), st.sampled_from(["", "v1", "v12", "V2", "v"]),
    st.sampled_from(["", "", "", "/", ".pdf", "?x=1", "#f", " ", "\n"]))


@given(arxiv_links)
@settings(max_examples=400, deadline=None)
def test_arxiv_links_give_what_the_general_rules_give(url: str) -> None:
    fast = _link_facts(url)
    with pytest.MonkeyPatch.context() as patch:
        _general_rules(patch)
        assert _link_facts(url) == fast


@pytest.mark.parametrize("url", ["https://arxiv.org/abs/2611.00001", "http://arxiv.org/abs/2611.00001v3",
                                 "https://arxiv.org/abs/0704.0001", "https://arxiv.org/abs/2611.000012",
                                 "https://arxiv.org/abs/hep-th/9901001", "https://arxiv.org/abs/2611.00001/",
                                 "https://arxiv.org/abs/2611.00001v", "https://arxiv.org/abs/٢٦١١.٠٠٠٠١"])
def test_arxiv_link_examples_give_what_the_general_rules_give(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _link_facts(url)
    _general_rules(monkeypatch)
    assert _link_facts(url) == fast


@pytest.mark.fixtures
def test_recorded_arxiv_answers_make_the_same_items_by_the_general_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import asdict

    shared = ROOT.parent / "shared" / "fixtures"
    if not shared.is_dir():
        pytest.skip(f"real recordings not present at {shared}")
    documents = sorted(shared.glob("arxiv*/*.xml"))
    assert documents
    fast = [[asdict(i) for i in parse_arxiv(path.read_bytes(), "arxiv")[0]] for path in documents]
    assert sum(map(len, fast)) > 500
    _general_rules(monkeypatch)
    assert [[asdict(i) for i in parse_arxiv(path.read_bytes(), "arxiv")[0]] for path in documents] == fast
