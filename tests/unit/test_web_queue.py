"""The queue's pages on real data: emails run through a Service (SQLite, an in-memory mailbox,
the Maildir outbox) and the web app built on it with intake's own QueueActions, driven by a
TestClient signed in as the business unit or a viewer."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from markupsafe import escape
from sqlmodel import select

from core.cases import ACTIONS, CaseKind, ExceptionReason
from intake.mailboxes.fake import FakeMailbox
from intake.outbox import MaildirTransport
from intake.service import Service
from intake.settings import DatabaseSettings, ScreeningSettings, ServiceSettings, Settings
from intake.webapp import web_services
from storage.db import sqlite_url
from storage.models import AuditEntry, Document, OutboxItem
from storage.uow import UnitOfWork
from tests.fixtures import hostile, mail
from tests.fixtures.filler import fill
from tests.fixtures.sample import CASE_REFERENCE, CHILD_DOB, CHILD_NAME, FIXTURE_AGENCIES, complete_values
from tests.fixtures.sample import fixture_context as sample_context
from tests.unit.web_support import MovableClock, WebKit, cheap_hasher, csrf_token
from web.app import create_app
from web.ports import WebSettings

RECEIVED = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
OTHER_REFERENCE = "SSCP-2025-021"
UNKNOWN_REFERENCE = "SSCP-2025-099"
HOSTILE_SUBJECT = '<script>alert(1)</script> =HYPERLINK("http://evil.example.com","x") <b>bold</b>'
#: no "/" in it: intake keeps only what follows the last one (a file name is never a path)
HOSTILE_FILENAME = '=HYPERLINK("evil.example.com","x")<img src=x onerror=alert(1)><b>report.docx'
HOSTILE_VALUE = '<script>alert(1)</script><img src=x onerror=alert(2)> =HYPERLINK("http://evil.example.com")'

pytest_plugins = ("tests.unit.web_kit",)


# -- the site: a Service with mail in it, and the web app on it -----------------------------------


@dataclass
class Site:
    service: Service
    inbox: FakeMailbox
    kit: WebKit
    outbox: Path

    def deliver(self, *raws: bytes) -> list[int]:
        """Deliver emails, run a cycle, and return the ids of the items they opened."""
        before = set(self.open_items())
        for raw in raws:
            self.inbox.add(raw, RECEIVED)
        self.service.cycle()
        return [i for i in self.open_items() if i not in before]

    def open_items(self) -> list[int]:
        with UnitOfWork(self.service.engine) as uow:
            return [cast(int, i.id) for i in uow.queue.list_open()]

    def open_case(
        self, reference: str = CASE_REFERENCE, child_name: str = CHILD_NAME, child_dob: str = CHILD_DOB
    ) -> int:
        with UnitOfWork(self.service.engine) as uow:
            case = uow.cases.create(
                CaseKind.RAPID_REVIEW,
                child_name,
                dt.date.fromisoformat(child_dob),
                dt.date(2025, 9, 1),
                RECEIVED,
                reference=reference,
            )
            uow.commit()
            return cast(int, case.id)

    def audit(self, action: str) -> list[AuditEntry]:
        with UnitOfWork(self.service.engine) as uow:
            found = list(uow.session.exec(select(AuditEntry).where(AuditEntry.action == action)).all())
            uow.session.expunge_all()
            return found

    def documents(self) -> list[Document]:
        with UnitOfWork(self.service.engine) as uow:
            found = list(uow.session.exec(select(Document).order_by(Document.id)).all())  # type: ignore[arg-type]
            uow.session.expunge_all()
            return found

    def action_replies(self, item_id: int) -> list[OutboxItem]:
        with UnitOfWork(self.service.engine) as uow:
            found = list(uow.session.exec(select(OutboxItem).where(OutboxItem.exception_item_id == item_id)).all())
            uow.session.expunge_all()
            return found

    def with_settings(self, **changes: Any) -> WebKit:
        """The same site's app with other web settings (a smaller page, say)."""
        services = dataclasses.replace(
            self.kit.services, settings=dataclasses.replace(self.kit.services.settings, **changes)
        )
        return dataclasses.replace(self.kit, app=create_app(services), services=services)


