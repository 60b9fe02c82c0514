"""Real HTTP servers on 127.0.0.1 for tests and benchmarks: feeds with injected latency and faults,
conditional GET, redirects, endless and compressed bodies. Each request is recorded."""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Loopback:
    """Runs a ThreadingHTTPServer with the given handler on a loopback address, as a context manager."""

    def _serve(self, handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1") -> None:
        self.httpd = ThreadingHTTPServer((host, 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.request_queue_size = 256
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _answer(handler: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str,
            headers: dict[str, str] | None = None) -> None:
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            handler.send_header(k, v)
        handler.end_headers()
        handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    etag: str | None = None  # answer 304 to a matching If-None-Match
    drip: float = 0.0  # seconds between 1-byte writes of the body
    endless: bool = False  # stream zeros until the client goes away
    gzip: bool = False
    redirect_to: str | None = None
    redirect_status: int = 302  # 301 or 308 say the feed moved for good
    handler: Callable[[BaseHTTPRequestHandler], None] | None = None


class FeedServer(_Loopback):
    """`with FeedServer() as s: s.route("/a.xml", Route(body=...)); s.url("/a.xml")`."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.routes: dict[str, Route] = {}
        self.requests: list[dict[str, Any]] = []
        self.connections = 0  # open now
        self.most_connections = 0  # the most open at once: what per-host politeness bounds
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server.connections += 1
                    server.most_connections = max(server.most_connections, server.connections)

            def finish(self) -> None:
                try:
                    super().finish()
                finally:
                    with server._lock:
                        server.connections -= 1

            def do_GET(self) -> None:  # noqa: N802
                path = self.path
                with server._lock:
                    server.requests.append({"path": path, "headers": dict(self.headers)})
                route = server.routes.get(path) or server.routes.get(path.split("?", 1)[0])
                if route is None:
                    self._send(404, b"not found", "text/plain")
                    return
                if route.delay:
                    time.sleep(route.delay)
                if route.handler:
                    route.handler(self)
                    return
                if route.redirect_to:
                    self.send_response(route.redirect_status)
                    self.send_header("Location", route.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if route.etag and self.headers.get("If-None-Match") == route.etag:
                    self.send_response(304)
                    self.send_header("ETag", route.etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                try:
                    if route.endless:
                        self._endless(route)
                    elif route.drip:
                        self._drip(route)
                    else:
                        body = gzip.compress(route.body) if route.gzip else route.body
                        self._send(route.status, body, route.content_type, route)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _send(self, status: int, body: bytes, ctype: str, route: Route | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                if route is not None:
                    if route.gzip:
                        self.send_header("Content-Encoding", "gzip")
                    if route.etag:
                        self.send_header("ETag", route.etag)
                    for k, v in route.headers.items():
                        self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _endless(self, route: Route) -> None:
                self.send_response(200)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Connection", "close")
                self.end_headers()
                chunk = b"<rss>" + b"0" * 65536
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    self.wfile.write(chunk)

            def _drip(self, route: Route) -> None:
                self.send_response(200)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                for byte in route.body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(route.drip)

        self._serve(Handler, host)

    def route(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r["path"].split("?", 1)[0] == path)


def gzip_bomb(size: int = 200 * 1024 * 1024) -> bytes:
    """A small gzip body that expands to `size` bytes of zeros."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * (1024 * 1024)
    parts = [comp.compress(zeros) for _ in range(size // len(zeros))]
    parts.append(comp.flush())
    return b"".join(parts)


def rss(items: list[dict[str, str]], title: str = "Test feed") -> bytes:
    """An RSS 2.0 document; each item dict may have title, link, guid, comments, description, pubDate."""
    out = [f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
           "<link>https://example.org/</link><description>t</description>"]
    for it in items:
        out.append("<item>")
        for key in ("title", "link", "guid", "comments", "description", "pubDate"):
            if key in it:
                out.append(f"<{key}><![CDATA[{it[key]}]]></{key}>")
        out.append("</item>")
    out.append("</channel></rss>")
    return "".join(out).encode("utf-8")


def atom(entries: list[dict[str, str]], title: str = "Test atom") -> bytes:
    out = ['<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">',
           f"<title>{title}</title><id>urn:test</id><updated>2026-11-20T00:00:00Z</updated>"]
    for e in entries:
        out.append(f"<entry><title>{e['title']}</title><link href=\"{e['link']}\"/><id>{e.get('id', e['link'])}</id>"
                   f"<updated>{e.get('updated', '2026-11-20T00:00:00Z')}</updated>"
                   f"<summary>{e.get('summary', '')}</summary></entry>")
    out.append("</feed>")
    return "".join(out).encode("utf-8")


def arxiv_atom(papers: list[dict[str, Any]], total: int | None = None, start: int = 0) -> bytes:
    """An arXiv export API answer: entries with id http://arxiv.org/abs/ID vN, categories, abstract."""
    out = ['<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
           'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom">',
           "<title>arXiv Query</title><id>http://arxiv.org/api/x</id><updated>2026-11-20T00:00:00-05:00</updated>",
           f"<opensearch:totalResults>{total if total is not None else len(papers)}</opensearch:totalResults>",
           f"<opensearch:startIndex>{start}</opensearch:startIndex>",
           f"<opensearch:itemsPerPage>{len(papers)}</opensearch:itemsPerPage>"]
    for p in papers:
        cats = "".join(f'<category term="{c}" scheme="http://arxiv.org/schemas/atom"/>' for c in p.get("cats", ["cs.CL"]))
        out.append(
            f"<entry><id>http://arxiv.org/abs/{p['id']}v{p.get('v', 1)}</id>"
            f"<updated>{p.get('published', '2026-11-20T10:00:00Z')}</updated>"
            f"<published>{p.get('published', '2026-11-20T10:00:00Z')}</published>"
            f"<title>{p['title']}</title><summary>{p.get('summary', 'An abstract.')}</summary>"
            f"<author><name>A. Author</name></author>"
            f'<link href="http://arxiv.org/abs/{p["id"]}v{p.get("v", 1)}" rel="alternate" type="text/html"/>'
            f'<arxiv:primary_category term="{p.get("cats", ["cs.CL"])[0]}"/>{cats}</entry>'
        )
    out.append("</feed>")
    return "".join(out).encode("utf-8")


def algolia(hits: list[dict[str, Any]], nb_hits: int | None = None) -> bytes:
    import json

    full = []
    for h in hits:
        full.append({"created_at": h.get("created_at", "2026-11-20T10:00:00.000Z"),
                     "created_at_i": h.get("created_at_i", 1795000000), "title": h["title"], "url": h.get("url"),
                     "points": h.get("points", 100), "num_comments": h.get("num_comments", 10),
                     "objectID": str(h["id"]), "_tags": ["story", f"story_{h['id']}"], "story_text": h.get("text")})
    return json.dumps({"hits": full, "nbHits": nb_hits if nb_hits is not None else len(full), "page": 0,
                       "nbPages": 1, "hitsPerPage": 1000}).encode()


class SlackReceiver(_Loopback):
    """An incoming-webhook and chat.postMessage receiver on 127.0.0.1. `script` is a list of
    behaviours for the next requests; when it runs out, "ok". "500"; "429" (Retry-After 1) or "429:N"
    (Retry-After N); "hang" (answers ok after hang_seconds: the message is posted); "stall" (holds the
    request hang_seconds, then drops it unanswered: never posted); "invalid_blocks_400" and
    "invalid_blocks_200" (Slack's rejection of the blocks, as HTTP 400 or as a 200 with that body /
    ok:false); "echo_400" (a rejection whose body echoes the credential: the webhook's path, or the
    bot token)."""

    def __init__(self, hang_seconds: float = 3.0) -> None:
        import json as _json

        self.posts: list[dict[str, Any]] = []  # every request that reached us, in order
        self.accepted: list[dict[str, Any]] = []  # the ones we answered ok (Slack would show these)
        self.script: list[str] = []
        self.reads = 0  # conversations.history / replies calls
        self.history_scope = True  # False: answer history reads with missing_scope
        # Slack stamps messages with its own wall clock: so does this receiver (seconds, then a counter).
        self.ts_base = int(time.time())
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                ctype = self.headers.get("Content-Type", "")
                if "json" in ctype:
                    payload = _json.loads(raw or b"{}")
                else:  # the Web API client may send form data
                    from urllib.parse import parse_qsl

                    payload = dict(parse_qsl(raw.decode()))
                    for key in ("blocks",):
                        if isinstance(payload.get(key), str):
                            payload[key] = _json.loads(payload[key])
                if self.path.startswith(("/api/conversations.history", "/api/conversations.replies")):
                    # As Slack answers: newest first, only those after `oldest`, `limit` a page, a cursor on.
                    from urllib.parse import parse_qsl as _qsl
                    from urllib.parse import urlsplit as _split

                    asked = {**dict(_qsl(_split(self.path).query)), **{k: str(v) for k, v in payload.items()}}
                    oldest = float(asked.get("oldest") or 0)
                    limit = min(int(asked.get("limit") or 100), 1000)
                    start = int(asked.get("cursor") or 0)
                    with receiver._lock:
                        receiver.reads += 1
                        messages = [{"ts": m["ts"], "text": m["payload"].get("text"),
                                     "metadata": m["payload"].get("metadata")}
                                    for m in reversed(receiver.accepted) if m["path"] == "/api/chat.postMessage"
                                    and float(m["ts"]) > oldest]
                    page, more = messages[start:start + limit], start + limit < len(messages)
                    if receiver.history_scope:
                        self._answer(200, _json.dumps({
                            "ok": True, "messages": page, "has_more": more,
                            "response_metadata": {"next_cursor": str(start + limit) if more else ""}}).encode(),
                                     ctype="application/json")
                    else:
                        self._answer(200, b'{"ok": false, "error": "missing_scope"}', ctype="application/json")
                    return
                if isinstance(payload.get("metadata"), str):
                    payload["metadata"] = _json.loads(payload["metadata"])
                with receiver._lock:
                    receiver.posts.append({"path": self.path, "payload": payload,
                                           "auth": self.headers.get("Authorization")})
                    action = receiver.script.pop(0) if receiver.script else "ok"
                if action == "hang":
                    time.sleep(hang_seconds)
                    with receiver._lock:
                        ts = f"{receiver.ts_base}.{len(receiver.accepted) + 1:06d}"
                        receiver.accepted.append({"path": self.path, "payload": payload, "ts": ts})
                    self._answer(200, b"ok")
                    return
                if action == "stall":
                    time.sleep(hang_seconds)
                    self.close_connection = True
                    return
                api = self.path.startswith("/api/")
                if action == "500":
                    self._answer(500, b"internal_error")
                    return
                if action.startswith("429"):
                    wait = action.partition(":")[2] or "1"
                    body = b'{"ok": false, "error": "ratelimited"}' if api else b"rate_limited"
                    self._answer(429, body, {"Retry-After": wait}, ctype="application/json" if api else "text/plain")
                    return
                if action == "echo_400":
                    if api:
                        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                        self._answer(400, _json.dumps({"ok": False, "error": f"invalid_auth for {token}"}).encode(),
                                     ctype="application/json")
                    else:
                        self._answer(400, b"no_service: " + self.path.removeprefix("/services/").encode())
                    return
                if action.startswith("invalid_blocks_"):
                    status = int(action.rpartition("_")[2])
                    if api:
                        self._answer(status, b'{"ok": false, "error": "invalid_blocks"}', ctype="application/json")
                    else:
                        self._answer(status, b"invalid_blocks")
                    return
                with receiver._lock:
                    ts = f"{receiver.ts_base}.{len(receiver.accepted) + 1:06d}"
                    receiver.accepted.append({"path": self.path, "payload": payload, "ts": ts})
                if self.path.startswith("/api/"):
                    self._answer(200, _json.dumps({"ok": True, "channel": "C1", "ts": ts}).encode(),
                                 ctype="application/json")
                else:
                    self._answer(200, b"ok")

            def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None,
                        ctype: str = "text/plain") -> None:
                _answer(self, status, body, ctype, headers)

        self._serve(Handler)

    def chatter(self, count: int) -> None:
        """`count` messages by other people, posted to the channel after everything so far."""
        with self._lock:
            for _ in range(count):
                ts = f"{self.ts_base}.{len(self.accepted) + 1:06d}"
                self.accepted.append({"path": "/api/chat.postMessage", "ts": ts,
                                      "payload": {"text": "unrelated chatter", "metadata": None}})

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/T000/B000/XXXXSECRETXXXX"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"


class OpenAIServer(_Loopback):
    """An OpenAI-compatible /v1/chat/completions endpoint on 127.0.0.1, answering in the shape of
    the recorded responses. `script` holds behaviours for the next requests: "ok", "500", "hang",
    "malformed", "length", "refusal", "drip" (a good answer, one byte every `drip_seconds`), "401"
    (echoes the key it was sent, as some servers do), or any other string, returned as the content."""

    def __init__(self, hang_seconds: float = 3.0, drip_seconds: float = 5.0) -> None:
        import json as _json

        self.requests: list[dict[str, Any]] = []
        self.dropped: list[float] = []  # when a client went away in the middle of a dripped answer
        self.script: list[str] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = _json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with server._lock:
                    server.requests.append({"path": self.path, "body": body,
                                            "auth": self.headers.get("Authorization")})
                    action = server.script.pop(0) if server.script else "ok"
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, b'{"error": {"message": "not found"}}')
                    return
                if action == "hang":
                    time.sleep(hang_seconds)
                if action == "500":
                    self._send(500, b'{"error": {"message": "internal error", "type": "server_error"}}')
                    return
                if action == "401":
                    key = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                    self._send(401, _json.dumps({"error": {"message": f"Incorrect API key provided: {key}",
                                                           "type": "invalid_request_error"}}).encode())
                    return
                if action == "malformed":
                    self._send(200, b'{"id": "chatcmpl-x", "choices": [{"message": ')
                    return
                user = body["messages"][-1]["content"]
                title = user.split("Title: ", 1)[-1].split("\n", 1)[0]
                content: str | None = f"A concise look at {title.lower()} and why it matters."
                finish, refusal = "stop", None
                if action == "length":
                    finish = "length"
                elif action == "refusal":
                    content, refusal = None, "I can't help with that."
                elif action not in ("ok", "hang", "drip"):
                    content = action
                answer = {"id": "chatcmpl-test", "object": "chat.completion", "created": 1727346142,
                          "model": body.get("model", "gpt-4o-mini"),
                          "choices": [{"index": 0, "message": {"role": "assistant", "content": content,
                                                               "refusal": refusal},
                                       "logprobs": None, "finish_reason": finish}],
                          "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}}
                if action == "drip":
                    self._drip(_json.dumps(answer).encode())
                    return
                self._send(200, _json.dumps(answer).encode())

            def _send(self, status: int, body: bytes) -> None:
                _answer(self, status, body, "application/json")

            def _drip(self, body: bytes) -> None:
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    for byte in body:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(drip_seconds)
                except (BrokenPipeError, ConnectionResetError):
                    with server._lock:
                        server.dropped.append(time.monotonic())

        self._serve(Handler)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"
