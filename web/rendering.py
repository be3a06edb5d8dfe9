"""Server-side rendering: one Jinja2 environment with autoescaping on for every template,
whatever its name (Starlette's Jinja2Templates escapes only .html, .htm and .xml names).

    render(request, "cases/list.html", {"cases": rows})            -> HTMLResponse
    paginate(request, page=2, page_size=50, total=812)              -> Pagination for the macro

Every template gets: ``user`` (the Principal or None), ``csrf_token``, ``csp_nonce``, ``nav``,
``now`` (the app's clock), ``service_name``, ``request``. Filters: ``datetime`` ("2 March 2026
at 9:30am", Europe/London), ``date`` ("2 March 2026"), ``age`` ("3 days", from ``now``).
Globals: ``csrf_input()`` (the hidden input every changing form carries).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.responses import HTMLResponse

from web.auth import Principal, get_services
from web.ports import Role

TEMPLATES = Path(__file__).resolve().parent / "templates"
LONDON = ZoneInfo("Europe/London")


@dataclass(frozen=True)
class NavItem:
    text: str
    href: str
    current: bool


#: the service navigation: (text, href, roles that see it)
NAVIGATION: tuple[tuple[str, str, tuple[Role, ...]], ...] = (
    # admins look after users, settings and the audit trail, not the cases themselves
    ("Queue", "/queue", (Role.BUSINESS_UNIT, Role.VIEWER)),
    ("Cases", "/cases", (Role.BUSINESS_UNIT, Role.VIEWER)),
    ("Audit", "/audit", (Role.ADMIN,)),
    ("Users", "/admin/users", (Role.ADMIN,)),
)


def nav_items(path: str, principal: Principal | None) -> list[NavItem]:
    if principal is None or principal.must_change_password:
        return []
    return [
        NavItem(text, href, path == href or path.startswith(href + "/"))
        for text, href, roles in NAVIGATION
        if principal.role in roles
    ]


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["datetime"] = format_datetime
    env.filters["date"] = format_date
    env.filters["age"] = format_age
    env.globals["csrf_input"] = csrf_input
    return env


@pass_context
def csrf_input(context: Context) -> Markup:
    token = context.get("csrf_token")
    if not token:
        raise RuntimeError("this page has no CSRF token: only signed-in pages and the sign-in page carry forms")
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(token)


def _hour(value: dt.datetime) -> str:
    hour = value.hour % 12 or 12
    suffix = "am" if value.hour < 12 else "pm"
    return f"{hour}{suffix}" if value.minute == 0 else f"{hour}:{value.minute:02d}{suffix}"


def format_datetime(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    local = value.astimezone(LONDON) if value.tzinfo is not None else value
    return f"{local.day} {local:%B %Y} at {_hour(local)}"


def format_date(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(LONDON)
    return f"{value.day} {value:%B %Y}"


@pass_context
def format_age(context: Context, value: dt.datetime | None) -> str:
    if value is None:
        return ""
    now = context.get("now") or dt.datetime.now(dt.UTC)
    seconds = max(0, int((now - value).total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return "less than a minute"


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The page, rendered with the values every template gets (see the module's docstring)."""
    services = get_services(request)
    principal: Principal | None = getattr(request.state, "principal", None)
    values: dict[str, Any] = {
        "request": request,
        "user": principal,
        "csrf_token": principal.csrf_token if principal is not None else None,
        "csp_nonce": getattr(request.state, "csp_nonce", ""),
        "nav": nav_items(request.url.path, principal),
        "now": services.clock.now(),
        "service_name": services.settings.service_name,
    }
    values.update(context or {})
    env: Environment = request.app.state.templates
    html = env.get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))


# -- paging ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageLink:
    number: int | None  # None: an ellipsis
    href: str
    current: bool = False


@dataclass(frozen=True)
class Pagination:
    page: int
    pages: int
    total: int
    offset: int
    limit: int
    previous_href: str | None
    next_href: str | None
    links: tuple[PageLink, ...]

    @property
    def first_item(self) -> int:
        return 0 if self.total == 0 else self.offset + 1

    @property
    def last_item(self) -> int:
        return min(self.offset + self.limit, self.total)


def page_number(value: str | int | None) -> int:
    """A ``page`` query value as a page number (1 when absent or nonsense)."""
    try:
        number = int(value) if value is not None else 1
    except ValueError:
        return 1
    return max(1, min(number, 1_000_000))


def paginate(request: Request, *, page: int, page_size: int, total: int) -> Pagination:
    """Paging for ``total`` rows: the ``offset``/``limit`` to query, and links that keep the
    request's other query parameters (``page`` replaced)."""
    pages = max(1, math.ceil(total / page_size))
    page = max(1, min(page, pages))

    def href(n: int) -> str:
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
        query.append(("page", str(n)))
        return f"{request.url.path}?{urlencode(query)}"

    shown = sorted({1, pages, page - 1, page, page + 1} & set(range(1, pages + 1)))
    links: list[PageLink] = []
    for n in shown:
        if links and links[-1].number is not None and n - (links[-1].number or 0) > 1:
            links.append(PageLink(None, ""))
        links.append(PageLink(n, href(n), n == page))
    return Pagination(
        page=page,
        pages=pages,
        total=total,
        offset=(page - 1) * page_size,
        limit=page_size,
        previous_href=href(page - 1) if page > 1 else None,
        next_href=href(page + 1) if page < pages else None,
        links=tuple(links) if pages > 1 else (),
    )