@contextlib.contextmanager
def built_site(directory: Path) -> Iterator[Site]:
    inbox = FakeMailbox()
    settings = Settings(
        service=ServiceSettings(data_dir=str(directory / "var")),
        database=DatabaseSettings(url=sqlite_url(directory)),
        screening=ScreeningSettings(trusted_authserv_ids=(mail.AUTHSERV_ID,)),
        agencies=FIXTURE_AGENCIES.agencies,
    )
    service = Service.build(settings, mailboxes=[inbox], transport=MaildirTransport(directory / "outbox"))
    clock = MovableClock(dt.datetime.now(dt.UTC))
    services = dataclasses.replace(
        web_services(service),
        clock=clock,
        settings=WebSettings(base_url="https://127.0.0.1:8000"),
        hasher=cheap_hasher(),
    )
    kit = WebKit(
        app=create_app(services),
        services=services,
        clock=clock,
        engine=service.engine,
        actions=cast(Any, services.actions),
    )
    try:
        yield Site(service=service, inbox=inbox, kit=kit, outbox=directory / "outbox")
    finally:
        service.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with built_site(tmp_path) as built:
        yield built


# -- reading pages ----------------------------------------------------------------------------------


def text_of(page: str) -> str:
    """The page's visible words, one space apart (tags dropped, entities decoded)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def rows_of(page: str, caption: str) -> list[list[str]]:
    """The body rows of the table with this caption, as the text of each cell."""
    found = re.search(
        r"<caption[^>]*>\s*" + re.escape(str(escape(caption))) + r"\s*</caption>(.*?)</table>", page, re.DOTALL
    )
    assert found is not None, f"no table captioned {caption!r}"
    body = found.group(1).split("<tbody", 1)[1]
    return [
        [text_of(cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.DOTALL)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.DOTALL)
    ]


def summary_of(page: str) -> dict[str, str]:
    """Every summary list row on the page: key -> value text (the first of a repeated key)."""
    rows: dict[str, str] = {}
    for key, value in re.findall(
        r'<dt class="govuk-summary-list__key">(.*?)</dt>\s*<dd class="govuk-summary-list__value">(.*?)</dd>',
        page,
        re.DOTALL,
    ):
        rows.setdefault(text_of(key), text_of(value))
    return rows


def summary_rows(page: str, key: str) -> list[tuple[str, str]]:
    """Every summary list row with this key: (key, value text)."""
    return [
        (key, text_of(value))
        for value in re.findall(
            r'<dt class="govuk-summary-list__key">'
            + re.escape(key)
            + r'</dt>\s*<dd class="govuk-summary-list__value">(.*?)</dd>',
            page,
            re.DOTALL,
        )
    ]


def error_links(page: str) -> dict[str, str]:
    summary = page.split('govuk-error-summary__list"', 1)[1].split("</ul>", 1)[0]
    return {href: text_of(text) for href, text in re.findall(r'<a href="#([^"]*)">(.*?)</a>', summary, re.DOTALL)}


def action_forms(page: str) -> list[str]:
    return re.findall(r'<form method="post" action="(/queue/\d+/actions/[^"]+)"', page)


def hidden_inputs(page: str) -> dict[str, str]:
    return {k: html.unescape(v) for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)}


def textarea(page: str, name: str) -> str | None:
    found = re.search(r'<textarea[^>]*name="' + name + r'"[^>]*>(.*?)</textarea>', page, re.DOTALL)
    return html.unescape(found.group(1)) if found else None


def banner(page: str) -> str | None:
    found = re.search(r'<p class="govuk-notification-banner__heading">(.*?)</p>', page, re.DOTALL)
    return text_of(found.group(1)) if found else None


def act(
    client: TestClient,
    item_id: int,
    action: str,
    *,
    reply: str | None = None,
    send_reply: str | None = None,
    **fields: str,
) -> Response:
    """Work an item as a person does: its page, the action's form, the reply's preview when the
    action replies (sending ``reply`` instead of the composed text, if given, or choosing
    ``send_reply`` "no"), then perform."""
    page = client.get(f"/queue/{item_id}").text
    [url] = [u for u in action_forms(page) if u.startswith(f"/queue/{item_id}/actions/{action}/")]
    data = {"csrf_token": csrf_token(page), **fields}
    if url.endswith("/preview"):
        preview = client.post(url, data=data)
        assert 200 == preview.status_code, text_of(preview.text)
        data = hidden_inputs(preview.text)
        composed = textarea(preview.text, "reply_body")
        if composed is not None:
            data["reply_body"] = reply if reply is not None else composed
        if send_reply is not None:
            data["send_reply"] = send_reply
        url = url.removesuffix("/preview") + "/perform"
    response: Response = client.post(url, data=data)
    return response


# -- the queue --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Five items: an unknown sender, two with no case, nothing attached, an unsafe file.
    Shared by the tests that only read it."""
    with built_site(tmp_path_factory.mktemp("busy")) as site:
        site.open_case()
        site.deliver(mail.unknown_sender_email())
        site.deliver(mail.reference_email(UNKNOWN_REFERENCE))
        site.deliver(mail.covering_email())
        site.deliver(mail.hostile_email())
        site.deliver(mail.reference_email(OTHER_REFERENCE))
        yield site


