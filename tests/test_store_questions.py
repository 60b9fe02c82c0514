"""The store's named questions and the records they return: the digest window's bounds, the counts
`bot status` shows, and statuses that are always one of their declared values."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

import pytest

from bot.core.clock import fixed_clock
from bot.core.identity import Identity
from bot.core.records import Discussion, ItemStatus, LibraryEntry, NewItem, SourceResult, StoredItem
from bot.poll import poll
from bot.store.database import Store
from tests.servers import FeedServer, Route, rss
from tests.test_poll import by_name, make_config, open_store

SINCE, UNTIL = "2026-11-16T00:00:00+00:00", "2026-11-23T00:00:00+00:00"


def _record(title: str, published: str | None, first_seen: str = "2026-11-01T00:00:00+00:00",
            status: ItemStatus = "relevant", hn_id: int | None = None, arxiv_id: str | None = None,
            score: float = 1.0, summary: str = "", identities: frozenset[Identity] = frozenset()) -> NewItem:
    return NewItem(title=title, url=f"https://example.com/{title.replace(' ', '-')}",
                   discussion=Discussion.hn(hn_id) if hn_id else None, arxiv_id=arxiv_id, doi=None,
                   published=published, first_seen=first_seen, sources=("blog",),
                   topics=("llm",), score=score, relevance=0.5, status=status, summary=summary, categories=(),
                   points=None, comments=None, explain={"topics": 1.0}, identities=identities)


@pytest.fixture
def store() -> Store:
    # A fixed clock: a record's `created` is compared with store.now(), which must not tick between them.
    return Store.open(":memory:", fixed_clock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC)))


def _ids_by_title(store: Store) -> dict[str, int]:
    return {item.title: item.id for item in store.all_items()}


def test_the_window_is_half_open_and_falls_back_to_first_seen(store: Store) -> None:
    store.insert_items([
        _record("before", "2026-11-15T23:59:59+00:00"),
        _record("at since", SINCE),
        _record("just before until", "2026-11-22T23:59:59+00:00"),
        _record("at until", UNTIL),
        # no published time: the time it was first seen places it
        _record("unpublished inside", None, first_seen="2026-11-18T08:00:00+00:00"),
        _record("unpublished outside", None, first_seen="2026-11-25T08:00:00+00:00"),
        # published wins over first seen when both are there
        _record("published outside, seen inside", "2026-11-10T00:00:00+00:00",
                first_seen="2026-11-18T00:00:00+00:00"),
    ])
    ids = _ids_by_title(store)
    inside = {c.id for c in store.relevant_candidates(SINCE, UNTIL)}
    assert inside == {ids["at since"], ids["just before until"], ids["unpublished inside"]}
    assert store.offered_counts(SINCE, UNTIL) == {(False, False): 3}
    # an open end takes everything on that side
    assert {c.id for c in store.relevant_candidates(None, SINCE)} == {ids["before"],
                                                                       ids["published outside, seen inside"]}
    assert len(store.relevant_candidates(None, None)) == 7
    unpublished = store.item(ids["unpublished inside"])
    assert unpublished is not None and unpublished.when == "2026-11-18T08:00:00+00:00"


def test_an_empty_window_or_an_empty_store_answers_nothing(store: Store) -> None:
    assert store.relevant_candidates(SINCE, UNTIL) == [] and store.offered_counts(None, None) == {}
    assert store.top_unthreaded_papers(None, None, 10) == [] and store.items_by_id([]) == {}
    store.insert_items([_record("a paper", "2026-11-18T00:00:00+00:00", arxiv_id="2611.00001")])
    assert store.relevant_candidates(UNTIL, UNTIL) == []  # [t, t) holds nothing
    assert store.top_unthreaded_papers("2026-11-18T00:00:01+00:00", UNTIL, 10) == []
    assert (store.count_items(), store.count_pending(), store.count_off_topic(), store.count_digested()) == (1, 1, 0, 0)


def test_candidates_are_relevant_and_undigested_papers_have_no_thread(store: Store) -> None:
    day = "2026-11-18T00:00:00+00:00"
    store.insert_items([
        _record("relevant paper", day, arxiv_id="2611.00001", score=0.4),
        _record("better paper", day, arxiv_id="2611.00002", score=0.9),
        _record("discussed paper", day, arxiv_id="2611.00003", hn_id=46000001, score=2.0),
        _record("off-topic paper", day, arxiv_id="2611.00004", status="off_topic", score=5.0),
        _record("digested paper", day, arxiv_id="2611.00005", score=3.0),
        _record("a thread", day, hn_id=46000002),
    ])
    ids = _ids_by_title(store)
    store.update_item(ids["digested paper"], {"digest_id": 7})
    assert [p.title for p in store.top_unthreaded_papers(SINCE, UNTIL, 10)] == ["better paper", "relevant paper"]
    assert [p.title for p in store.top_unthreaded_papers(SINCE, UNTIL, 1)] == ["better paper"]
    assert {c.id for c in store.relevant_candidates(SINCE, UNTIL)} == {
        ids["relevant paper"], ids["better paper"], ids["discussed paper"], ids["a thread"]}
    # offered: every undigested item of the window, off-topic ones too, by (HN thread?, arXiv id?)
    assert store.offered_counts(SINCE, UNTIL) == {(False, True): 3, (True, True): 1, (True, False): 1}
    assert (store.count_pending(), store.count_off_topic(), store.count_off_topic(undigested=True),
            store.count_digested()) == (4, 1, 1, 1)


def test_items_come_back_as_frozen_records_with_their_lists_decoded(store: Store) -> None:
    (item_id,) = store.insert_items([_record("one", "2026-11-18T00:00:00+00:00",
                                             identities=frozenset({Identity("url", "example.com/one")}))])
    item = store.item(item_id)
    assert isinstance(item, StoredItem)
    assert item.sources == ("blog",) and item.topics == ("llm",) and item.categories == ()
    assert item.explain == {"topics": 1.0}
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.score = 2.0  # type: ignore[misc]
    store.update_item(item_id, {"sources": ("blog", "hn"), "points": 12}, [Identity("hn", "46000001")])
    again = store.item(item_id)
    assert again is not None and again.sources == ("blog", "hn") and again.points == 12
    assert store.item_identities(item_id) == {Identity("url", "example.com/one"), Identity("hn", "46000001")}
    assert store.item(item_id + 1) is None
    # the JSON shape `bot library check --json` prints: the table's columns, lists as lists
    assert list(item.as_json())[:3] == ["id", "title", "url"] and item.as_json()["sources"] == ["blog"]


def test_items_by_id_reads_more_ids_than_one_statement_may_name(store: Store) -> None:
    ids = store.insert_items([_record(f"item {n}", "2026-11-18T00:00:00+00:00") for n in range(1200)])
    found = store.items_by_id(reversed(ids))
    assert sorted(found) == ids and found[ids[-1]].title == "item 1199"


def test_recent_item_texts_are_the_newest_first(store: Store) -> None:
    store.insert_items([_record(f"item {n}", None, summary=f"text {n}") for n in range(5)])
    assert store.recent_item_texts(2) == [("item 4", "text 4"), ("item 3", "text 3")]


def test_a_source_state_names_only_what_a_source_remembers(store: Store) -> None:
    assert store.source_state("never").result is None and store.source_state("never").stats == {}
    store.save_source_state("f", kind="rss", url="https://f.example/feed", result="ok", stats={"new": 2})
    state = store.source_state("f")
    assert (state.kind, state.result, state.stats) == ("rss", "ok", {"new": 2})
    with pytest.raises(ValueError, match="no colour"):
        store.save_source_state("f", colour="red")
    assert [s.name for s in store.source_states()] == ["f"]


def test_library_entries_and_search_hits_are_records(store: Store) -> None:
    entry = LibraryEntry(file="log.md", line=3, kind="link", title="QLoRA: Efficient Finetuning",
                         urls=("https://arxiv.org/abs/2305.14314",), identities=frozenset({Identity("arxiv", "2305.14314")}),
                         date="2023-05-24", text="* [QLoRA: Efficient Finetuning](https://arxiv.org/abs/2305.14314)")
    store.replace_library_file("log.md", [entry])
    (stored,) = store.library_entries()
    assert stored.urls == ("https://arxiv.org/abs/2305.14314",) and stored.internal_links == ()
    assert store.library_entry(stored.id) == stored and store.library_entry(stored.id + 1) is None
    assert list(stored.as_json()) == ["id", "file", "line", "kind", "title", "date", "urls", "internal_links", "text"]
    (hit,) = store.search_library("finetuning")
    assert (hit.file, hit.line, hit.urls) == ("log.md", 3, ("https://arxiv.org/abs/2305.14314",))


def test_after_a_poll_every_status_and_result_is_one_of_its_declared_values(tmp_path: Path) -> None:
    with FeedServer() as server:
        url = server.route("/good.xml", Route(body=rss([
            {"title": "Speculative decoding for faster LLM inference", "link": "https://a.example/spec"},
            {"title": "The best sourdough starter", "link": "https://b.example/bread"},
        ])))
        config = make_config(tmp_path, [{"name": "good", "url": url},
                                        {"name": "bad", "url": server.url("/missing.xml")}])
        store = open_store(config)
        report = by_name(poll(config, store, now=datetime(2026, 11, 20, 12, 0, tzinfo=UTC)))
    items = store.all_items()
    assert (report["good"].new, report["good"].off_topic, len(items)) == (1, 1, 2)
    assert {i.status for i in items} == {"relevant", "off_topic"}
    assert all(i.status in get_args(ItemStatus) for i in items)
    states = {s.name: s for s in store.source_states()}
    assert (states["good"].result, states["bad"].result) == ("ok", "error")
    assert all(s.result in get_args(SourceResult) for s in states.values())


def test_the_summary_cache_and_hn_lookups_answer_with_records(store: Store) -> None:
    from bot.core.errors import StoreError
    from bot.core.records import CachedSummary, HnLookup, SummaryStatus, TokenUsage

    keys = [f"url:https://example.com/{n}" for n in range(700)]  # more than one query may name
    for n, key in enumerate(keys):
        status: SummaryStatus = ("ok", "rejected", "error")[n % 3]
        store.cache_summary(key, "m", "v1", status, "text" if status == "ok" else None, 10, 5, None)
    found = store.cached_summaries(keys + ["url:https://example.com/none"], "m", "v1")
    assert set(found) == set(keys)
    first = found[keys[0]]
    assert isinstance(first, CachedSummary) and dataclasses.is_dataclass(first)
    assert (first.status, first.text, first.prompt_tokens, first.created) == ("ok", "text", 10, store.now())
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.text = "changed"  # type: ignore[misc]
    assert store.cached_summaries(keys, "other model", "v1") == {}
    usage = store.token_usage()
    assert usage == TokenUsage(summaries=467, prompt_tokens=7000, completion_tokens=3500, rejected=233, failed=233)
    assert usage.as_json()["summaries"] == 467
    store.db.execute("update summaries set status = 'maybe' where key = ?", [keys[0]])
    with pytest.raises(StoreError, match="maybe"):
        store.cached_summaries(keys[:1], "m", "v1")

    assert store.hn_lookup(1) is None
    store.record_hn_lookup(1, "2026-11-20T12:00:00+00:00", None)
    assert store.hn_lookup(1) == HnLookup(1, "2026-11-20T12:00:00+00:00", None)
    store.record_hn_lookup(1, "2026-11-21T12:00:00+00:00", 36064568)
    assert store.hn_lookup(1) == HnLookup(1, "2026-11-21T12:00:00+00:00", 36064568)
