"""`bot poll`: sources -> normalize -> merge/dedupe -> score -> store, with a report per source.

All feeds are fetched concurrently, by one process per core for many feeds (each with its own client
and its own hosts), and parsed as they arrive; deciding and scoring happen after, and every write of
a poll lands in one transaction (a crash mid-poll stores nothing half-way).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import os
import signal
import struct
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from operator import attrgetter
from typing import TYPE_CHECKING, Any, cast

from bot.children import die_with
from bot.core.config import Config, FeedConfig
from bot.core.errors import ConfigError
from bot.core.identity import Identity, parse_link
from bot.core.records import FeedItem, ItemStatus, ItemUpdate, NewItem
from bot.relevance.topics import TopicMatcher
from bot.sources.feedlist import load_feeds, load_topics
from bot.sources.fetch import Fetcher, FetchSettings, global_limit, import_transport, is_local
from bot.sources.kinds import Offload, SourceOutcome, fetch_source, inline
from bot.sources.registry import default_interval
from bot.store.database import Store

if TYPE_CHECKING:  # deciding's parts are imported when items come: an all-304 poll never loads them
    from bot.core.records import Match
    from bot.library.matcher import IdentityIndex
    from bot.library_cache import LibraryCache
    from bot.relevance.dedupe import Candidate, Decision, KnownIndex
    from bot.relevance.score import Scored, Scorer


@dataclass(frozen=True)
class SourceReport:
    name: str
    kind: str
    fetched: int = 0
    new: int = 0
    known: int = 0
    off_topic: int = 0
    not_modified: bool = False
    result: str = "ok"
    error: str | None = None
    requests: int = 0
    skipped: int = 0  # entries left out because they alone could not be read (their link is not a URL)
    skipped_items: tuple[str, ...] = ()
    left: int = 0  # results left beyond the source's paging cap (arXiv); the next poll resumes there

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class PollReport:
    started: str
    finished: str
    sources: tuple[SourceReport, ...]
    new_items: tuple[int, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        totals = Counter[str]()
        for s in self.sources:
            totals.update({"fetched": s.fetched, "new": s.new, "known": s.known, "off_topic": s.off_topic,
                           "skipped": s.skipped, "left": s.left, "errors": int(s.result == "error"),
                           "not_modified": int(s.not_modified)})
        return {"started": self.started, "finished": self.finished,
                "sources": [s.as_dict() for s in self.sources], "totals": dict(totals)}


def feed_host(feed: FeedConfig) -> str:
    """The host a feed is fetched from ("" for a local file, or a URL that is no URL: that feed fails
    alone when it is fetched)."""
    parts = None if is_local(feed.url) else parse_link(feed.url)
    return (parts.hostname or "").lower() if parts is not None else ""


def fetch_settings(config: Config, feeds: Sequence[FeedConfig]) -> FetchSettings:
    h = config.http
    intervals: dict[str, float] = {}
    for feed in feeds:
        interval = feed.options.get("min_interval", default_interval(feed.kind))
        if not is_local(feed.url) and interval:
            host = feed_host(feed)
            intervals[host] = max(intervals.get(host, 0.0), float(interval))
    hosts = {feed_host(f) for f in feeds if not is_local(f.url)}
    return FetchSettings(
        connect_timeout=h["connect_timeout"], read_timeout=h["read_timeout"], deadline=h["feed_deadline"],
        max_body=int(h["max_body_mb"] * 1024 * 1024), max_redirects=int(h["max_redirects"]),
        concurrency=global_limit(len(hosts), int(h["per_host"]), int(h["concurrency"])), per_host=int(h["per_host"]),
        retry_after_cap=h["retry_after_cap_hours"] * 3600, user_agent=config.user_agent, min_interval=intervals,
    )


def select_feeds(config: Config, only: Sequence[str] = ()) -> list[FeedConfig]:
    feeds = load_feeds(config)
    if only:
        names = {f.name for f in feeds}
        unknown = [n for n in only if n not in names]
        if unknown:
            raise ConfigError(f"No feed named {', '.join(unknown)}; known feeds: {', '.join(sorted(names)) or 'none'}")
        return [f for f in feeds if f.name in only]
    return [f for f in feeds if f.enabled]


PARALLEL_FROM = 16  # feeds; below this, starting processes costs more than it saves


def partition_by_host(feeds: Sequence[FeedConfig], parts: int) -> list[list[int]]:
    """The feeds' positions in at most `parts` groups of about equal size, every feed of a host in the
    same group: each group is fetched by a process of its own, and a host's bound holds only if one
    process owns the host."""
    by_host: dict[str, list[int]] = {}
    for n, feed in enumerate(feeds):
        by_host.setdefault(feed_host(feed), []).append(n)
    groups: list[list[int]] = [[] for _ in range(max(1, min(parts, len(by_host))))]
    for positions in sorted(by_host.values(), key=len, reverse=True):
        min(groups, key=len).extend(positions)
    return [sorted(g) for g in groups if g]


POOL_START_TIMEOUT = 30.0  # seconds for parser processes to come up before parsing inline instead


def start_parse_pool(workers: int) -> ProcessPoolExecutor | None:
    """A pool of parser processes, started and ready; None where processes cannot be made."""
    pool = None
    try:
        # forkserver, not fork: this is for a poll that has other threads (see _start_method).
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["bot.sources.parsers"])  # imported once, not once per worker
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=die_with,
                                   initargs=(os.getpid(),))
        for started in [pool.submit(int) for _ in range(workers)]:
            started.result(timeout=POOL_START_TIMEOUT)
    except (OSError, ValueError, RuntimeError, TimeoutError):
        # No processes here (a sandbox, a broken pool, a start that hangs): parse inline, just slower.
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        return None
    return pool


async def fetch_feeds(feeds: Sequence[FeedConfig], states: dict[str, dict[str, Any]], fetcher: Fetcher,
                      now: datetime, progress: Callable[[str], None] | None = None,
                      parse_pool: bool = False, finished: list[SourceOutcome] | None = None) -> list[SourceOutcome]:
    """Every feed through one client, concurrently; each feed is parsed as soon as its body is in, while
    the other requests are still in flight: here, or (parse_pool) in a pool of parser processes that
    starts while the first requests are out, for a poll of many feeds in one process. Each outcome also
    goes into `finished` as it completes, so an interrupted poll can still store what it got."""
    found: list[SourceOutcome | None] = [None] * len(feeds)

    def keep(n: int, outcome: SourceOutcome) -> None:
        found[n] = outcome
        if finished is not None:
            finished.append(outcome)
        if progress:
            progress(outcome.feed.name)

    await each_feed(feeds, states, fetcher, now, keep, parse_pool)
    return [o for o in found if o is not None]


async def each_feed(feeds: Sequence[FeedConfig], states: dict[str, dict[str, Any]], fetcher: Fetcher,
                    now: datetime, deliver: Callable[[int, SourceOutcome], None], parse_pool: bool = False) -> None:
    """fetch_feeds' work: each feed's outcome handed to `deliver` (with the feed's position) as soon as it
    is complete, and not held here after (a fetch worker sends it on and drops it)."""
    pool: asyncio.Future[ProcessPoolExecutor | None] | None = None
    offload: Offload = inline
    if parse_pool:
        loop = asyncio.get_running_loop()
        pool = loop.run_in_executor(None, start_parse_pool, os.cpu_count() or 1)

        async def offload(fn: Callable[..., Any], *args: Any) -> Any:  # noqa: F811
            assert pool is not None
            executor = await pool
            if executor is None:
                return fn(*args)
            return await loop.run_in_executor(executor, fn, *args)

    async def one(n: int, feed: FeedConfig) -> None:
        try:
            outcome = await fetch_source(feed, states.get(feed.name, {}), fetcher, now, offload)
        except Exception as exc:  # a bug in one source must not lose the others' items
            outcome = SourceOutcome(feed, result="error", error=f"{type(exc).__name__}: {exc}")
        deliver(n, outcome)

    try:
        async with fetcher:
            await asyncio.gather(*(one(n, f) for n, f in enumerate(feeds)))
    finally:
        if pool is not None and (executor := await pool) is not None:
            executor.shutdown(wait=True, cancel_futures=True)


def many_to_parse(feeds: Sequence[FeedConfig]) -> bool:
    return len(feeds) >= PARALLEL_FROM and (os.cpu_count() or 1) > 1


def _reduce_identity(identity: Identity) -> tuple[type[Identity], tuple[str, str]]:
    return Identity, (identity.kind, identity.value)


def carry_identities_lightly() -> None:
    """Items come back from worker processes pickled, four or five identities each. A frozen dataclass
    with slots pickles its state for a __setstate__ that asks dataclasses.fields() for every object;
    rebuilt from its two strings instead, an identity costs half as much to send and a third less to
    receive (4,000 items: 55 ms + 59 ms down to 28 ms + 38 ms), and is equal to what was sent.
    Registered for the pickler every process pool uses; forked workers inherit it."""
    ForkingPickler.register(Identity, _reduce_identity)


def fetch_partition(feeds: Sequence[FeedConfig], states: dict[str, dict[str, Any]], settings: FetchSettings,
                    now: datetime, positions: Sequence[int], send: Connection) -> None:
    """One process's share of a poll: its own client for its own hosts. Runs in a worker process, and
    sends each feed's outcome (with its position among the poll's feeds) through `send` as soon as it is
    complete, then None once all are sent. It holds no outcome after it is sent: a worker that held its
    whole share (50,000 items of a 100,000-item poll) until the end was 105 MB at the poll's peak."""
    asyncio.run(_stream_partition(feeds, states, settings, now, positions, send))


