"""The flow, one step a method: poll -> record -> process -> acknowledge; and the outbox.

    poll(mailbox)        what is new on the server is fetched and recorded (blob + ledger row,
                         committed) before anything else happens
    process_pending()    each recorded message is decoded, screened, read, checked, filed or
                         queued, and its reply written to the outbox, in ONE transaction
    acknowledge(mailbox) a message whose outcome is committed is moved to Processed or
                         Exceptions on the server, last
    send_replies()       the outbox is sent over the transport (SMTP, or the Maildir outbox)

Every step can be repeated after a crash: the ledger says what was done. The crash harness
names the steps (``STEPS``) and can stop the process at any of them (INTAKE_CRASH_AT).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import os
import queue
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from core.cases import CaseSummary, DocumentStatus, ExceptionReason, ReturnState
from core.mail import FetchedMessage, InboundMessage, MessageKey, Screening
from core.ports import BlobStore, Clock, Mailbox, ReplyTransport
from core.settings import FormsContext
from intake.checking import DocumentChecker, case_findings
from intake.filing import Decision, ReadAttachment, decide, files_of
from intake.mime import decode
from intake.outbox import TransportError, TransportRefused, backoff
from intake.replies import DocumentOutcome, ReplyFacts, compose, render, reply_message_id
from intake.screening import screen
from intake.settings import Settings
from parsers.values import find_case_references
from storage.errors import AlreadyRecorded
from storage.uow import UnitOfWork

log = logging.getLogger("intake.pipeline")

#: the named steps of the flow, where the crash harness may stop the process
STEPS = (
    "fetched",  # bytes in memory, nothing durable yet
    "blob-stored",  # the original is in the blob store, no ledger row yet
    "recorded",  # the ledger row is committed
    "processed",  # the outcome (filing, queue, outbox row) is committed
    "moved",  # moved on the server, not yet marked in the ledger
    "acknowledged",  # the ledger knows it was moved
    "reply-sent",  # the transport accepted the reply, not yet marked sent
)
CRASH_ENV = "INTAKE_CRASH_AT"
MAX_ATTEMPTS = 3
#: messages whose originals are written and whose ledger rows are committed together
RECORD_BATCH = 100
#: at most this many prepared messages are filed in one transaction
FILING_GROUP = 10
#: threads preparing messages: while one waits for the reading worker (one per process,
#: used in turn) or for its attachments' fsync, the other decodes the next message
PREPARE_THREADS = 2


class _Crash:
    """INTAKE_CRASH_AT=step:n kills this process (SIGKILL) the n-th time it reaches ``step``."""

    def __init__(self, spec: str | None) -> None:
        self.step, self.remaining = None, 0
        if spec:
            step, _, count = spec.partition(":")
            if step not in STEPS:
                raise ValueError(f"{CRASH_ENV} names no step: {step}")
            self.step, self.remaining = step, int(count or "1")

    def at(self, step: str) -> None:
        if step == self.step:
            self.remaining -= 1
            if self.remaining <= 0:
                log.warning("crash harness: stopping at step %s", step)
                os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class CycleReport:
    fetched: int = 0
    recorded: int = 0
    duplicates: int = 0
    processed: int = 0
    moved: int = 0
    sent: int = 0
    idle: bool = False
    failures: list[str] = field(default_factory=list)


class _Prepared(NamedTuple):
    inbound: InboundMessage
    screening: Screening
    read: list[ReadAttachment]
    received: dt.date


@dataclass(frozen=True, slots=True)
class _Claim:
    """A message this worker claimed, with what preparing it needs of its row."""

    id: int
    blob: str
    received_at: dt.datetime | None


class _Cases:
    """CaseLookup over an open unit of work."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        #: cases this transaction holds (FOR UPDATE on PostgreSQL) until it ends
        self._locked: dict[str, Any] = {}

    def by_reference(self, reference: str) -> CaseSummary | None:
        row = self._locked.get(reference) or self._uow.cases.get(reference)
        return None if row is None else _summary(row)

    def locked(self, reference: str) -> Any:
        """The case's row, held until the transaction ends: two workers filing to one case
        take turns, so versions, the current document and the expected return are read after
        the other's commit. Locked once a transaction (its later filings reuse the row)."""
        row = self._locked.get(reference)
        if row is None:
            row = self._uow.cases.get(reference, lock=True)
            if row is not None:
                self._locked[reference] = row
        return row

    def by_child(self, name: str, dob: dt.date) -> list[CaseSummary]:
        return [_summary(c) for c in self._uow.cases.find_by_child(name_key(name), dob)]


