"""The floor under an all-304 re-poll built on the components the bot must use: a whole process that
starts the interpreter, imports click, asyncio and httpx (without httpx's command line, as the bot
does), reads the feeds' ETags from SQLite, forks one worker per core, each sending its hosts'
conditional GETs through one httpx.AsyncClient, and writes each feed's result back in one transaction.
No configuration, no checks, no limits, no parsing, no report: what no poll on these parts can go under.
bench_vs_reader runs it with --floor beside the bot and reader, as a whole process like them.

    python bench/floor_repoll.py setup DB URL...   (untimed: a table of feeds with the ETags served)
    python bench/floor_repoll.py poll DB [--bot-backend]   (timed: the re-poll)

--bot-backend makes the connections through the bot's own network backend (bot.sources.network, asyncio
transports instead of anyio's), the one part of the bot's fetching that is not httpx's: the floor of
the bot's way of using httpx. Its import is timed too (the module is small).
"""

from __future__ import annotations

import gc
import sys
import types

gc.set_threshold(50_000)  # as the bot's command does (bot.cli.group.run): fewer collections of young objects
sys.modules["httpx._main"] = types.ModuleType("httpx._main")  # the bot's start-up leaves it out too

import asyncio  # noqa: E402
import os  # noqa: E402
import sqlite3  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from multiprocessing import get_context  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import click  # noqa: E402,F401  (the bot's command line is click; its import is part of any start)
import httpx  # noqa: E402

Feed = tuple[str, str, str]  # name, url, etag


async def _conditional(feeds: list[Feed], backend: bool) -> list[tuple[str, int]]:
    # Few idle connections, as the bot keeps (bot.sources.fetch): httpcore scans its whole pool on every
    # request, so a pool of every feed's idle connection costs more than half again per request.
    limits = httpx.Limits(max_connections=len(feeds), max_keepalive_connections=8)
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False, verify=False)
    if backend:  # the bot's network backend (bot.sources.network) in httpcore's pool, as bot.sources.fetch does
        from bot.sources.network import AsyncioBackend  # imported before the fork (below)

        transport._pool._network_backend = AsyncioBackend()  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=transport, trust_env=False) as client:
        async def one(name: str, url: str, etag: str) -> tuple[str, int]:
            return name, (await client.get(url, headers={"If-None-Match": etag})).status_code
        return list(await asyncio.gather(*(one(*f) for f in feeds)))


def _worker(feeds: list[Feed], backend: bool) -> list[tuple[str, int]]:
    return asyncio.run(_conditional(feeds, backend))


def poll(db: str, backend: bool) -> None:
    conn = sqlite3.connect(db)
    feeds: list[Feed] = conn.execute("select name, url, etag from feeds").fetchall()
    parts = os.cpu_count() or 1
    shares: list[list[Feed]] = [[] for _ in range(parts)]
    hosts = {host: n for n, host in enumerate(sorted({urlsplit(f[1]).hostname for f in feeds}))}
    for feed in feeds:  # every feed of a host in one worker, as the bot partitions them, hosts dealt in turn
        shares[hosts[urlsplit(feed[1]).hostname] % parts].append(feed)
    if backend:
        import bot.sources.network  # noqa: F401  (once, before the fork, as the bot imports its transport)
    with ProcessPoolExecutor(parts, mp_context=get_context("fork")) as pool:
        answers = [a for got in pool.map(_worker, shares, [backend] * parts) for a in got]
    assert {code for _, code in answers} == {304}, {code for _, code in answers}
    with conn:
        conn.executemany("update feeds set result = ? where name = ?", [(str(c), n) for n, c in answers])
    conn.close()


def setup(db: str, urls: list[str]) -> None:
    conn = sqlite3.connect(db)
    conn.execute("pragma journal_mode = wal")
    conn.execute("create table feeds (name text primary key, url text, etag text, result text)")
    # bench/serve_feeds.py serves feed n with the ETag "e<n>"
    with conn:
        conn.executemany("insert into feeds values (?, ?, ?, null)",
                         [(f"f{n}", url, f'"e{url.rsplit("/feed", 1)[1].split(".")[0]}"') for n, url in enumerate(urls)])
    conn.close()


if __name__ == "__main__":
    if sys.argv[1] == "setup":
        setup(sys.argv[2], sys.argv[3:])
    else:
        poll(sys.argv[2], backend="--bot-backend" in sys.argv)
