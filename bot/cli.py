"""Thin click commands over the library API. Output: tidy tables for people, `--json` for programs
(one JSON document on stdout, nothing else there). Errors: one sentence on stderr, exit 1 when the
work failed, 2 for usage or configuration; the traceback only with -v."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from bot import cli_render as render
from bot import library as lib
from bot.app import App
from bot.config import load_config
from bot.errors import BotError
from bot.lock import daemon_lock, hold, work_lock


class RedactSecrets(logging.Filter):
    """Libraries log request URLs and headers at debug level; webhook URLs and tokens are secrets.
    Every log line passes through here and loses them, whatever logger wrote it."""

    PATTERN = re.compile(r"(hooks\.slack\.com/services/|/services/)[^\s'\"]+|xox[abprs]-[\w-]+|sk-[\w-]{8,}"
                         r"|(Bearer\s+)[^\s'\"]+", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.PATTERN.sub(lambda m: (m.group(1) or m.group(2) or "") + "***", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class State:
    def __init__(self, config_path: str | None, verbose: int, quiet: bool) -> None:
        self.config_path = config_path
        self.verbose = verbose
        self.quiet = quiet
        self._app: App | None = None

    @property
    def app(self) -> App:
        if self._app is None:
            self._app = App(load_config(self.config_path))
        return self._app

    def close(self) -> None:
        if self._app is not None:
            self._app.close()


pass_state = click.make_pass_decorator(State)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@contextlib.contextmanager
def progress_bar(state: State, total: int, label: str) -> Iterator[Callable[[str], None]]:
    """A progress bar on a TTY only; elsewhere a no-op."""
    if state.quiet or not err.is_terminal or total <= 1:
        yield lambda _name: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[last]}"), console=err, transient=True) as bar:
        task = bar.add_task(label, total=total, last="")
        yield lambda name: bar.update(task, advance=1, last=name)


def say(state: State, message: str) -> None:
    if not state.quiet:
        out.print(message, highlight=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Config file (default: ./bot.toml if present, else $BOT_CONFIG, else built-in defaults).")
@click.option("-v", "--verbose", count=True, help="More logging; tracebacks on errors.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors and requested output.")
@click.version_option(package_name="research-digest-bot")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int, quiet: bool) -> None:
    """The research digest bot: keeps a generative-AI reading log up to date."""
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactSecrets())
    state = State(config_path, verbose, quiet)
    ctx.obj = state
    ctx.call_on_close(state.close)


@cli.group()
def library() -> None:
    """The person's library: import reading documents, check links and titles against it."""


@library.command("import")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_state
def library_import(state: State, paths: tuple[str, ...], as_json: bool) -> None:
    """Parse reading documents into the library (default: [library] paths and the log). Idempotent."""
    app = state.app
    report = lib.import_documents(app.store, list(paths) or app.library_paths())
    if as_json:
        emit_json(report.as_dict())
        return
    table = Table(title=f"Imported {len(report.files)} document(s)", show_header=True)
    table.add_column("entries", justify="right")
    table.add_column("links", justify="right")
    table.add_column("arXiv ids", justify="right")
    table.add_column("HN ids", justify="right")
    table.add_column("title-only", justify="right")
    table.add_column("internal links", justify="right")
    s = report.stats
    table.add_row(str(s.entries), str(s.links), str(s.arxiv_ids), str(s.hn_ids), str(s.title_only),
                  str(s.internal_links))
    if not state.quiet:
        out.print(table)


