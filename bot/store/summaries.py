"""The LLM summary cache: one answer per item, model and prompt version, and the tokens they cost."""

from __future__ import annotations

from typing import cast

from bot.core.errors import StoreError
from bot.core.records import CachedSummary, SummaryStatus, TokenUsage
from bot.store.base import StoreBase

_STATUSES = ("ok", "rejected", "error")
_CHUNK = 500  # keys per query: SQLite's bound on parameters is 999 in old builds


class SummaryRecords(StoreBase):
    def cached_summaries(self, keys: list[str], model: str, prompt_version: str) -> dict[str, CachedSummary]:
        """The cached answers for these item keys, by key (keys with none are left out)."""
        found: dict[str, CachedSummary] = {}
        for i in range(0, len(keys), _CHUNK):
            chunk = keys[i:i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(
                    "select key, model, prompt_version, status, text, prompt_tokens, completion_tokens, reason, "
                    f"created, endpoint from summaries where model = ? and prompt_version = ? and key in ({marks})",
                    [model, prompt_version, *chunk]):
                found[row[0]] = _summary(row)
        return found

    def cache_summary(self, key: str, model: str, prompt_version: str, status: SummaryStatus, text: str | None,
                      prompt_tokens: int, completion_tokens: int, reason: str | None,
                      endpoint: str | None = None) -> None:
        """`endpoint`: a fingerprint of where the answer came from (a failure is only trusted for it)."""
        with self.transaction():
            self.db.execute(
                "insert into summaries (key, model, prompt_version, status, text, prompt_tokens, completion_tokens, "
                "reason, created, endpoint) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (key, model, "
                "prompt_version) do update set status = excluded.status, text = excluded.text, prompt_tokens = "
                "excluded.prompt_tokens, completion_tokens = excluded.completion_tokens, reason = excluded.reason, "
                "created = excluded.created, endpoint = excluded.endpoint",
                [key, model, prompt_version, status, text, prompt_tokens, completion_tokens, reason, self.now(),
                 endpoint])

    def token_usage(self) -> TokenUsage:
        # Failed requests are cached too (for a few minutes, bot.digest.llm), but they are no summaries.
        row = self.db.execute("select coalesce(sum(status != 'error'), 0), coalesce(sum(prompt_tokens), 0),"
                              " coalesce(sum(completion_tokens), 0), coalesce(sum(status = 'rejected'), 0),"
                              " coalesce(sum(status = 'error'), 0) from summaries").fetchone()
        return TokenUsage(*(int(n) for n in row))


def _summary(row: tuple[object, ...]) -> CachedSummary:
    key, model, version, status, text, prompt_tokens, completion_tokens, reason, created, endpoint = row
    if status not in _STATUSES:  # written by no version of the bot: someone edited the database
        raise StoreError(f"The cached summary {key} has the status {status!r}, which no version of the bot "
                         f"writes; delete the row, and it is asked for again")
    return CachedSummary(key=str(key), model=str(model), prompt_version=str(version),
                         status=cast(SummaryStatus, status), text=cast("str | None", text),
                         prompt_tokens=int(cast(int, prompt_tokens) or 0),
                         completion_tokens=int(cast(int, completion_tokens) or 0),
                         reason=cast("str | None", reason), created=cast("str | None", created),
                         endpoint=cast("str | None", endpoint))
