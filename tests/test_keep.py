"""One scale across sources: how likely the person keeps an item, from what their library keeps of each
kind against what the stream offers of it."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.bench_arxiv_week import arxiv_pages, papers, stories
from bot.cli.group import cli
from bot.core.records import RankInput
from bot.relevance.keep import HN, PAPER, KindCounts, library_counts, rank_by_keep
from tests.conftest import ROOT
from tests.servers import FeedServer, Route, algolia


def rows(n_papers: int, n_stories: int) -> list[RankInput]:
    """Every paper scores like a strongly on-topic item; stories spread from weak to strong."""
    out = [RankInput(k, 0.75, None, f"2611.{k:05d}") for k in range(n_papers)]
    out += [RankInput(100000 + k, 0.3 + 0.4 * k / n_stories, 1 + k, None) for k in range(n_stories)]
    return out


def kinds_on_top(counts: KindCounts, candidates: list[RankInput], k: int = 20) -> Counter[str]:
    return Counter(kept.explain["kind"] for kept in rank_by_keep(candidates, counts)[:k])


def test_a_flood_of_papers_gets_the_share_the_person_keeps_not_the_share_offered() -> None:
    counts = KindCounts(kept=Counter({HN: 40, PAPER: 5}))
    top = kinds_on_top(counts, rows(5000, 450))
    assert top[PAPER] <= 3 and top[HN] >= 17  # 5 of 45 keeps are papers: about 2 of 20 slots


def test_another_persons_library_that_keeps_papers_gets_papers() -> None:
    counts = KindCounts(kept=Counter({HN: 3, PAPER: 60}))
    top = kinds_on_top(counts, rows(5000, 450))
    assert top[PAPER] >= 12


def test_more_papers_offered_means_a_thinner_share_for_each() -> None:
    small = {k.id: k.keep for k in rank_by_keep(rows(200, 450), KindCounts(kept=Counter({HN: 10, PAPER: 10})))}
    large = {k.id: k.keep for k in rank_by_keep(rows(5000, 450), KindCounts(kept=Counter({HN: 10, PAPER: 10})))}
    assert large[0] < small[0]  # the best paper of 5,000 is less sure a keep than the best of 200
    assert large[100000 + 449] == small[100000 + 449]  # the stories' chances do not change


def test_articles_count_for_threads_and_feeds_by_what_the_stream_offers() -> None:
    counts = library_counts([{"hn", "url"}, {"arxiv"}, {"url"}, {"url", "title"}, {"title"}])
    assert counts.kept == Counter({HN: 1, PAPER: 1}) and counts.articles == 2
    counts.offered.update({HN: 300, PAPER: 100, "feed": 100})
    shares = counts.shares()
    # threads: 1 + 2 * 300/400 kept (+1 smoothing); feeds: 2 * 100/400 (+1); papers 1 (+1)
    assert shares[HN] == pytest.approx(3.5 / 7.0) and shares["feed"] == pytest.approx(1.5 / 7.0)


def test_verdicts_move_a_kinds_share_only_with_much_evidence() -> None:
    """The prior is centred on the overall acceptance rate (about 5%) with the weight of 100 shown items:
    a few weeks of deletions (the expected case) barely move a kind; hundreds of verdicts do."""
    base = {"kept": Counter({HN: 10, PAPER: 10}), "offered": Counter({HN: 1, PAPER: 1})}
    neutral = KindCounts(**base).shares()  # type: ignore[arg-type]
    assert neutral[PAPER] == pytest.approx(0.5)
    # Eight weekly digests of 10 threads and 10 papers: no thread kept, 4 papers kept.
    weeks = KindCounts(**base, shown=Counter({HN: 80, PAPER: 80}),  # type: ignore[arg-type]
                       deleted=Counter({HN: 80, PAPER: 76})).shares()
    assert 0.3 < weeks[HN] < 0.45  # lowered, not swept away (an even prior left HN 2 of 162 slots)
    # Years of it: 400 threads shown and none kept, 400 papers with 40 kept.
    years = KindCounts(**base, shown=Counter({HN: 400, PAPER: 400}),  # type: ignore[arg-type]
                       deleted=Counter({HN: 400, PAPER: 360})).shares()
    assert years[HN] < 0.25


def test_no_verdicts_leave_the_shares_as_they_were() -> None:
    counts = KindCounts(kept=Counter({HN: 3, PAPER: 7}), offered=Counter({HN: 5, PAPER: 5}))
    assert counts.verdict_factor(HN) == pytest.approx(1.0) and counts.verdict_factor(PAPER) == pytest.approx(1.0)


LIBRARY_OF_HN_READER = """## 2026 Log
## 02 November 2026
* [Whisper transcribes my podcasts](https://a.example/whisper) and [HN thread](https://news.ycombinator.com/item?id=1)
* [How GPUs schedule work](https://b.example/gpu), [HN](https://news.ycombinator.com/item?id=2)
## 09 November 2026
* [Self-attention, step by step](https://c.example/attn) [HN](https://news.ycombinator.com/item?id=3)
* [A survey of retrieval methods](https://arxiv.org/abs/2303.18223)
* [Open weights, compared](https://d.example/open) [HN](https://news.ycombinator.com/item?id=4)
"""


@pytest.mark.slow
def test_a_real_volume_week_of_on_topic_papers_does_not_flood_the_digest(workdir: Path) -> None:
    """The whole pipeline (poll over HTTP, dedupe, score, store, digest) on 5,000 made-up papers, every
    title about large language models, beside 450 front-page stories, for a person who keeps mostly
    HN threads: papers take about their share of the person's keeps, not 20 of 20 slots."""
    now = datetime.now(UTC)
    (workdir / "library").mkdir()
    (workdir / "library" / "log.md").write_text(LIBRARY_OF_HN_READER)
    with FeedServer() as server:
        hn_url = server.route("/frontpage", Route(body=stories(450, now)))
        arxiv_url = server.route("/api/query", Route(handler=arxiv_pages(papers(5000, now))))
        server.route("/hn/search", Route(body=algolia([]), content_type="application/json"))  # no discussions
        (workdir / "bot.toml").write_text(
            f'[bot]\nlog = "library/log.md"\ntopics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n'
            f'[library]\npaths = ["library"]\n[hn]\nsearch_url = "{server.url("/hn")}"\n'
            f'[[feeds]]\nname = "hn"\nkind = "rss"\nurl = "{hn_url}"\n'
            f'[[feeds]]\nname = "arxiv"\nkind = "arxiv"\nurl = "{arxiv_url}"\n'
            "page_size = 1000\nmin_interval = 0\n")
        polled = CliRunner().invoke(cli, ["poll", "--json"], catch_exceptions=False)
        assert polled.exit_code == 0, polled.output
        result = CliRunner().invoke(cli, ["digest", "--dry-run", "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)["items"]
    assert len(items) == 20
    paper_slots = [i for i in items if i["arxiv_id"] and not i["hn_id"]]
    # 1 paper of 5 keeps, +1 smoothing each: papers hold 2/7 of the keeps, thinned over 5,000 of them
    assert 1 <= len(paper_slots) <= 5, [(i["title"], i["score"]) for i in items]
    keep = paper_slots[0]["explain"]["keep"]
    assert keep["kind"] == "paper" and keep["offered_of_kind"] == 5000 and keep["rank_in_kind"] == 1


def test_a_paper_people_discussed_wins_a_slot_through_its_hn_thread(workdir: Path) -> None:
    """Sixty equally on-topic papers beside thirty stories, for a reader of HN threads: papers get a
    few slots, taken in order. The eleventh paper has a 300-point HN discussion, which the digest finds
    through the HN search (a server on 127.0.0.1) although the paper was not among those chosen."""
    from tests.test_hn_add import STORIES, algolia_handler

    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    discussed = "2611.00010"
    STORIES.append((47000777, "People discuss a paper", f"https://arxiv.org/abs/{discussed}", 300, 1795000000))
    try:
        (workdir / "library").mkdir()
        (workdir / "library" / "log.md").write_text(LIBRARY_OF_HN_READER)
        with FeedServer() as server:
            server.route("/api/v1/search", Route(handler=algolia_handler))
            hn_url = server.route("/frontpage", Route(body=stories(300, now)))
            arxiv_url = server.route("/api/query", Route(handler=arxiv_pages(papers(60, now))))
            (workdir / "bot.toml").write_text(
                f'[bot]\nlog = "library/log.md"\ntopics = {json.dumps(str(ROOT / "feeds" / "topics.toml"))}\n'
                f'[library]\npaths = ["library"]\n[hn]\nsearch_url = "{server.url("/api/v1")}"\n'
                f'[[feeds]]\nname = "hn"\nkind = "rss"\nurl = "{hn_url}"\n'
                f'[[feeds]]\nname = "arxiv"\nkind = "arxiv"\nurl = "{arxiv_url}"\nmin_interval = 0\n')
            assert CliRunner().invoke(cli, ["poll"], catch_exceptions=False).exit_code == 0
            result = CliRunner().invoke(cli, ["digest", "--mark-only", "--format", "json"],
                                        catch_exceptions=False)
        assert result.exit_code == 0, result.output
        items = {i["arxiv_id"]: i for i in json.loads(result.stdout)["items"] if i["arxiv_id"]}
        assert discussed in items, sorted(items)
        assert items[discussed]["hn_id"] == 47000777 and items[discussed]["explain"]["keep"]["kind"] == "hn"
    finally:
        STORIES.pop()