@pytest.mark.parametrize("role", ["business_unit", "viewer"])
def test_the_queue_lists_open_items_with_their_reason_agency_sender_age_and_case(busy: Site, role: str) -> None:
    client = busy.kit.signed_in(role)

    page = client.get("/queue")

    assert 200 == page.status_code
    assert "<title>Queue – Safeguarding reviews intake</title>" in page.text
    assert ["Item 1", "Unknown sender", "Not known", mail.UNKNOWN.address, "Referral for a rapid review"] == rows_of(
        page.text, "Open items"
    )[0][:5]
    [unsafe] = [r for r in rows_of(page.text, "Open items") if r[1] == "Unreadable or unsafe file"]
    assert ["Greater Manchester Police", "casey.lund@police.example.org"] == unsafe[2:4]
    assert ("less than a minute", CASE_REFERENCE) == (unsafe[5], unsafe[6])
    assert f'href="/cases/{CASE_REFERENCE}"' in page.text
    assert "Showing 1 to 5 of 5 open items" in text_of(page.text)


def test_the_queue_counts_items_by_reason_with_links_that_filter(busy: Site) -> None:
    client = busy.kit.signed_in("business_unit")

    page = client.get("/queue")
    counts = {row[0].removesuffix(" : show these items"): row[1] for row in rows_of(page.text, "Open items by reason")}
    filtered = client.get("/queue?reason=no_case")

    assert {
        "Unknown sender": "1",
        "No case": "2",
        "Nothing attached": "1",
        "Unreadable or unsafe file": "1",
    }.items() <= (counts.items())
    assert "0" == counts["Processing fault"]
    assert 'href="/queue?reason=no_case"' in page.text
    assert ["No case", "No case"] == [r[1] for r in rows_of(filtered.text, "Open items")]
    assert "Showing 1 to 2 of 2 open items" in text_of(filtered.text)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("agency=gmp", ["No case", "Unreadable or unsafe file", "No case"]),
        (f"case={CASE_REFERENCE.lower()}", ["Unreadable or unsafe file"]),
        ("q=rapid+review", None),  # a search in the address is ignored: searches are posted
        ("reason=no_attachment&agency=gmp", []),
        ("reason=not-a-reason&agency=not-an-agency&sort=sideways&page=nonsense", None),
    ],
)
def test_the_queue_filters_by_reason_agency_case_and_search(busy: Site, query: str, expected: list[str] | None) -> None:
    client = busy.kit.signed_in("viewer")

    page = client.get(f"/queue?{query}")

    reasons = [r[1] for r in rows_of(page.text, "Open items") if len(r) > 1]
    if expected is None:  # nonsense is ignored: everything, oldest first
        expected = ["Unknown sender", "No case", "Nothing attached", "Unreadable or unsafe file", "No case"]
    assert (200, expected) == (page.status_code, reasons)


@pytest.mark.parametrize(
    ("words", "filters", "expected"),
    [
        ("rapid review", "", ["Unknown sender"]),
        ("casey.lund", "", ["No case", "Unreadable or unsafe file", "No case"]),
        ("casey.lund", "?reason=no_case", ["No case", "No case"]),
    ],
)
def test_the_queue_searches_by_words_posted_never_put_in_the_address(
    busy: Site, words: str, filters: str, expected: list[str]
) -> None:
    client = busy.kit.signed_in("viewer")
    token = csrf_token(client.get("/queue").text)

    page = client.post(f"/queue/search{filters}", data={"q": words, "csrf_token": token})

    assert (200, expected) == (page.status_code, [r[1] for r in rows_of(page.text, "Open items") if len(r) > 1])
    assert words not in str(page.url)
    assert f"q={words}" not in page.text.replace("+", " ")


def test_the_queue_sorts_oldest_newest_by_reason_and_by_agency(busy: Site) -> None:
    client = busy.kit.signed_in("business_unit")

    def ids(sort: str) -> list[str]:
        return [r[0].removeprefix("Item ") for r in rows_of(client.get(f"/queue?sort={sort}").text, "Open items")]

    def reasons(sort: str) -> list[str]:
        return [r[1] for r in rows_of(client.get(f"/queue?sort={sort}").text, "Open items")]

    assert ["1", "2", "3", "4", "5"] == ids("oldest")
    assert ["5", "4", "3", "2", "1"] == ids("newest")
    assert ["no_attachment", "no_case", "no_case", "unknown_sender", "unsafe_file"] == [
        {v: k for k, v in LABELS.items()}[r] for r in reasons("reason")
    ]
    agencies = [r[2] for r in rows_of(client.get("/queue?sort=agency").text, "Open items")]
    assert ["Greater Manchester Police"] * 3 + ["Not known"] * 2 == agencies


