"""The commands that do the work: poll, status, digest, add, eval, run, demo. Thin wrappers over the
library API, registered on the `bot` group defined in bot.cli.group."""

from __future__ import annotations

import logging
import sys

import click

from bot.cli.group import (
    State,
    cli,
    emit_json,
    ensure_library,
    err,
    out,
    pass_state,
    progress_bar,
    stop_before_a_database_without_a_library,
)
from bot.core.errors import BotError, ConfigError


@cli.command("poll")
@click.option("--source", "sources", multiple=True, metavar="NAME", help="Only this feed (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the per-source report as JSON.")
@pass_state
def poll_command(state: State, sources: tuple[str, ...], as_json: bool) -> None:
    """Fetch all enabled feeds concurrently, drop what is known, score and store the rest."""
    from bot.poll import poll, select_feeds

    app = state.app
    stop_before_a_database_without_a_library(app)  # before a lock file or a database is made
    feeds = select_feeds(app.config, sources)
    with app.lock("this poll"):
        ensure_library(state, app)  # under the lock: two syncs of one changed document must not interleave
        with progress_bar(state, len(feeds), "polling") as advance:
            report = poll(app.config, app.store, only=sources, now=app.now(), progress=advance, hook=app.stop_hook())
    if as_json:
        emit_json(report.as_dict())
    else:
        import bot.cli.render as render

        if state.quiet:  # (a scheduled `bot -q poll`): no table, but what went wrong still says so, on stderr
            render.poll_notes(err, report)
        else:
            render.poll_table(out, report)
    if report.sources and all(s.result == "error" for s in report.sources):
        raise BotError("Every feed failed; see " + ("the errors above" if state.quiet else "the table above")
                       + " or `bot status`.")


@cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@pass_state
def status_command(state: State, as_json: bool) -> None:
    """Per source: last poll, result, error; pending items; digests and their deliveries."""
    from bot.cli.status import collect_status

    data = collect_status(state.app)
    if as_json:
        emit_json(data)
    else:
        import bot.cli.render as render

        render.status_tables(out, data)


@cli.command("digest")
@click.option("--dry-run", is_flag=True, help="Render exactly what would be delivered; deliver and mark nothing.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "slack", "json"]), default=None,
              help="Output format (default: text for --dry-run, a delivery summary otherwise).")
@click.option("--since", metavar="DATE", help="Window start (date or ISO time), by published time (default: "
              "[bot] digest_window_days before --until or now).")
@click.option("--until", metavar="DATE", help="Window end, exclusive.")
@click.option("--limit", type=click.IntRange(1, 500), help="At most this many items (default [bot] digest_limit).")
@click.option("--no-slack", is_flag=True, help="Do not post to Slack.")
@click.option("--no-log", is_flag=True, help="Do not append to the markdown log.")
@click.option("--commit", is_flag=True, help="Commit the log with git after appending.")
@click.option("--resend-uncertain", is_flag=True,
              help="Post again Slack messages whose earlier send had an unknown outcome (check Slack first); "
                   "makes no new digest unless --new.")
@click.option("--new", "new", is_flag=True,
              help="Also make a new digest when this run retries an earlier one (a plain run retries only).")
@click.option("--mark-only", is_flag=True,
              help="Mark the digest's items digested without delivering them anywhere (no Slack, no log).")
