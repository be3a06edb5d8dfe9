"""`intake run`: the scheduled daemon.

APScheduler runs, each with at most one instance at a time:
- one poll job per mailbox (every ``polling.interval_s``): poll, process, acknowledge, under
  that mailbox's lock (a PostgreSQL advisory lock, or a file lock on SQLite), so that only
  one process polls a mailbox however many run;
- the processing job: recorded messages are claimed (SKIP LOCKED on PostgreSQL) and
  processed, so several processes share the reading work;
- the outbox job (every ``polling.outbox_interval_s``).
An IDLE listener thread per IMAP mailbox that offers IDLE wakes its poll job at once.
SIGTERM and SIGINT stop the scheduler after the running jobs finish, then the service closes.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from intake.errors import MailboxRefused, MailboxUnavailable
from intake.mailboxes.imap import ImapMailbox
from intake.pipeline import CycleReport
from intake.service import Service

log = logging.getLogger("intake.daemon")


class Daemon:
    def __init__(self, service: Service, *, idle: bool = True) -> None:
        self.service = service
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self._stop = threading.Event()
        self._idle = idle
        self._threads: list[threading.Thread] = []

    def _job(self, name: str, fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except Exception:
                log.exception("job %s failed; it runs again at its next time", name)

        return run

    def start(self) -> None:
        s = self.service.settings.polling
        now = dt.datetime.now(dt.UTC)
        for mailbox in self.service.mailboxes:
            job_id = f"poll:{mailbox.name}"
            self.scheduler.add_job(
                self._job(job_id, lambda m=mailbox: self._poll(m)),  # type: ignore[misc]
                "interval",
                seconds=s.interval_s,
                id=job_id,
                max_instances=1,
                coalesce=True,
                next_run_time=now,
            )
            if self._idle and isinstance(mailbox, ImapMailbox) and mailbox.settings.idle:
                thread = threading.Thread(target=self._listen, args=(mailbox, job_id), daemon=True, name=job_id)
                self._threads.append(thread)
        self.scheduler.add_job(
            self._job("process", lambda: self._log(self.service.pipeline.process_pending())),
            "interval",
            seconds=s.interval_s,
            id="process",
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.add_job(
            self._job("outbox", lambda: self._log(self.service.pipeline.send_replies(self.service.transport))),
            "interval",
            seconds=s.outbox_interval_s,
            id="outbox",
            max_instances=1,
            coalesce=True,
            next_run_time=now,
        )
        self.scheduler.start()
        for thread in self._threads:
            thread.start()
        log.info("daemon started: %d mailbox(es)", len(self.service.mailboxes))

    def _poll(self, mailbox: Any) -> None:
        report = CycleReport()
        self.service.poll_mailbox(mailbox, report)
        self._log(report)

    def _log(self, report: CycleReport) -> None:
        counts = (report.fetched, report.recorded, report.processed, report.moved, report.sent)
        if not any(counts) and not report.failures:
            return  # nothing happened: nothing to say
        log.info(
            "cycle: fetched=%d recorded=%d duplicates=%d processed=%d moved=%d sent=%d failures=%d",
            report.fetched,
            report.recorded,
            report.duplicates,
            report.processed,
            report.moved,
            report.sent,
            len(report.failures),
        )

    def _listen(self, listener: ImapMailbox, job_id: str) -> None:
        """IDLE (the mailbox keeps a connection of its own for it); wake the poll job when
        something arrives."""
        while not self._stop.is_set():
            try:
                if listener.idle_wait(timeout_s=60.0):
                    job = self.scheduler.get_job(job_id)
                    if job is not None:
                        job.modify(next_run_time=dt.datetime.now(dt.UTC))
            except (MailboxUnavailable, MailboxRefused, OSError):
                self._stop.wait(30.0)  # the poll job's schedule is the fall-back

    def stop(self) -> None:
        self._stop.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        log.info("daemon stopped")

    def run_forever(self, serve: Callable[[threading.Event], None] | None = None) -> None:
        """Run until SIGTERM/SIGINT. ``serve`` (the web app, later) runs beside it."""

        def stop(signum: int, frame: FrameType | None) -> None:
            log.info("signal %d: stopping", signum)
            self._stop.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.start()
        try:
            if serve is not None:
                serve(self._stop)
            self._stop.wait()
        finally:
            self.stop()
