"""Registries: a source kind and a delivery target registered from the test folder (tests/toy_source.py,
tests/toy_target.py) are polled and delivered to like the built-in ones."""

from __future__ import annotations

import asyncio
import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import bot.delivery.builtin  # noqa: F401  (the built-in targets, for the names a toy may not take)
from bot.app import App
from bot.cli.group import main
from bot.core.config import FeedConfig
from bot.core.errors import ConfigError
from bot.delivery import log
from bot.delivery.registry import DeliveryTarget, delivery_target, register_target, unregister_target
from bot.digest.pipeline import DigestOptions, run
from bot.poll import fetch_settings, poll, select_feeds
from bot.sources.answer import FetchResult
from bot.sources.kinds import fetch_source
from bot.sources.registry import register_source, source_kind, source_kinds, unregister_source
from tests.conftest import cli_env, write_config
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
    (item,) = store.all_items()
    assert item.title == "Toy: A new method for LLM inference with speculative decoding"
    assert item.url == "https://toy.example/spec"


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


def test_the_built_in_kinds_are_registered_like_any_other_with_their_intervals_and_options() -> None:
    kinds = {kind.name: kind for kind in source_kinds()}
    assert [kind.name for kind in source_kinds()][:4] == ["hn", "arxiv", "rss", "hf_papers"]
    assert {name: kinds[name].min_interval for name in ("hn", "arxiv", "rss", "hf_papers")} == {
        "hn": 0.0, "arxiv": 3.0, "rss": 0.0, "hf_papers": 0.0}  # arXiv asks for 3 s between requests (spec 6)
    assert kinds["hn"].options["min_points"] == 30 and kinds["hf_papers"].options["lookback_days"] == 2
    assert set(kinds["arxiv"].options) == {"categories", "page_size", "max_pages", "lookback_days"}


def test_the_poll_takes_a_built_in_kind_s_interval_from_the_registry(tmp_path: Path) -> None:
    config = make_config(tmp_path, [{"name": "arxiv", "kind": "arxiv", "url": "https://export.arxiv.org/api/query"},
                                    {"name": "blog", "kind": "rss", "url": "https://blog.example/feed.xml"}])
    assert fetch_settings(config, select_feeds(config)).min_interval == {"export.arxiv.org": 3.0}


class NoServer:
    """A getter for a source that must not be asked."""

    async def get(self, url: str, etag: str | None = None, last_modified: str | None = None,
                  accept: str = "*/*") -> FetchResult:
        raise AssertionError(f"asked {url}")


def test_a_feed_of_an_unregistered_kind_built_by_hand_fails_alone_without_a_request() -> None:
    feed = FeedConfig(name="r", kind="reddit", url="https://reddit.example/r.json")
    outcome = asyncio.run(fetch_source(feed, {}, NoServer(), NOW))
    assert (outcome.result, outcome.error, outcome.requests) == (
        "error", "its kind 'reddit' is not a registered source kind", 0)


def test_the_command_line_knows_the_built_in_kinds_and_refuses_another_with_exit_2(tmp_path: Path) -> None:
    """In a fresh process: the composition root registers the built-in kinds before the configuration
    checks its feeds, so `kind = "hn"` passes and `kind = "nosuch"` is refused in one sentence."""
    def status(kind: str) -> subprocess.CompletedProcess[str]:
        config = write_config(tmp_path, f'[bot]\ndb = "bot.db"\n[library]\npaths = []\n'
                                        f'[[feeds]]\nname = "x"\nkind = "{kind}"\nurl = "https://x.example/a"\n')
        return subprocess.run([sys.executable, "-m", "bot", "--config", str(config), "status", "--json"],
                              cwd=tmp_path, env=cli_env(NOW), capture_output=True, text=True, timeout=60)

    known = status("hn")
    assert known.returncode == 0, known.stderr
    assert [s["name"] for s in json.loads(known.stdout)["sources"]] == ["x"]
    refused = status("nosuch")
    assert refused.returncode == 2 and refused.stdout == ""
    assert "has kind 'nosuch'; expected one of hn, arxiv, rss, hf_papers" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


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


