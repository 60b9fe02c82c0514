"""`bot eval`: week-by-week replay of an archive against the person's own dated picks."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli.group import cli
from tests.conftest import ROOT, SEEDS
from tests.servers import arxiv_atom, rss

LOG = """## 2023 Log
## 02 January 2023
* [Old favourite about transformers](https://old.example/transformers) and [HN thread](https://news.ycombinator.com/item?id=1000)
## 11 January 2023
* [Fine-tuning LLMs with LoRA adapters](https://lora.example/guide) and [HN thread](https://news.ycombinator.com/item?id=2001)
"""


def day(items: list[tuple[int, str, str, int]]) -> bytes:
    return rss([{"title": t, "link": url, "comments": f"https://news.ycombinator.com/item?id={hn}",
                 "description": f"<p>Points: {pts}</p><p># Comments: 3</p>", "pubDate": "Mon, 09 Jan 2023 10:00:00 GMT"}
                for hn, t, url, pts in items])


def write_project(tmp: Path) -> None:
    (tmp / "library").mkdir()
    (tmp / "library" / "log.md").write_text(LOG)
    archive = tmp / "archive"
    archive.mkdir()
    noise = [(3000 + n, f"Local bakery opens branch number {n}", f"https://bakery.example/{n}", 500 + n) for n in range(30)]
    (archive / "2023-01-09.xml").write_bytes(day([
        (2001, "Fine-tuning LLMs with LoRA adapters, a guide", "https://lora.example/guide", 12),
        (1000, "Old favourite about transformers", "https://old.example/transformers", 80),
        *noise[:15]]))
    (archive / "2023-01-10.xml").write_bytes(day(noise[15:]))
    (archive / "2023-01-20.xml").write_bytes(day([(4000, "Nothing the person picked", "https://x.example/", 5)]))
    (tmp / "bot.toml").write_text(
        f'[bot]\nlog = "library/log.md"\ntopics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n'
        '[library]\npaths = ["library"]\n')


def test_replay_measures_recall_against_baselines(workdir: Path) -> None:
    write_project(workdir)
    result = CliRunner().invoke(cli, ["eval", "archive", "--json", "--limit", "5"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["weeks"] == 1 and report["picks"] == 1 and report["k"] == 5
    week = report["per_week"][0]
    assert week["week"] == "2023-01-09"
    assert week["recall"]["bot"] == 1.0  # the LoRA guide, low in points, is in the digest's top 5
    assert week["recall"]["points"] == 0.0  # the bakery stories have more points
    (detail,) = week["detail"]
    assert detail["rank_bot"] == 1 and detail["title"].startswith("Fine-tuning LLMs")
    # Logged on 11 January, so not yet in the library during that week; the 2 January entry was,
    # so its story is known and is not a pick.
    assert report["overall"]["bot"]["recall_micro"] == 1.0


def test_a_story_logged_in_two_lines_is_one_pick(workdir: Path) -> None:
    write_project(workdir)
    log = workdir / "library" / "log.md"
    # the article on one line, its HN thread on the next: the same story, so one pick
    log.write_text(LOG.replace(
        "and [HN thread](https://news.ycombinator.com/item?id=2001)\n",
        "\n* Discussed in this [HN thread](https://news.ycombinator.com/item?id=2001)\n"))
    result = CliRunner().invoke(cli, ["eval", "archive", "--json", "--limit", "5"], catch_exceptions=False)
    report = json.loads(result.stdout)
    assert report["picks"] == 1, report["per_week"]
    (detail,) = report["per_week"][0]["detail"]
    assert detail["rank_bot"] == 1


def test_a_story_still_on_the_front_page_next_week_is_polled_in_its_first_week_only(workdir: Path) -> None:
    write_project(workdir)
    archive = workdir / "archive"
    carried = (5000, "LLM inference on a laptop, measured", "https://carried.example/", 40)
    (archive / "2023-01-15.xml").write_bytes(day([carried]))  # a Sunday: week of 9 January
    (archive / "2023-01-16.xml").write_bytes(day([
        carried, (6000, "Prompt engineering patterns, illustrated", "https://prompts.example/", 9)]))
    log = workdir / "library" / "log.md"
    log.write_text(LOG + "## 17 January 2023\n* [Prompt engineering patterns](https://prompts.example/)\n")
    result = CliRunner().invoke(cli, ["eval", "archive", "--json", "--limit", "5"], catch_exceptions=False)
    report = json.loads(result.stdout)
    weeks = {w["week"]: w for w in report["per_week"]}
    # A running bot found the carried story known on Monday: it went out in the first week's digest.
    assert weeks["2023-01-16"]["items"] == 2  # the new story and the 20 January one
    assert weeks["2023-01-16"]["recall"]["bot"] == 1.0
    assert weeks["2023-01-09"]["items"] == 32  # 33 stories, one of them already in the library


def test_human_table(workdir: Path) -> None:
    write_project(workdir)
    result = CliRunner().invoke(cli, ["eval", "archive"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "recall@20" in result.stdout and "overall" in result.stdout


def test_missing_archive_is_a_usage_error(workdir: Path) -> None:
    write_project(workdir)
    result = CliRunner().invoke(cli, ["eval", "nope"])
    assert result.exit_code == 2


def write_papers(tmp: Path) -> None:
    """An arXiv archive beside the front pages of the week of 9 January: the paper that HN discussed on
    the 10th, and twenty on-topic papers nobody picked; a day of the next week too."""
    papers = tmp / "papers"
    papers.mkdir()
    (papers / "2023-01-09.xml").write_bytes(arxiv_atom([
        {"id": "2301.00001", "title": "Routing tokens in a mixture of experts LLM",
         "published": "2023-01-09T00:00:00Z"},
        *({"id": f"2301.{100 + n:05d}", "title": f"Large language models for task {n} ({chr(65 + n)} study)",
           "published": "2023-01-09T00:00:00Z"} for n in range(20))]))
    for d in ("10", "11", "12", "16"):
        (papers / f"2023-01-{d}.xml").write_bytes(arxiv_atom([
            {"id": f"2301.2{d}00", "title": f"Yet another large language model benchmark, day {d}",
             "published": f"2023-01-{d}T00:00:00Z"}]))
    archive = tmp / "archive"
    (archive / "2023-01-11.xml").write_bytes(day([
        (7000, "Routing tokens in a mixture of experts LLM [pdf]", "https://arxiv.org/pdf/2301.00001.pdf", 150)]))
    (archive / "2023-01-12.xml").write_bytes(day([(7001, "Gardening tips", "https://garden.example/", 50)]))
    log = tmp / "library" / "log.md"
    # The paper on one line and its HN thread on the next: one pick.
    log.write_text(LOG + "* [Routing tokens](https://arxiv.org/abs/2301.00001)\n"
                         "* its [HN thread](https://news.ycombinator.com/item?id=7000)\n")


def test_several_archives_replay_as_one_stream(workdir: Path) -> None:
    write_project(workdir)
    write_papers(workdir)
    result = CliRunner().invoke(cli, ["eval", "archive", "--also", "papers", "--json", "--limit", "5"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["archives"] == ["archive", "papers"] and report["baseline"] == "archive"
    # only the week of 9 January: the archive of front pages has one day of the next week, not four
    assert [w["week"] for w in report["per_week"]] == ["2023-01-09"]
    week = report["per_week"][0]
    # The LoRA story, and the paper with its HN thread: two picks, not three
    assert week["picks"] == 2
    by_title = {d["title"]: d for d in week["detail"]}
    paper = next(d for t, d in by_title.items() if "Routing tokens" in (t or ""))
    assert paper["sources"] == "archive+papers"  # the paper and the HN story about it are one item
    assert week["recall"]["bot"] == 1.0 and week["recall"]["first_archive_only"] == 1.0
    # Twenty-four on-topic papers do not push the person's picks out of five slots; only two stories
    # are on topic, so papers take the other three.
    assert week["slots"] == {"archive": 1, "archive+papers": 1, "papers": 3}
    assert week["picks_by_source"] == {"archive": 1, "archive+papers": 1}
    assert set(report["slot_share"]) <= {"archive", "papers", "archive+papers"}
    assert report["pick_share"] == {"archive": {"count": 1, "share": 0.5},
                                    "archive+papers": {"count": 1, "share": 0.5}}
    assert report["overall"]["first_archive_only"]["hits"] == 2
    assert all(item["model"]["kind"] in ("hn", "paper") for item in week["digest"])
    # Several positional archives are the same as --also.
    again = CliRunner().invoke(cli, ["eval", "archive", "papers", "--json", "--limit", "5"], catch_exceptions=False)
    assert json.loads(again.stdout)["per_week"] == report["per_week"]


def test_several_archives_in_the_table(workdir: Path) -> None:
    write_project(workdir)
    write_papers(workdir)
    result = CliRunner().invoke(cli, ["eval", "archive", "papers", "--limit", "5"], catch_exceptions=False,
                                terminal_width=200)
    assert result.exit_code == 0
    assert "alone" in result.stdout and "Share of digest slots by source" in result.stdout
    assert "Share of your picks by source: archive 50% (1), archive+papers 50% (1)" in result.stdout


@pytest.mark.fixtures
@pytest.mark.slow
def test_replay_of_the_real_front_pages(shared_fixtures: Path, workdir: Path) -> None:
    (workdir / "bot.toml").write_text(
        f'[bot]\nlog = {json.dumps(str(SEEDS / "001_71959d29a843dc8b.txt"))}\n'
        f'topics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n[library]\npaths = [{json.dumps(str(SEEDS))}]\n')
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["eval", "--json", str(shared_fixtures / "hnrss-frontpage-2023")],
                                catch_exceptions=False)
    took = time.monotonic() - started
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert took < 60
    assert report["weeks"] >= 8 and report["picks"] >= 15
    o = report["overall"]
    assert o["bot"]["recall_micro"] > o["points"]["recall_micro"]
    assert o["bot"]["recall_micro"] >= o["keyword_points"]["recall_micro"]


@pytest.mark.fixtures
@pytest.mark.slow
def test_replay_of_front_pages_and_arxiv_as_one_stream(shared_fixtures: Path, workdir: Path) -> None:
    """The real March-April weeks of HN and arXiv: papers no longer crowd out the person's picks."""
    (workdir / "bot.toml").write_text(
        f'[bot]\nlog = {json.dumps(str(SEEDS / "001_71959d29a843dc8b.txt"))}\n'
        f'topics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n[library]\npaths = [{json.dumps(str(SEEDS))}]\n')
    result = CliRunner().invoke(cli, ["eval", "--json", str(shared_fixtures / "hnrss-frontpage-2023"),
                                      str(shared_fixtures / "arxiv-nlp-daily-2023")], catch_exceptions=False)
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["weeks"] >= 7 and report["picks"] >= 15
    o = report["overall"]
    assert o["bot"]["hits"] >= o["first_archive_only"]["hits"]
    arxiv_only = report["slot_share"].get("arxiv-nlp-daily-2023", {"share": 0.0})["share"]
    assert arxiv_only <= 0.2  # it was 0.81 when every paper titled "large language models" outranked the stories
