"""The queue's actions: what a person does with an exception item (spec/intake.md's table).

    actions = QueueActions.for_service(service)
    actions.preview_reply(item_id, "link_to_case", {"case_reference": "SSCP-2025-014"})
        -> ReplyPreview(to, subject, body) | None       the reply the action would send
    actions.perform(item_id, "link_to_case", {"case_reference": ..., "note": ...,
                    "reply_body": <edited text>}, actor)
        -> ActionResult(ok, message, errors, case_reference)

Every action is checked first (the item exists and is open, the action is one its reason
allows, the form is complete) and then done in ONE transaction with the item closed
(resolution, actor, note), an audit entry (who, when, what, why) and, where the action
replies, the reply written to the outbox (sent later by the pipeline, never here).

What each action does (storage.queries.action_specs says what it needs and whether it replies):

- accept_as_agency (unknown sender): the email is read again as if from the agency chosen and
  goes the usual way (filed, a new case, or back to the queue for another reason), with the
  usual automatic reply, which the person sees first and may edit or withhold.
- retry (processing fault): the email is processed again now; if it fails again nothing
  changes and the person is told.
- link_to_case (no case, case conflict), merge_into_case (possible duplicate), correct (case
  conflict: filed under the case it names, the mismatch kept so the reply asks the agency to
  correct its form), open_new_case (no case, possible duplicate: a new case for the child the
  form names): the forms are filed under the case as the pipeline files them (versions,
  supersession, the expected return's state); a CASE-MISMATCH finding about another case is
  dropped. A file that is no form (or unsafe) stays unfiled and gets its own item. Reply
  (optional): "filed under case X", with the numbered list of what to change.
- file_as_supporting (unrecognised, unsafe): the file is kept on the case, accepted, no form.
- reject (unknown sender, case conflict, unrecognised), reject_with_reply (unsafe), mark_junk:
  the documents are marked rejected; a reply (optional, always for reject_with_reply) names
  each document and why, never to an unknown sender.
- link_as_correspondence (nothing attached): the email is kept on the case. dismiss: closed.

Replies: only to the authenticated From address of a message that is not automated and whose
sender is a known agency (or was accepted as one by a person); composed by intake.replies
(no personal data); an action's reply is a second, deliberate reply to the message, with its
own Message-ID and outbox row (keyed by the item).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from core.cases import KIND_OF_REFERRAL, CaseKind, CaseSummary, DocumentStatus, ExceptionReason, ReplyDraft
from core.errors import IntakeError
from core.model import Finding as FindingValue
from core.model import Severity
from core.ports import BlobStore, Clock
from core.settings import FormsContext
from intake.checking import DocumentChecker, case_findings
from intake.filing import ReadAttachment, decide, files_of
from intake.mime import decode
from intake.pipeline import Pipeline, row_id
from intake.replies import AUTO_HEADERS, DocumentOutcome, ReplyFacts, compose, render
from intake.screening import screen
from intake.settings import Settings
from parsers.values import find_case_references
from storage.models import Case, Document, ExceptionItem, Message
from storage.queries import REASON_LABELS, ActionSpec, action_spec
from storage.uow import UnitOfWork
from web.ports import ActionResult, Actor, ReplyPreview

log = logging.getLogger("intake.actions")

CASE_MISMATCH = "CASE-MISMATCH"
NOTE_LIMIT = 2000
REPLY_LIMIT = 20_000
_NO = frozenset({"no", "false", "0", "off"})
#: said in a reply about a file that is not one of the partnership's forms (never its name)
NOT_A_FORM = (
    "This file is not one of the partnership's forms. Please send the information on the current "
    "template, or tell us what the file is for."
)


class ActionRefused(IntakeError):
    """The action cannot be done as asked. ``str(exc)`` is a message for the person (never
    personal data); ``field`` names the form field at fault ("" for the form as a whole)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class _ProcessingFailed(Exception):
    """Reading the email again failed (a fault, not the person's input)."""


@dataclass(frozen=True)
class ActionForm:
    """An action's form, checked and normalised."""

    note: str | None = None
    case_reference: str | None = None
    agency: str | None = None
    kind: CaseKind | None = None
    send_reply: bool = True
    #: the reply as the person edited it (None: as composed)
    reply_body: str | None = None


