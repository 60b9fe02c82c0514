"""The Fetcher's connections run on asyncio's transports (bot.sources.network) instead of httpcore's
anyio backend: the same answers for every kind of route, and the same failures (timeouts, refused and
dropped connections, a server closing a kept-alive connection), over real loopback servers."""

from __future__ import annotations

import asyncio
import socket
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpcore
import pytest

from bot.sources.fetch import Fetcher, FetchResult, FetchSettings
from bot.sources.network import HIGH_WATER, AsyncioBackend
from tests.servers import FeedServer, Route, rss

FEED = rss([{"title": f"Item {n}", "link": f"https://example.org/{n}"} for n in range(20)])
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SETTINGS = FetchSettings(connect_timeout=2, read_timeout=1, deadline=5)


def _pool(fetcher: Fetcher) -> Any:
    assert fetcher._client is not None
    return fetcher._client._transport._pool  # type: ignore[attr-defined]


def fetch(requests: list[tuple[str, dict[str, str]]], anyio: bool = False,
          settings: FetchSettings = SETTINGS) -> list[FetchResult]:
    """Each (url, conditional headers) through one Fetcher, one after the other; `anyio`: with httpcore's
    own backend put back, the reference."""
    async def run() -> list[FetchResult]:
        async with Fetcher(settings, now=lambda: NOW) as fetcher:  # Retry-After is read against the clock
            if anyio:
                _pool(fetcher)._network_backend = httpcore.AnyIOBackend()
            return [await fetcher.get(url, **kw) for url, kw in requests]

    return asyncio.run(run())


def comparable(result: FetchResult) -> tuple[Any, ...]:
    return (result.status, result.http_status, result.body, result.etag, result.last_modified,
            result.content_type, result.moved_to, result.error)


def test_the_fetcher_connects_through_asyncio_transports() -> None:
    async def run() -> Any:
        async with Fetcher(SETTINGS) as fetcher:
            return _pool(fetcher)._network_backend

    assert isinstance(asyncio.run(run()), AsyncioBackend)