PIPE_BYTES = 1 << 20  # a fetch worker's pipe: twenty feeds of 200 items


def _widen(pipe: Connection) -> None:
    """A fetch worker's pipe made to hold PIPE_BYTES (Linux; elsewhere, or past the user's pipe quota, it
    keeps the system's size). The worker writes it between two steps of its event loop, and a step may
    parse a feed for tens of milliseconds: through a pipe of 64 kB (or 4 kB, once the user's processes
    hold many pipes) a worker made outcomes faster than it could write them, and sent most of them only
    at its end, as if it did not stream at all."""
    try:
        import fcntl

        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        pass


def _framed(message: bytes | memoryview) -> bytes:
    """A message as multiprocessing's Connection.send_bytes frames it (a 4-byte big-endian length first),
    so that the poll's process reads it with Connection.recv."""
    return b"".join((struct.pack("!i", len(message)), message))


async def _stream_partition(feeds: Sequence[FeedConfig], states: dict[str, dict[str, Any]], settings: FetchSettings,
                            now: datetime, positions: Sequence[int], send: Connection) -> None:
    """fetch_partition's work. The pipe is written through the event loop's own transport: a write never
    blocks, and what the pipe cannot take yet (the poll's process is reading the library, say) waits in
    the transport's buffer while the requests go on. (A sending thread was tried first: it wakes and takes
    the GIL from the loop at every outcome, and in one run under load its 100,000-item fetch took 16 s
    against 11 s for the code before.)"""
    loop = asyncio.get_running_loop()
    closed = loop.create_future()

    class Sent(asyncio.Protocol):
        def connection_lost(self, exc: Exception | None) -> None:
            if not closed.done():
                closed.set_result(None)

    transport, _ = await loop.connect_write_pipe(Sent, send)

    def deliver(n: int, outcome: SourceOutcome) -> None:
        transport.write(_framed(ForkingPickler.dumps((positions[n], outcome))))

    try:
        await each_feed(feeds, states, Fetcher(settings, now=lambda: now), now, deliver)
        # The end marker only after a complete share: the poll fetches what a failed one did not send.
        transport.write(_framed(ForkingPickler.dumps(None)))
    finally:
        transport.close()  # once what is buffered is written
        await closed


