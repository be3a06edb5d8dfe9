"""The composition root: settings in, the wired service out. The only place adapters meet.

    Service.build(settings)   the database (migrated), the encrypted blob store, the reader,
                              the pipeline, one adapter per mailbox, the reply transport
    service.cycle()           one full cycle: every mailbox polled (each under its lock, one
                              failing mailbox not stopping another), the recorded messages
                              processed, the finished ones moved, then the outbox sent

The embedded defaults (no [imap], no [smtp], no [database]): a Maildir inbox in
<data_dir>/mail, a Maildir outbox in <data_dir>/outbox, SQLite in <data_dir>/intake.sqlite3,
blobs in <data_dir>/blobs with a key generated once in <data_dir>/storage.key.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from core.errors import ConfigError
from core.ports import Mailbox, ReplyTransport
from core.settings import FormsContext
from intake.checking import DocumentChecker
from intake.errors import MailboxRefused, MailboxUnavailable
from intake.mailboxes.imap import ImapMailbox
from intake.mailboxes.maildir import MaildirMailbox
from intake.oauth import token_provider_for
from intake.outbox import MaildirTransport, SmtpTransport
from intake.pipeline import CycleReport, Pipeline
from intake.settings import Settings
from storage.blobs import EncryptedBlobStore, ensure_key_file, load_key
from storage.db import make_engine, migrate, sqlite_url
from storage.locks import mailbox_lock
from storage.uow import UnitOfWork

log = logging.getLogger("intake.service")
KEY_ENV = "INTAKE_STORAGE_KEY"


class SystemClock:
    def __init__(self, timezone: str = "Europe/London") -> None:
        self._zone = ZoneInfo(timezone)

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def today(self) -> dt.date:
        return dt.datetime.now(self._zone).date()


def database_url(settings: Settings) -> str:
    if settings.database.url:
        return settings.database.url
    settings.data_path.mkdir(parents=True, exist_ok=True)
    return sqlite_url(settings.data_path)


def storage_key(settings: Settings, environ: dict[str, str] | None = None) -> bytes:
    """The key for originals at rest: INTAKE_STORAGE_KEY, else the key file; in development a
    key file is made once in the data directory; production refuses to start without one."""
    env = dict(os.environ) if environ is None else environ
    key_file = Path(settings.storage.key_file) if settings.storage.key_file else None
    key = load_key(env.get(KEY_ENV), key_file)
    if key is not None:
        return key
    if settings.service.mode == "production":
        raise ConfigError(f"production mode needs the storage key: set {KEY_ENV} or storage.key_file")
    settings.data_path.mkdir(parents=True, exist_ok=True)
    return ensure_key_file(settings.data_path / "storage.key")


def blob_dir(settings: Settings) -> Path:
    return Path(settings.storage.dir) if settings.storage.dir else settings.data_path / "blobs"


def build_mailboxes(settings: Settings) -> list[Mailbox]:
    if not settings.mailboxes:
        return [MaildirMailbox(settings.data_path / "mail")]
    boxes: list[Mailbox] = []
    for m in settings.mailboxes:
        password = m.password.get_secret_value() if m.password is not None else None
        boxes.append(ImapMailbox(m, password=password, token_provider=token_provider_for(m.oauth2, dict(os.environ))))
    return boxes


def build_transport(settings: Settings) -> ReplyTransport:
    s = settings.smtp
    if s is None:
        return MaildirTransport(settings.data_path / "outbox")
    password = s.password.get_secret_value() if s.password is not None else None
    return SmtpTransport(s, password=password, token_provider=token_provider_for(s.oauth2, dict(os.environ)))


@dataclass
class Service:
    settings: Settings
    engine: Engine
    forms: FormsContext
    checker: DocumentChecker
    pipeline: Pipeline
    mailboxes: list[Mailbox]
    transport: ReplyTransport
    lock_dir: Path
    #: mailbox name -> (consecutive failures, not before): temporary failures back off
    _backoff: dict[str, tuple[int, dt.datetime]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        mailboxes: list[Mailbox] | None = None,
        transport: ReplyTransport | None = None,
        worker: str | None = None,
    ) -> Service:
        key = storage_key(settings)  # refused (production, no key) before anything is touched
        engine = make_engine(database_url(settings))
        migrate(engine)
        forms = settings.forms_context()
        blobs = EncryptedBlobStore(blob_dir(settings), key)
        checker = DocumentChecker(settings)
        clock = SystemClock(settings.service.timezone)
        pipeline = Pipeline(
            settings=settings,
            engine=engine,
            blobs=blobs,
            checker=checker,
            forms=forms,
            clock=clock,
            reply_from=settings.reply_from,
            worker=worker,
        )
        lock_dir = settings.data_path / "locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            settings=settings,
            engine=engine,
            forms=forms,
            checker=checker,
            pipeline=pipeline,
            mailboxes=mailboxes if mailboxes is not None else build_mailboxes(settings),
            transport=transport if transport is not None else build_transport(settings),
            lock_dir=lock_dir,
        )

    # -- the cycle -------------------------------------------------------------------------

    def poll_mailbox(self, mailbox: Mailbox, report: CycleReport) -> None:
        """Poll one mailbox under its lock (one poller per mailbox across processes)."""
        name = mailbox.name
        now = dt.datetime.now(dt.UTC)
        failures, not_before = self._backoff.get(name, (0, now))
        if now < not_before:
            report.failures.append(f"mailbox {name}: waiting after {failures} failures")
            return
        try:
            with mailbox_lock(self.engine, f"mailbox:{name}", self.lock_dir) as held:
                if not held:
                    return  # another process polls this mailbox
                self.pipeline.poll(mailbox, report)
                self.pipeline.process_pending(report)
                self.pipeline.acknowledge(mailbox, report)
        except (MailboxUnavailable, OperationalError) as exc:
            # temporary: the server or the database (locked, gone) is unavailable
            failures += 1
            delay = min(60 * 2 ** (failures - 1), 3600)
            self._backoff[name] = (failures, now + dt.timedelta(seconds=delay))
            what = "unavailable" if isinstance(exc, MailboxUnavailable) else "database unavailable"
            report.failures.append(f"mailbox {name}: {what}")
            reason = exc if isinstance(exc, MailboxUnavailable) else type(exc).__name__
            log.warning("mailbox %s: %s (%s); next try in %ss", name, what, reason, delay)
            return
        except MailboxRefused as exc:
            report.failures.append(f"mailbox {name}: refused")
            log.error("mailbox %s refused the service: %s", name, exc)
            return
        self._backoff.pop(name, None)

    def cycle(self, *, settle_s: float = 10.0) -> CycleReport:
        report = CycleReport()
        for mailbox in self.mailboxes:
            self.poll_mailbox(mailbox, report)
        self.pipeline.process_pending(report)
        for mailbox in self.mailboxes:
            self.settle_mailbox(mailbox, report, wait_s=settle_s)
        self.pipeline.send_replies(self.transport, report)
        return report

    def settle_mailbox(self, mailbox: Mailbox, report: CycleReport, *, wait_s: float) -> None:
        """Move what this process finished while another held the mailbox's lock: wait (up to
        ``wait_s``) for the lock, so that a cycle leaves nothing it processed in the inbox."""
        deadline = time.monotonic() + wait_s
        try:
            with UnitOfWork(self.engine) as uow:
                if not uow.messages.unacknowledged(mailbox.name, mailbox.folder):
                    return
            while True:
                with mailbox_lock(self.engine, f"mailbox:{mailbox.name}", self.lock_dir) as held:
                    if held:
                        self.pipeline.acknowledge(mailbox, report)
                        return
                if time.monotonic() >= deadline:
                    return  # the lock holder, or the next cycle, moves them
                time.sleep(0.2)
        except OperationalError:
            report.failures.append(f"mailbox {mailbox.name}: database unavailable")
        except (MailboxUnavailable, MailboxRefused):
            report.failures.append(f"mailbox {mailbox.name}: unavailable")

    def close(self) -> None:
        for mailbox in self.mailboxes:
            try:
                mailbox.close()
            except (MailboxUnavailable, MailboxRefused, OSError):
                log.warning("mailbox %s did not close cleanly", mailbox.name)
        try:
            self.transport.close()
        except OSError:
            log.warning("the reply transport did not close cleanly")
        self.checker.close()
        self.engine.dispose()

    def __enter__(self) -> Service:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
