"""The reading documents on disk: which files a library path names, how they are read, and which of
them is the dated log. Kept apart from the import so that every command can find the log without
loading the parser and matcher."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from bot.core.errors import LibraryError, MissingDocumentError

DOCUMENT_SUFFIXES = {".md", ".markdown", ".txt", ".mdx", ""}


def document_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, plus the documents inside named folders (sorted, hidden ones skipped)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(
                p for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix.lower() in DOCUMENT_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            found.append(path)
        else:
            raise MissingDocumentError(f"No such reading document or folder: {path}; fix [library] paths in the "
                                       "config, or create it", str(path))
    return list(dict.fromkeys(found))


def read_document(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LibraryError(f"Cannot read {path}: {exc.strerror or exc}", str(path)) from exc
    return decode_document(data)


def decode_document(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


_DATED_HEADING_RE = re.compile(r"^##\s+\d{1,2}\s+[A-Z][a-z]+(?:\s+\d{4})?\s*$", re.MULTILINE)


def _count_dated_headings(text: str) -> int:
    """Only the lines that start with ## are tried: every command looks for the log, and a multiline
    regex over a 10 MB log takes twice as long as finding its headings with str.find."""
    count = 0
    at = 0 if text.startswith("##") else text.find("\n##")
    while at != -1:
        start = at if at == 0 and text.startswith("##") else at + 1
        end = text.find("\n", start)
        if _DATED_HEADING_RE.match(text, start, len(text) if end == -1 else end):
            count += 1
        at = -1 if end == -1 else text.find("\n##", end)
    return count


def find_log(paths: Iterable[str | Path]) -> Path | None:
    """The dated log among the documents: the one with the most `## 27 March 2023` headings (3 or more)."""
    best: tuple[int, Path] | None = None
    for path in document_paths(paths):
        count = _count_dated_headings(read_document(path))
        if count >= 3 and (best is None or count > best[0]):
            best = (count, path)
    return best[1] if best else None
