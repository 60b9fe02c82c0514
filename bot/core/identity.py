"""Identity rules (spec section 5): how one thing is recognised however its link or title is spelled.

Pure module: standard library plus rapidfuzz's edit distances, no I/O and no SDK.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit


@dataclass(frozen=True, order=True, slots=True)
class Identity:
    """One way of naming a thing: kind is arxiv | hn | doi | url | title. Slots: a poll holds four or
    five per item, 100,000 items' worth on a big poll, and a __dict__ each doubled their size."""

    kind: str
    value: str


# Query parameters that only say where a click came from. Removed before comparing links and
# from every link the bot shows.
_TRACKING_EXACT = {
    "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "twclid", "igshid", "mc_cid", "mc_eid",
    "ref", "ref_src", "ref_url", "referrer", "_hsenc", "_hsmi", "mkt_tok", "si", "feature",
    "trk", "trkinfo", "spm", "share", "sharetype", "cmpid", "ncid", "sr_share", "oly_enc_id",
    "oly_anon_id", "vero_id", "wt.mc_id", "__s", "s_cid", "rss", "source", "via",
}
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "ga_")
# Trailing characters that prose puts after a link but a link practically never ends with.
_TRAILING_JUNK = ".,;:!?'\"*`>»”’"
_WRAPPERS = {")": "(", "]": "["}

_ARXIV_NEW = r"\d{4}\.\d{4,5}"
_ARXIV_OLD = r"[a-z][a-z\-]+(?:\.[A-Z]{2})?/\d{7}"
_ARXIV_ID = rf"(?:{_ARXIV_NEW}|{_ARXIV_OLD})"
_ARXIV_PATH_RE = re.compile(
    rf"^/(?:abs|pdf|html|format|ps|papers)/(?P<id>{_ARXIV_ID})(?:v\d+)?(?:\.pdf)?/?$", re.IGNORECASE
)
_ARXIV_MENTION_RE = re.compile(rf"\barxiv[:\s.]\s*(?P<id>{_ARXIV_ID})(?:v\d+)?", re.IGNORECASE)
_ARXIV_BARE_RE = re.compile(rf"^(?P<id>{_ARXIV_NEW})(?:v\d+)?$")
_DOI_RE = re.compile(r"\b(10\.\d{4,9}/[^\s\"'<>]+)", re.IGNORECASE)
_ARXIV_DOI_RE = re.compile(rf"^10\.48550/arxiv\.(?P<id>{_ARXIV_ID})(?:v\d+)?$", re.IGNORECASE)
_ARXIV_HOSTS = {"arxiv.org", "export.arxiv.org", "browse.arxiv.org", "alphaxiv.org", "huggingface.co"}
_HN_HOSTS = {"news.ycombinator.com", "hn.algolia.com"}
_SCHEMELESS_RE = re.compile(r"^(?:www\.)?[a-z0-9][a-z0-9\-]*(?:\.[a-z0-9\-]+)*\.[a-z]{2,}(?:[/?#:]|$)", re.I)


def strip_trailing_junk(url: str) -> str:
    """Remove punctuation that surrounding prose glued to a link (`url).`, `'url'`)."""
    url = url.strip().lstrip("<'\"“‘(")
    # Prose and markdown around a link: `url'](url)`, `url)--and more`. Cut at the first closing
    # bracket that the link itself did not open.
    depth = {")": 0, "]": 0}
    for i, ch in enumerate(url if (")" in url or "]" in url) else ""):
        if ch in "([":
            depth[")" if ch == "(" else "]"] += 1
        elif ch in ")]":
            if depth[ch] == 0:
                url = url[:i]
                break
            depth[ch] -= 1
    while url:
        last = url[-1]
        if last in _TRAILING_JUNK or last.isspace():  # prose's space before the junk too: `url :`
            url = url[:-1]
        elif last in _WRAPPERS and url.count(last) > url.count(_WRAPPERS[last]):
            url = url[:-1]
        else:
            break
    return url


