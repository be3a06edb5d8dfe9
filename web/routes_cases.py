"""The cases: /cases (filtered by status and kind, searched by reference, paged) and
/cases/{reference} (the summary, the expected returns by agency, every document version with
its findings and original, the open items, the history).

    GET /cases                                                 business unit, viewer
    GET /cases/{reference}                                     business unit, viewer   (audited)
    GET /cases/{reference}/documents/{document_id}/download    business unit, viewer   (audited)

The child's name and date of birth are shown on the case page to those allowed to read it, and
never put in an address, a title or the audit trail (the page's address and title carry the
case reference only; the list is searched by reference only).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response

from storage.queries import KIND_LABELS, case_view, cases_page
from storage.uow import UnitOfWork
from web.auth import get_services, record
from web.rendering import page_number, paginate, render
from web.routes_queue import (
    MAX_REFERENCE,
    SEVERITY_COLOURS,
    STATUS_COLOURS,
    Reader,
    agency_name,
    history_rows,
    original_bytes,
    query_text,
)
from web.security import download_response

router = APIRouter()

STATUS_OPTIONS: tuple[tuple[str, str], ...] = (("", "Open and closed"), ("open", "Open"), ("closed", "Closed"))


@router.get("/cases")
def cases_list(request: Request, user: Reader) -> Response:
    services = get_services(request)
    status = query_text(request, "status", 10)
    status = status if status in ("open", "closed") else ""
    kind = query_text(request, "kind", 40)
    kind = kind if kind in KIND_LABELS else ""
    search = query_text(request, "q", MAX_REFERENCE)
    with UnitOfWork(services.engine) as uow:
        found = cases_page(
            uow,
            status=status or None,
            kind=kind or None,
            search=search or None,
            page=page_number(request.query_params.get("page")),
            per_page=services.settings.page_size,
        )
    paging = paginate(request, page=found.page, page_size=found.per_page, total=found.total)
    chosen = {"status": status, "kind": kind, "q": search}
    return render(
        request,
        "cases.html",
        {
            "cases": found.items,
            "paging": paging,
            "counts": found.counts_by_status,
            "chosen": chosen,
            "filtered": any(chosen.values()),
            "status_options": STATUS_OPTIONS,
            "kind_options": [("", "All kinds"), *KIND_LABELS.items()],
            "status_colours": STATUS_COLOURS,
        },
    )


@router.get("/cases/{reference}")
def case_page(request: Request, reference: str, user: Reader) -> Response:
    services = get_services(request)
    if len(reference) > MAX_REFERENCE:
        raise HTTPException(status_code=404)
    with UnitOfWork(services.engine) as uow:
        case = case_view(uow, reference, services.forms, today=services.clock.today(), now=services.clock.now())
    if case is None:
        raise HTTPException(status_code=404)
    record(services, user.audit_name, "case.viewed", "case", case.id, reference=case.reference)
    return render(
        request,
        "case.html",
        {
            "case": case,
            "returns": case.returns,
            "documents": [{"doc": d, "agency": agency_name(services, d.agency)} for d in case.documents],
            "open_items": [{"item": i, "agency": agency_name(services, i.agency)} for i in case.open_items],
            "history": history_rows(case.history),
            "severity_colours": SEVERITY_COLOURS,
            "status_colours": STATUS_COLOURS,
        },
    )


@router.get("/cases/{reference}/documents/{document_id}/download")
def download_case_document(request: Request, reference: str, document_id: int, user: Reader) -> Response:
    """The original of a document filed to the case, byte for byte, as an attachment."""
    services = get_services(request)
    if len(reference) > MAX_REFERENCE:
        raise HTTPException(status_code=404)
    with UnitOfWork(services.engine) as uow:
        case = uow.cases.get(reference.strip().upper())
        document = uow.documents.get(document_id)
        if case is None or document is None or document.case_id != case.id:
            raise HTTPException(status_code=404)
        blob, filename, case_reference = document.blob, document.filename, case.reference
    data = original_bytes(services, blob)
    record(services, user.audit_name, "document.downloaded", "document", document_id, case=case_reference)
    return download_response(data, filename)
