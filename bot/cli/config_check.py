"""`bot config check [--online] [--json]`: a thin command over bot.config_check."""

from __future__ import annotations

import click

from bot.cli.group import State, cli, emit_json, out, pass_state


@cli.group("config")
def config_group() -> None:
    """The configuration: check it before the first scheduled run."""


@config_group.command("check")
@click.option("--online", is_flag=True, help="Also ask Slack (bot token: auth.test) and the LLM whether they answer.")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@pass_state
def config_check_command(state: State, online: bool, as_json: bool) -> None:
    """The config in use, its feed files, topics, library, log and database, which secrets are present
    (never their values), Slack and the LLM. Exit 0 when ready, 2 when the config is broken, 1 when an
    online check fails."""
    from bot.config_check import check_config

    report = check_config(state.config_path, online=online)
    if as_json:
        emit_json(report.as_json())
    else:
        from rich.table import Table
        from rich.text import Text

        table = Table(title=f"Config: {report.config or 'none (built-in defaults)'}", show_header=True)
        table.add_column("check", overflow="fold")
        table.add_column("status")
        table.add_column("detail", overflow="fold")
        styles = {"ok": "green", "warning": "yellow", "error": "red", "failed": "red", "skipped": "dim"}
        for c in report.checks:
            table.add_row(c.what, Text(c.status, style=styles[c.status]), Text(c.detail))
        out.print(table)
        verdict = {0: "Ready.", 1: "An online check failed (see above).",
                   2: "The configuration is broken (see the errors above)."}[report.exit_code]
        if not state.quiet or report.exit_code:
            out.print(verdict, highlight=False)
    if report.exit_code:
        raise click.exceptions.Exit(report.exit_code)
