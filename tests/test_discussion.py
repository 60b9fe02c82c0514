"""An item's discussion is a record of its own (core.records.Discussion): built for an HN thread from its
number, carried by every item record, kept by the store in its hn_id and hn_url columns, shown in the
JSON output as `hn_id` and `hn_url` as always, and rendered by its label, so a second site needs no
template change."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.core.config import Config, load_config
from bot.core.identity import Identity
from bot.core.normalize import make_item
from bot.core.records import Discussion, FeedItem, NewItem
from bot.delivery import log, slack_webhook
from bot.delivery.slack_api import WebhookPoster
from bot.digest.pipeline import finish_unfinished
from bot.digest.render import DigestItem, render_log_section, render_text, slack_section_text
from bot.store.database import Store
from tests.servers import SlackReceiver

GOLDEN = Path(__file__).parent / "golden"
LOBSTERS = Discussion(site="lobsters", id="abc123", url="https://lobste.rs/s/abc123", label="Lobsters")
DAY = date(2026, 11, 23)


def digest_item(discussion: Discussion | None, url: str | None = "https://blog.example/post",
                points: int | None = 12, comments: int | None = 3) -> DigestItem:
    return DigestItem(id=1, title="Sparse attention at scale", url=url, discussion=discussion, arxiv_id=None,
                      sources=("feed",), topics=("long context",), score=0.5, published=None,
                      summary="What it does.", points=points, comments=comments)


def new_item(discussion: Discussion | None) -> NewItem:
    return NewItem(title="Sparse attention at scale", url="https://blog.example/post", discussion=discussion,
                   arxiv_id=None, doi=None, published=None, first_seen="2026-11-20T00:00:00+00:00",
                   sources=("feed",), topics=("llm",), score=1.0, relevance=0.5, status="relevant", summary="",
                   categories=(), points=None, comments=None, explain={})


# -- the record -------------------------------------------------------------------------------------

def test_an_hn_thread_is_built_from_its_number() -> None:
    thread = Discussion.hn(36064568)
    assert thread == Discussion(site="hn", id="36064568", url="https://news.ycombinator.com/item?id=36064568",
                                label="HN")
    assert Discussion.hn("36064568") == thread  # the number as a feed spells it
    assert (thread.hn_id, thread.hn_url, thread.identity) == (36064568, thread.url, Identity("hn", "36064568"))
    assert (LOBSTERS.hn_id, LOBSTERS.hn_url, LOBSTERS.identity) == (None, None, Identity("lobsters", "abc123"))


def test_items_read_hn_id_and_hn_url_from_their_discussion() -> None:
    story = FeedItem("hn", "A story", "https://blog.example/post", None, discussion=Discussion.hn(46000001))
    assert (story.hn_id, story.hn_url) == (46000001, "https://news.ycombinator.com/item?id=46000001")
    alone = FeedItem("blog", "A post", "https://blog.example/post", None)
    assert (alone.discussion, alone.hn_id, alone.hn_url) == (None, None, None)
    elsewhere = FeedItem("lobsters", "A story", "https://blog.example/post", None, discussion=LOBSTERS)
    assert (elsewhere.hn_id, elsewhere.hn_url) == (None, None)  # readers of the HN number see none


def test_normalizing_an_item_with_a_thread_and_no_link_links_the_thread() -> None:
    ask = make_item(source="hn", title="Ask HN: how do you read papers?", url=None, published=None,
                    discussion=Discussion.hn(46000003))
    assert ask is not None and ask.url == "https://news.ycombinator.com/item?id=46000003"
    assert Identity("hn", "46000003") in ask.identities
    untitled = make_item(source="lobsters", title="", url=None, published=None, discussion=LOBSTERS)
    assert untitled is not None and (untitled.title, untitled.url) == (LOBSTERS.url, LOBSTERS.url)
    assert Identity("lobsters", "abc123") in untitled.identities


# -- JSON: hn_id and hn_url as always, the record beside them ----------------------------------------

def test_the_json_output_keeps_hn_id_and_hn_url() -> None:
    data = digest_item(Discussion.hn(46000001)).as_json()
    assert list(data)[:6] == ["id", "title", "url", "hn_id", "hn_url", "discussion"]
    assert (data["hn_id"], data["hn_url"]) == (46000001, "https://news.ycombinator.com/item?id=46000001")
    assert data["discussion"] == {"site": "hn", "id": "46000001", "url": data["hn_url"], "label": "HN"}
    assert (data["points"], data["comments"]) == (12, 3)  # the source's signals stay on the item
    none = digest_item(None).as_json()
    assert (none["hn_id"], none["hn_url"], none["discussion"]) == (None, None, None)
    other = digest_item(LOBSTERS).as_json()
    assert (other["hn_id"], other["hn_url"]) == (None, None) and other["discussion"]["label"] == "Lobsters"
    for item in (digest_item(Discussion.hn(46000001)), digest_item(None), digest_item(LOBSTERS)):
        assert DigestItem.from_json(json.loads(json.dumps(item.as_json()))) == item


def test_a_stored_item_keeps_its_discussion_in_the_hn_columns() -> None:
    store = Store.open(":memory:")
    with_thread, without = store.insert_items([new_item(Discussion.hn(46000001)), new_item(None)])
    stored = store.item(with_thread)
    assert stored is not None and stored.discussion == Discussion.hn(46000001)
    data = stored.as_json()
    assert list(data)[:6] == ["id", "title", "url", "hn_id", "hn_url", "discussion"]
    assert (data["hn_id"], data["hn_url"]) == (46000001, "https://news.ycombinator.com/item?id=46000001")
    bare = store.item(without)
    assert bare is not None and bare.discussion is None and (bare.as_json()["hn_id"], bare.hn_url) == (None, None)
    store.update_item(without, {"discussion": Discussion.hn(46000002)})  # a thread found later
    found = store.item(without)
    assert found is not None and found.hn_id == 46000002


def test_the_store_refuses_a_discussion_it_has_no_columns_for() -> None:
    store = Store.open(":memory:")
    with pytest.raises(ValueError, match="HN discussions only"):
        store.insert_items([new_item(LOBSTERS)])
    assert store.count_items() == 0


# -- digests recorded before the record existed -------------------------------------------------------

def test_an_item_of_json_written_before_the_record_reloads() -> None:
    data = json.loads((GOLDEN / "digest.json").read_text(encoding="utf-8"))
    for raw in data["items"]:
        assert "discussion" not in raw  # as the previous version wrote it
        item = DigestItem.from_json(raw)
        assert (item.hn_id, item.hn_url) == (raw["hn_id"], raw["hn_url"])
        assert {k: v for k, v in item.as_json().items() if k != "discussion"} == {**raw, "explain": {}}


def project(tmp: Path) -> Config:
    (tmp / "bot.toml").write_text('[bot]\ndb = "bot.db"\nlog = "log.md"\n[hn]\nlookup = false\n', encoding="utf-8")
    return load_config(str(tmp / "bot.toml"), env={})


def test_a_digest_recorded_by_the_previous_version_still_delivers(tmp_path: Path) -> None:
    """The ledger records a digest's rendered bodies, not its items: a digest recorded before the
    discussion was a record (here, the golden bytes, which that version rendered) delivers as it was."""
    config = project(tmp_path)
    assert config.log is not None
    config.log.write_text("# Log\n", encoding="utf-8")
    store = Store.open(config.db)
    messages: list[dict[str, Any]] = json.loads((GOLDEN / "slack.json").read_text(encoding="utf-8"))
    section = (GOLDEN / "log_section.md").read_text(encoding="utf-8")
    digest_id = store.record_digest(
        {"date": DAY.isoformat(), "created": "2026-11-23T09:00:00+00:00", "stats": {"shown": 5},
         "bodies": {"text": "", "footer": "", "slack": messages, "markdown": section}}, ["slack", "log"], [])
    with SlackReceiver() as slack:
        targets = [slack_webhook.through(WebhookPoster(slack.webhook_url, timeout=2)), log.TARGET]
        (done,) = finish_unfinished(config, store, targets, lambda _step: None,
                                    now=datetime(2026, 11, 23, 9, 5, tzinfo=UTC))
    assert done.id == digest_id and [(d.target, d.status) for d in done.deliveries] == [("slack", "done"),
                                                                                         ("log", "done")]
    assert [post["payload"]["blocks"] for post in slack.posts] == [m["blocks"] for m in messages]
    assert config.log.read_text(encoding="utf-8").endswith(section)


# -- another site renders by its label, through the same templates -----------------------------------

def test_a_discussion_elsewhere_renders_with_its_own_label() -> None:
    item = digest_item(LOBSTERS)
    assert render_log_section(DAY, [item]).splitlines()[1] == (
        "* [Sparse attention at scale](https://blog.example/post) and [Lobsters thread](https://lobste.rs/s/abc123)")
    assert slack_section_text(item).splitlines()[0] == (
        "*<https://blog.example/post|Sparse attention at scale>* · <https://lobste.rs/s/abc123|Lobsters 12 pts, 3 comments>")
    text = render_text(DAY, [item], "footer").splitlines()
    assert text[text.index("   https://blog.example/post") + 1] == "   Lobsters: https://lobste.rs/s/abc123 (12 points, 3 comments)"


def test_a_thread_that_is_the_item_itself_is_linked_once() -> None:
    item = digest_item(LOBSTERS, url=LOBSTERS.url, points=None, comments=None)
    assert render_log_section(DAY, [item]).splitlines()[1] == "* [Sparse attention at scale](https://lobste.rs/s/abc123)"
    assert "Lobsters" not in slack_section_text(item) and "Lobsters" not in render_text(DAY, [item], "footer")
    none = digest_item(None)
    assert " thread]" not in render_log_section(DAY, [none]) and " · <" not in slack_section_text(none)
