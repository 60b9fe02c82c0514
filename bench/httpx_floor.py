"""The floor under a poll that uses one httpx client: the same requests made by a bare
httpx.AsyncClient, all at once, reading nothing but the status. No parsing, no storage, no limits of
ours. A library module: bench_vs_reader calls `measure` on the feeds it serves.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx


async def _get_all(urls: list[str], conditional: bool) -> list[int]:
    limits = httpx.Limits(max_connections=len(urls), max_keepalive_connections=8)
    async with httpx.AsyncClient(limits=limits, trust_env=False) as client:
        async def one(n: int, url: str) -> int:
            # bench_poll serves feed n with the ETag "e<n>"
            headers = {"If-None-Match": f'"e{n}"'} if conditional else {}
            return (await client.get(url, headers=headers)).status_code
        return list(await asyncio.gather(*(one(n, u) for n, u in enumerate(urls))))


def measure(urls: list[str], repeat: int = 3) -> dict[str, Any]:
    """Best of `repeat` for full GETs and for conditional GETs that all answer 304."""
    result: dict[str, Any] = {}
    for label, conditional, expected in (("full_s", False, 200), ("conditional_304_s", True, 304)):
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            codes = asyncio.run(_get_all(urls, conditional))
            times.append(time.perf_counter() - t0)
            assert set(codes) == {expected}, set(codes)
        result[label] = round(min(times), 3)
    return result
