"""Thin click commands over the library API. Output: tidy tables for people, `--json` for programs
(one JSON document on stdout, nothing else there). Errors: one sentence on stderr, exit 1 when the
work failed, 2 for usage or configuration; the traceback only with -v."""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast

import click

from bot.core.config import Config, Secret
from bot.core.errors import BotError, MissingDocumentError
from bot.core.plural import plural
from bot.core.redact import redact, register
from bot.core.shorten import middle

SECRET_VARIABLES = ("OPENAI_API_KEY", "SLACK_BOT_TOKEN", "SLACK_WEBHOOK_URL")
INTERRUPTED = 130  # the exit code after Ctrl-C
# The libraries whose log lines only -v shows (their failures reach the person as our own sentence).
QUIET_LOGGERS = ("slack_sdk", "openai", "httpx", "httpcore", "feedparser", "urllib3")
PIPE_WIDTH = 10_000  # columns of output that is not a terminal: wide enough that nothing wraps

# Start-up: a command imports only what it uses (`bot --help` must not load every SDK), so the
# heavier modules are imported inside the commands that need them.
if TYPE_CHECKING:
    from rich.console import Console

    from bot.app import App
    from bot.library.api import ImportReport, SyncReport


class RedactSecrets(logging.Filter):
    """Libraries log request URLs and headers at debug level; webhook URLs and tokens are secrets.
    Every log line, and the traceback logged with it, passes through here and loses them (by value
    and by pattern, bot.core.redact), whatever logger wrote it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def register_secrets(config: Config) -> None:
    """Every Secret in the configuration (from the environment or .env) is masked from now on."""
    register(value for value in vars(config).values() if isinstance(value, Secret))


class _LazyConsole:
    """A rich Console made on first use: importing rich costs more than most commands' work.

    Only attribute access is forwarded: whatever rich itself takes a console for (a Progress, a Live,
    `with console:`) must be handed the real one, `real_console(err)`, not this proxy."""

    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def get(self) -> Console:
        if self._console is None:
            from rich.console import Console

            console = Console(stderr=self._stderr, soft_wrap=True)
            if not console.is_terminal and not os.environ.get("COLUMNS"):
                # Into a pipe or a file, a table is as wide as its cells: a name folded at 80 columns
                # ("lilianwen/g") is a name no program (grep, cut) can find.
                console.width = PIPE_WIDTH
            self._console = console
        return self._console

    def made(self) -> Console | None:
        """The console if one was made (a command that printed nothing through rich imported no rich)."""
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


out = cast("Console", _LazyConsole(stderr=False))
err = cast("Console", _LazyConsole(stderr=True))


def real_console(console: Console) -> Console:
    """The rich Console behind `out` or `err` (itself if it is one already)."""
    lazy: Any = console
    return cast("Console", lazy.get()) if isinstance(lazy, _LazyConsole) else console


def restore_terminal() -> None:
    """Show the cursor again if a progress display hid it and was cut short (an error, a signal): a
    terminal left without a cursor is the last thing a command should leave behind."""
    for console in (out, err):
        lazy: Any = console
        made = lazy.made()
        if made is not None and made.is_terminal:
            made.show_cursor(True)


class State:
    def __init__(self, config_path: str | None, verbose: int, quiet: bool) -> None:
        self.config_path = config_path
        self.verbose = verbose
        self.quiet = quiet
        self._app: App | None = None

    @property
    def app(self) -> App:
        if self._app is None:
            from bot.app import App
            from bot.core.config import load_config

            config = load_config(self.config_path)
            register_secrets(config)
            self._app = App(config)
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
    if state.quiet or total <= 1 or not _maybe_terminal() or not err.is_terminal:
        yield lambda _name: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    # Redrawn on each update, not by a refresh thread: a poll forks its fetching workers only while it
    # is the process's one thread (bot.poll._start_method).
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[last]}"), console=real_console(err), transient=True,
                  auto_refresh=False) as bar:
        task = bar.add_task(label, total=total, last="")
        yield lambda name: bar.update(task, advance=1, last=name, refresh=True)


@contextlib.contextmanager
def stage_status(state: State, first: str) -> Iterator[Callable[[str], None]]:
    """What a long command is doing now, one line with a spinner on stderr, on a TTY only (elsewhere a
    no-op); the callable names the next stage. For commands that fork nothing: the spinner turns in a
    thread of its own (a poll's bar must not, see progress_bar)."""
    if state.quiet or not _maybe_terminal() or not err.is_terminal:
        yield lambda _stage: None
        return
    with real_console(err).status(first) as status:
        yield status.update


def _maybe_terminal() -> bool:
    """Whether stderr could be a terminal for rich (a TTY, or one forced by the environment): asked
    before rich, whose import costs a poll's start-up 45 ms, decides."""
    return sys.stderr.isatty() or any(os.environ.get(k) for k in ("FORCE_COLOR", "TTY_COMPATIBLE"))


def say(state: State, message: str) -> None:
    if not state.quiet:
        out.print(message, highlight=False)


class BotGroup(click.Group):
    """The `bot` group: a reading document that is not there is named with where its path came from."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MissingDocumentError as exc:
            state = ctx.find_object(State)
            config = state._app.config if state is not None and state._app is not None else None
            if config is None:
                raise
            raise MissingDocumentError(missing_document(Path(exc.path), config), exc.path) from exc


def missing_document(path: Path, config: Config) -> str:
    """Why a reading document is looked for where it is not, and what to do: it came from the command
    line, from the config file's [library] paths, or from the built-in default when no config is in use."""
    configured = {p.resolve() for p in config.library_paths} | ({config.log.resolve()} if config.log else set())
    if path.resolve() not in configured:
        return f"No such reading document or folder: {path}"
    if config.file is None:
        return (f"No reading documents at {path}: no config file is in use (no --config, ./bot.toml or $BOT_CONFIG), "
                f"so the built-in [library] paths = [\"seeds\"] is read from the working folder; run `bot init` to "
                f"write a config here, pass --config FILE, or create {path.name}/ with your reading documents")
    return f"No such reading document or folder: {path}; fix [library] paths in {config.file}, or create it"


@click.group(cls=BotGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Config file (default: ./bot.toml if present, else $BOT_CONFIG, else built-in defaults).")
@click.option("-v", "--verbose", count=True, help="More logging; tracebacks on errors.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors and requested output.")
@click.version_option(package_name="research-digest-bot")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int, quiet: bool) -> None:
    """The research digest bot: keeps a generative-AI reading log up to date."""
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    # A daemon's log, or -v, is read later and by line: time, level, logger. A command's own warning is
    # read now, at the terminal, as a sentence.
    timed = verbose or ctx.invoked_subcommand == "run"
    form = "%(asctime)s %(levelname)s %(name)s: %(message)s" if timed else "%(levelname)s: %(message)s"
    logging.basicConfig(level=level, format=form, stream=sys.stderr)
    register(os.environ.get(name) for name in SECRET_VARIABLES)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactSecrets())
    if not verbose:  # the SDKs' own error lines repeat, raw, what our one sentence says
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)
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
    from rich.table import Table

    import bot.library.api as lib
    from bot import library_cache

    app = state.app
    if not paths:  # the configured documents must be there before a lock file or a database is made
        stop_before_a_database_without_a_library(app)
    # (A library of 100,000 entries takes half a minute: at a terminal a line says which stage runs.)
    with app.lock("this import"), stage_status(state, "reading the documents") as stage:
        # Named documents are read in; without names the library becomes what [library] paths hold (a
        # document no longer configured leaves).
        if not paths:
            app.sync_library()
        report = lib.import_documents(app.store, list(paths) or app.library_paths())
        # The identity index and relevance model of the library as imported, built while it changes, so
        # that no poll pays for them (seconds for a large library).
        stage("building the library's identity index and model")
        library_cache.refresh(app.store)
    if as_json:
        emit_json(report.as_dict())
        return
    table = Table(title=f"Imported {plural(len(report.files), 'document')}", show_header=True)
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
    say_ignored_links(report, err if state.quiet else out)