def with_scheme(url: str) -> str | None:
    """The link as an absolute http(s) URL, or None when it is not one (site-relative, mailto, ...)."""
    url = strip_trailing_junk(url)
    if not url:
        return None
    low = url.lower()
    if low.startswith(("http://", "https://")):
        return url
    if low.startswith("//"):
        return "https:" + url
    if "://" not in low and not low.startswith(("/", "#", "mailto:", "javascript:", "data:", "./", "../")):
        if _SCHEMELESS_RE.match(url):
            return "http://" + url
    return None


def _is_tracking(key: str) -> bool:
    k = key.lower()
    return k in _TRACKING_EXACT or k.startswith(_TRACKING_PREFIXES)


@lru_cache(maxsize=4096)
def _web_link(url: str) -> SplitResult | None:
    """The parts of `url` as an absolute http(s) link (see with_scheme and parse_link), or None.
    Remembered: an item's identities ask for the same link's parts six times (canonical URL, arXiv,
    HN, DOI, ...), and the parts are an immutable tuple."""
    absolute = with_scheme(url)
    return parse_link(absolute) if absolute else None


@lru_cache(maxsize=4096)
def parse_link(url: str) -> SplitResult | None:
    """The parts of an absolute link with a host, or None when it cannot be one: `http://[oops/x`
    (urlsplit raises), `http://[your-host]/`, a port that is not a number, no host, or characters
    that cannot be written as UTF-8. Every link that comes in from outside passes through here
    before anything splits it. Remembered: making an item asks for its link's parts four times
    (cleaning it, checking it, its identities), and the parts are an immutable tuple."""
    try:
        url.encode("utf-8")
        parts = urlsplit(url)
        _ = parts.port  # raises for `:abc` or `:99999`
    except ValueError:  # UnicodeError is one
        return None
    if not parts.scheme or not parts.hostname:
        return None
    return parts


def clean_url(url: str) -> str:
    """The original link minus tracking parameters: what a digest shows. Never raises: a link it
    cannot parse comes back as given (callers that need a real link check `parse_link`)."""
    absolute = with_scheme(url) or url.strip()
    parts = parse_link(absolute)
    if parts is None or not parts.query:
        return absolute
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept, doseq=True), parts.fragment))


@lru_cache(maxsize=1024)
def _host(parts_netloc: str) -> str:
    """The host as identities compare it. Remembered: a feed's links share a few hosts, and an item's
    identities ask four times."""
    host = parts_netloc.rsplit("@", 1)[-1].lower()
    if host.endswith(":80") or host.endswith(":443"):
        host = host.rsplit(":", 1)[0]
    host = host.rstrip(".")
    for prefix in ("www.", "m."):
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix):]
    return host


def canonical_url(url: str) -> str | None:
    """Scheme, `www.`, fragment, tracking parameters, parameter order, trailing slash and index.html
    do not make a link different. Returns None for anything that is not an http(s) link."""
    parts = _web_link(url)
    if parts is None:
        return None
    host = _host(parts.netloc)
    if not host:
        return None
    # Percent-encoding is folded so `%7E` and `~` are one link; re-quote with a fixed safe set.
    path = quote(unquote(parts.path), safe="/:@!$&'()*+,;=-._~")
    path = path.rstrip("/")
    for index in ("/index.html", "/index.htm", "/index.php"):
        if path.lower().endswith(index):
            path = path[: -len(index)]
    path = path.rstrip("/")
    query = sorted(
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    )
    if host == "youtu.be" and path:
        query = sorted([*query, ("v", path.lstrip("/"))])
        host, path = "youtube.com", "/watch"
    canon = host + path
    if query:
        canon += "?" + urlencode(query)
    return canon


# An arXiv abstract link in the one spelling the arXiv source makes and arXiv's API answers with
# (`http://arxiv.org/abs/2611.00001v1`, `https://arxiv.org/abs/2611.00001`): a poll reads 5,000 of them a
# week, and for exactly this spelling the general rules below are known to give the id, and for the
# https form without a version the identities, that the fast path gives (tests/test_exact_rewrites.py).
# ASCII digits only: the general rules take any Unicode digit, and percent-encode it in the URL identity.
PLAIN_ARXIV_ABS_RE = re.compile(r"https?://arxiv\.org/abs/(?P<id>[0-9]{4}\.[0-9]{4,5})(?P<version>v[0-9]+)?")


