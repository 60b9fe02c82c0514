"""The sockets under httpx: httpcore's network backend on asyncio's own transports.

httpx speaks HTTP through httpcore, and httpcore reaches the network through a pluggable backend; on
asyncio its default is anyio's, which opens every connection in a task group with a task per attempt
and wraps every read and write in a cancel scope. This backend gives httpcore the same streams on
asyncio's transports (asyncio connects, with happy eyeballs over a name's addresses, and does TLS by
start_tls): the requests, the pool, HTTP itself, redirects, certificates and every limit stay httpx's
and httpcore's. It takes about a third off the CPU of a request (200 conditional GETs on loopback:
0.35 s of CPU through anyio, 0.24 s here), which is most of an all-304 poll's work.

Only bot.sources.fetch installs it (on the transport it makes for its client).
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import typing

import httpcore
from httpcore import AsyncNetworkBackend, AsyncNetworkStream

HIGH_WATER = 256 * 1024  # bytes read and not yet taken before the socket is no longer read
LOW_WATER = 64 * 1024  # ... and read again once this little waits
HAPPY_EYEBALLS_DELAY = 0.25  # seconds before the next address of a name is tried beside the first (as anyio)


class _Connection(asyncio.Protocol):
    """What arrives on one connection, kept until the stream takes it; reading pauses while much waits
    (a body cap is enforced by the reader, so the buffer must not run ahead of it without bound)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.reading_paused = False
        self.writing_paused = False
        self.drained: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > HIGH_WATER and not self.reading_paused and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        if exc is not None:
            self.error = exc
        self._wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


class _Stream(AsyncNetworkStream):
    def __init__(self, connection: _Connection) -> None:
        self._c = connection

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        c = self._c
        if not c.buffer and not c.eof:
            c.waiter = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await c.waiter
            except TimeoutError as exc:
                raise httpcore.ReadTimeout("timed out reading") from exc
            finally:
                c.waiter = None
        if c.buffer:
            if len(c.buffer) <= max_bytes:
                data = bytes(c.buffer)
                c.buffer.clear()
            else:
                data = bytes(c.buffer[:max_bytes])
                del c.buffer[:max_bytes]
            if c.reading_paused and len(c.buffer) <= LOW_WATER and c.transport is not None:
                c.reading_paused = False
                c.transport.resume_reading()
            return data
        if c.error is not None:
            raise httpcore.ReadError(str(c.error) or type(c.error).__name__) from c.error
        return b""  # the other end closed: httpcore decides what an early end means

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        c = self._c
        if c.transport is None or c.transport.is_closing():
            raise httpcore.WriteError(str(c.error) if c.error else "the connection is closed")
        c.transport.write(buffer)
        if c.writing_paused:  # the kernel's buffer is full: wait until it takes more, as anyio's send does
            c.drained = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await c.drained
            except TimeoutError as exc:
                raise httpcore.WriteTimeout("timed out writing") from exc
            finally:
                c.drained = None
            if c.error is not None:
                raise httpcore.WriteError(str(c.error)) from c.error

    async def aclose(self) -> None:
        if self._c.transport is not None:
            self._c.transport.close()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> AsyncNetworkStream:
        c = self._c
        assert c.transport is not None
        try:
            async with asyncio.timeout(timeout):
                secure = await asyncio.get_running_loop().start_tls(
                    c.transport, c, ssl_context, server_hostname=server_hostname)
        except TimeoutError as exc:
            c.transport.close()
            raise httpcore.ConnectTimeout("timed out in the TLS handshake") from exc
        except (OSError, ssl.SSLError, ConnectionError) as exc:  # ssl.SSLError is an OSError
            c.transport.close()
            raise httpcore.ConnectError(str(exc)) from exc
        if secure is None:  # the connection closed during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        c.transport = typing.cast(asyncio.Transport, secure)
        return self

    def get_extra_info(self, info: str) -> typing.Any:
        c = self._c
        if info == "is_readable":  # an idle kept-alive connection the server closed (or wrote to)
            return c.eof or bool(c.buffer) or c.transport is None or c.transport.is_closing()
        if c.transport is None:
            return None
        names = {"ssl_object": "ssl_object", "client_addr": "sockname", "server_addr": "peername", "socket": "socket"}
        return c.transport.get_extra_info(names[info]) if info in names else None


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class AsyncioBackend(AsyncNetworkBackend):
    """httpcore's network backend on asyncio transports: see the module's docstring."""

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None
                          ) -> AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, connection = await loop.create_connection(
                    _Connection, host, port, local_addr=(local_address, 0) if local_address else None,
                    # an address is one attempt; a name's addresses are raced as anyio does
                    happy_eyeballs_delay=None if _is_address(host) else HAPPY_EYEBALLS_DELAY)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"no connection to {host}:{port} within {timeout:g} s"
                                          if timeout else "timed out connecting") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        for option in socket_options or ():
            transport.get_extra_info("socket").setsockopt(*option)
        return _Stream(connection)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None
                                  ) -> AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, connection = await loop.create_unix_connection(_Connection, path)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout("timed out connecting") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        for option in socket_options or ():
            transport.get_extra_info("socket").setsockopt(*option)
        return _Stream(connection)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
