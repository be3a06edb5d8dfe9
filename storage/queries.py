"""The read side for the web app's pages: plain frozen dataclasses out, never ORM rows.

    queue_page(uow, reason=, agency=, case_reference=, search=, sort=, page=, per_page=) -> QueuePage
    queue_item(uow, item_id, forms)                                           -> ItemView | None
    cases_page(uow, status=, kind=, search=, page=, per_page=)                -> CasesPage
    case_view(uow, reference, forms)                                          -> CaseView | None

Each page is a handful of indexed queries (migration 0003), whatever the number of rows shown:
no query per row. Values a person sees come with the catalogue's printed labels and where in
the file they were read. The message's HTML body is never read here: only its metadata.

``action_specs(reason)`` says what each of the queue's actions needs from the person (an
agency, a case reference, a kind of case) and whether it may send a reply; intake.actions
performs them and checks its input against the same table.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import and_, func, or_
from sqlalchemy import select as sa_select
from sqlalchemy.orm import defer
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select

from core.cases import ACTIONS, CaseKind, ExceptionReason
from core.catalogue import Catalogue, FormDef
from core.model import Location
from core.settings import FormsContext
from storage.models import AuditEntry, Case, Document, ExceptionItem, ExpectedReturn, Finding, Message, OutboxItem
from storage.models import utcnow as _utcnow
from storage.uow import UnitOfWork

QueueSort = Literal["oldest", "newest", "reason", "agency"]
SORTS: tuple[str, ...] = ("oldest", "newest", "reason", "agency")
MAX_PER_PAGE = 200
#: audit actions that are looks, not changes: left out of an item's or a case's history
#: (the web app records views and downloads as "<entity>.viewed" / "<entity>.downloaded")
LOOK_SUFFIXES = (".viewed", ".downloaded")
HISTORY_LIMIT = 1000

REASON_LABELS: dict[str, str] = {
    ExceptionReason.UNKNOWN_SENDER: "Unknown sender",
    ExceptionReason.NO_CASE: "No case",
    ExceptionReason.CASE_CONFLICT: "Case conflict",
    ExceptionReason.POSSIBLE_DUPLICATE: "Possible duplicate referral",
    ExceptionReason.UNRECOGNISED_DOCUMENT: "Unrecognised document",
    ExceptionReason.UNSAFE_FILE: "Unreadable or unsafe file",
    ExceptionReason.NO_ATTACHMENT: "Nothing attached",
    ExceptionReason.PROCESSING_FAULT: "Processing fault",
}
KIND_LABELS: dict[str, str] = {
    CaseKind.RAPID_REVIEW: "Rapid review",
    CaseKind.LOCAL_REVIEW: "Local review",
    CaseKind.SERIOUS_OFFENCE_REVIEW: "Serious offence review",
    CaseKind.GOOD_OUTCOME_REVIEW: "Good outcome review",
}
RETURN_STATE_LABELS: dict[str, str] = {
    "asked": "Asked",
    "received": "Received",
    "needs_changes": "Needs changes",
    "accepted": "Accepted",
    "nil_return": "Nil return",
}
DOCUMENT_STATUS_LABELS: dict[str, str] = {
    "accepted": "Accepted",
    "needs_changes": "Needs changes",
    "rejected": "Rejected",
}

# -- the queue's actions ---------------------------------------------------------------------

ReplyRule = Literal["never", "optional", "always"]


@dataclass(frozen=True)
class ActionSpec:
    """One action a person may take on an item: what the form asks and whether it replies.

    ``needs``: form fields that must be given; ``takes``: fields that may be (every action
    takes ``note``). Fields: "agency" (an agency id), "case_reference", "kind" (a CaseKind).
    ``reply``: "never"; "optional" (shown before it goes, ``send_reply`` "no" sends none);
    "always"."""

    id: str
    label: str
    hint: str
    needs: tuple[str, ...] = ()
    takes: tuple[str, ...] = ()
    reply: ReplyRule = "never"


_R = ExceptionReason
_SPECS: dict[tuple[ExceptionReason, str], ActionSpec] = {
    (_R.UNKNOWN_SENDER, "accept_as_agency"): ActionSpec(
        "accept_as_agency",
        "Accept as an agency",
        "The email is processed again as if it came from the agency chosen, and answered as usual.",
        needs=("agency",),
        reply="optional",
    ),
    (_R.UNKNOWN_SENDER, "reject"): ActionSpec(
        "reject", "Reject", "Its documents are marked rejected. No reply goes to an unknown sender."
    ),
    (_R.UNKNOWN_SENDER, "mark_junk"): ActionSpec("mark_junk", "Mark as junk", "Set aside without a reply."),
    (_R.NO_CASE, "link_to_case"): ActionSpec(
        "link_to_case",
        "Link to a case",
        "Its documents are filed under the case given.",
        ("case_reference",),
        (),
        "optional",
    ),
    (_R.NO_CASE, "open_new_case"): ActionSpec(
        "open_new_case",
        "Open a new case",
        "A new case is opened for the child the form names, and its documents filed there.",
        takes=("kind",),
        reply="optional",
    ),
    (_R.CASE_CONFLICT, "link_to_case"): ActionSpec(
        "link_to_case",
        "Link to another case",
        "Its documents are filed under the case given instead of the one the form names.",
        ("case_reference",),
        (),
        "optional",
    ),
    (_R.CASE_CONFLICT, "correct"): ActionSpec(
        "correct",
        "File under the case it names and ask for a correction",
        "Its documents are filed under the case the form names, as needing changes: the reply asks "
        "the agency to correct the child's details.",
        reply="optional",
    ),
    (_R.CASE_CONFLICT, "reject"): ActionSpec(
        "reject", "Reject", "Its documents are marked rejected.", reply="optional"
    ),
    (_R.POSSIBLE_DUPLICATE, "merge_into_case"): ActionSpec(
        "merge_into_case",
        "Merge into the existing case",
        "The referral is filed under the child's open case (or the case given).",
        takes=("case_reference",),
        reply="optional",
    ),
    (_R.POSSIBLE_DUPLICATE, "open_new_case"): ActionSpec(
        "open_new_case",
        "Open a new case",
        "A new case is opened from the referral although the child has an open case.",
        takes=("kind",),
        reply="optional",
    ),
    (_R.UNRECOGNISED_DOCUMENT, "file_as_supporting"): ActionSpec(
        "file_as_supporting",
        "File as a supporting document",
        "The file is kept on the case as a supporting document.",
        takes=("case_reference",),
    ),
    (_R.UNRECOGNISED_DOCUMENT, "reject"): ActionSpec(
        "reject", "Reject", "The file is marked rejected.", reply="optional"
    ),
    (_R.UNSAFE_FILE, "reject_with_reply"): ActionSpec(
        "reject_with_reply",
        "Reject and reply",
        "The file is marked rejected and the agency is asked to send it again.",
        reply="always",
    ),
    (_R.UNSAFE_FILE, "file_as_supporting"): ActionSpec(
        "file_as_supporting",
        "File as a supporting document",
        "The file is kept on the case as a supporting document.",
        takes=("case_reference",),
    ),
    (_R.NO_ATTACHMENT, "link_as_correspondence"): ActionSpec(
        "link_as_correspondence",
        "Link to a case as correspondence",
        "The email is kept on the case as correspondence.",
        ("case_reference",),
    ),
    (_R.NO_ATTACHMENT, "dismiss"): ActionSpec("dismiss", "Dismiss", "Nothing is filed."),
    (_R.PROCESSING_FAULT, "retry"): ActionSpec(
        "retry", "Retry", "The email is processed again now, and answered as usual."
    ),
}
assert {(r, a) for r, actions in ACTIONS.items() for a in actions} == set(_SPECS), "every action has a spec"


def action_specs(reason: str) -> tuple[ActionSpec, ...]:
    """The actions for an item of this reason, in core.cases.ACTIONS's order (none when unknown)."""
    try:
        known = ExceptionReason(reason)
    except ValueError:
        return ()
    return tuple(_SPECS[(known, a)] for a in ACTIONS[known])