LABELS = {
    "unknown_sender": "Unknown sender",
    "no_case": "No case",
    "case_conflict": "Case conflict",
    "possible_duplicate": "Possible duplicate referral",
    "unrecognised_document": "Unrecognised document",
    "unsafe_file": "Unreadable or unsafe file",
    "no_attachment": "Nothing attached",
    "processing_fault": "Processing fault",
}


def test_the_queue_pages_with_govuk_pagination_keeping_the_filters(busy: Site) -> None:
    kit = busy.with_settings(page_size=2)
    client = kit.signed_in("business_unit")

    first = client.get("/queue?sort=newest")
    last = client.get("/queue?sort=newest&page=3")
    beyond = client.get("/queue?sort=newest&page=99")

    assert ["Item 5", "Item 4"] == [r[0] for r in rows_of(first.text, "Open items")]
    assert 'class="govuk-pagination"' in first.text
    assert 'href="/queue?sort=newest&amp;page=2" rel="next"' in first.text
    assert ["Item 1"] == [r[0] for r in rows_of(last.text, "Open items")]
    assert "Showing 5 to 5 of 5 open items" in text_of(last.text)
    assert ["Item 1"] == [r[0] for r in rows_of(beyond.text, "Open items")]


def test_the_queue_works_without_javascript_through_a_get_form(busy: Site) -> None:
    page = busy.kit.signed_in("viewer").get("/queue").text

    assert '<form method="get" action="/queue" novalidate>' in page
    assert {"reason", "agency", "case", "q", "sort"} <= set(re.findall(r'<(?:select|input)[^>]* name="([^"]+)"', page))
    assert 'for="q"' in page and 'for="case"' in page


def test_the_queue_is_refused_to_anonymous_visitors_and_administrators(busy: Site) -> None:
    anonymous = busy.kit.client()
    admin = busy.kit.signed_in("admin")

    assert (303, "/sign-in?next=/queue") == (
        anonymous.get("/queue").status_code,
        anonymous.get("/queue").headers["location"],
    )
    assert 303 == anonymous.get("/queue/1").status_code
    assert 403 == admin.get("/queue").status_code
    assert 403 == admin.get("/queue/1").status_code
    assert 403 == admin.get("/queue/1/documents/1/download").status_code


# -- an item ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["business_unit", "viewer"])
def test_an_item_shows_the_emails_metadata_and_each_document_with_its_findings(site: Site, role: str) -> None:
    [item_id] = site.deliver(mail.reference_email(UNKNOWN_REFERENCE))
    client = site.kit.signed_in(role)

    page = client.get(f"/queue/{item_id}")

    assert 200 == page.status_code
    assert f"<title>Item {item_id}: No case – Safeguarding reviews intake</title>" in page.text
    assert '<h1 class="govuk-heading-l">No case</h1>' in page.text
    about = summary_of(page.text)
    assert "casey.lund@police.example.org" == about["From"]
    assert f"RE: {UNKNOWN_REFERENCE} - request for chronology" == about["Subject"]
    assert "2 November 2026 at 9am" == about["Received"]
    assert f"DMARC pass, DKIM pass, SPF pass (checked by {mail.AUTHSERV_ID})" == about["Authentication"]
    assert "Chronology.xlsx" == about["File"]
    assert about["Form"].startswith("Chronology of Significant Events (version ")
    assert [("Status", "Open"), ("Status", "Needs changes")] == summary_rows(page.text, "Status")
    [finding] = [r for r in rows_of(page.text, "Findings in Document 1: Chronology.xlsx (1)")]
    assert ["FIELD-REQUIRED", "Error", "Case reference"] == finding[:3]
    assert f'href="/queue/{item_id}/documents/1/download"' in page.text
    assert f'href="/queue/{item_id}/message/download"' in page.text


