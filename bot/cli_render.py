"""Human output of the CLI: tidy tables. (Machine output is --json, built from the same dicts.)"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:  # types only: `bot status` should not import the poll's and digest's machinery
    from bot.digest import DigestOutcome
    from bot.poll import PollReport


def poll_table(console: Console, report: PollReport) -> None:
    table = Table(title="Poll", show_header=True)
    for col in ("source", "fetched", "new", "known", "off-topic", "not modified", "error"):
        table.add_column(col, justify="right" if col not in ("source", "error") else "left",
                         overflow="fold")
    for s in report.sources:
        table.add_row(s.name, str(s.fetched), str(s.new), str(s.known), str(s.off_topic),
                      "yes" if s.not_modified else "", Text(s.error or "", style="red"))
    totals = report.as_dict()["totals"]
    table.add_row("total", str(totals.get("fetched", 0)), str(totals.get("new", 0)), str(totals.get("known", 0)),
                  str(totals.get("off_topic", 0)), str(totals.get("not_modified", 0) or ""),
                  f"{totals.get('errors', 0)} failed" if totals.get("errors") else "", style="bold")
    console.print(table)


def status_tables(console: Console, data: dict[str, Any]) -> None:
    table = Table(title="Sources", show_header=True)
    for col in ("source", "kind", "last poll", "result", "new", "error"):
        table.add_column(col, overflow="fold")
    for s in data["sources"]:
        result = s["result"] or ("disabled" if not s["enabled"] else "never polled")
        table.add_row(s["name"], s["kind"] or "", s["last_poll"] or "", result,
                      str(s["stats"].get("new", "")), Text(s["error"] or "", style="red"))
    console.print(table)
    p = data["pending"]
    console.print(f"Pending: {p['relevant']} relevant item(s) waiting for a digest; "
                  f"{p['off_topic']} off-topic; {p['digested']} already digested.", highlight=False)
    for d in data["digests"]:
        deliveries = ", ".join(f"{x['target']}: {x['status']}" for x in d.get("deliveries", []))
        label = "empty" if not d.get("item_count") else f"{d['item_count']} items"
        console.print(f"Digest {d['date']} ({label}): {deliveries or 'nothing to deliver'}", highlight=False)
    if not data["digests"]:
        console.print("No digest yet.")
    llm = data.get("llm") or {}
    if llm.get("enabled") or llm.get("summaries"):
        console.print(f"LLM ({llm.get('model')}): {llm.get('summaries', 0)} cached summaries "
                      f"({llm.get('rejected', 0)} rejected), {llm.get('prompt_tokens', 0)} prompt + "
                      f"{llm.get('completion_tokens', 0)} completion tokens.", highlight=False)
    console.print(f"Next poll: {data['next']['poll']}; next digest: {data['next']['digest']}", highlight=False)


def digest_summary(console: Console, outcome: DigestOutcome) -> None:
    for earlier in outcome.finished_earlier:
        states = ", ".join(f"{d['target']}: {d['status']}" for d in earlier["deliveries"])
        console.print(f"Finished earlier digest {earlier['digest_id']}: {states}", highlight=False)
    if not outcome.items:
        console.print(f"No new items for {outcome.date}: nothing posted, nothing appended.", highlight=False)
        return
    states = ", ".join(f"{d['target']}: {d['status']}" for d in outcome.deliveries) or "no delivery targets"
    console.print(f"Digest {outcome.date}: {len(outcome.items)} items ({states}).", highlight=False)
    console.print(outcome.bodies["footer"], highlight=False)


def eval_tables(console: Console, report: dict[str, Any]) -> None:
    k = report["k"]
    table = Table(title=f"Replay of {report['archive']}: recall@{k} of your logged picks", show_header=True)
    for col in ("week", "items", "picks", "bot", "HN points", "keywords + points", "slots to non-picks"):
        table.add_column(col, justify="right" if col != "week" else "left")
    for w in report["per_week"]:
        r = w["recall"]
        table.add_row(w["week"], str(w["items"]), str(w["picks"]), f"{r['bot']:.2f}", f"{r['points']:.2f}",
                      f"{r['keyword_points']:.2f}", str(w["wasted_slots"]))
    o = report["overall"]
    table.add_row("overall", "", str(report["picks"]), f"{o['bot']['recall_micro'] or 0:.2f}",
                  f"{o['points']['recall_micro'] or 0:.2f}", f"{o['keyword_points']['recall_micro'] or 0:.2f}",
                  str(report["wasted_slots"]), style="bold")
    console.print(table)
    console.print(f"{report['weeks']} weeks with picks; recall is picks in the top {k} / picks that week "
                  f"(overall: all weeks' picks together).", highlight=False)
