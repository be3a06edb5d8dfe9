"""The queue's actions, on SQLite and PostgreSQL: real emails through the Service make one item
of each exception reason, and each item is worked to its end by each of its actions."""

from __future__ import annotations

import datetime as dt
import email
from email import policy
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from core.cases import CaseKind
from intake.actions import QueueActions
from intake.mailboxes.fake import FakeMailbox
from intake.service import Service
from storage.models import Document, ExceptionItem, Finding, OutboxItem
from storage.uow import UnitOfWork
from tests.fixtures import hostile, mail
from tests.fixtures.sample import CASE_REFERENCE, CHILD_DOB, CHILD_NAME
from web.ports import Actor, Role

RECEIVED = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
CLERK = Actor(user_id=7, email="morgan.clerk@partnership.example.org", role=Role.BUSINESS_UNIT)
OTHER_REFERENCE = "SSCP-2025-021"
UNKNOWN_REFERENCE = "SSCP-2025-099"


@pytest.fixture
def actions(service: Service) -> QueueActions:
    return QueueActions.for_service(service)


# -- helpers -------------------------------------------------------------------------------------


def open_case(
    service: Service, reference: str = CASE_REFERENCE, child_name: str = CHILD_NAME, child_dob: str = CHILD_DOB
) -> None:
    with UnitOfWork(service.engine) as uow:
        uow.cases.create(
            CaseKind.RAPID_REVIEW,
            child_name,
            dt.date.fromisoformat(child_dob),
            dt.date(2025, 9, 1),
            RECEIVED,
            reference=reference,
        )
        uow.commit()


def queue(service: Service, inbox: FakeMailbox, raw: bytes) -> tuple[str, int]:
    """Deliver one email, run a cycle, and return the reason and id of the item it opened."""
    inbox.add(raw, RECEIVED)
    service.cycle()
    with UnitOfWork(service.engine) as uow:
        [item] = uow.queue.list_open()
        assert item.id is not None
        return item.reason, item.id


def detached(uow: UnitOfWork, rows: list[Any]) -> list[Any]:
    """Rows that stay readable once the unit of work has gone (it rolls back on leaving)."""
    uow.session.expunge_all()
    return rows


def item(service: Service, item_id: int) -> ExceptionItem:
    with UnitOfWork(service.engine) as uow:
        found = uow.queue.get(item_id)
        assert found is not None
        uow.session.expunge(found)
        return found


def open_reasons(service: Service) -> list[str]:
    with UnitOfWork(service.engine) as uow:
        return [i.reason for i in uow.queue.list_open()]


def documents_of(service: Service, item_id: int) -> list[Document]:
    with UnitOfWork(service.engine) as uow:
        found = uow.queue.get(item_id)
        assert found is not None
        return detached(uow, uow.documents.for_message(found.message_row_id))


def case_documents(service: Service, reference: str) -> list[Document]:
    with UnitOfWork(service.engine) as uow:
        case = uow.cases.get(reference)
        assert case is not None and case.id is not None
        return detached(uow, uow.documents.for_case(case.id))


def findings_of(service: Service, document_id: int | None) -> list[str]:
    with UnitOfWork(service.engine) as uow:
        return [f.rule for f in uow.session.exec(select(Finding).where(Finding.document_id == document_id)).all()]


def action_replies(service: Service, item_id: int) -> list[OutboxItem]:
    with UnitOfWork(service.engine) as uow:
        return detached(
            uow, list(uow.session.exec(select(OutboxItem).where(OutboxItem.exception_item_id == item_id)).all())
        )


def automatic_replies(service: Service, item_id: int) -> list[OutboxItem]:
    with UnitOfWork(service.engine) as uow:
        found = uow.queue.get(item_id)
        assert found is not None
        reply = uow.outbox.for_message(found.message_row_id)
        return detached(uow, [] if reply is None else [reply])


def body_of(raw: bytes) -> str:
    msg = email.message_from_bytes(raw, policy=policy.default)
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def header(raw: bytes, name: str) -> str:
    return str(email.message_from_bytes(raw, policy=policy.default)[name])