def name_key(name: str) -> str:
    return " ".join(name.casefold().split())


def _summary(row: Any) -> CaseSummary:
    return CaseSummary(
        reference=row.reference,
        kind=row.kind,
        child_name=row.child_name,
        child_dob=row.child_dob,
        aware=row.aware_date,
        open=row.status == "open",
    )


class Pipeline:
    def __init__(
        self,
        *,
        settings: Settings,
        engine: Engine,
        blobs: BlobStore,
        checker: DocumentChecker,
        forms: FormsContext,
        clock: Clock,
        reply_from: str,
        worker: str | None = None,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._blobs = blobs
        self._checker = checker
        self._forms = forms
        self._clock = clock
        self._reply_from = reply_from
        self._reply_domain = reply_from.rpartition("@")[2] or "localhost"
        self._worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        self._crash = _Crash(os.environ.get(CRASH_ENV))

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self._engine)

    # -- poll and record ---------------------------------------------------------------

    def poll(self, mailbox: Mailbox, report: CycleReport | None = None) -> CycleReport:
        """Fetch what the ledger does not know and record it. An unchanged folder with
        nothing left to move costs one command (SELECT)."""
        report = report or CycleReport()
        state = mailbox.state()
        with self.uow() as uow:
            saved = uow.mailboxes.get(mailbox.name, mailbox.folder)
            waiting = uow.messages.unacknowledged(mailbox.name, mailbox.folder)
            unchanged = saved is not None and (saved.uidvalidity, saved.uidnext, saved.exists) == (
                state.uidvalidity,
                state.uidnext,
                state.exists,
            )
            if unchanged and not waiting:
                report.idle = True
                return report
            known = uow.messages.known_uids(mailbox.name, mailbox.folder, state.uidvalidity)
        new = [uid for uid in mailbox.uids() if uid not in known]
        for batch in _fetched_batches(mailbox, new, record_batch_sizes(len(new))):
            for _ in batch:
                report.fetched += 1
                self._crash.at("fetched")
            self._record_into(batch, report)
        with self.uow() as uow:
            uow.mailboxes.save(mailbox.name, mailbox.folder, state, self._clock.now())
            uow.commit()
        return report

    def _record_into(self, batch: list[FetchedMessage], report: CycleReport) -> None:
        for recorded in self.record_many(batch):
            if recorded:
                report.recorded += 1
            else:
                report.duplicates += 1

    def record(self, fetched: FetchedMessage) -> bool:
        """Store the original and commit its ledger row. False when it is a copy of a message
        already seen (the same bytes, or the same Message-ID from the same sender)."""
        return self.record_many([fetched])[0]

    def record_many(self, batch: Sequence[FetchedMessage]) -> list[bool]:
        """``record`` for a fetch batch, with one durable blob write and one commit: every
        original is in the blob store (fsynced) before the ledger rows are committed, and the
        rows are committed before anything else happens to any of these messages. The blob
        writes run in a thread while the rows are inserted (not committed) in the database."""
        if not batch:
            return []
        raws = [fetched.raw for fetched in batch]
        sums = [hashlib.sha256(raw).hexdigest() for raw in raws]
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="intake-blobs") as pool:
            stored = pool.submit(self._store_originals, raws, sums)
            reached: list[bool] = []

            def durable() -> list[str]:
                digests = stored.result()  # raises what the blob store raised: nothing is committed
                if not reached:
                    reached.append(True)
                    for _ in batch:
                        self._crash.at("blob-stored")
                return digests

            try:
                outcomes = self._ledger_rows(batch, raws, sums, durable)
            except AlreadyRecorded:  # another poller took some of these keys: one at a time
                digests = durable()
                outcomes = [
                    self._ledger_rows([batch[i]], [raws[i]], [sums[i]], functools.partial(list, [digests[i]]))[0]
                    for i in range(len(batch))
                ]
            # (leaving the pool waits for the blob writes, whatever the database did)
        for _ in batch:
            self._crash.at("recorded")
        return outcomes

    def _store_originals(self, raws: list[bytes], sums: list[str]) -> list[str]:
        put_many = getattr(self._blobs, "put_many", None)
        if put_many is None:
            return [self._blobs.put(raw) for raw in raws]
        return list(put_many(raws, sums))  # the store's digests are the same SHA-256: not worked out twice

    def _ledger_rows(
        self,
        batch: Sequence[FetchedMessage],
        raws: list[bytes],
        sums: list[str],
        durable: Callable[[], list[str]],
    ) -> list[bool]:
        """The batch's ledger rows and audit entries, committed together (a few round trips),
        after ``durable()`` says the originals are in the blob store (its digests)."""
        now = self._clock.now()
        heads = [_headers(raw) for raw in raws]
        with self.uow() as uow:
            known = uow.messages.recorded_keys([f.key for f in batch])
            wanted = [i for i, f in enumerate(batch) if f.key not in known]
            earlier = (
                uow.messages.duplicate_candidates(
                    [sums[i] for i in wanted], [m for i in wanted if (m := heads[i].get("message-id"))]
                )
                if wanted
                else []
            )
            # the first copy of each digest / (Message-ID, sender): an earlier row's id, or
            # ("batch", n) for the n-th row of this batch (its id is known after the insert)
            by_sum: dict[str, Any] = {}
            by_id: dict[tuple[str, str], Any] = {}
            for row in earlier:
                by_sum.setdefault(row.sha256, row.id)
                if row.message_id and row.sender:
                    by_id.setdefault((row.message_id, row.sender), row.id)
            values: list[dict[str, Any]] = []
            firsts: list[Any] = []
            for n, i in enumerate(wanted):
                fetched, head = batch[i], heads[i]
                message_id, sender = head.get("message-id"), head.get("from-address")
                first = by_sum.get(sums[i])
                if first is None and message_id and sender:
                    first = by_id.get((message_id, sender))
                firsts.append(first)
                if first is None:
                    by_sum.setdefault(sums[i], ("batch", n))
                    if message_id and sender:
                        by_id.setdefault((message_id, sender), ("batch", n))
                values.append(
                    {
                        "mailbox": fetched.key.mailbox,
                        "folder": fetched.key.folder,
                        "uidvalidity": fetched.key.uidvalidity,
                        "uid": fetched.key.uid,
                        "message_id": message_id,
                        "sha256": sums[i],
                        "blob": sums[i],  # the store's digest is the SHA-256 of the plaintext (checked below)
                        "sender": sender,
                        "subject": head.get("subject", ""),
                        "received_at": fetched.internal_date or now,
                    }
                )
            ids = uow.messages.insert_recorded(values, now)
            duplicates = [
                (ids[n], ids[first[1]] if isinstance(first, tuple) else first)
                for n, first in enumerate(firsts)
                if first is not None
            ]
            uow.messages.mark_duplicates(duplicates)
            of = dict(duplicates)
            uow.audit.record_many(
                [
                    ("intake", "message.duplicate", "message", row, {"of": of[row]})
                    if row in of
                    else ("intake", "message.recorded", "message", row, None)
                    for row in ids
                ],
                at=now,
            )
            digests = durable()  # the inserts went in while the blob writes finished
            changed = [{"row_id": ids[n], "blob": digests[i]} for n, i in enumerate(wanted) if digests[i] != sums[i]]
            if changed:  # a blob store that names blobs otherwise
                uow.messages.set_blobs(changed)
            uow.commit()
        outcomes = dict.fromkeys(range(len(batch)), False)
        for i, first in zip(wanted, firsts, strict=True):
            outcomes[i] = first is None
        return [outcomes[i] for i in range(len(batch))]

    # -- process -----------------------------------------------------------------------

    def process_pending(self, report: CycleReport | None = None, limit: int = 50) -> CycleReport:
        report = report or CycleReport()
        self._release_dead_claims()
        while True:
            try:
                with self.uow() as uow:
                    stale = dt.timedelta(minutes=10)
                    claimed = [
                        _Claim(row_id(m), m.blob, m.received_at)
                        for m in uow.messages.claim_pending(limit, self._worker, stale)
                    ]
                    uow.commit()
            except OperationalError as exc:  # the database is locked or gone: the next run claims them
                report.failures.append("database unavailable")
                log.warning("nothing claimed: database unavailable (%s)", type(exc).__name__)
                return report
            if not claimed:
                return report
            for group in self._prepared_groups(claimed):
                if self._file_group(group, report):
                    return report
            if len(claimed) < limit:
                return report

    def _file_group(self, group: list[tuple[int, Future[_Prepared | None]]], report: CycleReport) -> bool:
        """File a group of prepared messages in one transaction, or, when any of them fails,
        one at a time (each fault then stays with its own message). True: the database is
        unavailable, and this run stops."""
        if len(group) > 1:
            try:
                self._finish_many(group)
            except OperationalError as exc:  # the database is locked or gone: later
                report.failures.append(f"messages {group[0][0]}-{group[-1][0]}: database unavailable")
                log.warning("%d messages left pending: database unavailable (%s)", len(group), type(exc).__name__)
                for message_id, _ in group:
                    self._release(message_id)
                return True
            except Exception:  # each message is filed on its own below, and its fault recorded there
                log.info("a group of %d messages could not be filed together: one at a time", len(group))
            else:
                report.processed += len(group)
                return False
        for message_id, prepared in group:
            try:
                self._finish(message_id, prepared)
                report.processed += 1
            except OperationalError as exc:  # the database is locked or gone: later
                report.failures.append(f"message {message_id}: database unavailable")
                log.warning("message %s left pending: database unavailable (%s)", message_id, type(exc).__name__)
                self._release(message_id)
                return True
            except Exception as exc:
                report.failures.append(f"message {message_id}: {type(exc).__name__}")
                log.exception("processing fault on message %s", message_id)
                self._fault(message_id, exc)
        return False

    def process(self, message_row_id: int) -> None:
        self._finish(message_row_id, self._prepare(message_row_id))

    def _prepared_groups(self, claims: Sequence[_Claim]) -> Iterator[list[tuple[int, Future[_Prepared | None]]]]:
        """The claimed messages, prepared in threads (PREPARE_THREADS, taking them in order)
        while the caller files the ones before (reading in the worker process, decoding and
        storing the attachments overlap with the database's round trips and commits), handed
        over in order and in groups: the next message once it is prepared, with those after it
        that are prepared already (at most FILING_GROUP). When filing is the slower side the
        groups grow, and a group costs one transaction and one commit; when preparing is, they
        stay single."""
        with ThreadPoolExecutor(max_workers=PREPARE_THREADS, thread_name_prefix="intake-prepare") as pool:
            futures = [(claim.id, pool.submit(self._prepare, claim.id, claim)) for claim in claims]
            try:
                index = 0
                while index < len(futures):
                    wait([futures[index][1]])
                    end = index + 1
                    while end < len(futures) and end - index < FILING_GROUP and futures[end][1].done():
                        end += 1
                    yield futures[index:end]
                    index = end
            finally:
                for _, future in futures:
                    future.cancel()  # those not started yet, when the caller stops early

    def _prepare(self, message_row_id: int, claim: _Claim | None = None) -> _Prepared | None:
        """What a message says, read and checked, its attachments durably in the blob store;
        nothing in the ledger changes (None: not pending any more). ``claim``: what this
        worker's claim read of the row already (the filing checks the state again)."""
        if claim is not None:
            blob, received_at = claim.blob, claim.received_at
        else:
            with self.uow() as uow:
                row = uow.messages.get(message_row_id)
                if row is None or row.state != "pending":
                    return None
                blob, received_at = row.blob, row.received_at
        raw = self._blobs.get(blob)
        inbound = decode(raw, trusted_authserv_ids=self._settings.screening.trusted_authserv_ids)
        screening = screen(inbound, self._forms.agencies, self._settings.screening)
        received = _local_date(received_at or self._clock.now())
        read: list[ReadAttachment] = []
        if screening.automated is None:
            for position, attachment in enumerate(files_of(inbound), 1):
                checked = self._checker.check(attachment.data, attachment.filename, received)
                read.append(ReadAttachment(position, attachment, checked))
            put_many = getattr(self._blobs, "put_many", None)
            if put_many is not None and read:
                put_many([r.attachment.data for r in read])  # fsynced before the filing commits
        return _Prepared(inbound, screening, read, received)

    def _finish_many(self, group: Sequence[tuple[int, _Prepared | Future[_Prepared | None] | None]]) -> None:
        """Decide and file prepared messages, their outcomes and replies in one transaction:
        their rows read in one statement, a case locked once for all the group's filings to
        it, one commit. A message no longer pending (or not prepared) is left alone. Raises
        what any of them raises (nothing is then committed)."""
        prepared = [(message_id, p.result() if isinstance(p, Future) else p) for message_id, p in group]
        wanted = [message_id for message_id, p in prepared if p is not None]
        if not wanted:
            return
        filed = 0
        with self.uow() as uow:
            rows = uow.messages.get_many(wanted)
            cases = _Cases(uow)
            for message_id, p in prepared:
                row = rows.get(message_id)
                if p is None or row is None or row.state != "pending":
                    continue
                self._decide_and_apply(uow, cases, row, p)
                filed += 1
            uow.commit()
        for _ in range(filed):
            self._crash.at("processed")

    def _decide_and_apply(self, uow: UnitOfWork, cases: _Cases, row: Any, prepared: _Prepared) -> None:
        inbound, screening, read, received = prepared
        decision = decide(
            inbound,
            screening,
            read,
            cases,
            case_check=functools.partial(case_findings, ctx=self._forms),
            find_references=lambda text: find_case_references(text, self._forms.forms.case_reference_prefix),
            aware=received,
            agency_of_text=self._forms.agencies.match,
        )
        self._apply(uow, row, inbound, read, decision, received, cases=cases)

    def _finish(self, message_row_id: int, prepared: _Prepared | Future[_Prepared | None] | None) -> None:
        """Decide and file one prepared message, its outcome and reply in one transaction."""
        self._finish_many([(message_row_id, prepared)])

    def _apply(
        self,
        uow: UnitOfWork,
        row: Any,
        inbound: InboundMessage,
        read: Sequence[ReadAttachment],
        decision: Decision,
        received: dt.date,
        *,
        cases: _Cases | None = None,
    ) -> None:
        """File a decided message in ``uow`` (not committed). ``cases``: the lookup the
        decision used, which keeps the cases this transaction locked."""
        now = self._clock.now()
        # the per-sender rate limit, asked before anything is written: the message's row is
        # then written once, with its reply state, when the reply is queued
        reply = bool(decision.reply and inbound.sender) and self._within_reply_limit(uow, inbound.sender or "", now)
        case = None
        if decision.new_case is not None:
            nc = decision.new_case
            case = uow.cases.create(
                nc.kind,
                nc.child_name,
                nc.child_dob,
                nc.aware,
                now,
                reference=nc.reference,
                prefix=self._forms.forms.case_reference_prefix,
            )
            uow.audit.record("intake", "case.opened", "case", case.id, {"from_message": row.id}, at=now)
        elif decision.case_reference is not None:
            case = (cases or _Cases(uow)).locked(decision.case_reference)  # held until the commit
        related = uow.cases.get(decision.related_case) if decision.related_case else None

        outcomes: list[DocumentOutcome] = []
        by_position = {r.position: r for r in read}
        for d in decision.documents:
            r = by_position[d.position]
            doc = r.checked.document
            form = self._forms.catalogue.find(doc.form, doc.version) if doc.form else None
            superseded = None
            previous = None
            filed_case = case if (case is not None and d.reason is None) else None
            agency = d.agency or decision.agency
            if filed_case is not None and doc.form is not None and agency is not None:
                previous = uow.documents.current_for(row_id(filed_case), agency, doc.form)
            stored = uow.documents.add(
                case_id=filed_case.id if filed_case is not None else None,
                message_row_id=row.id,
                position=d.position,
                filename=r.attachment.filename,
                blob=self._blobs.put(r.attachment.data),
                form=doc.form,
                version=doc.version,
                agency=agency,
                status=d.status.value,
                version_no=(previous.version_no + 1) if previous is not None else 1,
                values=_values(doc),
                created=now,
            )
            uow.documents.add_findings(stored, list(d.findings))
            if previous is not None:
                uow.documents.supersede(previous, stored)
                superseded = previous.version_no
            if filed_case is not None and doc.form is not None and decision.agency is not None:
                uow.returns.set(
                    row_id(filed_case), decision.agency, doc.form, _return_state(d.status, doc).value, now=now
                )
            outcomes.append(
                DocumentOutcome(
                    position=d.position,
                    form_title=form.form.title if form is not None else None,
                    status=d.status if filed_case is not None else None,
                    findings=tuple(d.findings),
                    superseded_version=superseded,
                )
            )

        if decision.state == "exception" and decision.reason is not None:
            item_case = case or related
            uow.queue.open_item(
                row_id(row),
                decision.reason.value,
                case_id=item_case.id if item_case is not None else None,
                agency=decision.agency,
                opened=now,
            )
            uow.audit.record("intake", "queue.opened", "message", row.id, {"reason": decision.reason.value}, at=now)
        row.state = decision.state
        row.case_id = case.id if case is not None else (related.id if related is not None else None)
        row.destination = "exceptions" if decision.state == "exception" else "processed"
        row.error = None
        uow.audit.record("intake", f"message.{decision.state}", "message", row.id, None, at=now)

        if reply:
            self._queue_reply(uow, row, inbound, decision, outcomes, case.reference if case else None, now)
        elif decision.reply and inbound.sender:
            uow.audit.record("intake", "reply.rate_limited", "message", row.id, None, at=now)

    def _within_reply_limit(self, uow: UnitOfWork, sender: str, now: dt.datetime) -> bool:
        limit = self._settings.polling.replies_per_sender_per_hour
        return uow.outbox.sent_or_queued_to(sender, now - dt.timedelta(hours=1)) < limit

    def _queue_reply(
        self,
        uow: UnitOfWork,
        row: Any,
        inbound: InboundMessage,
        decision: Decision,
        outcomes: list[DocumentOutcome],
        case_reference: str | None,
        now: dt.datetime,
    ) -> None:
        sender = inbound.sender or ""
        outcome = "filed"
        if decision.reason is ExceptionReason.NO_ATTACHMENT:
            outcome = "no_attachment"
        elif decision.state == "exception" and not decision.files_documents:
            outcome = "queued"
        facts = ReplyFacts(
            to=sender,
            in_reply_to=inbound.message_id,
            references=inbound.references,
            received=row.received_at,
            case_reference=case_reference,
            outcome=outcome,  # type: ignore[arg-type]
            documents=tuple(outcomes),
            queue_reason=decision.reason,
        )
        draft = compose(facts)
        message_id = reply_message_id(row.id, self._reply_domain)
        raw = render(draft, from_address=self._reply_from, message_id=message_id, date=now)
        uow.outbox.enqueue(row.id, message_id, sender, raw, now)  # the row's reply state becomes "queued"

    def _fault(self, message_row_id: int, exc: Exception) -> None:
        """A bug or an outage while processing: retried, then queued for a person."""
        now = self._clock.now()
        with self.uow() as uow:
            row = uow.messages.get(message_row_id)
            if row is None:
                return
            row.attempts = (row.attempts or 0) + 1
            row.error = type(exc).__name__
            row.claimed_by = None
            if row.attempts >= MAX_ATTEMPTS:
                row.state = "exception"
                row.destination = "exceptions"
                uow.queue.open_item(row_id(row), ExceptionReason.PROCESSING_FAULT.value, opened=now)
                uow.audit.record("intake", "queue.opened", "message", row.id, {"reason": "processing_fault"}, at=now)
            uow.commit()

    def _release_dead_claims(self) -> None:
        """Claims held by a process of this machine that no longer exists (killed mid-batch)
        are given up now, so a restarted service carries on at once instead of waiting for the
        claims to go stale. Claims of other machines are left to go stale."""
        host = socket.gethostname()
        try:
            with self.uow() as uow:
                dead = []
                for row in uow.messages.claimed():
                    owner, _, pid = (row.claimed_by or "").rpartition(":")
                    if owner == host and pid.isdigit() and row.claimed_by != self._worker and not _alive(int(pid)):
                        dead.append(row)
                for row in dead:
                    uow.messages.release(row)
                if dead:
                    log.warning("released %d claims of a process that stopped", len(dead))
                    uow.commit()
        except OperationalError:
            pass  # the database is busy: the claims go stale and are taken again

    def _release(self, message_row_id: int) -> None:
        try:
            with self.uow() as uow:
                row = uow.messages.get(message_row_id)
                if row is not None:
                    uow.messages.release(row)
                    uow.commit()
        except OperationalError:
            pass  # the claim goes stale and is taken again

    # -- acknowledge -------------------------------------------------------------------

    def acknowledge(self, mailbox: Mailbox, report: CycleReport | None = None) -> CycleReport:
        report = report or CycleReport()
        with self.uow() as uow:
            waiting = [
                (row_id(m), m.uid, m.destination) for m in uow.messages.unacknowledged(mailbox.name, mailbox.folder)
            ]
        for destination in ("processed", "exceptions"):
            batch = [(mid, uid) for mid, uid, dest in waiting if dest == destination]
            if not batch:
                continue
            mailbox.move([uid for _, uid in batch], destination)
            self._crash.at("moved")
            with self.uow() as uow:
                uow.messages.mark_moved([mid for mid, _ in batch])
                uow.commit()
            report.moved += len(batch)
            self._crash.at("acknowledged")
        return report

    # -- the outbox --------------------------------------------------------------------

    def send_replies(self, transport: ReplyTransport, report: CycleReport | None = None) -> CycleReport:
        report = report or CycleReport()
        now = self._clock.now()
        try:
            with self.uow() as uow:
                due = [(row_id(o), o.to_addr, o.raw) for o in uow.outbox.due(now, 100)]
        except OperationalError as exc:
            report.failures.append("outbox: database unavailable")
            log.warning("outbox not read: database unavailable (%s)", type(exc).__name__)
            return report
        for item_id, to_addr, raw in due:
            try:
                transport.send(self._reply_from, [to_addr], raw)
            except TransportRefused as exc:
                self._reply_failed(item_id, exc, permanent=True)
                continue
            except TransportError as exc:
                self._reply_failed(item_id, exc, permanent=False)
                report.failures.append("outbox: transport unavailable")
                return report  # the server is down: the rest wait for the next run
            self._crash.at("reply-sent")
            try:
                with self.uow() as uow:
                    item = uow.outbox.get(item_id)
                    if item is not None:
                        uow.outbox.mark_sent(item, self._clock.now())  # the message's reply_state too
                    uow.commit()
            except OperationalError as exc:  # sent, not recorded: sent once more later, same Message-ID
                report.failures.append("outbox: database unavailable")
                log.warning("reply %s sent but not recorded: database unavailable (%s)", item_id, type(exc).__name__)
                return report
            report.sent += 1
        return report

    def _reply_failed(self, item_id: int, exc: Exception, *, permanent: bool) -> None:
        with self.uow() as uow:
            item = uow.outbox.get(item_id)
            if item is None:
                return
            uow.outbox.mark_failed(
                item,
                type(exc).__name__,
                self._clock.now() + backoff(item.attempts + 1),
                permanent=permanent,
            )
            uow.commit()


