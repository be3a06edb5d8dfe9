"""What becomes of a screened message and its read documents: the filing decision.

Pure: it looks cases up through a ``CaseLookup`` and returns a ``Decision``; the pipeline
applies it in one transaction. spec/intake.md step 6 and the exception table:

- automated mail is ignored (and never answered);
- an unknown or unauthenticated sender goes to the queue (and is never answered);
- no attachment: the queue (nothing attached);
- a case reference in the forms, the subject or the body names the case; one naming no case
  is "no case", a form whose child conflicts with the named case is "case conflict";
- with no reference anywhere, a referral opens a new case unless the same child already has
  an open case ("possible duplicate"); other forms are matched by the child's name and date of
  birth against open cases, and only one match files;
- an unreadable or unsafe file, or one that is no catalogue form, goes to the queue; the
  message's other documents are still filed when the case is known.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from core.cases import KIND_OF_REFERRAL, CaseSummary, DocumentStatus, ExceptionReason, NewCase
from core.mail import Attachment, InboundMessage, Screening
from core.model import CheckedDocument, Finding, Severity
from validators.rules.case import normalise_name

#: the forms that carry the agency returning them, by field
AGENCY_FIELDS = ("agency", "referrer_agency")
#: free-text fields that may name an agency (a declaration's organisation)
AGENCY_TEXT_FIELDS = ("organisation",)


class CaseLookup(Protocol):
    def by_reference(self, reference: str) -> CaseSummary | None: ...

    def by_child(self, name: str, dob: dt.date) -> list[CaseSummary]: ...


@dataclass(frozen=True)
class ReadAttachment:
    position: int  # 1-based, among the message's files (inline images left out)
    attachment: Attachment
    checked: CheckedDocument


@dataclass(frozen=True)
class DocumentDecision:
    position: int
    status: DocumentStatus
    #: findings to store: the checker's, plus CASE-MISMATCH against the case it was filed to
    findings: tuple[Finding, ...]
    #: why this document needs a person, if it does
    reason: ExceptionReason | None = None
    #: the agency whose return this is: the one the form names, else the sender's
    agency: str | None = None


@dataclass(frozen=True)
class Decision:
    state: Literal["filed", "exception", "ignored"]
    reason: ExceptionReason | None = None
    #: the case the documents go to: an existing one, or the reference of ``new_case`` once made
    case_reference: str | None = None
    new_case: NewCase | None = None
    agency: str | None = None
    reply: bool = False
    documents: tuple[DocumentDecision, ...] = ()
    #: a case the message may belong to, for the queue item (possible duplicate, conflict)
    related_case: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def files_documents(self) -> bool:
        return self.case_reference is not None or self.new_case is not None


CaseCheck = Callable[[CheckedDocument, CaseSummary], list[Finding]]


def files_of(message: InboundMessage) -> list[Attachment]:
    """The message's files, signature images left out."""
    return [a for a in message.attachments if not a.inline_image]


def status_of(checked: CheckedDocument, extra: Sequence[Finding] = ()) -> DocumentStatus:
    if checked.document.rejection is not None:
        return DocumentStatus.REJECTED
    if any(f.severity is Severity.ERROR for f in (*checked.findings, *extra)):
        return DocumentStatus.NEEDS_CHANGES
    return DocumentStatus.ACCEPTED


def document_reason(checked: CheckedDocument) -> ExceptionReason | None:
    doc = checked.document
    if doc.rejection is not None:
        return ExceptionReason.UNSAFE_FILE
    if doc.form is None:
        return ExceptionReason.UNRECOGNISED_DOCUMENT
    return None


def decide(
    message: InboundMessage,
    screening: Screening,
    read: Sequence[ReadAttachment],
    cases: CaseLookup,
    *,
    case_check: CaseCheck,
    find_references: Callable[[str], list[str]],
    aware: dt.date,
    agency_of_text: Callable[[str], str | None] = lambda text: None,
) -> Decision:
    if screening.automated is not None:
        return Decision(state="ignored", notes=(f"automated: {screening.automated.value}",))
    if not screening.known:
        return _queued(ExceptionReason.UNKNOWN_SENDER, read, reply=False)
    if not read:
        return Decision(state="exception", reason=ExceptionReason.NO_ATTACHMENT, reply=True)

    agency = _agency(screening, read, agency_of_text)
    if agency is None:
        # a shared domain (a council, nhs.net) and no form saying which partner: a person decides
        return _queued(ExceptionReason.UNKNOWN_SENDER, read, reply=False, note="agency not stated")

    forms = [r for r in read if r.checked.document.form is not None and r.checked.document.rejection is None]
    references = _references(message, forms, find_references)
    if len(references) > 1:
        return _queued(ExceptionReason.CASE_CONFLICT, read, agency=agency, note="names more than one case")

    if references:
        reference = references[0]
        case = cases.by_reference(reference)
        if case is None:
            return _queued(ExceptionReason.NO_CASE, read, agency=agency, note="reference names no case")
        extra = {r.position: tuple(case_check(r.checked, case)) for r in forms}
        if any(extra.values()) or any(_another_child(r.checked, case) for r in forms):
            return _queued(ExceptionReason.CASE_CONFLICT, read, agency=agency, related=case.reference, extra=extra)
        return _filed(read, agency, case_reference=case.reference)

    referral = next((r for r in forms if r.checked.document.form in KIND_OF_REFERRAL), None)
    if referral is not None:
        name, dob = _child(referral.checked)
        same_child = cases.by_child(name, dob) if name and dob else []
        if same_child:
            return _queued(ExceptionReason.POSSIBLE_DUPLICATE, read, agency=agency, related=same_child[0].reference)
        form_id = referral.checked.document.form or ""
        new_case = NewCase(kind=KIND_OF_REFERRAL[form_id], child_name=name, child_dob=dob, aware=aware)
        return _filed(read, agency, new_case=new_case)

    for r in forms:
        name, dob = _child(r.checked)
        if name and dob:
            matches = cases.by_child(name, dob)
            if len(matches) == 1:
                return _filed(read, agency, case_reference=matches[0].reference)
            break
    return _queued(ExceptionReason.NO_CASE, read, agency=agency, note="no reference and no single match")


