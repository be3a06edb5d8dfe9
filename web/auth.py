"""Who is signed in and what they may do: sessions on the server, sign-in, roles, CSRF.

For route authors
-----------------
Every route declares who may use it with exactly one access dependency; create_app refuses a
route that declares none (and ``route_access(app)`` lists them for the route-walking test)::

    from web.auth import Principal, require, public
    from web.ports import Role

    @router.get("/cases/{reference}")
    def case_page(request: Request, reference: str,
                  user: Annotated[Principal, Depends(require(*READERS))]) -> Response: ...

    @router.post("/queue/{item_id}/actions/{action}")
    def act(..., user: Annotated[Principal, Depends(require(Role.BUSINESS_UNIT))]) -> Response: ...

``require(*roles)``: an anonymous GET is redirected (303) to /sign-in, an anonymous POST gets
401; a signed-in person without one of ``roles`` gets the 403 page; on POST/PUT/PATCH/DELETE
the form's ``csrf_token`` must match the session's (else 403). Someone who must still change a
one-time password is sent to /account/password. ``public()`` lets anyone in (the sign-in
page); its POSTs are checked against the sign-in form's own token.

A session: a 256-bit random id in the cookie ``__Host-session`` (Secure, HttpOnly,
SameSite=Strict, Path=/); the table keeps its SHA-256, the user, the CSRF token, and when it
was made and last used. Idle and absolute time-outs are checked on every request; signing
out, disabling the user and changing the password end sessions; signing in always makes a
new id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, cast

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.responses import Response

from storage.accounts import EmailTaken, normalise_email
from storage.models import User
from storage.uow import UnitOfWork
from web.ports import Actor, Role, WebServices, WebSettings
from web.security import (
    account_key,
    hash_password,
    looks_like_email,
    needs_rehash,
    new_csrf_token,
    new_session_id,
    one_time_password,
    password_problem,
    sha256_hex,
    tokens_match,
    verify_password,
)

SESSION_COOKIE = "__Host-session"
SIGN_IN_COOKIE = "__Host-sign-in"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: last_seen_at is written at most this often (the idle time-out is checked on every request)
TOUCH_AFTER = dt.timedelta(seconds=60)
#: a cookie longer than this is not one of ours
MAX_COOKIE_LENGTH = 128

ALL_ROLES: tuple[Role, ...] = (Role.ADMIN, Role.BUSINESS_UNIT, Role.VIEWER)
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Principal:
    """The signed-in person and their session (what ``require`` gives a route)."""

    user_id: int
    email: str
    role: Role
    session_hash: str
    csrf_token: str
    must_change_password: bool = False

    @property
    def actor(self) -> Actor:
        return Actor(user_id=self.user_id, email=self.email, role=self.role)

    @property
    def audit_name(self) -> str:
        """The audit log's ``actor`` for this person."""
        return self.actor.audit_name


class NotSignedIn(Exception):
    """No valid session: GET -> 303 /sign-in, otherwise the 401 page."""


class Forbidden(Exception):
    """The 403 page. ``reason``: "role" (not allowed), "csrf" (a form without its token)."""

    def __init__(self, reason: Literal["role", "csrf"] = "role") -> None:
        super().__init__(reason)
        self.reason = reason


class PasswordChangeRequired(Exception):
    """A one-time password is still in use: GET -> 303 /account/password, otherwise 403."""


def get_services(request: Request) -> WebServices:
    return cast(WebServices, request.app.state.services)


def session_cookie_name(settings: WebSettings) -> str:
    """``__Host-session``; browsers accept the prefix only with Secure, so a test client on plain
    http (secure_cookies False) gets ``session``."""
    return SESSION_COOKIE if settings.secure_cookies else "session"


def sign_in_cookie_name(settings: WebSettings) -> str:
    return SIGN_IN_COOKIE if settings.secure_cookies else "sign-in"


# -- the session behind a request -----------------------------------------------------------


def load_principal(request: Request) -> Principal | None:
    """The request's valid session, or None (an expired one is ended). Cached on request.state."""
    if getattr(request.state, "principal_loaded", False):
        return cast(Principal | None, request.state.principal)
    services = get_services(request)
    principal = _principal_from_cookie(services, request.cookies.get(session_cookie_name(services.settings)))
    request.state.principal = principal
    request.state.principal_loaded = True
    return principal


def _principal_from_cookie(services: WebServices, session_id: str | None) -> Principal | None:
    if not session_id or len(session_id) > MAX_COOKIE_LENGTH:
        return None
    id_hash = sha256_hex(session_id)
    now = services.clock.now()
    settings = services.settings
    with UnitOfWork(services.engine) as uow:
        found = uow.accounts.session_with_user(id_hash)
        if found is None:
            return None
        row, user = found
        expired = (
            user.disabled
            or now - row.last_seen_at >= settings.session_idle
            or now - row.created_at >= settings.session_absolute
        )
        if expired:
            uow.accounts.end_session(id_hash)
            uow.commit()
            return None
        if now - row.last_seen_at >= TOUCH_AFTER:
            uow.accounts.touch_session(row, now)
            uow.commit()
        assert user.id is not None
        return Principal(
            user_id=user.id,
            email=user.email,
            role=Role(user.role),
            session_hash=id_hash,
            csrf_token=row.csrf_token,
            must_change_password=user.must_change_password,
        )


