"""Relevance and rank scores (spec section 7): topics, taste read from the library, source signals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NotRequired, get_origin, get_type_hints

import pytest

from bot.core.records import Discussion, FeedItem
from bot.library.parser import parse_document
from bot.poll import build_scorer
from bot.relevance.hn_titles import is_job_ad, work_year
from bot.relevance.score import Explanation, Scorer
from bot.relevance.taste import LibraryModel
from bot.relevance.topics import TopicMatcher, parse_topics
from bot.relevance.words import url_words
from bot.sources.feedlist import load_topics
from bot.store.database import Store
from tests.conftest import ROOT

NOW = datetime(2023, 4, 17, tzinfo=UTC)
TOPICS = TopicMatcher(load_topics(ROOT / "feeds" / "topics.toml"))


def item(title: str, points: int | None = 20, comments: int | None = 2, age_days: float = 1.0,
         url: str = "https://blog.example/post") -> FeedItem:
    published = (NOW - timedelta(days=age_days)).isoformat()
    return FeedItem("hn", title, url, published, discussion=Discussion.hn(1), points=points, comments=comments)


def plain_scorer() -> Scorer:
    return Scorer(TOPICS, LibraryModel(), NOW)


@pytest.mark.parametrize(("url", "words"), [
    ("https://writings.example.com/2023/02/what-is-chatgpt-doing-and-why-does-it-work/",
     "what is chatgpt doing and why does it work"),
    ("https://github.com/ggerganov/llama.cpp", "ggerganov llama cpp"),
    ("https://lilianweng.github.io/posts/2023-03-15-prompt-engineering/", "prompt engineering"),
    ("https://en.wikipedia.org/wiki/The_Work_of_Art%20Today", "The Work of Art Today"),
    ("https://blog.example/p/5f3a9c0d2e1b4a7f", ""),  # an id, not words
    ("https://news.ycombinator.com/item?id=35100086", ""),  # HN, YouTube and Twitter paths are ids
    ("https://youtu.be/wi0M2J4uE5I", ""),
    ("https://m.youtube.com/watch", ""),
    ("https://netflixtechblog.netflix.com/scaling-inference", "scaling inference"),  # not x.com
    ("not a url at all", "not a url at all"),
])
def test_url_words_are_the_words_of_a_links_path(url: str, words: str) -> None:
    assert url_words(url) == words


def test_a_topic_phrase_in_the_title_makes_an_item_relevant_and_says_which() -> None:
    scored = plain_scorer().score(item("Finetuning Large Language Models with LoRA"))
    assert scored.relevance >= 0.7
    assert "parameter-efficient fine-tuning" in scored.topics
    assert {"lora", "large language models"} <= set(scored.explain["phrases"])
    off = plain_scorer().score(item("Local bakery opens a second branch"))
    assert off.relevance == 0 and off.topics == ()


def test_negative_phrase_vetoes_its_topic_and_a_modifier_alone_is_nothing() -> None:
    assert plain_scorer().score(item("A guide to wheel alignment for cyclists")).relevance == 0
    assert plain_scorer().score(item("A visual guide to sourdough")).relevance == 0  # explainer of nothing
    explainer = plain_scorer().score(item("A visual guide to transformers"))
    plain = plain_scorer().score(item("Transformers in production"))
    assert explainer.relevance > plain.relevance > 0


def test_a_heated_thread_ranks_below_a_calm_one_of_the_same_relevance() -> None:
    calm = plain_scorer().score(item("Understanding LLM inference", points=40, comments=4))
    debate = plain_scorer().score(item("Understanding LLM inference", points=40, comments=90))
    assert calm.relevance == debate.relevance
    assert calm.score > debate.score
    assert debate.explain["heat"] == 1.0 and calm.explain["heat"] == pytest.approx(0.08)



def test_the_explanation_holds_the_typed_keys_in_the_stored_order() -> None:
    """The explanation is stored as the item's `explain` JSON: its keys and their order are what
    `Explanation` declares, with `job_ad` only on a job ad."""
    order = ["topic_score", "topics", "phrases", "library_similarity", "taste", "taste_words", "similar_to",
             "signal", "heat", "recency"]
    # Read through get_type_hints: Python 3.11 does not see NotRequired in a postponed annotation.
    declared = get_type_hints(Explanation, include_extras=True)
    assert set(declared) == {*order, "job_ad"} and get_origin(declared["job_ad"]) is NotRequired
    explain = plain_scorer().score(item("Finetuning Large Language Models with LoRA")).explain
    assert list(explain) == order
    job = plain_scorer().score(item("Acme (YC S18) Is Hiring Engineers to Build LLM Inference")).explain
    assert list(job) == [*order, "job_ad"]

@pytest.mark.parametrize(("points", "comments", "heat"), [
    (None, None, 0.0),  # a blog or arXiv item has no thread
    (0, 0, 0.0),
    (1, 3, 3 / 11),  # a young thread's first comments count little
    (10, 500, 1.0),  # capped
])
def test_heat_is_comments_per_smoothed_point(points: int | None, comments: int | None, heat: float) -> None:
    assert Scorer.heat(item("x", points=points, comments=comments)) == pytest.approx(heat)


def test_recency_is_flat_within_the_digest_week_and_fades_after() -> None:
    scorer = plain_scorer()
    assert scorer.recency(item("x", age_days=0)) == scorer.recency(item("x", age_days=6.5)) == 1.0
    assert scorer.recency(item("x", age_days=14)) == pytest.approx(0.368, abs=0.01)
    assert scorer.recency(FeedItem("blog", "x", None, None)) == 0.5
    assert scorer.recency(FeedItem("blog", "x", None, "not a date")) == 0.5


@pytest.mark.parametrize(("title", "year"), [
    ("A Note on Distributed Computing (1994) [pdf]", 1994),
    ("Reinforcement Learning Lecture Series (2021)", 2021),
    ("Windows 95 launch (1995) [video] [pdf]", 1995),
    ("Neural networks in 2021 and after", None),  # a year in the text is not the tag
    ("GPT-4 (2023) is here", None),  # the tag ends the title
])
def test_work_year_is_the_hn_year_tag(title: str, year: int | None) -> None:
    assert work_year(title) == year


def test_an_old_work_posted_again_is_as_old_as_its_year_tag() -> None:
    scorer = plain_scorer()
    fresh = scorer.score(item("Deep reinforcement learning lecture series", age_days=1))
    old = scorer.score(item("Deep reinforcement learning lecture series (2018)", age_days=1))
    this_year = scorer.score(item("Deep reinforcement learning lecture series (2023)", age_days=1))
    assert old.relevance == fresh.relevance  # as relevant, less new
    assert old.explain["recency"] < 0.01 < fresh.explain["recency"] == this_year.explain["recency"]
    assert old.score < fresh.score


@pytest.mark.parametrize(("title", "job"), [
    ("Activeloop (YC S18): Hiring Engineers for a Multi-Modal Vector Database for AI", True),
    ("Sieve (YC W22) is hiring hackers to build AI infrastructure for video", True),
    ("Senior LLM Engineer at Example.io (YC W23)", True),
    ("Sirum (YC Nonprofit) Is Hiring Chief of Staff", True),
    ("Launch HN: Baseplate (YC W23) – Back end-as-a-service for LLM apps", False),
    ("Big tech slows hiring of AI engineers", False),  # news about hiring, no YC batch
])
def test_hn_job_ads_are_recognised(title: str, job: bool) -> None:
    assert is_job_ad(title) is job


def test_a_job_ad_is_not_relevant_however_on_topic() -> None:
    scored = plain_scorer().score(item("Acme (YC S18) Is Hiring Engineers to Build LLM Inference on GPUs"))
    assert scored.relevance == 0 and scored.score == 0
    assert scored.explain["job_ad"] is True and scored.explain["topics"]  # it says what it matched and why not


def test_more_points_rank_higher_among_equals() -> None:
    low = plain_scorer().score(item("Understanding LLM inference", points=5, comments=0))
    high = plain_scorer().score(item("Understanding LLM inference", points=300, comments=0))
    assert high.score > low.score


LIBRARY = """## 2023 Log
## 01 March 2023
* Super useful and associated notes: [Stephen Wolfram](https://writings.example.com/2023/02/what-is-chatgpt-doing/)
* Super useful and associated, see [FB released it](https://ai.example/blog/chatgpt-rivals-compared/)
"""


def test_taste_is_read_from_what_the_library_names_not_from_the_notes(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    store.replace_library_file("log.md", parse_document(LIBRARY, "log.md"))
    stream = [item(f"Local bakery story {n}") for n in range(40)]
    scorer = build_scorer(TOPICS, store, NOW, stream)
    # "chatgpt" is in both entries' links (their link texts are a name and a phrase); "useful" and
    # "associated" are the person's words around the links, and say nothing of what they read.
    assert "chatgpt" in scorer.taste.weights
    assert "useful" not in scorer.taste.weights and "associated" not in scorer.taste.weights
    liked = scorer.score(item("ChatGPT rivals compared"))
    assert liked.relevance > 0 and "chatgpt" in liked.explain["taste_words"]
    notes_words = scorer.score(item("Useful associated bakery"))
    assert notes_words.explain["taste"] == 0 and notes_words.relevance < 0.35
    store.close()


def test_entry_titles_come_from_the_stored_identities(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    store.replace_library_file("log.md", parse_document(LIBRARY, "log.md"))
    titles = store.entry_titles()
    assert sorted(t for ts in titles.values() for t in ts) == ["fb released it", "stephen wolfram"]
    store.close()


def test_bad_topics_are_rejected_with_the_topic_named() -> None:
    with pytest.raises(ValueError, match="needs at least one"):
        parse_topics({})
    with pytest.raises(ValueError, match="'x'.*phrases"):
        parse_topics({"topics": [{"name": "x", "phrases": []}]})
    with pytest.raises(ValueError, match="'x'.*weight"):
        parse_topics({"topics": [{"name": "x", "phrases": ["a"], "weight": -1}]})
