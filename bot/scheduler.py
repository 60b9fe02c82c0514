"""`bot run`: the scheduler daemon (spec section 9). The only module that imports apscheduler.

Polls every poll_every_minutes (the first at start), then retries the deliveries that are due
(failed ones with backoff), digests on digest_cron in the configured timezone, runs a digest at
start-up when one was missed while the daemon was down, and on SIGTERM or SIGINT lets the running
job finish (it is one transaction either way) and exits 0. Jobs run one at a time on one worker, so
a poll and a digest never overlap.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from datetime import datetime, timedelta
from types import FrameType
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.core.cron import EVERY_DAY, digest_missed

log = logging.getLogger("bot.run")
Job = Callable[[], str]


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
        self.scheduler = BlockingScheduler(
            timezone=ZoneInfo(tz),
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 6 * 3600},
        )

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
        self._run("poll", self.poll_job)
        if self.retry_job is not None:
            self._run("retry", self.retry_job)

    def start(self) -> int:
        now = self.now()
        missed = digest_missed(self.cron, self.tz, now, self.last_digest())

        def first_tick() -> None:  # one job, so the missed digest follows the poll without a timed gap
            self._tick()
            if missed:
                self._run("digest (missed)", self.digest_job)

        self.scheduler.add_job(first_tick, id="start-up", next_run_time=now)
        self.scheduler.add_job(self._tick, IntervalTrigger(minutes=self.poll_every, timezone=ZoneInfo(self.tz)),
                               id="poll", next_run_time=now + timedelta(minutes=self.poll_every))
        self.scheduler.add_job(self._run, cron_trigger(self.cron, self.tz), args=["digest", self.digest_job],
                               id="digest")
        if missed:
            log.info("digest: one was due while the daemon was down; running it after the first poll")
        log.info("started: poll every %d min, digest %s (%s)", self.poll_every, self.cron, self.tz)

        stopping: list[int] = []

        def stop(signum: int, _frame: FrameType | None) -> None:
            if stopping:
                return  # a second signal while the running job finishes
            stopping.append(signum)
            log.info("stopping on %s: letting the current job finish", signal.Signals(signum).name)
            self.scheduler.shutdown(wait=True)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.scheduler.start()
        log.info("stopped")
        return 0