def test_an_item_shows_the_values_read_with_their_labels_and_where_they_were_found(site: Site) -> None:
    site.open_case(CASE_REFERENCE, child_name="Child B", child_dob="2013-02-03")
    [summary_item] = site.deliver(mail.good_form_email("agency_summary"))
    [chronology_item] = site.deliver(mail.reference_email(UNKNOWN_REFERENCE))
    client = site.kit.signed_in("business_unit")

    summary = client.get(f"/queue/{summary_item}").text
    chronology = client.get(f"/queue/{chronology_item}").text

    word = rows_of(summary, f"Values read from Document 1: {FORM_FILE}, with where each was found")
    excel = rows_of(chronology, "Values read from Document 1: Chronology.xlsx, with where each was found")
    assert ["1. Case", "Service / team", "Children's emergency department", "table 1, row 3, cell 2"] in word
    assert ["2. Child", "Date of birth", "2015-06-14", "table 2, row 2, cell 2"] in word
    assert ["Glossary", "Meaning", "Emergency department", "Glossary, row 2"] in word
    assert ["Details", "Author name", "Casey Lund", "sheet 'Details', cell B8"] in excel
    assert ["Details", "Case reference", "Empty", "sheet 'Details', cell B4"] in excel
    assert ["Chronology", "Source of information", "Police incident log", "sheet 'Chronology', row 2"] in excel


FORM_FILE = "Agency Summary Report - NCA.docx"
REFERRAL_FILE = "Rapid review referral - Salford Education.docx"


def test_an_item_never_renders_the_emails_html_body(site: Site) -> None:
    [item_id] = site.deliver(mail.html_only_email())

    page = site.kit.signed_in("business_unit").get(f"/queue/{item_id}").text

    assert "alert(" not in page
    assert "<style>" not in page and "color: #333" not in page
    assert "GMP chronology" == summary_of(page)["Subject"]


def test_a_viewer_sees_no_action_forms_and_the_business_unit_sees_each_action_of_the_reason(site: Site) -> None:
    site.open_case()
    [item_id] = site.deliver(mail.hostile_email())

    viewer = site.kit.signed_in("viewer").get(f"/queue/{item_id}").text
    worker = site.kit.signed_in("business_unit").get(f"/queue/{item_id}").text

    assert [] == action_forms(viewer)
    assert "Only the business unit can act on it" in text_of(viewer)
    assert [
        f"/queue/{item_id}/actions/reject_with_reply/preview",
        f"/queue/{item_id}/actions/file_as_supporting/perform",
    ] == action_forms(worker)
    assert len(ACTIONS[ExceptionReason.UNSAFE_FILE]) == len(action_forms(worker))
    assert 'for="file_as_supporting-case_reference"' in worker
    assert 'for="file_as_supporting-note"' in worker and 'for="reject_with_reply-note"' in worker


def test_a_missing_item_is_not_found(site: Site) -> None:
    client = site.kit.signed_in("business_unit")

    assert [404, 404, 404, 404] == [
        client.get(path).status_code
        for path in (
            "/queue/4242",
            "/queue/not-a-number",
            "/queue/4242/documents/1/download",
            "/queue/4242/message/download",
        )
    ]


# -- downloads --------------------------------------------------------------------------------------


def test_an_original_downloads_as_an_attachment_byte_for_byte_and_the_download_is_audited(site: Site) -> None:
    site.open_case()
    raw = mail.unknown_sender_email()
    [item_id] = site.deliver(raw)
    [document] = site.documents()
    client = site.kit.signed_in("viewer")

    response = client.get(f"/queue/{item_id}/documents/1/download")

    assert 200 == response.status_code
    assert 'attachment; filename="Referral.docx"' in response.headers["content-disposition"]
    assert site.kit.services.blobs.get(document.blob) == response.content
    assert response.content.startswith(b"PK")
    assert "sandbox" in response.headers["content-security-policy"]
    [entry] = site.audit("document.downloaded")
    assert (client.user, "document", str(document.id)) == (entry.actor, entry.entity, entry.entity_id)
    assert {"item": item_id, "position": 1} == entry.detail
    assert 404 == client.get(f"/queue/{item_id}/documents/2/download").status_code


def test_the_whole_email_downloads_as_an_eml_attachment_exactly_as_it_arrived(site: Site) -> None:
    raw = mail.covering_email()
    [item_id] = site.deliver(raw)
    client = site.kit.signed_in("business_unit")

    response = client.get(f"/queue/{item_id}/message/download")

    assert 200 == response.status_code
    assert raw == response.content
    assert re.fullmatch(r'attachment; filename="email-\d+\.eml"; .*', response.headers["content-disposition"])
    assert "application/octet-stream" == response.headers["content-type"]
    [entry] = site.audit("message.downloaded")
    assert (client.user, {"item": item_id}) == (entry.actor, entry.detail)


