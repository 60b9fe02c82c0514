"""The weekly digest is this week's: a feed's back catalogue is stored as known at its first poll but
never offered (the digest window, `[bot] digest_window_days`), `--since/--until` reach back on purpose,
and an item that matches no tracked topic never outranks one that does. Through the CLI, with BOT_NOW."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, cli_env, write_config
from tests.servers import rss

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LOG = "## 2 January 2026\n* [Notes on attention](https://notes.example/attention)\n"
RECENT = [
    {"title": "Speculative decoding for faster LLM inference", "link": "https://a.example/spec",
     "pubDate": "Fri, 20 Nov 2026 10:00:00 GMT"},
    {"title": "LoRA adapters for fine-tuning large language models", "link": "https://a.example/lora",
     "pubDate": "Wed, 18 Nov 2026 10:00:00 GMT"},
    {"title": "Retrieval-augmented generation with long-context LLMs", "link": "https://a.example/rag"},  # undated
]
HISTORY = [  # a blog's back catalogue, as its feed serves it the first time it is polled
    {"title": "Quantization of large language models, revisited", "link": "https://a.example/quant",
     "pubDate": "Fri, 10 Apr 2026 10:00:00 GMT"},
    {"title": "Mixture of experts for LLM inference at scale", "link": "https://a.example/moe",
     "pubDate": "Mon, 01 Dec 2025 10:00:00 GMT"},
    {"title": "Prompt engineering for GPT-3, a field guide", "link": "https://a.example/gpt3",
     "pubDate": "Tue, 01 Mar 2022 10:00:00 GMT"},
]


def project(folder: Path, items: list[dict[str, str]], log: str = LOG, bot_extra: str = "") -> None:
    (folder / "library").mkdir()
    (folder / "library" / "log.md").write_text(log, encoding="utf-8")
    (folder / "feed.xml").write_bytes(rss(items))
    write_config(folder, f'[bot]\ndb = "bot.db"\nlog = "library/log.md"\n{bot_extra}'
                         f'topics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n'
                         '[library]\npaths = ["library"]\n[hn]\nlookup = false\n'
                         '[[feeds]]\nname = "blog"\nurl = "feed.xml"\n')


def bot(folder: Path, *args: str, now: datetime = NOW) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=folder, env=cli_env(now), capture_output=True,
                          text=True, timeout=120)


def digest_json(folder: Path, *args: str, now: datetime = NOW) -> dict[str, Any]:
    done = bot(folder, "digest", "--dry-run", "--json", *args, now=now)
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def test_a_feeds_back_catalogue_is_known_but_never_fills_the_weekly_digest(tmp_path: Path) -> None:
    project(tmp_path, [*RECENT, *HISTORY, {"title": "Our office move", "link": "https://a.example/office",
                                           "pubDate": "Mon, 01 Jun 2026 10:00:00 GMT"}])
    polled = bot(tmp_path, "poll", "--json")
    assert polled.returncode == 0, polled.stderr
    assert json.loads(polled.stdout)["sources"][0]["new"] == 6  # stored: all of it is known from now on
    status = bot(tmp_path, "status")
    assert "Pending: 3 relevant items waiting for a digest (3 older, outside the digest window" in status.stdout
    week = digest_json(tmp_path)
    assert {i["url"] for i in week["items"]} == {"https://a.example/spec", "https://a.example/lora",
                                                 "https://a.example/rag"}
    assert week["since"] == (NOW - timedelta(days=14)).isoformat()  # the default window, in the JSON
    assert week["stats"]["off_topic"] == 0  # the footer counts the window's off-topic items, not the history's
    # Asked for on purpose, the old posts are there.
    everything = digest_json(tmp_path, "--since", "2020-01-01")
    assert len(everything["items"]) == 6
    # The weekly digest goes out; the next poll finds every post known, old ones included, and a week
    # later the old posts are still not offered.
    sent = bot(tmp_path, "digest", "--no-slack")
    assert sent.returncode == 0, sent.stderr
    (tmp_path / "feed.xml").write_bytes(rss([*RECENT, *HISTORY, {"title": "A new post", "link": "https://a.example/new"}]))
    again = bot(tmp_path, "poll", "--json", now=NOW + timedelta(days=7))
    source = json.loads(again.stdout)["sources"][0]
    assert (source["new"] + source["off_topic"], source["known"]) == (1, 6)
    assert [i["url"] for i in digest_json(tmp_path, now=NOW + timedelta(days=7))["items"]] in (
        [], ["https://a.example/new"])
    log = (tmp_path / "library" / "log.md").read_text(encoding="utf-8")
    assert "a.example/spec" in log and "a.example/quant" not in log and "a.example/gpt3" not in log


def test_the_window_is_a_config_key_and_until_alone_keeps_its_length(tmp_path: Path) -> None:
    project(tmp_path, RECENT + HISTORY, bot_extra="digest_window_days = 400\n")
    assert bot(tmp_path, "poll").returncode == 0
    wide = digest_json(tmp_path)
    assert {i["url"] for i in wide["items"]} == {"https://a.example/spec", "https://a.example/lora",
                                                 "https://a.example/rag", "https://a.example/quant",
                                                 "https://a.example/moe"}
    # --until alone: the window's length before it (here the 400 days before 2025-12-31).
    until = digest_json(tmp_path, "--until", "2025-12-31")
    assert [i["url"] for i in until["items"]] == ["https://a.example/moe"]


def test_a_window_of_zero_days_is_refused_with_one_sentence(tmp_path: Path) -> None:
    project(tmp_path, RECENT, bot_extra="digest_window_days = 0\n")
    done = bot(tmp_path, "digest", "--dry-run")
    assert done.returncode == 2 and done.stdout == ""
    assert "[bot] digest_window_days must be at least 1" in done.stderr and "Traceback" not in done.stderr


# -- topics first ---------------------------------------------------------------------------------
FEDI_LOG = """## 2 January 2026
* [Mastodon and the Fediverse: how ActivityPub servers federate](https://fedi.example/activitypub)
* [Running your own Mastodon instance on the Fediverse](https://fedi.example/instance)
* [Fediverse moderation: blocklists, defederation and Mastodon](https://fedi.example/moderation)
* [ActivityPub and the Fediverse beyond Mastodon](https://fedi.example/beyond)
"""
ON_TOPIC = [{"title": title, "link": f"https://news.example/{n}", "pubDate": "Fri, 20 Nov 2026 10:00:00 GMT",
             "comments": f"https://news.ycombinator.com/item?id={46200000 + n}",
             "description": "Points: 150 # Comments: 20"}
            for n, title in enumerate(["Speculative decoding for faster LLM inference",
                                       "LoRA adapters for fine-tuning large language models",
                                       "Retrieval-augmented generation with long-context LLMs",
                                       "Quantization of large language models on consumer GPUs",
                                       "Mixture of experts for LLM inference at scale"])]
OFF_TOPIC = {"title": "A Gentle Introduction to the Fediverse and Mastodon", "link": "https://blog.example/fedi",
             "pubDate": "Fri, 20 Nov 2026 11:00:00 GMT",
             "description": "What the Fediverse is, how Mastodon instances federate over ActivityPub."}


def test_an_item_that_matches_no_topic_never_outranks_one_that_does(tmp_path: Path) -> None:
    project(tmp_path, [*ON_TOPIC, OFF_TOPIC], log=FEDI_LOG)
    assert bot(tmp_path, "poll").returncode == 0
    items = digest_json(tmp_path)["items"]
    by_url = {i["url"]: i for i in items}
    assert "https://blog.example/fedi" in by_url  # relevant on library overlap alone: it may be shown ...
    assert by_url["https://blog.example/fedi"]["topics"] == []
    assert items[-1]["url"] == "https://blog.example/fedi"  # ... but after every item that matches a topic
    assert all(i["topics"] for i in items[:-1]) and len(items) == 6
    scores = [i["score"] for i in items]
    assert scores == sorted(scores, reverse=True)  # the digest stays sorted by its score
