"""LLM trouble is visible: a digest whose summaries fell back says so on stderr and in `bot status`, with
the reason and never the key; a new key or endpoint is tried at once, whatever failure is cached; an item
with no text is never sent to the model. Through the CLI, against an OpenAI-compatible server on
127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, cli_env, write_config
from tests.servers import OpenAIServer, rss
from tests.test_digest_window import NOW

ITEMS = [{"title": "Speculative decoding for faster LLM inference", "link": "https://a.example/spec",
          "pubDate": "Fri, 20 Nov 2026 10:00:00 GMT",
          "description": "We make decoding 3x faster by drafting tokens with a small model. More inside."},
         {"title": "LoRA adapters for fine-tuning large language models", "link": "https://a.example/lora",
          "pubDate": "Fri, 20 Nov 2026 11:00:00 GMT",
          "description": "Low-rank adapters fine-tune a 7B model on one GPU. Code is released."}]
NO_TEXT = {"title": "Retrieval-augmented generation with long-context LLMs", "link": "https://a.example/rag",
           "pubDate": "Sat, 21 Nov 2026 10:00:00 GMT"}
KEY = "sk-wrong-SECRETSECRETSECRET"


def project(folder: Path, items: list[dict[str, str]]) -> None:
    (folder / "library").mkdir()
    (folder / "library" / "log.md").write_text("## 2 January 2026\n* [Notes](https://notes.example/a)\n")
    (folder / "feed.xml").write_bytes(rss(items))
    write_config(folder, f'[bot]\ndb = "bot.db"\nlog = "library/log.md"\n'
                         f'topics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n'
                         '[library]\npaths = ["library"]\n[hn]\nlookup = false\n'
                         '[llm]\nenabled = true\nrequest_seconds = 5\n'
                         '[[feeds]]\nname = "blog"\nurl = "feed.xml"\n')


def bot(folder: Path, llm: OpenAIServer, *args: str, key: str = KEY,
        base_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = cli_env(NOW, OPENAI_API_KEY=key, OPENAI_BASE_URL=base_url or llm.base_url)
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=120)


def test_a_401_is_a_warning_and_a_line_in_status_with_the_key_masked(tmp_path: Path) -> None:
    project(tmp_path, ITEMS)
    with OpenAIServer() as llm:
        assert bot(tmp_path, llm, "poll").returncode == 0
        llm.script = ["401", "401"]  # the server quotes the key it was sent back, as OpenAI's does
        digest = bot(tmp_path, llm, "digest", "--no-slack")
        status = bot(tmp_path, llm, "status")
        status_json = bot(tmp_path, llm, "status", "--json")
    assert digest.returncode == 0, digest.stderr  # still delivered, with the first sentences
    assert "Warning: LLM summaries: 2 fell back to the first sentence: 401 Unauthorized." in digest.stderr
    assert "summaries: 2 fell back: 401 Unauthorized" in status.stdout
    stats = json.loads(status_json.stdout)["digests"][0]["stats"]["summaries"]
    assert stats == {"written": 0, "fell_back": 2, "reasons": {"401 Unauthorized": 2}}
    for text in (digest.stdout, digest.stderr, status.stdout, status_json.stdout,
                 (tmp_path / "bot.db").read_bytes().decode("utf-8", "replace")):
        assert "SECRETSECRET" not in text
    assert "We make decoding 3x faster" in (tmp_path / "library" / "log.md").read_text()


def test_a_new_key_or_endpoint_is_tried_at_once_despite_a_cached_failure(tmp_path: Path) -> None:
    project(tmp_path, ITEMS)
    with OpenAIServer() as llm, OpenAIServer() as other:
        assert bot(tmp_path, llm, "poll").returncode == 0
        llm.script = ["401", "401"]
        failed = bot(tmp_path, llm, "digest", "--dry-run")
        assert "401 Unauthorized" in failed.stderr and len(llm.requests) == 2
        same = bot(tmp_path, llm, "digest", "--dry-run")  # the same key, minutes later: not asked again
        assert len(llm.requests) == 2 and "401 Unauthorized" in same.stderr
        other.script = ["401", "401"]
        moved = bot(tmp_path, llm, "digest", "--dry-run", base_url=other.base_url)  # the same key, elsewhere
        assert len(other.requests) == 2 and "401 Unauthorized" in moved.stderr
        fixed = bot(tmp_path, llm, "digest", "--dry-run", key="sk-the-right-one")
        assert len(llm.requests) == 4 and llm.requests[-1]["auth"] == "Bearer sk-the-right-one"
        assert "Warning" not in fixed.stderr and "A concise look at" in fixed.stdout
        llm.script = ["401", "401"]
        elsewhere = bot(tmp_path, llm, "digest", "--dry-run", key="sk-other")  # cached ok answers are kept
        assert len(llm.requests) == 4 and elsewhere.returncode == 0


def test_an_item_with_no_text_is_never_sent_to_the_model(tmp_path: Path) -> None:
    project(tmp_path, [*ITEMS, NO_TEXT])
    with OpenAIServer() as llm:
        assert bot(tmp_path, llm, "poll").returncode == 0
        done = bot(tmp_path, llm, "digest", "--dry-run", "--json")
    assert done.returncode == 0, done.stderr
    asked = [r["body"]["messages"][-1]["content"] for r in llm.requests]
    assert len(asked) == 2 and not any("Retrieval-augmented" in a or "(no text)" in a for a in asked)
    items = {i["url"]: i for i in json.loads(done.stdout)["items"]}
    assert items["https://a.example/rag"]["summary"] is None  # nothing to summarize: no summary at all
    assert items["https://a.example/spec"]["summary"].startswith("A concise look at")
