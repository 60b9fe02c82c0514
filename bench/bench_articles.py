"""Article benchmark (issue 28): one digest of 20 items whose links are 20 articles on 20 loopback hosts,
each answering after an injected latency; the digest (`bot digest --dry-run --json`, a whole process)
fetches and extracts them all. Measured in one run, with the same project each time:

- `off`: the digest with [articles] enabled = false (the floor: start-up, selection, rendering);
- `articles`: the same digest reading the 20 pages (wall time and CPU of the process);
- `cached`: the digest run again: every page comes from the store's cache, nothing is fetched;
- `half_hang`: half of the hosts never answer; the digest must still finish within its deadline.

    .venv/bin/python -m bench.bench_articles [--pages 20] [--latency 0.1] [--deadline 5]
    .venv/bin/python -m bench.bench_articles --compare   # trafilatura against jusText on saved pages

The servers run in this process, the digest in its own: their threads do not share its interpreter.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.conftest import cli_env
from tests.servers import FeedServer, Route, rss

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SUBJECTS = ["speculative decoding", "LoRA fine-tuning", "retrieval-augmented generation", "attention kernels",
            "diffusion models", "tool-using agents", "weight quantization", "scaling laws", "interpretability",
            "preference optimization"]


def article(n: int) -> bytes:
    """A page shaped like a blog post: banner, navigation, a long body, comments, footer (about 30 kB)."""
    subject = SUBJECTS[n % len(SUBJECTS)]
    body = "".join(
        f"<p>Paragraph {k} of post {n}: we looked again at {subject} with a fresh set of experiments, and the "
        f"numbers in this section compare the baseline with the new method over {k + 3} runs, each repeated "
        f"with different seeds so that the spread is visible as well as the mean.</p>" for k in range(80))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Notes on {subject} ({n})</title></head><body>"
            "<div class='cookie-banner'>We use cookies. <button>Accept</button></div>"
            "<nav>" + "".join(f"<a href='/s{k}'>Section {k}</a>" for k in range(30)) + "</nav>"
            f"<article><h1>Notes on {subject} ({n})</h1>{body}</article>"
            "<section class='comments'>" + "".join(f"<p>Comment {k}: nice post.</p>" for k in range(20)) +
            "</section><footer>Copyright 2026. All rights reserved.</footer></body></html>").encode()


@contextlib.contextmanager
def serve(pages: int, latency: float, hang: int = 0) -> Any:
    """`pages` articles, one per loopback host 127.0.0.2...; the first `hang` of them never answer."""
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(FeedServer(host=f"127.0.0.{n + 2}")) for n in range(pages)]
        urls = [s.route(f"/post/{n}", Route(body=article(n), content_type="text/html; charset=utf-8",
                                            delay=600 if n < hang else latency)) for n, s in enumerate(servers)]
        yield urls, servers


def make_project(folder: Path, urls: list[str], deadline: float) -> None:
    items = [{"title": f"Notes on {SUBJECTS[n % len(SUBJECTS)]} for language models, part {n}", "link": url,
              "pubDate": "Fri, 20 Nov 2026 10:00:00 GMT"} for n, url in enumerate(urls)]
    (folder / "feed.xml").write_bytes(rss(items))
    (folder / "library").mkdir()
    (folder / "bot.toml").write_text(
        f'[bot]\ndb = "bench.db"\ndigest_limit = {len(urls)}\n'
        f'topics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n'
        '[library]\npaths = ["library"]\n[hn]\nlookup = false\n'
        f'[articles]\ndeadline_seconds = {deadline}\nmax_pages = {len(urls)}\n'
        '[[feeds]]\nname = "feed"\nurl = "feed.xml"\n', encoding="utf-8")
    subprocess.run([sys.executable, "-m", "bot", "poll"], cwd=folder, env=cli_env(NOW), check=True,
                   capture_output=True, timeout=120)


def digest(folder: Path, enabled: bool = True) -> dict[str, Any]:
    """One dry-run digest as a process: wall seconds, CPU seconds (user + system), where its items' text came from."""
    config = folder / "bot.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[articles]\n", f"[articles]\nenabled = {'true' if enabled else 'false'}\n", 1),
                      encoding="utf-8")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bot", "digest", "--dry-run", "--json"], cwd=folder,
                          env=cli_env(NOW), capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    config.write_text(text, encoding="utf-8")
    if done.returncode != 0:
        raise SystemExit(f"bot digest failed: {done.stderr[-2000:]}")
    items = json.loads(done.stdout)["items"]
    sources: dict[str, int] = {}
    for item in items:
        sources[item["text_source"]] = sources.get(item["text_source"], 0) + 1
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "items": len(items), "text_sources": sources}