def test_a_hostile_filename_downloads_under_a_safe_name(site: Site) -> None:
    [item_id] = site.deliver(hostile_email())

    response = site.kit.signed_in("business_unit").get(f"/queue/{item_id}/documents/1/download")

    disposition = response.headers["content-disposition"]
    name = re.search(r'filename="([^"]*)"', disposition)
    assert name is not None
    assert not name.group(1).startswith(("=", "+", "-", "@"))
    assert not re.search(r'[<>"/\\]', name.group(1))
    assert name.group(1).endswith(".docx")
    assert disposition.startswith("attachment;")


# -- hostile mail -----------------------------------------------------------------------------------


def hostile_email() -> bytes:
    """The NCA's summary for a case that does not exist, with script, markup and formula text
    in its subject, its file name and one of its fields."""
    form = sample_context().catalogue.get("agency_summary")
    values = complete_values("agency_summary")
    values["service_team"] = HOSTILE_VALUE
    values["case_reference"] = UNKNOWN_REFERENCE
    return mail.agency_email(
        sender=mail.PEOPLE["nca"].formatted,
        subject=HOSTILE_SUBJECT,
        body="Please find attached our report. <script>alert(3)</script>",
        attachments=[(HOSTILE_FILENAME, fill(form, values))],
    )


def assert_inert(page: str, *texts: str) -> None:
    flat = " ".join(page.split())  # a long subject may arrive folded over two lines
    for text in texts:
        assert " ".join(str(escape(text)).split()) in flat, f"{text!r} is not shown as text"
    assert "<script>alert" not in page
    assert "<b>" not in page and "<img" not in page


def test_hostile_text_from_mail_shows_as_inert_text_on_the_queue_and_the_item(site: Site) -> None:
    [item_id] = site.deliver(hostile_email())
    client = site.kit.signed_in("business_unit")

    queue = client.get("/queue").text
    item = client.get(f"/queue/{item_id}").text

    assert_inert(queue, HOSTILE_SUBJECT)
    assert_inert(item, HOSTILE_SUBJECT, HOSTILE_FILENAME, HOSTILE_VALUE)
    assert "alert(3)" not in item


def test_hostile_text_stays_inert_through_an_action_and_on_the_case_page(site: Site) -> None:
    site.open_case(OTHER_REFERENCE)
    [item_id] = site.deliver(hostile_email())
    client = site.kit.signed_in("business_unit")

    done = act(client, item_id, "link_to_case", case_reference=OTHER_REFERENCE)
    case = client.get(f"/cases/{OTHER_REFERENCE}").text

    assert 200 == done.status_code
    assert_inert(done.text, HOSTILE_SUBJECT, HOSTILE_FILENAME)
    assert_inert(case, HOSTILE_FILENAME)


# -- actions ----------------------------------------------------------------------------------------


def unrecognised_email() -> bytes:
    person = mail.PEOPLE["gmp"]
    return mail.agency_email(
        sender=person.formatted,
        subject=f"{CASE_REFERENCE} GMP notes",
        body="Please see our notes attached.",
        attachments=[("GMP notes.docx", hostile.plain_docx())],
    )


def unknown_sender(site: Site) -> int:
    return site.deliver(mail.unknown_sender_email())[0]


def no_case(site: Site) -> int:
    site.open_case(OTHER_REFERENCE)
    return site.deliver(mail.reference_email(UNKNOWN_REFERENCE))[0]


def case_conflict(site: Site) -> int:
    site.open_case(CASE_REFERENCE, child_name="Child B", child_dob="2013-02-03")
    site.open_case(OTHER_REFERENCE)
    return site.deliver(mail.good_form_email("agency_summary"))[0]


def possible_duplicate(site: Site) -> int:
    site.open_case()
    return site.deliver(mail.good_form_email("referral"))[0]


def unrecognised(site: Site) -> int:
    site.open_case()
    return site.deliver(unrecognised_email())[0]


def unsafe(site: Site) -> int:
    site.open_case()
    return site.deliver(mail.hostile_email())[0]


def nothing_attached(site: Site) -> int:
    site.open_case()
    return site.deliver(mail.covering_email())[0]


def processing_fault(site: Site) -> int:
    """A chronology whose filing fails three times over (a bug): the pipeline queues it."""

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    site.open_case()
    site.inbox.add(mail.good_form_email("chronology"), RECEIVED)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(site.service.pipeline, "_apply", broken)
        site.service.pipeline.poll(site.inbox)
        for _ in range(3):
            site.service.pipeline.process_pending()
    [item_id] = site.open_items()
    return item_id


NEW_CASE = "a new case"

