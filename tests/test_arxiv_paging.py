"""arXiv pages until it has the whole submitted-date window, up to its cap; beyond the cap the poll says
how many it left and its cursor does not pass them. Through `bot poll` as a process, against an arXiv
export API stand-in on 127.0.0.1 that filters by the query's window and honours its order and paging."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.conftest import ROOT, cli_env, write_config
from tests.servers import FeedServer, Route, arxiv_atom

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
_SYLLABLES = ["zor", "quil", "mar", "tes", "om", "van", "kel", "dus", "fen", "rab", "lio", "nek", "pra", "sul"]


def _name(k: int) -> str:
    """A distinct made-up word per paper, so no two titles are near-duplicates."""
    return "".join(_SYLLABLES[(k // 14 ** i) % 14] for i in range(4)).capitalize()


def papers(n: int, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """`n` papers submitted evenly over [since, until), oldest first."""
    step = (until - since) / n
    return [{"id": f"2611.{k:05d}", "title": f"{_name(k)} {_name(k * 7 + 3)} of {_name(k * 13 + 5)} graphs",
             "published": (since + step * k).strftime("%Y-%m-%dT%H:%M:%SZ")} for k in range(n)]


class ArxivStandIn:
    """The export API as far as the poll uses it: submittedDate:[A TO B] (minutes, inclusive), sortOrder,
    start and max_results; totalResults is the window's count. Every request is remembered with its time."""

    def __init__(self, all_papers: list[dict[str, Any]]) -> None:
        self.papers = all_papers
        self.asked: list[dict[str, Any]] = []

    def handler(self, request: BaseHTTPRequestHandler) -> None:
        import time

        query = parse_qs(urlsplit(request.path).query)
        low, high = re.search(r"submittedDate:\[(\d{12}) TO (\d{12})\]", query["search_query"][0]).groups()  # type: ignore[union-attr]

        def minute(p: dict[str, Any]) -> str:
            return re.sub(r"\D", "", p["published"])[:12]

        window = [p for p in self.papers if low <= minute(p) <= high]
        if query.get("sortOrder", ["descending"])[0] == "descending":
            window = window[::-1]
        start, size = int(query["start"][0]), int(query["max_results"][0])
        self.asked.append({"at": time.monotonic(), "start": start, "low": low, "order": query["sortOrder"][0]})
        body = arxiv_atom(window[start:start + size], total=len(window), start=start)
        request.send_response(200)
        request.send_header("Content-Type", "application/atom+xml")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


def setup(folder: Path, url: str, extra: str = "", interval: float = 0.05) -> None:
    (folder / "library").mkdir()
    (folder / "library" / "log.md").write_text("## 2 January 2026\n* [A post](https://a.example/post)\n")
    write_config(folder, f'[bot]\ndb = "bot.db"\ntopics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n'
                         '[library]\npaths = ["library"]\n[hn]\nlookup = false\n'
                         f'[[feeds]]\nname = "arxiv"\nkind = "arxiv"\nurl = "{url}"\nlookback_days = 3\n'
                         f"min_interval = {interval}\n{extra}")


def bot(folder: Path, now: datetime, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=folder, env=cli_env(now), capture_output=True,
                          text=True, timeout=300)


def test_a_busy_window_is_fetched_whole_one_request_at_a_time(tmp_path: Path) -> None:
    arxiv = ArxivStandIn(papers(2600, NOW - timedelta(days=2, hours=12), NOW))
    with FeedServer() as server:
        setup(tmp_path, server.route("/api/query", Route(handler=arxiv.handler)), interval=0.2)
        done = bot(tmp_path, NOW, "poll", "--json")
    assert done.returncode == 0, done.stderr
    source = json.loads(done.stdout)["sources"][0]
    assert (source["fetched"], source["result"], source.get("left", 0)) == (2600, "ok", 0)
    assert [a["start"] for a in arxiv.asked] == [200 * k for k in range(13)]
    # One request at a time, never closer than the feed's min_interval (3 s for arXiv by default). The
    # server sees arrivals, which a loaded machine can bunch by some milliseconds: an interval of 0.2 s
    # against a bound of 0.15 s tells spacing from none without timing the machine.
    gaps = [b["at"] - a["at"] for a, b in zip(arxiv.asked, arxiv.asked[1:], strict=False)]
    assert min(gaps) >= 0.15


def test_beyond_the_cap_the_poll_says_what_it_left_and_the_next_poll_resumes_there(tmp_path: Path) -> None:
    arxiv = ArxivStandIn(papers(700, NOW - timedelta(days=2), NOW))
    with FeedServer() as server:
        setup(tmp_path, server.route("/api/query", Route(handler=arxiv.handler)), "page_size = 100\nmax_pages = 3\n")
        first = bot(tmp_path, NOW, "poll")
        status = bot(tmp_path, NOW, "status")
        status_json = bot(tmp_path, NOW, "status", "--json")
        reports, when = [], NOW
        while len(reports) < 5 and (not reports or reports[-1]["left"]):
            when += timedelta(hours=1)
            done = bot(tmp_path, when, "poll", "--json")
            assert done.returncode == 0, done.stderr
            reports.append(json.loads(done.stdout)["sources"][0])
    assert first.returncode == 0, first.stderr
    assert "arxiv: 400 more results beyond its paging cap (max_pages) left for the next poll" in first.stdout
    assert "arxiv: 400 more results beyond its paging cap (max_pages) left for the next poll" in status.stdout
    stats = json.loads(status_json.stdout)["sources"][0]["stats"]
    assert (stats["fetched"], stats["new"] + stats["off_topic"], stats["left"]) == (300, 300, 400)
    # The cursor stopped at the newest paper the first poll had (less arXiv's listing overlap), so the later
    # polls start inside the first one's window and, between them, bring every paper that was left.
    first_low = arxiv.asked[0]["low"]
    assert first_low < arxiv.asked[3]["low"] < datetime.strftime(NOW - timedelta(hours=12), "%Y%m%d%H%M")
    assert reports[-1]["left"] == 0 and len(reports) < 5
    assert 300 + sum(r["new"] + r["off_topic"] for r in reports) == 700  # stored once each, none lost