def audit_actions(service: Service, entity: str, entity_id: int | None) -> list[tuple[str, str]]:
    with UnitOfWork(service.engine) as uow:
        return [(e.actor, e.action) for e in uow.audit.list(entity=entity, entity_id=entity_id)]


def audit_detail(service: Service, item_id: int, action: str) -> dict[str, Any]:
    with UnitOfWork(service.engine) as uow:
        [entry] = [e for e in uow.audit.list(entity="exception_item", entity_id=item_id) if e.action == action]
        return dict(entry.detail or {})


def unrecognised_email() -> bytes:
    """GMP's covering notes as a Word file that is no catalogue form, for the fixture case."""
    return mail.agency_email(
        sender=mail.PEOPLE["gmp"].formatted,
        subject=f"{CASE_REFERENCE} GMP notes",
        body="Please see our notes attached.",
        attachments=[("GMP notes.docx", hostile.plain_docx())],
    )


def assert_closed_by_clerk(service: Service, item_id: int, resolution: str, note: str | None = None) -> None:
    closed = item(service, item_id)
    assert ("closed", resolution, CLERK.email, note) == (closed.status, closed.resolution, closed.actor, closed.note)
    assert closed.closed_at is not None
    assert (CLERK.email, f"queue.{resolution}") in audit_actions(service, "exception_item", item_id)


# -- unknown sender ------------------------------------------------------------------------------


def test_an_unknown_sender_accepted_as_an_agency_is_processed_again_filed_as_a_new_case_and_answered(
    service: Service, inbox: FakeMailbox, actions: QueueActions
) -> None:
    reason, item_id = queue(service, inbox, mail.unknown_sender_email())
    assert "unknown_sender" == reason

    preview = actions.preview_reply(item_id, "accept_as_agency", {"agency": "education"})
    result = actions.perform(item_id, "accept_as_agency", {"agency": "education", "note": "New school contact"}, CLERK)

    assert result.ok, result.message
    assert result.case_reference is not None and result.case_reference.startswith("SSCP-")
    assert preview is not None
    assert mail.UNKNOWN.address == preview.to
    assert result.case_reference in preview.subject
    [document] = case_documents(service, result.case_reference)
    assert ("referral", "education", "accepted") == (document.form, document.agency, document.status)
    assert_closed_by_clerk(service, item_id, "accept_as_agency", "New school contact")
    assert [] == open_reasons(service)
    [reply] = automatic_replies(service, item_id)
    assert mail.UNKNOWN.address == reply.to_addr
    assert preview.body == body_of(reply.raw)
    assert {"agency": "education", "outcome": "filed", "reply": "queued"}.items() <= audit_detail(
        service, item_id, "queue.accept_as_agency"
    ).items()


def test_an_accepted_sender_gets_the_reply_as_the_person_edited_it(
    service: Service, inbox: FakeMailbox, actions: QueueActions
) -> None:
    _, item_id = queue(service, inbox, mail.unknown_sender_email())
    edited = "Thank you: your referral is filed.\r\nThe business unit"

    result = actions.perform(item_id, "accept_as_agency", {"agency": "education", "reply_body": edited}, CLERK)

    assert result.ok, result.message
    [reply] = automatic_replies(service, item_id)
    assert "Thank you: your referral is filed.\nThe business unit\n" == body_of(reply.raw)
    assert "auto-replied" == header(reply.raw, "Auto-Submitted")
    assert audit_detail(service, item_id, "queue.accept_as_agency")["reply_edited"]


def test_an_accepted_sender_can_be_left_without_a_reply(
    service: Service, inbox: FakeMailbox, actions: QueueActions
) -> None:
    _, item_id = queue(service, inbox, mail.unknown_sender_email())

    result = actions.perform(item_id, "accept_as_agency", {"agency": "education", "send_reply": "no"}, CLERK)

    assert result.ok, result.message
    assert [] == automatic_replies(service, item_id)
    assert "queued" not in result.message


