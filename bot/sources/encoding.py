"""How the bytes of a feed become text when they are not what they say (issue 17, item 15c).

feedparser meets invalid UTF-8 by decoding the whole document as windows-1252, which turns every
correct accented letter into mojibake (`Café` becomes `CafÃ©`). Two different documents end up there:
- UTF-8 with a few damaged bytes: it holds real multi-byte UTF-8 sequences. Decoding it as UTF-8
  with U+FFFD for the damaged bytes keeps every correct letter correct.
- an 8-bit document (latin-1, windows-1252) that says UTF-8 or says nothing: it holds no multi-byte
  sequences, and windows-1252, feedparser's fallback, reads it right.
A document that says UTF-8 and holds even one well-formed multi-byte sequence is UTF-8 whatever the
number of damaged bytes (issue 26.8: one damaged sequence of three bytes beside one `é` used to tip the
count towards windows-1252 and garble every letter). Only an undeclared document is judged by the count.
A declared encoding other than UTF-8 (HTTP charset or XML declaration) is left to feedparser.
"""

from __future__ import annotations

import codecs
import re

_XML_DECL_RE = re.compile(rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']""")
_CHARSET_RE = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]{1,40})", re.IGNORECASE)
# One well-formed multi-byte UTF-8 sequence (RFC 3629): what an 8-bit document practically never holds.
_UTF8_SEQUENCE_RE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]"
    rb"|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
_HIGH_BYTE_RE = re.compile(rb"[\x80-\xff]")
_UTF16_32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def declared_encodings(body: bytes, content_type: str = "") -> list[str]:
    """The encodings the HTTP header and the XML declaration name, as codec names ('utf-8', ...)."""
    found = []
    header = _CHARSET_RE.search(content_type or "")
    decl = _XML_DECL_RE.match(body[:300])
    for name in (header.group(1) if header else None, decl.group(1).decode("ascii") if decl else None):
        codec = _codec(name)
        if codec:
            found.append(codec)
    return found


def repair_utf8(body: bytes, content_type: str = "") -> bytes:
    """The document as valid UTF-8 when it is UTF-8 with damaged bytes (each becomes U+FFFD);
    otherwise the bytes unchanged, for feedparser to decode as it declares."""
    if body.startswith(_UTF16_32_BOMS):
        return body
    declared = declared_encodings(body, content_type)
    if any(codec != "utf-8" for codec in declared):
        return body
    try:
        body.decode("utf-8")
        return body
    except UnicodeDecodeError:
        pass
    sequences = _UTF8_SEQUENCE_RE.findall(body)
    stray = len(_HIGH_BYTE_RE.findall(body)) - sum(len(s) for s in sequences)
    if not sequences or (not declared and len(sequences) < stray):
        return body  # an 8-bit document under a UTF-8 label: windows-1252 reads it right
    return body.decode("utf-8", errors="replace").encode("utf-8")
