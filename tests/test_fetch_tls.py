"""https through the Fetcher: certificates and host names are verified against certifi's store, which
is read on the first https request (a redirect's included), not when the client is made."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from bot.sources.fetch import Fetcher, FetchResult, FetchSettings
from tests.servers import FeedServer, Route, rss

FEED = rss([{"title": "LLM inference notes", "link": "https://g.example/"}])


def self_signed(folder: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def https_server(cert: Path, key: Path) -> FeedServer:
    server = FeedServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
    return server


@pytest.fixture(autouse=True)
def loopback_counts_as_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about certificates: the redirect from one loopback port to another stands for a
    public site moving to https, which the redirect rule (tests/test_source_faults.py) would refuse here."""
    import bot.sources.redirects as redirects

    monkeypatch.setattr(redirects, "address_class", lambda _address: "public")


def fetch(*urls: str) -> list[FetchResult]:
    async def run() -> list[FetchResult]:
        async with Fetcher(FetchSettings(connect_timeout=3, read_timeout=3, deadline=5)) as fetcher:
            return [await fetcher.get(url) for url in urls]

    return asyncio.run(run())


def test_an_untrusted_certificate_is_refused_directly_or_after_a_redirect(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    with https_server(cert, key) as tls, FeedServer() as plain:
        tls.route("/feed.xml", Route(body=FEED))
        secure = f"https://127.0.0.1:{tls.port}/feed.xml"
        moved = plain.route("/moved", Route(redirect_to=secure))
        results = fetch(secure, moved)
    assert [r.status for r in results] == ["error", "error"]
    assert all("CERTIFICATE_VERIFY_FAILED" in (r.error or "") for r in results), [r.error for r in results]


def test_the_trust_store_is_read_for_the_first_https_request_even_a_redirect(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """With our certificate standing in for certifi's store, the same requests succeed: the store is
    read when https is first asked for, including when a redirect asks for it."""
    import certifi

    cert, key = self_signed(tmp_path)
    monkeypatch.setattr(certifi, "where", lambda: str(cert))
    with https_server(cert, key) as tls, FeedServer() as plain:
        tls.route("/feed.xml", Route(body=FEED))
        moved = plain.route("/moved", Route(redirect_to=f"https://127.0.0.1:{tls.port}/feed.xml"))
        (result,) = fetch(moved)
    assert result.status == "ok" and result.body == FEED
