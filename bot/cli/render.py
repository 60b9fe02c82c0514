"""Human output of the CLI: tidy tables. (Machine output is --json, built from the same dicts.)"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.core.plural import plural
from bot.core.shorten import middle

if TYPE_CHECKING:  # types only: `bot status` should not import the poll's and digest's machinery
    from bot.digest.pipeline import DigestOutcome
    from bot.poll import PollReport


def print_errors(console: Console, errors: list[tuple[str, str]]) -> None:
    """Each failed source's error on a line of its own under the table, cut in the middle to the
    terminal's width: squeezed into a table column at 80 columns it was a tower of fragments."""
    for name, error in errors:
        console.print(Text(f"{name}: ", style="bold") + Text(middle(error, max(24, console.width - len(name) - 2)),
                                                             style="red"), soft_wrap=False)


def poll_table(console: Console, report: PollReport) -> None:
    table = Table(title="Poll", show_header=True)
    for col in ("source", "fetched", "new", "known", "off-topic", "skipped", "not modified", "result"):
        table.add_column(col, justify="right" if col not in ("source", "result") else "left",
                         overflow="fold")
    for s in report.sources:
        table.add_row(s.name, str(s.fetched), str(s.new), str(s.known), str(s.off_topic), str(s.skipped or ""),
                      "yes" if s.not_modified else "", Text("error", style="red") if s.error else "ok")
    totals = report.as_dict()["totals"]
    table.add_row("total", str(totals.get("fetched", 0)), str(totals.get("new", 0)), str(totals.get("known", 0)),
                  str(totals.get("off_topic", 0)), str(totals.get("skipped", 0) or ""),
                  str(totals.get("not_modified", 0) or ""),
                  f"{totals.get('errors', 0)} failed" if totals.get("errors") else "", style="bold")
    console.print(table)
    poll_notes(console, report)


def poll_notes(console: Console, report: PollReport) -> None:
    """What the poll table says under it: each failed feed's error, the entries skipped, the results left
    for the next poll. `bot -q poll` prints only these (on stderr)."""
    print_errors(console, [(s.name, s.error) for s in report.sources if s.error])
    for s in report.sources:
        for reason in s.skipped_items:
            console.print(f"{s.name}: skipped {reason}", highlight=False, markup=False)
        if s.skipped > len(s.skipped_items):
            console.print(f"{s.name}: ... {s.skipped - len(s.skipped_items)} more skipped", highlight=False)
        if s.left:
            console.print(left_note(s.name, s.left), highlight=False, markup=False)


def left_note(name: str, left: int) -> str:
    return (f"{name}: {plural(left, 'more result')} beyond its paging cap (max_pages) left for the next poll, "
            "which resumes there")


def status_tables(console: Console, data: dict[str, Any]) -> None:
    config = data["config"] or "none (no --config, ./bot.toml or $BOT_CONFIG: the built-in defaults)"
    database = data["database"] if data.get("database_exists", True) else \
        f"{data['database']} (none yet: the first `bot poll` or `bot library import` makes it)"
    console.print(f"Config: {config}; database: {database}", highlight=False, markup=False)
    table = Table(title="Sources", show_header=True)
    for col in ("source", "kind", "last poll (UTC)", "result", "new"):
        table.add_column(col, overflow="fold")
    for s in data["sources"]:
        result = s["result"] or ("disabled" if not s["enabled"] else "never polled")
        when = (s["last_poll"] or "")[:16].replace("T", " ")
        table.add_row(s["name"], s["kind"] or "", when, Text(result, style="red" if s["error"] else ""),
                      str(s["stats"].get("new", "")))
    console.print(table)
    print_errors(console, [(s["name"], s["error"]) for s in data["sources"] if s["error"]])
    for s in data["sources"]:
        if s["stats"].get("left"):
            console.print(left_note(s["name"], int(s["stats"]["left"])), highlight=False, markup=False)
    for s in data["sources"]:
        if s.get("gone"):
            console.print(f"{s['name']}: gone (HTTP 410 on {s['gone']}); not polled until "
                          f"`bot poll --source {s['name']}` asks it again.", highlight=False, markup=False)
        if s.get("moved_to"):
            console.print(f"{s['name']}: moved permanently to {s['moved_to']}; polled there now.",
                          highlight=False, markup=False)
    p = data["pending"]
    older = (f" ({p['older_than_window']} older, outside the digest window: known, never offered)"
             if p.get("older_than_window") else "")
    console.print(f"Pending: {plural(p['relevant'], 'relevant item')} waiting for a digest{older}; "
                  f"{p['off_topic']} off-topic; {p['digested']} already digested.", highlight=False)
    if "review" in data:
        r = data["review"]
        console.print(f"Review of the log: of the items digests appended, {r['kept']} kept, {r['deleted']} deleted "
                      f"by you, {r['pending']} still in review.", highlight=False)
    for d in data["digests"]:
        deliveries = ", ".join(f"{x['target']}: {x['status']}" for x in d.get("deliveries", []))
        label = "empty" if not d.get("item_count") else plural(d["item_count"], "item")
        console.print(f"Digest {d['date']} ({label}): {deliveries or 'nothing to deliver'}", highlight=False)
        summaries = (d.get("stats") or {}).get("summaries") or {}
        if summaries.get("fell_back"):  # the LLM failed or was rejected: say so, with the (masked) reasons
            reasons = "; ".join(f"{why} ({n})" if len(summaries["reasons"]) > 1 else why
                                for why, n in summaries["reasons"].items())
            console.print(f"  summaries: {summaries['fell_back']} fell back: {reasons}", highlight=False,
                          markup=False)
        for x in d.get("deliveries", []):
            if x["status"] != "done" and x.get("error"):  # why, and when it is tried again
                retry = f" (`bot run` retries at {x['next_retry']})" if x.get("next_retry") and \
                    x["status"] == "failed" else ""
                console.print(f"  {x['target']} {x['status']}: {x['error']}{retry}", highlight=False, markup=False)
    if not data["digests"]:
        console.print(f"No digest yet: the first one is due {data['next']['digest']} (on the schedule, "
                      "by `bot run`; `bot digest` makes one now).", highlight=False, markup=False)
    llm = data.get("llm") or {}
    if llm.get("enabled") or llm.get("summaries"):
        console.print(f"LLM ({llm.get('model')}): {plural(llm.get('summaries', 0), 'cached summary')} "
                      f"({llm.get('rejected', 0)} rejected), {llm.get('prompt_tokens', 0)} prompt + "
                      f"{llm.get('completion_tokens', 0)} completion tokens.", highlight=False)
    console.print(f"Next poll: {data['next']['poll']}; next digest: {data['next']['digest']}", highlight=False)