def _fetch_worker(command_pid: int, partition: Callable[..., None], *args: Any) -> None:
    """A fetch worker's body: it dies with the command, and leaves ^C to the poll's process (which keeps
    what the finished feeds brought and ends its workers)."""
    die_with(command_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    partition(*args)


def _start_method() -> str | None:
    """How to start worker processes, or None to work in this process. fork starts a worker at once with
    everything imported, but copies only the calling thread: with other threads running (a scheduler,
    test servers) a child could inherit a lock one of them held. The fork server is safe there but
    takes longer to start (about a second) than a poll through one client loses, so then: None."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return "fork"
    return None


def fetch_all(feeds: Sequence[FeedConfig], states: dict[str, dict[str, Any]], settings: FetchSettings,
              configured: int, now: datetime, progress: Callable[[str], None] | None = None,
              meanwhile: Callable[[], None] | None = None,
              finished: list[SourceOutcome] | None = None) -> list[SourceOutcome]:
    """Outcomes in the order of `feeds`. From PARALLEL_FROM feeds on, the hosts are spread over one
    process per core, each with its own client, bound and parser (one client cannot keep up with a
    few hundred hosts on one core); `meanwhile` runs here while they work. Where no worker can be
    started safely and at once (see _start_method), one client here does it all.

    Each worker streams its outcomes here as they complete, through a pipe of its own, so that neither
    it nor this process holds a second copy of a share's items (the peak of a 100,000-item poll was the
    two workers' halves beside this process's whole). A worker that dies (killed, crashed) or cannot be
    started has the feeds it did not send fetched here instead; none is fetched twice."""
    parts = partition_by_host(feeds, os.cpu_count() or 1) if len(feeds) >= PARALLEL_FROM else []

    def share(part: Sequence[int]) -> FetchSettings:  # a client's bound: sized to its own hosts
        hosts = {feed_host(feeds[n]) for n in part} - {""}
        return replace(settings, concurrency=global_limit(len(hosts), settings.per_host, configured))

    method = _start_method()
    workers: dict[Connection, tuple[multiprocessing.process.BaseProcess, list[int]]] = {}
    unstarted: list[int] = []
    if len(parts) > 1 and method is not None:
        # Workers are forked: what they import before their first request is imported here, once.
        import_transport()
        carry_identities_lightly()
        context = cast(multiprocessing.context.DefaultContext, multiprocessing.get_context(method))
        if method == "forkserver":
            context.set_forkserver_preload(["bot.poll"])  # imported once, not once per worker
        for part in parts:
            receive, send = context.Pipe(duplex=False)
            _widen(send)
            try:
                worker = context.Process(target=_fetch_worker, name="fetch", daemon=True, args=(
                    os.getpid(), fetch_partition, [feeds[n] for n in part],
                    {feeds[n].name: states.get(feeds[n].name, {}) for n in part}, share(part), now, part, send))
                worker.start()
            except (OSError, ValueError, RuntimeError):  # no process here (a sandbox, a limit): fetched here
                receive.close()
                unstarted += part
                continue
            finally:
                send.close()  # the worker's end, closed here before the next worker forks: its end alone
                # keeps the pipe open, so that this process reads the end of the pipe when it dies
            workers[receive] = (worker, part)
    if not workers:
        # `meanwhile` in a thread: it reads files and the database while the requests are out.
        beside = threading.Thread(target=meanwhile, name="meanwhile") if meanwhile else None
        if beside:
            beside.start()
        try:
            return asyncio.run(fetch_feeds(feeds, states, Fetcher(settings, now=lambda: now), now, progress,
                                           parse_pool=many_to_parse(feeds), finished=finished))
        finally:
            if beside:
                beside.join()
    found: dict[int, SourceOutcome] = {}

    def keep(n: int, outcome: SourceOutcome) -> None:
        if n in found:  # (a worker sends each of its feeds once; a feed is fetched here only if it was not)
            return
        found[n] = outcome
        if finished is not None:
            finished.append(outcome)
        if progress:
            progress(outcome.feed.name)

    def fetch_here(positions: list[int]) -> None:
        if positions:
            asyncio.run(each_feed([feeds[n] for n in positions], states, Fetcher(share(positions), now=lambda: now),
                                  now, lambda k, outcome: keep(positions[k], outcome)))

    try:
        if meanwhile:
            meanwhile()
        fetch_here(unstarted)
        while workers:
            for ready in multiprocessing.connection.wait(list(workers)):
                receive = cast(Connection, ready)
                try:
                    message = receive.recv()
                except (EOFError, OSError):  # the worker died before it sent all: the rest is fetched here
                    message = False
                if message is None or message is False:
                    gone, part = workers.pop(receive)
                    receive.close()
                    gone.join(timeout=None if message is None else 5)
                    if gone.is_alive():  # (it sent a broken message and lives on: it ends now)
                        gone.terminate()
                        gone.join()
                    if message is False:
                        fetch_here([n for n in part if n not in found])
                else:
                    keep(*message)
    finally:
        for receive, (left, _) in workers.items():  # interrupted: nothing more is wanted from them
            receive.close()
            left.terminate()
            left.join()
    return [found[n] for n in range(len(feeds))]


BACKGROUND_ITEMS = 3000


def build_scorer(topics: TopicMatcher, store: Store, now: datetime, batch: Sequence[FeedItem] = (),
                 library: LibraryCache | None = None) -> Scorer:
    from bot import library_cache
    from bot.relevance.score import Scorer
    from bot.relevance.taste import TasteModel
    from bot.relevance.words import tokens

    library = library or library_cache.load(store)
    # The background for taste: this poll's items and the most recent stored ones.
    recent = store.recent_item_texts(BACKGROUND_ITEMS)
    background = [tokens(f"{i.title} {i.summary[:300]}") for i in batch]
    background += [tokens(f"{t} {(s or '')[:300]}") for t, s in recent]
    taste = TasteModel.from_library_counts(library.taste_counts, library.taste_entries, background)
    return Scorer(topics, library.model, now, taste=taste)


def poll(config: Config, store: Store, only: Sequence[str] = (), now: datetime | None = None,
         fetcher: Fetcher | None = None, progress: Callable[[str], None] | None = None,
         hook: Callable[[str], None] | None = None) -> PollReport:
    now = now or store.clock()
    started = now.isoformat(timespec="seconds")
    feeds = select_feeds(config, only)
    topics = TopicMatcher(load_topics(config.topics))  # a bad topics file fails before any request
    states = {f.name: store.source_state(f.name).remembered() for f in feeds}
    for name in only:  # naming a feed that answered 410 Gone asks it again
        states[name].pop("gone", None)
    library: list[LibraryCache] = []

    def preload() -> None:
        # A feed never fetched before answers with a body for sure: read the library's index and model
        # while the requests are in flight. (A poll of feeds that may all answer 304 reads them only
        # if some items come.)
        if any(not (states[f.name].get("etag") or states[f.name].get("last_modified")) for f in feeds):
            from bot import library_cache

            library.append(library_cache.load(store))

    finished: list[SourceOutcome] = []
    try:
        if fetcher is not None:  # a test's own client: everything through it, in this process
            outcomes = asyncio.run(fetch_feeds(feeds, states, fetcher, now, progress,
                                               parse_pool=many_to_parse(feeds), finished=finished))
        else:
            outcomes = fetch_all(feeds, states, fetch_settings(config, feeds), int(config.http["concurrency"]),
                                 now, progress, meanwhile=preload, finished=finished)
    except KeyboardInterrupt:  # Ctrl-C: keep what the feeds that had finished brought, then stop
        if finished:
            store_outcomes(config, store, finished, topics, now, started, library[0] if library else None)
        raise
    if hook:
        hook("poll-fetched")  # crash tests stop here: fetched, nothing stored
    report = store_outcomes(config, store, outcomes, topics, now, started, library[0] if library else None)
    if hook:
        hook("poll-stored")
    return report


PARALLEL_SCORING_FROM = 500  # candidates; below this, a process costs more than it saves
# What forked judging workers inherit: the index of what is known, the scorer, the candidates, and the
# positions of those that no exact rule matched (the only ones left to look up fuzzily and to score).
_judging: tuple[KnownIndex, Scorer, Sequence[Candidate], Sequence[int]] | None = None
Judged = tuple["Match | None", "Scored | None"]


def _judge_range(start: int, stop: int) -> list[Judged]:
    """Each candidate of a share (of those no exact rule matched) looked up fuzzily among what is known,
    and scored unless it is known. Runs here and in forked workers, on what this process had in hand
    when it forked."""
    assert _judging is not None
    index, scorer, candidates, todo = _judging
    judged: list[Judged] = []
    for n in todo[start:stop]:
        c = candidates[n]
        match = index.fuzzy(c.item.identities)
        judged.append((match, None if match is not None else scorer.score(c.item, c.sources)))
    return judged


def _start_judging(command_pid: int, index: KnownIndex, scorer: Scorer) -> None:
    """Initializer of a judging worker: what _judge_slim looks up and scores with."""
    die_with(command_pid)
    global _judging
    _judging = (index, scorer, (), ())


_ITEM_FIELDS = tuple(f for f in FeedItem.__dataclass_fields__ if f != "identities")
_item_fields = attrgetter(*_ITEM_FIELDS)
Slim = tuple[tuple[Any, ...], tuple[str, ...], tuple[str, ...]]  # an item's fields, its titles, its sources


def _slim(c: Candidate) -> Slim:
    """What a judging worker needs of a candidate, cheap to pickle (a FeedItem's frozenset of identities
    costs five times the rest): its fields but the identities, and its titles in the order it has them."""
    return _item_fields(c.item), tuple(i.value for i in c.item.identities if i.kind == "title"), c.sources


def _judge_slim(rows: list[Slim]) -> list[Judged]:
    """_judge_range in a judging worker, on candidates sent as _slim rows."""
    from bot.core.identity import Identity

    assert _judging is not None
    index, scorer = _judging[0], _judging[1]
    judged: list[Judged] = []
    for fields, titles, sources in rows:
        titled = [Identity("title", t) for t in titles]
        match = index.fuzzy(titled)
        if match is not None:
            judged.append((match, None))
            continue
        item = FeedItem(**dict(zip(_ITEM_FIELDS, fields, strict=True)), identities=frozenset(titled))
        judged.append((None, scorer.score(item, sources)))
    return judged


JUDGE_CHUNK = 2000  # candidates judged at a time; their decisions are stored before more are judged
AHEAD = 4  # chunks queued for each judging worker, so that it never waits on this process


def _judged_in_order(count: int, held: int = 0) -> Iterator[list[Judged]]:
    """_judge_range over all `count` candidates, chunk by chunk in order: for many, worker processes take
    the chunks in order, a few ahead, and this process judges the next one only while it would otherwise
    wait (it also decides and stores every one). Each lookup and score
    depends on nothing but the candidate, the index and the scorer, so the split changes no result; and
    only a few chunks' scores are ever held, not a whole poll's. For a huge poll the workers are started
    afresh (spawn), not forked: a forked worker is counted for every page of this process it was forked
    from, a poll's 100,000 items included (a second copy on paper: 200 MB more at the peak), while a fresh
    one holds the index, the scorer and a chunk at a time (_judging_context). Where a poll forks its
    fetch workers (its process's only thread) its judging is spread too; elsewhere one core does it all,
    as before."""
    workers = min(os.cpu_count() or 1, count // (PARALLEL_SCORING_FROM // 2) or 1)
    spread = count >= PARALLEL_SCORING_FROM and workers >= 2 and _start_method() == "fork"
    # Several chunks per process, not one or two: the worker takes a few ahead, and this process needs
    # chunks left over to judge while it waits (with four chunks all four went ahead to the one worker,
    # and this process only waited: a 5,000-paper poll was judged on one core).
    size = max(1, min(JUDGE_CHUNK, -(-count // (8 * workers))))
    bounds = [(start, min(start + size, count)) for start in range(0, count, size)]
    pool: ProcessPoolExecutor | None = None
    if spread:
        assert _judging is not None
        try:
            pool = ProcessPoolExecutor(max_workers=workers - 1, mp_context=_judging_context(max(count, held)),
                                       initializer=_start_judging, initargs=(os.getpid(), *_judging[:2]))
        except OSError:
            pool = None
    untaken = deque(range(len(bounds)))  # chunks nobody has taken yet, in order
    ahead: dict[int, Future[list[Judged]]] = {}  # taken by a worker
    here: dict[int, list[Judged]] = {}  # judged here, while waiting on a worker
    try:
        for k in range(len(bounds)):
            judged: list[Judged] | None = None
            while judged is None:
                if pool is not None:
                    try:
                        while untaken and len(ahead) < AHEAD * (workers - 1):
                            ahead[untaken[0]] = pool.submit(_judge_slim, _slim_rows(*bounds[untaken[0]]))
                            untaken.popleft()
                        if k in ahead and (ahead[k].done() or not untaken):
                            judged = ahead[k].result()
                            del ahead[k]
                            continue
                    except (OSError, RuntimeError, BrokenProcessPool):  # a worker died: the rest is done here
                        pool.shutdown(wait=False, cancel_futures=True)
                        pool = None
                        untaken = deque(sorted({*ahead, *untaken}))
                        ahead = {}
                        continue
                if k in here:
                    judged = here.pop(k)
                else:  # k itself when no worker has it, else the next one, judged here while the workers work
                    j = untaken.popleft()
                    here[j] = _judge_range(*bounds[j])
            yield judged
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


SPAWN_JUDGES_FROM = 20_000  # items the poll holds; below this, judging workers are forked


def _judging_context(held: int) -> multiprocessing.context.BaseContext:
    """fork for an ordinary poll, spawn for a huge one. A forked worker starts at once with everything
    imported (a spawned one costs a fresh interpreter, its imports and the index sent over: 0.3 s of a
    4,000-item first poll), but it is counted for every page of this process it was forked from, which
    matters only when this process holds tens of thousands of items (100,000: 200 MB more at the peak).
    `held` counts the poll's candidates, not only those left to judge: a re-poll of 100,000 items that
    finds 1,620 new forked its worker from 240 MB and peaked at 467 MB."""
    return multiprocessing.get_context("spawn" if held >= SPAWN_JUDGES_FROM else "fork")


def _slim_rows(start: int, stop: int) -> list[Slim]:
    assert _judging is not None
    _, _, candidates, todo = _judging
    return [_slim(candidates[n]) for n in todo[start:stop]]


def judge_each(candidates: Sequence[Candidate], index: IdentityIndex,
               scorer: Scorer) -> Iterator[tuple[Decision, Scored | None]]:
    """Each candidate known or new (as dedupe.decide decides), in order, with its score when new.
    Exact lookups come first, here (the stored items' in the database, in batches); the costly rest,
    looking up fuzzily those no exact rule matched and scoring those still not found, is spread over the
    cores chunk by chunk; deciding in order among this poll's own new candidates stays here, and each
    decision is handed on as soon as every candidate before it is decided. A re-poll of what was stored
    is all exact matches: nothing to fork for."""
    from bot.relevance.dedupe import KnownIndex, Pending

    global _judging
    known = index if isinstance(index, KnownIndex) else KnownIndex(index)
    found = known.exact_all([c.item.identities for c in candidates])
    todo = [n for n, match in enumerate(found) if match is None]
    if todo:
        known.stored_titles()  # read and packed here, before any worker forks
    pending: Pending | None = None
    scores: dict[int, Scored] = {}
    decided = 0
    _judging = (known, scorer, candidates, todo)
    try:
        done = 0
        for judged in _judged_in_order(len(todo), held=len(candidates)):
            if pending is None:  # made after the workers forked: only this process needs it
                pending = Pending(candidates, todo)
            for n, (match, score) in zip(todo[done:done + len(judged)], judged, strict=True):
                found[n] = match
                if score is not None:
                    scores[n] = score
            done += len(judged)
            ready = todo[done] if done < len(todo) else len(candidates)  # every candidate before it is judged
            while decided < ready:
                decision = pending.decide(decided, found[decided])
                score = scores.pop(decided, None)  # (one found among this poll's own was scored too)
                yield decision, score if decision.match is None else None
                decided += 1
    finally:
        _judging = None
    pending = pending or Pending(candidates, ())
    while decided < len(candidates):  # all found by an exact rule
        yield pending.decide(decided, found[decided]), None
        decided += 1


def judge_all(candidates: Sequence[Candidate], index: IdentityIndex,
              scorer: Scorer) -> tuple[list[Decision], dict[int, Scored]]:
    """judge_each's decisions in a list, and each new one's score keyed by id(decision)."""
    decisions: list[Decision] = []
    scored: dict[int, Scored] = {}
    for decision, score in judge_each(candidates, index, scorer):
        decisions.append(decision)
        if decision.match is None:
            assert score is not None  # not found in the index, so scored
            scored[id(decision)] = score
    return decisions, scored


STORE_BATCH = 5000  # new items inserted at a time (in the poll's one transaction)


def store_outcomes(config: Config, store: Store, outcomes: Sequence[SourceOutcome], topics: TopicMatcher,
                   now: datetime, started: str, library: LibraryCache | None = None) -> PollReport:
    all_items = [item for o in outcomes for item in o.items]
    judged: Iterator[tuple[Decision, Scored | None]] = iter(())
    scorer: Scorer | None = None
    if all_items:  # an all-304 poll reads (and imports) neither the identity index nor the library model
        from bot import library_cache
        from bot.relevance.dedupe import merge

        library = library or library_cache.load(store)
        scorer = build_scorer(topics, store, now, all_items, library)
        judged = judge_each(merge(all_items), library_cache.with_items(library.index, store), scorer)
    fate: dict[int, str] = {}  # id(FeedItem) -> new | known | off_topic
    stamp = now.isoformat(timespec="seconds")
    with store.transaction():
        # Judged, decided and stored as they come: a poll of 100,000 items never holds all their scores
        # and records at once (the writes are still one transaction).
        fresh: list[NewItem] = []
        new_ids: list[int] = []
        for decision, score in judged:
            assert scorer is not None
            record = _apply(config, store, decision, scorer, stamp, score)
            if record is None:
                label = "known"
            else:
                fresh.append(record)
                label = "off_topic" if record.status == "off_topic" else "new"
                if len(fresh) >= STORE_BATCH:
                    new_ids += store.insert_items(fresh)
                    fresh = []
            for member in decision.candidate.members:
                fate[id(member)] = label
        new_ids += store.insert_items(fresh)
        reports = []
        for o in outcomes:
            counts = Counter(fate.get(id(i), "known") for i in o.items)
            report = SourceReport(
                name=o.feed.name, kind=o.feed.kind, fetched=len(o.items), new=counts["new"],
                known=counts["known"], off_topic=counts["off_topic"], not_modified=o.result == "not_modified",
                result=o.result, error=o.error, requests=o.requests, skipped=o.skipped,
                skipped_items=tuple(o.skipped_items), left=o.left,
            )
            reports.append(report)
            state: dict[str, Any] = {"kind": o.feed.kind, "url": o.feed.url, "last_poll": stamp,
                                     "result": o.result, "error": o.error,
                                     "stats": {k: v for k, v in report.as_dict().items() if k not in ("name", "kind")}}
            if o.result != "error" or "retry_after" in o.state:
                state.update(o.state)
            else:  # what a failed poll learnt about the address itself (gone, moved) still holds
                state.update({k: o.state[k] for k in ("gone", "moved_to") if k in o.state})
            store.save_source_state(o.feed.name, **state)
    return PollReport(started, store.now(), tuple(reports), tuple(new_ids))


def _apply(config: Config, store: Store, decision: Decision, scorer: Scorer, stamp: str,
           scored: Scored | None = None) -> NewItem | None:
    """The record of a new item to store, or None after refreshing a known, undigested one."""
    cand = decision.candidate
    match = decision.match
    if match is not None:
        if match.owner == "item":
            _refresh(store, match.owner_id, cand, scorer, stamp)
        return None
    item = cand.item
    scored = scored or scorer.score(item, cand.sources)
    status: ItemStatus = "relevant" if scored.relevance >= config.relevance_threshold else "off_topic"
    return NewItem(
        title=item.title, url=item.url, discussion=item.discussion, arxiv_id=item.arxiv_id,
        doi=item.doi, published=item.published, first_seen=stamp, sources=tuple(cand.sources),
        topics=tuple(scored.topics), score=scored.score, relevance=scored.relevance, status=status,
        summary=item.summary, categories=item.categories, points=item.points, comments=item.comments,
        explain=scored.explain, identities=item.identities,
    )


def _refresh(store: Store, item_id: int, cand: Candidate, scorer: Scorer, stamp: str) -> None:
    """A source reported an item we already hold: climb its points, add the HN thread or the other
    source, and re-rank it on those signals (its relevance stands), but never touch an item that a
    digest already carried."""
    row = store.item(item_id)
    if row is None or row.digest_id:
        return
    item = cand.item
    fields: ItemUpdate = {"updated": stamp}
    sources = tuple(dict.fromkeys([*row.sources, *cand.sources]))
    if sources != row.sources:
        fields["sources"] = sources
    if item.points is not None and (row.points is None or item.points > row.points):  # counts only climb
        fields["points"] = item.points
    if item.comments is not None and (row.comments is None or item.comments > row.comments):
        fields["comments"] = item.comments
    if item.discussion and not row.discussion:
        fields["discussion"] = item.discussion
    if item.arxiv_id and not row.arxiv_id:
        fields["arxiv_id"] = item.arxiv_id
    if len(item.summary) > len(row.summary or ""):
        fields["summary"] = item.summary
    if row.relevance is not None and fields.keys() & {"sources", "points", "comments", "discussion", "arxiv_id"}:
        now = replace(row, **fields)  # the item as stored after this refresh
        held = replace(item, published=now.published or item.published,
                       categories=now.categories or item.categories, points=now.points,
                       comments=now.comments, discussion=now.discussion, arxiv_id=now.arxiv_id)
        score, parts = scorer.rank(row.relevance, held, list(now.sources))
        fields["score"] = score
        fields["explain"] = {**row.explain, **parts}
    store.update_item(item_id, fields, item.identities)
