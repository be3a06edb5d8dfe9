"""The exception queue: /queue (filtered, sorted, paged, counted by reason), /queue/{id} (an
item: its email's metadata, its documents with findings and values, its replies, history and
actions), the originals to download, and the actions (preview of the reply, then perform).

    GET  /queue                                          business unit, viewer
    GET  /queue/{item_id}                                business unit, viewer   (audited)
    GET  /queue/{item_id}/documents/{position}/download  business unit, viewer   (audited)
    GET  /queue/{item_id}/message/download               business unit, viewer   (audited)
    POST /queue/{item_id}/actions/{action}/preview       business unit           (changes nothing)
    POST /queue/{item_id}/actions/{action}/perform       business unit           (audited by the action)

The queue changes only through ``services.actions`` (web.ports.QueueActions); the pages read
through storage.queries. The email's HTML body is never read, let alone rendered.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response

from core.errors import IntakeError
from storage.queries import (
    KIND_LABELS,
    REASON_LABELS,
    SORTS,
    ActionSpec,
    HistoryEntry,
    ItemView,
    queue_item,
    queue_page,
)
from storage.uow import UnitOfWork
from web.auth import Principal, get_services, record, require
from web.ports import ReplyPreview, Role, WebServices
from web.rendering import page_number, paginate, render
from web.security import download_response

router = APIRouter()

#: who may read the queue and the cases; only the business unit acts
READERS: tuple[Role, ...] = (Role.BUSINESS_UNIT, Role.VIEWER)
Reader = Annotated[Principal, Depends(require(*READERS))]
Worker = Annotated[Principal, Depends(require(Role.BUSINESS_UNIT))]

SORT_OPTIONS: tuple[tuple[str, str], ...] = (
    ("oldest", "Oldest first"),
    ("newest", "Newest first"),
    ("reason", "Reason"),
    ("agency", "Agency"),
)
assert {s for s, _ in SORT_OPTIONS} == set(SORTS)
#: the fields an action's form may carry (besides the CSRF token)
ACTION_FIELDS = ("note", "agency", "case_reference", "kind")
#: generous limits: the actions give the person a proper message for a long note or reply
NOTE_MAX = 10_000
REPLY_MAX = 100_000
MAX_REFERENCE = 40
MAX_SEARCH = 100
SEVERITY_COLOURS = {"error": "red", "warning": "yellow", "info": "blue"}
STATUS_COLOURS = {
    "accepted": "green",
    "needs_changes": "yellow",
    "rejected": "red",
    "open": "blue",
    "closed": "grey",
    "asked": "grey",
    "received": "light-blue",
    "nil_return": "turquoise",
}
REPLY_STATE_LABELS = {"queued": "Waiting to be sent", "sent": "Sent", "failed": "Could not be sent"}


# -- shared by the queue's and the cases' pages ------------------------------------------------


def agency_name(services: WebServices, agency_id: str | None) -> str:
    if not agency_id:
        return ""
    found = services.forms.agencies.get(agency_id)
    return found.name if found is not None else agency_id


def agency_options(services: WebServices, first: str) -> list[tuple[str, str]]:
    return [("", first), *((a.id, a.name) for a in services.forms.agencies.agencies)]


def words(action: str) -> str:
    """An audit action as words: "queue.link_to_case" -> "Queue: link to case"."""
    head, _, tail = action.partition(".")
    text = f"{head}: {tail}" if tail else head
    text = text.replace("_", " ").replace(".", " ")
    return text[:1].upper() + text[1:]


def detail_text(detail: Mapping[str, Any] | None) -> str:
    if not detail:
        return ""
    parts = []
    for key, value in sorted(detail.items()):
        if value is None or value in ([], ""):
            continue
        shown = ", ".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
        parts.append(f"{key.replace('_', ' ')}: {shown}")
    return "; ".join(parts)


@dataclass(frozen=True)
class HistoryRow:
    at: dt.datetime
    actor: str
    what: str
    record: str
    detail: str


def history_rows(entries: Iterable[HistoryEntry]) -> list[HistoryRow]:
    return [
        HistoryRow(
            at=e.at,
            actor=e.actor,
            what=words(e.action),
            record=f"{e.entity.replace('_', ' ')} {e.entity_id}" if e.entity_id else e.entity.replace("_", " "),
            detail=detail_text(e.detail),
        )
        for e in entries
    ]


def query_text(request: Request, name: str, limit: int) -> str:
    return request.query_params.get(name, "").strip()[:limit]


# -- the queue ---------------------------------------------------------------------------------


@router.get("/queue")
def queue_list(request: Request, user: Reader) -> Response:
    return _queue(request, search="")


@router.post("/queue/search")
def queue_search(
    request: Request, user: Reader, q: Annotated[str | None, Form(max_length=MAX_SEARCH)] = None
) -> Response:
    """A search by words (a sender's address, a subject) is posted, never put in the page's
    address: it may be personal data, and addresses end up in histories and logs. It
    changes nothing; the filters that are not personal (reason, agency, case) stay in the
    address so that they can be bookmarked."""
    return _queue(request, search=(q or "").strip()[:MAX_SEARCH])


def _queue(request: Request, *, search: str) -> Response:
    services = get_services(request)
    known_agencies = {a.id for a in services.forms.agencies.agencies}
    reason = query_text(request, "reason", 40)
    reason = reason if reason in REASON_LABELS else ""
    agency = query_text(request, "agency", 40)
    agency = agency if agency in known_agencies else ""
    case = query_text(request, "case", MAX_REFERENCE).upper()
    sort = query_text(request, "sort", 10)
    sort = sort if sort in SORTS else "oldest"
    size = services.settings.page_size
    with UnitOfWork(services.engine) as uow:
        found = queue_page(
            uow,
            reason=reason or None,
            agency=agency or None,
            case_reference=case or None,
            search=search or None,
            sort=sort,
            page=page_number(request.query_params.get("page")),
            per_page=size,
            now=services.clock.now(),
        )
    paging = paginate(request, page=found.page, page_size=found.per_page, total=found.total)
    chosen = {"reason": reason, "agency": agency, "case": case, "q": search, "sort": sort}

    def with_reason(value: str) -> str:
        query = {
            k: v for k, v in chosen.items() if v and k not in ("reason", "q") and not (k == "sort" and v == "oldest")
        }
        if value:
            query["reason"] = value
        return "/queue" + ("?" + urlencode(query) if query else "")

    counts = [
        {"reason": key, "label": label, "count": found.counts_by_reason.get(key, 0), "href": with_reason(key)}
        for key, label in REASON_LABELS.items()
    ]
    rows = [
        {
            "id": item.id,
            "reason": item.reason_label,
            "agency": agency_name(services, item.agency),
            "sender": item.sender or "",
            "subject": item.subject or "",
            "opened": item.opened,
            "case": item.case_reference,
        }
        for item in found.items
    ]
    return render(
        request,
        "queue.html",
        {
            "rows": rows,
            "paging": paging,
            "filter_query": urlencode({k: v for k, v in chosen.items() if v and k != "q"}),
            "counts": counts,
            "all_reasons_href": with_reason(""),
            "all_reasons_count": sum(found.counts_by_reason.values()),
            "chosen": chosen,
            "filtered": any(v for k, v in chosen.items() if k != "sort"),
            "reason_options": [("", "All reasons"), *REASON_LABELS.items()],
            "agency_options": agency_options(services, "All agencies"),
            "sort_options": SORT_OPTIONS,
        },
    )


# -- an item -----------------------------------------------------------------------------------


def _load_item(services: WebServices, item_id: int) -> ItemView:
    summary = getattr(services.actions, "authentication", None)
    with UnitOfWork(services.engine) as uow:
        item = queue_item(
            uow,
            item_id,
            services.forms,
            authentication=summary if callable(summary) else None,
            now=services.clock.now(),
        )
    if item is None:
        raise HTTPException(status_code=404)
    return item


def field_id(action: str, field: str) -> str:
    """The id of an action form's input (several forms on one page each have a note)."""
    return f"{action}-{field}" if field else ""


def _item_page(
    request: Request,
    user: Principal,
    item: ItemView,
    *,
    errors: Mapping[str, str] | None = None,
    posted: Mapping[str, Mapping[str, str]] | None = None,
    done: str | None = None,
    done_case: str | None = None,
    status_code: int = 200,
) -> Response:
    services = get_services(request)
    may_act = user.role == Role.BUSINESS_UNIT
    return render(
        request,
        "item.html",
        {
            "item": item,
            "agency_label": agency_name(services, item.agency),
            "documents": [
                {"doc": d, "agency": agency_name(services, d.agency), "colour": STATUS_COLOURS.get(d.status)}
                for d in item.documents
            ],
            "history": history_rows(item.history),
            "replies": [
                {
                    "kind": "Automatic reply" if r.kind == "automatic" else "Reply to an action",
                    "state": REPLY_STATE_LABELS.get(r.state, r.state),
                    "queued": r.queued,
                    "sent": r.sent,
                }
                for r in item.replies
            ],
            "actions": item.actions if may_act else (),
            "may_act": may_act,
            "errors": dict(errors or {}),
            "posted": posted or {},
            "done": done,
            "done_case": done_case,
            "agency_options": agency_options(services, "Select an agency"),
            "kind_options": [("", "As the referral says"), *KIND_LABELS.items()],
            "severity_colours": SEVERITY_COLOURS,
            "status_colours": STATUS_COLOURS,
        },
        status_code=status_code,
    )


@router.get("/queue/{item_id}")
def item_page(request: Request, item_id: int, user: Reader) -> Response:
    services = get_services(request)
    item = _load_item(services, item_id)
    record(services, user.audit_name, "exception_item.viewed", "exception_item", item.id)
    return _item_page(request, user, item)


@router.get("/queue/{item_id}/documents/{position}/download")
def download_document(request: Request, item_id: int, position: int, user: Reader) -> Response:
    """One original attachment of the item's email, byte for byte, as an attachment."""
    services = get_services(request)
    with UnitOfWork(services.engine) as uow:
        item = uow.queue.get(item_id)
        if item is None:
            raise HTTPException(status_code=404)
        found = [d for d in uow.documents.for_message(item.message_row_id) if d.position == position]
        if not found:
            raise HTTPException(status_code=404)
        document = found[0]
        document_id, blob, filename = document.id, document.blob, document.filename
    data = original_bytes(services, blob)
    record(services, user.audit_name, "document.downloaded", "document", document_id, item=item_id, position=position)
    return download_response(data, filename)


@router.get("/queue/{item_id}/message/download")
def download_message(request: Request, item_id: int, user: Reader) -> Response:
    """The whole email as it arrived (.eml), as an attachment."""
    services = get_services(request)
    with UnitOfWork(services.engine) as uow:
        item = uow.queue.get(item_id)
        message = uow.messages.get(item.message_row_id) if item is not None else None
        if message is None:
            raise HTTPException(status_code=404)
        message_id, blob = message.id, message.blob
    data = original_bytes(services, blob)
    record(services, user.audit_name, "message.downloaded", "message", message_id, item=item_id)
    return download_response(data, f"email-{message_id}.eml")


def original_bytes(services: WebServices, digest: str) -> bytes:
    try:
        return services.blobs.get(digest)
    except (KeyError, FileNotFoundError, OSError):  # deleted on the retention schedule
        raise HTTPException(status_code=404) from None


# -- the actions ---------------------------------------------------------------------------------


def _spec(item: ItemView, action: str) -> ActionSpec | None:
    return next((s for s in item.actions if s.id == action), None)


def _posted(**values: str | None) -> dict[str, str]:
    return {k: v for k, v in values.items() if v is not None}


def _refused(
    request: Request, user: Principal, item: ItemView, action: str, field: str, message: str, posted: dict[str, str]
) -> Response:
    """The item page again with the error summary linking to the action's field."""
    if not item.actions:  # dealt with meanwhile: there is no form to point at
        key, status = "", 409
    elif _spec(item, action) is None:
        key, status = "", 400
    else:
        key, status = (field_id(action, field) if field in ACTION_FIELDS else f"action-{action}"), 400
    return _item_page(
        request,
        user,
        item,
        errors={key: message},
        posted={action: posted},
        status_code=status,
    )


def _preview_page(
    request: Request,
    item: ItemView,
    spec: ActionSpec,
    form: Mapping[str, str],
    preview: ReplyPreview | None,
    *,
    reply_body: str | None = None,
    send_reply: str = "yes",
    errors: Mapping[str, str] | None = None,
) -> Response:
    services = get_services(request)
    chosen = []
    if form.get("agency"):
        chosen.append(("Agency", agency_name(services, form["agency"])))
    if form.get("case_reference"):
        chosen.append(("Case reference", form["case_reference"]))
    if form.get("kind"):
        chosen.append(("Kind of review", KIND_LABELS.get(form["kind"], form["kind"])))
    chosen.append(("Note", form.get("note") or ""))
    return render(
        request,
        "item_preview.html",
        {
            "item": item,
            "spec": spec,
            "form": {k: form.get(k, "") for k in ACTION_FIELDS},
            "chosen": chosen,
            "preview": preview,
            "reply_body": reply_body if reply_body is not None else (preview.body if preview else ""),
            "send_reply": send_reply,
            "errors": dict(errors or {}),
        },
        status_code=400 if errors else 200,
    )


@router.post("/queue/{item_id}/actions/{action}/preview")
def preview_action(
    request: Request,
    item_id: int,
    action: str,
    user: Worker,
    note: Annotated[str | None, Form(max_length=NOTE_MAX)] = None,
    agency: Annotated[str | None, Form(max_length=200)] = None,
    case_reference: Annotated[str | None, Form(max_length=200)] = None,
    kind: Annotated[str | None, Form(max_length=40)] = None,
) -> Response:
    """The reply the action would send, to read and edit before it goes. Changes nothing."""
    services = get_services(request)
    item = _load_item(services, item_id)
    form = _posted(note=note, agency=agency, case_reference=case_reference, kind=kind)
    spec = _spec(item, action)
    if spec is None:
        message = "That action is not available for this item." if item.actions else "This item has been dealt with."
        return _refused(request, user, item, action, "", message, form)
    try:
        preview = services.actions.preview_reply(item_id, action, form)
    except IntakeError as exc:  # intake's ActionRefused: a message for the person, and its field
        message = str(getattr(exc, "message", "") or exc)
        return _refused(request, user, item, action, str(getattr(exc, "field", "") or ""), message, form)
    return _preview_page(request, item, spec, form, preview)


@router.post("/queue/{item_id}/actions/{action}/perform")
def perform_action(
    request: Request,
    item_id: int,
    action: str,
    user: Worker,
    note: Annotated[str | None, Form(max_length=NOTE_MAX)] = None,
    agency: Annotated[str | None, Form(max_length=200)] = None,
    case_reference: Annotated[str | None, Form(max_length=200)] = None,
    kind: Annotated[str | None, Form(max_length=40)] = None,
    send_reply: Annotated[str | None, Form(max_length=10)] = None,
    reply_body: Annotated[str | None, Form(max_length=REPLY_MAX)] = None,
    composed: Annotated[str | None, Form(max_length=REPLY_MAX)] = None,
) -> Response:
    """Do the action (with the reply as the person left it). Success: the item page with a
    banner and the case's link; a refusal: the form again with the error summary."""
    services = get_services(request)
    item = _load_item(services, item_id)
    form = _posted(note=note, agency=agency, case_reference=case_reference, kind=kind)
    spec = _spec(item, action)
    if spec is None:
        message = "That action is not available for this item." if item.actions else "This item has been dealt with."
        return _refused(request, user, item, action, "", message, form)
    sent = dict(form)
    if send_reply is not None:
        sent["send_reply"] = send_reply
    # the reply as shown is sent as shown; an untouched one is left to the action to compose
    # (the same text), so the audit trail records an edit only when there was one
    if reply_body is not None and not (composed is not None and _same_text(reply_body, composed)):
        sent["reply_body"] = reply_body
    result = services.actions.perform(item_id, action, sent, user.actor)
    if not result.ok:
        field, message = next(iter(result.errors.items()), ("", result.message))
        message = message or result.message
        if field in ("reply_body", "send_reply") and reply_body is not None:
            preview = ReplyPreview(to="", subject="", body=composed or "")
            with contextlib.suppress(IntakeError):
                preview = services.actions.preview_reply(item_id, action, form) or preview
            return _preview_page(
                request,
                item,
                spec,
                form,
                preview,
                reply_body=reply_body,
                send_reply=send_reply or "yes",
                errors={field: message},
            )
        return _refused(request, user, _load_item(services, item_id), action, field, message, form)
    return _item_page(
        request, user, _load_item(services, item_id), done=result.message or "Done", done_case=result.case_reference
    )


def _same_text(a: str, b: str) -> bool:
    def tidy(text: str) -> str:
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        return "\n".join(line.rstrip() for line in lines).strip("\n")

    return tidy(a) == tidy(b)