def test_an_accepted_referral_for_a_child_with_an_open_case_goes_back_to_the_queue_as_a_possible_duplicate(
    service: Service, inbox: FakeMailbox, actions: QueueActions
) -> None:
    open_case(service)
    _, item_id = queue(service, inbox, mail.unknown_sender_email())

    result = actions.perform(item_id, "accept_as_agency", {"agency": "Early Help"}, CLERK)

    assert result.ok, result.message
    assert ["possible_duplicate"] == open_reasons(service)
    assert [] == case_documents(service, CASE_REFERENCE)
    assert "early_help" == audit_detail(service, item_id, "queue.accept_as_agency")["agency"]


@pytest.mark.parametrize("action", ["reject", "mark_junk"])
def test_an_unknown_sender_rejected_or_junked_is_never_answered(
    service: Service, inbox: FakeMailbox, actions: QueueActions, action: str
) -> None:
    _, item_id = queue(service, inbox, mail.unknown_sender_email())

    preview = actions.preview_reply(item_id, action, {})
    result = actions.perform(item_id, action, {"note": "Not a partner"}, CLERK)

    assert result.ok, result.message
    assert preview is None
    assert ["rejected"] == [d.status for d in documents_of(service, item_id)]
    assert [] == action_replies(service, item_id) + automatic_replies(service, item_id)
    assert_closed_by_clerk(service, item_id, action, "Not a partner")


def test_an_unknown_agency_is_refused_on_its_field(service: Service, inbox: FakeMailbox, actions: QueueActions) -> None:
    _, item_id = queue(service, inbox, mail.unknown_sender_email())

    result = actions.perform(item_id, "accept_as_agency", {"agency": "Ministry of Silly Walks"}, CLERK)

    assert not result.ok
    assert ["agency"] == list(result.errors)
    assert "open" == item(service, item_id).status


# -- no case ---------------------------------------------------------------------------------------


def test_a_return_linked_to_a_case_is_filed_there_and_the_agency_told_in_a_second_reply(
    service: Service, inbox: FakeMailbox, actions: QueueActions
) -> None:
    reason, item_id = queue(service, inbox, mail.reference_email(UNKNOWN_REFERENCE))
    assert "no_case" == reason
    open_case(service, OTHER_REFERENCE)

    result = actions.perform(item_id, "link_to_case", {"case_reference": "sscp 2025 21"}, CLERK)

    assert result.ok, result.message
    assert OTHER_REFERENCE == result.case_reference
    [document] = case_documents(service, OTHER_REFERENCE)
    assert ("chronology", "gmp", 1, True) == (document.form, document.agency, document.version_no, document.current)
    with UnitOfWork(service.engine) as uow:
        case = uow.cases.get(OTHER_REFERENCE)
        assert case is not None and case.id is not None
        case_id = case.id
        assert [("gmp", "chronology", document.status)] == [
            (r.agency, r.form, r.state) for r in uow.returns.for_case(case_id)
        ]
    [automatic] = automatic_replies(service, item_id)
    [reply] = action_replies(service, item_id)
    assert automatic.reply_message_id != reply.reply_message_id
    assert OTHER_REFERENCE in header(reply.raw, "Subject")
    assert "casey.lund@police.example.org" == reply.to_addr
    assert CHILD_NAME not in body_of(reply.raw)
    assert_closed_by_clerk(service, item_id, "link_to_case")
    assert (CLERK.email, "case.filed") in audit_actions(service, "case", case_id)


def test_the_action_reply_leaves_through_the_outbox_threaded_to_the_original(
    service: Service, inbox: FakeMailbox, actions: QueueActions, tmp_path: Path
) -> None:
    _, item_id = queue(service, inbox, mail.reference_email(UNKNOWN_REFERENCE))
    open_case(service, OTHER_REFERENCE)
    actions.perform(item_id, "link_to_case", {"case_reference": OTHER_REFERENCE}, CLERK)

    service.cycle()

    sent = [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted((tmp_path / "outbox" / "new").glob("*"))
    ]
    original = email.message_from_bytes(mail.reference_email(UNKNOWN_REFERENCE), policy=policy.default)
    action_reply = next(m for m in sent if str(m["Message-ID"]).startswith("<action-"))
    assert str(original["Message-ID"]) == str(action_reply["In-Reply-To"])
    assert "All" == str(action_reply["X-Auto-Response-Suppress"])
    assert ["sent"] == [r.state for r in action_replies(service, item_id)]