def arxiv_id_from_url(url: str) -> str | None:
    plain = PLAIN_ARXIV_ABS_RE.fullmatch(url)
    if plain:
        return plain.group("id")
    parts = _web_link(url)
    if parts is None:
        return None
    host = _host(parts.netloc)
    if host in _HN_HOSTS:
        return None
    if host in _ARXIV_HOSTS:
        match = _ARXIV_PATH_RE.match(parts.path)
        if match:
            return match.group("id").lower() if "/" not in match.group("id") else _old_id(match.group("id"))
    if host in ("doi.org", "dx.doi.org"):
        doi = unquote(parts.path.lstrip("/"))
        m = _ARXIV_DOI_RE.match(doi)
        if m:
            return m.group("id").lower()
    return None


def _old_id(arxiv_id: str) -> str:
    archive, number = arxiv_id.split("/", 1)
    return archive.lower() + "/" + number


def arxiv_ids_in_text(text: str) -> set[str]:
    """`arXiv:2305.14314v2`, `arXiv 2305.14314`, `arXiv:hep-th/9901001` mentions, version dropped."""
    found = set()
    for m in _ARXIV_MENTION_RE.finditer(text):
        ident = m.group("id")
        found.add(_old_id(ident) if "/" in ident else ident)
    return found


def arxiv_id_from_query(text: str) -> str | None:
    """A bare new-style id typed on its own, like `2305.14314v1`."""
    m = _ARXIV_BARE_RE.match(text.strip())
    return m.group("id") if m else None


def hn_id_from_url(url: str) -> int | None:
    parts = _web_link(url)
    if parts is None:
        return None
    if _host(parts.netloc) != "news.ycombinator.com" or parts.path.rstrip("/") != "/item":
        return None
    for key, value in parse_qsl(parts.query):
        if key == "id" and value.strip().isascii() and value.strip().isdigit():
            return int(value.strip())
    return None


def doi_from_url(url: str) -> str | None:
    parts = _web_link(url)
    if parts is None:
        return None
    host = _host(parts.netloc)
    if host in ("doi.org", "dx.doi.org"):
        doi = unquote(parts.path.lstrip("/"))
        return _clean_doi(doi) if doi.lower().startswith("10.") else None
    return None


def dois_in_text(text: str) -> set[str]:
    return {_clean_doi(m.group(1)) for m in _DOI_RE.finditer(text)}


def _clean_doi(doi: str) -> str:
    return strip_trailing_junk(doi).lower()


# Trailing HN-style annotations ("[pdf]", "(2017)", "[video]") say nothing about which work it is.
_TITLE_SUFFIX_RE = re.compile(r"\s*[\[(](?:pdf|video|audio|slides|\d{4})[\])]\s*$", re.IGNORECASE)
_NON_WORD_RE = re.compile(r"[^\w]+", re.UNICODE)


def normalize_title(title: str) -> str:
    """Case, punctuation, quotes, dashes, accents and whitespace folded; words kept in order."""
    ascii_only = title.isascii()  # the common case: no accents, zero-width or bidi characters to fold
    text = title if ascii_only else unicodedata.normalize("NFKC", title)
    if not ascii_only:
        text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cf", "Cc"))
    previous = None
    while previous != text:
        previous = text
        text = _TITLE_SUFFIX_RE.sub("", text)
    if ascii_only:
        text = text.lower()
    else:
        text = unicodedata.normalize("NFKD", text.casefold())
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _NON_WORD_RE.sub(" ", text).replace("_", " ")
    return " ".join(text.split())


def title_key(normalized: str) -> str:
    """Exact-match key: spaces removed too, so "Few-Shot" and "Fewshot" are one title."""
    return normalized.replace(" ", "")


MIN_TITLE_WORDS = 2
MIN_FUZZY_WORDS = 3
# One differing word may be a typo of the other when this similar (a transposition in an 8-letter
# word is 0.75). Tuned on the rule, not on data: "langauge"/"language" merge, "few"/"zero" do not.
FUZZY_WORD_SIMILARITY = 0.75


