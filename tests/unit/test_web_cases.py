"""The cases' pages on real data (emails run through a Service on SQLite, as in
test_web_queue.py): the list, a case with its returns, documents, findings and history, the
originals to download, and the audit trail of every view and download."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest

from core.cases import CaseKind
from storage.uow import UnitOfWork
from tests.fixtures import mail
from tests.fixtures.sample import CASE_REFERENCE, CHILD_NAME
from tests.unit import test_web_queue as queue_pages
from tests.unit.test_web_queue import OTHER_REFERENCE, RECEIVED, Site, rows_of, summary_of, summary_rows, text_of

pytest_plugins = ("tests.unit.web_kit",)

#: the same site as the queue's tests: a Service with mail in it, and the web app on it
site = queue_pages.site

CHRONOLOGY = "Chronology of Significant Events"
SUMMARY = "Agency Summary Report"


def file_mail(site: Site) -> Site:
    """The fixture case with the NCA's summary (accepted), GMP's chronology twice (the first
    without its case reference, so it needs changes; the second supersedes it), an unsafe
    file still in the queue, an overdue and a future return; and two other cases."""
    case_id = site.open_case()
    with UnitOfWork(site.service.engine) as uow:
        today = site.kit.clock.today()
        uow.returns.set(case_id, "probation", "agency_summary", "asked", now=RECEIVED, due_date=dt.date(2020, 1, 6))
        uow.returns.set(case_id, "camhs", "chronology", "asked", now=RECEIVED, due_date=today + dt.timedelta(days=30))
        uow.cases.create(CaseKind.LOCAL_REVIEW, None, None, None, RECEIVED, reference=OTHER_REFERENCE)
        closed = uow.cases.create(CaseKind.GOOD_OUTCOME_REVIEW, None, None, None, RECEIVED, reference="SSCP-2024-003")
        closed.status = "closed"
        uow.commit()
    site.deliver(mail.good_form_email("agency_summary"))
    site.deliver(mail.reference_email(CASE_REFERENCE))
    site.deliver(mail.good_form_email("chronology"))
    site.deliver(mail.hostile_email())
    return site


@pytest.fixture
def filed(site: Site) -> Site:
    """file_mail's cases, for a test of its own (one that counts audit entries)."""
    return file_mail(site)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """file_mail's cases, shared by the tests that only read them."""
    with queue_pages.built_site(tmp_path_factory.mktemp("cases")) as built:
        yield file_mail(built)


# -- the list ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["business_unit", "viewer"])
def test_the_cases_list_shows_reference_kind_status_date_opened_and_documents_received(shared: Site, role: str) -> None:
    page = shared.kit.signed_in(role).get("/cases")

    assert 200 == page.status_code
    assert "<title>Cases – Safeguarding reviews intake</title>" in page.text
    rows = {row[0]: row for row in rows_of(page.text, "Cases")}
    assert ["Rapid review", "Open", "2 November 2026", "3"] == rows[CASE_REFERENCE][1:]
    assert ["Local review", "Open", "2 November 2026", "0"] == rows[OTHER_REFERENCE][1:]
    assert ["Good outcome review", "Closed", "2 November 2026", "0"] == rows["SSCP-2024-003"][1:]
    assert f'href="/cases/{CASE_REFERENCE}"' in page.text
    assert "2 open and 1 closed" in text_of(page.text)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=closed", ["SSCP-2024-003"]),
        ("status=open&kind=local_review", [OTHER_REFERENCE]),
        ("q=2025-0", [OTHER_REFERENCE, CASE_REFERENCE]),
        ("q=sscp-2024", ["SSCP-2024-003"]),
        ("q=nothing-like-it", []),
        ("status=sideways&kind=nonsense&page=-4", None),
    ],
)
def test_the_cases_list_filters_by_status_and_kind_and_searches_the_reference(
    shared: Site, query: str, expected: list[str] | None
) -> None:
    page = shared.kit.signed_in("viewer").get(f"/cases?{query}")

    found = [row[0] for row in rows_of(page.text, "Cases") if len(row) > 1]
    assert 200 == page.status_code
    if expected is None:
        assert 3 == len(found)
    else:
        assert sorted(expected) == sorted(found)


def test_the_cases_list_pages_keeping_its_filters(shared: Site) -> None:
    client = shared.with_settings(page_size=2).signed_in("business_unit")

    first = client.get("/cases?status=")
    second = client.get("/cases?status=&page=2")

    assert 2 == len(rows_of(first.text, "Cases"))
    assert 'href="/cases?status=&amp;page=2" rel="next"' in first.text
    assert 1 == len(rows_of(second.text, "Cases"))
    assert "Showing 3 to 3 of 3 cases" in text_of(second.text)


def test_the_cases_list_works_without_javascript_through_a_get_form(shared: Site) -> None:
    page = shared.kit.signed_in("viewer").get("/cases").text

    assert '<form method="get" action="/cases" novalidate>' in page
    assert {"q", "status", "kind"} <= set(re.findall(r'<(?:select|input)[^>]* name="([^"]+)"', page))


# -- a case -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["business_unit", "viewer"])
def test_a_case_shows_its_summary_with_the_child_on_the_page_but_never_in_its_title_or_links(
    shared: Site, role: str
) -> None:
    page = shared.kit.signed_in(role).get(f"/cases/{CASE_REFERENCE.lower()}")

    assert 200 == page.status_code
    assert f"<title>Case {CASE_REFERENCE} – Safeguarding reviews intake</title>" in page.text
    assert f'<h1 class="govuk-heading-l">Case {CASE_REFERENCE}</h1>' in page.text
    about = summary_of(page.text)
    assert {
        "Status": "Open",
        "Kind of review": "Rapid review",
        "Opened": "2 November 2026",
        "Partnership aware": "1 September 2025",
        "Child's name": CHILD_NAME,
        "Child's date of birth": "14 June 2015",
    }.items() <= about.items()
    assert not any(
        CHILD_NAME.replace(" ", "") in href.replace("%20", "").replace("+", "")
        for href in re.findall(r'href="([^"]*)"', page.text)
    )