def action_spec(reason: str, action: str) -> ActionSpec | None:
    return next((s for s in action_specs(reason) if s.id == action), None)


# -- the values a page shows -----------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    id: int
    reason: str
    reason_label: str
    agency: str | None
    sender: str | None
    subject: str | None
    case_reference: str | None
    opened: dt.datetime
    age_days: int
    documents: int


@dataclass(frozen=True)
class QueuePage:
    items: tuple[QueueRow, ...]
    #: open items matching every filter
    total: int
    #: open items per reason matching every filter but the reason (every reason present)
    counts_by_reason: dict[str, int]
    page: int
    pages: int
    per_page: int


@dataclass(frozen=True)
class FindingView:
    rule: str
    severity: str
    field: str | None
    field_label: str | None
    row: int | None
    message: str


@dataclass(frozen=True)
class ValueView:
    """One value read from a document: the printed label, the value as text, where it was."""

    label: str
    value: str
    where: str | None
    #: why it could not be read with confidence (never the value itself)
    problem: str | None = None
    #: the section, table or "Chronology" it belongs to
    group: str | None = None


@dataclass(frozen=True)
class DocumentView:
    id: int
    message_row_id: int
    position: int
    filename: str
    form: str | None
    form_title: str | None
    version: str | None
    agency: str | None
    status: str
    status_label: str
    version_no: int
    current: bool
    case_reference: str | None
    received: dt.datetime
    findings: tuple[FindingView, ...]
    values: tuple[ValueView, ...]