def titles_fuzzy_equal(a: str, b: str) -> bool:
    """Normalized titles that differ only by a typo: same number of words (at least three), exactly
    one differing word, that pair a near-spelling of each other, no number changed. So "... for Code",
    "... Part 2", "GPT-3" vs "GPT-4" and "Few-Shot" vs "Zero-Shot" stay apart."""
    if a == b:
        return True
    wa, wb = a.split(), b.split()
    if len(wa) != len(wb) or len(wa) < MIN_FUZZY_WORDS:
        return False
    diffs = [(x, y) for x, y in zip(wa, wb, strict=True) if x != y]
    return len(diffs) == 1 and words_typo_equal(*diffs[0])


def words_typo_equal(x: str, y: str) -> bool:
    """The one word in which two titles differ is a typo of the other: no digits, long enough, close."""
    if not (_may_be_typo(x) and _may_be_typo(y)):
        return False
    # Imported here: only a fuzzy comparison needs it, and a poll that brings nothing new never makes one.
    from rapidfuzz.distance import Levenshtein

    return Levenshtein.normalized_similarity(x, y) >= FUZZY_WORD_SIMILARITY


@lru_cache(maxsize=8192)
def fuzzy_block_keys(normalized: str) -> tuple[tuple[int, str], ...]:
    """Index keys such that two fuzzy-equal titles share one: the title with one word left out, for
    each word, paired with the word left out. Titles differing in exactly one word share the key that
    leaves that word out, so a lookup costs a few dictionary hits whatever the size of the library,
    and comparing two titles under a shared key is comparing the two words left out. Remembered: a
    poll asks for a new title's keys twice (to look it up, then to add it)."""
    words = normalized.split()
    if len(words) < MIN_FUZZY_WORDS:
        return ()
    # Only a word that could be a typo (words_typo_equal: no digit, four letters or more) is left out. A
    # key that leaves out a number would gather every title that differs only by that number ("Part 1"
    # ... "Part 16000": 16,000 titles under one key, each compared with all the others) for comparisons
    # that can never match: the decisions are the same, the work grows linearly.
    # crc32, not hash(): str hashes differ from process to process, and the index is cached on disk.
    return tuple((zlib.crc32(f"{len(words)} {i} {' '.join(words[:i] + words[i + 1:])}".encode()), words[i])
                 for i in range(len(words)) if _may_be_typo(words[i]))


def _may_be_typo(word: str) -> bool:
    """The word can be one side of a typo pair (see words_typo_equal). isalpha() answers most words at C
    speed (no letter is a digit); only the rest are looked at character by character."""
    return len(word) >= 4 and (word.isalpha() or not any(ch.isdigit() for ch in word))


def url_identities(url: str) -> set[Identity]:
    """Every identity a single link carries."""
    plain = PLAIN_ARXIV_ABS_RE.fullmatch(url)
    if plain and url.startswith("https:") and not plain.group("version"):
        return {Identity("arxiv", plain.group("id")), Identity("url", url[8:])}  # the canonical URL: no scheme
    found: set[Identity] = set()
    arxiv = arxiv_id_from_url(url)
    if arxiv:
        found.add(Identity("arxiv", arxiv))
    hn = hn_id_from_url(url)
    if hn is not None:
        found.add(Identity("hn", str(hn)))
    doi = doi_from_url(url)
    if doi:
        found.add(Identity("doi", doi))
    canon = canonical_url(url)
    if canon:
        found.add(Identity("url", canon))
    return found


def title_identity(title: str | None, min_words: int = MIN_TITLE_WORDS) -> Identity | None:
    if not title:
        return None
    norm = normalize_title(title)
    if len(norm.split()) < max(1, min_words):
        return None
    return Identity("title", norm)


def text_identities(text: str) -> set[Identity]:
    """Identities mentioned in prose: `arXiv:` ids and DOIs."""
    found = {Identity("arxiv", a) for a in arxiv_ids_in_text(text)}
    for doi in dois_in_text(text):
        m = _ARXIV_DOI_RE.match(doi)
        found.add(Identity("arxiv", m.group("id")) if m else Identity("doi", doi))
    return found


def looks_like_url(query: str) -> bool:
    q = query.strip()
    return " " not in q and with_scheme(q) is not None
