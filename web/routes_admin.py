"""The admins' pages: /admin/users (list, add, change role, disable, reset a password) and
/audit (search the audit trail; every view is itself audited)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response

from storage.models import AuditEntry, User
from storage.uow import UnitOfWork
from web.auth import AccountRefused, Principal, add_user, get_services, require
from web.ports import Role
from web.rendering import LONDON, page_number, paginate, render
from web.security import hash_password, one_time_password

router = APIRouter()
AdminUser = Annotated[Principal, Depends(require(Role.ADMIN))]

ROLE_OPTIONS: tuple[tuple[str, str, str], ...] = (
    (Role.ADMIN.value, "Administrator", "Manages users and reads the audit trail"),
    (Role.BUSINESS_UNIT.value, "Business unit", "Works the exception queue and the cases"),
    (Role.VIEWER.value, "Viewer", "Reads the queue and the cases, changes nothing"),
)
ROLE_NAMES = {value: name for value, name, _ in ROLE_OPTIONS}
#: the banner after a change (the query carries only these words)
DONE = {
    "role": "Role changed",
    "disabled": "User disabled: their sessions have ended",
    "enabled": "User enabled",
}


def _user_or_404(uow: UnitOfWork, user_id: int) -> User:
    user = uow.accounts.user(user_id)
    if user is None:
        raise HTTPException(status_code=404)
    return user


def _status(user: User) -> tuple[str, str]:
    if user.disabled:
        return "Disabled", "grey"
    if user.must_change_password:
        return "Password to set", "yellow"
    return "Active", "green"


# -- users -----------------------------------------------------------------------------------


@router.get("/admin/users")
def users_page(request: Request, admin: AdminUser, done: str | None = None) -> Response:
    with UnitOfWork(get_services(request).engine) as uow:
        rows = [
            {
                "id": u.id,
                "email": u.email,
                "role": ROLE_NAMES.get(u.role, u.role),
                "status": _status(u),
                "last_sign_in_at": u.last_sign_in_at,
            }
            for u in uow.accounts.users()
        ]
    return render(request, "admin/users.html", {"users": rows, "done": DONE.get(done or "")})


@router.get("/admin/users/new")
def new_user_page(request: Request, admin: AdminUser) -> Response:
    return render(request, "admin/user_new.html", {"errors": {}, "roles": ROLE_OPTIONS, "email": "", "role": None})


@router.post("/admin/users/new")
def new_user_submit(
    request: Request,
    admin: AdminUser,
    email: Annotated[str, Form(max_length=320)] = "",
    role: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    services = get_services(request)
    with UnitOfWork(services.engine) as uow:
        try:
            user, secret = add_user(
                uow,
                services.hasher,
                email=email,
                role=role,
                password=None,
                actor=admin.audit_name,
                now=services.clock.now(),
            )
        except AccountRefused as refused:
            context = {"errors": {refused.field: refused.message}, "roles": ROLE_OPTIONS, "email": email, "role": role}
            return render(request, "admin/user_new.html", context, status_code=400)
        uow.commit()
    return render(
        request,
        "admin/one_time_password.html",
        {"heading": "User added", "email": user.email, "password": secret, "user_id": user.id},
    )


def _user_page(
    request: Request, uow: UnitOfWork, user: User, admin: Principal, *, done: str | None, errors: dict[str, str]
) -> Response:
    return render(
        request,
        "admin/user.html",
        {
            "account": user,
            "status": _status(user),
            "role_name": ROLE_NAMES.get(user.role, user.role),
            "roles": ROLE_OPTIONS,
            "sessions": len(uow.accounts.sessions_for(user)),
            "is_self": user.id == admin.user_id,
            "done": DONE.get(done or ""),
            "errors": errors,
        },
        status_code=400 if errors else 200,
    )


@router.get("/admin/users/{user_id}")
def user_page(request: Request, user_id: int, admin: AdminUser, done: str | None = None) -> Response:
    with UnitOfWork(get_services(request).engine) as uow:
        return _user_page(request, uow, _user_or_404(uow, user_id), admin, done=done, errors={})


@router.post("/admin/users/{user_id}/role")
def change_role(
    request: Request, user_id: int, admin: AdminUser, role: Annotated[str, Form(max_length=40)] = ""
) -> Response:
    services = get_services(request)
    if user_id == admin.user_id:
        raise HTTPException(status_code=409, detail="You cannot change your own role")
    with UnitOfWork(services.engine) as uow:
        user = _user_or_404(uow, user_id)
        if role not in ROLE_NAMES:
            return _user_page(request, uow, user, admin, done=None, errors={"role": "Select a role"})
        before = user.role
        if before != role:
            uow.accounts.set_role(user, role)
            detail = {"from": before, "to": role}
            uow.audit.record(admin.audit_name, "user.role_changed", "user", user.id, detail, at=services.clock.now())
            uow.commit()
    return RedirectResponse(f"/admin/users/{user_id}?done=role", status_code=303)


@router.post("/admin/users/{user_id}/disable")
def disable_user(request: Request, user_id: int, admin: AdminUser) -> Response:
    services = get_services(request)
    if user_id == admin.user_id:
        raise HTTPException(status_code=409, detail="You cannot disable your own account")
    with UnitOfWork(services.engine) as uow:
        user = _user_or_404(uow, user_id)
        ended = uow.accounts.disable(user)
        detail = {"sessions_ended": ended}
        uow.audit.record(admin.audit_name, "user.disabled", "user", user.id, detail, at=services.clock.now())
        uow.commit()
    return RedirectResponse(f"/admin/users/{user_id}?done=disabled", status_code=303)


@router.post("/admin/users/{user_id}/enable")
def enable_user(request: Request, user_id: int, admin: AdminUser) -> Response:
    services = get_services(request)
    with UnitOfWork(services.engine) as uow:
        user = _user_or_404(uow, user_id)
        uow.accounts.enable(user)
        uow.audit.record(admin.audit_name, "user.enabled", "user", user.id, None, at=services.clock.now())
        uow.commit()
    return RedirectResponse(f"/admin/users/{user_id}?done=enabled", status_code=303)


@router.post("/admin/users/{user_id}/password")
def reset_password(request: Request, user_id: int, admin: AdminUser) -> Response:
    """A new one-time password (shown once); their sessions end."""
    services = get_services(request)
    if user_id == admin.user_id:
        raise HTTPException(status_code=409, detail="Change your own password on the Change your password page")
    now = services.clock.now()
    secret = one_time_password()
    with UnitOfWork(services.engine) as uow:
        user = _user_or_404(uow, user_id)
        uow.accounts.set_password(user, hash_password(services.hasher, secret), must_change=True, now=now)
        ended = uow.accounts.end_sessions_for(user)
        uow.audit.record(admin.audit_name, "user.password_reset", "user", user.id, {"sessions_ended": ended}, at=now)
        uow.commit()
    return render(
        request,
        "admin/one_time_password.html",
        {"heading": "Password reset", "email": user.email, "password": secret, "user_id": user.id},
    )


# -- the audit trail ---------------------------------------------------------------------------


def _date_from(query: dict[str, str], prefix: str) -> tuple[dt.date | None, dict[str, str], str | None]:
    """A date from the day/month/year inputs: (date or None, what was typed, error or None)."""
    typed = {part: query.get(f"{prefix}-{part}", "").strip()[:4] for part in ("day", "month", "year")}
    if not any(typed.values()):
        return None, typed, None
    try:
        return dt.date(int(typed["year"]), int(typed["month"]), int(typed["day"])), typed, None
    except ValueError:
        return None, typed, "must be a real date"


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=LONDON).astimezone(dt.UTC)


def _detail_text(entry: AuditEntry) -> str:
    if not entry.detail:
        return ""
    return "; ".join(f"{key}: {value}" for key, value in sorted(entry.detail.items()))


@router.get("/audit")
def audit_page(request: Request, admin: AdminUser) -> Response:
    services = get_services(request)
    query = {k: v for k, v in request.query_params.items()}
    errors: dict[str, str] = {}
    since, since_typed, since_error = _date_from(query, "from")
    until, until_typed, until_error = _date_from(query, "to")
    if since_error:
        errors["from"] = f"Date from {since_error}"
    if until_error:
        errors["to"] = f"Date to {until_error}"
    if since and until and until < since:
        errors["to"] = "Date to must be the same as or after date from"
    chosen_actor = query.get("actor", "")[:80]
    action = query.get("action", "")[:80] or None
    entity = query.get("entity", "")[:80] or None
    entity_id = query.get("record", "").strip()[:80] or None
    page = page_number(query.get("page"))
    size = services.settings.page_size
    with UnitOfWork(services.engine) as uow:
        users = uow.accounts.users()
        user_actors = {f"user:{u.id}": u.email for u in users}
        others = [a for a in uow.audit_search.actors() if "@" not in a]
        actor = user_actors.get(chosen_actor) or (chosen_actor if chosen_actor in others else None)
        filters: dict[str, Any] = {
            "actor": actor,
            "action": action,
            "entity": entity,
            "entity_id": entity_id,
            "since": _start_of(since) if since and not errors else None,
            "until": _start_of(until + dt.timedelta(days=1)) if until and not errors else None,
        }
        found = uow.audit_search.search(**filters, offset=(page - 1) * size, limit=size)
        paging = paginate(request, page=page, page_size=size, total=found.total)
        if paging.page != page:  # past the last page: show the last
            found = uow.audit_search.search(**filters, offset=paging.offset, limit=paging.limit)
        actions = uow.audit_search.actions()
        entities = uow.audit_search.entities()
        viewed = {k: v for k, v in query.items() if k != "page" and v} | {"page": paging.page}
        uow.audit.record(admin.audit_name, "audit.viewed", "audit_log", None, viewed, at=services.clock.now())
        uow.commit()
    actor_options = [("", "Anyone")] + [(key, email) for key, email in user_actors.items()] + [(a, a) for a in others]
    rows = [
        [e.at, e.actor, e.action, f"{e.entity} {e.entity_id}" if e.entity_id else e.entity, _detail_text(e)]
        for e in found.entries
    ]
    return render(
        request,
        "audit.html",
        {
            "errors": errors,
            "rows": rows,
            "paging": paging,
            "actor_options": actor_options,
            "action_options": [("", "Any action"), *((a, a) for a in actions)],
            "entity_options": [("", "Any record"), *((e, e) for e in entities)],
            "chosen": {
                "actor": chosen_actor,
                "action": action or "",
                "entity": entity or "",
                "record": entity_id or "",
            },
            "since": since_typed,
            "until": until_typed,
        },
    )