@click.option("--json", "as_json", is_flag=True, help="Print the digest as JSON (the same as --format json).")
@pass_state
def digest_command(state: State, dry_run: bool, fmt: str | None, since: str | None, until: str | None,
                   limit: int | None, no_slack: bool, no_log: bool, commit: bool, resend_uncertain: bool,
                   new: bool, mark_only: bool, as_json: bool) -> None:
    """Pick the top undigested relevant items, summarize, render, post to Slack, append to the log."""
    if as_json:
        if fmt not in (None, "json"):
            raise click.UsageError(f"--json and --format {fmt} ask for two outputs; pass one of them")
        fmt = "json"
    if mark_only and (commit or dry_run):
        raise click.UsageError(f"--mark-only delivers nothing, so {'--commit' if commit else '--dry-run'} "
                               "cannot go with it; pass one of them")
    from bot.digest.pipeline import DigestOptions, run

    app = state.app
    stop_before_a_database_without_a_library(app)
    opts = DigestOptions(dry_run=dry_run, since=since, until=until, limit=limit, slack=not (no_slack or mark_only),
                         log=not (no_log or mark_only), commit=commit, resend_uncertain=resend_uncertain, new=new,
                         mark_only=mark_only)
    targets = app.delivery_targets(opts)
    with app.lock("this digest"):
        ensure_library(state, app)
        outcome = run(app.config, app.store, opts, targets, app.now(), summarizer=app.summarizer(),
                      hook=app.stop_hook(), finder=app.thread_finder())
    for warning in outcome.warnings:  # even with -q: the digest is worse than it should be
        err.print(f"Warning: {warning}.", highlight=False, markup=False)
    if not state.quiet:
        for note in [*outcome.notes, *([outcome.held] if outcome.held else [])]:
            err.print(f"Note: {note}.", highlight=False, markup=False)
    if fmt == "json":
        emit_json(outcome.as_json())
    elif fmt == "markdown":
        click.echo(outcome.bodies.get("markdown") or "", nl=False)  # an empty digest has no section
    elif fmt == "slack":
        emit_json(outcome.bodies.get("slack") or [])
    elif dry_run or fmt == "text":
        click.echo(outcome.bodies["text"], nl=False)
    else:
        import bot.cli.render as render

        render.digest_summary(out, outcome)
    failed = [d for d in [*outcome.deliveries, *(x for e in outcome.finished_earlier for x in e.deliveries)]
              if d.status in ("failed", "uncertain")]
    if failed:
        # Point only at what helps: a rerun mends a failure that may pass (Slack down, a 429), not one that
        # will fail the same way (Slack rejected the message) or a send that may have arrived.
        retry = [d for d in failed if d.status == "failed" and (d.digest_id, d.target) not in outcome.unretryable]
        hint = (" Run `bot digest` again to retry what failed." if retry else
                " Check Slack, then `bot digest --resend-uncertain` if it is missing."
                if any(d.status == "uncertain" for d in failed) else "")
        raise BotError("; ".join(f"{d.target} delivery {d.status}: {d.error}" for d in failed) + "." + hint)


@cli.command("run")
@pass_state
def run_command(state: State) -> None:
    """The scheduler daemon: poll every poll_every_minutes, digest on digest_cron. SIGTERM stops it (exit 0),
    Ctrl-C too (exit 130), each letting the running job finish; a second one abandons that job."""
    from bot.scheduler import Daemon

    if not state.verbose:
        logging.getLogger().setLevel(logging.INFO)
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    app = state.app
    c = app.config
    with app.lock("this `bot run`", daemon=True):
        with app.lock("the library's first read"):  # the daemon's jobs sync under this same work lock
            ensure_library(state, app)
        daemon = Daemon(tz=c.timezone, poll_every_minutes=c.poll_every_minutes, digest_cron=c.digest_cron,
                        poll_job=app.poll_job, digest_job=app.digest_job, last_digest=app.last_digest_time,
                        now=app.clock, retry_job=app.retry_job)
        code = daemon.start()
    if code:
        raise click.exceptions.Exit(code)


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
    from datetime import date

    from bot.add import Adder
    from bot.poll import fetch_settings

    queries: list[str] = []
    for u in urls:
        queries.extend(line.strip() for line in sys.stdin if line.strip()) if u == "-" else queries.append(u)
    not_links = [q for q in queries if not is_link(q)]
    if not_links:  # a usage error: checked before anything is fetched or written
        raise ConfigError(f"{not_links[0]!r} is not a link (http://, https:// or www.)"
                          + (f", nor {len(not_links) - 1} more of the arguments" if len(not_links) > 1 else "")
                          + "; nothing was added")
    try:
        when = date.fromisoformat(day) if day else state.app.now().astimezone(state.app.config.tz).date()
    except ValueError as exc:
        raise click.BadParameter(f"{day!r} is not a date like 2026-11-23", param_hint="--date") from exc
    app = state.app
    stop_before_a_database_without_a_library(app)
    finder = app.thread_finder()
    adder = Adder(app.config, app.store, fetch_settings(app.config, []), finder, app.config.arxiv_api)
    with app.lock("this add"):
        ensure_library(state, app)
        results = adder.add(queries, note, when, title, dry_run, commit)
    if as_json:
        emit_json([r.as_dict() for r in results])
    else:
        for r in results:
            if r.status in ("added", "dry-run") and r.entry:
                # Byte for byte what the log gets: rich would expand the note's tab indent into spaces.
                click.echo(r.entry.rstrip("\n"))
            (out if r.status in ("added", "dry-run") else err).print(f"{r.query}: {r.message}", highlight=False,
                                                                     markup=False)
    if any(r.status in ("known", "failed") for r in results):
        raise click.exceptions.Exit(1)


