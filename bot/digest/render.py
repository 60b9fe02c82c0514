"""Rendering a digest (spec section 8): the markdown log section, Slack Block Kit messages, plain text
and JSON. Pure: data in, strings and dicts out.

Every piece of feed text is untrusted. Markdown: brackets, backticks, emphasis and HTML are escaped
and newlines folded, so a title cannot break the list or add a link. Slack: `& < >` are escaped, so
`<!channel>` or `<https://evil|click>` stays inert text, and `* _ ~` and backticks, which mrkdwn has no
escape for, become lookalikes, so a title cannot bold, strike or code-format what follows it. In both,
a bare domain (`evil.com/phish`, which Slack and many renderers link) is defanged to `evil[.]com/phish`.
Links are built only from stored http(s) URLs, never from titles or summaries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.core.normalize import plain_text
from bot.core.plural import plural
from bot.core.records import Discussed, Discussion, discussion_from_json, discussion_json
from bot.core.resources import shipped_templates
from bot.digest.nolinks import defang_domains

SLACK_MAX_BLOCKS = 50
SLACK_MAX_SECTION = 3000
SLACK_MAX_HEADER = 150
# What a message's blocks may hold in text, all blocks together. Slack documents 50 blocks and 3,000
# characters a section, but a message whose blocks' text adds up to about 12,000 characters or more is
# refused (msg_too_long / invalid_blocks) or cut; see slackapi/bolt-js issues 2509 and 2867. Kept well
# under that, the header and the footer included.
SLACK_MAX_MESSAGE_TEXT = 9000
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#!~])")
# Markdown renderers and Slack turn bare `https://...` and `www.` text into links: in feed text the
# scheme and `www.` are dropped, so the words stay and the link does not.
_AUTOLINK_RE = re.compile(r"(?:https?|ftp)://(?:www\.)?|www\.", re.IGNORECASE)  # also mid-word: `xhttps://`
# Slack mrkdwn formatting characters, which it cannot escape, and the lookalikes shown instead.
_SLACK_FORMATTING = str.maketrans({"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"})


@dataclass(frozen=True)
class DigestItem(Discussed):
    """One item of a digest, as the templates and the JSON output see it. The templates link its
    discussion as "<label> thread" (`[HN thread](url)`), whatever site it is on."""

    id: int
    title: str
    url: str | None
    discussion: Discussion | None
    arxiv_id: str | None
    sources: tuple[str, ...]
    topics: tuple[str, ...]
    score: float
    published: str | None
    summary: str | None
    points: int | None = None
    comments: int | None = None
    explain: dict[str, Any] = field(default_factory=dict)
    text_source: str | None = None  # where the summary's text came from: feed, abstract, article, none
    text_chars: int = 0  # how long that text was

    def as_json(self) -> dict[str, Any]:
        """The item in `bot digest --format json`: `hn_id` and `hn_url` as always, the discussion beside them."""
        return {"id": self.id, "title": self.title, "url": self.url, **discussion_json(self.discussion),
                "arxiv_id": self.arxiv_id, "sources": list(self.sources), "topics": list(self.topics),
                "score": self.score, "published": self.published, "summary": self.summary,
                "points": self.points, "comments": self.comments, "explain": self.explain,
                # where the summary's text came from; absent in an item read from JSON written before it
                **({"text_source": self.text_source, "text_chars": self.text_chars} if self.text_source else {})}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DigestItem:
        """The item that `as_json` gave, or that JSON written before the discussion was a record of its
        own gave (`hn_id` and `hn_url`, no `discussion`)."""
        return cls(id=int(data["id"]), title=str(data["title"]), url=data.get("url"),
                   discussion=discussion_from_json(data), arxiv_id=data.get("arxiv_id"),
                   sources=tuple(data.get("sources") or ()), topics=tuple(data.get("topics") or ()),
                   score=float(data.get("score") or 0.0), published=data.get("published"),
                   summary=data.get("summary"), points=data.get("points"), comments=data.get("comments"),
                   explain=dict(data.get("explain") or {}), text_source=data.get("text_source"),
                   text_chars=int(data.get("text_chars") or 0))


def safe_link(url: str | None) -> str | None:
    """Only http(s) links survive; characters that could end a markdown or Slack link are encoded."""
    if not url:
        return None
    url = url.strip()
    if not re.match(r"^https?://[^\s/]", url, re.IGNORECASE):
        return None
    return quote(url, safe="/:?&=#%+,;@!$~*'.-_")  # encodes ( ) < > | [ ] spaces and quotes


def md_text(text: str) -> str:
    """Title or summary text safe inside a markdown list item and inside `[...]`."""
    flat = defang_domains(_AUTOLINK_RE.sub("", plain_text(text, limit=2000)))
    return _MD_SPECIAL.sub(r"\\\1", flat)


def md_url(url: str) -> str:
    return safe_link(url) or ""


def slack_text(text: str, limit: int = SLACK_MAX_SECTION) -> str:
    """Slack mrkdwn-safe text: & < > escaped (so no link, mention or command can form), bare domains
    defanged, formatting characters replaced by lookalikes, capped."""
    flat = defang_domains(_AUTOLINK_RE.sub("", plain_text(text, limit=limit)))
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return flat.translate(_SLACK_FORMATTING)


def slack_url(url: str) -> str:
    link = safe_link(url) or ""
    return link.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")


def heading_date(day: date) -> str:
    """The log's own heading style: `23 November 2026`."""
    return f"{day.day:02d} {day.strftime('%B')} {day.year}"


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(shipped_templates())), undefined=StrictUndefined, autoescape=False,
                      keep_trailing_newline=True)
    env.filters.update(md_text=md_text, md_url=md_url, slack_text=slack_text, slack_url=slack_url,
                       plain=lambda t: plain_text(t or "", 2000), plural=plural)
    return env


