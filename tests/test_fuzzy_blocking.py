"""Fuzzy title matching grows linearly (issue 27): titles are compared only under a shared blocking key,
and the keys leave out only words that could be a typo, so titles that differ by a number never meet.
The decisions are those of comparing every pair (titles_fuzzy_equal), checked here on made-up titles
and through `bot poll`."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import bot.library.matcher as matcher
from bot.core.identity import fuzzy_block_keys, normalize_title, title_key, titles_fuzzy_equal
from bot.core.normalize import make_item
from bot.library.matcher import IdentityIndex
from bot.relevance.dedupe import decide, merge
from tests.servers import FeedServer, Route, rss
from tests.test_source_faults import poll_json, project, stored_titles

WORDS = ("language model transformer attention scaling inference quantization adapter retrieval agent "
         "benchmark evaluation diffusion speech token context sparse expert routing alignment reward "
         "policy gradient graph neural kernel compiler memory cache latency dataset reasoning planning "
         "few zero shot code for of the a on with gpt").split()


def typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word + "s"
    i = rng.randrange(len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]  # a transposition


def made_up_titles(rng: random.Random, n: int) -> list[str]:
    titles = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(2, 7))]
        shape = rng.random()
        if shape < 0.2:
            words.append(str(rng.randrange(12)))  # "Part 3", "GPT 4"
        elif shape < 0.3:
            words.insert(0, f"v{rng.randrange(5)}")
        titles.append(" ".join(words))
    # Near-copies: a typo, a changed number, a changed word.
    for t in list(titles[: n // 2]):
        words = t.split()
        i = rng.randrange(len(words))
        kind = rng.random()
        if kind < 0.5:
            words[i] = typo(words[i], rng)
        elif kind < 0.75:
            words[i] = str(rng.randrange(12)) if words[i].isdigit() else rng.choice(WORDS)
        else:
            words[i] = words[i] + str(rng.randrange(3))
        titles.append(" ".join(words))
    return titles


def test_titles_that_differ_only_by_a_number_share_no_block() -> None:
    a = fuzzy_block_keys(normalize_title("Weekly notes on LLM inference, part 1"))
    b = fuzzy_block_keys(normalize_title("Weekly notes on LLM inference, part 2"))
    assert a and b and not {k for k, _ in a} & {k for k, _ in b}
    # A typo still shares the key that leaves out the mistyped word.
    c = fuzzy_block_keys(normalize_title("Weekly ntoes on LLM inference, part 1"))
    assert {k for k, _ in a} & {k for k, _ in c}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_index_finds_exactly_the_titles_a_comparison_of_every_pair_finds(seed: int) -> None:
    rng = random.Random(seed)
    titles = [normalize_title(t) for t in made_up_titles(rng, 400)]
    library, queries = titles[:400], titles[400:]  # the near-copies looked up among the originals
    index = IdentityIndex()
    for n, t in enumerate(library):
        index.add("entry", n, [matcher.Identity("title", t)])
    found = 0
    for q in queries:
        hit = index.match([matcher.Identity("title", q)])
        exact = any(title_key(q) == title_key(t) for t in library)
        fuzzy = any(titles_fuzzy_equal(q, t) for t in library if len(t.split()) >= 3)
        assert (hit is not None) == (exact or fuzzy), q
        if hit is not None and hit.rule == "fuzzy_title":
            found += 1
            assert titles_fuzzy_equal(q, hit.value)
    assert found > 5  # the made-up titles hold typos that the index must find


def test_a_feed_of_numbered_titles_makes_no_word_comparisons(monkeypatch: pytest.MonkeyPatch) -> None:
    """4,000 titles that differ only by a number: every pair used to be compared (7,998,000 for 4,000)."""
    calls = 0
    real = matcher.words_typo_equal

    def counting(x: str, y: str) -> bool:
        nonlocal calls
        calls += 1
        return real(x, y)

    monkeypatch.setattr(matcher, "words_typo_equal", counting)
    items = [make_item(source="s", title=f"Weekly notes on language model inference number {n}",
                       url=f"https://numbered.example/{n}", published=None) for n in range(4000)]
    items.append(make_item(source="s", title="Weekly notes on langauge model inference number 17",
                           url="https://numbered.example/typo", published=None))
    decisions = decide(merge(items), IdentityIndex())
    assert [d.known for d in decisions] == [False] * 4000 + [True]
    assert decisions[-1].match is not None and decisions[-1].match.rule == "fuzzy_title"
    assert calls <= 10, calls


def test_a_numbered_feed_through_poll_keeps_every_item_and_merges_the_typo(workdir: Path) -> None:
    entries = [{"title": f"LLM inference notes, episode {n}", "link": f"https://numbered.example/{n}"}
               for n in range(1500)]
    entries.append({"title": "LLM infernece notes, episode 12", "link": "https://numbered.example/typo"})
    with FeedServer() as server:
        url = server.route("/numbered.xml", Route(body=rss(entries)))
        project(workdir, [{"name": "numbered", "url": url}])
        report = poll_json(workdir)
    assert report["numbered"]["fetched"] == 1501, report["numbered"]
    stored = stored_titles(workdir)
    assert len(stored) == 1500 and "LLM infernece notes, episode 12" not in stored
