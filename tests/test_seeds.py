"""Acceptance on the person's own documents in seeds/: every link, and its spellings, is known."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

import bot.library.api as lib
from bot.core.identity import arxiv_id_from_url, hn_id_from_url
from bot.store.database import Store
from tests.conftest import SEEDS

LINK_RE = re.compile(r"https?://[^\s)\]\"'<>]+")


def seed_links() -> list[str]:
    links: set[str] = set()
    for path in sorted(SEEDS.iterdir()):
        links.update(LINK_RE.findall(path.read_text(encoding="utf-8")))
    return sorted(links)


TITLE_ONLY = [
    "Computing Machinery and Intelligence", "Programs with Common Sense", "Perceptrons",
    "Learning Representations by Back-Propagating Errors",
    "Parallel Distributed Processing: Explorations in the Microstructure of Cognition",
    "Gradient-Based Learning Applied to Document Recognition",
    "ImageNet Classification with Deep Convolutional Neural Networks", "Auto-Encoding Variational Bayes",
    "Human-Level Control through Deep Reinforcement Learning", "Attention Is All You Need",
    "Language Models are Few-Shot Learners",
    "Chain-of-Thought Prompting Elicits Reasoning in Large Language Models",
    "PaLM: Scaling Language Modeling with Pathways", "GPT-4 Technical Report",
]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store.open(tmp_path_factory.mktemp("db") / "bot.db")
    lib.import_documents(store, [SEEDS])
    return store


def variants(url: str) -> list[str]:
    parts = urlsplit(url)
    host = parts.netloc
    bare_host = host[4:] if host.startswith("www.") else host
    out = [
        urlunsplit(("http" if parts.scheme == "https" else "https", host, parts.path, parts.query, "")),
        urlunsplit((parts.scheme, bare_host if host.startswith("www.") else "www." + host, parts.path, parts.query, "")),
        urlunsplit((parts.scheme, host, parts.path, (parts.query + "&" if parts.query else "") + "utm_source=hn&utm_medium=rss", "")),
        urlunsplit((parts.scheme, host, parts.path, parts.query, "section-2")),
        urlunsplit((parts.scheme, host, parts.path.rstrip("/") if parts.path.endswith("/") else parts.path + "/", parts.query, "")),
    ]
    arxiv = arxiv_id_from_url(url)
    if arxiv:
        out += [f"https://arxiv.org/abs/{arxiv}", f"https://arxiv.org/abs/{arxiv}v2", f"https://arxiv.org/pdf/{arxiv}",
                f"https://arxiv.org/pdf/{arxiv}v1.pdf", f"http://export.arxiv.org/abs/{arxiv}"]
    hn = hn_id_from_url(url)
    if hn:
        out += [f"https://news.ycombinator.com/item?id={hn}&p=2", f"http://news.ycombinator.com/item?ref=x&id={hn}"]
    return out


def test_the_seeds_have_links_to_check() -> None:
    assert len(seed_links()) > 400


def test_every_seed_link_is_known(seeded: Store) -> None:
    results = lib.check(seeded, seed_links())
    unknown = [r.query for r in results if not r.known]
    assert unknown == []


def test_every_spelling_of_every_seed_link_is_known(seeded: Store) -> None:
    queries = [v for link in seed_links() for v in variants(link)]
    index = lib.build_index(seeded)
    unknown = [r.query for r in lib.check(seeded, queries, index) if not r.known]
    assert unknown == []


@pytest.mark.parametrize("title", TITLE_ONLY)
def test_title_only_papers_are_known_however_quoted(seeded: Store, title: str) -> None:
    spellings = [title, title.upper(), title.lower(), f"“{title}”", f'"{title}"', f"'{title}'", f"  {title}. "]
    results = lib.check(seeded, spellings)
    assert all(r.known and r.rule in ("title", "fuzzy_title") for r in results), [r.query for r in results if not r.known]


@pytest.mark.parametrize(
    "near_miss",
    [
        "Attention Is All You Need for Code", "Language Models are Zero-Shot Learners",
        "Language Models are Unsupervised Multitask Learners", "GPT-3 Technical Report",
        "PaLM 2: Scaling Language Modeling with Pathways", "Perceptrons Part 2",
        "Programs with Common Sense Reasoning", "Chain-of-Thought Prompting Elicits Reasoning in Small Language Models",
        "ImageNet Classification with Deep Convolutional Neural Networks Revisited",
    ],
)
def test_a_different_paper_sharing_most_words_is_not_known(seeded: Store, near_miss: str) -> None:
    (result,) = lib.check(seeded, [near_miss])
    assert not result.known, result


def test_import_is_idempotent(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    first = lib.import_documents(store, [SEEDS]).stats
    second = lib.import_documents(store, [SEEDS]).stats
    assert first == second
    assert first.entries > 300 and first.title_only == 14 and first.arxiv_ids > 50 and first.hn_ids > 50
    identities = store.db.execute("select count(*) from identities").fetchone()[0]
    lib.import_documents(store, [SEEDS])
    assert store.db.execute("select count(*) from identities").fetchone()[0] == identities


def test_dated_log_entries_keep_their_dates(seeded: Store) -> None:
    (result,) = lib.check(seeded, ["https://arxiv.org/abs/2305.14314"])
    assert result.entry is not None
    assert result.entry["date"] == "2023-05-27"
    assert result.entry["file"].endswith("001_71959d29a843dc8b.txt")
    assert result.entry["line"] > 0
