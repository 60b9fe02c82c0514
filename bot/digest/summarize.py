"""Summary text rules shared by every kind of summary (spec section 10). Pure.

A summary is plain text: no links, no mentions, no markup. Bare URLs, domain-like tokens (`bit.ly/x`,
`evil.com`, which Slack would link) and `<!channel>`-style mentions are removed, not just escaped; the
only links in a digest are the ones the bot builds from stored URLs. A SummaryReport is what a
digest's summaries came to, so a fallback is never silent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.core.normalize import plain_text
from bot.digest.nolinks import strip_domains

MAX_SUMMARY = 400
_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)  # bare domains: strip_domains
_MENTION_RE = re.compile(r"<\s*[!@#][^>]*>|(?<!\w)[@][\w.-]+|<!?\w+>|\B!(?:channel|here|everyone)\b", re.IGNORECASE)
_MARKUP_RE = re.compile(r"[`*_~|]|\[|\]|\(\s*\)|^#+\s*|&(?:lt|gt|amp);", re.MULTILINE)
_SENTENCE_RE = re.compile(r"(.+?[.!?])(?:\s|$)")


def sanitize_summary(text: str, limit: int = MAX_SUMMARY) -> str:
    """Plain text with links, mentions and markup removed, whitespace folded, length capped at a word."""
    flat = plain_text(text or "", limit=4000)
    flat = _MENTION_RE.sub(" ", flat)
    flat = _URL_RE.sub(" ", flat)
    flat = strip_domains(flat)
    flat = _MARKUP_RE.sub(" ", flat)
    flat = flat.replace("<", " ").replace(">", " ")
    flat = " ".join(flat.split())
    if len(flat) > limit:
        cut = flat[:limit].rsplit(" ", 1)[0]
        flat = cut.rstrip(",;:") + "…"
    return flat


# A sentence that is a page's furniture, not its content: a cookie or consent banner, a byline, a
# sign-up box, a footer. An article read from its page may still open with one of these.
_BOILERPLATE_RE = re.compile(
    r"\bcookies?\b|\bconsent\b|privacy (?:policy|settings)|terms of (?:use|service)|all rights reserved|"
    r"\bcopyright\b|©|\bsubscribe\b|\bnewsletter\b|\bsign (?:in|up)\b|\blog in\b|skip to (?:main )?content|"
    r"\bmin(?:ute)? read\b|^(?:posted|published|updated|written) (?:on|by)\b|share (?:this|on)\b|"
    r"enable javascript|\badvertisement\b|\bby (?:continuing|using this site)\b",
    re.IGNORECASE)


def _sentences(paragraph: str) -> list[str]:
    clean = sanitize_summary(paragraph, limit=2000)
    return [m.group(1) for m in _SENTENCE_RE.finditer(clean)] or ([clean] if clean else [])


def extractive_summary(text: str | None) -> str | None:
    """The first substantive sentence of the text we have (an abstract, a feed's summary, an article
    read from its page), cleaned: at least 20 characters, and not a cookie banner, byline or sign-up
    line; a heading (a paragraph with no sentence in it) is passed over while a sentence follows.
    None when there is none."""
    paragraphs = [p for p in (text or "").splitlines() if p.strip()]
    candidates = [s for p in paragraphs for s in _sentences(p)]
    for sentence in candidates:
        if len(sentence) >= 20 and sentence[-1] in ".!?" and not _BOILERPLATE_RE.search(sentence):
            return sanitize_summary(sentence, limit=300) or None
    for sentence in candidates:  # no full sentence: the first long enough piece that is not furniture
        if len(sentence) >= 20 and not _BOILERPLATE_RE.search(sentence):
            return sanitize_summary(sentence, limit=300) or None
    return None


@dataclass(frozen=True)
class SummaryReport:
    """What one digest's summaries came to: how many the model wrote, how many fell back to the
    extractive summary (a failure or a rejected answer, this run or cached), and why, by reason."""

    written: int = 0
    fell_back: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {"written": self.written, "fell_back": self.fell_back, "reasons": dict(self.reasons)}

    def trouble(self) -> str | None:
        """One line for a person when any fell back ("12 fell back to the first sentence: 401
        Unauthorized"), else None."""
        if not self.fell_back:
            return None
        why = "; ".join(f"{reason}" + (f" ({n})" if len(self.reasons) > 1 else "")
                        for reason, n in sorted(self.reasons.items(), key=lambda kv: -kv[1]))
        return f"{self.fell_back} fell back to the first sentence: {why}"
