"""`bot sources` and `bot sources forget NAME`: thin commands over bot.sources_admin."""

from __future__ import annotations

import click

from bot.cli.group import State, cli, emit_json, out, pass_state, say


@cli.group("sources", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the sources and their health as JSON.")
@click.pass_context
def sources_group(ctx: click.Context, as_json: bool) -> None:
    """The sources in the config with their health: last poll, result, error, items, next fetch."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.table import Table
    from rich.text import Text

    from bot.sources_admin import sources_report

    state: State = ctx.obj
    app = state.app
    report = sources_report(app.config, app.store if app.config.db.exists() else None, app.now())
    if as_json:
        emit_json(report.as_json())
        return
    table = Table(title="Sources", show_header=True)
    for col in ("source", "kind", "last poll (UTC)", "result", "items", "pending", "next fetch (UTC)"):
        table.add_column(col, overflow="fold", justify="right" if col in ("items", "pending") else "left")
    for s in report.configured:
        result = s["result"] or ("disabled" if not s["enabled"] else "never polled")
        table.add_row(s["name"], s["kind"], (s["last_poll"] or "")[:16].replace("T", " "),
                      Text(result, style="red" if s["error"] else ""), str(s["items"]["stored"]),
                      str(s["items"]["pending"]), (s["next_fetch"] or "-")[:16].replace("T", " "))
    out.print(table)
    for s in report.configured:
        if s["error"]:
            out.print(f"{s['name']}: {s['error']}", highlight=False, markup=False)
        if s["next_fetch_reason"] not in ("the next scheduled poll",):
            out.print(f"{s['name']}: {s['next_fetch_reason']}", highlight=False, markup=False)
    if report.former:
        say(state, "No longer in the config, state kept (`bot sources forget NAME` removes it; their items "
                   f"stay known): {', '.join(s['name'] for s in report.former)}")


@sources_group.command("forget")
@click.argument("name")
@pass_state
def sources_forget(state: State, name: str) -> None:
    """Remove the state of a source that left the config (its items stay known)."""
    from bot.sources_admin import forget

    app = state.app
    if not app.config.db.exists():  # asking must not make a database
        forget(app.config, None, name)
    with app.lock("forgetting a source"):
        forget(app.config, app.store, name)
    say(state, f"Forgot {name}: it leaves `bot status` and the digest footer; its items stay known.")
