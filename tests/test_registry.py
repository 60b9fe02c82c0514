"""Registries: a source kind registered from the test folder (tests/toy_source.py) is polled like a built-in."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core.errors import ConfigError
from bot.poll import fetch_settings, poll, select_feeds
from bot.sources.registry import register_source, source_kind, unregister_source
from tests.servers import FeedServer, Route
from tests.test_poll import NOW, by_name, make_config, open_store

TOY_ITEMS = [
    {"title": "A new method for LLM inference with speculative decoding", "url": "https://toy.example/spec"},
    {"title": "Illustrated Transformer", "url": "http://jalammar.github.io/illustrated-transformer/"},  # in the library
]


@pytest.fixture
def toy_kind() -> Iterator[str]:
    """The toy kind, registered by importing its module (again, when an earlier test unregistered it)."""
    module = importlib.import_module("tests.toy_source")
    if source_kind(module.KIND) is None:
        importlib.reload(module)
    yield module.KIND
    unregister_source(module.KIND)


def test_a_registered_source_kind_is_polled_deduped_and_stored(tmp_path: Path, toy_kind: str) -> None:
    with FeedServer() as server:
        url = server.route("/toy.json", Route(content_type="application/json", body=json.dumps(TOY_ITEMS).encode()))
        config = make_config(tmp_path, [{"name": "toys", "kind": toy_kind, "url": url, "prefix": "Toy: "}])
        store = open_store(config)
        report = by_name(poll(config, store, now=NOW))
    assert (report["toys"].fetched, report["toys"].known, report["toys"].new) == (2, 1, 1)
    (item,) = store.items_where("1", [])
    assert item["title"] == "Toy: A new method for LLM inference with speculative decoding"
    assert item["url"] == "https://toy.example/spec"


def test_a_registered_kind_brings_its_request_interval(tmp_path: Path, toy_kind: str) -> None:
    config = make_config(tmp_path, [{"name": "toys", "kind": toy_kind, "url": "https://toys.example/feed.json"}])
    assert fetch_settings(config, select_feeds(config)).min_interval == {"toys.example": 0.25}


def test_an_unregistered_kind_is_a_config_error_naming_the_registered_ones(tmp_path: Path, toy_kind: str) -> None:
    with pytest.raises(ConfigError, match=r"kind 'reddit'; expected one of hn, arxiv, rss, toy"):
        make_config(tmp_path, [{"name": "r", "kind": "reddit", "url": "https://reddit.example/r.json"}])


def test_a_kind_is_registered_once(toy_kind: str) -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_source(toy_kind)
    with pytest.raises(ValueError, match="already registered"):
        register_source("rss")
