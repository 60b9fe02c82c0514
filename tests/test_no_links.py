"""Nothing in an item's text can become a link or formatting, in Slack or in the log: bare domains
in titles are defanged, in summaries (the model's or the extractive one) removed; Slack's `* _ ~` and
backticks in titles are shown as lookalikes. Through `bot digest`, with Slack and the model on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.digest.llm import validate
from bot.digest.render import DigestItem, md_text, render_log_section, render_slack, slack_text
from bot.digest.summarize import extractive_summary
from bot.library.parser import parse_document
from tests.conftest import ROOT
from tests.servers import OpenAIServer, SlackReceiver
from tests.test_digest import LOG, polled_store, setup_project

ITEMS = [
    {"title": "LLM fine-tuning guide at https://evil.com/phish", "link": "https://a.example/one",
     "description": "Read more at bit.ly/3xYzAbc about fine-tuning large language models on one GPU."},
    {"title": "*Bold* claims about _LLM_ ~inference~ with `code` spans", "link": "https://b.example/two",
     "description": "We benchmark LLM inference on consumer hardware and report latency."},
    {"title": "Language model evaluation notes from evil.com/login and 10.0.0.1", "link": "https://c.example/three",
     "description": "Evaluation of language models on twelve benchmarks, see evil.com/login today."},
]
OUR_LINKS = {"https://a.example/one", "https://b.example/two", "https://c.example/three"}
DOMAINS = ("evil.com", "bit.ly", "10.0.0.1")


def test_digest_text_has_no_link_but_ours_in_slack_and_the_log(tmp_path: Path) -> None:
    config = setup_project(tmp_path, ITEMS)
    polled_store(config).close()
    with (tmp_path / "bot.toml").open("a") as f:
        f.write("[llm]\nenabled = true\n")
    with OpenAIServer() as llm, SlackReceiver() as slack:
        llm.script = ["Details at bit.ly/3xYzAbc or evil.com/login for the full results."] * 3
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_BASE_URL": llm.base_url,
               "SLACK_WEBHOOK_URL": slack.webhook_url}
        for name in ("BOT_CONFIG", "SLACK_BOT_TOKEN", "OPENAI_API_KEY"):
            env.pop(name, None)
        done = subprocess.run([sys.executable, "-m", "bot", "digest"], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert len(llm.requests) == 3
    payload = slack.accepted[0]["payload"]
    texts = [payload["text"]]
    for block in payload["blocks"]:
        texts += [block["text"]["text"]] if "text" in block else [e["text"] for e in block.get("elements", [])]
    joined = "\n".join(texts)
    assert set(re.findall(r"<([^>|]+)\|", joined)) == OUR_LINKS
    outside_links = re.sub(r"<https?://[^|>]+\|", "<", joined)
    for domain in DOMAINS:
        assert domain not in outside_links
    assert "evil[.]com/phish" in joined  # the title's words stay, the link does not
    sections = [t for t in texts if "b.example/two" in t]
    assert len(sections) == 1
    # The title's own * _ ~ ` are lookalikes: the only formatting is the bot's bold title and italic topics.
    title_line, *rest = sections[0].splitlines()
    assert title_line.startswith("*<") and title_line.endswith(">*") and title_line.count("*") == 2
    assert "_" not in title_line and "~" not in sections[0] and "`" not in sections[0]
    assert "∗Bold∗" in title_line
    log = (tmp_path / "library" / "log.md").read_text(encoding="utf-8")[len(LOG):]
    assert {u for e in parse_document(log, "log.md") for u in e.urls} == OUR_LINKS
    for domain in DOMAINS:
        assert domain not in log
    assert "bit\\[.\\]ly" not in log and "bit.ly" not in log  # summaries lose the token altogether
    assert r"\*Bold\* claims about \_LLM\_ \~inference\~ with \`code\` spans" in log


def test_a_bare_domain_fails_validation_and_leaves_summaries() -> None:
    for answer in ("Details at bit.ly/3xYzAbc or evil.com/login.", "Read the code on lib.rs today.",
                   "Mail the authors at team@evil.co for data."):
        assert validate(answer, "stop", None)[0] is None, answer
    assert validate("Node.js bindings make it faster, e.g. on laptops.", "stop", None)[0] is not None
    summary = extractive_summary("Our method, hosted at evil.com/x and bit.ly/abc, beats the baseline by far.")
    assert summary == "Our method, hosted at and , beats the baseline by far."
    assert extractive_summary("See the results at evil.com/results. They hold up.") == "See the results at ."


def _item(title: str, summary: str | None, topics: tuple[str, ...] = ("t",)) -> DigestItem:
    return DigestItem(id=1, title=title, url=None, discussion=None, arxiv_id=None, sources=("s",),
                      topics=topics, score=1.0, published=None, summary=summary)


WORDS = st.sampled_from(["evil.com", "bit.ly/3x", "a.b.co", "https://evil.com", "www.evil.com", "10.0.0.1", "x",
                         "Node.js", "evil.com/a.", "word", ""])
MARKS = st.sampled_from([" ", "*", "_", "~", "`", ".", "/", "<", ">", "[", "]", "(", ")", "@", ",", "\n", "|", ":"])


@settings(max_examples=300)
@given(st.lists(st.tuples(WORDS, MARKS), min_size=1, max_size=15).map(lambda p: "".join(w + m for w, m in p)))
def test_no_title_topic_or_summary_can_link_or_format(text: str) -> None:
    item = _item(text, text, (text, "other"))
    messages = render_slack(date(2026, 11, 23), [item], "footer")
    body = json.dumps(messages, ensure_ascii=False)
    for bad in ("evil.com", "bit.ly", "a.b.co", "10.0.0.1", "https://", "www."):
        assert bad not in body
    for block in messages[0]["blocks"]:
        if block["type"] == "section":
            title, *rest = block["text"]["text"].splitlines()
            assert title.count("*") == 2 and not re.search(r"[_~`]", title)
    log = render_log_section(date(2026, 11, 23), [item])
    assert not any(e.urls for e in parse_document(log, "log.md"))
    assert not any(bad in log for bad in ("evil.com", "bit.ly", "a.b.co", "10.0.0.1"))


def test_the_words_stay_readable() -> None:
    assert slack_text("Visit evil.com/phish *now*") == "Visit evil[.]com/phish ∗now∗"
    assert md_text("Visit evil.com/phish") == r"Visit evil\[.\]com/phish"
    assert slack_text("Node.js 22, e.g. faster") == "Node.js 22, e.g. faster"
