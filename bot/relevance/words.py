"""The words of a text, as every relevance model counts them. Pure: only processes data.

One tokenizer for the library and for the stream, so that the TF-IDF and the taste model agree on what
a word is: lower case, stop words and numbers dropped, plurals folded (the digest's repeat check uses
the STOPWORDS too). A link adds what its address says: its site (`site:host`) for similarity, the
words of its path for taste.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote, urlsplit

_WORD_RE = re.compile(r"[a-z0-9][a-z0-9+#\-.]*[a-z0-9+#]|[a-z0-9]")
STOPWORDS = frozenset(
    """a an the and or of to in on for with by from at as is are was were be been being it its this that these
    those how why what when where who which we you your our their his her my i me us not no yes can could should
    would will just about into over under than then there here more most very also via vs new using use used
    show ask hn tell part one two three via up out all any some do does did has have had get got make made
    via de la le el en but etc good great really like well much many first last next year years today way
    thing things article post page link links thread comment comments here see also read found""".split()
)


def _word(w: str) -> str:
    """One word found by _WORD_RE as tokens counts it, or "" for one it leaves out."""
    w = w.strip(".-")
    if len(w) < 2 or w in STOPWORDS or w.isdigit():
        return ""
    if len(w) > 4 and w.endswith("s") and not w.endswith("ss"):
        w = w[:-1]  # plural folding: "models" ~ "model", "llms" stays distinct from "llm" below
    return w


class _Words(dict[str, str]):
    """Each word's _word, worked out once: a poll tokenizes thousands of abstracts that share most of
    their words, and a lookup costs a fifth of working a word out again."""

    def __missing__(self, w: str) -> str:
        folded = self[w] = _word(w)
        return folded


_WORDS = _Words()
_WORDS_KEPT = 200_000  # words remembered at most (about 20 MB): a stream of made-up words cannot grow it


def tokens(text: str) -> list[str]:
    # Compatibility forms folded: full-width letters are the same words (as for topics).
    words = _WORD_RE.findall((text if text.isascii() else unicodedata.normalize("NFKC", text)).lower())
    if len(_WORDS) > _WORDS_KEPT:
        _WORDS.clear()
    return [w for w in map(_WORDS.__getitem__, words) if w]


_EVERYTHING_HOSTS = ("news.ycombinator.com", "github.com", "arxiv.org", "youtube.com", "twitter.com", "x.com",
                     "medium.com", "substack.com")
# The links of those hosts as sources spell them, known without splitting the link (a week's 5,000
# papers link arxiv.org): urlsplit would find the host between the "//" and the first "/".
_EVERYTHING_PREFIXES = tuple(f"{scheme}://{www}{host}/" for scheme in ("https", "http") for www in ("", "www.")
                             for host in _EVERYTHING_HOSTS)


def site_token(url: str | None) -> str | None:
    if not url or url.startswith(_EVERYTHING_PREFIXES):
        return None
    host = (urlsplit(url).hostname or "").lower()
    host = host[4:] if host.startswith("www.") else host
    if not host or host in _EVERYTHING_HOSTS:
        return None  # hosts of everything say nothing about taste
    return "site:" + host


_ID_HOSTS = ("news.ycombinator.com", "youtu.be", "youtube.com", "twitter.com", "x.com")
_PATH_SPLIT_RE = re.compile(r"[/\-_.+~=&?#%]+")
_NOT_WORD_RE = re.compile(r"\d+|[0-9a-f]{8,}|html?|php|aspx?|pdf|abs|index|posts?|blog|p|www|en|wiki|item")


def url_words(url: str) -> str:
    """The words of a link's path ("/2023/02/what-is-chatgpt-doing/" -> "what is chatgpt doing"). A log
    line's link text is often a name or "HN thread"; the address usually carries the work's title."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if any(host == h or host.endswith("." + h) for h in _ID_HOSTS):
        return ""  # paths there are ids
    words = (w for w in _PATH_SPLIT_RE.split(unquote(parts.path)) if w)
    return " ".join(w for w in words if not _NOT_WORD_RE.fullmatch(w.lower()))


def strip_urls(text: str) -> str:
    return re.sub(r"\(?https?://\S+", " ", text)