def test_every_kind_of_answer_is_the_same_as_through_httpcores_own_backend() -> None:
    big = b"<rss>" + bytes(range(256)) * (4 * HIGH_WATER // 256) + b"</rss>"  # reading pauses and resumes
    with FeedServer() as server:
        requests = [
            (server.route("/feed.xml", Route(body=FEED, etag='"v1"', headers={"Last-Modified": "Sat, 05 Dec 2026"})),
             {}),
            (server.url("/feed.xml"), {"etag": '"v1"'}),  # 304 on the kept-alive connection
            (server.route("/gz.xml", Route(body=FEED, gzip=True)), {}),
            (server.route("/big.xml", Route(body=big)), {}),
            (server.route("/gone.xml", Route(status=410, body=b"gone")), {}),
            (server.route("/busy.xml", Route(status=503, body=b"later", headers={"Retry-After": "120"})), {}),
            (server.route("/moved", Route(redirect_to=server.url("/feed.xml"), redirect_status=301)), {}),
            (server.route("/drip.xml", Route(body=FEED[:300], drip=0.001)), {}),
            (server.url("/missing.xml"), {}),
        ]
        ours = fetch(requests)
        reference = fetch(requests, anyio=True)
    assert [r.status for r in ours] == ["ok", "not_modified", "ok", "ok", "error", "error", "ok", "ok", "error"]
    assert ours[3].body == big
    assert [comparable(r) for r in ours] == [comparable(r) for r in reference]


def test_a_body_under_the_cap_after_one_over_it_and_an_endless_one_on_asyncio_transports() -> None:
    small_cap = FetchSettings(connect_timeout=2, read_timeout=2, deadline=10, max_body=3 * HIGH_WATER)
    with FeedServer() as server:
        endless = server.route("/endless.xml", Route(endless=True))
        fits = server.route("/fits.xml", Route(body=b"x" * (2 * HIGH_WATER)))
        results = fetch([(endless, {}), (fits, {})], settings=small_cap)
    assert results[0].status == "error" and "cap" in (results[0].error or "")
    assert results[1].status == "ok" and len(results[1].body) == 2 * HIGH_WATER


def test_a_server_that_never_answers_is_a_read_timeout_and_a_closed_port_a_connect_error() -> None:
    with FeedServer() as server:
        slow = server.route("/slow.xml", Route(body=FEED, delay=3))
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        for anyio in (False, True):
            timed_out, refused = fetch([(slow, {}), (f"http://127.0.0.1:{port}/feed.xml", {})], anyio=anyio)
            assert timed_out.status == "error" and timed_out.error == "timed out (ReadTimeout)"
            assert refused.status == "error" and (refused.error or "").startswith("ConnectError"), refused.error


def test_a_host_name_is_resolved_and_connected() -> None:
    with FeedServer() as server:
        server.route("/feed.xml", Route(body=FEED))
        (result,) = fetch([(f"http://localhost:{server.port}/feed.xml", {})])
    assert result.status == "ok" and result.body == FEED


def _one_shot_server(answers: list[bytes]) -> tuple[int, threading.Thread]:
    """A raw server: accepts one connection per answer, reads a request, writes the answer as given
    (which may be cut short) and closes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def serve() -> None:
        with listener:
            for answer in answers:
                conn, _ = listener.accept()
                with conn:
                    conn.recv(65536)
                    conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread


def test_an_answer_cut_short_is_an_error_not_a_hang_nor_a_short_body() -> None:
    cut = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: application/rss+xml\r\n\r\n<rss>only part"
    results = []
    for anyio in (False, True):
        port, thread = _one_shot_server([cut])
        (result,) = fetch([(f"http://127.0.0.1:{port}/feed.xml", {})], anyio=anyio)
        thread.join(timeout=5)
        results.append(result)
    assert results[0].status == "error" and "RemoteProtocolError" in (results[0].error or "")
    assert comparable(results[0]) == comparable(results[1])


def test_a_kept_alive_connection_the_server_closed_is_not_reused() -> None:
    """The server answers, keeps the connection a moment and closes it without having said so; the next
    request must go out on a new connection (httpcore asks the stream whether an idle connection has
    become readable), not fail on the dead one."""

    def answer_then_close(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(FEED)))
        handler.end_headers()
        handler.wfile.write(FEED)
        handler.wfile.flush()
        handler.close_connection = True

    with FeedServer() as server:
        url = server.route("/feed.xml", Route(handler=answer_then_close))

        async def run() -> list[FetchResult]:
            async with Fetcher(SETTINGS) as fetcher:
                first = await fetcher.get(url)
                await asyncio.sleep(0.2)  # the server has closed its end by now
                second = await fetcher.get(url)
                return [first, second]

        results = asyncio.run(run())
    assert [r.status for r in results] == ["ok", "ok"], [r.error for r in results]
    assert [r.body for r in results] == [FEED, FEED]


@pytest.mark.parametrize("max_bytes", [7, 4096, 65536, 10 * HIGH_WATER])
def test_reads_hand_over_what_arrived_in_pieces_of_any_size(max_bytes: int) -> None:
    """The stream's buffer across reads smaller and larger than what arrived, reading paused and resumed
    on the way, against a socket pair: exactly the bytes sent, in order, then the end."""
    from bot.sources.network import _Connection, _Stream

    payload = bytes(range(256)) * (3 * HIGH_WATER // 256)

    async def run() -> bytes:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        theirs.setblocking(False)
        _transport, connection = await loop.connect_accepted_socket(_Connection, ours)
        stream = _Stream(connection)

        async def send() -> None:
            await loop.sock_sendall(theirs, payload)
            theirs.close()

        sender = asyncio.create_task(send())
        got = bytearray()
        while data := await stream.read(max_bytes, timeout=5):
            assert len(data) <= max_bytes
            assert len(connection.buffer) <= HIGH_WATER + 65536 * 4  # the buffer does not run ahead unbounded
            got += data
        await sender
        await stream.aclose()
        return bytes(got)

    assert asyncio.run(run()) == payload


def test_a_hosts_minimum_interval_counts_from_when_a_request_went_out_not_from_its_slot() -> None:
    """Something holds the first request between its slot and the wire for 0.2 s (here a request hook;
    in life a slow connect, a loaded machine, a garbage collection): the server still sees the two
    requests the whole interval apart, as arXiv's one request per 3 s asks."""
    import time

    arrivals: list[float] = []

    def record(handler: BaseHTTPRequestHandler) -> None:
        arrivals.append(time.monotonic())
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(FEED)))
        handler.end_headers()
        handler.wfile.write(FEED)

    async def held_once(request: Any) -> None:
        if not arrivals and not held:
            held.append(request)
            await asyncio.sleep(0.2)

    held: list[Any] = []
    with FeedServer() as server:
        url = server.route("/api", Route(handler=record))
        settings = FetchSettings(connect_timeout=2, read_timeout=2, deadline=5, min_interval={"127.0.0.1": 0.4})

        async def run() -> list[FetchResult]:
            async with Fetcher(settings) as fetcher:
                assert fetcher._client is not None
                fetcher._client.event_hooks["request"].insert(0, held_once)
                return [await fetcher.get(url), await fetcher.get(url)]

        results = asyncio.run(run())
    assert [r.status for r in results] == ["ok", "ok"] and held
    assert arrivals[1] - arrivals[0] >= 0.38, arrivals[1] - arrivals[0]
