"""The parts the scorer combines, each at its edges: words, topics, the library's taste models and the
HN title rules (the scorer itself: test_score.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.records import FeedItem
from bot.relevance.hn_titles import is_job_ad, work_year
from bot.relevance.score import Scorer
from bot.relevance.taste import LibraryModel, TasteModel
from bot.relevance.topics import Topic, TopicMatcher, parse_topics
from bot.relevance.words import site_token, strip_urls, tokens

# words


def test_tokens_drop_stopwords_numbers_and_single_letters_and_fold_long_plurals() -> None:
    assert tokens("") == []
    assert tokens("The 2023 guide to a B-tree: how LLMs and models work") == ["guide", "b-tree", "llms", "model",
                                                                             "work"]
    assert tokens("Class glass GPUs") == ["class", "glass", "gpus"]  # "ss" and short words keep their s


@pytest.mark.parametrize(("url", "site"), [
    (None, None),
    ("", None),
    ("not a url", None),
    ("https://www.Example.org/post", "site:example.org"),
    ("https://github.com/user/repo", None),  # hosts of everything say nothing
    ("https://news.ycombinator.com/item?id=1", None),
])
def test_a_links_site_is_a_word_unless_the_host_holds_everything(url: str | None, site: str | None) -> None:
    assert site_token(url) == site


def test_strip_urls_leaves_the_words_around_links() -> None:
    text = "notes (https://a.example/x) and http://b.example/y too"
    assert tokens(strip_urls(text)) == ["note", "too"]


# topics


def test_a_topic_with_only_negative_phrases_is_refused() -> None:
    with pytest.raises(ValueError, match="topic 'x' in topics file needs a list of phrases"):
        parse_topics({"topics": [{"name": "x", "negative": ["wheel alignment"]}]})


@pytest.mark.parametrize(("table", "message"), [
    ({"phrases": ["a"]}, "topic #1 in t.toml needs a name"),
    ({"name": "x", "phrases": ["a", " "]}, "'x' in t.toml needs a list of phrases"),
    ({"name": "x", "phrases": ["a"], "negative": [1]}, "'x' in t.toml: negative must be a list of strings"),
    ({"name": "x", "phrases": ["a"], "weight": "high"}, "'x' in t.toml: weight must be a positive number"),
])
def test_a_bad_topic_table_is_refused_with_its_name_and_file(table: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_topics({"topics": [table]}, "t.toml")


def test_topics_parse_into_frozen_records() -> None:
    [topic] = parse_topics({"topics": [{"name": "x", "phrases": ["a b"], "negative": ["c"], "weight": 2,
                                        "modifier": True}]})
    assert topic == Topic("x", ("a b",), ("c",), 2.0, True)
    with pytest.raises(AttributeError):
        topic.name = "y"  # type: ignore[misc]


def test_a_negative_phrase_vetoes_only_the_topic_that_lists_it() -> None:
    matcher = TopicMatcher([Topic("models", ("alignment",), negative=("wheel alignment",)),
                            Topic("cars", ("alignment", "wheel"))])
    score, names, _ = matcher.match("Wheel alignment at home", "")
    assert names == ["cars"] and score > 0
    assert sorted(matcher.match("Alignment of language models", "")[1]) == ["cars", "models"]  # no veto: both


def test_phrases_match_whole_words_across_hyphens_and_nothing_in_empty_text() -> None:
    matcher = TopicMatcher([Topic("peft", ("fine tuning", "lora"))])
    assert matcher.match("Fine-tuning made cheap", "")[2] == ["fine tuning"]
    assert matcher.match("Florals for spring", "") == (0.0, [], [])
    assert matcher.match("", "") == (0.0, [], [])
    assert TopicMatcher([]).match("Fine-tuning made cheap", "") == (0.0, [], [])


def test_a_phrase_in_the_summary_alone_counts_less_than_in_the_title() -> None:
    matcher = TopicMatcher([Topic("peft", ("lora",))])
    in_title, in_summary = matcher.match("LoRA", "")[0], matcher.match("A post", "about lora")[0]
    assert 0 < in_summary < in_title


# taste


def test_an_empty_library_resembles_nothing() -> None:
    assert LibraryModel.build([]).similar(tokens("llama inference on a laptop")) == []
    assert LibraryModel().similar([]) == []


def test_an_entry_resembles_an_item_only_when_they_share_two_informative_words() -> None:
    entries = [(1, "Llama inference on a laptop", "", ["https://blog.example/llama"]),
               *((n, f"Unrelated note {n}", "", []) for n in range(2, 12))]
    model = LibraryModel.build(entries)
    assert model.similar(tokens("Llama weights leaked")) == []  # one shared word
    [(cosine, entry_id)] = model.similar(tokens("Faster llama inference"))
    assert entry_id == 1 and 0 < cosine <= 1


def test_an_entry_with_no_words_is_left_out_of_the_library_model() -> None:
    model = LibraryModel.build([(1, "", "", []), (2, "The", "and of", []), (3, "Mamba state spaces", "", [])])
    assert model.size == 1 and list(model.titles) == [3]


def test_taste_needs_a_word_in_two_entries_and_never_counts_sites() -> None:
    library = [["llama", "site:blog.example"], ["llama", "site:blog.example"], ["mamba"]]
    model = TasteModel.build(library, [["news"], ["sport"]])
    assert set(model.weights) == {"llama"}
    assert model.taste(["llama", "llama", "news"])[1] == ["llama"]
    assert TasteModel().taste(["llama"]) == (0.0, [])
    assert TasteModel.build([], []).weights == {}


# HN titles


@pytest.mark.parametrize("title", ["", "(2019)", "Show HN: Acme (YC W23) is hiring engineers"])
def test_titles_without_a_tagged_work_or_a_job_say_neither(title: str) -> None:
    assert not is_job_ad(title)
    assert work_year(title) == (2019 if title == "(2019)" else None)


def test_an_item_with_an_empty_title_scores_zero_and_is_explained() -> None:
    scorer = Scorer(TopicMatcher([Topic("peft", ("lora",))]), LibraryModel(), datetime(2023, 4, 17, tzinfo=UTC))
    scored = scorer.score(FeedItem("blog", "", None, None))
    assert scored.relevance == 0 and scored.score == 0 and scored.topics == ()
    assert scored.explain["topics"] == [] and scored.explain["recency"] == 0.5


def test_topic_regexes_are_compiled_when_the_first_item_is_matched_not_when_the_matcher_is_made() -> None:
    # A poll makes its matcher before any request; an all-304 poll then matches nothing and should not
    # pay for compiling the phrases.
    matcher = TopicMatcher([Topic("peft", ("fine tuning", "lora"), negative=("lora radio",))])
    assert "_positive" not in vars(matcher) and "_negative" not in vars(matcher)
    assert matcher.match("LoRA for everyone", "")[1] == ["peft"]
    assert "_positive" in vars(matcher) and "_negative" in vars(matcher)
    assert matcher.match("A LoRa radio link", "")[1] == []
