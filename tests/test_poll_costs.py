"""Costs a big poll (the 5,000-paper arXiv week, issue 27) must not pay for nothing."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.config import FeedConfig
from bot.core.normalize import make_item
from bot.core.records import FeedItem
from bot.sources.outcome import SourceOutcome


def _outcome(n: int) -> SourceOutcome:
    item = make_item(source="arxiv", title="A paper about large language models", url="https://arxiv.org/abs/2611.00001",
                     published="2026-11-30T10:00:00Z", summary="An abstract. " * 40, arxiv_id="2611.00001")
    assert item is not None
    return SourceOutcome(FeedConfig(name="arxiv", kind="arxiv", url="https://export.arxiv.org/api/query"),
                         items=[item] * n)


def test_an_outcomes_repr_leaves_its_items_out() -> None:
    outcome = _outcome(5000)
    assert "FeedItem" not in repr(outcome) and len(repr(outcome)) < 1000


def test_asyncio_run_of_a_poll_never_formats_its_items(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python 3.11's asyncio.run formats its main task's repr (with the task's result) as it ends: the
    fetch's outcomes, thousands of items, each item's repr. A poll's result must not cost that."""
    formatted = []
    plain = FeedItem.__repr__

    def counted(self: FeedItem) -> str:
        formatted.append(1)
        return plain(self)

    monkeypatch.setattr(FeedItem, "__repr__", counted)

    async def fetch() -> list[SourceOutcome]:
        return [_outcome(2000)]

    assert len(asyncio.run(fetch())[0].items) == 2000
    assert formatted == []
