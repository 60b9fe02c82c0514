"""What asking a feed's address answers: the record every source kind reads, whoever fetched it.

Kept apart from the HTTP adapter (bot.sources.fetch) so that a kind's module, and the registry that
lists the kinds, load no HTTP library: `bot status` checks the configuration's kinds without httpx.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class FetchResult:
    url: str
    status: str  # ok | not_modified | error
    body: bytes = b""
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_type: str = ""
    error: str | None = None
    retry_after: datetime | None = None  # don't ask this URL again before then
    elapsed: float = 0.0
    moved_to: str | None = None  # where a permanent redirect (301, 308) said the resource now lives


def is_local(url: str) -> bool:
    """A feed's address names a file (a saved answer, a local feed), not a server."""
    return url.startswith("file://") or "://" not in url