def test_a_new_case_opened_from_a_return_needs_the_kind_and_takes_the_child_from_the_form(
    service: Service, inbox: FakeMailbox, actions: QueueActions
) -> None:
    _, item_id = queue(service, inbox, mail.reference_email(UNKNOWN_REFERENCE))

    refused = actions.perform(item_id, "open_new_case", {}, CLERK)
    result = actions.perform(item_id, "open_new_case", {"kind": "local_review", "send_reply": "no"}, CLERK)

    assert (False, ["kind"]) == (refused.ok, list(refused.errors))
    assert result.ok, result.message
    assert result.case_reference is not None
    with UnitOfWork(service.engine) as uow:
        case = uow.cases.get(result.case_reference)
        assert case is not None
        opened = (case.id, case.kind, case.child_name, case.child_dob)
    assert ("local_review", CHILD_NAME, dt.date.fromisoformat(CHILD_DOB)) == opened[1:]
    assert [(CLERK.email, "case.opened"), (CLERK.email, "case.filed")] == audit_actions(service, "case", opened[0])
    assert ["chronology"] == [d.form for d in case_documents(service, result.case_reference)]
    assert [] == action_replies(service, item_id)


def test_a_case_reference_that_names_no_case_or_a_closed_one_is_refused_on_its_field(
    service: Service, inbox: FakeMailbox, actions: QueueActions
) -> None:
    _, item_id = queue(service, inbox, mail.reference_email(UNKNOWN_REFERENCE))
    open_case(service, OTHER_REFERENCE)
    with UnitOfWork(service.engine) as uow:
        case = uow.cases.get(OTHER_REFERENCE)
        assert case is not None
        case.status = "closed"
        uow.commit()

    missing = actions.perform(item_id, "link_to_case", {"case_reference": "SSCP-2024-500"}, CLERK)
    closed = actions.perform(item_id, "link_to_case", {"case_reference": OTHER_REFERENCE}, CLERK)
    malformed = actions.perform(item_id, "link_to_case", {"case_reference": "the usual one"}, CLERK)
    empty = actions.perform(item_id, "link_to_case", {}, CLERK)

    assert [["case_reference"]] * 4 == [list(r.errors) for r in (missing, closed, malformed, empty)]
    assert "There is no case SSCP-2024-500." == missing.message
    assert "open" == item(service, item_id).status


def test_a_preview_changes_nothing(service: Service, inbox: FakeMailbox, actions: QueueActions) -> None:
    _, item_id = queue(service, inbox, mail.reference_email(UNKNOWN_REFERENCE))
    open_case(service, OTHER_REFERENCE)

    preview = actions.preview_reply(item_id, "link_to_case", {"case_reference": OTHER_REFERENCE})

    assert preview is not None
    assert OTHER_REFERENCE in preview.subject
    assert "open" == item(service, item_id).status
    assert [] == case_documents(service, OTHER_REFERENCE)
    assert [] == action_replies(service, item_id)


# -- case conflict ---------------------------------------------------------------------------------


def conflict(service: Service, inbox: FakeMailbox) -> int:
    """The NCA's summary names the fixture case, whose child is someone else."""
    open_case(service, CASE_REFERENCE, child_name="Child B", child_dob="2013-02-03")
    reason, item_id = queue(service, inbox, mail.good_form_email("agency_summary"))
    assert "case_conflict" == reason
    return item_id


