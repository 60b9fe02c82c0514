"""A season of a person's life with the bot: several weeks against loopback feeds and a loopback Slack, the
clock moved through BOT_NOW, the CLI as a process. The person edits the log by hand, deletes lines from
an appended digest, adds and removes library documents, runs commands from other folders, restores the
database from a copy, unsubscribes a feed, keeps unstaged edits in the log's git repository with a slow
pre-commit hook. After every step the invariants hold:

- the library's entries are what the documents hold;
- nothing the log holds is offered;
- nothing the person deleted in review comes back;
- no Slack post is sent twice;
- git history holds only the bot's own appends.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.library.documents import document_paths, read_document
from bot.library.parser import parse_document
from tests.conftest import ROOT, cli_env
from tests.servers import FeedServer, Route, SlackReceiver, rss

pytestmark = pytest.mark.slow

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday
LOG = """# Reading log

## 12 October 2026

* [Speculative decoding for faster LLM inference](https://a.example/spec)

## 19 October 2026

* [Mixture of experts routing at scale](https://c.example/moe)

## 26 October 2026

* [Quantized attention kernels for transformers](https://d.example/kernels)
"""
TOPICS = ["LLM inference", "large language models", "transformers", "fine-tuning LLMs", "RAG for LLM agents",
          "attention kernels", "LLM evaluation", "diffusion models", "reinforcement learning from feedback"]


def week_items(feed: str, week: int) -> list[dict[str, str]]:
    day = (START + timedelta(days=7 * week - 2)).strftime("%a, %d %b %Y 10:00:00 GMT")
    return [{"title": f"{TOPICS[(n + week) % len(TOPICS)].capitalize()}: {feed} notes, week {week} part {n}",
             "link": f"https://{feed}.example/w{week}/{n}", "pubDate": day} for n in range(4)]


class Season:
    def __init__(self, home: Path, feeds: FeedServer, slack: SlackReceiver) -> None:
        self.home = home
        self.feeds = feeds
        self.slack = slack
        self.now = START
        self.deleted: set[str] = set()  # links of appended lines the person deleted
        self.person_marks: list[str] = []  # text only the person's own edits contain
        self.subscribed = ["blog", "news"]

    # -- the person's world ---------------------------------------------------------------------
    @property
    def log(self) -> Path:
        return self.home / "notes" / "log.md"

    def configure(self) -> None:
        feeds = "".join(f'[[feeds]]\nname = "{f}"\nurl = "{self.feeds.url(f"/{f}.xml")}"\n' for f in self.subscribed)
        (self.home / "bot.toml").write_text(
            f'[bot]\ndb = "bot.db"\nlog = "notes/log.md"\n'
            f'topics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n'
            f'[library]\npaths = ["notes"]\n[hn]\nlookup = false\n[git]\ntimeout_seconds = 60\n{feeds}',
            encoding="utf-8")

    def serve(self, week: int) -> None:
        for f in ("blog", "news"):
            # A feed shows this week's items and last week's (the person deleted some of those).
            self.feeds.route(f"/{f}.xml", Route(body=rss([*week_items(f, week), *week_items(f, week - 1)])))

    def bot(self, *args: str, cwd: Path | None = None, ok: bool = True) -> str:
        env = cli_env(self.now, SLACK_WEBHOOK_URL=self.slack.webhook_url)
        done = subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd or self.home, env=env,
                              capture_output=True, text=True, timeout=120)
        assert not ok or done.returncode == 0, (args, done.stderr)
        return done.stdout

    def git(self, *args: str) -> str:
        return subprocess.run(["git", "-C", str(self.home / "notes"), *args], capture_output=True, text=True,
                              check=True, timeout=60).stdout

    # -- the invariants --------------------------------------------------------------------------
    def check(self, step: str) -> None:
        # A command that dedupes (the digest's dry run) first brings the library up to date.
        offered = [i["url"] for i in json.loads(self.bot("digest", "--dry-run", "--json"))["items"]]
        expected = sum(len(parse_document(read_document(p), str(p))) for p in document_paths([self.home / "notes"]))
        stats = json.loads(self.bot("library", "stats", "--json"))
        assert stats["entries"] == expected, f"{step}: library {stats['entries']} != documents {expected}"
        text = self.log.read_text()
        assert not [u for u in offered if f"({u})" in text], f"{step}: offered what the log holds"
        assert not self.deleted & set(offered), f"{step}: offered what the person deleted"
        posted = [json.dumps(m["payload"]) for m in self.slack.accepted]
        for link in {u for p in posted for u in self.links_in(p)}:
            assert sum(link in p for p in posted) == 1, f"{step}: {link} posted twice"
        for commit in self.git("log", "--format=%H %s").splitlines():
            sha, subject = commit.split(" ", 1)
            if not subject.startswith("digest: "):
                continue
            assert self.git("show", "--name-only", "--format=", sha).split() == ["log.md"], step
            diff = self.git("show", "--format=", sha)
            changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
            assert all(line.startswith("+") for line in changed), f"{step}: a bot commit removed lines"
            assert not any(mark in diff for mark in self.person_marks), f"{step}: a person's edit in a bot commit"

    @staticmethod
    def links_in(payload: str) -> set[str]:
        import re

        return set(re.findall(r"https://(?:blog|news)\.example/w\d+/\d", payload))

    # -- the steps -------------------------------------------------------------------------------
    def poll(self, cwd: Path | None = None) -> dict[str, int]:
        args = ("--config", str(self.home / "bot.toml")) if cwd else ()
        return dict(json.loads(self.bot(*args, "poll", "--json", cwd=cwd))["totals"])

    def digest(self) -> list[str]:
        before = self.log.read_text()
        self.bot("digest", "--commit")
        return [line for line in self.log.read_text().splitlines() if line not in before.splitlines()]


def test_a_season_of_use_keeps_the_ground_truth(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "notes").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with FeedServer() as feeds, SlackReceiver() as slack:
        s = Season(home, feeds, slack)
        s.log.write_text(LOG, encoding="utf-8")
        (home / "notes" / "papers.md").write_text("+ [Attention is all you need](https://arxiv.org/abs/1706.03762)\n")
        s.git("init", "-q", "-b", "main")
        s.git("config", "user.email", "person@example.com")
        s.git("config", "user.name", "Person")
        s.git("add", "log.md", "papers.md")
        s.git("commit", "-qm", "my notes")
        hook = home / "notes" / ".git" / "hooks" / "pre-commit"
        hook.write_text("#!/bin/sh\nsleep 2\n")
        hook.chmod(0o755)
        s.configure()
        s.check("start")

        # Week 1: poll, digest; the person deletes one appended line and logs a find by hand.
        s.serve(1)
        s.poll()
        added = s.digest()
        assert any("/w1/" in line for line in added)
        s.check("week 1 digest")
        gone = next(line for line in added if "blog.example/w1/" in line)
        s.deleted.add(gone[gone.index("(https://") + 1:gone.index(")", gone.index("(https://"))])
        by_hand = "* [My own find: RAG for LLM agents](https://news.example/w2/0) - person-mark-1"
        s.person_marks.append("person-mark-1")
        s.log.write_text(s.log.read_text().replace(gone + "\n", "") + by_hand + "\n")
        shutil.copy(home / "bot.db", tmp_path / "backup.db")  # the person's backup, taken mid-week
        s.check("week 1 review")

        # Week 2: a poll from another folder; the hand-logged item and the deleted one are known.
        s.now += timedelta(days=7)
        s.serve(2)
        totals = s.poll(cwd=elsewhere)
        assert totals.get("known", 0) >= 1
        s.check("week 2 poll from elsewhere")
        (home / "notes" / "papers.md").unlink()  # a document removed
        (home / "notes" / "more.md").write_text("+ [Direct preference optimization](https://arxiv.org/abs/2305.18290)\n")
        s.digest()  # committed with the person's deletion and hand-logged line still unstaged
        s.check("week 2 digest")
        status = json.loads(s.bot("status", "--json"))["review"]
        assert status["deleted"] == 1

        # Week 3: the database restored from the backup; a feed unsubscribed.
        s.now += timedelta(days=7)
        for side in ("-wal", "-shm"):
            (home / f"bot.db{side}").unlink(missing_ok=True)
        shutil.copy(tmp_path / "backup.db", home / "bot.db")
        s.subscribed = ["blog"]
        s.configure()
        s.serve(3)
        s.poll()
        s.check("week 3 restored poll")
        s.digest()
        s.check("week 3 digest")

        # Week 4: a plain week after all that.
        s.now += timedelta(days=7)
        s.serve(4)
        s.poll(cwd=elsewhere)
        s.digest()
        s.check("week 4 digest")
        assert s.git("diff", "--", "log.md").count("person-mark-1") == 1  # still the person's, unstaged