async def _posted_token(request: Request) -> str | None:
    form = await request.form()
    value = form.get(CSRF_FIELD)
    return value if isinstance(value, str) else None


# -- access declarations --------------------------------------------------------------------


class Access:
    """A route's access rule, as a FastAPI dependency. Use ``require(...)`` or ``public()``."""

    def __init__(self, roles: frozenset[Role], *, public: bool = False, pending_password: bool = False) -> None:
        self.roles = roles
        self.public = public
        #: usable while a one-time password is still to be changed (the password page, sign-out)
        self.pending_password = pending_password

    def __repr__(self) -> str:
        if self.public:
            return "public()"
        return f"require({', '.join(sorted(r.value for r in self.roles))})"

    async def __call__(self, request: Request) -> Principal | None:
        principal = await run_in_threadpool(load_principal, request)
        unsafe = request.method in UNSAFE_METHODS
        if self.public:
            if unsafe:
                services = get_services(request)
                expected = request.cookies.get(sign_in_cookie_name(services.settings))
                if not tokens_match(expected, await _posted_token(request)):
                    raise Forbidden("csrf")
            return principal
        if principal is None:
            raise NotSignedIn()
        if principal.role not in self.roles:
            raise Forbidden("role")
        if unsafe and not tokens_match(principal.csrf_token, await _posted_token(request)):
            raise Forbidden("csrf")
        if principal.must_change_password and not self.pending_password:
            raise PasswordChangeRequired()
        return principal


class RequireRoles(Access):
    async def __call__(self, request: Request) -> Principal:
        principal = await super().__call__(request)
        assert principal is not None
        return principal


def require(*roles: Role, pending_password: bool = False) -> RequireRoles:
    """The dependency for a route only the given roles may use (see the module's docstring)."""
    if not roles:
        raise ValueError("name at least one role (public() is for pages anyone may see)")
    return RequireRoles(frozenset(Role(r) for r in roles), pending_password=pending_password)


def public() -> Access:
    """The dependency for a page anyone may use; gives the Principal or None."""
    return Access(frozenset(ALL_ROLES), public=True)


@dataclass(frozen=True)
class RouteAccess:
    path: str
    methods: frozenset[str]
    name: str
    access: Access


def _accesses(dependant: Any) -> Iterator[Access]:
    for sub in dependant.dependencies:
        if isinstance(sub.call, Access):
            yield sub.call
        yield from _accesses(sub)


def route_access(app: FastAPI) -> list[RouteAccess]:
    """Every API route (included routers' too, with their prefixes and dependencies) with its
    declared access. Raises when a route declares none or several."""
    found = []
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        dependant = getattr(context, "dependant", None) or context.original_route.dependant
        accesses = {id(a): a for a in _accesses(dependant)}
        path = str(context.path)
        if len(accesses) != 1:
            raise RuntimeError(
                f"route {path} must declare exactly one access rule (require(...) or public()); "
                f"it declares {len(accesses)}"
            )
        methods = frozenset(context.methods or ())
        found.append(RouteAccess(path, methods, str(context.name), next(iter(accesses.values()))))
    return found


# -- signing in and out ---------------------------------------------------------------------


@dataclass(frozen=True)
class SignInResult:
    #: the new session's id (the cookie's value) on success
    session_id: str | None = None
    refused: Literal["invalid", "locked"] | None = None
    must_change_password: bool = False