@dataclass
class _Job:
    uow: UnitOfWork
    item: ExceptionItem
    message: Message
    spec: ActionSpec
    form: ActionForm
    now: dt.datetime
    actor: str


@dataclass
class _Done:
    """What an action did, for the person, the audit log and the reply."""

    message: str
    case: Case | None = None
    #: the facts of the action's own reply (None: it sends none of its own)
    facts: ReplyFacts | None = None
    #: the email was processed again: its reply is the pipeline's automatic one
    reprocessed: bool = False
    #: an automatic reply existed before the email was processed again (left alone)
    had_automatic_reply: bool = False
    detail: dict[str, Any] = field(default_factory=dict)


class QueueActions:
    """The queue's actions on storage (web.ports.QueueActions). Built by intake's composition
    root and handed to the web app; thread-safe (each call has its own unit of work)."""

    def __init__(
        self,
        *,
        engine: Engine,
        pipeline: Pipeline,
        settings: Settings,
        forms: FormsContext,
        checker: DocumentChecker,
        blobs: BlobStore,
        clock: Clock,
    ) -> None:
        self._engine = engine
        self._pipeline = pipeline
        self._settings = settings
        self._forms = forms
        self._checker = checker
        self._blobs = blobs
        self._clock = clock
        self._reply_from = settings.reply_from
        self._reply_domain = settings.reply_from.rpartition("@")[2] or "localhost"
        self._zone = ZoneInfo(settings.service.timezone)
        self._prefix = forms.forms.case_reference_prefix
        self._handlers: dict[str, Callable[[_Job], _Done]] = {
            "accept_as_agency": self._accept_as_agency,
            "retry": self._retry,
            "reject": self._reject,
            "reject_with_reply": self._reject,
            "mark_junk": self._mark_junk,
            "link_to_case": self._link_to_case,
            "correct": self._correct,
            "merge_into_case": self._merge_into_case,
            "open_new_case": self._open_new_case,
            "file_as_supporting": self._file_as_supporting,
            "link_as_correspondence": self._link_as_correspondence,
            "dismiss": self._dismiss,
        }

    @classmethod
    def for_service(cls, service: Any, *, blobs: BlobStore | None = None) -> QueueActions:
        """From an intake.service.Service (its engine, pipeline, settings, forms, checker)."""
        store = blobs or getattr(service, "blobs", None) or service.pipeline._blobs
        clock = getattr(service, "clock", None) or service.pipeline._clock
        return cls(
            engine=service.engine,
            pipeline=service.pipeline,
            settings=service.settings,
            forms=service.forms,
            checker=service.checker,
            blobs=store,
            clock=clock,
        )

    # -- the web app's entry points ------------------------------------------------------------

    def preview_reply(self, item_id: int, action: str, form: Mapping[str, str]) -> ReplyPreview | None:
        """The reply ``action`` would send for this item, composed as ``perform`` would compose
        it now; None when it sends none. Nothing is changed. Raises ActionRefused (an
        IntakeError: ``str(exc)`` is for the person) when the action cannot be done as asked."""
        with UnitOfWork(self._engine) as uow:
            job = self._job(uow, item_id, action, form, actor="preview")
            if job.spec.reply == "never":
                return None
            try:
                done = self._handlers[action](job)
            except _ProcessingFailed as exc:
                raise ActionRefused(f"The email could not be processed again ({exc}).") from exc
            draft = self._draft(job, done)
            uow.rollback()
        if draft is None:
            return None
        return ReplyPreview(to=draft.to, subject=draft.subject, body=draft.body)

    def perform(self, item_id: int, action: str, form: Mapping[str, str], actor: Actor | str) -> ActionResult:
        """Do ``action`` on the item in one transaction. ``ok`` False: nothing changed, and
        ``message`` (and ``errors``, by form field) says why."""
        name = actor if isinstance(actor, str) else actor.audit_name
        try:
            with UnitOfWork(self._engine) as uow:
                job = self._job(uow, item_id, action, form, actor=name)
                if not uow.queue.close_if_open(job.item, action, name, job.form.note, job.now):
                    raise ActionRefused("This item has already been dealt with.")
                done = self._handlers[action](job)
                replied = self._queue_reply(job, done)
                self._audit(job, done, replied)
                uow.commit()
        except ActionRefused as exc:
            return ActionResult(ok=False, message=exc.message, errors={exc.field: exc.message})
        except OperationalError as exc:  # the database is locked or gone: nothing was done
            log.warning("queue action %s on item %s: database unavailable (%s)", action, item_id, type(exc).__name__)
            message = "The database is busy. Nothing was changed: please try again."
            return ActionResult(ok=False, message=message, errors={"": message})
        except _ProcessingFailed as exc:
            self._record_failure(item_id, action, name, str(exc))
            message = f"The email could not be processed again ({exc}). The item stays in the queue."
            return ActionResult(ok=False, message=message, errors={"": message})
        text = done.message + (" A reply is queued." if replied else "")
        return ActionResult(ok=True, message=text, case_reference=done.case.reference if done.case else None)

    def authentication(self, blob: str) -> str | None:
        """A summary of who sent a stored message, for the item page: the trusted
        Authentication-Results and what the agency registry makes of the From domain. Reads
        only the header block. (storage.queries.queue_item's ``authentication`` hook.)"""
        try:
            raw = self._blobs.get(blob)
        except Exception:  # a missing or damaged original: the page shows no summary
            log.warning("the original of a queued message could not be read for its summary")
            return None
        end = min((at for at in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if at >= 0), default=len(raw))
        inbound = decode(raw[: end + 4], trusted_authserv_ids=self._settings.screening.trusted_authserv_ids)
        screening = screen(inbound, self._forms.agencies, self._settings.screening)
        auth = inbound.auth
        verdicts = [
            f"{name} {value}"
            for name, value in (("DMARC", auth.dmarc), ("DKIM", auth.dkim), ("SPF", auth.spf))
            if value
        ]
        summary = (
            ", ".join(verdicts) + f" (checked by {auth.authserv_id})"
            if verdicts
            else "no trusted authentication results"
        )
        if screening.automated is not None:
            summary += f"; automated mail ({screening.automated.value.replace('_', ' ')})"
        if screening.distrust:
            summary += f"; {screening.distrust}"
        elif len(screening.agencies) > 1:
            summary += f"; a domain shared by {len(screening.agencies)} agencies"
        return summary[:1].upper() + summary[1:]

    # -- checking the request ------------------------------------------------------------------

    def _job(self, uow: UnitOfWork, item_id: int, action: str, form: Mapping[str, str], *, actor: str) -> _Job:
        item = uow.queue.get(item_id)
        if item is None:
            raise ActionRefused("There is no such item in the queue.")
        if item.status != "open":
            raise ActionRefused("This item has already been dealt with.")
        spec = action_spec(item.reason, action)
        if spec is None or action not in self._handlers:
            raise ActionRefused("That action is not available for this item.")
        message = uow.messages.get(item.message_row_id)
        assert message is not None, "an item's message is never deleted"
        return _Job(uow, item, message, spec, self._parse(spec, form), self._clock.now(), actor)

    def _parse(self, spec: ActionSpec, form: Mapping[str, str]) -> ActionForm:
        wanted = set(spec.needs) | set(spec.takes)
        note = (form.get("note") or "").strip() or None
        if note is not None and len(note) > NOTE_LIMIT:
            raise ActionRefused(f"The note must be {NOTE_LIMIT} characters or fewer.", "note")
        agency = self._agency(form.get("agency"), required="agency" in spec.needs) if "agency" in wanted else None
        reference = None
        if "case_reference" in wanted:
            reference = self._reference(form.get("case_reference"), required="case_reference" in spec.needs)
        kind = None
        if "kind" in wanted and (form.get("kind") or "").strip():
            try:
                kind = CaseKind((form.get("kind") or "").strip())
            except ValueError:
                raise ActionRefused("Select the kind of review.", "kind") from None
        send = spec.reply == "always" or (
            spec.reply == "optional" and (form.get("send_reply") or "yes").strip().lower() not in _NO
        )
        body = form.get("reply_body")
        reply_body = None
        if send and body is not None:
            reply_body = _tidy(body)
            if not reply_body.strip():
                raise ActionRefused("Enter the reply, or choose not to send one.", "reply_body")
            if len(reply_body) > REPLY_LIMIT:
                raise ActionRefused(f"The reply must be {REPLY_LIMIT} characters or fewer.", "reply_body")
        return ActionForm(note, reference, agency, kind, send, reply_body)

    def _agency(self, value: str | None, *, required: bool) -> str | None:
        text = (value or "").strip()
        if not text:
            if required:
                raise ActionRefused("Select the agency the email is from.", "agency")
            return None
        known = self._forms.agencies.get(text)
        agency_id = known.id if known is not None else self._forms.agencies.match(text)
        if agency_id is None:
            raise ActionRefused("Select an agency from the list.", "agency")
        return agency_id

    def _reference(self, value: str | None, *, required: bool) -> str | None:
        text = (value or "").strip()
        if not text:
            if required:
                raise ActionRefused(f"Enter a case reference, like {self._prefix}-2025-014.", "case_reference")
            return None
        found = find_case_references(text, self._prefix)
        if len(found) != 1 or len(text) > 40:
            raise ActionRefused(f"Enter a case reference in the form {self._prefix}-YYYY-NNN.", "case_reference")
        return found[0]

    def _case(self, uow: UnitOfWork, reference: str) -> Case:
        case = uow.cases.get(reference, lock=True)
        if case is None:
            raise ActionRefused(f"There is no case {reference}.", "case_reference")
        if case.status != "open":
            raise ActionRefused(f"Case {reference} is closed.", "case_reference")
        return case

    def _target(self, job: _Job, *, given_only: bool = False) -> Case:
        """The case the form names, else (unless ``given_only``) the item's own case."""
        if job.form.case_reference is not None:
            return self._case(job.uow, job.form.case_reference)
        if not given_only and job.item.case_id is not None:
            case = job.uow.cases.get_by_id(job.item.case_id)
            if case is not None:
                return self._case(job.uow, case.reference)
        raise ActionRefused("Enter the case reference.", "case_reference")

    # -- the actions ---------------------------------------------------------------------------

    def _accept_as_agency(self, job: _Job) -> _Done:
        assert job.form.agency is not None
        done = self._reprocess(job, agency=job.form.agency)
        found = self._forms.agencies.get(job.form.agency)
        done.message = f"Accepted as {found.name if found else job.form.agency}. {done.message}"
        done.detail["agency"] = job.form.agency
        return done

    def _retry(self, job: _Job) -> _Done:
        job.message.attempts = 0
        job.message.error = None
        return self._reprocess(job, agency=None)

    def _reprocess(self, job: _Job, *, agency: str | None) -> _Done:
        """Read the email again and let the pipeline decide, file and reply, in this transaction.
        ``agency``: the person says it comes from this agency (screening's verdict overridden)."""
        uow, row = job.uow, job.message
        if any(d.case_id is not None for d in uow.documents.for_message(row_id(row))):
            raise ActionRefused("Some of this email's documents are already filed: it cannot be processed again.")
        had_reply = uow.outbox.for_message(row_id(row)) is not None
        uow.documents.remove_unfiled(row_id(row))
        before = {i.id for i in uow.queue.for_message(row_id(row))}
        try:
            raw = self._blobs.get(row.blob)
            inbound = decode(raw, trusted_authserv_ids=self._settings.screening.trusted_authserv_ids)
            screening = screen(inbound, self._forms.agencies, self._settings.screening)
            if agency is not None:
                screening = screening.model_copy(update={"agencies": (agency,), "distrust": None})
            received = (row.received_at or job.now).astimezone(self._zone).date()
            read: list[ReadAttachment] = []
            if screening.automated is None:
                for position, attachment in enumerate(files_of(inbound), 1):
                    checked = self._checker.check(attachment.data, attachment.filename, received)
                    read.append(ReadAttachment(position, attachment, checked))
            decision = decide(
                inbound,
                screening,
                read,
                _Cases(uow),
                case_check=functools.partial(case_findings, ctx=self._forms),
                find_references=lambda text: find_case_references(text, self._prefix),
                aware=received,
                agency_of_text=self._forms.agencies.match,
            )
            row.claimed_by = None
            row.claimed_at = None
            self._pipeline._apply(uow, row, inbound, read, decision, received)
            uow.flush()
        except (ActionRefused, OperationalError):
            raise
        except Exception as exc:
            log.exception("processing fault on message %s, processed again from the queue", row.id)
            raise _ProcessingFailed(type(exc).__name__) from exc
        case = uow.cases.get_by_id(row.case_id) if row.case_id is not None else None
        if decision.state == "filed":
            text = f"It was processed again and filed under case {case.reference if case else ''}."
        elif decision.state == "ignored":
            text = "It was processed again: it is automated mail and was set aside."
        else:
            reason = decision.reason.value if decision.reason else ""
            text = f"It was processed again and is back in the queue: {REASON_LABELS.get(reason, reason).lower()}."
        new_items = [i.id for i in uow.queue.for_message(row_id(row)) if i.id not in before]
        return _Done(
            text,
            case=case if decision.state == "filed" else None,
            reprocessed=True,
            had_automatic_reply=had_reply,
            detail={"outcome": decision.state, "new_items": new_items},
        )

    def _reject(self, job: _Job) -> _Done:
        reason = job.item.reason
        docs = self._unfiled(job)
        if reason == ExceptionReason.UNRECOGNISED_DOCUMENT:
            docs = [d for d in docs if d.form is None and d.status != "rejected"]
        elif reason == ExceptionReason.UNSAFE_FILE:
            docs = [d for d in docs if d.status == "rejected"]
        findings = job.uow.documents.findings_for(row_id(d) for d in docs)
        outcomes = []
        for doc in docs:
            doc.status = DocumentStatus.REJECTED.value
            errors = [f for f in _values(findings[row_id(doc)]) if f.severity is Severity.ERROR]
            if doc.form is None and not errors:
                errors = [FindingValue(rule="NOT-A-FORM", severity=Severity.ERROR, message=NOT_A_FORM)]
            outcomes.append(DocumentOutcome(doc.position, self._title(doc), DocumentStatus.REJECTED, tuple(errors)))
        case = job.uow.cases.get_by_id(job.item.case_id) if job.item.case_id is not None else None
        facts = None
        if reason != ExceptionReason.UNKNOWN_SENDER:  # never a word to an unknown sender
            facts = self._facts(job, "rejected", case.reference if case else None, outcomes)
        noun = "document was" if len(docs) == 1 else "documents were"
        return _Done(
            f"Rejected: {len(docs)} {noun} marked rejected.",
            facts=facts,
            detail={"documents": [d.id for d in docs]},
        )

    def _mark_junk(self, job: _Job) -> _Done:
        docs = self._unfiled(job)
        for doc in docs:
            doc.status = DocumentStatus.REJECTED.value
        return _Done("Marked as junk.", detail={"documents": [d.id for d in docs]})

    def _link_to_case(self, job: _Job) -> _Done:
        case = self._target(job, given_only=True)
        return self._file(job, case, keep_mismatch=case.id == job.item.case_id)

    def _correct(self, job: _Job) -> _Done:
        if job.item.case_id is None:
            raise ActionRefused("This email names no single case: link it to a case instead.")
        case = self._target(job)
        return self._file(job, case, keep_mismatch=True)

    def _merge_into_case(self, job: _Job) -> _Done:
        case = self._target(job)
        return self._file(job, case, keep_mismatch=case.id == job.item.case_id)

    def _open_new_case(self, job: _Job) -> _Done:
        uow, row = job.uow, job.message
        docs = [d for d in self._unfiled(job) if d.form is not None and d.status != "rejected"]
        referral = next((d for d in docs if d.form in KIND_OF_REFERRAL), None)
        kind = job.form.kind or (KIND_OF_REFERRAL[referral.form] if referral and referral.form else None)
        if kind is None:
            raise ActionRefused("Select the kind of review to open.", "kind")
        child = referral or next((d for d in docs if _field(d, "child_name") or _field(d, "child_dob")), None)
        name = _field(child, "child_name") if child else None
        dob = _date(_field(child, "child_dob")) if child else None
        aware = (row.received_at or job.now).astimezone(self._zone).date()
        case = uow.cases.create(
            kind,
            name.strip() if isinstance(name, str) and name.strip() else None,
            dob,
            aware,
            job.now,
            prefix=self._prefix,
        )
        uow.audit.record(
            job.actor, "case.opened", "case", case.id, {"from_item": job.item.id, "from_message": row.id}, at=job.now
        )
        done = self._file(job, case, keep_mismatch=False)
        done.message = f"Case {case.reference} opened. {done.message}"
        return done

    def _file_as_supporting(self, job: _Job) -> _Done:
        case = self._target(job)
        docs = [d for d in self._unfiled(job) if d.form is None or d.status == "rejected"]
        if not docs:
            raise ActionRefused("There is no file to keep on the case.")
        for doc in docs:
            doc.case_id = case.id
            doc.status = DocumentStatus.ACCEPTED.value
            doc.form = None
            doc.version = None
            doc.agency = doc.agency or job.item.agency
            doc.version_no = 1
            doc.current = True
        self._settle(job, case)
        job.uow.audit.record(
            job.actor,
            "case.filed",
            "case",
            case.id,
            {"item": job.item.id, "message": job.message.id, "documents": [d.id for d in docs], "supporting": True},
            at=job.now,
        )
        noun = "file is" if len(docs) == 1 else "files are"
        return _Done(
            f"The {noun} kept on case {case.reference} as supporting.",
            case=case,
            detail={"documents": [d.id for d in docs]},
        )

    def _link_as_correspondence(self, job: _Job) -> _Done:
        case = self._target(job, given_only=True)
        job.message.case_id = case.id
        job.message.state = "filed"
        job.item.case_id = case.id
        job.uow.audit.record(
            job.actor,
            "case.correspondence",
            "case",
            case.id,
            {"item": job.item.id, "message": job.message.id},
            at=job.now,
        )
        return _Done(f"The email is kept on case {case.reference} as correspondence.", case=case)

    def _dismiss(self, job: _Job) -> _Done:
        return _Done("Dismissed.")

    # -- filing ---------------------------------------------------------------------------------

    def _unfiled(self, job: _Job) -> list[Document]:
        return [d for d in job.uow.documents.for_message(row_id(job.message)) if d.case_id is None]

    def _file(self, job: _Job, case: Case, *, keep_mismatch: bool) -> _Done:
        """File the message's unfiled forms under ``case`` as the pipeline would have; a file
        that is no form (or was refused) stays unfiled and gets an item of its own."""
        uow, item = job.uow, job.item
        unfiled = self._unfiled(job)
        forms = [d for d in unfiled if d.form is not None and d.status != "rejected"]
        leftover = [d for d in unfiled if d not in forms]
        findings = uow.documents.findings_for(row_id(d) for d in forms)
        outcomes: list[DocumentOutcome] = []
        for doc in forms:
            kept = findings[row_id(doc)]
            if not keep_mismatch:
                for finding in [f for f in kept if f.rule == CASE_MISMATCH]:
                    uow.session.delete(finding)
                kept = [f for f in kept if f.rule != CASE_MISMATCH]
            status = (
                DocumentStatus.NEEDS_CHANGES
                if any(f.severity == Severity.ERROR.value for f in kept)
                else DocumentStatus.ACCEPTED
            )
            agency = doc.agency or item.agency
            previous = uow.documents.current_for(row_id(case), agency, doc.form) if agency is not None else None
            doc.case_id = case.id
            doc.agency = agency
            doc.status = status.value
            doc.version_no = previous.version_no + 1 if previous is not None else 1
            doc.current = True
            uow.flush()
            if previous is not None:
                uow.documents.supersede(previous, doc)
            if agency is not None and doc.form is not None:
                uow.returns.set(row_id(case), agency, doc.form, _return_state(status, doc.values), now=job.now)
            outcomes.append(
                DocumentOutcome(
                    doc.position,
                    self._title(doc),
                    status,
                    tuple(_values(kept)),
                    superseded_version=previous.version_no if previous is not None else None,
                )
            )
        new_item = None
        if leftover:
            reason = (
                ExceptionReason.UNSAFE_FILE
                if any(d.status == "rejected" for d in leftover)
                else ExceptionReason.UNRECOGNISED_DOCUMENT
            )
            new_item = uow.queue.open_item(
                row_id(job.message), reason.value, case_id=case.id, agency=item.agency, opened=job.now
            )
            uow.audit.record(
                job.actor,
                "queue.opened",
                "message",
                job.message.id,
                {"reason": reason.value, "after_item": item.id},
                at=job.now,
            )
        self._settle(job, case)
        uow.audit.record(
            job.actor,
            "case.filed",
            "case",
            case.id,
            {"item": item.id, "message": job.message.id, "documents": [d.id for d in forms]},
            at=job.now,
        )
        text = f"Filed under case {case.reference}."
        if new_item is not None:
            text += " A file that is not a form is back in the queue on its own."
        return _Done(
            text,
            case=case,
            facts=self._facts(job, "filed", case.reference, outcomes) if outcomes else None,
            detail={"documents": [d.id for d in forms], "new_items": [new_item.id] if new_item else []},
        )

    def _settle(self, job: _Job, case: Case) -> None:
        """The message and the item now belong to ``case``; the message is filed once nothing
        of it waits unfiled."""
        job.uow.flush()
        job.item.case_id = case.id
        job.message.case_id = case.id
        if not self._unfiled(job):
            job.message.state = "filed"

    def _title(self, doc: Document) -> str | None:
        form = self._forms.catalogue.find(doc.form, doc.version) if doc.form else None
        return form.form.title if form is not None else None

    # -- replies ---------------------------------------------------------------------------------

    def _facts(
        self, job: _Job, outcome: str, reference: str | None, documents: Sequence[DocumentOutcome]
    ) -> ReplyFacts:
        return ReplyFacts(
            to="",  # filled in by _draft, from the authenticated From of the original
            in_reply_to=None,
            references=(),
            received=job.message.received_at or job.now,
            case_reference=reference,
            outcome=outcome,  # type: ignore[arg-type]
            documents=tuple(documents),
            queue_reason=ExceptionReason(job.item.reason),
        )

    def _draft(self, job: _Job, done: _Done) -> ReplyDraft | None:
        """The reply the action sends, as composed (before the person's edits)."""
        if done.reprocessed:
            queued = job.uow.outbox.for_message(row_id(job.message))
            if queued is None or done.had_automatic_reply or queued.state != "queued":
                return None
            return _parsed_draft(queued.raw)
        if done.facts is None:
            return None
        addressee = self._addressee(job)
        if addressee is None:
            return None
        to, in_reply_to, references = addressee
        facts = replace(done.facts, to=to, in_reply_to=in_reply_to, references=references)
        try:
            return compose(facts)
        except ValueError:  # no single plain address to answer
            return None

    def _addressee(self, job: _Job) -> tuple[str, str | None, tuple[str, ...]] | None:
        """Who a reply to the message may go to (its authenticated From, with the threading
        headers), or None: automated mail, no sender, or a sender no agency vouches for."""
        try:
            raw = self._blobs.get(job.message.blob)
        except Exception:
            log.warning("the original of message %s could not be read for a reply", job.message.id)
            return None
        inbound = decode(raw, trusted_authserv_ids=self._settings.screening.trusted_authserv_ids)
        screening = screen(inbound, self._forms.agencies, self._settings.screening)
        if screening.automated is not None or inbound.sender is None:
            return None
        accepted = any(i.resolution == "accept_as_agency" for i in job.uow.queue.for_message(row_id(job.message)))
        if not (screening.known or accepted):
            return None
        return inbound.sender, inbound.message_id, inbound.references

    def _queue_reply(self, job: _Job, done: _Done) -> bool:
        """Write the action's reply (as the person edited it) to the outbox. True if one is queued."""
        uow, row = job.uow, job.message
        if done.reprocessed:
            queued = uow.outbox.for_message(row_id(row))
            if queued is None or done.had_automatic_reply or queued.state != "queued":
                return False
            if job.spec.reply == "optional" and not job.form.send_reply:  # the person withheld it
                uow.session.delete(queued)
                row.reply_state = "none"
                uow.flush()
                return False
            if job.form.reply_body is not None:
                edited = _parsed_draft(queued.raw).model_copy(update={"body": job.form.reply_body})
                queued.raw = render(
                    edited, from_address=self._reply_from, message_id=queued.reply_message_id, date=job.now
                )
            return True
        if done.facts is None or not job.form.send_reply:
            return False
        draft = self._draft(job, done)
        if draft is None:
            return False
        if job.form.reply_body is not None:
            draft = draft.model_copy(update={"body": job.form.reply_body})
        message_id = action_reply_message_id(row_id(job.item), self._reply_domain)
        raw = render(draft, from_address=self._reply_from, message_id=message_id, date=job.now)
        uow.outbox.enqueue(row_id(row), message_id, draft.to, raw, job.now, exception_item_id=row_id(job.item))
        return True

    # -- the record --------------------------------------------------------------------------------

    def _audit(self, job: _Job, done: _Done, replied: bool) -> None:
        detail: dict[str, Any] = {
            "message": job.message.id,
            "reason": job.item.reason,
            "reply": "queued" if replied else "none",
            **done.detail,
        }
        if done.case is not None:
            detail["case"] = done.case.reference
        if job.form.note:
            detail["note"] = job.form.note
        if replied and job.form.reply_body is not None:
            detail["reply_edited"] = True
        job.uow.audit.record(job.actor, f"queue.{job.spec.id}", "exception_item", job.item.id, detail, at=job.now)

    def _record_failure(self, item_id: int, action: str, actor: str, error: str) -> None:
        with UnitOfWork(self._engine) as uow:
            item = uow.queue.get(item_id)
            if item is not None:
                message = uow.messages.get(item.message_row_id)
                if message is not None:
                    uow.messages.set_error(message, error)
                uow.audit.record(
                    actor, f"queue.{action}.failed", "exception_item", item_id, {"error": error}, at=self._clock.now()
                )
                uow.commit()


