"""The business unit's web app: ``create_app(services)`` -> FastAPI.

Page modules each give an ``APIRouter`` named ``router``; add yours to PAGE_ROUTERS. Every
route declares its access with web.auth's ``require(...)`` or ``public()``: create_app refuses
to build an app with a route that does not (route_access lists them for the route walk).

Static files: GOV.UK Frontend's CSS and JavaScript at /govuk/, its fonts and images at
/assets/ (the paths its CSS asks for), the app's own CSS at /static/. They come from
web/node_modules (installed by `make install`, never copied into the repository).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from web import routes_account, routes_admin, routes_cases, routes_queue
from web.auth import (
    Forbidden,
    NotSignedIn,
    PasswordChangeRequired,
    clear_session_cookie,
    get_services,
    route_access,
    session_cookie_name,
)
from web.ports import WebServices
from web.rendering import make_environment, render
from web.security import SecurityHeaders, is_loopback_url

log = logging.getLogger("web")

WEB = Path(__file__).resolve().parent
GOVUK = WEB / "node_modules" / "govuk-frontend" / "dist" / "govuk"
STATIC = WEB / "static"

#: every page module's router; add yours here
PAGE_ROUTERS: tuple[APIRouter, ...] = (
    routes_account.router,
    routes_admin.router,
    routes_queue.router,
    routes_cases.router,
)

ERROR_PAGES: dict[int, tuple[str, tuple[str, ...]]] = {
    400: ("Sorry, there is a problem with what was sent", ("Go back and try again.",)),
    401: ("You need to sign in", ("Your session may have ended. Sign in and try again.",)),
    403: ("You do not have permission to do this", ("Ask an administrator if you think you should.",)),
    404: ("Page not found", ("If you typed the web address, check it is correct.",)),
    405: ("Sorry, that cannot be done here", ("Go back and try again.",)),
    409: ("Sorry, that cannot be done", ()),
    413: ("Sorry, what was sent is too large", ()),
    422: ("Sorry, there is a problem with what was sent", ("Go back and try again.",)),
    429: ("Too many attempts", ("Wait a few minutes and try again.",)),
    500: ("Sorry, there is a problem with the service", ("Try again later.",)),
}
CSRF_LINES = (
    "The form you sent had expired or did not come from this service, so nothing was changed.",
    "Go back, reload the page and try again.",
)


class WebApp(FastAPI):
    """FastAPI with the security headers outermost, so even the 500 page carries them."""

    hsts: bool = False

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack(), hsts=self.hsts)


def error_page(
    request: Request, status: int, *, lines: Iterable[str] | None = None, heading: str | None = None
) -> Response:
    title, default_lines = ERROR_PAGES.get(status, ERROR_PAGES[500 if status >= 500 else 400])
    link = ("/sign-in", "Sign in") if status == 401 else None
    context: dict[str, Any] = {
        "heading": heading or title,
        "lines": list(lines) if lines is not None else list(default_lines),
        "link": link,
    }
    return render(request, "errors.html", context, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    async def not_signed_in(request: Request, exc: Exception) -> Response:
        response: Response
        if request.method in ("GET", "HEAD"):
            target = "/sign-in"
            if request.url.path not in ("/", "/sign-in"):
                target += f"?next={request.url.path}"
            response = RedirectResponse(target, status_code=303)
        else:
            response = error_page(request, 401)
        if request.cookies.get(session_cookie_name(get_services(request).settings)):
            clear_session_cookie(response, get_services(request).settings)
        return response

    async def forbidden(request: Request, exc: Exception) -> Response:
        if isinstance(exc, Forbidden) and exc.reason == "csrf":
            return error_page(request, 403, lines=CSRF_LINES, heading="Sorry, that form could not be sent")
        return error_page(request, 403)

    async def password_pending(request: Request, exc: Exception) -> Response:
        if request.method in ("GET", "HEAD"):
            return RedirectResponse("/account/password", status_code=303)
        return error_page(request, 403, lines=("Change your password first.",))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code < 400:
            return Response(status_code=exc.status_code, headers=exc.headers)
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail and exc.status_code in (409, 400) else None
        response = error_page(request, exc.status_code, lines=(detail,) if detail else None)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    async def invalid(request: Request, exc: Exception) -> Response:
        # a path or form value that does not parse: the page does not exist, or the form was tampered with
        return error_page(request, 404 if request.method in ("GET", "HEAD") else 400)

    async def server_error(request: Request, exc: Exception) -> Response:
        return error_page(request, 500)

    app.add_exception_handler(NotSignedIn, not_signed_in)
    app.add_exception_handler(Forbidden, forbidden)
    app.add_exception_handler(PasswordChangeRequired, password_pending)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, server_error)


GOVUK_FILES = {"govuk-frontend.min.css": "text/css", "govuk-frontend.min.js": "text/javascript"}


async def govuk_file(request: Request) -> Response:
    """GOV.UK Frontend's compiled CSS and JavaScript (nothing else from its dist directory)."""
    name = request.path_params["name"]
    if name not in GOVUK_FILES or not (GOVUK / name).is_file():
        raise HTTPException(status_code=404)
    return FileResponse(GOVUK / name, media_type=GOVUK_FILES[name])


def _install_static(app: FastAPI) -> None:
    app.mount("/assets", StaticFiles(directory=GOVUK / "assets", check_dir=False), name="assets")
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")
    app.router.routes.append(Route("/govuk/{name}", govuk_file, methods=["GET", "HEAD"]))


def create_app(services: WebServices, *, extra_routers: Iterable[APIRouter] = ()) -> FastAPI:
    """The app, given its services (intake.webapp builds them from the settings): PAGE_ROUTERS'
    pages, and ``extra_routers`` (tests)."""
    app = WebApp(
        title=services.settings.service_name,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.hsts = not is_loopback_url(services.settings.base_url)
    app.state.services = services
    app.state.templates = make_environment()
    _install_error_handlers(app)
    for router in (*PAGE_ROUTERS, *extra_routers):
        app.include_router(router)
    _install_static(app)
    route_access(app)  # raises when a route declares no access rule
    return app
