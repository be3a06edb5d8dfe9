"""Mail in, case and reply out: the whole pipeline on SQLite and PostgreSQL, with an in-memory
mailbox and the Maildir outbox (the real IMAP and SMTP servers are in test_end_to_end.py)."""

from __future__ import annotations

import datetime as dt
import email
import logging
from concurrent.futures import Future
from email import policy
from pathlib import Path
from typing import Any

import pytest

from core.cases import CaseKind
from intake.mailboxes.fake import FakeMailbox
from intake.pipeline import CycleReport, _Claim
from intake.service import Service
from storage.uow import UnitOfWork
from tests.fixtures import cases, mail
from tests.fixtures.filler import filled_document
from tests.fixtures.sample import CASE_REFERENCE, CHILD_NAME

RECEIVED = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def open_fixture_case(service: Service) -> None:
    with UnitOfWork(service.engine) as uow:
        cases.open_fixture_case(uow, RECEIVED)
        uow.commit()


def deliver(inbox: FakeMailbox, *raws: bytes) -> None:
    for raw in raws:
        inbox.add(raw, RECEIVED)


def replies(tmp_path: Path) -> list[email.message.EmailMessage]:
    found = sorted((tmp_path / "outbox" / "new").glob("*")) if (tmp_path / "outbox" / "new").exists() else []
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in found]


def states(service: Service) -> list[str]:
    with UnitOfWork(service.engine) as uow:
        return [m.state for m in uow.messages.list_all()]


def test_a_good_return_for_a_known_case_is_filed_accepted_answered_and_moved(
    service: Service, inbox: FakeMailbox, tmp_path: Path
) -> None:
    open_fixture_case(service)
    deliver(inbox, mail.good_form_email("agency_summary"))

    report = service.cycle()

    assert (1, 1, 1, 1) == (report.recorded, report.processed, report.moved, report.sent)
    with UnitOfWork(service.engine) as uow:
        case = uow.cases.get(CASE_REFERENCE)
        assert case is not None and case.id is not None
        [document] = uow.documents.for_case(case.id)
        assert ("agency_summary", "accepted", 1) == (document.form, document.status, document.version_no)
    [reply] = replies(tmp_path)
    assert "auto-replied" == reply["Auto-Submitted"]
    assert CASE_REFERENCE in str(reply["Subject"])
    assert [] == inbox.uids()
    assert 1 == len(inbox.folders["Processed"])


def test_a_referral_without_reference_opens_a_new_case(service: Service, inbox: FakeMailbox) -> None:
    deliver(inbox, mail.good_form_email("referral"))

    service.cycle()

    with UnitOfWork(service.engine) as uow:
        [case] = uow.cases.list_all()
        assert (CaseKind.RAPID_REVIEW, CHILD_NAME) == (case.kind, case.child_name)
        assert case.reference.startswith("SSCP-")
    assert ["filed"] == states(service)


def test_an_auto_reply_is_ignored_never_answered_and_moved(
    service: Service, inbox: FakeMailbox, tmp_path: Path
) -> None:
    deliver(inbox, mail.auto_reply_email(), mail.bounce_email())

    service.cycle()

    assert ["ignored", "ignored"] == states(service)
    assert [] == replies(tmp_path)
    assert 2 == len(inbox.folders["Processed"])


def test_an_unknown_sender_is_queued_not_answered_and_moved_to_exceptions(
    service: Service, inbox: FakeMailbox, tmp_path: Path
) -> None:
    deliver(inbox, mail.unknown_sender_email())

    service.cycle()

    assert ["exception"] == states(service)
    with UnitOfWork(service.engine) as uow:
        assert ["unknown_sender"] == [i.reason for i in uow.queue.list_open()]
    assert [] == replies(tmp_path)
    assert 1 == len(inbox.folders["Exceptions"])


def test_a_covering_email_without_documents_is_queued_and_answered(
    service: Service, inbox: FakeMailbox, tmp_path: Path
) -> None:
    deliver(inbox, mail.covering_email())

    service.cycle()

    with UnitOfWork(service.engine) as uow:
        assert ["no_attachment"] == [i.reason for i in uow.queue.list_open()]
    assert 1 == len(replies(tmp_path))


def test_the_same_bytes_sent_twice_are_filed_once(service: Service, inbox: FakeMailbox, tmp_path: Path) -> None:
    open_fixture_case(service)
    first, again = mail.identical_resend()
    deliver(inbox, first, again)

    service.cycle()

    assert ["filed", "duplicate"] == states(service)
    assert 1 == len(replies(tmp_path))
    with UnitOfWork(service.engine) as uow:
        case = uow.cases.get(CASE_REFERENCE)
        assert case is not None and case.id is not None
        assert 1 == len(uow.documents.for_case(case.id))


def test_a_uidvalidity_change_files_nothing_twice(service: Service, inbox: FakeMailbox) -> None:
    open_fixture_case(service)
    inbox.folders.clear()
    raw = mail.good_form_email("chronology")
    deliver(inbox, raw)
    # the message stays on the server (say a person copied it back) and the folder is renumbered
    service.pipeline.poll(inbox)
    service.pipeline.process_pending()
    inbox.renumber(inbox.uidvalidity + 1)

    service.cycle()

    assert ["filed", "duplicate"] == states(service)


