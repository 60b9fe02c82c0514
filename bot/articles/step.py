"""The digest's step "the linked pages' text" (issue 28), as the pipeline calls it: each item gets the
text its summary is made from, and the digest item says where that came from and how long it was."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol, TypeVar

from bot.articles.reader import ArticleReader, reader_for
from bot.core.config import Config
from bot.core.normalize import plain_text
from bot.core.records import ItemText, StoredItem
from bot.store.database import Store


class _Shown(Protocol):
    """A digest item (bot.digest.render.DigestItem, a frozen dataclass), as far as this step needs it;
    named by shape, not imported, so that the digest package depends on this one and not both ways."""

    @property
    def id(self) -> int: ...

    @property
    def explain(self) -> dict[str, Any]: ...


Shown = TypeVar("Shown", bound=_Shown)


def linked_texts(config: Config, store: Store, rows: Sequence[StoredItem], now: datetime,
                 reader: ArticleReader | None = None) -> tuple[list[StoredItem], dict[int, ItemText]]:
    """The rows with the text their summaries are to be made from (an article's or an abstract's where
    the item had none of its own), and each row's ItemText. [articles] enabled = false reads nothing
    (unless a reader is given: the demo's saved pages)."""
    if reader is None and not config.articles_enabled:
        texts = {}
        for r in rows:
            own = plain_text(r.summary or "", limit=20_000)
            texts[r.id] = ItemText("feed", own) if own else ItemText("none", None)
        return list(rows), texts
    texts = (reader or reader_for(config, store)).texts(rows, now)
    return [replace(r, summary=texts[r.id].text) if texts[r.id].source in ("article", "abstract") else r
            for r in rows], texts


def with_text_sources(items: Sequence[Shown], texts: dict[int, ItemText]) -> list[Shown]:
    """Each item with `text_source` and `text_chars`; why there is no article text, once, in its explanation."""
    out = []
    for item in items:
        text = texts.get(item.id)
        if text is None:
            out.append(item)
            continue
        explain = {**item.explain, "text": text.note} if text.note else item.explain
        out.append(replace(item, text_source=text.source, text_chars=text.chars, explain=explain))  # type: ignore[type-var]
    return out