@dataclass(frozen=True)
class MessageView:
    id: int
    sender: str | None
    subject: str | None
    received: dt.datetime | None
    message_id: str | None
    #: "DMARC pass, DKIM pass, SPF pass (mx.example.org)"; None when not known
    authentication: str | None
    state: str
    reply_state: str


@dataclass(frozen=True)
class ReplyView:
    """A reply to the message: the automatic one, or one a person's action sent."""

    kind: Literal["automatic", "action"]
    exception_item_id: int | None
    state: str
    queued: dt.datetime
    sent: dt.datetime | None


@dataclass(frozen=True)
class HistoryEntry:
    at: dt.datetime
    actor: str
    action: str
    entity: str
    entity_id: str | None
    detail: Mapping[str, Any] | None


@dataclass(frozen=True)
class ItemView:
    id: int
    reason: str
    reason_label: str
    status: str
    agency: str | None
    case_reference: str | None
    opened: dt.datetime
    age_days: int
    closed: dt.datetime | None
    resolution: str | None
    actor: str | None
    note: str | None
    message: MessageView
    documents: tuple[DocumentView, ...]
    replies: tuple[ReplyView, ...]
    history: tuple[HistoryEntry, ...]
    #: what a person may do now (none once the item is closed)
    actions: tuple[ActionSpec, ...]


@dataclass(frozen=True)
class CaseRow:
    id: int
    reference: str
    kind: str
    kind_label: str
    status: str
    opened: dt.datetime
    #: documents received for the case (every version)
    documents: int


@dataclass(frozen=True)
class CasesPage:
    items: tuple[CaseRow, ...]
    total: int
    counts_by_status: dict[str, int]
    page: int
    pages: int
    per_page: int


@dataclass(frozen=True)
class ReturnView:
    agency: str
    form: str
    form_title: str
    state: str
    state_label: str
    due_date: dt.date | None
    overdue: bool
    updated: dt.datetime


@dataclass(frozen=True)
class AgencyReturns:
    agency: str
    agency_name: str
    returns: tuple[ReturnView, ...]


@dataclass(frozen=True)
class CaseView:
    id: int
    reference: str
    kind: str
    kind_label: str
    status: str
    opened: dt.datetime
    aware_date: dt.date | None
    period_from: dt.date | None
    period_to: dt.date | None
    child_name: str | None
    child_dob: dt.date | None
    returns: tuple[AgencyReturns, ...]
    #: every version of every document filed to the case, by agency, form and version
    documents: tuple[DocumentView, ...]
    open_items: tuple[QueueRow, ...]
    history: tuple[HistoryEntry, ...]


