"""Serves the benchmark feeds from a process of their own, so that the client under test has the
interpreter to itself. One asyncio server per loopback address (127.0.0.2, 127.0.0.3, ...), each feed
answering after the injected latency, with an ETag (a conditional GET of an unchanged feed gets 304)
and keep-alive. asyncio rather than the tests' threaded servers: 200 threaded servers in one process
spend more CPU per request than the clients being measured, and both contenders would wait on them.
Prints the feed URLs as one JSON line, then serves until its standard input closes.

    python -m bench.serve_feeds --feeds 200 --latency 0.1 --items 20 --hosts 200 [--no-etag]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading

from bench.bench_poll import feed_arguments, make_feed

Routes = dict[bytes, tuple[bytes, bytes]]  # path -> (body, etag)


def respond(status: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    head = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers), f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(head).encode() + body


async def serve_connection(routes: Routes, latency: float, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            path = lines[0].split(b" ")[1].split(b"?")[0]
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:] if line)}
            await asyncio.sleep(latency)
            if path not in routes:
                writer.write(respond("404 Not Found", [("Content-Type", "text/plain")], b"not found"))
            else:
                body, etag = routes[path]
                if etag and headers.get(b"if-none-match") == etag:
                    writer.write(respond("304 Not Modified", [("ETag", etag.decode())]))
                else:
                    writer.write(respond("200 OK", [("Content-Type", "application/rss+xml; charset=utf-8"),
                                                    *([("ETag", etag.decode())] if etag else [])], body))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, IndexError):
        pass
    finally:
        writer.close()


async def main_async(feeds: int, latency: float, items: int, hosts: int, etags: bool = True) -> None:
    per_host: list[Routes] = [{} for _ in range(hosts)]
    for n in range(feeds):
        per_host[n % hosts][f"/feed{n}.xml".encode()] = (make_feed(n, items), f'"e{n}"'.encode() if etags else b"")
    ports = []
    for h, routes in enumerate(per_host):
        server = await asyncio.start_server(
            lambda r, w, routes=routes: serve_connection(routes, latency, r, w), f"127.0.0.{h + 2}", 0, backlog=512)
        ports.append(server.sockets[0].getsockname()[1])
    print(json.dumps([f"http://127.0.0.{n % hosts + 2}:{ports[n % hosts]}/feed{n}.xml" for n in range(feeds)]),
          flush=True)
    await asyncio.Event().wait()  # until the process exits


def main() -> None:
    parser = feed_arguments(argparse.ArgumentParser())
    parser.add_argument("--no-etag", action="store_true", help="no ETag: every poll gets the whole bodies again")
    args = parser.parse_args()

    def until_stdin_closes() -> None:
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=until_stdin_closes, daemon=True).start()
    asyncio.run(main_async(args.feeds, args.latency, args.items, args.hosts, not args.no_etag))


if __name__ == "__main__":
    main()