def _filed(
    read: Sequence[ReadAttachment],
    agency: str,
    *,
    case_reference: str | None = None,
    new_case: NewCase | None = None,
) -> Decision:
    documents = tuple(
        DocumentDecision(
            r.position,
            status_of(r.checked),
            tuple(r.checked.findings),
            document_reason(r.checked),
            agency=_document_agency(r, agency),
        )
        for r in read
    )
    reason = next((d.reason for d in documents if d.reason is not None), None)
    return Decision(
        state="exception" if reason else "filed",
        reason=reason,
        case_reference=case_reference,
        new_case=new_case,
        agency=agency,
        reply=True,
        documents=documents,
    )


def _queued(
    reason: ExceptionReason,
    read: Sequence[ReadAttachment],
    *,
    reply: bool = True,
    agency: str | None = None,
    related: str | None = None,
    note: str | None = None,
    extra: dict[int, tuple[Finding, ...]] | None = None,
) -> Decision:
    extra = extra or {}
    documents = tuple(
        DocumentDecision(
            r.position,
            status_of(r.checked, extra.get(r.position, ())),
            (*r.checked.findings, *extra.get(r.position, ())),
            document_reason(r.checked),
            agency=_document_agency(r, agency),
        )
        for r in read
    )
    return Decision(
        state="exception",
        reason=reason,
        agency=agency,
        reply=reply,
        documents=documents,
        related_case=related,
        notes=(note,) if note else (),
    )


def _agency(
    screening: Screening, read: Sequence[ReadAttachment], agency_of_text: Callable[[str], str | None]
) -> str | None:
    """The sending agency: the only one of its domain, else the one its forms name."""
    if len(screening.agencies) == 1:
        return screening.agencies[0]
    named = {a for r in read if (a := named_agency(r.checked, agency_of_text)) in screening.agencies}
    return named.pop() if len(named) == 1 else None


def named_agency(checked: CheckedDocument, agency_of_text: Callable[[str], str | None]) -> str | None:
    """The agency a form names: its agency field, or an organisation that is an agency."""
    doc = checked.document
    for field_id in AGENCY_FIELDS:
        value = doc.value(field_id)
        if isinstance(value, str) and value:
            return value
    for field_id in AGENCY_TEXT_FIELDS:
        value = doc.value(field_id)
        if isinstance(value, str) and value:
            return agency_of_text(value)
    return None


def _document_agency(read: ReadAttachment, sender_agency: str | None) -> str | None:
    value = read.checked.document.value("agency")
    if isinstance(value, str) and value:
        return value
    return sender_agency


def _references(
    message: InboundMessage, forms: Sequence[ReadAttachment], find_references: Callable[[str], list[str]]
) -> list[str]:
    """Distinct case references: the forms' own first; the subject and body only when no
    form gives one (a forwarded thread may quote other cases)."""
    found: list[str] = []
    for r in forms:
        doc = r.checked.document
        value = doc.value("case_reference")
        candidates = [value] if isinstance(value, str) else list(doc.references_seen)
        for ref in candidates:
            if ref not in found:
                found.append(ref)
    if found:
        return found
    for ref in [*find_references(message.subject), *find_references(message.body_text)]:
        if ref not in found:
            found.append(ref)
    return found


def _another_child(checked: CheckedDocument, case: CaseSummary) -> bool:
    """A form that does not name the case itself (the email's subject or body did) but whose
    child is not the case's child. (A form naming the case gets CASE-MISMATCH from case_check.)"""
    if checked.document.value("case_reference") == case.reference:
        return False
    name, dob = _child(checked)
    if dob is not None and case.child_dob is not None and dob != case.child_dob:
        return True
    return name is not None and case.child_name is not None and normalise_name(name) != normalise_name(case.child_name)


def _child(checked: CheckedDocument) -> tuple[str | None, dt.date | None]:
    doc = checked.document
    name = doc.value("child_name")
    dob = doc.value("child_dob")
    try:
        when = dt.date.fromisoformat(dob) if isinstance(dob, str) else None
    except ValueError:
        when = None
    return (name.strip() if isinstance(name, str) and name.strip() else None), when