@library.command("check")
@click.argument("queries", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per query, in order.")
@pass_state
def library_check(state: State, queries: tuple[str, ...], as_json: bool) -> None:
    """Is each URL or title already known? Use - to read one query per line from stdin."""
    from rich.table import Table

    import bot.library.api as lib

    expanded: list[str] = []
    for q in queries:
        if q == "-":
            expanded.extend(line.strip() for line in sys.stdin if line.strip())
        else:
            expanded.append(q)
    from bot import library_cache

    app = state.app
    import_if_empty(state, app)
    index = library_cache.with_items(library_cache.load(app.store, index_only=True).index, app.store)
    results = lib.check(app.store, expanded, index)
    if as_json:
        emit_json([r.as_dict() for r in results])
        return
    table = Table(show_header=True)
    table.add_column("query", overflow="fold")
    table.add_column("known")
    table.add_column("rule")
    table.add_column("matched", overflow="fold")
    room = max(16, (out.width - 20) // 2)
    for r in results:
        where = ""
        if r.entry:
            place = middle(f"{r.entry.get('file', 'item')}:{r.entry.get('line', r.entry.get('id'))}", room)
            where = f"{place} {r.entry.get('title') or ''}"
        table.add_row(middle(r.query, room), "yes" if r.known else "no", r.rule or "", where.strip())
    out.print(table)


@library.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@pass_state
def library_stats(state: State, as_json: bool) -> None:
    """Counts of entries, links, arXiv ids, HN ids and title-only entries."""
    from rich.table import Table

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
    from rich.table import Table

    import bot.library.api as lib

    rows = state.app.store.search_library(" ".join(text), limit=limit)
    if as_json:
        emit_json([r.as_json() for r in rows])
        return
    if not rows:
        say(state, "No matches.")
        return
    table = Table(show_header=True)
    table.add_column("where")
    table.add_column("date")
    table.add_column("title / line", overflow="fold")
    for r in rows:
        where = f"{lib.display_path(Path(r.file))}:{r.line}"
        table.add_row(middle(where, 32), r.date or "", r.title or (r.text or "")[:120])
    out.print(table)


def ensure_library(state: State, app: App) -> None:
    """Every command that dedupes first brings the library up to date with the documents on disk (a
    stat per document when nothing changed): a line added to the log by hand is known at once."""
    stop_before_a_database_without_a_library(app)
    was_empty = app.store.library_is_empty()
    report = app.sync_library()
    if was_empty and report.read and not state.quiet:
        entries = app.store.library_stats().entries
        err.print(f"(imported {plural(entries, 'library entry', 'library entries')} from "
                  f"{plural(len(report.read), 'document')} first)", highlight=False)
    if report.read:
        say_ignored_links(report, err)


def stop_before_a_database_without_a_library(app: App) -> None:
    if not app.config.db.exists():  # a library that is not there is a config error; leave no database behind
        missing = next((p for p in app.library_paths() if not p.exists()), None)
        if missing is not None:
            raise MissingDocumentError(f"No such reading document or folder: {missing}", str(missing))


def import_if_empty(state: State, app: App) -> None:
    """`library check` answers about the library as imported (documents named to `library import` too):
    a check against an empty library would say "unknown" to everything, so it imports first."""
    stop_before_a_database_without_a_library(app)
    if app.store.library_is_empty():
        import bot.library.api as lib

        report = lib.import_documents(app.store, app.library_paths())
        if not state.quiet:
            err.print(f"(imported {plural(report.stats.entries, 'library entry', 'library entries')} from "
                      f"{plural(len(report.files), 'document')} first)", highlight=False)
        say_ignored_links(report, err)


def say_ignored_links(report: ImportReport | SyncReport, console: Console) -> None:
    """Links in the documents that are not URLs: ignored (their lines are kept), named by file:line."""
    if report.ignored_links:
        one = len(report.ignored_links) == 1
        console.print(f"Ignored {plural(len(report.ignored_links), 'link')} that "
                      f"{'is not a URL (its line is' if one else 'are not URLs (their lines are'} kept):",
                      highlight=False)
        for ignored in report.ignored_links:
            console.print(f"  {ignored}", highlight=False, markup=False)


GLOBAL_FLAGS = ("-v", "-vv", "-vvv", "--verbose", "-q", "--quiet")


def hoist_global_flags(argv: list[str]) -> list[str]:
    """`bot poll -v` means `bot -v poll`: people put -v and -q after the command as often as before it.
    Arguments after `--` are left alone."""
    end = argv.index("--") if "--" in argv else len(argv)
    flags = [a for a in argv[:end] if a in GLOBAL_FLAGS]
    return flags + [a for a in argv[:end] if a not in GLOBAL_FLAGS] + argv[end:]


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the click group and turns errors into one sentence and an exit code."""
    argv = hoist_global_flags(list(argv if argv is not None else sys.argv[1:]))
    verbose = any(a in ("-v", "-vv", "-vvv", "--verbose") for a in argv)
    try:
        result = cli.main(args=argv, prog_name="bot", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except BaseException as exc:
        restore_terminal()
        return _failure(exc, verbose)


def _failure(exc: BaseException, verbose: bool) -> int:
    """The one sentence and the exit code for what ended a command."""
    if isinstance(exc, click.exceptions.Abort):
        if isinstance(exc.__cause__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            err.print("Interrupted.")
            return INTERRUPTED
        err.print("Aborted.")
        return 1
    if isinstance(exc, click.ClickException):
        exc.show()
        return exc.exit_code
    if isinstance(exc, BotError):
        if verbose:
            print_traceback()
        err.print(redact(f"Error: {exc}"), highlight=False, markup=False)
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        err.print("Interrupted.")
        return INTERRUPTED
    if not isinstance(exc, Exception):  # SystemExit and the like: not ours to translate
        raise exc
    # A bug: say so plainly, traceback with -v.
    if verbose:
        print_traceback()
    err.print(redact(f"Unexpected error ({type(exc).__name__}): {exc}. Run with -v for details."),
              highlight=False, markup=False)
    return 1


def print_traceback() -> None:
    """The current exception's traceback on stderr, secrets masked (an error may quote a key)."""
    sys.stderr.write(redact(traceback.format_exc()))


# Objects the cycle collector lets pile up before it looks at the youngest (Python's default is 700). A
# command allocates hundreds of thousands of objects that live until it ends (imported modules, the
# library's index, a poll's items); at 700 the collector runs hundreds of times and scans the survivors
# again and again: 0.16 s of a first poll's 1.2 s of CPU in its main process (200 feeds, 4,000 items),
# 0.06 s at this threshold. Refcounting still frees everything else at once; only garbage in cycles
# waits a little longer (at most this many objects). Forked workers inherit it.
GC_THRESHOLD = 50_000


def run() -> None:
    """The console script: one command in this process, which then ends (exit_now)."""
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    exit_now(main())


def exit_now(code: int) -> NoReturn:
    """Exit as soon as the work is done. The interpreter's teardown frees every object and module one by
    one (0.07 s after an empty poll, more after thousands of items) although nothing is left to do once
    the atexit handlers have run and the output is flushed; so, in a process with no other thread alive,
    those are done here and the process ends. With other threads (a daemon's), the normal exit joins them,
    unless the person interrupted: a thread still working then (a job a second Ctrl-C abandoned) is not
    waited for."""
    if threading.active_count() > 1 and code != INTERRUPTED:
        sys.exit(code)
    atexit._run_exitfuncs()  # logging's shutdown among them
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`bot status | head`) or stream: nothing more to say
            pass
    os._exit(code)


