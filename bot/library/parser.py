"""Reads the person's reading documents into library entries (spec section 5).

Pure: text in, records out. Formats seen in the seeds: dated log sections (`## 27 March 2023`,
`## 30 April`, `## 2023 Log` then `* 3/11 - ...`), `+ [title](url)` lists, `Title, by Author. URL`
lines, bare URLs, mkdocs admonitions (`??? tip "[title](url) ..."`), HTML `<img src=...>`, and
title-only lines such as `“Attention Is All You Need” by Ashish Vaswani (2017)`.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from bot.core.identity import (
    MIN_TITLE_WORDS,
    Identity,
    normalize_title,
    parse_link,
    strip_trailing_junk,
    text_identities,
    title_identity,
    url_identities,
    with_scheme,
)
from bot.core.records import LibraryEntry

# `[text](target)` where the target may hold one level of parentheses (Wikipedia-style links).
_MD_LINK_RE = re.compile(
    r"(?<!\\)\[(?P<text>(?:\\.|[^\[\]\\]|\[[^\[\]]*\])*)\]\((?P<target>[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)\)"
)
_BARE_URL_RE = re.compile(r"(?:https?://|(?<![\w@/.])www\.)[^\s<>\"'`|\\]+", re.IGNORECASE)
_HEADING_RE = re.compile(r"^\s{0,3}(?P<hashes>#{1,6})\s+(?P<text>.*?)\s*#*\s*$")
_BULLET_RE = re.compile(r"^(?P<indent>\s*)(?:[*+\-•]|\d+[.)])\s+(?P<rest>.*)$")
_BULLET_DATE_RE = re.compile(
    r"^(?:(?P<m>\d{1,2})/(?P<d>\d{1,2})(?:/(?P<y>\d{2}|\d{4}))?|(?P<iy>\d{4})-(?P<im>\d{2})-(?P<id>\d{2}))\b"
)
_ADMONITION_RE = re.compile(r"^\s*(?:\?\?\?\+?|!!!)\s*(?:[\w-]+\s*)?\"(?P<body>.*)\"?\s*$")
# “Title” by Author (2017) -- the whole line is the reference; straight or curly quotes.
_TITLE_ONLY_RE = re.compile(
    r"^[“\"‘'](?P<title>[^”\"’]{3,}?)[”\"’]\s*(?:,\s*)?(?:by\s+(?P<author>[^()]+?))?\s*(?:\((?P<year>\d{4})\))?\s*\.?$"
)
_HTML_TAG_RE = re.compile(r"<[^>]*>")
# *Deep Learning*, by Ian Goodfellow (2016) -- a title set in italics or bold instead of quotes.
_EMPHASIS_TITLE_RE = re.compile(
    r"^(?P<mark>\*{1,2}|_{1,2})(?P<title>[^*_]{3,}?)(?P=mark)\s*,?\s*(?:by\s+(?P<author>[^()]+?))?\s*"
    r"(?:\((?P<year>\d{4})\))?\s*\.?$"
)
_QUOTED_RE = re.compile(r"[“\"](?P<q>[^”\"]{8,}?)[”\"]")
_YEAR_RE = re.compile(r"\b(19[5-9]\d|20\d\d)\b")
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
_MONTH_ALT = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DAY_MONTH_RE = re.compile(rf"^(?P<d>\d{{1,2}})\s+(?P<m>{_MONTH_ALT})\.?,?(?:\s+(?P<y>\d{{4}}))?$", re.I)
_MONTH_DAY_RE = re.compile(
    rf"^(?P<m>{_MONTH_ALT})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?(?:\s+(?P<y>\d{{4}}))?$", re.I
)
_ISO_DATE_RE = re.compile(r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})$")

# Link texts that describe the link rather than name the work: never used as a title.
_GENERIC_LINK_RE = re.compile(
    r"^(?:(?:this|the|a|an|my|his|her|their|our|see|main|associated|related|original|another|new|general|"
    r"relevant|top|short|longer|older|earlier|previous|fragmentary|paid|intro|introductory)\s+)*"
    r"(?:(?:hn|hacker news|arxiv|github|gh|tc|youtube|vimeo|amazon|box|web|pdf|wiki|reddit)\s+)?"
    r"(?:thread|comment|comments|comment thread|post|blogpost|blog post|blog|article|paper|pdf|link|repo|"
    r"page|site|website|video|slides|here|discussion|project|project home|home|source|code|version here|"
    r"main page here|search result|piece|notes|announcement|guide|submission|hn|arxiv|github|version)s?"
    r"(?:\s+here)?$"
)


@dataclass
class _Context:
    year: int | None = None
    date: str | None = None


def parse_document(text: str, file: str) -> list[LibraryEntry]:
    """All entries of one document, in order. Never raises on odd input: unknown lines are skipped."""
    return _parse_lines(_content_lines(text), file, _Context())


def _parse_lines(lines: Iterable[tuple[int, str]], file: str, ctx: _Context) -> list[LibraryEntry]:
    """The entries of these (line number, line) pairs, read in the date context `ctx` (which they
    carry forward). The only state a document's parse carries from line to line is that context, so a
    stretch of lines parses alike wherever it sits, given the context it starts in."""
    entries: list[LibraryEntry] = []
    for lineno, line in lines:
        heading = _HEADING_RE.match(line)
        if heading:
            if _apply_heading(heading.group("text"), ctx):
                continue
        else:
            bullet = _BULLET_RE.match(line)
            if bullet and not bullet.group("indent").strip("\t "):
                m = _BULLET_DATE_RE.match(bullet.group("rest"))
                if m and m.group("iy") and not bullet.group("indent"):  # `* 2023-03-11 ...`
                    ctx.date = _iso(int(m.group("iy")), int(m.group("im")), int(m.group("id"))) or ctx.date
                    ctx.year = int(m.group("iy"))
                elif m and m.group("m") and (ctx.year or m.group("y")) and not bullet.group("indent"):
                    year = _full_year(m.group("y")) if m.group("y") else ctx.year
                    assert year is not None
                    ctx.date = _iso(year, int(m.group("m")), int(m.group("d"))) or ctx.date
        entry = parse_line(line, file, lineno, ctx.date)
        if entry is not None:
            entries.append(entry)
    return entries


# A section ends before a heading, or at a blank line once it is this long: boundaries that depend on
# the content only, so a line inserted or deleted moves the boundaries near it and no others.
SECTION_LINES = 64


@dataclass(frozen=True)
class Section:
    """A stretch of a document as the library read it: where it starts, how many lines it spans, a hash
    of its lines and of the date context it starts in (equal hashes parse to equal entries, but for
    their line numbers), how many entries it gave, and the context it leaves for the next section."""

    start: int
    lines: int
    sha: str
    entries: int
    year: int | None
    date: str | None

    def as_list(self) -> list[object]:
        return [self.start, self.lines, self.sha, self.entries, self.year, self.date]

    @classmethod
    def from_list(cls, row: list[object]) -> Section:
        start, lines, sha, entries, year, date = row
        return cls(int(str(start)), int(str(lines)), str(sha), int(str(entries)),
                   None if year is None else int(str(year)), None if date is None else str(date))


@dataclass(frozen=True)
class Kept:
    """Entries of an old section that stand as they were, on lines old_start..old_end, now `shift` lines
    further down (negative: up)."""

    old_start: int
    old_end: int
    shift: int


@dataclass(frozen=True)
class Reparse:
    """A document read again against how it was read before: the entries of its changed sections (the
    others' are `kept`), and its sections now."""

    entries: list[LibraryEntry]
    kept: tuple[Kept, ...]
    sections: tuple[Section, ...]
    total: int  # entries in the whole document


def split_sections(text: str) -> list[list[tuple[int, str]]]:
    sections: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    for lineno, line in _content_lines(text):
        if current and ((line.lstrip()[:1] == "#" and _HEADING_RE.match(line))
                        or (len(current) >= SECTION_LINES and not current[-1][1].strip())):
            sections.append(current)
            current = []
        current.append((lineno, line))
    if current:
        sections.append(current)
    return sections


def _section_sha(lines: list[tuple[int, str]], ctx: _Context) -> str:
    digest = hashlib.sha256(f"{ctx.year}\0{ctx.date}\0".encode())
    digest.update("\n".join(line for _, line in lines).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def reparse_document(text: str, file: str, before: Iterable[Section] = ()) -> Reparse:
    """Parses only the sections of `text` that are not among `before` (the sections as last read): the
    entries equal parse_document's, those of unchanged sections given as line ranges to keep."""
    old: dict[str, list[Section]] = {}
    for section in before:
        old.setdefault(section.sha, []).append(section)
    ctx = _Context()
    entries: list[LibraryEntry] = []
    kept: list[Kept] = []
    sections: list[Section] = []
    total = 0
    for lines in split_sections(text):
        sha = _section_sha(lines, ctx)
        start, count = lines[0][0], len(lines)
        same = old.get(sha)
        if same:
            was = same.pop(0)
            if was.entries:
                kept.append(Kept(was.start, was.start + was.lines - 1, start - was.start))
            ctx = _Context(was.year, was.date)
            found = was.entries
        else:
            new = _parse_lines(lines, file, ctx)
            entries.extend(new)
            found = len(new)
        total += found
        sections.append(Section(start, count, sha, found, ctx.year, ctx.date))
    return Reparse(entries, tuple(kept), tuple(sections), total)


def _content_lines(text: str) -> Iterator[tuple[int, str]]:
    lines = text.splitlines()
    start = 0
    if lines and lines[0].strip() == "---":  # YAML front matter of a Jekyll/mkdocs page
        for i in range(1, min(len(lines), 200)):
            if lines[i].strip() in ("---", "..."):
                start = i + 1
                break
    for i in range(start, len(lines)):
        yield i + 1, lines[i]


def _full_year(y: str) -> int:
    return int(y) + 2000 if len(y) == 2 else int(y)


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        import datetime as _dt

        return _dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def parse_heading_date(text: str, year: int | None) -> tuple[str | None, int | None]:
    """(ISO date or None, year) for a heading like `27 March 2023`, `30 April`, `March 27, 2023`."""
    t = text.strip().strip("*_ ")
    for rx in (_DAY_MONTH_RE, _MONTH_DAY_RE, _ISO_DATE_RE):
        m = rx.match(t)
        if m:
            y = int(m.group("y")) if m.group("y") else year
            month_raw = m.group("m")
            month = int(month_raw) if month_raw.isdigit() else _MONTHS[month_raw.lower().rstrip(".")]
            if y is None:
                return None, year
            return _iso(y, month, int(m.group("d"))), y
    return None, year


def _apply_heading(text: str, ctx: _Context) -> bool:
    """Updates the date context; True when the heading was only a date (nothing else to parse)."""
    date, year = parse_heading_date(text, ctx.year)
    if date:
        ctx.date, ctx.year = date, year
        return True
    if "](" not in text and "http" not in text:
        years = _YEAR_RE.findall(text)
        if years and len(text.split()) <= 3:  # "## 2023 Log"
            ctx.year, ctx.date = int(years[0]), None
        return True
    return False


def is_generic_link_text(text: str) -> bool:
    return bool(_GENERIC_LINK_RE.match(normalize_title(text))) or len(normalize_title(text)) == 0


def _clean_title(text: str) -> str:
    text = text.strip().strip("*_`").strip()
    text = text.strip("'\"“”‘’").strip()
    return re.sub(r"\s+", " ", text.strip("*_")).strip(" .,:;-–")


def parse_line(line: str, file: str, lineno: int, date: str | None) -> LibraryEntry | None:
    """One entry for a line that names something, else None."""
    raw = line.strip()
    if not raw:
        return None
    kind = "link"
    body = raw
    admonition = _ADMONITION_RE.match(raw)
    if admonition:
        kind, body = "admonition", admonition.group("body")
    bullet = _BULLET_RE.match(body)
    if bullet:
        body = bullet.group("rest")
    body = _BULLET_DATE_RE.sub("", body, count=1).lstrip(" -–:")
    heading = _HEADING_RE.match(body)
    if heading:
        body = heading.group("text")

    urls: list[str] = []
    internal: list[str] = []
    titles: list[str] = []
    for m in _MD_LINK_RE.finditer(body):
        target = m.group("target").strip("<>")
        absolute = with_scheme(target)
        if absolute:
            urls.append(absolute)
        elif target and not target.startswith(("#", "mailto:", "javascript:", "data:")):
            internal.append(target)
        link_text = _clean_title(m.group("text"))
        urls.extend(_bare_urls(link_text))
        if link_text and not _bare_urls(link_text) and not is_generic_link_text(link_text):
            titles.append(link_text)
    rest = _MD_LINK_RE.sub(" ", body)
    bare = _bare_urls(rest)
    urls.extend(bare)
    urls = list(dict.fromkeys(urls))
    # A placeholder such as `http://[your-host]/v1/chat` is no link: the line keeps its text and its
    # other references, and the import reports the link with its file and line.
    ignored = [u for u in urls if parse_link(u) is None]
    if ignored:
        urls = [u for u in urls if u not in ignored]
        bare = [u for u in bare if u not in ignored]

    prose_text = _HTML_TAG_RE.sub(" ", rest)  # attribute values (alt="Screenshot ...") are not titles
    quoted = [q.group("q") for q in _QUOTED_RE.finditer(prose_text) if len(q.group("q").split()) >= 3]
    title_only = (_TITLE_ONLY_RE.match(body.strip()) or _EMPHASIS_TITLE_RE.match(body.strip())) \
        if not urls and not internal else None
    if title_only and not (title_only.group("author") or title_only.group("year")):
        title_only = None  # a quotation on its own line, not a reference
    if title_only and len(title_only.group("title").split()) > 30:
        title_only = None
    if title_only:
        kind = "title-only"
        titles.insert(0, _clean_title(title_only.group("title")))
    else:
        titles[0:0] = [_clean_title(q) for q in quoted if not _bare_urls(q)]
        if bare and not titles and not _MD_LINK_RE.search(body):
            first = _BARE_URL_RE.search(rest)
            prose = _prose_title(rest[: first.start()] if first else rest)
            if prose:
                titles.append(prose)
            elif kind == "link":
                kind = "bare-url"
    if not urls and internal and kind == "link":
        kind = "internal"

    identities: set[Identity] = set(text_identities(raw))
    for url in urls:
        identities |= url_identities(url)
    for t in titles:
        # A reference that is only a title may be one word ("Perceptrons"); link texts need two.
        ident = title_identity(t, min_words=1 if kind == "title-only" else MIN_TITLE_WORDS)
        if ident:
            identities.add(ident)
    if not ignored:
        if not urls and not internal and not titles and not identities:
            return None
        if kind != "title-only" and not urls and not internal and not identities:
            return None
        if kind not in ("title-only",) and not urls and not internal and all(i.kind == "title" for i in identities):
            return None  # prose with a quotation in it, not a reference
    return LibraryEntry(
        file=file,
        line=lineno,
        kind=kind,
        title=titles[0] if titles else None,
        urls=tuple(urls),
        identities=frozenset(identities),
        date=date,
        internal_links=tuple(dict.fromkeys(internal)),
        text=raw,
        ignored_links=tuple(ignored),
    )


def _bare_urls(text: str) -> list[str]:
    found = []
    for m in _BARE_URL_RE.finditer(text):
        absolute = with_scheme(strip_trailing_junk(m.group(0)))
        if absolute:
            found.append(absolute)
    return found


def _prose_title(prefix: str) -> str | None:
    """`Title, by Author. ` -> Title; otherwise the first sentence, when it reads like a title."""
    text = prefix.strip()
    if not text or text.startswith(("(", "[")) or "<" in text or "=" in text:
        return None
    parts = re.split(r"(?:,\s*|\.\s+|\s+)by\s+", text, maxsplit=1, flags=re.IGNORECASE)
    if len(parts) == 2:
        candidate = parts[0]
    else:
        candidate = re.split(r"\.\s+", text, maxsplit=1)[0]
    candidate = _clean_title(candidate)
    words = normalize_title(candidate).split()
    if len(words) < 3 or words[0] in ("see", "from", "also"):
        return None
    return candidate