#: (reason, how the item is made, action, its fields, the case it ends on (or None), the file it files there)
WORK: list[tuple[str, Callable[[Site], int], str, dict[str, str], str | None, str | None]] = [
    ("unknown_sender", unknown_sender, "accept_as_agency", {"agency": "education"}, NEW_CASE, "Referral.docx"),
    ("unknown_sender", unknown_sender, "reject", {}, None, None),
    ("unknown_sender", unknown_sender, "mark_junk", {}, None, None),
    ("no_case", no_case, "link_to_case", {"case_reference": OTHER_REFERENCE}, OTHER_REFERENCE, "Chronology.xlsx"),
    ("no_case", no_case, "open_new_case", {"kind": "local_review"}, NEW_CASE, "Chronology.xlsx"),
    ("case_conflict", case_conflict, "link_to_case", {"case_reference": OTHER_REFERENCE}, OTHER_REFERENCE, FORM_FILE),
    ("case_conflict", case_conflict, "correct", {}, CASE_REFERENCE, FORM_FILE),
    ("case_conflict", case_conflict, "reject", {}, None, None),
    ("possible_duplicate", possible_duplicate, "merge_into_case", {}, CASE_REFERENCE, REFERRAL_FILE),
    ("possible_duplicate", possible_duplicate, "open_new_case", {}, NEW_CASE, REFERRAL_FILE),
    ("unrecognised_document", unrecognised, "file_as_supporting", {}, CASE_REFERENCE, "GMP notes.docx"),
    ("unrecognised_document", unrecognised, "reject", {}, None, None),
    ("unsafe_file", unsafe, "reject_with_reply", {}, None, None),
    (
        "unsafe_file",
        unsafe,
        "file_as_supporting",
        {"case_reference": CASE_REFERENCE},
        CASE_REFERENCE,
        hostile.HOSTILE["docm renamed docx"][2],
    ),
    (
        "no_attachment",
        nothing_attached,
        "link_as_correspondence",
        {"case_reference": CASE_REFERENCE},
        CASE_REFERENCE,
        None,
    ),
    ("no_attachment", nothing_attached, "dismiss", {}, None, None),
    ("processing_fault", processing_fault, "retry", {}, CASE_REFERENCE, "GMP chronology.xlsx"),
]


def test_every_action_of_every_reason_is_worked_here() -> None:
    assert {(r.value, a) for r, actions in ACTIONS.items() for a in actions} == {(w[0], w[2]) for w in WORK}


@pytest.mark.parametrize(
    ("reason", "make", "action", "fields", "case", "filed"), WORK, ids=[f"{w[0]}-{w[2]}" for w in WORK]
)
def test_an_item_worked_to_its_end_closes_and_changes_the_case(
    site: Site,
    reason: str,
    make: Callable[[Site], int],
    action: str,
    fields: dict[str, str],
    case: str | None,
    filed: str | None,
) -> None:
    item_id = make(site)
    client = site.kit.signed_in("business_unit")
    assert LABELS[reason] in client.get(f"/queue/{item_id}").text

    done = act(client, item_id, action, note="Checked by phone", **fields)

    assert 200 == done.status_code, text_of(done.text)
    assert "Success" in done.text and banner(done.text)
    assert "Closed" == summary_of(done.text)["Status"]
    assert "Checked by phone" == summary_of(done.text)["Note"]
    assert [] == action_forms(done.text)
    [entry] = site.audit(f"queue.{action}")
    assert (client.user, str(item_id), "Checked by phone") == (
        entry.actor,
        entry.entity_id,
        (entry.detail or {})["note"],
    )
    if case is None:
        return
    link = re.search(r'href="/cases/([^"]+)">Go to case', done.text)
    assert link is not None, banner(done.text)
    if case != NEW_CASE:
        assert case == link.group(1)
    page = client.get(f"/cases/{link.group(1)}").text
    if filed is not None:
        assert filed in [row[1] for row in summary_rows(page, "File")]
    else:
        assert "Case: correspondence" in [row[2] for row in rows_of(page, "History")]


def test_a_reply_is_shown_before_it_goes_and_goes_as_the_person_edited_it(site: Site) -> None:
    item_id = no_case(site)
    client = site.kit.signed_in("business_unit")
    page = client.get(f"/queue/{item_id}").text

    preview = client.post(
        f"/queue/{item_id}/actions/link_to_case/preview",
        data={"csrf_token": csrf_token(page), "case_reference": OTHER_REFERENCE, "note": "As agreed"},
    )
    composed = textarea(preview.text, "reply_body")
    nothing_yet = site.action_replies(item_id)
    form = hidden_inputs(preview.text) | {
        "reply_body": "Thank you. Filed under the case.\r\nBusiness unit",
        "send_reply": "yes",
    }
    done = client.post(f"/queue/{item_id}/actions/link_to_case/perform", data=form)

    assert 200 == preview.status_code
    assert composed is not None and OTHER_REFERENCE in composed
    assert "casey.lund@police.example.org" == summary_of(preview.text)["To"]
    assert OTHER_REFERENCE in summary_of(preview.text)["Subject"]
    assert {"case_reference": OTHER_REFERENCE, "note": "As agreed"}.items() <= hidden_inputs(preview.text).items()
    assert [] == nothing_yet
    assert 200 == done.status_code
    [reply] = site.action_replies(item_id)
    assert b"Thank you. Filed under the case." in reply.raw
    assert "queued" == reply.state
    [entry] = site.audit("queue.link_to_case")
    assert (entry.detail or {})["reply_edited"] is True