_ENV: Environment | None = None


def env() -> Environment:
    global _ENV
    if _ENV is None:
        _ENV = _environment()
    return _ENV


def render_log_section(day: date, items: Sequence[DigestItem]) -> str:
    return env().get_template("log_section.md.j2").render(heading=heading_date(day), items=items)


def render_text(day: date, items: Sequence[DigestItem], footer: str, since: str | None = None,
                until: str | None = None) -> str:
    return env().get_template("digest.txt.j2").render(heading=heading_date(day), items=items, footer=footer,
                                                      since=since, until=until)


def slack_section_text(item: DigestItem, group: str | None = None) -> str:
    """One item's section text, within Slack's 3,000 characters whatever the title and summary. The
    topics line leaves out the group the item is shown under."""
    if group is not None:
        item = replace(item, topics=tuple(t for t in item.topics if t != group))
    template = env().get_template("slack_item.mrkdwn.j2")
    for title_limit, summary_limit in ((300, 1500), (200, 600), (120, 200)):
        text = template.render(item=item, title_limit=title_limit, summary_limit=summary_limit).strip()
        if len(text) <= SLACK_MAX_SECTION:
            return text
    return text[:SLACK_MAX_SECTION]


def group_by_topic(items: Sequence[DigestItem]) -> list[tuple[str, list[DigestItem]]]:
    """Items under their main topic; groups in the order of their best item, items by score within."""
    groups: dict[str, list[DigestItem]] = {}
    for item in items:
        groups.setdefault(item.topics[0] if item.topics else "Other", []).append(item)
    return list(groups.items())


def render_slack(day: date, items: Sequence[DigestItem], footer: str) -> list[dict[str, Any]]:
    """Slack messages (each `{"text", "blocks"}`), grouped by topic, at most 50 blocks each; the first
    has the header, the last the footer. Longer digests continue in further messages (or the thread)."""
    title = f"AI reading digest, {heading_date(day)}"[:SLACK_MAX_HEADER]
    # Lay every block out first, then cut into messages; a topic label is repeated when its group
    # continues in the next message.
    pages: list[list[dict[str, Any]]] = [[]]
    page_items: list[list[DigestItem]] = [[]]
    budget = SLACK_MAX_BLOCKS - 3  # room for the header or continuation line, and the footer pair
    # Characters too: what the header (or continuation line) and the footer take of every message.
    text_budget = SLACK_MAX_MESSAGE_TEXT - len(slack_text(footer, 2900)) - SLACK_MAX_HEADER
    used = 0
    for topic, members in group_by_topic(items):
        name = topic[:1].upper() + topic[1:]
        label_text = f"*{slack_text(name, 140)}*"
        label = {"type": "context", "elements": [{"type": "mrkdwn", "text": label_text}]}
        labelled = False
        for item in members:
            section = slack_section_text(item, topic)
            need = 1 if labelled else 2
            size = len(section) + (0 if labelled else len(label_text))
            if pages[-1] and (len(pages[-1]) + need > budget or used + size > text_budget):
                pages.append([])
                page_items.append([])
                labelled, used = False, 0
                size = len(section) + len(label_text)
            if not labelled:
                pages[-1].append(label)
                labelled = True
            pages[-1].append({"type": "section", "text": {"type": "mrkdwn", "text": section}})
            page_items[-1].append(item)
            used += size
    messages = []
    for n, (body, chunk) in enumerate(zip(pages, page_items, strict=True)):
        blocks: list[dict[str, Any]] = []
        if n == 0:
            blocks.append({"type": "header", "text": {"type": "plain_text", "text": title, "emoji": False}})
        else:
            blocks.append({"type": "context", "elements": [
                {"type": "mrkdwn", "text": f"(continued, part {n + 1} of {len(pages)})"}]})
        blocks.extend(body)
        if n == len(pages) - 1:
            blocks.append({"type": "divider"})
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": slack_text(footer, 2900)}]})
        fallback_lines = [title if n == 0 else f"{title} (part {n + 1})"]
        fallback_lines += [f"- {plain_text(i.title, 200)}" for i in chunk]
        messages.append({"text": slack_text("\n".join(fallback_lines), 3900), "blocks": blocks})
    return messages


def footer_text(stats: dict[str, Any]) -> str:
    candidates = stats.get("candidates", 0)
    parts = [f"{stats.get('shown', 0)} of {plural(candidates, 'new relevant item')}"]
    if stats.get("off_topic"):
        parts.append(f"{stats['off_topic']} off-topic skipped")
    failed = stats.get("failed_sources") or []
    if failed:
        parts.append("failed sources: " + ", ".join(failed))
    return "; ".join(parts) + "."
