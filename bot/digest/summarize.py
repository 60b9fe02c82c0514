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


def extractive_summary(text: str | None) -> str | None:
    """The first sentence of the abstract or feed summary, cleaned; None when there is none."""
    clean = sanitize_summary(text or "", limit=2000)
    if len(clean) < 20:
        return None
    m = _SENTENCE_RE.match(clean)
    sentence = m.group(1) if m and len(m.group(1)) >= 20 else clean
    return sanitize_summary(sentence, limit=300) or None


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