def is_link(query: str) -> bool:
    """What `bot add` takes for a link: http(s)://, or www. (the scheme added)."""
    from bot.core.identity import parse_link, with_scheme  # its patterns cost every command's start-up 7 ms

    url = with_scheme(query.strip())
    return url is not None and parse_link(url) is not None


@cli.command("eval")
@click.argument("archive", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--also", multiple=True, type=click.Path(exists=True, file_okay=False),
              help="Another archive to replay in the same stream (same as a further ARCHIVE).")
@click.option("--limit", "-k", type=click.IntRange(1, 500), default=None,
              help="Digest size to measure recall at (default [bot] digest_limit).")
@click.option("--include-undated", is_flag=True, help="Count undated library documents as known all along.")
@click.option("--review", is_flag=True,
              help="Also rank with a simulated log review (each week's digest items not picked are deleted).")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@pass_state
def eval_command(state: State, archive: tuple[str, ...], also: tuple[str, ...], limit: int | None,
                 include_undated: bool, review: bool, as_json: bool) -> None:
    """Replay archives of daily feed documents week by week, several as one stream: recall of your own picks
    at the digest size. With several, the first (Hacker News) is also replayed alone for comparison."""
    from pathlib import Path

    from bot.evaluate import replay

    app = state.app
    report = replay(app.config, [Path(a) for a in (*archive, *also)], limit or app.config.digest_limit,
                    include_undated, review)
    if as_json:
        emit_json(report)
    else:
        import bot.cli.render as render

        render.eval_tables(out, report)


@cli.command("demo")
@pass_state
def demo_command(state: State) -> None:
    """The whole pipeline offline on the sample feeds shipped with the project, in a temporary database."""
    from bot.cli.demo import run_demo

    run_demo(out, quiet=state.quiet)


@cli.command("init")
@click.argument("folder", required=False, default=".", type=click.Path(file_okay=False))
@pass_state
def init_command(state: State, folder: str) -> None:
    """Write a commented bot.toml and editable copies of the default feed files into FOLDER (default: here)."""
    import shlex
    from pathlib import Path

    from bot.cli.init import LIBRARY_FOLDER, LOG_NAME, init_folder

    report = init_folder(Path(folder))
    where = report.folder
    here = where.resolve() == Path.cwd().resolve()
    bot = "bot" if here else f"bot --config {shlex.quote(str(where / 'bot.toml'))}"
    if state.quiet:
        return
    for path in report.written:
        click.echo(f"wrote {path}")
    if not report.gitignore_existed:
        click.echo(f"wrote {report.gitignore} (keeps .env, the database and caches out of git)")
    elif report.gitignore_added:
        click.echo(f"added {', '.join(report.gitignore_added)} to the existing {report.gitignore}")
    else:
        click.echo(f"left {report.gitignore} as it was: it already keeps .env, the database and caches out of git")
    click.echo(f"\nNext steps:\n"
               f"  1. Put your reading documents (markdown or text reading lists, your reading log) in "
               f"{where / LIBRARY_FOLDER}, then read them in:\n"
               f"       {bot} library import\n"
               f"     Digests are appended to {where / LIBRARY_FOLDER / LOG_NAME} "
               f"(set [bot] log to use your own log).\n"
               f"  2. Poll, and see what the digest would be:\n"
               f"       {bot} poll\n"
               f"       {bot} digest --dry-run\n"
               f"  3. Set up Slack: put SLACK_WEBHOOK_URL=https://hooks.slack.com/services/... in "
               f"{where / '.env'}\n"
               f"     (or SLACK_BOT_TOKEN plus [slack] channel), then `{bot} digest` posts it; `{bot} run` "
               f"keeps it going weekly.\n"
               f"  Edit {where / 'feeds' / 'topics.toml'} for your topics and {where / 'feeds'} for your sources.")
