"""Rendering on its own: Slack limits with many groups, escaping, the log section's shape."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.digest.render import DigestItem, md_text, render_log_section, render_slack, slack_text
from bot.library.parser import parse_document


def item(n: int, topic: str, title: str | None = None, summary: str | None = "A summary.") -> DigestItem:
    return DigestItem(id=n, title=title or f"Item {n}", url=f"https://x.example/{n}", discussion=None,
                      arxiv_id=None, sources=("s",), topics=(topic,), score=1.0 - n / 1000, published=None,
                      summary=summary)


def test_many_items_in_many_groups_stay_within_slack_limits() -> None:
    items = [item(n, f"topic {n % 13}", summary="word " * 1000) for n in range(120)]
    messages = render_slack(date(2026, 11, 23), items, "footer")
    assert len(messages) >= 3
    seen = []
    for n, message in enumerate(messages):
        blocks = message["blocks"]
        assert len(blocks) <= 50
        assert (blocks[0]["type"] == "header") == (n == 0)
        assert blocks[1]["type"] == "context"  # every message starts its first group with the topic label
        for block in blocks:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= 3000
                seen.append(block["text"]["text"].split("|", 1)[1].split(">", 1)[0])
        assert len(message["text"]) <= 4000
    assert sorted(seen) == sorted(f"Item {n}" for n in range(120))
    assert messages[-1]["blocks"][-1]["elements"][0]["text"] == "footer"


@settings(max_examples=200)
@given(st.text(min_size=1, max_size=300))
def test_no_title_can_make_a_link_or_mention(title: str) -> None:
    text = slack_text(title)
    assert "<" not in text and ">" not in text
    section = render_log_section(date(2026, 11, 23), [item(1, "t", title=title, summary=title)])
    entries = parse_document(section, "log.md")
    assert {u for e in entries for u in e.urls} <= {"https://x.example/1"}


def test_markdown_escapes_keep_the_words() -> None:
    assert md_text("[x](javascript:alert(1)) *b* `c`") == r"\[x\](javascript:alert(1)) \*b\* \`c\`"