class _Cases:
    """filing.CaseLookup over an open unit of work."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def by_reference(self, reference: str) -> CaseSummary | None:
        row = self._uow.cases.get(reference)
        return None if row is None else _summary(row)

    def by_child(self, name: str, dob: dt.date) -> list[CaseSummary]:
        return [_summary(c) for c in self._uow.cases.find_by_child(name, dob)]


def _summary(row: Case) -> CaseSummary:
    return CaseSummary(
        reference=row.reference,
        kind=CaseKind(row.kind),
        child_name=row.child_name,
        child_dob=row.child_dob,
        aware=row.aware_date,
        open=row.status == "open",
    )


def action_reply_message_id(item_id: int, domain: str) -> str:
    """The Message-ID of the reply an action on this item sends: its own, unlike the automatic
    reply's, and the same every time for the same item (a repeated send de-duplicates)."""
    tag = hashlib.sha256(f"sscp-intake-action-reply:{item_id}@{domain}".encode()).hexdigest()[:10]
    return f"<action-{item_id}.{tag}@{domain}>"


def _parsed_draft(raw: bytes) -> ReplyDraft:
    """A queued reply read back into a draft (to re-render it with an edited body)."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    [(_, to)] = getaddresses([str(msg["To"])])
    body = msg.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    references = tuple(str(msg["References"] or "").split())
    return ReplyDraft(
        to=to,
        subject=str(msg["Subject"] or ""),
        body=str(text).replace("\r\n", "\n"),
        in_reply_to=str(msg["In-Reply-To"]) if msg["In-Reply-To"] else None,
        references=references,
        headers=dict(AUTO_HEADERS),
    )


def _tidy(text: str) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n") + "\n"


def _values(rows: Sequence[Any]) -> list[FindingValue]:
    return [
        FindingValue(rule=f.rule, severity=Severity(f.severity), field=f.field, row=f.row, message=f.message)
        for f in rows
    ]


def _field(doc: Document | None, field_id: str) -> Any:
    if doc is None:
        return None
    found = (doc.values.get("fields") or {}).get(field_id)
    return found.get("value") if isinstance(found, dict) else found


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _return_state(status: DocumentStatus, values: Mapping[str, Any]) -> str:
    """As the pipeline: an accepted "not involved" or nil return is a nil return."""
    if status is DocumentStatus.ACCEPTED:
        fields = values.get("fields") or {}

        def value(field_id: str) -> Any:
            found = fields.get(field_id)
            return found.get("value") if isinstance(found, dict) else None

        return "nil_return" if value("agency_involved") is False or value("nil_return") is True else "accepted"
    return "needs_changes" if status is DocumentStatus.NEEDS_CHANGES else "received"


if TYPE_CHECKING:
    from web.ports import QueueActions as _QueueActionsPort

    def _is_the_web_apps_port(actions: QueueActions) -> _QueueActionsPort:
        return actions  # mypy checks QueueActions against web.ports.QueueActions


__all__ = ["ActionForm", "ActionRefused", "QueueActions", "action_reply_message_id"]
