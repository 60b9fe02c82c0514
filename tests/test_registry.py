"""Registries: a source kind and a delivery target registered from the test folder (tests/toy_source.py,
tests/toy_target.py) are polled and delivered to like the built-in ones."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import bot.delivery.builtin  # noqa: F401  (the built-in targets, for the names a toy may not take)
from bot.app import App
from bot.core.errors import ConfigError
from bot.delivery.registry import DeliveryTarget, delivery_target, register_target, unregister_target
from bot.digest.pipeline import DigestOptions, run
from bot.poll import fetch_settings, poll, select_feeds
from bot.sources.registry import register_source, source_kind, unregister_source
from tests.servers import FeedServer, Route
from tests.test_digest import NOW as DIGEST_NOW
from tests.test_digest import log_sections, polled_store, setup_project
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
    with pytest.raises(ConfigError, match=r"kind 'reddit'; expected one of hn, arxiv, rss, hf_papers, toy"):
        make_config(tmp_path, [{"name": "r", "kind": "reddit", "url": "https://reddit.example/r.json"}])


def test_a_kind_is_registered_once(toy_kind: str) -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_source(toy_kind)
    with pytest.raises(ValueError, match="already registered"):
        register_source("rss")


@pytest.fixture
def toy_target() -> Iterator[ModuleType]:
    """The toy target, registered by importing its module (again, when an earlier test unregistered it)."""
    module = importlib.import_module("tests.toy_target")
    if delivery_target(module.NAME) is None:
        module = importlib.reload(module)
    module.failures_to_come = 0
    yield module
    unregister_target(module.NAME)


def test_a_registered_target_gets_the_digest_exactly_once(tmp_path: Path, toy_target: ModuleType) -> None:
    config = setup_project(tmp_path)
    store = polled_store(config)
    toy_target.failures_to_come = 1
    opts = DigestOptions(slack=False)
    targets = App(config, store).delivery_targets(opts)  # as the composition root builds them: the toy among them
    first = run(config, store, opts, targets, DIGEST_NOW)
    assert {d.target: d.status for d in first.deliveries} == {"log": "done", "toy": "failed"}
    assert not toy_target.outbox(config).exists()
    second = run(config, store, opts, targets, DIGEST_NOW)  # finishes the first digest
    third = run(config, store, opts, targets, DIGEST_NOW)
    assert second.items == [] and third.items == []
    finished = second.finished_earlier[0].deliveries
    assert {d.target: d.status for d in finished} == {"log": "done", "toy": "done"}
    (line,) = toy_target.outbox(config).read_text(encoding="utf-8").splitlines()
    body = json.loads(line)
    assert body["day"] == "2026-11-23" and body["titles"] == [i.title for i in first.items]
    assert len(log_sections(config)) == 1


def test_a_digest_with_only_a_registered_target_reaches_it(tmp_path: Path, toy_target: ModuleType) -> None:
    config = setup_project(tmp_path, log=False)
    store = polled_store(config)
    opts = DigestOptions(slack=False)
    outcome = run(config, store, opts, App(config, store).delivery_targets(opts), DIGEST_NOW)
    assert [(d.target, d.status) for d in outcome.deliveries] == [("toy", "done")]
    assert len(toy_target.outbox(config).read_text(encoding="utf-8").splitlines()) == 1


def test_a_target_is_registered_once(toy_target: ModuleType) -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_target(DeliveryTarget(toy_target.NAME, render=toy_target.render_toy, deliver=toy_target.deliver_toy))
    with pytest.raises(ValueError, match="already registered"):
        register_target(DeliveryTarget("slack", render=toy_target.render_toy, deliver=toy_target.deliver_toy))
