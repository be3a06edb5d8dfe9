"""The read side of the web app's pages, on SQLite and PostgreSQL: the queue (rows, counts,
pages, filters, sorts), an item, the cases and a case, with labels and locations from the
catalogue. Items and cases about real emails come from running them through a Service; the
rows for paging and sorting are written through the repositories with known times."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, event

from core.cases import ACTIONS, CaseKind, ExceptionReason
from core.catalogue import load_catalogue
from core.mail import MessageKey
from intake.actions import QueueActions
from intake.mailboxes.fake import FakeMailbox
from intake.service import Service
from storage import queries
from storage.uow import UnitOfWork
from tests.fixtures import mail
from tests.fixtures.filler import filled_document
from tests.fixtures.sample import CASE_REFERENCE, CHILD_DOB, CHILD_NAME
from web.ports import Actor, Role

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
RECEIVED = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
CLERK = Actor(user_id=7, email="morgan.clerk@partnership.example.org", role=Role.BUSINESS_UNIT)


def deliver(service: Service, inbox: FakeMailbox, *raws: bytes) -> None:
    for raw in raws:
        inbox.add(raw, RECEIVED)
    service.cycle()


def open_fixture_case(engine: Engine, reference: str = CASE_REFERENCE) -> int:
    with UnitOfWork(engine) as uow:
        case = uow.cases.create(
            CaseKind.RAPID_REVIEW,
            CHILD_NAME,
            dt.date.fromisoformat(CHILD_DOB),
            dt.date(2025, 9, 1),
            RECEIVED,
            reference=reference,
        )
        uow.commit()
        assert case.id is not None
        return case.id


def only_item(service: Service) -> int:
    with UnitOfWork(service.engine) as uow:
        [item] = uow.queue.list_open()
        assert item.id is not None
        return item.id


# -- rows with known times, for the queue's paging, sorting and filtering --------------------------

#: (reason, agency, days before NOW, subject, sender); one more item, closed, is never listed
ROWS = [
    ("no_case", "gmp", 9, "Chronology for review", "casey.lund@police.example.org"),
    ("unsafe_file", "nca", 1, "Summary 100% final", "sam.okafor@nca.example.org"),
    ("no_case", "nca", 5, "Agency summary", "sam.okafor@nca.example.org"),
    ("unknown_sender", None, 3, "Referral", "pat.doyle@unknown-agency.example.net"),
    ("no_attachment", "gmp", 7, "Summary to follow", "casey.lund@police.example.org"),
]


def add_rows(engine: Engine) -> list[int]:
    """The ROWS as open items (ids in ROWS order), a closed one, and a case for the unsafe file."""
    ids = []
    with UnitOfWork(engine) as uow:
        case = uow.cases.create(CaseKind.RAPID_REVIEW, None, None, None, NOW, reference=CASE_REFERENCE)
        for uid, (reason, agency, days, subject, sender) in enumerate([*ROWS, ROWS[0]], 1):
            message = uow.messages.add(
                MessageKey(mailbox="default", folder="INBOX", uidvalidity=1, uid=uid),
                message_id=f"<m{uid}@example.org>",
                sha256=f"{uid:064x}",
                blob=f"{uid:064x}",
                sender=sender,
                subject=subject,
                received_at=NOW - dt.timedelta(days=days),
            )
            assert message.id is not None
            item = uow.queue.open_item(
                message.id,
                reason,
                agency=agency,
                case_id=case.id if reason == "unsafe_file" else None,
                opened=NOW - dt.timedelta(days=days),
            )
            if uid > len(ROWS):
                uow.queue.close(item, "dismiss", "someone@example.org", None, NOW)
            else:
                assert item.id is not None
                ids.append(item.id)
            if reason == "unsafe_file":
                uow.documents.add(
                    message_row_id=message.id, position=1, filename="a.docm", blob="b" * 64, status="rejected"
                )
                uow.documents.add(
                    message_row_id=message.id, position=2, filename="b.docx", blob="c" * 64, status="accepted"
                )
        uow.commit()
    return ids


def page(engine: Engine, **kwargs: Any) -> queries.QueuePage:
    with UnitOfWork(engine) as uow:
        return queries.queue_page(uow, now=NOW, **kwargs)


def test_the_queue_lists_open_items_oldest_first_with_their_age_and_counts_by_reason(engine: Engine) -> None:
    ids = add_rows(engine)

    found = page(engine)

    assert [ids[0], ids[4], ids[2], ids[3], ids[1]] == [r.id for r in found.items]
    assert [9, 7, 5, 3, 1] == [r.age_days for r in found.items]
    assert (5, 1, 1) == (found.total, found.page, found.pages)
    expected_counts = dict.fromkeys((r.value for r in ExceptionReason), 0) | {
        "no_case": 2,
        "unsafe_file": 1,
        "unknown_sender": 1,
        "no_attachment": 1,
    }
    assert expected_counts == found.counts_by_reason
    unsafe = next(r for r in found.items if r.reason == "unsafe_file")
    assert ("nca", "sam.okafor@nca.example.org", "Summary 100% final", CASE_REFERENCE, 2) == (
        unsafe.agency,
        unsafe.sender,
        unsafe.subject,
        unsafe.case_reference,
        unsafe.documents,
    )
    assert "Unreadable or unsafe file" == unsafe.reason_label


def test_the_queue_sorts_newest_first_by_reason_and_by_agency(engine: Engine) -> None:
    ids = add_rows(engine)

    newest = page(engine, sort="newest")
    by_reason = page(engine, sort="reason")
    by_agency = page(engine, sort="agency")

    assert [ids[1], ids[3], ids[2], ids[4], ids[0]] == [r.id for r in newest.items]
    assert ["no_attachment", "no_case", "no_case", "unknown_sender", "unsafe_file"] == [
        r.reason for r in by_reason.items
    ]
    assert [ids[0], ids[2]] == [r.id for r in by_reason.items if r.reason == "no_case"]
    assert ["gmp", "gmp", "nca", "nca", None] == [r.agency for r in by_agency.items]


def test_the_queue_filters_by_reason_agency_case_and_search_and_counts_the_other_reasons(engine: Engine) -> None:
    ids = add_rows(engine)

    by_reason = page(engine, reason="no_case")
    by_agency = page(engine, agency="gmp")
    by_case = page(engine, case_reference=CASE_REFERENCE.lower())
    by_subject = page(engine, search="SUMMARY")
    by_sender = page(engine, search="pat.doyle")

    assert ([ids[0], ids[2]], 2) == ([r.id for r in by_reason.items], by_reason.total)
    assert 1 == by_reason.counts_by_reason["unsafe_file"]  # the reason filter does not change the counts
    assert [ids[0], ids[4]] == [r.id for r in by_agency.items]
    assert {"no_case": 1, "no_attachment": 1} == {k: v for k, v in by_agency.counts_by_reason.items() if v}
    assert [ids[1]] == [r.id for r in by_case.items]
    assert [ids[4], ids[2], ids[1]] == [r.id for r in by_subject.items]
    assert [ids[3]] == [r.id for r in by_sender.items]


def test_search_takes_percent_and_underscore_as_themselves(engine: Engine) -> None:
    ids = add_rows(engine)

    assert [ids[1]] == [r.id for r in page(engine, search="100%").items]
    assert () == page(engine, search="_").items


def test_the_queue_pages(engine: Engine) -> None:
    ids = add_rows(engine)

    second = page(engine, per_page=2, page=2)
    beyond = page(engine, per_page=2, page=9)
    nonsense = page(engine, per_page=0, page=-3)

    assert ([ids[2], ids[3]], 2, 3, 5) == ([r.id for r in second.items], second.page, second.pages, second.total)
    assert ([ids[1]], 3) == ([r.id for r in beyond.items], beyond.page)
    assert ([ids[0]], 1, 1) == ([r.id for r in nonsense.items], nonsense.page, nonsense.per_page)


def count_statements(engine: Engine, run: Any) -> int:
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return len(seen)


def test_a_queue_page_costs_the_same_few_queries_for_one_row_or_fifty(engine: Engine) -> None:
    add_rows(engine)
    few = count_statements(engine, lambda: page(engine, per_page=1))
    with UnitOfWork(engine) as uow:
        for uid in range(100, 150):
            message = uow.messages.add(
                MessageKey(mailbox="default", folder="INBOX", uidvalidity=1, uid=uid),
                message_id=None,
                sha256=f"{uid:064x}",
                blob=f"{uid:064x}",
                sender="casey.lund@police.example.org",
                subject="More",
                received_at=NOW,
            )
            assert message.id is not None
            uow.queue.open_item(message.id, "no_case", agency="gmp", opened=NOW)
        uow.commit()

    many = count_statements(engine, lambda: page(engine, per_page=50))

    assert few == many
    assert many <= 2


# -- an item ---------------------------------------------------------------------------------------


def test_an_item_shows_the_message_metadata_each_document_with_its_values_and_the_actions(
    service: Service, inbox: FakeMailbox
) -> None:
    deliver(service, inbox, mail.unknown_sender_email())
    item_id = only_item(service)
    actions = QueueActions.for_service(service)

    with UnitOfWork(service.engine) as uow:
        view = queries.queue_item(uow, item_id, service.forms, authentication=actions.authentication, now=NOW)

    assert view is not None
    assert ("unknown_sender", "Unknown sender", "open") == (view.reason, view.reason_label, view.status)
    assert (mail.UNKNOWN.address, "Referral for a rapid review") == (view.message.sender, view.message.subject)
    assert view.message.message_id is not None and view.message.message_id.startswith("<")
    assert view.message.authentication is not None and "unknown domain" in view.message.authentication
    [document] = view.documents
    title = load_catalogue().get("referral").form.title
    assert (1, "Referral.docx", "referral", title, "accepted", None) == (
        document.position,
        document.filename,
        document.form,
        document.form_title,
        document.status,
        document.case_reference,
    )
    child = next(v for v in document.values if v.label == "Child's name")
    assert CHILD_NAME == child.value
    assert child.where is not None and child.where.startswith("table ")
    assert child.group is not None and "Child" in child.group
    assert ACTIONS[ExceptionReason.UNKNOWN_SENDER] == tuple(a.id for a in view.actions)
    assert ["agency"] == list(next(a for a in view.actions if a.id == "accept_as_agency").needs)
    assert {"message.recorded", "queue.opened", "message.exception"} <= {h.action for h in view.history}


def test_an_item_labels_its_findings_and_says_which_row_of_the_chronology_each_value_came_from(
    service: Service, inbox: FakeMailbox
) -> None:
    deliver(service, inbox, mail.reference_email("SSCP-2025-099"))

    with UnitOfWork(service.engine) as uow:
        view = queries.queue_item(uow, only_item(service), service.forms)

    assert view is not None and "no_case" == view.reason
    [document] = view.documents
    required = next(f for f in document.findings if f.field == "case_reference")
    assert ("error", "Case reference") == (required.severity, required.field_label)
    events = [v for v in document.values if v.group == "Chronology"]
    assert events
    assert all(v.where is not None and v.where.startswith("sheet 'Chronology', row ") for v in events)
    assert view.message.authentication is None  # no hook given
    assert [("automatic", "sent")] == [(r.kind, r.state) for r in view.replies]


def test_a_closed_item_offers_no_action_and_its_history_says_who_closed_it(
    service: Service, inbox: FakeMailbox
) -> None:
    deliver(service, inbox, mail.covering_email())
    item_id = only_item(service)
    QueueActions.for_service(service).perform(item_id, "dismiss", {"note": "Chased by phone"}, CLERK)

    with UnitOfWork(service.engine) as uow:
        view = queries.queue_item(uow, item_id, service.forms.catalogue)
        listed = queries.queue_page(uow)

    assert view is not None
    assert ((), "closed", "dismiss", CLERK.email, "Chased by phone") == (
        view.actions,
        view.status,
        view.resolution,
        view.actor,
        view.note,
    )
    assert (CLERK.email, "queue.dismiss") == (view.history[-1].actor, view.history[-1].action)
    assert 0 == listed.total


def test_an_item_that_does_not_exist_is_none(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        assert queries.queue_item(uow, 4242, load_catalogue()) is None


def test_views_and_downloads_stay_out_of_an_items_history(service: Service, inbox: FakeMailbox) -> None:
    deliver(service, inbox, mail.covering_email())
    item_id = only_item(service)
    with UnitOfWork(service.engine) as uow:
        uow.audit.record(CLERK.email, "exception_item.viewed", "exception_item", item_id, None, NOW)
        uow.commit()

    with UnitOfWork(service.engine) as uow:
        view = queries.queue_item(uow, item_id, service.forms)

    assert view is not None
    assert "exception_item.viewed" not in [h.action for h in view.history]


# -- cases -----------------------------------------------------------------------------------------


def add_cases(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        for n, (kind, days, status) in enumerate(
            [
                (CaseKind.RAPID_REVIEW, 30, "open"),
                (CaseKind.LOCAL_REVIEW, 20, "closed"),
                (CaseKind.RAPID_REVIEW, 10, "open"),
                (CaseKind.GOOD_OUTCOME_REVIEW, 5, "open"),
            ],
            1,
        ):
            case = uow.cases.create(
                kind, None, None, None, NOW - dt.timedelta(days=days), reference=f"SSCP-2026-{n:03d}"
            )
            case.status = status
            assert case.id is not None
            if n == 3:
                message = uow.messages.add(
                    MessageKey(mailbox="default", folder="INBOX", uidvalidity=1, uid=n),
                    message_id=None,
                    sha256=f"{n:064x}",
                    blob=f"{n:064x}",
                    sender=None,
                    subject=None,
                    received_at=NOW,
                )
                assert message.id is not None
                for position in (1, 2, 3):
                    uow.documents.add(
                        message_row_id=message.id,
                        position=position,
                        filename=f"{position}.docx",
                        blob="d" * 64,
                        status="accepted",
                        case_id=case.id,
                    )
        uow.commit()


def test_the_cases_page_lists_cases_newest_first_with_documents_received_and_counts_by_status(
    engine: Engine,
) -> None:
    add_cases(engine)

    with UnitOfWork(engine) as uow:
        everything = queries.cases_page(uow)
        open_rapid = queries.cases_page(uow, status="open", kind="rapid_review")
        searched = queries.cases_page(uow, search="2026-00")
        second = queries.cases_page(uow, per_page=3, page=2)

    assert ["SSCP-2026-004", "SSCP-2026-003", "SSCP-2026-002", "SSCP-2026-001"] == [
        c.reference for c in everything.items
    ]
    assert [0, 3, 0, 0] == [c.documents for c in everything.items]
    assert ({"open": 3, "closed": 1}, 4) == (everything.counts_by_status, everything.total)
    assert ("Good outcome review", "open") == (everything.items[0].kind_label, everything.items[0].status)
    assert ["SSCP-2026-003", "SSCP-2026-001"] == [c.reference for c in open_rapid.items]
    assert 4 == searched.total
    assert (["SSCP-2026-001"], 2, 2) == ([c.reference for c in second.items], second.page, second.pages)


def test_a_case_shows_its_returns_by_agency_every_version_with_findings_its_items_and_history(
    service: Service, inbox: FakeMailbox
) -> None:
    case_id = open_fixture_case(service.engine)
    _, incomplete = filled_document("agency_summary", without=("learning",))
    nca = mail.PEOPLE["nca"].formatted
    deliver(
        service,
        inbox,
        mail.agency_email(sender=nca, subject="Summary", attachments=[("summary.docx", incomplete)]),
    )
    deliver(service, inbox, mail.good_form_email("agency_summary"), mail.hostile_email())
    with UnitOfWork(service.engine) as uow:
        uow.returns.set(case_id, "gmp", "chronology", "asked", now=NOW, due_date=dt.date(2026, 11, 10))
        uow.commit()

    with UnitOfWork(service.engine) as uow:
        view = queries.case_view(uow, CASE_REFERENCE.lower(), service.forms, today=dt.date(2026, 11, 20))

    assert view is not None
    assert (CASE_REFERENCE, "Rapid review", CHILD_NAME) == (view.reference, view.kind_label, view.child_name)
    assert [("gmp", "Greater Manchester Police"), ("nca", "Northern Care Alliance")] == [
        (a.agency, a.agency_name) for a in view.returns
    ]
    [chronology] = view.returns[0].returns
    assert ("asked", True, dt.date(2026, 11, 10)) == (chronology.state, chronology.overdue, chronology.due_date)
    [summary] = view.returns[1].returns
    assert ("accepted", False) == (summary.state, summary.overdue)
    summaries = [d for d in view.documents if d.form == "agency_summary"]
    assert [(1, "needs_changes", False), (2, "accepted", True)] == [
        (d.version_no, d.status, d.current) for d in summaries
    ]
    labelled = [f.field_label for f in summaries[0].findings if f.severity == "error"]
    assert labelled and all(labelled)
    assert ["unsafe_file"] == [i.reason for i in view.open_items]
    actions = {h.action for h in view.history}
    assert {"message.filed", "queue.opened", "message.exception"} <= actions
    assert all(h.entity in ("case", "message", "document", "exception_item") for h in view.history)


def test_a_case_view_carries_values_only_when_asked(service: Service, inbox: FakeMailbox) -> None:
    open_fixture_case(service.engine)
    deliver(service, inbox, mail.good_form_email("chronology"))

    with UnitOfWork(service.engine) as uow:
        bare = queries.case_view(uow, CASE_REFERENCE, service.forms)
        full = queries.case_view(uow, CASE_REFERENCE, service.forms, with_values=True)

    assert bare is not None and full is not None
    assert () == bare.documents[0].values
    assert any(v.label == "Case reference" and v.value == CASE_REFERENCE for v in full.documents[0].values)


def test_a_case_that_does_not_exist_is_none(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        assert queries.case_view(uow, "SSCP-1999-001", load_catalogue()) is None


def test_every_action_of_every_reason_has_a_label_and_a_rule_for_replies() -> None:
    for reason, actions in ACTIONS.items():
        specs = queries.action_specs(reason)
        assert actions == tuple(s.id for s in specs)
        assert all(s.label and s.reply in ("never", "optional", "always") for s in specs)
    assert () == queries.action_specs("no_such_reason")