def digest_summary(console: Console, outcome: DigestOutcome) -> None:
    for earlier in outcome.finished_earlier:
        states = ", ".join(f"{d.target}: {d.status}" for d in earlier.deliveries)
        console.print(f"Finished earlier digest {earlier.id}: {states}", highlight=False)
    if outcome.held:  # a retry run makes no new digest; the note on stderr says so
        return
    if not outcome.items:
        console.print(f"No new items for {outcome.date}: nothing posted, nothing appended.", highlight=False)
        return
    states = ", ".join(f"{d.target}: {d.status}" for d in outcome.deliveries) or "no delivery targets"
    console.print(f"Digest {outcome.date}: {plural(len(outcome.items), 'item')} ({states}).", highlight=False)
    console.print(outcome.bodies["footer"], highlight=False)


def eval_tables(console: Console, report: dict[str, Any]) -> None:
    k = report["k"]
    several = report.get("baseline") is not None
    names = " + ".join(report.get("archives") or [report["archive"]])
    table = Table(title=f"Replay of {names}: recall@{k} of your logged picks", show_header=True,
                  box=box.SIMPLE_HEAD, pad_edge=False)
    # Short headers, explained below the table, so a week's row fits 80 columns (dates never cut).
    reviewed = bool(report.get("review"))
    columns = ["week", "items", "picks", "bot", *(["reviewed"] if reviewed else [])]
    if several:
        columns.append("alone")
    columns += ["points", "kw+pts", "wasted"]
    if several:
        columns.append("slots")
    for col in columns:
        table.add_column(col, justify="left" if col in ("week", "slots") else "right", no_wrap=True,
                         min_width=8 if col == "slots" else None)
    legend = list(report.get("slot_share") or {})
    methods = ["bot", *(["bot_review"] if reviewed else []), *(["first_archive_only"] if several else []), "points",
               "keyword_points"]
    for w in report["per_week"]:
        r = w["recall"]
        row = [w["week"], str(w["items"]), str(w["picks"]), *(f"{r[m]:.2f}" for m in methods), str(w["wasted_slots"])]
        if several:
            row.append("/".join(str(w["slots"].get(name, 0)) for name in legend))
        table.add_row(*row)
    o = report["overall"]
    total = ["overall", "", str(report["picks"]), *(f"{o[m]['recall_micro'] or 0:.2f}" for m in methods),
             str(report["wasted_slots"])]
    if several:
        total.append("")
    table.add_row(*total, style="bold")
    console.print(table)
    console.print(f"{plural(report['weeks'], 'week')} with picks; recall is picks in the top {k} / picks that week "
                  f"(overall: all weeks' picks together). Baselines: points = HN points only; kw+pts = a "
                  f"keyword filter (any topic phrase), then points. wasted = slots that went to items never "
                  f"picked.", highlight=False)
    if reviewed:
        console.print("reviewed = the bot with the log review simulated: each week's digest items not among its "
                      "picks deleted, the verdicts so far feeding the next week's ranking.", highlight=False)
    if several:
        console.print(f"Only weeks that every archive recorded; 'alone' replays {report['baseline']} by "
                      f"itself for the same weeks and picks. Slots by source: {' / '.join(legend)}.", highlight=False)
        for label, key in (("digest slots", "slot_share"), ("your picks", "pick_share")):
            shares = ", ".join(f"{name} {v['share']:.0%} ({v['count']})" for name, v in report[key].items())
            console.print(f"Share of {label} by source: {shares or 'none'}", highlight=False)
