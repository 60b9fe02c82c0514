"""`bot run`: the scheduler daemon (spec section 9). The only module that imports apscheduler.

Polls every poll_every_minutes (the first at start), then retries the deliveries that are due
(failed ones with backoff), digests on digest_cron in the configured timezone, runs a digest at
start-up when one was missed while the daemon was down. On SIGTERM or SIGINT (Ctrl-C) it lets the
running job finish (it is one transaction either way) and stops: exit 0 after SIGTERM (a service
manager asked it to), 130 after SIGINT (a person interrupted it, as every command exits on Ctrl-C).
A second signal while a job still runs abandons it at once: whatever it had not committed is not
kept. Jobs run one at a time on one worker, so a poll and a digest never overlap.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from types import FrameType
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.core.cron import EVERY_DAY, digest_missed

log = logging.getLogger("bot.run")
Job = Callable[[], str]
INTERRUPTED = 130  # the exit code after Ctrl-C, as for every command


class Abandoned(KeyboardInterrupt):
    """A second signal while a job runs: stop now, leave the job (its transaction) unfinished."""


def cron_trigger(cron: str, tz: str) -> CronTrigger:
    """APScheduler's trigger for a validated bot.core.cron expression."""
    days, clock = cron.split()
    hour, minute = (int(x) for x in clock.split(":"))
    day_of_week = "*" if days in EVERY_DAY else days  # apscheduler takes the same day names
    return CronTrigger(day_of_week=day_of_week, hour=hour, minute=minute, timezone=ZoneInfo(tz))


class Daemon:
    def __init__(self, *, tz: str, poll_every_minutes: int, digest_cron: str, poll_job: Job, digest_job: Job,
                 last_digest: Callable[[], datetime | None], now: Callable[[], datetime],
                 retry_job: Job | None = None) -> None:
        self.tz = tz
        self.retry_job = retry_job
        self.poll_every = poll_every_minutes
        self.cron = digest_cron
        self.poll_job = poll_job
        self.digest_job = digest_job
        self.last_digest = last_digest
        self.now = now
        self._busy = threading.Lock()  # held while a job runs
        # The scheduler runs in its own thread; this one waits for a signal, then for the running job.
        self.scheduler = BackgroundScheduler(
            timezone=ZoneInfo(tz),
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 6 * 3600},
        )

    @contextmanager
    def _job(self) -> Iterator[None]:
        with self._busy:
            yield

    def _run(self, name: str, job: Job) -> None:
        try:
            result = job()
            if result:  # a job with nothing to do says nothing
                log.info("%s: %s", name, result)
        except Exception as exc:  # one failed job never stops the daemon
            log.error("%s: failed: %s", name, exc)

    def _tick(self) -> None:
        """A poll, then the deliveries due for a retry: a failed Slack post waits for the next tick,
        not for the next digest (which may be a week away)."""
        with self._job():
            self._poll_and_retry()

    def _poll_and_retry(self) -> None:
        self._run("poll", self.poll_job)
        if self.retry_job is not None:
            self._run("retry", self.retry_job)

    def _digest(self, name: str) -> None:
        with self._job():
            self._run(name, self.digest_job)

    def start(self) -> int:
        """Runs until SIGTERM or SIGINT; returns the exit code (0 after SIGTERM, 130 after SIGINT). A second
        signal while the running job is finishing raises Abandoned (a KeyboardInterrupt)."""
        now = self.now()
        missed = digest_missed(self.cron, self.tz, now, self.last_digest())

        def first_tick() -> None:  # one job, so the missed digest follows the poll without a timed gap
            with self._job():
                self._poll_and_retry()
                if missed:
                    self._run("digest (missed)", self.digest_job)

        self.scheduler.add_job(first_tick, id="start-up", next_run_time=now)
        self.scheduler.add_job(self._tick, IntervalTrigger(minutes=self.poll_every, timezone=ZoneInfo(self.tz)),
                               id="poll", next_run_time=now + timedelta(minutes=self.poll_every))
        self.scheduler.add_job(self._digest, cron_trigger(self.cron, self.tz), args=["digest"], id="digest")
        if missed:
            log.info("digest: one was due while the daemon was down; running it after the first poll")

        signals: list[int] = []
        finishing: list[bool] = []

        def stop(signum: int, _frame: FrameType | None) -> None:
            # Only records the signal: a handler runs between two bytecodes of this thread, which may
            # hold any lock at that moment, so it takes none (the scheduler's included).
            signals.append(signum)
            name = signal.Signals(signum).name
            if len(signals) == 1 and self._busy.locked():
                log.info("stopping on %s: letting the current job finish (%s again abandons it)", name,
                         "Ctrl-C" if signum == signal.SIGINT else name)
            elif len(signals) == 1:
                log.info("stopping on %s", name)
            elif finishing and self._busy.locked():
                log.warning("%s again: abandoning the current job", name)
                raise Abandoned

        previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.scheduler.start()
            log.info("started: poll every %d min, digest %s (%s)", self.poll_every, self.cron, self.tz)
            while not signals:
                time.sleep(0.2)  # a signal ends the sleep early; its handler has run by the next check
            finishing.append(True)
            self.scheduler.shutdown(wait=False)  # no new job starts
            while not self._busy.acquire(timeout=0.2):  # the running one finishes (or a signal abandons it)
                pass
            self._busy.release()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        log.info("stopped")
        return INTERRUPTED if signals[0] == signal.SIGINT else 0