def test_a_conflict_linked_to_another_case_drops_the_mismatch_and_is_filed_accepted(
    service: Service, inbox: FakeMailbox, actions: QueueActions
) -> None:
    item_id = conflict(service, inbox)
    open_case(service, OTHER_REFERENCE)

    result = actions.perform(item_id, "link_to_case", {"case_reference": OTHER_REFERENCE}, CLERK)

    assert result.ok, result.message
    [document] = case_documents(service, OTHER_REFERENCE)
    assert "accepted" == document.status
    assert "CASE-MISMATCH" not in findings_of(service, document.id)
    assert [] == case_documents(service, CASE_REFERENCE)


def test_a_conflict_corrected_is_filed_under_the_case_it_names_and_the_agency_asked_to_correct_its_form(
    service: Service, inbox: FakeMailbox, actions: QueueActions
) -> None:
    item_id = conflict(service, inbox)

    result = actions.perform(item_id, "correct", {}, CLERK)

    assert result.ok, result.message
    [document] = case_documents(service, CASE_REFERENCE)
    assert "needs_changes" == document.status
    assert "CASE-MISMATCH" in findings_of(service, document.id)
    [reply] = action_replies(service, item_id)
    assert f"Changes needed: case {CASE_REFERENCE}" == header(reply.raw, "Subject")
    assert "does not match the case" in body_of(reply.raw)


@pytest.mark.parametrize(("form", "replies"), [({}, 1), ({"send_reply": "no"}, 0)])
def test_a_conflict_rejected_is_answered_only_when_the_person_chooses(
    service: Service, inbox: FakeMailbox, actions: QueueActions, form: dict[str, str], replies: int
) -> None:
    item_id = conflict(service, inbox)

    result = actions.perform(item_id, "reject", form, CLERK)

    assert result.ok, result.message
    assert ["rejected"] == [d.status for d in documents_of(service, item_id)]
    assert replies == len(action_replies(service, item_id))
    assert_closed_by_clerk(service, item_id, "reject")


# -- possible duplicate ----------------------------------------------------------------------------


def test_a_possible_duplicate_merged_is_filed_under_the_childs_open_case(
    service: Service, inbox: FakeMailbox, actions: QueueActions
) -> None:
    open_case(service)
    reason, item_id = queue(service, inbox, mail.good_form_email("referral"))
    assert "possible_duplicate" == reason

    preview = actions.preview_reply(item_id, "merge_into_case", {})
    result = actions.perform(item_id, "merge_into_case", {}, CLERK)

    assert result.ok, result.message
    assert CASE_REFERENCE == result.case_reference
    assert preview is not None and CASE_REFERENCE in preview.body
    assert ["referral"] == [d.form for d in case_documents(service, CASE_REFERENCE)]
    [reply] = action_replies(service, item_id)
    assert preview.body == body_of(reply.raw)
    assert_closed_by_clerk(service, item_id, "merge_into_case")


def test_a_possible_duplicate_opened_as_a_new_case_gives_the_child_a_second_case(
    service: Service, inbox: FakeMailbox, actions: QueueActions
) -> None:
    open_case(service)
    _, item_id = queue(service, inbox, mail.good_form_email("referral"))

    result = actions.perform(item_id, "open_new_case", {"note": "A second incident"}, CLERK)

    assert result.ok, result.message
    assert result.case_reference not in (None, CASE_REFERENCE)
    with UnitOfWork(service.engine) as uow:
        same_child = uow.cases.find_by_child(CHILD_NAME, dt.date.fromisoformat(CHILD_DOB))
        assert 2 == len(same_child)
        assert {"rapid_review"} == {c.kind for c in same_child}
    assert ["referral"] == [d.form for d in case_documents(service, str(result.case_reference))]
    assert 1 == len(action_replies(service, item_id))


# -- unrecognised and unsafe files ---------------------------------------------------------------


