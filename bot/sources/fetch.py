"""HTTP fetching: the only module that imports httpx.

One shared AsyncClient for a whole poll; bounded concurrency overall and per host; a minimum interval
per host where a site asks for one (arXiv: one request per 3 s); conditional GET; connect/read
timeouts plus a total deadline per request; a body cap enforced while streaming, after our own
decompression (so a gzip bomb stops at the cap); a redirect cap. Every failure comes back as a value.
"""

from __future__ import annotations

import asyncio
import email.utils
import ssl
import sys
import time
import types
import zlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit


def _without_httpx_cli() -> None:
    """`import httpx` also imports httpx's command-line client whenever rich and click are installed (as
    they are for the bot), and with it rich's console, progress and syntax modules and pygments: 0.2 s
    of every process's start-up for a command line the bot never runs. A stand-in takes its place."""
    if "httpx._main" not in sys.modules:
        stand_in = types.ModuleType("httpx._main")

        def main() -> None:
            raise SystemExit("the httpx command line is not available inside the bot")

        stand_in.main = main  # type: ignore[attr-defined]
        sys.modules["httpx._main"] = stand_in


_without_httpx_cli()
import httpx  # noqa: E402

from bot.core.clock import system_clock  # noqa: E402
from bot.sources.answer import FetchResult, is_local  # noqa: E402
from bot.sources.redirects import ORIGIN, RedirectRefused, guard_redirect, permanent_address  # noqa: E402


@dataclass
class FetchSettings:
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    deadline: float = 45.0
    max_body: int = 20 * 1024 * 1024
    max_redirects: int = 5
    concurrency: int = 32
    per_host: int = 4
    retry_after_cap: float = 24 * 3600.0
    user_agent: str = "research-digest-bot"
    min_interval: Mapping[str, float] = field(default_factory=dict)  # host -> seconds between requests


class BodyTooLarge(Exception):
    pass


MIN_GLOBAL = 32  # in flight at once when sized automatically, whatever the hosts (pages for `bot add`)
FD_RESERVE = 64  # descriptors kept for the database, the lock, logs and pipes to worker processes


def open_file_ceiling() -> int:
    """How many connections this process can hold open at once: its soft RLIMIT_NOFILE, less a reserve."""
    try:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # no such limit here: a modest guess
        return 256
    if soft == resource.RLIM_INFINITY:
        return 4096
    return max(8, soft - FD_RESERVE)


def global_limit(hosts: int, per_host: int, configured: int = 0) -> int:
    """The bound on requests in flight: per_host for every host in play (so 200 feeds on 200 hosts go
    out at once, while the per-host bound protects each server), or the configured number; never
    more than the open-file limit allows."""
    wanted = configured if configured > 0 else max(MIN_GLOBAL, hosts * per_host)
    return max(1, min(wanted, open_file_ceiling()))


def import_transport() -> None:
    """Imports what the first request would: httpcore (httpx loads it when a transport is made), h11,
    anyio's asyncio half (httpcore's locks) and the network backend. A command that forks fetching
    workers calls this first, so they inherit these modules instead of each importing them again
    (about 0.05 s of CPU per worker)."""
    import importlib

    for name in ("httpcore", "h11", "anyio._backends._asyncio", "bot.sources.network"):
        importlib.import_module(name)