# -- the queue -------------------------------------------------------------------------------


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _paging(total: int, page: int, per_page: int) -> tuple[int, int, int]:
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    pages = max(1, math.ceil(total / per_page))
    page = max(1, min(page, pages))
    return page, pages, per_page


def _age(opened: dt.datetime, now: dt.datetime) -> int:
    return max(0, (now - opened).days)


def _documents_of_message() -> Any:
    return (
        select(func.count())
        .select_from(Document)
        .where(col(Document.message_row_id) == col(ExceptionItem.message_row_id))
        .correlate(ExceptionItem)
        .scalar_subquery()
    )


def queue_page(
    uow: UnitOfWork,
    *,
    reason: str | None = None,
    agency: str | None = None,
    case_reference: str | None = None,
    search: str | None = None,
    sort: str = "oldest",
    page: int = 1,
    per_page: int = 50,
    now: dt.datetime | None = None,
) -> QueuePage:
    """Open items, filtered, sorted and paged. ``search`` looks in the sender, the subject and
    the case reference (case-insensitive). An unknown ``sort`` sorts oldest first."""
    now = now or _utcnow()
    session = uow.session
    filters: list[ColumnElement[bool]] = [col(ExceptionItem.status) == "open"]
    if agency:
        filters.append(col(ExceptionItem.agency) == agency)
    if case_reference:
        filters.append(col(Case.reference) == case_reference.strip().upper())
    if search and search.strip():
        pattern = _like(search.strip())
        filters.append(
            or_(
                col(Message.subject).ilike(pattern, escape="\\"),
                col(Message.sender).ilike(pattern, escape="\\"),
                col(Case.reference).ilike(pattern, escape="\\"),
            )
        )
    need_message = bool(search and search.strip())
    need_case = bool(case_reference) or need_message

    counts_query = select(ExceptionItem.reason, func.count()).select_from(ExceptionItem)
    if need_message:
        counts_query = counts_query.join(Message, col(Message.id) == col(ExceptionItem.message_row_id))
    if need_case:
        counts_query = counts_query.outerjoin(Case, col(Case.id) == col(ExceptionItem.case_id))
    counts = dict.fromkeys((r.value for r in ExceptionReason), 0)
    for found_reason, n in session.exec(counts_query.where(*filters).group_by(col(ExceptionItem.reason))).all():
        counts[found_reason] = n
    total = counts.get(reason, 0) if reason else sum(counts.values())
    page, pages, per_page = _paging(total, page, per_page)

    if reason:
        filters.append(col(ExceptionItem.reason) == reason)
    order: list[Any]
    oldest = [col(ExceptionItem.opened_at), col(ExceptionItem.id)]
    if sort == "newest":
        order = [col(ExceptionItem.opened_at).desc(), col(ExceptionItem.id).desc()]
    elif sort == "reason":
        order = [col(ExceptionItem.reason), *oldest]
    elif sort == "agency":
        order = [col(ExceptionItem.agency).is_(None), col(ExceptionItem.agency), *oldest]
    else:
        order = oldest
    # the page's ids first, on the items alone (joined only where a filter needs it): a deep
    # page or a sort by agency then skips or sorts the items' own rows, and the messages, the
    # cases and the documents' counts are looked up for the page's rows only
    page_ids = sa_select(col(ExceptionItem.id)).select_from(ExceptionItem)
    if need_message:
        page_ids = page_ids.join(Message, col(Message.id) == col(ExceptionItem.message_row_id))
    if need_case:
        page_ids = page_ids.outerjoin(Case, col(Case.id) == col(ExceptionItem.case_id))
    on_page = (
        page_ids.where(*filters).order_by(*order).offset((page - 1) * per_page).limit(per_page).subquery("on_page")
    )
    rows = session.execute(
        sa_select(
            col(ExceptionItem.id),
            col(ExceptionItem.reason),
            col(ExceptionItem.agency),
            col(ExceptionItem.opened_at),
            col(Message.sender),
            col(Message.subject),
            col(Case.reference),
            _documents_of_message(),
        )
        .select_from(on_page)
        .join(ExceptionItem, col(ExceptionItem.id) == on_page.c.id)
        .join(Message, col(Message.id) == col(ExceptionItem.message_row_id))
        .outerjoin(Case, col(Case.id) == col(ExceptionItem.case_id))
        .order_by(*order)
    ).all()
    items = tuple(
        QueueRow(
            id=item_id,
            reason=item_reason,
            reason_label=REASON_LABELS.get(item_reason, item_reason),
            agency=item_agency,
            sender=sender,
            subject=subject,
            case_reference=reference,
            opened=opened,
            age_days=_age(opened, now),
            documents=int(documents or 0),
        )
        for item_id, item_reason, item_agency, opened, sender, subject, reference, documents in rows
    )
    return QueuePage(items=items, total=total, counts_by_reason=counts, page=page, pages=pages, per_page=per_page)


