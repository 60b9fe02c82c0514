"""The markdown log target: the digest's section merged into the log (never twice), written atomically,
and read back into the library. `bot add` appends through the same merge."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import bot.digest.render as render
from bot.core.config import Config
from bot.core.errors import DeliveryError
from bot.core.ledger import Detail, DigestOptions
from bot.delivery.registry import DeliveryTarget, Send, Settled
from bot.library.parser import parse_heading_date

NAME = "log"
BODY = "markdown"  # the name the section is recorded under (databases written before the registry say so)
log = logging.getLogger(__name__)


def _entries(section: str) -> tuple[str, list[list[str]]]:
    """(heading line, entries); an entry is a top-level bullet with its indented sub-lines."""
    lines = section.rstrip("\n").split("\n")
    heading = lines[0]
    entries: list[list[str]] = []
    for line in lines[1:]:
        if line.startswith(("*", "-", "+")) or not entries:
            entries.append([line])
        else:
            entries[-1].append(line)
    return heading, [e for e in entries if e and e[0].strip()]


def _insert_before(lines: list[str], day: date) -> int | None:
    """Index of the first dated `## ` heading later than `day` (a log kept in date order), if any."""
    year: int | None = None
    for n, line in enumerate(lines):
        if not line.startswith("## "):
            continue
        found, year = parse_heading_date(line[3:], year)
        if found and date.fromisoformat(found) > day:
            return n
    return None


def newline_style(text: str) -> str:
    """The log's own line ending: CRLF when most of its lines end so, else LF."""
    crlf = text.count("\r\n")
    return "\r\n" if crlf > text.count("\n") - crlf else "\n"


def merge_section(existing: str, section: str, day: date | None = None) -> str:
    """The log with the section in it. Entries whose bullet line is already in the log are left out;
    when the log already has the section's heading, new entries go at the end of that section; a new
    heading goes in date order when `day` is given (else at the end). The added lines take the log's
    own line ending; every other line keeps its bytes, ending included."""
    heading, entries = _entries(section)
    raw = existing.split("\n")  # each with its "\r" when the log has CRLF endings
    lines = [line[:-1] if line.endswith("\r") else line for line in raw]
    present = set(lines)
    missing = [e for e in entries if e[0] not in present]
    if not missing:
        return existing
    nl = newline_style(existing)
    cr = "\r" if nl == "\r\n" else ""

    def inserted(at: int, new_lines: list[str]) -> str:
        added = [line + cr for line in new_lines]
        if at == len(raw):  # after the last line, which has no ending: it gets one, the new last one not
            raw[-1] += cr
            added[-1] = new_lines[-1]
        return "\n".join(raw[:at] + added + raw[at:])

    if heading in present:
        start = lines.index(heading)
        end = start + 1
        while end < len(lines) and not lines[end].startswith(("# ", "## ")):
            end += 1
        while end > start + 1 and not lines[end - 1].strip():
            end -= 1  # insert before the blank lines that close the section
        return inserted(end, [line for e in missing for line in e])
    block = [heading, *(line for e in missing for line in e)]
    at = _insert_before(lines, day) if day is not None else None
    if at is not None:
        return inserted(at, [*block, ""])
    body = existing.rstrip("\r\n")
    return (body + nl + nl if body else "") + nl.join(block) + nl


def write_atomic(path: Path, text: str) -> None:
    """Temp file in the same folder, fsync, rename: a reader sees the old log or the new one. A log
    that is a symbolic link is written where the link points (the link stays a link)."""
    path = Path(os.path.realpath(path)) if path.is_symlink() else path
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def append_section(path: Path, section: str, day: date | None = None) -> bool:
    """True when the log changed. Idempotent: a second call with the same section changes nothing."""
    try:
        # Bytes, not read_text: universal newlines would turn a CRLF log into LF on the way back.
        existing = path.read_bytes().decode("utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise DeliveryError(f"Cannot read the log {path}: {exc}", "log") from exc
    merged = merge_section(existing, section, day)
    if merged == existing:
        return False
    try:
        write_atomic(path, merged)
    except OSError as exc:
        raise DeliveryError(f"Cannot write the log {path}: {exc.strerror or exc}", "log") from exc
    return True


def render_section(day: date, items: Sequence[Any], _footer: str) -> str:
    return render.render_log_section(day, list(items))


def wanted(config: Config, options: DigestOptions) -> bool:
    return options.log and config.log is not None


def _path(send: Send) -> Path:
    if send.config.log is None:
        raise DeliveryError("There is no log to append to now: set [bot] log in bot.toml", NAME, retryable=False)
    return send.config.log


def deliver(send: Send) -> Detail:
    path = _path(send)
    changed = append_section(path, send.body or "")
    try:
        send.read_into_library(path)  # the appended entries are library entries from now on
    except Exception as exc:  # the log is delivered; a re-import problem must not undo that
        log.warning("re-reading the log after the digest failed: %s", exc)
    return {"path": str(path), "changed": changed}


def settle(send: Send) -> tuple[Settled, Detail]:
    """The section is in the log, or it is not: whatever was interrupted, the log says which."""
    path = send.config.log
    if path is None or not send.body:
        return "unknown", dict(send.detail)
    try:
        existing = path.read_bytes().decode("utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError):
        return "unknown", dict(send.detail)
    return ("sent" if merge_section(existing, send.body) == existing else "missing"), dict(send.detail)


TARGET = DeliveryTarget(NAME, deliver=deliver, render=render_section, enabled=wanted, settle=settle, body=BODY,
                        label="the log")