def run(pages: int = 20, latency: float = 0.1, deadline: float = 5.0) -> dict[str, Any]:
    result: dict[str, Any] = {"pages": pages, "latency_s": latency, "deadline_s": deadline}
    with tempfile.TemporaryDirectory(prefix="bench-articles-") as tmp:
        folder = Path(tmp) / "project"
        with serve(pages, latency) as (urls, servers):
            folder.mkdir()
            make_project(folder, urls, deadline)
            shutil.copy(folder / "bench.db", Path(tmp) / "polled.db")
            result["off"] = digest(folder, enabled=False)
            result["articles"] = digest(folder)
            asked = sum(len(s.requests) for s in servers)
            result["cached"] = digest(folder)
            result["cached"]["requests"] = sum(len(s.requests) for s in servers) - asked
        result["articles"]["requests"] = asked
        with serve(pages, latency, hang=pages // 2) as (urls, _servers):
            half = Path(tmp) / "half"
            half.mkdir()
            make_project(half, urls, deadline)
            result["half_hang"] = digest(half)
    a, off = result["articles"], result["off"]
    result["articles_over_off"] = {"wall": round(a["wall_s"] / off["wall_s"], 2),
                                   "cpu": round(a["cpu_s"] / off["cpu_s"], 2),
                                   "extra_wall_s": round(a["wall_s"] - off["wall_s"], 3),
                                   "extra_cpu_s": round(a["cpu_s"] - off["cpu_s"], 3)}
    result["half_hang_within_deadline"] = result["half_hang"]["wall_s"] <= off["wall_s"] + deadline + 1.0
    return result


def compare(repeat: int = 50) -> dict[str, Any]:
    """trafilatura (what the bot uses) against jusText (when installed) on the pages written for the
    project: the demo's saved pages and the benchmark's article. How much of the article's first
    sentence each keeps, whether furniture (cookie banner, navigation, comments) gets in, and ms a page."""
    import trafilatura

    try:
        import justext
    except ImportError:  # not a dependency of the bot: pip install justext to compare
        justext = None
    pages = {p.name: (p.read_bytes(), None) for p in sorted((ROOT / "bot" / "demo_data" / "pages").glob("*.html"))}
    pages["bench-article.html"] = (article(0), "Paragraph 0 of post 0")
    furniture = ("cookie", "Accept", "Section 1", "Comment 1", "All rights reserved", "Privacy", "Sign in")
    out: dict[str, Any] = {}

    def judge(name: str, text: str, seconds: float, first: str | None) -> dict[str, Any]:
        if first is None:  # the article's first plain paragraph (bylines and banners carry a class)
            found = re.search(r"<p>(.*?)</p>", pages[name][0].decode(), re.DOTALL)
            first = found.group(1) if found else ""
        return {"chars": len(text), "kept_first_paragraph": bool(first) and first[:60] in text,
                "furniture": [f for f in furniture if f in text], "ms": round(seconds * 1000, 2)}

    for name, (body, first) in pages.items():
        html = body.decode()
        started = time.perf_counter()
        for _ in range(repeat):
            text = trafilatura.extract(html, include_comments=False, include_tables=False,
                                       favor_precision=True) or ""
        row = {"trafilatura": judge(name, text, (time.perf_counter() - started) / repeat, first)}
        if justext is not None:
            started = time.perf_counter()
            for _ in range(repeat):
                paragraphs = justext.justext(body, justext.get_stoplist("English"))
                text = "\n".join(p.text for p in paragraphs if not p.is_boilerplate)
            row["justext"] = judge(name, text, (time.perf_counter() - started) / repeat, first)
        out[name] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--deadline", type=float, default=5.0)
    parser.add_argument("--compare", action="store_true", help="trafilatura against jusText on saved pages")
    args = parser.parse_args()
    if args.compare:
        print(json.dumps(compare(), indent=2))
        return
    print(json.dumps(run(args.pages, args.latency, args.deadline), indent=2))


if __name__ == "__main__":
    main()
