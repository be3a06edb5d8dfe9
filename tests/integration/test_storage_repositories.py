"""Each repository's methods, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

import pytest

from core.mail import FolderState, MessageKey
from core.model import Finding, Severity
from storage.errors import AlreadyRecorded, ReferenceTaken
from storage.uow import UnitOfWork

T = TypeVar("T")
NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
SENDER = "officer@police.example.org"


def present(value: T | None) -> T:
    assert value is not None
    return value


def key(uid: int, folder: str = "INBOX", uidvalidity: int = 7) -> MessageKey:
    return MessageKey(mailbox="default", folder=folder, uidvalidity=uidvalidity, uid=uid)


def add_message(uow: UnitOfWork, uid: int, *, folder: str = "INBOX", uidvalidity: int = 7, **overrides) -> Any:
    values: dict[str, Any] = {
        "message_id": f"<m{uid}@police.example.org>",
        "sha256": f"{uid:064x}",
        "blob": f"{uid:064x}",
        "sender": SENDER,
        "subject": "Agency summary",
        "received_at": NOW,
    }
    values.update(overrides)
    return uow.messages.add(key(uid, folder, uidvalidity), **values)


def new_case(uow: UnitOfWork, name: str = "Ada Example", dob: dt.date = dt.date(2015, 4, 1), **kw) -> Any:
    return uow.cases.create("rapid_review", name, dob, dt.date(2026, 2, 27), NOW, **kw)


# messages


def test_a_new_message_is_pending_and_found_by_its_key_and_id(engine):
    with UnitOfWork(engine) as uow:
        row = add_message(uow, 5)
        uow.commit()
    with UnitOfWork(engine) as uow:
        found = uow.messages.get_by_key(key(5))
        assert found is not None
        assert (row.id, "pending", "none", False) == (found.id, found.state, found.reply_state, found.moved)
        assert ("<m5@police.example.org>", SENDER, NOW) == (found.message_id, found.sender, found.received_at)
        assert found.id is not None
        assert found.uid == present(uow.messages.get(found.id)).uid
        assert uow.messages.get_by_key(key(6)) is None


def test_known_uids_are_those_of_one_folder_and_uidvalidity(engine):
    with UnitOfWork(engine) as uow:
        for uid in (3, 4, 9):
            add_message(uow, uid)
        add_message(uow, 10, uidvalidity=8)
        add_message(uow, 11, folder="Other")
        uow.commit()
        assert {3, 4, 9} == uow.messages.known_uids("default", "INBOX", 7)
        assert {10} == uow.messages.known_uids("default", "INBOX", 8)
        assert set() == uow.messages.known_uids("other", "INBOX", 7)


def test_a_duplicate_is_an_earlier_message_with_the_same_bytes(engine):
    with UnitOfWork(engine) as uow:
        first = add_message(uow, 1, sha256="a" * 64)
        second = add_message(uow, 2, sha256="a" * 64, message_id="<other@police.example.org>")
        uow.commit()
        assert (
            first.id
            == present(uow.messages.find_duplicate("a" * 64, "<other@police.example.org>", SENDER, second.id)).id
        )
        assert uow.messages.find_duplicate("a" * 64, None, None, first.id) is None


def test_a_duplicate_is_an_earlier_message_with_the_same_message_id_from_the_same_sender(engine):
    with UnitOfWork(engine) as uow:
        first = add_message(uow, 1, message_id="<same@police.example.org>")
        second = add_message(uow, 2, message_id="<same@police.example.org>")
        other_sender = add_message(uow, 3, message_id="<same@police.example.org>", sender="someone@example.com")
        uow.commit()
        found = uow.messages.find_duplicate(second.sha256, "<same@police.example.org>", SENDER, second.id)
        assert found is not None
        assert first.id == found.id
        assert (
            uow.messages.find_duplicate(
                other_sender.sha256, "<same@police.example.org>", "someone@example.com", other_sender.id
            )
            is None
        )


def test_a_message_without_a_message_id_is_matched_by_its_bytes_only(engine):
    with UnitOfWork(engine) as uow:
        add_message(uow, 1, message_id=None)
        second = add_message(uow, 2, message_id=None)
        uow.commit()
        assert uow.messages.find_duplicate(second.sha256, None, SENDER, second.id) is None


def _ledger_row(uid: int, digest: str, message_id: str | None) -> dict[str, Any]:
    return {
        "mailbox": key(uid).mailbox,
        "folder": key(uid).folder,
        "uidvalidity": key(uid).uidvalidity,
        "uid": uid,
        "message_id": message_id,
        "sha256": digest,
        "blob": digest,
        "sender": SENDER,
        "subject": "Agency summary",
        "received_at": NOW,
    }


def test_a_batch_of_ledger_rows_gets_its_ids_in_order_and_is_found_again(engine):
    rows = [_ledger_row(uid, f"{uid:064x}", f"<m{uid}@police.example.org>" if uid % 2 else None) for uid in (9, 3, 5)]
    with UnitOfWork(engine) as uow:
        ids = uow.messages.insert_recorded(rows, NOW)
        uow.commit()
        found = {m.id: m for m in uow.messages.list_all()}
        assert [9, 3, 5] == [found[i].uid for i in ids]
        assert [(NOW, "pending", "none", False, None)] * 3 == [
            (found[i].received_at, found[i].state, found[i].reply_state, found[i].moved, found[i].destination)
            for i in ids
        ]
        assert {key(9), key(5)} == uow.messages.recorded_keys([key(9), key(5), key(11)])
        candidates = uow.messages.duplicate_candidates([f"{3:064x}"], ["<m9@police.example.org>"])
        assert [9, 3] == sorted((m.uid for m in candidates), reverse=True)


def test_a_batch_of_ledger_rows_with_a_key_taken_is_refused_whole(engine):
    with UnitOfWork(engine) as uow:
        uow.messages.insert_recorded([_ledger_row(1, "a" * 64, None)], NOW)
        uow.commit()
    with UnitOfWork(engine) as uow, pytest.raises(AlreadyRecorded):
        uow.messages.insert_recorded([_ledger_row(2, "b" * 64, None), _ledger_row(1, "c" * 64, None)], NOW)
    with UnitOfWork(engine) as uow:
        assert [1] == [m.uid for m in uow.messages.list_all()]


def test_audit_entries_written_in_one_statement_keep_their_details(engine):
    with UnitOfWork(engine) as uow:
        uow.audit.record_many(
            [
                ("intake", "message.recorded", "message", 7, None),
                ("intake", "message.duplicate", "message", 8, {"of": 7}),
            ],
            at=NOW,
        )
        uow.commit()
        entries = [(e.action, e.entity_id, e.detail, e.at) for e in uow.audit.list(entity="message")]
    assert [("message.recorded", "7", None, NOW), ("message.duplicate", "8", {"of": 7}, NOW)] == entries


def test_claim_takes_pending_unclaimed_messages_in_order(engine):
    with UnitOfWork(engine) as uow:
        rows = [add_message(uow, uid) for uid in range(1, 6)]
        rows[1].state = "filed"
        uow.commit()
    with UnitOfWork(engine) as uow:
        claimed = uow.messages.claim_pending(3, "worker-a", dt.timedelta(minutes=10), now=NOW)
        uow.commit()
        assert [1, 3, 4] == [m.uid for m in claimed]
        assert {("worker-a", NOW)} == {(m.claimed_by, m.claimed_at) for m in claimed}
    with UnitOfWork(engine) as uow:
        again = uow.messages.claim_pending(10, "worker-b", dt.timedelta(minutes=10), now=NOW + dt.timedelta(minutes=1))
        assert [5] == [m.uid for m in again]


def test_a_stale_claim_can_be_claimed_again(engine):
    with UnitOfWork(engine) as uow:
        add_message(uow, 1)
        uow.messages.claim_pending(10, "worker-a", dt.timedelta(minutes=10), now=NOW)
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert [] == uow.messages.claim_pending(
            10, "worker-b", dt.timedelta(minutes=10), now=NOW + dt.timedelta(minutes=9)
        )
        later = uow.messages.claim_pending(10, "worker-b", dt.timedelta(minutes=10), now=NOW + dt.timedelta(minutes=11))
        assert [("worker-b", 1)] == [(m.claimed_by, m.uid) for m in later]


def test_a_released_claim_is_claimed_again(engine):
    with UnitOfWork(engine) as uow:
        add_message(uow, 1)
        (claimed,) = uow.messages.claim_pending(10, "worker-a", dt.timedelta(minutes=10), now=NOW)
        uow.messages.release(claimed)
        uow.commit()
        assert [1] == [m.uid for m in uow.messages.claim_pending(10, "worker-b", dt.timedelta(minutes=10), now=NOW)]


def test_unacknowledged_messages_are_final_with_a_destination_and_not_moved(engine):
    with UnitOfWork(engine) as uow:
        rows = [add_message(uow, uid) for uid in range(1, 6)]
        rows[0].state, rows[0].destination = "filed", "processed"
        rows[1].state, rows[1].destination = "exception", "exceptions"
        rows[2].state, rows[2].destination, rows[2].moved = "filed", "processed", True
        rows[3].state, rows[3].destination = "pending", "processed"
        uow.commit()
        assert [1, 2] == [m.uid for m in uow.messages.unacknowledged("default", "INBOX")]
        assert [] == uow.messages.unacknowledged("default", "Other")
        uow.messages.mark_moved([rows[0].id])
        uow.commit()
        assert [2] == [m.uid for m in uow.messages.unacknowledged("default", "INBOX")]


def test_counts_give_every_state(engine):
    with UnitOfWork(engine) as uow:
        rows = [add_message(uow, uid) for uid in range(1, 5)]
        rows[0].state = "filed"
        rows[1].state = "filed"
        rows[2].state = "duplicate"
        rows[2].duplicate_of = rows[0].id
        uow.commit()
        assert {"pending": 1, "filed": 2, "exception": 0, "ignored": 0, "duplicate": 1} == uow.messages.counts()


def test_an_error_is_kept_short(engine):
    with UnitOfWork(engine) as uow:
        row = add_message(uow, 1)
        uow.messages.set_error(row, "x" * 2000)
        uow.commit()
        assert 500 == len(present(present(uow.messages.get(row.id)).error))


def test_updated_at_moves_when_a_message_changes(engine):
    with UnitOfWork(engine) as uow:
        row = add_message(uow, 1, now=NOW)
        uow.commit()
        row.state = "filed"
        uow.commit()
        assert row.updated_at > NOW


# cases


def test_a_new_case_gets_the_next_reference_of_its_year(engine):
    with UnitOfWork(engine) as uow:
        first = new_case(uow)
        second = new_case(uow, "Ben Example")
        brought_over = new_case(uow, "Cy Example", reference="SSCP-2026-041")
        after = new_case(uow, "Di Example")
        next_year = uow.cases.create("local_review", None, None, None, dt.datetime(2027, 1, 2, tzinfo=dt.UTC))
        uow.commit()
        assert ["SSCP-2026-001", "SSCP-2026-002", "SSCP-2026-041", "SSCP-2026-042", "SSCP-2027-001"] == [
            c.reference for c in (first, second, brought_over, after, next_year)
        ]
        assert ("rapid_review", "open", dt.date(2026, 2, 27), NOW) == (
            first.kind,
            first.status,
            first.aware_date,
            first.opened_at,
        )


def test_a_reference_already_in_use_is_refused(engine):
    with UnitOfWork(engine) as uow:
        new_case(uow, reference="SSCP-2025-007")
        with pytest.raises(ReferenceTaken):
            new_case(uow, "Ben Example", reference="SSCP-2025-007")
        new_case(uow, "Cy Example")
        uow.commit()
        assert 2 == len(uow.cases.list_all())


def test_cases_are_found_by_reference_and_id(engine):
    with UnitOfWork(engine) as uow:
        case = new_case(uow)
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert case.id == present(uow.cases.get("SSCP-2026-001")).id
        assert "SSCP-2026-001" == present(uow.cases.get_by_id(case.id)).reference
        assert uow.cases.get("SSCP-2026-999") is None


def test_a_child_is_found_among_open_cases_by_normalised_name_and_dob(engine):
    with UnitOfWork(engine) as uow:
        match = new_case(uow, "Ada  Example")
        new_case(uow, "Ada Example", dt.date(2015, 4, 2))
        closed = new_case(uow, "ADA EXAMPLE")
        closed.status = "closed"
        uow.commit()
        assert [match.id] == [c.id for c in uow.cases.find_by_child("ada example", dt.date(2015, 4, 1))]
        assert [] == uow.cases.find_by_child("bea example", dt.date(2015, 4, 1))
        assert [match.id, match.id + 1] == [c.id for c in uow.cases.open_cases()]


# expected returns


def test_an_expected_return_is_created_then_updated(engine):
    with UnitOfWork(engine) as uow:
        case = new_case(uow)
        uow.returns.set(case.id, "gmp", "agency_summary", "asked", now=NOW, due_date=dt.date(2026, 3, 16))
        uow.returns.set(case.id, "gmp", "agency_summary", "received", now=NOW + dt.timedelta(days=1))
        uow.commit()
        (row,) = uow.returns.for_case(case.id)
        assert ("received", dt.date(2026, 3, 16), NOW + dt.timedelta(days=1)) == (
            row.state,
            row.due_date,
            row.updated_at,
        )


# documents


def test_a_resubmission_supersedes_the_current_version(engine):
    with UnitOfWork(engine) as uow:
        case = new_case(uow)
        m1, m2 = add_message(uow, 1), add_message(uow, 2)
        first = uow.documents.add(
            message_row_id=m1.id,
            position=1,
            filename="summary.docx",
            blob="b" * 64,
            status="needs_changes",
            case_id=case.id,
            form="agency_summary",
            version="2026.1",
            agency="gmp",
            values={"fields": {"x": 1}},
        )
        assert first == uow.documents.current_for(case.id, "gmp", "agency_summary")
        second = uow.documents.add(
            message_row_id=m2.id,
            position=1,
            filename="summary v2.docx",
            blob="c" * 64,
            status="accepted",
            case_id=case.id,
            form="agency_summary",
            version="2026.1",
            agency="gmp",
        )
        uow.documents.supersede(first, second)
        uow.commit()
    with UnitOfWork(engine) as uow:
        current = uow.documents.current_for(case.id, "gmp", "agency_summary")
        assert current is not None
        assert (second.id, 2, True) == (current.id, current.version_no, current.current)
        kept = uow.documents.for_case(case.id)
        assert [(1, False, second.id), (2, True, None)] == [(d.version_no, d.current, d.superseded_by) for d in kept]
        assert {"fields": {"x": 1}} == kept[0].values


def test_documents_of_a_message_come_in_attachment_order_with_their_findings(engine):
    with UnitOfWork(engine) as uow:
        message = add_message(uow, 1)
        docs: list[Any] = [
            uow.documents.add(
                message_row_id=message.id, position=p, filename=f"f{p}.xlsx", blob="d" * 64, status="rejected"
            )
            for p in (2, 1)
        ]
        uow.documents.add_findings(
            docs[0],
            [
                Finding(rule="CHRON-GAP", severity=Severity.WARNING, field="date", row=7, message="Check the dates"),
                Finding(rule="FIELD-REQUIRED", severity=Severity.ERROR, field="agency", message="Fill in Agency"),
            ],
        )
        uow.commit()
        assert [1, 2] == [d.position for d in uow.documents.for_message(message.id)]
        findings = uow.documents.findings_for([docs[0].id, docs[1].id])
        assert [("CHRON-GAP", "warning", 7), ("FIELD-REQUIRED", "error", None)] == [
            (f.rule, f.severity, f.row) for f in findings[docs[0].id]
        ]
        assert [] == findings[docs[1].id]
        assert {message.id: 2} == uow.documents.counts_by_message()


# the exception queue


def test_an_exception_item_is_opened_listed_and_closed(engine):
    with UnitOfWork(engine) as uow:
        m1, m2 = add_message(uow, 1), add_message(uow, 2)
        first = uow.queue.open_item(m1.id, "no_case", opened=NOW)
        second = uow.queue.open_item(m2.id, "unknown_sender", agency="gmp", opened=NOW + dt.timedelta(seconds=1))
        uow.commit()
        assert [first.id, second.id] == [i.id for i in uow.queue.list_open()]
        uow.queue.close(first, "dismiss", "alice", "covering note only", NOW + dt.timedelta(hours=1))
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert [second.id] == [i.id for i in uow.queue.list_open()]
        closed = uow.queue.get(present(first.id))
        assert closed is not None
        assert ("closed", "dismiss", "alice", "covering note only", NOW + dt.timedelta(hours=1)) == (
            closed.status,
            closed.resolution,
            closed.actor,
            closed.note,
            closed.closed_at,
        )
        assert [first.id] == [i.id for i in uow.queue.for_message(m1.id)]


# the outbox


def test_a_reply_is_queued_once_per_message(engine):
    with UnitOfWork(engine) as uow:
        message = add_message(uow, 1)
        item = uow.outbox.enqueue(message.id, "<r1@sscp.example.org>", "Officer@Police.example.org", b"raw", NOW)
        again = uow.outbox.enqueue(message.id, "<r2@sscp.example.org>", SENDER, b"other", NOW)
        uow.commit()
        assert item.id == again.id
        assert ("<r1@sscp.example.org>", SENDER, b"raw", "queued") == (
            item.reply_message_id,
            item.to_addr,
            item.raw,
            item.state,
        )
        assert "queued" == present(uow.messages.get(message.id)).reply_state
        assert item.id == present(uow.outbox.for_message(message.id)).id


def test_due_replies_are_sent_or_retried_later(engine):
    with UnitOfWork(engine) as uow:
        m1, m2, m3 = add_message(uow, 1), add_message(uow, 2), add_message(uow, 3)
        a = uow.outbox.enqueue(m1.id, "<r1@sscp.example.org>", SENDER, b"1", NOW)
        b = uow.outbox.enqueue(m2.id, "<r2@sscp.example.org>", SENDER, b"2", NOW + dt.timedelta(seconds=1))
        uow.outbox.enqueue(m3.id, "<r3@sscp.example.org>", SENDER, b"3", NOW + dt.timedelta(hours=1))
        uow.commit()
        assert [a.id, b.id] == [i.id for i in uow.outbox.due(NOW + dt.timedelta(minutes=1), 10)]
        uow.outbox.mark_sent(a, NOW + dt.timedelta(minutes=1))
        uow.outbox.mark_failed(b, "421 try later", NOW + dt.timedelta(minutes=5), permanent=False)
        uow.commit()
        assert [] == uow.outbox.due(NOW + dt.timedelta(minutes=2), 10)
        assert [b.id] == [i.id for i in uow.outbox.due(NOW + dt.timedelta(minutes=5), 10)]
        uow.outbox.mark_failed(b, "550 no such user", NOW + dt.timedelta(minutes=10), permanent=True)
        uow.commit()
        assert [] == uow.outbox.due(NOW + dt.timedelta(minutes=30), 10)
        assert ("sent", 1, "sent") == (a.state, a.attempts, present(uow.messages.get(m1.id)).reply_state)
        assert ("failed", 2, "550 no such user") == (b.state, b.attempts, b.last_error)


def test_replies_to_an_address_are_counted_for_the_rate_limit(engine):
    with UnitOfWork(engine) as uow:
        for uid in range(1, 5):
            message = add_message(uow, uid)
            to = SENDER if uid < 4 else "other@example.net"
            item = uow.outbox.enqueue(
                message.id, f"<r{uid}@sscp.example.org>", to, b"", NOW + dt.timedelta(minutes=uid)
            )
            if uid == 3:
                uow.outbox.mark_failed(item, "550", NOW, permanent=True)
        uow.commit()
        assert 2 == uow.outbox.sent_or_queued_to(SENDER.upper(), NOW)
        assert 1 == uow.outbox.sent_or_queued_to(SENDER, NOW + dt.timedelta(minutes=2))
        assert 1 == uow.outbox.sent_or_queued_to("other@example.net", NOW)


# mailbox states


def test_a_folder_state_is_saved_and_replaced(engine):
    with UnitOfWork(engine) as uow:
        assert uow.mailboxes.get("default", "INBOX") is None
        uow.mailboxes.save("default", "INBOX", FolderState(uidvalidity=7, uidnext=10, exists=9), NOW)
        uow.commit()
        uow.mailboxes.save(
            "default", "INBOX", FolderState(uidvalidity=7, uidnext=12, exists=3), NOW + dt.timedelta(minutes=5)
        )
        uow.commit()
    with UnitOfWork(engine) as uow:
        row = uow.mailboxes.get("default", "INBOX")
        assert row is not None
        assert (7, 12, 3, NOW + dt.timedelta(minutes=5)) == (row.uidvalidity, row.uidnext, row.exists, row.polled_at)
        assert FolderState(uidvalidity=7, uidnext=12, exists=3) == uow.mailboxes.folder_state("default", "INBOX")
        assert uow.mailboxes.folder_state("default", "Other") is None