def _transport(verify: ssl.SSLContext, limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """httpx's own transport (its connection pool, HTTP/1.1, TLS with `verify`), its connections made on
    asyncio's transports by bot.sources.network instead of through anyio: the same requests for about a
    third less CPU. httpx takes no network backend, so it is set on the pool it made; should a later
    httpcore keep it elsewhere, the pool's own backend stays (tests/test_fetch_network.py notices)."""
    from bot.sources.network import AsyncioBackend

    transport = httpx.AsyncHTTPTransport(verify=verify, limits=limits, trust_env=False)
    pool = getattr(transport, "_pool", None)
    if pool is not None and hasattr(pool, "_network_backend"):
        pool._network_backend = AsyncioBackend()
    return transport


def local_path(url: str) -> Path:
    if url.startswith("file://"):
        return Path(unquote(urlsplit(url).path))
    return Path(url)


class Fetcher:
    """Use as `async with Fetcher(settings) as f: await f.get(url, etag=..., last_modified=...)`.
    Tests may pass their own `transport` (an httpx transport) or point URLs at 127.0.0.1."""

    def __init__(self, settings: FetchSettings, transport: httpx.AsyncBaseTransport | None = None,
                 now: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self._transport = transport
        self._now = now or system_clock
        self._client: httpx.AsyncClient | None = None
        self._all = asyncio.Semaphore(settings.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(settings.per_host))
        self._next_slot: dict[str, float] = {}
        self._slot_lock: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def __aenter__(self) -> Fetcher:
        s = self.settings
        # Certificates and host names are verified as httpx does by default, against certifi's store;
        # but the store is read on the first https request (a redirect's included): reading it costs
        # each fetching process 30 to 100 ms that a poll without https never needs.
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self._trusted = False
        # Few idle connections: httpcore scans its whole pool on every request, so a pool of hundreds
        # of idle feeds costs more than the reconnects it saves (feeds are one request each).
        limits = httpx.Limits(max_connections=s.concurrency, max_keepalive_connections=min(s.concurrency, 8))
        self._client = httpx.AsyncClient(
            transport=self._transport or _transport(self._tls, limits),
            verify=self._tls,
            # every redirect hop is checked before it is followed; certificates load on the first https
            event_hooks={"request": [self._trust_before_https], "response": [guard_redirect]},
            timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout),
            follow_redirects=True,
            max_redirects=s.max_redirects,
            headers={"User-Agent": s.user_agent, "Accept-Encoding": "gzip, deflate"},
            limits=limits,
            trust_env=False,
        )
        return self

    async def _trust_before_https(self, request: httpx.Request) -> None:
        if request.url.scheme == "https" and not self._trusted:
            import certifi

            self._tls.load_verify_locations(cafile=certifi.where())
            self._trusted = True

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def get(self, url: str, etag: str | None = None, last_modified: str | None = None,
                  accept: str = "*/*") -> FetchResult:
        if is_local(url):
            return await asyncio.to_thread(self._read_local, url, last_modified)
        host = (urlsplit(url).hostname or "").lower()
        started = time.monotonic()
        async with self._all, self._hosts[host]:
            interval = await self._wait_for_slot(host)
            try:
                return await asyncio.wait_for(self._get(url, etag, last_modified, accept, started,
                                                        self._paced(host, interval) if interval else None),
                                              timeout=self.settings.deadline)
            except TimeoutError:
                return FetchResult(url, "error", error=f"no complete answer within {self.settings.deadline:g} s",
                                   elapsed=time.monotonic() - started)

    async def _wait_for_slot(self, host: str) -> float:
        """Waits until the host's minimum interval since its last request has passed; returns the interval
        (0: the host has none)."""
        interval = self.settings.min_interval.get(host, 0.0)
        if interval <= 0:
            return 0.0
        async with self._slot_lock[host]:
            now = time.monotonic()
            # Again after each sleep: a request that went out late meanwhile moved the slot (see _paced).
            while (wait := self._next_slot.get(host, 0.0) - now) > 0:
                await asyncio.sleep(wait)
                now = time.monotonic()
            self._next_slot[host] = now + interval
        return interval

    def _paced(self, host: str, interval: float) -> Callable[[str, dict[str, Any]], Awaitable[None]]:
        """httpcore's trace hook for a request to a host with a minimum interval: the next request waits
        the interval from the moment this one's bytes were written, not from its slot. Between the slot
        and the wire come the connection, the redirect hooks and whatever else the process does (a
        loaded machine, a garbage collection, a parse on the same loop), and the server must never see
        two requests closer than the interval (one request per 3 s to arXiv)."""
        async def trace(event: str, info: dict[str, Any]) -> None:
            if event == "http11.send_request_body.complete":
                self._next_slot[host] = max(self._next_slot.get(host, 0.0), time.monotonic() + interval)

        return trace

    async def _get(self, url: str, etag: str | None, last_modified: str | None, accept: str, started: float,
                   paced: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None) -> FetchResult:
        assert self._client is not None, "use Fetcher as an async context manager"
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            extensions: dict[str, Any] = {ORIGIN: url}
            if paced is not None:
                extensions["trace"] = paced
            async with self._client.stream("GET", url, headers=headers, extensions=extensions) as response:
                elapsed = lambda: time.monotonic() - started  # noqa: E731
                ctype = response.headers.get("content-type", "")
                moved_to = permanent_address(response)
                if response.status_code == 304:
                    return FetchResult(url, "not_modified", http_status=304, etag=etag,
                                       last_modified=last_modified, elapsed=elapsed(), moved_to=moved_to)
                if response.status_code in (429, 503):
                    until = self._retry_after(response.headers.get("retry-after"))
                    return FetchResult(url, "error", http_status=response.status_code, retry_after=until,
                                       error=f"HTTP {response.status_code} {response.reason_phrase}".strip()
                                       + (f"; asked to wait until {until.isoformat(timespec='seconds')}"
                                          if until else ""), elapsed=elapsed())
                if response.status_code >= 400:
                    return FetchResult(url, "error", http_status=response.status_code,
                                       error=f"HTTP {response.status_code} {response.reason_phrase}".strip(),
                                       elapsed=elapsed())
                body = await self._read_capped(response)
                return FetchResult(url, "ok", body=body, http_status=response.status_code,
                                   etag=response.headers.get("etag"),
                                   last_modified=response.headers.get("last-modified"),
                                   content_type=ctype, elapsed=elapsed(), moved_to=moved_to)
        except (BodyTooLarge, RedirectRefused) as exc:
            return FetchResult(url, "error", error=str(exc), elapsed=time.monotonic() - started)
        except httpx.TooManyRedirects:
            return FetchResult(url, "error", error=f"more than {self.settings.max_redirects} redirects",
                               elapsed=time.monotonic() - started)
        except httpx.TimeoutException as exc:
            return FetchResult(url, "error", error=f"timed out ({type(exc).__name__})",
                               elapsed=time.monotonic() - started)
        except httpx.HTTPError as exc:
            return FetchResult(url, "error", error=f"{type(exc).__name__}: {exc}".rstrip(": "),
                               elapsed=time.monotonic() - started)
        except (zlib.error, ValueError) as exc:
            return FetchResult(url, "error", error=f"undecodable body: {exc}", elapsed=time.monotonic() - started)

    async def _read_capped(self, response: httpx.Response) -> bytes:
        """Reads the raw stream and decompresses it ourselves with a bounded output, so neither a
        long body nor a small compressed one that expands enormously gets past max_body."""
        cap = self.settings.max_body
        encoding = response.headers.get("content-encoding", "identity").lower().strip()
        declared = response.headers.get("content-length")
        if encoding == "identity" and declared and declared.isdigit() and int(declared) > cap:
            raise BodyTooLarge(f"body of {int(declared):,} bytes is over the {cap:,}-byte cap")
        if encoding in ("gzip", "x-gzip"):
            decoder = zlib.decompressobj(wbits=47)
        elif encoding == "deflate":
            decoder = zlib.decompressobj()
        elif encoding in ("identity", ""):
            decoder = None
        else:
            raise ValueError(f"unsupported content-encoding {encoding!r}")
        chunks: list[bytes] = []
        size = 0
        async for raw in response.aiter_raw():
            data = raw
            while True:
                if decoder is not None:
                    out = decoder.decompress(data, cap + 1 - size)
                    data = decoder.unconsumed_tail
                else:
                    out, data = data, b""
                size += len(out)
                if size > cap:
                    raise BodyTooLarge(f"body is over the {cap:,}-byte cap"
                                       + (" after decompression" if decoder else ""))
                chunks.append(out)
                if not data:
                    break
        return b"".join(chunks)

    def _retry_after(self, value: str | None) -> datetime | None:
        if not value:
            return None
        now = self._now()
        value = value.strip()
        seconds: float | None
        if value.isdigit():
            seconds = float(value)
        else:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            seconds = (when - now).total_seconds()
        seconds = max(0.0, min(seconds, self.settings.retry_after_cap))
        return datetime.fromtimestamp(now.timestamp() + seconds, UTC)

    def _read_local(self, url: str, last_modified: str | None) -> FetchResult:
        path = local_path(url)
        try:
            stat = path.stat()
            stamp = email.utils.formatdate(stat.st_mtime, usegmt=True) + f" size={stat.st_size}"
            if last_modified and last_modified == stamp:
                return FetchResult(url, "not_modified", last_modified=stamp)
            if stat.st_size > self.settings.max_body:
                return FetchResult(url, "error", error=f"file is over the {self.settings.max_body:,}-byte cap")
            return FetchResult(url, "ok", body=path.read_bytes(), last_modified=stamp)
        except OSError as exc:
            return FetchResult(url, "error", error=f"cannot read {path}: {exc.strerror or exc}")