def test_an_unrecognised_file_kept_as_supporting_is_on_the_case_accepted_without_a_form(
    service: Service, inbox: FakeMailbox, actions: QueueActions
) -> None:
    open_case(service)
    reason, item_id = queue(service, inbox, unrecognised_email())
    assert "unrecognised_document" == reason

    result = actions.perform(item_id, "file_as_supporting", {}, CLERK)

    assert result.ok, result.message
    [document] = case_documents(service, CASE_REFERENCE)
    assert (None, "accepted", "GMP notes.docx") == (document.form, document.status, document.filename)
    assert [] == action_replies(service, item_id)
    with UnitOfWork(service.engine) as uow:
        message = uow.messages.get(document.message_row_id)
        assert message is not None
        assert "filed" == message.state


def test_an_unrecognised_file_rejected_tells_the_agency_it_is_not_a_form_without_naming_it(
    service: Service, inbox: FakeMailbox, actions: QueueActions
) -> None:
    open_case(service)
    _, item_id = queue(service, inbox, unrecognised_email())

    result = actions.perform(item_id, "reject", {}, CLERK)

    assert result.ok, result.message
    [reply] = action_replies(service, item_id)
    body = " ".join(body_of(reply.raw).split())
    assert "not recognise this document as one of the partnership's forms" in body
    assert "GMP notes" not in body


def test_an_unsafe_file_rejected_is_always_answered(
    service: Service, inbox: FakeMailbox, actions: QueueActions
) -> None:
    open_case(service)
    reason, item_id = queue(service, inbox, mail.hostile_email())
    assert "unsafe_file" == reason

    result = actions.perform(item_id, "reject_with_reply", {"send_reply": "no"}, CLERK)

    assert result.ok, result.message
    assert ["rejected"] == [d.status for d in documents_of(service, item_id)]
    [reply] = action_replies(service, item_id)
    assert "could not be accepted" in body_of(reply.raw)
    assert_closed_by_clerk(service, item_id, "reject_with_reply")


def test_an_unsafe_file_kept_as_supporting_is_on_the_case(
    service: Service, inbox: FakeMailbox, actions: QueueActions
) -> None:
    open_case(service)
    _, item_id = queue(service, inbox, mail.hostile_email())

    result = actions.perform(item_id, "file_as_supporting", {"case_reference": CASE_REFERENCE}, CLERK)

    assert result.ok, result.message
    [document] = case_documents(service, CASE_REFERENCE)
    assert (None, "accepted") == (document.form, document.status)
    assert "DOC-UNSAFE" in findings_of(service, document.id)


# -- nothing attached -----------------------------------------------------------------------------


def test_a_covering_email_linked_as_correspondence_is_kept_on_the_case_without_a_reply(
    service: Service, inbox: FakeMailbox, actions: QueueActions
) -> None:
    open_case(service)
    reason, item_id = queue(service, inbox, mail.covering_email())
    assert "no_attachment" == reason

    assert actions.preview_reply(item_id, "link_as_correspondence", {"case_reference": CASE_REFERENCE}) is None
    result = actions.perform(item_id, "link_as_correspondence", {"case_reference": CASE_REFERENCE}, CLERK)

    assert result.ok, result.message
    message_row_id = item(service, item_id).message_row_id
    with UnitOfWork(service.engine) as uow:
        case = uow.cases.get(CASE_REFERENCE)
        message = uow.messages.get(message_row_id)
        assert case is not None and message is not None
        assert (case.id, "filed") == (message.case_id, message.state)
    assert [] == action_replies(service, item_id)
    assert_closed_by_clerk(service, item_id, "link_as_correspondence")


def test_a_covering_email_dismissed_is_closed_with_its_note(
    service: Service, inbox: FakeMailbox, actions: QueueActions
) -> None:
    _, item_id = queue(service, inbox, mail.covering_email())

    result = actions.perform(item_id, "dismiss", {"note": "Chased by phone"}, CLERK)

    assert result.ok, result.message
    assert_closed_by_clerk(service, item_id, "dismiss", "Chased by phone")
    assert {"note": "Chased by phone", "reason": "no_attachment"}.items() <= audit_detail(
        service, item_id, "queue.dismiss"
    ).items()


# -- processing fault -----------------------------------------------------------------------------