def test_a_reply_left_as_composed_is_not_recorded_as_edited_and_one_can_be_withheld(site: Site) -> None:
    first = no_case(site)
    [second] = site.deliver(mail.reference_email("SSCP-2025-098"))
    client = site.kit.signed_in("business_unit")

    act(client, first, "link_to_case", case_reference=OTHER_REFERENCE)
    act(client, second, "link_to_case", case_reference=OTHER_REFERENCE, send_reply="no")

    [entry, _] = site.audit("queue.link_to_case")
    assert ("queued", None) == ((entry.detail or {})["reply"], (entry.detail or {}).get("reply_edited"))
    assert 1 == len(site.action_replies(first))
    assert [] == site.action_replies(second)


def test_a_refused_action_shows_an_error_summary_linking_to_its_field_and_changes_nothing(site: Site) -> None:
    item_id = no_case(site)
    client = site.kit.signed_in("business_unit")
    token = csrf_token(client.get(f"/queue/{item_id}").text)

    missing = client.post(
        f"/queue/{item_id}/actions/link_to_case/preview", data={"csrf_token": token, "case_reference": "SSCP-2024-500"}
    )
    empty = client.post(f"/queue/{item_id}/actions/link_as_correspondence/perform", data={"csrf_token": token})

    assert 400 == missing.status_code
    assert "<title>Error: Item" in missing.text
    assert {"link_to_case-case_reference": "There is no case SSCP-2024-500."} == error_links(missing.text)
    assert 'id="link_to_case-case_reference-error"' in missing.text
    assert 'value="SSCP-2024-500"' in missing.text
    assert 400 == empty.status_code
    assert "That action is not available for this item." in text_of(empty.text)
    assert "Open" == summary_of(client.get(f"/queue/{item_id}").text)["Status"]
    assert [] == site.audit("queue.link_to_case")


def test_an_item_already_dealt_with_refuses_a_second_action(site: Site) -> None:
    item_id = nothing_attached(site)
    client = site.kit.signed_in("business_unit")
    token = csrf_token(client.get(f"/queue/{item_id}").text)
    act(client, item_id, "dismiss")

    again = client.post(f"/queue/{item_id}/actions/dismiss/perform", data={"csrf_token": token})

    assert 409 == again.status_code
    assert "This item has been dealt with." in text_of(again.text)
    assert 1 == len(site.audit("queue.dismiss"))


def test_an_action_needs_its_csrf_token_the_business_unit_role_and_a_post(site: Site) -> None:
    item_id = nothing_attached(site)
    worker = site.kit.signed_in("business_unit")
    viewer = site.kit.signed_in("viewer")
    path = f"/queue/{item_id}/actions/dismiss/perform"

    without = worker.post(path, data={"note": "no token"})
    forged = worker.post(path, data={"csrf_token": "forged", "note": "wrong token"})
    as_viewer = viewer.post(path, data={"csrf_token": csrf_token(viewer.get(f"/queue/{item_id}").text)})
    over_get = worker.get(path)
    preview_without = worker.post(f"/queue/{item_id}/actions/dismiss/preview", data={})

    assert [403, 403, 403, 405, 403] == [r.status_code for r in (without, forged, as_viewer, over_get, preview_without)]
    assert "Open" == summary_of(worker.get(f"/queue/{item_id}").text)["Status"]
    assert [] == site.audit("queue.dismiss")


# -- the audit trail --------------------------------------------------------------------------------


def test_every_view_of_an_item_is_audited_with_who_and_when(site: Site) -> None:
    [item_id] = site.deliver(mail.covering_email())
    client = site.kit.signed_in("viewer")

    client.get(f"/queue/{item_id}")
    client.get(f"/queue/{item_id}")
    client.get("/queue/4242")

    entries = site.audit("exception_item.viewed")
    assert [(client.user, "exception_item", str(item_id))] * 2 == [(e.actor, e.entity, e.entity_id) for e in entries]
    assert all(e.at is not None for e in entries)