def test_a_case_shows_its_expected_returns_by_agency_with_state_and_due_date(shared: Site) -> None:
    page = shared.kit.signed_in("business_unit").get(f"/cases/{CASE_REFERENCE}").text

    [probation] = rows_of(page, "HM Prisons and Probation Service")
    [camhs] = rows_of(page, "Child and Adolescent Mental Health Services")
    [gmp] = rows_of(page, "Greater Manchester Police")
    [nca] = rows_of(page, "Northern Care Alliance")
    assert [SUMMARY, "Asked", "6 January 2020 Overdue"] == probation[:3]
    assert ["Asked"] == camhs[1:2] and "Overdue" not in camhs[2]
    assert [CHRONOLOGY, "Accepted"] == gmp[:2]
    assert [SUMMARY, "Accepted", "No date set"] == nca[:3]


def test_a_case_shows_every_document_version_with_its_status_findings_and_a_download(shared: Site) -> None:
    page = shared.kit.signed_in("business_unit").get(f"/cases/{CASE_REFERENCE}").text

    titles = re.findall(r'<h3 class="govuk-summary-card__title">(.*?)</h3>', page)
    assert [
        f"{CHRONOLOGY} from Greater Manchester Police, version 1",
        f"{CHRONOLOGY} from Greater Manchester Police, version 2",
        f"{SUMMARY} from Northern Care Alliance, version 1",
    ] == titles
    assert ["Needs changes", "Accepted", "Accepted"] == [v for _, v in summary_rows(page, "Status")][1:]
    assert ["1 (superseded)", "2", "1"] == [v for _, v in summary_rows(page, "Version of this return")]
    [finding] = rows_of(page, f"Findings in {CHRONOLOGY} from Greater Manchester Police, version 1 (1)")
    assert ["FIELD-REQUIRED", "Error", "Case reference"] == finding[:3]
    downloads = re.findall(rf'href="(/cases/{CASE_REFERENCE}/documents/\d+/download)"', page)
    assert 3 == len(downloads)


def test_a_case_shows_its_open_items_and_its_history(shared: Site) -> None:
    page = shared.kit.signed_in("viewer").get(f"/cases/{CASE_REFERENCE}").text

    [item] = rows_of(page, "Open items in the queue")
    history = rows_of(page, "History")
    assert ["Unreadable or unsafe file", "Greater Manchester Police"] == item[1:3]
    assert re.search(r'href="/queue/\d+"', page)
    assert {"Message: recorded", "Message: filed", "Queue: opened"} <= {row[2] for row in history}


def test_a_case_page_view_is_audited_without_the_childs_details(filed: Site) -> None:
    client = filed.kit.signed_in("viewer")

    client.get(f"/cases/{CASE_REFERENCE}")
    client.get("/cases/SSCP-2099-999")

    [entry] = filed.audit("case.viewed")
    assert (client.user, "case", {"reference": CASE_REFERENCE}) == (entry.actor, entry.entity, entry.detail)
    assert CHILD_NAME not in str(entry.detail)


def test_a_case_document_downloads_as_an_attachment_byte_for_byte_and_is_audited(filed: Site) -> None:
    client = filed.kit.signed_in("viewer")
    documents = [d for d in filed.documents() if d.filename == "Agency Summary Report - NCA.docx"]
    [document] = documents

    response = client.get(f"/cases/{CASE_REFERENCE}/documents/{document.id}/download")

    assert 200 == response.status_code
    assert response.headers["content-disposition"].startswith('attachment; filename="Agency Summary Report - NCA.docx"')
    assert filed.kit.services.blobs.get(document.blob) == response.content
    [entry] = filed.audit("document.downloaded")
    assert (client.user, str(document.id), {"case": CASE_REFERENCE}) == (entry.actor, entry.entity_id, entry.detail)


def test_a_document_is_downloaded_only_through_its_own_case(filed: Site) -> None:
    client = filed.kit.signed_in("business_unit")
    [document] = [d for d in filed.documents() if d.filename == "Agency Summary Report - NCA.docx"]

    assert [404, 404, 404] == [
        client.get(path).status_code
        for path in (
            f"/cases/{OTHER_REFERENCE}/documents/{document.id}/download",
            f"/cases/{CASE_REFERENCE}/documents/4242/download",
            f"/cases/{'X' * 41}/documents/{document.id}/download",
        )
    ]
    assert [] == filed.audit("document.downloaded")


def test_a_case_that_does_not_exist_is_not_found(shared: Site) -> None:
    client = shared.kit.signed_in("business_unit")

    assert [404, 404] == [client.get(p).status_code for p in ("/cases/SSCP-2099-999", "/cases/" + "X" * 41)]


def test_the_cases_are_refused_to_anonymous_visitors_and_administrators(filed: Site) -> None:
    anonymous = filed.kit.client()
    admin = filed.kit.signed_in("admin")

    assert (303, "/sign-in?next=/cases") == (
        anonymous.get("/cases").status_code,
        anonymous.get("/cases").headers["location"],
    )
    assert 303 == anonymous.get(f"/cases/{CASE_REFERENCE}").status_code
    assert [403, 403, 403] == [
        admin.get(p).status_code
        for p in ("/cases", f"/cases/{CASE_REFERENCE}", f"/cases/{CASE_REFERENCE}/documents/1/download")
    ]
    assert [] == filed.audit("case.viewed")
