"""Temporary failures against real servers: the IMAP server stopped mid-poll, the database
locked, the SMTP server refusing; one failing mailbox beside a working one; several processes
on one PostgreSQL database. Each time the cycle reports the failure, retries (with backoff) and
nothing is lost or done twice.

The service is built in-process where timing matters, so that "the backoff has passed" can be
said without waiting for it.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import update
from sqlalchemy.engine import make_url
from sqlmodel import col

import storage.db
from core.mail import FetchedMessage, FolderState
from core.ports import Destination, Mailbox, ReplyTransport
from intake.errors import MailboxRefused, MailboxUnavailable
from intake.mailboxes.fake import FakeMailbox
from intake.mailboxes.imap import ImapMailbox
from intake.outbox import MaildirTransport, SmtpTransport
from intake.service import Service
from intake.settings import DatabaseSettings, ScreeningSettings, ServiceSettings, Settings, SmtpSettings
from storage.db import make_engine, sqlite_url
from storage.models import OutboxItem
from storage.uow import UnitOfWork
from tests.fixtures import mail
from tests.fixtures.cases import open_fixture_case
from tests.fixtures.sample import FIXTURE_AGENCIES
from tests.integration.crash_kit import (
    REPO,
    Observed,
    check_guarantees,
    crash_set,
    intake_poll,
    maildir_replies,
    observe,
    replies_in,
    worker_command,
    write_config,
)
from tests.services.dovecot import DovecotServer, dovecot, free_port  # noqa: F401  (the fixture)
from tests.services.smtp import SmtpSink

pytest_plugins = ("tests.services.smtp",)

SENT = crash_set()
OPENED = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
REPLY_FROM = "safeguarding-reviews@partnership.example.org"


def settings_for(data_dir: Path, database_url: str) -> Settings:
    return Settings(
        service=ServiceSettings(data_dir=str(data_dir)),
        database=DatabaseSettings(url=database_url),
        screening=ScreeningSettings(trusted_authserv_ids=(mail.AUTHSERV_ID,)),
        agencies=FIXTURE_AGENCIES.agencies,
    )


def build(
    tmp_path: Path,
    database_url: str,
    mailboxes: list[Mailbox],
    transport: ReplyTransport | None = None,
) -> Service:
    """A service on ``database_url`` with the case open (replies to the Maildir outbox unless
    another transport is given)."""
    service = Service.build(
        settings_for(tmp_path / "var", database_url),
        mailboxes=mailboxes,
        transport=transport or MaildirTransport(tmp_path / "outbox"),
    )
    with UnitOfWork(service.engine) as uow:
        open_fixture_case(uow, OPENED)
        uow.commit()
    return service


def the_backoff_passes(service: Service) -> None:
    """Time passes: every mailbox may be polled again (the service's own record of waits)."""
    now = dt.datetime.now(dt.UTC)
    for name, (failures, _) in list(service._backoff.items()):
        service._backoff[name] = (failures, now - dt.timedelta(seconds=1))


def waits(service: Service, name: str) -> dt.timedelta:
    """How long the service will leave mailbox ``name`` alone."""
    _, not_before = service._backoff[name]
    return not_before - dt.datetime.now(dt.UTC)


def states(service: Service) -> list[str]:
    with UnitOfWork(service.engine) as uow:
        return [m.state for m in uow.messages.list_all()]


def fake_inbox(*raws: bytes, name: str = "default") -> FakeMailbox:
    box = FakeMailbox(name)
    for raw in raws:
        box.add(raw, OPENED)
    return box


def observe_fake(service: Service, box: FakeMailbox, outbox: Path) -> Observed:
    return observe(
        service.engine,
        inbox=[m.raw for m in box.messages.values()],
        processed=box.folders.get("Processed", []),
        exceptions=box.folders.get("Exceptions", []),
        replies=maildir_replies(outbox),
    )


def observe_dovecot(service: Service, server: DovecotServer, replies: Any) -> Observed:
    user = server.password_user
    return observe(
        service.engine,
        inbox=list(server.folder_messages(user, "INBOX").values()),
        processed=list(server.folder_messages(user, "Processed").values()),
        exceptions=list(server.folder_messages(user, "Exceptions").values()),
        replies=replies,
    )


@pytest.fixture
def imap(dovecot: DovecotServer) -> Iterator[DovecotServer]:  # noqa: F811
    """The session's Dovecot with an empty mailbox, running again after the test."""
    dovecot.reset(dovecot.password_user)
    try:
        yield dovecot
    finally:
        dovecot.start()


def imap_mailbox(server: DovecotServer, **overrides: Any) -> ImapMailbox:
    return ImapMailbox(server.imap_settings(timeout_s=5.0, **overrides), password=server.password)


# ---- the IMAP server stopped mid-poll --------------------------------------------------------


class StopsServerAfterFirstBatch:
    """An ImapMailbox whose server is stopped once the first fetch batch has been handed over."""

    def __init__(self, inner: ImapMailbox, server: DovecotServer) -> None:
        self.inner, self.server = inner, server
        self.name, self.folder = inner.name, inner.folder
        self.stopped = False

    def state(self) -> FolderState:
        return self.inner.state()

    def uids(self) -> list[int]:
        return self.inner.uids()

    def fetch(self, uids: Sequence[int]) -> Iterator[FetchedMessage]:
        batch = self.inner.settings.batch_size
        for n, message in enumerate(self.inner.fetch(uids), 1):
            yield message
            if n == batch and not self.stopped:
                self.stopped = True
                self.server.stop()

    def move(self, uids: Sequence[int], destination: Destination) -> None:
        self.inner.move(uids, destination)

    def close(self) -> None:
        self.inner.close()


def test_an_imap_server_stopped_mid_poll_is_retried_after_a_backoff_and_nothing_is_lost(
    imap: DovecotServer, tmp_path: Path
) -> None:
    imap.deliver_many(imap.password_user, SENT)
    box = StopsServerAfterFirstBatch(imap_mailbox(imap, batch_size=2), imap)
    with build(tmp_path, sqlite_url(tmp_path), [box]) as service:
        first = service.cycle()
        assert box.stopped
        assert ["mailbox default: unavailable"] == first.failures
        assert dt.timedelta(seconds=50) < waits(service, "default")

        imap.start()
        early = service.cycle()  # the server is back, but the wait is not over
        assert (0, ["mailbox default: waiting after 1 failures"]) == (early.fetched, early.failures)

        the_backoff_passes(service)
        done = service.cycle()

        assert [] == done.failures
        assert "default" not in service._backoff
        assert len(SENT) == len(states(service))
        check_guarantees(SENT, observe_dovecot(service, imap, maildir_replies(tmp_path / "outbox")))


# ---- the database locked ---------------------------------------------------------------------


class Locker:
    """Another connection holding the messages table: SQLite BEGIN EXCLUSIVE; PostgreSQL
    LOCK TABLE messages IN EXCLUSIVE MODE (no writes, no row locks; plain reads go on)."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.connection: Any = None

    def __enter__(self) -> Locker:
        if self.url.get_backend_name() == "sqlite":
            self.connection = sqlite3.connect(
                str(self.url.database), isolation_level=None, timeout=5, check_same_thread=False
            )
            self.connection.execute("BEGIN EXCLUSIVE")
        else:
            u = self.url
            self.connection = psycopg.connect(host=u.host, port=u.port, user=u.username, dbname=u.database)
            self.connection.execute("LOCK TABLE messages IN EXCLUSIVE MODE")
        return self

    def __exit__(self, *exc: object) -> None:
        self.connection.rollback()
        self.connection.close()


@pytest.fixture
def short_waits(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """``database_url`` where a lock is given up on after a fraction of a second (SQLite's busy
    timeout, PostgreSQL's lock_timeout), instead of 30 s / never."""
    if database_url.startswith("sqlite"):
        monkeypatch.setattr(storage.db, "SQLITE_BUSY_TIMEOUT_MS", 300)
        return database_url
    return database_url + "?options=-c%20lock_timeout%3D300"


def test_a_short_lock_is_waited_out(short_waits: str, tmp_path: Path) -> None:
    box = fake_inbox(*SENT)
    with build(tmp_path, short_waits, [box]) as service:
        service.pipeline.poll(box)
        locker = Locker(short_waits).__enter__()
        threading.Timer(0.15, locker.__exit__).start()  # shorter than the lock wait

        report = service.cycle()

        assert [] == report.failures
        check_guarantees(SENT, observe_fake(service, box, tmp_path / "outbox"))


def test_a_locked_database_leaves_messages_pending_and_they_are_processed_later(
    short_waits: str, tmp_path: Path
) -> None:
    box = fake_inbox(*SENT)
    with build(tmp_path, short_waits, [box]) as service:
        service.pipeline.poll(box)  # recorded, not yet processed
        with Locker(short_waits):
            locked = service.cycle()

        assert locked.failures and all("unavailable" in f for f in locked.failures)
        assert (0, 0) == (locked.processed, locked.moved)
        assert {"pending", "duplicate"} == set(states(service))
        assert 4 == states(service).count("pending") <= len(box.messages)  # nothing unfinished left the inbox

        the_backoff_passes(service)
        done = service.cycle()

        assert [] == done.failures
        check_guarantees(SENT, observe_fake(service, box, tmp_path / "outbox"))


# ---- the SMTP server refusing ----------------------------------------------------------------


def smtp_transport(sink: SmtpSink) -> SmtpTransport:
    settings = SmtpSettings(host=sink.host, port=sink.port, tls="none", from_address=REPLY_FROM, timeout_s=5.0)
    return SmtpTransport(settings, password=None, token_provider=None)


def outbox(service: Service) -> list[tuple[str, int, dt.datetime]]:
    with UnitOfWork(service.engine) as uow:
        return [
            (o.state, o.attempts, o.next_attempt_at)
            for m in uow.messages.list_all()
            if (o := uow.outbox.for_message(int(m.id or 0))) is not None
        ]


def replies_fall_due(service: Service) -> None:
    """Time passes: every queued reply's next attempt is due."""
    with UnitOfWork(service.engine) as uow:
        uow.session.execute(
            update(OutboxItem).where(col(OutboxItem.state) == "queued").values(next_attempt_at=dt.datetime.now(dt.UTC))
        )
        uow.commit()


def as_utc(when: dt.datetime) -> dt.datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def test_replies_deferred_by_the_smtp_server_are_retried_with_backoff_until_it_recovers(
    smtp_sink: Any, tmp_path: Path
) -> None:
    sink: SmtpSink = smtp_sink()
    sink.refuse(451)
    box = fake_inbox(*SENT)
    with build(tmp_path, sqlite_url(tmp_path), [box], smtp_transport(sink)) as service:
        first = service.cycle()

        assert ["outbox: transport unavailable"] == first.failures
        assert ["filed", "ignored", "duplicate", "exception", "exception"] == states(service)
        assert [] == list(box.messages)  # filed and moved: a reply waiting holds nothing up
        [(state, attempts, retry), *others] = outbox(service)
        assert ("queued", 1) == (state, attempts)
        assert dt.timedelta(seconds=50) < as_utc(retry) - dt.datetime.now(dt.UTC)
        assert all(o[1] == 0 for o in others)  # the rest wait for the server, untried

        replies_fall_due(service)
        service.cycle()
        [(_, attempts, retry), *_] = outbox(service)
        assert 2 == attempts
        assert dt.timedelta(seconds=100) < as_utc(retry) - dt.datetime.now(dt.UTC)  # the wait doubles

        sink.refuse(None)
        recovered = service.cycle()  # the reply never tried goes; the one that failed waits
        assert (1, []) == (recovered.sent, recovered.failures)
        assert [("queued", 2)] == [(state, attempts) for state, attempts, _ in outbox(service) if state != "sent"]

        replies_fall_due(service)
        last = service.cycle()

        assert (1, []) == (last.sent, last.failures)
        seen = observe_fake(service, box, tmp_path / "outbox")
        seen.replies = replies_in(r.data for r in sink.messages)
        check_guarantees(SENT, seen)


def test_a_reply_refused_for_good_is_not_retried_and_its_message_stays_filed(smtp_sink: Any, tmp_path: Path) -> None:
    sink: SmtpSink = smtp_sink()
    sink.refuse(550)
    box = fake_inbox(mail.good_form_email("agency_summary"))
    with build(tmp_path, sqlite_url(tmp_path), [box], smtp_transport(sink)) as service:
        refused = service.cycle()
        sink.refuse(None)
        replies_fall_due(service)
        later = service.cycle()

        assert ([], 0, 0) == (refused.failures, refused.sent, later.sent)
        assert [] == sink.messages
        assert ["failed"] == [state for state, _, _ in outbox(service)]
        assert ["filed"] == states(service)
        assert 1 == len(box.folders["Processed"])


# ---- one failing mailbox does not stop another -----------------------------------------------


@pytest.mark.parametrize(
    "failing",
    ["dead port", "refused", "unavailable"],
)
def test_a_failing_mailbox_does_not_stop_another(
    failing: str,
    imap: DovecotServer,
    tmp_path: Path,
) -> None:
    imap.deliver_many(imap.password_user, SENT)
    broken: Mailbox
    if failing == "dead port":
        broken = ImapMailbox(imap.imap_settings(name="broken", port=free_port(), timeout_s=2.0), password=imap.password)
    else:
        fake = fake_inbox(mail.good_form_email("chronology"), name="broken")
        error = MailboxRefused("refused") if failing == "refused" else MailboxUnavailable("unavailable")
        fake.fail("state", error)
        broken = fake
    good = imap_mailbox(imap)
    with build(tmp_path, sqlite_url(tmp_path), [broken, good]) as service:
        report = service.cycle()

        expected = "refused" if failing == "refused" else "unavailable"
        assert [f"mailbox broken: {expected}"] == report.failures
        check_guarantees(SENT, observe_dovecot(service, imap, maildir_replies(tmp_path / "outbox")))


# ---- several processes on one PostgreSQL database --------------------------------------------


class SlowToSelect:
    """A mailbox that takes a while to answer SELECT, so two pollers surely overlap."""

    def __init__(self, inner: Mailbox, delay: float) -> None:
        self.inner, self.delay = inner, delay
        self.name, self.folder = inner.name, inner.folder
        self.selects = 0

    def state(self) -> FolderState:
        self.selects += 1
        time.sleep(self.delay)
        return self.inner.state()

    def uids(self) -> list[int]:
        return self.inner.uids()

    def fetch(self, uids: Sequence[int]) -> Iterator[FetchedMessage]:
        return self.inner.fetch(uids)

    def move(self, uids: Sequence[int], destination: Destination) -> None:
        self.inner.move(uids, destination)

    def close(self) -> None:
        self.inner.close()


def test_two_pollers_of_one_mailbox_on_postgresql_take_turns(
    imap: DovecotServer, postgres_url: str, tmp_path: Path
) -> None:
    imap.deliver_many(imap.password_user, SENT)
    boxes = [SlowToSelect(imap_mailbox(imap), 0.5), SlowToSelect(imap_mailbox(imap), 0.5)]
    first = build(tmp_path / "a", postgres_url, [boxes[0]])
    second = Service.build(
        settings_for(tmp_path / "b", postgres_url),
        mailboxes=[boxes[1]],
        transport=MaildirTransport(tmp_path / "outbox"),
    )
    try:
        start = threading.Barrier(2)

        def poll(service: Service) -> None:
            start.wait()
            service.cycle()

        threads = [threading.Thread(target=poll, args=(s,)) for s in (first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)

        assert [1, 0] == sorted((b.selects for b in boxes), reverse=True)  # one polled, one stood aside
        first.cycle()
        second.cycle()
        replies = maildir_replies(tmp_path / "outbox") + maildir_replies(tmp_path / "a" / "outbox")
        check_guarantees(SENT, observe_dovecot(first, imap, replies))
    finally:
        first.close()
        second.close()


def test_two_intake_processes_polling_one_mailbox_at_once_file_nothing_twice(
    imap: DovecotServer, postgres_url: str, tmp_path: Path
) -> None:
    imap.deliver_many(imap.password_user, SENT)
    build(tmp_path, postgres_url, []).close()  # migrated, the case open
    settings = {"host": imap.host, "port": imap.imap_port, "tls": "none", "username": imap.password_user}
    config = write_config(tmp_path / "config.toml", tmp_path / "var", database_url=postgres_url, imap=settings)
    env = {"INTAKE_IMAP_PASSWORD": imap.password}

    results: list[subprocess.CompletedProcess[str]] = []
    threads = [threading.Thread(target=lambda: results.append(intake_poll(config, env=env))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)

    assert [0, 0] == [r.returncode for r in results], [r.stderr[-1000:] for r in results]
    engine = make_engine(postgres_url)
    try:
        user = imap.password_user
        seen = observe(
            engine,
            inbox=list(imap.folder_messages(user, "INBOX").values()),
            processed=list(imap.folder_messages(user, "Processed").values()),
            exceptions=list(imap.folder_messages(user, "Exceptions").values()),
            replies=maildir_replies(tmp_path / "var" / "outbox"),
        )
    finally:
        engine.dispose()
    check_guarantees(SENT, seen)


def sharing_set() -> list[bytes]:
    """Distinct messages that need reading (or screening), none opening a case."""
    return [
        *(mail.good_form_email(form) for form in ("agency_summary", "chronology", "declaration_of_interest")),
        *(mail.auto_reply_email(style) for style in mail.AUTO_REPLY_STYLES),
        *(mail.bounce_email(style) for style in mail.BOUNCE_STYLES),
        mail.unknown_sender_email(),
        mail.covering_email(),
        mail.flawed_form_email(),
    ]


def test_several_processes_share_the_processing_and_each_message_is_processed_once(
    postgres_url: str, tmp_path: Path
) -> None:
    raws = sharing_set()
    box = fake_inbox(*raws)
    with build(tmp_path, postgres_url, [box]) as service:
        service.pipeline.poll(box)  # recorded, nothing processed
    config = write_config(tmp_path / "config.toml", tmp_path / "var", database_url=postgres_url)
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{n}" for n in range(3)]
    workers = [
        subprocess.Popen(
            worker_command(config, 1, r, go), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for r in ready
    ]
    try:
        deadline = time.monotonic() + 60
        while not all(r.exists() for r in ready) and time.monotonic() < deadline:
            time.sleep(0.02)
        go.touch()
        outputs = [w.communicate(timeout=120) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()

    assert [0, 0, 0] == [w.returncode for w in workers], [err[-1000:] for _, err in outputs]
    processed = [int(out.split()[-1]) for out, _ in outputs]
    engine = make_engine(postgres_url)
    try:
        with UnitOfWork(engine) as uow:
            messages = uow.messages.list_all()
            outcomes = [
                e.entity_id
                for e in uow.audit.list("message")
                if e.action in ("message.filed", "message.exception", "message.ignored")
            ]
            ids = [int(m.id or 0) for m in messages]
            pending = [m.state for m in messages if m.state == "pending"]
            placed = [(d.message_row_id, d.position) for i in ids for d in uow.documents.for_message(i)]
            queue = [q.message_row_id for i in ids for q in uow.queue.for_message(i)]
    finally:
        engine.dispose()
    assert len(raws) == sum(processed)
    assert 2 <= sum(1 for n in processed if n > 0)  # shared between processes
    assert [] == pending
    assert sorted(ids) == sorted(int(i or 0) for i in outcomes)  # each exactly once
    assert len(placed) == len(set(placed))
    assert len(queue) == len(set(queue))