_DONE = object()


def record_batch_sizes(count: int, largest: int = RECORD_BATCH, smallest: int = RECORD_BATCH // 8) -> list[int]:
    """How ``count`` new messages are split into recording batches: ``largest`` at a time,
    but doubling up from ``smallest`` at the start and halving down to it at the end. Nothing
    is recorded until a batch has arrived, and the poll ends when the last one is committed:
    small batches there keep that wait short, large ones in between keep the commits few."""
    head: list[int] = []
    left = count
    size = smallest
    while size < largest and left > 2 * size:  # the same small batch at both ends, doubling
        head.append(size)
        left -= 2 * size
        size = min(2 * size, largest)
    full, rest = divmod(left, largest)
    return head + [largest] * full + ([rest] if rest else []) + head[::-1]


def _fetched_batches(mailbox: Mailbox, uids: Sequence[int], sizes: Sequence[int]) -> Iterator[list[FetchedMessage]]:
    """``mailbox.fetch(uids)`` in batches of ``sizes`` (in order; their sum is len(uids)),
    fetched in a thread one batch ahead, so the server's next batch arrives while this one is
    being recorded. The thread has stopped when this generator ends (a fetch error is raised
    here, after the batches before it)."""
    if not uids:
        return
    ready: queue.Queue[Any] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def offer(item: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def fetch() -> None:
        try:
            batch: list[FetchedMessage] = []
            wanted = iter(sizes)
            size = next(wanted, 0)
            for fetched in mailbox.fetch(uids):
                batch.append(fetched)
                if len(batch) >= size:
                    if not offer(batch):
                        return
                    batch = []
                    size = next(wanted, size)
            if batch and not offer(batch):
                return
            offer(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            offer(exc)

    thread = threading.Thread(target=fetch, name="intake-fetch", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def _alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def row_id(row: Any) -> int:
    """A stored row's id (set once it is flushed)."""
    assert row.id is not None, "a row without an id"
    return int(row.id)


def _values(doc: Any) -> dict[str, Any]:
    return {
        "fields": {k: v.model_dump(mode="json") for k, v in doc.fields.items()},
        "tables": doc.tables,
        "rows": doc.rows,
        "identified_by": doc.identified_by,
    }


def _return_state(status: DocumentStatus, doc: Any) -> ReturnState:
    if status is DocumentStatus.ACCEPTED:
        if doc.value("agency_involved") is False or doc.value("nil_return") is True:
            return ReturnState.NIL_RETURN
        return ReturnState.ACCEPTED
    if status is DocumentStatus.NEEDS_CHANGES:
        return ReturnState.NEEDS_CHANGES
    return ReturnState.RECEIVED


def _local_date(when: dt.datetime) -> dt.date:
    from zoneinfo import ZoneInfo

    aware = when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)
    return aware.astimezone(ZoneInfo("Europe/London")).date()


def _headers(raw: bytes) -> dict[str, str]:
    """The few header values the ledger keeps, read without decoding the whole message."""
    from email import policy
    from email.parser import BytesParser
    from email.utils import parseaddr

    head_end = raw.find(b"\r\n\r\n")
    if head_end < 0:
        head_end = raw.find(b"\n\n")
    block = raw[: head_end + 4] if head_end >= 0 else raw
    msg = BytesParser(policy=policy.compat32).parsebytes(block, headersonly=True)
    found: dict[str, str] = {}
    mid = msg.get("Message-ID")
    if mid:
        found["message-id"] = str(mid).strip()
    sender = parseaddr(str(msg.get("From", "")))[1].strip().lower()
    if "@" in sender:
        found["from-address"] = sender
    subject = msg.get("Subject")
    if subject is not None:
        from email.header import decode_header, make_header

        try:
            # unfolded: a long subject arrives over several header lines
            found["subject"] = " ".join(str(make_header(decode_header(str(subject)))).split())[:500]
        except (ValueError, LookupError):
            found["subject"] = ""
    return found


__all__ = ["STEPS", "CycleReport", "MessageKey", "Pipeline", "row_id"]