def test_a_resubmission_supersedes_the_earlier_version_and_keeps_both(service: Service, inbox: FakeMailbox) -> None:
    open_fixture_case(service)
    _, incomplete = filled_document("agency_summary", without=("learning",))
    sender = mail.PEOPLE[mail.FORM_SENDERS["agency_summary"][0]].formatted
    deliver(inbox, mail.agency_email(sender=sender, subject="Summary", attachments=[("summary.docx", incomplete)]))
    service.cycle()
    deliver(inbox, mail.good_form_email("agency_summary"))

    service.cycle()

    with UnitOfWork(service.engine) as uow:
        case = uow.cases.get(CASE_REFERENCE)
        assert case is not None and case.id is not None
        docs = sorted(uow.documents.for_case(case.id), key=lambda d: d.version_no)
        assert [(1, "needs_changes", False), (2, "accepted", True)] == [
            (d.version_no, d.status, d.current) for d in docs
        ]


def test_forwarded_mail_and_winmail_dat_reach_the_forms_inside(service: Service, inbox: FakeMailbox) -> None:
    open_fixture_case(service)
    deliver(inbox, mail.forwarded_email(), mail.winmail_email())

    service.cycle()

    with UnitOfWork(service.engine) as uow:
        case = uow.cases.get(CASE_REFERENCE)
        assert case is not None and case.id is not None
        assert 2 <= len(uow.documents.for_case(case.id))
    assert ["filed", "filed"] == states(service)


def test_an_unchanged_mailbox_costs_one_command(service: Service, inbox: FakeMailbox) -> None:
    open_fixture_case(service)
    deliver(inbox, mail.good_form_email("agency_summary"))
    service.cycle()
    service.cycle()  # the folder changed by our own moves: seen once more
    before = len(inbox.commands)

    report = service.cycle()

    assert report.idle
    assert ["SELECT"] == inbox.commands[before:]


def test_every_message_ends_in_one_final_state_and_the_counts_reconcile(service: Service, inbox: FakeMailbox) -> None:
    open_fixture_case(service)
    sent = [
        mail.good_form_email("agency_summary"),
        mail.good_form_email("chronology"),
        mail.auto_reply_email(),
        mail.unknown_sender_email(),
        mail.covering_email(),
        mail.hostile_email(),
        *mail.identical_resend(),
    ]
    deliver(inbox, *sent)

    service.cycle()

    final = states(service)
    assert len(sent) == len(final)
    assert "pending" not in final
    assert len(sent) == len(inbox.folders.get("Processed", [])) + len(inbox.folders.get("Exceptions", []))
    assert final.count("exception") == len(inbox.folders.get("Exceptions", []))


def _claimed_group(service: Service, inbox: FakeMailbox) -> list[tuple[int, Future[Any]]]:
    """Every recorded message claimed and prepared, as process_pending hands a group over."""
    pipeline = service.pipeline
    pipeline.poll(inbox)
    with UnitOfWork(service.engine) as uow:
        claimed = [
            (m.id, m.blob, m.received_at) for m in uow.messages.claim_pending(50, "test", dt.timedelta(minutes=10))
        ]
        uow.commit()
    group: list[tuple[int, Future[Any]]] = []
    for row_id, blob, received_at in claimed:
        assert row_id is not None
        done: Future[Any] = Future()
        done.set_result(pipeline._prepare(row_id, _Claim(row_id, blob, received_at)))
        group.append((row_id, done))
    return group


def test_a_group_of_resubmissions_is_filed_in_one_transaction_each_a_new_version(
    service: Service, inbox: FakeMailbox, caplog: pytest.LogCaptureFixture
) -> None:
    open_fixture_case(service)
    _, data = filled_document("agency_summary")
    sender = mail.PEOPLE[mail.FORM_SENDERS["agency_summary"][0]].formatted
    for n in (1, 2, 3):
        deliver(inbox, mail.agency_email(sender=sender, subject=f"Summary, copy {n}", attachments=[("s.docx", data)]))
    group = _claimed_group(service, inbox)
    report = CycleReport()
    caplog.set_level(logging.INFO, logger="intake.pipeline")

    stopped = service.pipeline._file_group(group, report)

    assert (False, 3, []) == (stopped, report.processed, report.failures)
    assert not [r for r in caplog.records if "one at a time" in r.getMessage()]  # not the fall-back
    with UnitOfWork(service.engine) as uow:
        case = uow.cases.get(CASE_REFERENCE)
        assert case is not None and case.id is not None
        docs = sorted(uow.documents.for_case(case.id), key=lambda d: d.version_no)
        assert [(1, False), (2, False), (3, True)] == [(d.version_no, d.current) for d in docs]
        assert [docs[1].id, docs[2].id, None] == [d.superseded_by for d in docs]
        assert 3 == len(uow.outbox.due(dt.datetime.now(dt.UTC) + dt.timedelta(days=1), 10))
    assert ["filed", "filed", "filed"] == states(service)


def test_a_fault_in_a_group_stays_with_its_message_and_the_others_are_filed(
    service: Service, inbox: FakeMailbox
) -> None:
    open_fixture_case(service)
    deliver(inbox, mail.good_form_email("agency_summary"), mail.good_form_email("chronology"))
    group = _claimed_group(service, inbox)
    broken: Future[Any] = Future()
    broken.set_exception(ValueError("a bug while preparing"))
    group[0] = (group[0][0], broken)
    report = CycleReport()

    stopped = service.pipeline._file_group(group, report)

    assert (False, 1, [f"message {group[0][0]}: ValueError"]) == (stopped, report.processed, report.failures)
    with UnitOfWork(service.engine) as uow:
        first, second = uow.messages.list_all()
        assert ("pending", 1, None) == (first.state, first.attempts, first.claimed_by)
        assert "filed" == second.state
