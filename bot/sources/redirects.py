"""Which redirects every fetch follows (issue 17, item 8), and where a permanent one leads.

A redirect hop is refused when it
- changes the scheme, except http -> https (no https -> http, no file:, ftp:, data: ...), or
- leads to a loopback, private, link-local or otherwise non-public address that is not the host and
  port the request was sent to.
So a feed configured on 127.0.0.1:8000 (a test, a local feed) may redirect within 127.0.0.1:8000, and
a public feed may redirect to other public hosts, but no hop may reach another service inside the
network, even through a public host in between. Host names are resolved to decide; a name that does
not resolve is left to the connection, which fails on its own. (A name that resolves differently a
moment later, DNS rebinding, is not covered: the check and the connection resolve separately.)

Used as an httpx response hook by bot.sources.fetch, so it applies to feeds, `bot add` pages and HN lookups.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import httpx

ORIGIN = "bot_origin"  # request extension: the URL a chain of redirects started at
_DEFAULT_PORTS = {"http": 80, "https": 443}
PERMANENT = (301, 308)


class RedirectRefused(Exception):
    """A redirect the bot will not follow; the message names where it led and why not."""


def address_class(address: str) -> str:
    """'public' for a globally routable unicast address, else 'internal' (loopback, private,
    link-local, carrier-grade NAT, reserved, multicast, unspecified)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return "public" if ip.is_global and not ip.is_multicast else "internal"


async def host_class(host: str) -> str | None:
    """'public' or 'internal' for a host name or address literal; None when the name does not resolve."""
    try:
        return address_class(host)
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return None
    classes = {address_class(str(info[4][0])) for info in infos}
    return "internal" if "internal" in classes or not classes else "public"


def _origin(url: httpx.URL) -> tuple[str, int | str | None]:
    """Host and port, with a scheme's default port spelled the same for http and https, so that
    http://h/ -> https://h/ stays on one origin."""
    port = url.port or _DEFAULT_PORTS.get(url.scheme)
    return url.host.lower(), "default" if port == _DEFAULT_PORTS.get(url.scheme) else port


async def check_hop(source: httpx.URL, target: httpx.URL, origin: httpx.URL) -> None:
    """Raises RedirectRefused when the hop source -> target breaks the rules above."""
    if target.scheme != source.scheme and (source.scheme, target.scheme) != ("http", "https"):
        raise RedirectRefused(f"redirect to {target} refused: it leaves {source.scheme} for "
                              f"{target.scheme or 'no scheme'}")
    if _origin(target) == _origin(origin):
        return
    if await host_class(target.host) == "internal":
        asked = f"{origin.host}:{origin.port}" if origin.port else origin.host
        raise RedirectRefused(f"redirect to {target} refused: {target.host} is not a public address "
                              f"(loopback, private, link-local), and not the address asked ({asked})")


async def guard_redirect(response: httpx.Response) -> None:
    """httpx response hook: checks each redirect hop before httpx follows it."""
    if not response.has_redirect_location:
        return
    request = response.request
    try:
        target = request.url.join(response.headers["location"])
    except (httpx.InvalidURL, ValueError):
        return  # httpx reports a malformed Location itself
    origin = request.extensions.get(ORIGIN)
    await check_hop(request.url, target, httpx.URL(origin) if isinstance(origin, str) else request.url)


def permanent_address(response: httpx.Response) -> str | None:
    """Where the chain's leading permanent redirects (301, 308) lead: the resource's new address.
    None when the first hop was temporary or there was none."""
    hops = [*response.history, response]
    moved = None
    for hop, following in zip(hops, hops[1:], strict=False):
        if hop.status_code not in PERMANENT:
            break
        moved = str(following.request.url)
    return moved