def test_a_digest_goes_exactly_once_to_a_list_of_the_toy_target_and_the_log(tmp_path: Path,
                                                                            toy_target: ModuleType) -> None:
    config = setup_project(tmp_path)
    store = polled_store(config)
    targets = [toy_target.TARGET, log.TARGET]  # a test's own list: no Slack, no git
    toy_target.failures_to_come = 2
    first = run(config, store, DigestOptions(), targets, DIGEST_NOW)
    assert [(d.target, d.status) for d in first.deliveries] == [("toy", "failed"), ("log", "done")]
    assert first.notes == []  # nothing asked for is missing: Slack is not in the list at all
    failed = first.deliveries[0]
    assert failed.error == "the toy outbox is closed" and failed.attempts == 1 and failed.next_retry is not None
    again = run(config, store, DigestOptions(), targets, DIGEST_NOW)  # fails once more
    assert [(d.target, d.status, d.attempts) for d in again.finished_earlier[0].deliveries] == \
        [("toy", "failed", 2), ("log", "done", 0)]
    last = run(config, store, DigestOptions(), targets, DIGEST_NOW)
    assert [(d.target, d.status) for d in last.finished_earlier[0].deliveries] == [("toy", "done"), ("log", "done")]
    assert run(config, store, DigestOptions(), targets, DIGEST_NOW).finished_earlier == []  # done stays done
    (line,) = toy_target.outbox(config).read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["titles"] == [i.title for i in first.items]
    assert len(log_sections(config)) == 1


def test_a_delivery_to_a_target_no_longer_registered_is_reported_not_crashed_on(
        tmp_path: Path, toy_target: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    config = setup_project(tmp_path)
    store = polled_store(config)
    opts = DigestOptions(slack=False)
    first = run(config, store, opts, App(config, store).delivery_targets(opts), DIGEST_NOW)
    assert [(d.target, d.status) for d in first.deliveries] == [("log", "done"), ("toy", "done")]
    store.update_delivery(first.digest_id or 0, "toy", status="pending")  # left undone, then the toy went away
    unregister_target(toy_target.NAME)
    again = run(config, store, opts, App(config, store).delivery_targets(opts), DIGEST_NOW)
    (toy,) = [d for d in again.finished_earlier[0].deliveries if d.target == "toy"]
    assert toy.status == "failed"
    assert toy.error == "No delivery target called 'toy' is registered, so this delivery cannot be finished; " \
                        "nothing was sent"
    assert len(toy_target.outbox(config).read_text(encoding="utf-8").splitlines()) == 1  # nothing sent again
    store.close()
    bot_toml = str(tmp_path / "bot.toml")
    assert main(["--config", bot_toml, "status"]) == 0
    assert "toy failed: No delivery target called 'toy' is registered" in capsys.readouterr().out
    assert main(["--config", bot_toml, "digest", "--no-slack"]) == 1  # said, with the exit code of failed work
    assert "toy delivery failed: No delivery target called 'toy' is registered" in capsys.readouterr().err

def test_targets_share_a_ledger_name_only_when_both_say_so_and_render_one_body(toy_target: ModuleType) -> None:
    with pytest.raises(ValueError, match="'log' is already registered"):
        register_target(DeliveryTarget("log", render=toy_target.render_toy, deliver=toy_target.deliver_toy))
    with pytest.raises(ValueError, match="must render the same body"):
        register_target(DeliveryTarget("slack_discord_bridge", ledger="slack", body="bridge",
                                       render=toy_target.render_toy, deliver=toy_target.deliver_toy))
    with pytest.raises(ValueError, match="the digest's own"):
        register_target(DeliveryTarget("texter", body="text", render=toy_target.render_toy,
                                       deliver=toy_target.deliver_toy))
    assert delivery_target("slack_discord_bridge") is None and delivery_target("texter") is None