def queue_item(
    uow: UnitOfWork,
    item_id: int,
    forms: FormsContext | Catalogue,
    *,
    authentication: Callable[[str], str | None] | None = None,
    now: dt.datetime | None = None,
) -> ItemView | None:
    """One item (open or closed) with its message's metadata, its documents (findings and the
    values read, labelled from the catalogue), its replies, its history and the actions open
    to a person. ``authentication``: given the message's blob digest, a summary of the
    trusted Authentication-Results (intake reads it; storage does not parse mail)."""
    now = now or _utcnow()
    session = uow.session
    found = session.exec(
        select(ExceptionItem, Message, Case.reference)
        .join(Message, col(Message.id) == col(ExceptionItem.message_row_id))
        .outerjoin(Case, col(Case.id) == col(ExceptionItem.case_id))
        .where(col(ExceptionItem.id) == item_id)
    ).first()
    if found is None:
        return None
    item, message, reference = found
    assert item.id is not None and message.id is not None
    catalogue = _catalogue(forms)
    documents = _documents(uow, [col(Document.message_row_id) == message.id], catalogue, values=True)
    replies = tuple(
        ReplyView(
            kind="automatic" if o.exception_item_id is None else "action",
            exception_item_id=o.exception_item_id,
            state=o.state,
            queued=o.created_at,
            sent=o.sent_at,
        )
        for o in session.exec(
            select(OutboxItem).where(col(OutboxItem.message_row_id) == message.id).order_by(col(OutboxItem.id))
        ).all()
    )
    sibling_items = session.exec(select(ExceptionItem.id).where(col(ExceptionItem.message_row_id) == message.id)).all()
    history = _history(
        uow,
        {
            "exception_item": [str(i) for i in sibling_items],
            "message": [str(message.id)],
            "document": [str(d.id) for d in documents],
        },
    )
    return ItemView(
        id=item.id,
        reason=item.reason,
        reason_label=REASON_LABELS.get(item.reason, item.reason),
        status=item.status,
        agency=item.agency,
        case_reference=reference,
        opened=item.opened_at,
        age_days=_age(item.opened_at, now),
        closed=item.closed_at,
        resolution=item.resolution,
        actor=item.actor,
        note=item.note,
        message=MessageView(
            id=message.id,
            sender=message.sender,
            subject=message.subject,
            received=message.received_at,
            message_id=message.message_id,
            authentication=authentication(message.blob) if authentication is not None else None,
            state=message.state,
            reply_state=message.reply_state,
        ),
        documents=documents,
        replies=replies,
        history=history,
        actions=action_specs(item.reason) if item.status == "open" else (),
    )


# -- cases -----------------------------------------------------------------------------------