@library.command("check")
@click.argument("queries", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per query, in order.")
@pass_state
def library_check(state: State, queries: tuple[str, ...], as_json: bool) -> None:
    """Is each URL or title already known? Use - to read one query per line from stdin."""
    expanded: list[str] = []
    for q in queries:
        if q == "-":
            expanded.extend(line.strip() for line in sys.stdin if line.strip())
        else:
            expanded.append(q)
    app = state.app
    _ensure_library(state, app)
    results = lib.check(app.store, expanded)
    if as_json:
        emit_json([r.as_dict() for r in results])
        return
    table = Table(show_header=True)
    table.add_column("query", overflow="fold")
    table.add_column("known")
    table.add_column("rule")
    table.add_column("matched", overflow="fold")
    for r in results:
        where = ""
        if r.entry:
            place = f"{r.entry.get('file', 'item')}:{r.entry.get('line', r.entry.get('id'))}"
            where = f"{place} {r.entry.get('title') or ''}"
        table.add_row(r.query, "yes" if r.known else "no", r.rule or "", where.strip())
    out.print(table)


@library.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@pass_state
def library_stats(state: State, as_json: bool) -> None:
    """Counts of entries, links, arXiv ids, HN ids and title-only entries."""
    stats = state.app.store.library_stats()
    if as_json:
        emit_json(stats.as_dict())
        return
    table = Table(show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in stats.as_dict().items():
        table.add_row(key.replace("_", " "), str(value))
    out.print(table)


@library.command("search")
@click.argument("text", nargs=-1, required=True)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print the matches as JSON.")
@pass_state
def library_search(state: State, text: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Full-text search of the library (titles and lines)."""
    rows = state.app.store.search_library(" ".join(text), limit=limit)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        say(state, "No matches.")
        return
    table = Table(show_header=True)
    table.add_column("where")
    table.add_column("date")
    table.add_column("title / line", overflow="fold")
    for r in rows:
        table.add_row(f"{r['file']}:{r['line']}", r["date"] or "", r["title"] or r["text"][:120])
    out.print(table)


@cli.command("poll")
@click.option("--source", "sources", multiple=True, metavar="NAME", help="Only this feed (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the per-source report as JSON.")
@pass_state
def poll_command(state: State, sources: tuple[str, ...], as_json: bool) -> None:
    """Fetch all enabled feeds concurrently, drop what is known, score and store the rest."""
    from bot.poll import poll, select_feeds

    app = state.app
    _ensure_library(state, app)
    feeds = select_feeds(app.config, sources)
    with hold(work_lock(app.config.db), "this poll"), progress_bar(state, len(feeds), "polling") as advance:
        report = poll(app.config, app.store, only=sources, progress=advance, hook=app.stop_hook())
    if as_json:
        emit_json(report.as_dict())
    else:
        render.poll_table(out, report)
    if report.sources and all(s.result == "error" for s in report.sources):
        raise BotError("Every feed failed; see the table above or `bot status`.")


@cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@pass_state
def status_command(state: State, as_json: bool) -> None:
    """Per source: last poll, result, error; pending items; digests and their deliveries."""
    from bot.status import collect_status

    data = collect_status(state.app)
    if as_json:
        emit_json(data)
    else:
        render.status_tables(out, data)


@cli.command("digest")
@click.option("--dry-run", is_flag=True, help="Render exactly what would be delivered; deliver and mark nothing.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "slack", "json"]), default=None,
              help="Output format (default: text for --dry-run, a delivery summary otherwise).")
@click.option("--since", metavar="DATE", help="Window start (date or ISO time), by published time.")
@click.option("--until", metavar="DATE", help="Window end, exclusive.")
@click.option("--limit", type=click.IntRange(1, 500), help="At most this many items (default [bot] digest_limit).")
@click.option("--no-slack", is_flag=True, help="Do not post to Slack.")
@click.option("--no-log", is_flag=True, help="Do not append to the markdown log.")
@click.option("--commit", is_flag=True, help="Commit the log with git after appending.")
@click.option("--resend-uncertain", is_flag=True,
              help="Post again Slack messages whose earlier send had an unknown outcome (check Slack first).")
@pass_state
def digest_command(state: State, dry_run: bool, fmt: str | None, since: str | None, until: str | None,
                   limit: int | None, no_slack: bool, no_log: bool, commit: bool, resend_uncertain: bool) -> None:
    """Pick the top undigested relevant items, summarize, render, post to Slack, append to the log."""
    from datetime import UTC, datetime

    from bot.digest import DigestOptions, run

    app = state.app
    opts = DigestOptions(dry_run=dry_run, since=since, until=until, limit=limit, slack=not no_slack,
                         log=not no_log, commit=commit, resend_uncertain=resend_uncertain)
    poster = None if dry_run or no_slack else app.slack_poster()
    with hold(work_lock(app.config.db), "this digest"):
        outcome = run(app.config, app.store, opts, poster, datetime.now(UTC), summarizer=app.summarizer(),
                      hook=app.stop_hook(), finder=app.thread_finder())
    if fmt == "json":
        emit_json(outcome.as_json())
    elif fmt == "markdown":
        click.echo(outcome.bodies["markdown"] or "", nl=False)
    elif fmt == "slack":
        emit_json(outcome.bodies["slack"])
    elif dry_run or fmt == "text":
        click.echo(outcome.bodies["text"], nl=False)
    else:
        render.digest_summary(out, outcome)
    failed = [d for d in outcome.deliveries + [x for e in outcome.finished_earlier for x in e["deliveries"]]
              if d["status"] in ("failed", "uncertain")]
    if failed:
        raise BotError("; ".join(f"{d['target']} delivery {d['status']}: {d['error']}" for d in failed)
                       + ". Run `bot digest` again to retry what failed.")


@cli.command("run")
@pass_state
def run_command(state: State) -> None:
    """The scheduler daemon: poll every poll_every_minutes, digest on digest_cron; SIGTERM stops it."""
    from datetime import UTC, datetime

    from bot.scheduler import Daemon

    if not state.verbose:
        logging.getLogger().setLevel(logging.INFO)
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        logging.getLogger("httpx").setLevel(logging.WARNING)
    app = state.app
    c = app.config
    with hold(daemon_lock(c.db), "this `bot run`"):
        _ensure_library(state, app)
        daemon = Daemon(tz=c.timezone, poll_every_minutes=c.poll_every_minutes, digest_cron=c.digest_cron,
                        poll_job=app.poll_job, digest_job=app.digest_job, last_digest=app.last_digest_time,
                        now=lambda: datetime.now(UTC))
        daemon.start()


@cli.command("add")
@click.argument("urls", nargs=-1, required=True)
@click.option("--note", help="Your note, added as a sub-bullet under the entry.")
@click.option("--date", "day", metavar="DATE", help="The log date to file it under (default: today).")
@click.option("--title", help="Use this title instead of fetching the page's.")
@click.option("--dry-run", is_flag=True, help="Print the entry; change nothing.")
@click.option("--commit", is_flag=True, help="Commit the log with git afterwards.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per URL.")
@pass_state
def add_command(state: State, urls: tuple[str, ...], note: str | None, day: str | None, title: str | None,
                dry_run: bool, commit: bool, as_json: bool) -> None:
    """Add your own finds to the log: `bot add URL`, or `bot add -` for one URL per line on stdin."""
    from datetime import UTC, date, datetime

    from bot.add import Adder
    from bot.poll import fetch_settings

    queries: list[str] = []
    for u in urls:
        queries.extend(line.strip() for line in sys.stdin if line.strip()) if u == "-" else queries.append(u)
    try:
        when = date.fromisoformat(day) if day else datetime.now(UTC).astimezone(state.app.config.tz).date()
    except ValueError as exc:
        raise click.BadParameter(f"{day!r} is not a date like 2026-11-23", param_hint="--date") from exc
    app = state.app
    _ensure_library(state, app)
    finder = app.thread_finder()
    adder = Adder(app.config, app.store, fetch_settings(app.config, []), finder, app.config.arxiv_api)
    with hold(work_lock(app.config.db), "this add"):
        results = adder.add(queries, note, when, title, dry_run, commit)
    if as_json:
        emit_json([r.as_dict() for r in results])
    else:
        for r in results:
            if r.status in ("added", "dry-run") and r.entry:
                out.print(r.entry, highlight=False, markup=False)
            (out if r.status in ("added", "dry-run") else err).print(f"{r.query}: {r.message}", highlight=False,
                                                                     markup=False)
    if any(r.status in ("known", "failed") for r in results):
        raise click.exceptions.Exit(1)


@cli.command("eval")
@click.argument("archive", type=click.Path(exists=True, file_okay=False))
@click.option("--limit", "-k", type=click.IntRange(1, 500), default=None,
              help="Digest size to measure recall at (default [bot] digest_limit).")
@click.option("--include-undated", is_flag=True, help="Count undated library documents as known all along.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@pass_state
def eval_command(state: State, archive: str, limit: int | None, include_undated: bool, as_json: bool) -> None:
    """Replay an archive of daily feed documents week by week: recall of your own picks at the digest size."""
    from pathlib import Path

    from bot.evaluate import replay

    app = state.app
    report = replay(app.config, Path(archive), limit or app.config.digest_limit, include_undated)
    if as_json:
        emit_json(report)
    else:
        render.eval_tables(out, report)


@cli.command("demo")
@pass_state
def demo_command(state: State) -> None:
    """The whole pipeline offline on the sample feeds shipped with the project, in a temporary database."""
    from bot.demo import run_demo

    run_demo(out, quiet=state.quiet)


def _ensure_library(state: State, app: App) -> None:
    """A check against an empty library would say "unknown" to everything: import first."""
    if app.store.library_stats().entries == 0:
        report = lib.import_documents(app.store, app.library_paths())
        if not state.quiet:
            err.print(f"(imported {report.stats.entries} library entries from {len(report.files)} documents first)")


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the click group and turns errors into one sentence and an exit code."""
    verbose = any(a in ("-v", "-vv", "--verbose") for a in (argv if argv is not None else sys.argv[1:]))
    try:
        result = cli.main(args=argv, prog_name="bot", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        err.print("Aborted.")
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except BotError as exc:
        if verbose:
            traceback.print_exc()
        err.print(f"Error: {exc}", highlight=False, markup=False)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: say so plainly, traceback with -v
        if verbose:
            traceback.print_exc()
        err.print(f"Unexpected error ({type(exc).__name__}): {exc}. Run with -v for details.",
                  highlight=False, markup=False)
        return 1


def run() -> None:
    sys.exit(main())


