"""Signing in and out, and changing one's password: /sign-in, /sign-out, /account/password, /."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from storage.uow import UnitOfWork
from web.auth import (
    ALL_ROLES,
    Principal,
    clear_session_cookie,
    get_services,
    public,
    require,
    session_cookie_name,
    set_session_cookie,
    set_sign_in_cookie,
    sign_in,
    sign_in_token,
    sign_out,
    start_session,
)
from web.ports import Role
from web.rendering import render
from web.security import hash_password, password_problem, verify_password

router = APIRouter()

INVALID = "Enter a correct email address and password"
LOCKED = "There have been too many attempts to sign in to this account. Wait 5 minutes and try again."


def safe_next(value: str | None) -> str | None:
    """A local path to go to after signing in (never another site, never a scheme-relative URL)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or len(value) > 300:
        return None
    if any(ord(ch) < 0x20 for ch in value):
        return None
    return value


@router.get("/")
def home(user: Annotated[Principal, Depends(require(*ALL_ROLES))]) -> Response:
    """Each role's first page: admins look after users and the audit trail, not cases."""
    return RedirectResponse("/audit" if user.role is Role.ADMIN else "/queue", status_code=303)


def _sign_in_page(
    request: Request,
    *,
    email: str = "",
    errors: dict[str, str] | None = None,
    locked: str | None = None,
    next_path: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    token = sign_in_token(request)
    response = render(
        request,
        "sign_in.html",
        {
            "csrf_token": token,
            "email": email,
            "errors": errors or {},
            "locked": locked,
            "next_path": next_path,
            "notice": notice,
        },
        status_code=status_code,
    )
    set_sign_in_cookie(response, get_services(request).settings, token)
    return response


@router.get("/sign-in")
def sign_in_page(
    request: Request, user: Annotated[Principal | None, Depends(public())], next: str | None = None
) -> Response:
    if user is not None and not user.must_change_password:
        return RedirectResponse(safe_next(next) or "/", status_code=303)
    return _sign_in_page(request, next_path=safe_next(next))


@router.post("/sign-in")
async def sign_in_submit(
    request: Request,
    user: Annotated[Principal | None, Depends(public())],
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    email = email.strip()
    next_path = safe_next(next)
    errors: dict[str, str] = {}
    if not email:
        errors.update({"email": "Enter your email address"})
    if not password:
        errors.update({"password": "Enter your password"})
    if errors:
        return _sign_in_page(request, email=email, errors=errors, next_path=next_path, status_code=400)
    services = get_services(request)
    previous = request.cookies.get(session_cookie_name(services.settings))
    result = await run_in_threadpool(sign_in, services, email, password, previous_session=previous)
    if result.refused == "locked":
        return _sign_in_page(request, email=email, locked=LOCKED, next_path=next_path, status_code=429)
    if result.refused is not None or result.session_id is None:
        errors = {"email": INVALID}
        return _sign_in_page(request, email=email, errors=errors, next_path=next_path, status_code=400)
    target = "/account/password" if result.must_change_password else (next_path or "/")
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, services.settings, result.session_id)
    return response


@router.post("/sign-out")
def sign_out_submit(
    request: Request, user: Annotated[Principal, Depends(require(*ALL_ROLES, pending_password=True))]
) -> Response:
    services = get_services(request)
    sign_out(services, user)
    request.state.principal = None
    response = render(request, "signed_out.html")
    clear_session_cookie(response, services.settings)
    return response


@router.get("/account/password")
def password_page(
    request: Request, user: Annotated[Principal, Depends(require(*ALL_ROLES, pending_password=True))]
) -> Response:
    return render(request, "account_password.html", {"errors": {}})


@router.post("/account/password")
def password_submit(
    request: Request,
    user: Annotated[Principal, Depends(require(*ALL_ROLES, pending_password=True))],
    current_password: Annotated[str, Form(max_length=1024)] = "",
    new_password: Annotated[str, Form(max_length=1024)] = "",
    confirm_password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    services = get_services(request)
    errors: dict[str, str] = {}
    with UnitOfWork(services.engine) as uow:
        account = uow.accounts.user(user.user_id)
        assert account is not None
        if not current_password:
            errors.update({"current_password": "Enter your current password"})
        elif not verify_password(services.hasher, account.password_hash, current_password):
            errors.update({"current_password": "Your current password is not right"})
        problem = password_problem(new_password)
        if problem is not None:
            errors.update({"new_password": "Enter a new password" if not new_password else problem})
        elif new_password == current_password:
            errors.update({"new_password": "Your new password must be different from your current password"})
        elif new_password.strip().lower() == account.email:
            errors.update({"new_password": "Your new password must not be your email address"})
        elif confirm_password != new_password:
            errors.update({"confirm_password": "The passwords do not match"})
        if errors:
            return render(request, "account_password.html", {"errors": errors}, status_code=400)
        now = services.clock.now()
        uow.accounts.set_password(account, hash_password(services.hasher, new_password), must_change=False, now=now)
        # every other session ends; this one gets a new id
        uow.accounts.end_sessions_for(account)
        session_id = start_session(uow, account, now)
        uow.audit.record(user.audit_name, "user.password_changed", "user", user.user_id, None, at=now)
        uow.commit()
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(response, services.settings, session_id)
    return response