def fault(service: Service, inbox: FakeMailbox, monkeypatch: pytest.MonkeyPatch) -> int:
    """A chronology whose filing fails three times over (a bug): the pipeline queues it."""

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    open_case(service)
    inbox.add(mail.good_form_email("chronology"), RECEIVED)
    with monkeypatch.context() as patch:
        patch.setattr(service.pipeline, "_apply", broken)
        service.pipeline.poll(inbox)
        for _ in range(3):
            service.pipeline.process_pending()
    with UnitOfWork(service.engine) as uow:
        [queued] = uow.queue.list_open()
        assert "processing_fault" == queued.reason and queued.id is not None
        return queued.id


def test_a_processing_fault_retried_is_processed_again_filed_and_answered(
    service: Service, inbox: FakeMailbox, actions: QueueActions, monkeypatch: pytest.MonkeyPatch
) -> None:
    item_id = fault(service, inbox, monkeypatch)

    assert actions.preview_reply(item_id, "retry", {}) is None
    result = actions.perform(item_id, "retry", {}, CLERK)

    assert result.ok, result.message
    assert CASE_REFERENCE == result.case_reference
    assert ["chronology"] == [d.form for d in case_documents(service, CASE_REFERENCE)]
    assert 1 == len(automatic_replies(service, item_id))
    assert_closed_by_clerk(service, item_id, "retry")
    assert [] == open_reasons(service)


def test_a_retry_that_fails_again_changes_nothing_and_is_recorded(
    service: Service, inbox: FakeMailbox, actions: QueueActions, monkeypatch: pytest.MonkeyPatch
) -> None:
    item_id = fault(service, inbox, monkeypatch)

    def still_broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("still a bug")

    monkeypatch.setattr(service.pipeline, "_apply", still_broken)
    result = actions.perform(item_id, "retry", {}, CLERK)

    assert not result.ok
    assert "RuntimeError" in result.message
    assert "open" == item(service, item_id).status
    assert [] == case_documents(service, CASE_REFERENCE)
    assert (CLERK.email, "queue.retry.failed") in audit_actions(service, "exception_item", item_id)


# -- refusals -------------------------------------------------------------------------------------


def test_a_closed_item_refuses_a_second_action(service: Service, inbox: FakeMailbox, actions: QueueActions) -> None:
    _, item_id = queue(service, inbox, mail.covering_email())
    actions.perform(item_id, "dismiss", {}, CLERK)

    again = actions.perform(item_id, "dismiss", {}, CLERK)

    assert (False, "This item has already been dealt with.") == (again.ok, again.message)
    assert 1 == audit_actions(service, "exception_item", item_id).count((CLERK.email, "queue.dismiss"))


@pytest.mark.parametrize("action", ["retry", "accept_as_agency", "open_new_case", "delete_everything"])
def test_an_action_not_allowed_for_the_reason_is_refused(
    service: Service, inbox: FakeMailbox, actions: QueueActions, action: str
) -> None:
    _, item_id = queue(service, inbox, mail.covering_email())

    result = actions.perform(item_id, action, {"agency": "gmp"}, CLERK)

    assert (False, "That action is not available for this item.") == (result.ok, result.message)
    assert "open" == item(service, item_id).status


def test_an_item_that_does_not_exist_is_refused(service: Service, actions: QueueActions) -> None:
    result = actions.perform(4242, "dismiss", {}, CLERK)

    assert (False, "There is no such item in the queue.") == (result.ok, result.message)


def test_the_item_page_authentication_summary_is_read_from_the_original(
    service: Service, inbox: FakeMailbox, actions: QueueActions
) -> None:
    queue(service, inbox, mail.unknown_sender_email())
    with UnitOfWork(service.engine) as uow:
        [queued] = uow.queue.list_open()
        message = uow.messages.get(queued.message_row_id)
        assert message is not None
        blob = message.blob

    assert f"DMARC pass, DKIM pass, SPF pass (checked by {mail.AUTHSERV_ID}); unknown domain" == actions.authentication(
        blob
    )