def cases_page(
    uow: UnitOfWork,
    *,
    status: str | None = None,
    kind: str | None = None,
    search: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> CasesPage:
    """Cases, newest first. ``search`` looks in the reference only (a child's name is not
    searched: it would travel in the page's address)."""
    session = uow.session
    filters: list[ColumnElement[bool]] = []
    if kind:
        filters.append(col(Case.kind) == kind)
    if search and search.strip():
        filters.append(col(Case.reference).ilike(_like(search.strip()), escape="\\"))
    counts = {"open": 0, "closed": 0}
    for found_status, n in session.exec(
        select(Case.status, func.count()).where(*filters).group_by(col(Case.status))
    ).all():
        counts[found_status] = n
    total = counts.get(status, 0) if status else sum(counts.values())
    page, pages, per_page = _paging(total, page, per_page)
    if status:
        filters.append(col(Case.status) == status)
    documents = (
        select(func.count())
        .select_from(Document)
        .where(col(Document.case_id) == col(Case.id))
        .correlate(Case)
        .scalar_subquery()
    )
    rows = session.execute(
        sa_select(col(Case.id), col(Case.reference), col(Case.kind), col(Case.status), col(Case.opened_at), documents)
        .where(*filters)
        .order_by(col(Case.opened_at).desc(), col(Case.id).desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    items = tuple(
        CaseRow(
            id=case_id,
            reference=reference,
            kind=case_kind,
            kind_label=KIND_LABELS.get(case_kind, case_kind),
            status=case_status,
            opened=opened,
            documents=int(n or 0),
        )
        for case_id, reference, case_kind, case_status, opened, n in rows
    )
    return CasesPage(items=items, total=total, counts_by_status=counts, page=page, pages=pages, per_page=per_page)


def case_view(
    uow: UnitOfWork,
    reference: str,
    forms: FormsContext | Catalogue,
    *,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
    with_values: bool = False,
) -> CaseView | None:
    """A case: the expected returns by agency (state, due date, overdue), every document
    version with its findings (and, ``with_values``, the values read), the open items about
    it, and its history (entries on the case, its messages, documents and items)."""
    now = now or _utcnow()
    today = today or now.date()
    session = uow.session
    case = session.exec(select(Case).where(col(Case.reference) == reference.strip().upper())).first()
    if case is None:
        return None
    assert case.id is not None
    catalogue = _catalogue(forms)
    agencies = forms.agencies if isinstance(forms, FormsContext) else None

    expected = session.exec(
        select(ExpectedReturn)
        .where(col(ExpectedReturn.case_id) == case.id)
        .order_by(col(ExpectedReturn.agency), col(ExpectedReturn.form))
    ).all()
    by_agency: dict[str, list[ReturnView]] = {}
    for r in expected:
        form = catalogue.find(r.form, None) if r.form else None
        by_agency.setdefault(r.agency, []).append(
            ReturnView(
                agency=r.agency,
                form=r.form,
                form_title=form.form.title if form is not None else r.form,
                state=r.state,
                state_label=RETURN_STATE_LABELS.get(r.state, r.state),
                due_date=r.due_date,
                overdue=r.due_date is not None and r.due_date < today and r.state in ("asked", "needs_changes"),
                updated=r.updated_at,
            )
        )
    returns = tuple(
        AgencyReturns(agency=a, agency_name=_agency_name(agencies, a), returns=tuple(rs)) for a, rs in by_agency.items()
    )

    documents = _documents(uow, [col(Document.case_id) == case.id], catalogue, values=with_values)
    items = session.execute(
        sa_select(
            col(ExceptionItem.id),
            col(ExceptionItem.reason),
            col(ExceptionItem.agency),
            col(ExceptionItem.opened_at),
            col(ExceptionItem.status),
            col(ExceptionItem.message_row_id),
            col(Message.sender),
            col(Message.subject),
            _documents_of_message(),
        )
        .join(Message, col(Message.id) == col(ExceptionItem.message_row_id))
        .where(col(ExceptionItem.case_id) == case.id)
        .order_by(col(ExceptionItem.opened_at), col(ExceptionItem.id))
    ).all()
    open_items = tuple(
        QueueRow(
            id=item_id,
            reason=item_reason,
            reason_label=REASON_LABELS.get(item_reason, item_reason),
            agency=item_agency,
            sender=sender,
            subject=subject,
            case_reference=case.reference,
            opened=opened,
            age_days=_age(opened, now),
            documents=int(n or 0),
        )
        for item_id, item_reason, item_agency, opened, item_status, _, sender, subject, n in items
        if item_status == "open"
    )
    message_ids = set(session.exec(select(Message.id).where(col(Message.case_id) == case.id)).all())
    message_ids.update(d.message_row_id for d in documents)
    message_ids.update(row[5] for row in items)
    history = _history(
        uow,
        {
            "case": [str(case.id)],
            "message": sorted(str(m) for m in message_ids if m is not None),
            "document": [str(d.id) for d in documents],
            "exception_item": [str(row[0]) for row in items],
        },
    )
    return CaseView(
        id=case.id,
        reference=case.reference,
        kind=case.kind,
        kind_label=KIND_LABELS.get(case.kind, case.kind),
        status=case.status,
        opened=case.opened_at,
        aware_date=case.aware_date,
        period_from=case.period_from,
        period_to=case.period_to,
        child_name=case.child_name,
        child_dob=case.child_dob,
        returns=returns,
        documents=documents,
        open_items=open_items,
        history=history,
    )


# -- shared pieces ---------------------------------------------------------------------------


def _catalogue(forms: FormsContext | Catalogue) -> Catalogue:
    return forms.catalogue if isinstance(forms, FormsContext) else forms


def _agency_name(agencies: Any, agency_id: str) -> str:
    found = agencies.get(agency_id) if agencies is not None else None
    return found.name if found is not None else agency_id


def _documents(
    uow: UnitOfWork, where: Sequence[ColumnElement[bool]], catalogue: Catalogue, *, values: bool
) -> tuple[DocumentView, ...]:
    """Documents with their case's reference and their findings: two queries. Without
    ``values`` the values read (the biggest column by far) are not fetched."""
    query = select(Document, Case.reference)
    if not values:
        query = query.options(defer(Document.values))  # type: ignore[arg-type]
    rows = uow.session.exec(
        query.outerjoin(Case, col(Case.id) == col(Document.case_id))
        .where(*where)
        .order_by(
            col(Document.agency),
            col(Document.form),
            col(Document.version_no),
            col(Document.message_row_id),
            col(Document.position),
            col(Document.id),
        )
    ).all()
    ids = [d.id for d, _ in rows if d.id is not None]
    findings: dict[int, list[Finding]] = {i: [] for i in ids}
    if ids:
        for f in uow.session.exec(
            select(Finding).where(col(Finding.document_id).in_(ids)).order_by(col(Finding.id))
        ).all():
            findings[f.document_id].append(f)
    views = []
    for doc, reference in rows:
        assert doc.id is not None
        form = catalogue.find(doc.form, doc.version) if doc.form else None
        views.append(
            DocumentView(
                id=doc.id,
                message_row_id=doc.message_row_id,
                position=doc.position,
                filename=doc.filename,
                form=doc.form,
                form_title=form.form.title if form is not None else None,
                version=doc.version,
                agency=doc.agency,
                status=doc.status,
                status_label=DOCUMENT_STATUS_LABELS.get(doc.status, doc.status),
                version_no=doc.version_no,
                current=doc.current,
                case_reference=reference,
                received=doc.created_at,
                findings=tuple(
                    FindingView(
                        rule=f.rule,
                        severity=f.severity,
                        field=f.field,
                        field_label=label_of(form, f.field),
                        row=f.row,
                        message=f.message,
                    )
                    for f in findings[doc.id]
                ),
                values=document_values(doc.values, form, doc.filename) if values else (),
            )
        )
    return tuple(views)


def _history(uow: UnitOfWork, entities: Mapping[str, Iterable[str]]) -> tuple[HistoryEntry, ...]:
    """Audit entries on any of the entities, oldest first (looks left out)."""
    clauses = [
        and_(col(AuditEntry.entity) == entity, col(AuditEntry.entity_id).in_(list(ids)))
        for entity, ids in entities.items()
        if ids
    ]
    if not clauses:
        return ()
    query = select(AuditEntry).where(or_(*clauses))
    for suffix in LOOK_SUFFIXES:
        query = query.where(col(AuditEntry.action).not_like(f"%{suffix}"))
    entries = uow.session.exec(
        query.order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc()).limit(HISTORY_LIMIT)
    ).all()
    return tuple(
        HistoryEntry(at=e.at, actor=e.actor, action=e.action, entity=e.entity, entity_id=e.entity_id, detail=e.detail)
        for e in reversed(entries)
    )


def label_of(form: FormDef | None, field_id: str | None) -> str | None:
    """The printed label of a field, a chronology column or a table column, by its id."""
    if form is None or field_id is None:
        return None
    for f in form.fields:
        if f.id == field_id:
            return f.label
    for c in form.events:
        if c.id == field_id:
            return c.label
    for f in form.fields:
        for c in f.columns:
            if c.id == field_id:
                return c.label
    return None


def display_value(value: Any) -> str:
    """A stored (normalised) value as a person reads it: Yes/No, ticked options joined."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return "; ".join(display_value(v) for v in value)
    return str(value)


def _where(location: Any) -> str | None:
    if not isinstance(location, dict):
        return None
    try:
        return Location.model_validate(location).describe()
    except ValueError:
        return None


def document_values(values: Mapping[str, Any], form: FormDef | None, filename: str = "") -> tuple[ValueView, ...]:
    """The values read from a document (its stored ``fields`` / ``tables`` / ``rows``), in the
    form's order, each with the catalogue's label and where it was found. Fields the catalogue
    version does not know are shown last under their ids."""
    fields: Mapping[str, Any] = values.get("fields") or {}
    tables: Mapping[str, Any] = values.get("tables") or {}
    rows: Sequence[Mapping[str, Any]] = values.get("rows") or []
    out: list[ValueView] = []
    shown: set[str] = set()
    if form is not None:
        sections = {s.id: s.title for s in form.sections}
        for f in form.fields:
            if f.type == "table":
                shown.add(f.id)
                for table_row in tables.get(f.id) or []:
                    number = table_row.get("row")
                    at = f"{f.label}, row {number}" if number is not None else f.label
                    for c in f.columns:
                        if c.id in table_row:
                            out.append(ValueView(c.label, display_value(table_row[c.id]), at, group=f.label))
                continue
            if f.id in fields:
                shown.add(f.id)
                found = fields[f.id] if isinstance(fields[f.id], dict) else {"value": fields[f.id]}
                out.append(
                    ValueView(
                        f.label,
                        display_value(found.get("value")),
                        _where(found.get("location")),
                        found.get("problem"),
                        sections.get(f.section),
                    )
                )
        spreadsheet = filename.lower().endswith((".xlsx", ".xlsm"))
        for event in rows:
            number = event.get("row")
            where: str | None = None
            if number is None:
                pass
            elif spreadsheet:
                where = f"sheet '{form.form.events_sheet}', row {number}"
            else:
                where = f"row {number}"
            for c in form.events:
                if c.id in event:
                    out.append(ValueView(c.label, display_value(event[c.id]), where, group="Chronology"))
    for field_id, found in fields.items():
        if field_id in shown:
            continue
        read = found if isinstance(found, dict) else {"value": found}
        out.append(
            ValueView(field_id, display_value(read.get("value")), _where(read.get("location")), read.get("problem"))
        )
    return tuple(out)


__all__ = [
    "KIND_LABELS",
    "REASON_LABELS",
    "RETURN_STATE_LABELS",
    "SORTS",
    "ActionSpec",
    "AgencyReturns",
    "CaseRow",
    "CaseView",
    "CasesPage",
    "DocumentView",
    "FindingView",
    "HistoryEntry",
    "ItemView",
    "MessageView",
    "QueuePage",
    "QueueRow",
    "ReplyView",
    "ValueView",
    "action_spec",
    "action_specs",
    "case_view",
    "cases_page",
    "display_value",
    "document_values",
    "label_of",
    "queue_item",
    "queue_page",
]