def sign_in(services: WebServices, email: str, password: str, *, previous_session: str | None = None) -> SignInResult:
    """Check the password (argon2id, about the same time whether or not the account exists),
    at most ``max_failed_sign_ins`` failures per account in ``lockout_window``; audit the
    outcome. Success starts a new session (a previous one is ended)."""
    settings = services.settings
    now = services.clock.now()
    typed = normalise_email(email)
    key = account_key(typed)
    with UnitOfWork(services.engine) as uow:
        accounts = uow.accounts
        user = accounts.user_by_email(typed) if typed else None
        failures = accounts.recent_failures(key, now - settings.lockout_window)
        who = _attempted(user, typed)
        if failures >= settings.max_failed_sign_ins:
            verify_password(services.hasher, None, password)  # the same cost as any attempt
            accounts.record_attempt(key, succeeded=False, now=now)
            uow.audit.record(ANONYMOUS, "user.sign_in_refused", "user", who[0], who[1], at=now)
            uow.commit()
            return SignInResult(refused="locked")
        matched = verify_password(services.hasher, user.password_hash if user is not None else None, password)
        if user is None or not matched or user.disabled:
            accounts.record_attempt(key, succeeded=False, now=now)
            detail = dict(who[1] or {})
            if user is not None and user.disabled and matched:
                detail["disabled"] = True
            uow.audit.record(ANONYMOUS, "user.sign_in_failed", "user", who[0], detail or None, at=now)
            uow.commit()
            return SignInResult(refused="invalid")
        accounts.record_attempt(key, succeeded=True, now=now)
        if needs_rehash(services.hasher, user.password_hash):
            user.password_hash = hash_password(services.hasher, password)
        if previous_session:
            accounts.end_session(sha256_hex(previous_session))
        accounts.end_stale_sessions(
            idle_since=now - settings.session_idle, created_before=now - settings.session_absolute
        )
        accounts.prune_attempts(now - dt.timedelta(days=1))
        session_id = start_session(uow, user, now)
        accounts.signed_in(user, now)
        uow.audit.record(user.email, "user.signed_in", "user", user.id, None, at=now)
        uow.commit()
        return SignInResult(session_id=session_id, must_change_password=user.must_change_password)


def _attempted(user: User | None, typed: str) -> tuple[int | None, dict[str, Any] | None]:
    """What a failure's audit entry says about who was tried: the user's id, or the email
    typed when it names no user (only when it looks like an email: never a password typed
    into the wrong box)."""
    if user is not None:
        return user.id, None
    return None, ({"email": typed} if looks_like_email(typed) else {"email": None})


def start_session(uow: UnitOfWork, user: User, now: dt.datetime) -> str:
    """A new session for the user (in ``uow``, not committed): its id, for the cookie."""
    session_id = new_session_id()
    uow.accounts.create_session(sha256_hex(session_id), user, new_csrf_token(), now)
    return session_id


def sign_out(services: WebServices, principal: Principal) -> None:
    now = services.clock.now()
    with UnitOfWork(services.engine) as uow:
        uow.accounts.end_session(principal.session_hash)
        uow.audit.record(principal.audit_name, "user.signed_out", "user", principal.user_id, None, at=now)
        uow.commit()


def set_session_cookie(response: Response, settings: WebSettings, session_id: str) -> None:
    response.set_cookie(
        session_cookie_name(settings),
        session_id,
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, settings: WebSettings) -> None:
    response.delete_cookie(
        session_cookie_name(settings), path="/", secure=settings.secure_cookies, httponly=True, samesite="strict"
    )


def sign_in_token(request: Request) -> str:
    """The sign-in form's CSRF token: the one in the request's sign-in cookie, or a new one.
    Put it in the form and set it as the cookie with ``set_sign_in_cookie`` (double submit)."""
    token = request.cookies.get(sign_in_cookie_name(get_services(request).settings))
    if not token or len(token) > MAX_COOKIE_LENGTH:
        token = new_csrf_token()
    return token


def set_sign_in_cookie(response: Response, settings: WebSettings, token: str) -> None:
    response.set_cookie(
        sign_in_cookie_name(settings), token, path="/", secure=settings.secure_cookies, httponly=True, samesite="strict"
    )


def record(
    services: WebServices, actor: str, action: str, entity: str, entity_id: str | int | None, **detail: Any
) -> None:
    """One audit entry in its own transaction (for a page view; an action records its entry in
    its own unit of work instead)."""
    with UnitOfWork(services.engine) as uow:
        uow.audit.record(actor, action, entity, entity_id, detail or None, at=services.clock.now())
        uow.commit()


# -- accounts ---------------------------------------------------------------------------------


class AccountRefused(ValueError):
    """A new account's details are not acceptable: ``field`` and a message for the person."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def add_user(
    uow: UnitOfWork,
    hasher: Any,
    *,
    email: str,
    role: str,
    password: str | None,
    actor: str,
    now: dt.datetime,
) -> tuple[User, str | None]:
    """A new user (in ``uow``, not committed) and, when no ``password`` is given, the one-time
    password made for them (shown once; they must change it at first sign-in). Raises
    AccountRefused for a malformed email, an unknown role, a short password or an email in use."""
    address = normalise_email(email)
    if not looks_like_email(address):
        raise AccountRefused("email", "Enter an email address in the correct format, like name@example.org")
    if role not in {r.value for r in ALL_ROLES}:
        raise AccountRefused("role", "Select a role")
    given = password is not None
    secret = password if password is not None else one_time_password()
    problem = password_problem(secret)
    if problem is not None:
        raise AccountRefused("password", problem)
    try:
        user = uow.accounts.add_user(
            address, role, hash_password(hasher, secret), must_change_password=not given, now=now
        )
    except EmailTaken:
        raise AccountRefused("email", "A user with that email address already exists") from None
    uow.audit.record(actor, "user.added", "user", user.id, {"role": role}, at=now)
    return user, None if given else secret
