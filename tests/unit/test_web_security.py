"""Security headers on every response, autoescaping in every template, safe downloads, passwords."""

from __future__ import annotations

import dataclasses
import datetime as dt
from types import SimpleNamespace
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from jinja2 import DictLoader, Environment
from markupsafe import Markup

from storage.uow import UnitOfWork
from tests.unit.web_support import (
    START,
    stored_user,
)
from web.app import create_app
from web.auth import ALL_ROLES, Principal, require
from web.ports import Role
from web.rendering import TEMPLATES, Pagination, make_environment, paginate
from web.security import (
    MIN_PASSWORD_LENGTH,
    download_response,
    one_time_password,
    password_problem,
    safe_filename,
)

HOSTILE = '<script>alert(1)</script>"\'><img src=x onerror=alert(2)>=HYPERLINK("http://evil.example.com")'
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
RAW_MARKUP = ("<script>alert", "<img src=x", "onerror=alert(2)>")

pytest_plugins = ("tests.unit.web_kit",)


def assert_inert(html: str) -> None:
    for raw in RAW_MARKUP:
        assert raw not in html
    assert ESCAPED_SCRIPT in html


# -- headers -------------------------------------------------------------------------------------


def security_headers_of(response) -> dict[str, str]:
    names = (
        "content-security-policy",
        "x-content-type-options",
        "x-frame-options",
        "referrer-policy",
        "cross-origin-opener-policy",
        "permissions-policy",
    )
    return {name: response.headers.get(name, "") for name in names}


def assert_security_headers(response) -> None:
    headers = security_headers_of(response)
    csp = headers["content-security-policy"]
    for directive in (
        "default-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
    ):
        assert directive in csp
    assert "script-src 'self' 'nonce-" in csp
    assert "unsafe-inline" not in csp
    assert "nosniff" == headers["x-content-type-options"]
    assert "DENY" == headers["x-frame-options"]
    assert "no-referrer" == headers["referrer-policy"]
    assert "same-origin" == headers["cross-origin-opener-policy"]
    assert "camera=()" in headers["permissions-policy"]


def test_every_kind_of_response_carries_the_security_headers(webkit, signed_in):
    anonymous = webkit.client()
    admin = signed_in("admin")
    responses = [
        anonymous.get("/sign-in"),
        anonymous.get("/admin/users"),  # a redirect
        anonymous.post("/admin/users/new"),  # 401
        anonymous.get("/no-such-page"),  # 404
        admin.get("/admin/users"),
        admin.post("/admin/users/new", data={}),  # 403, no token
        anonymous.get("/govuk/govuk-frontend.min.css"),
        anonymous.get("/static/app.css"),
    ]
    for response in responses:
        assert_security_headers(response)


def test_pages_are_never_cached_and_static_files_are(webkit, signed_in):
    admin = signed_in("admin")

    assert "no-store" == admin.get("/admin/users").headers["cache-control"]
    assert "no-store" == webkit.client().get("/sign-in").headers["cache-control"]
    assert "no-store" not in webkit.client().get("/static/app.css").headers["cache-control"]


def test_each_response_has_its_own_script_nonce_and_the_page_uses_it(webkit):
    client = webkit.client()
    first, second = client.get("/sign-in"), client.get("/sign-in")

    nonce = first.headers["content-security-policy"].split("'nonce-")[1].split("'")[0]

    assert nonce not in second.headers["content-security-policy"]
    assert 2 == first.text.count(f'<script nonce="{nonce}"') + first.text.count(
        f'<script type="module" nonce="{nonce}"'
    )
    assert "<script>" not in first.text


def test_strict_transport_security_is_sent_only_away_from_loopback(webkit):
    assert "strict-transport-security" not in webkit.client().get("/sign-in").headers

    remote = dataclasses.replace(
        webkit.services, settings=dataclasses.replace(webkit.services.settings, base_url="https://intake.example.org")
    )
    client = TestClient(create_app(remote), base_url="https://testserver")

    assert "max-age=31536000" in client.get("/sign-in").headers["strict-transport-security"]


def test_an_unexpected_error_shows_the_service_s_error_page_with_the_headers(webkit):
    broken = APIRouter()

    @broken.get("/broken")
    def fail(user: Annotated[Principal, Depends(require(*ALL_ROLES))]) -> None:
        raise RuntimeError("a fault with a child's name in it")

    app = create_app(webkit.services, extra_routers=[broken])
    client = TestClient(app, base_url="https://testserver", raise_server_exceptions=False)
    _, email = webkit.add_user("viewer")
    webkit.sign_in(client, email)

    response = client.get("/broken")

    assert 500 == response.status_code
    assert "Sorry, there is a problem with the service" in response.text
    assert "child" not in response.text
    assert_security_headers(response)


def test_the_app_publishes_no_api_documentation(webkit):
    client = webkit.client()

    for path in ("/docs", "/redoc", "/openapi.json"):
        assert 404 == client.get(path).status_code


def test_gov_uk_frontend_is_served_but_not_the_rest_of_its_package(webkit):
    client = webkit.client()

    assert 200 == client.get("/govuk/govuk-frontend.min.css").status_code
    assert 200 == client.get("/govuk/govuk-frontend.min.js").status_code
    assert 200 == client.get("/assets/fonts/bold-b542beb274-v2.woff2").status_code
    assert 404 == client.get("/govuk/template.njk").status_code
    assert 404 == client.get("/govuk/../package.json").status_code


# -- autoescaping ----------------------------------------------------------------------------------


def test_the_environment_escapes_every_template_whatever_its_name():
    env = make_environment()
    assert env.autoescape is True

    loose = Environment(autoescape=env.autoescape, loader=DictLoader({"reply.txt": "{{ x }}", "noname": "{{ x }}"}))

    assert ESCAPED_SCRIPT in loose.get_template("reply.txt").render(x=HOSTILE)
    assert ESCAPED_SCRIPT in loose.get_template("noname").render(x=HOSTILE)


def hostile_user() -> Principal:
    return Principal(
        user_id=1, email=HOSTILE, role=Role.ADMIN, session_hash="h", csrf_token=HOSTILE, must_change_password=True
    )


def hostile_paging() -> Pagination:
    request = SimpleNamespace(url=SimpleNamespace(path="/audit"), query_params=_Query({"actor": HOSTILE}))
    return paginate(request, page=2, page_size=1, total=3)  # type: ignore[arg-type]


class _Query(dict[str, str]):
    def multi_items(self):
        return list(self.items())


def common() -> dict[str, object]:
    return {
        "user": hostile_user(),
        "csrf_token": HOSTILE,
        "csp_nonce": "n",
        "nav": [SimpleNamespace(text=HOSTILE, href=HOSTILE, current=True)],
        "now": START,
        "service_name": HOSTILE,
        "errors": {HOSTILE: HOSTILE},
    }


ACCOUNT = SimpleNamespace(
    id=7,
    email=HOSTILE,
    role=HOSTILE,
    created_at=START,
    last_sign_in_at=START,
    disabled=False,
    must_change_password=True,
)
#: a context for each template with hostile text wherever text goes
CONTEXTS: dict[str, dict[str, object]] = {
    "sign_in.html": {"email": HOSTILE, "locked": HOSTILE, "next_path": HOSTILE, "notice": HOSTILE},
    "signed_out.html": {},
    "account_password.html": {},
    "errors.html": {"heading": HOSTILE, "lines": [HOSTILE], "link": (HOSTILE, HOSTILE)},
    "admin/users.html": {
        "users": [
            {"id": HOSTILE, "email": HOSTILE, "role": HOSTILE, "status": (HOSTILE, HOSTILE), "last_sign_in_at": START}
        ],
        "done": HOSTILE,
    },
    "admin/user_new.html": {"roles": [(HOSTILE, HOSTILE, HOSTILE)], "email": HOSTILE, "role": HOSTILE},
    "admin/one_time_password.html": {"heading": HOSTILE, "email": HOSTILE, "password": HOSTILE, "user_id": HOSTILE},
    "admin/user.html": {
        "account": ACCOUNT,
        "status": (HOSTILE, HOSTILE),
        "role_name": HOSTILE,
        "roles": [(HOSTILE, HOSTILE, HOSTILE)],
        "sessions": HOSTILE,
        "is_self": False,
        "done": HOSTILE,
    },
    "audit.html": {
        "rows": [[START, HOSTILE, HOSTILE, HOSTILE, HOSTILE]],
        "paging": hostile_paging(),
        "actor_options": [(HOSTILE, HOSTILE)],
        "action_options": [(HOSTILE, HOSTILE)],
        "entity_options": [(HOSTILE, HOSTILE)],
        "chosen": {"actor": HOSTILE, "action": HOSTILE, "entity": HOSTILE, "record": HOSTILE},
        "since": {"day": HOSTILE, "month": HOSTILE, "year": HOSTILE},
        "until": {"day": HOSTILE, "month": HOSTILE, "year": HOSTILE},
    },
}


@pytest.mark.parametrize("name", sorted(CONTEXTS))
def test_every_template_shows_hostile_text_as_inert_text(name):
    html = make_environment().get_template(name).render({**common(), **CONTEXTS[name]})

    assert_inert(html)


def test_every_template_of_this_foundation_has_a_hostile_context():
    mine = {"account_password.html", "errors.html", "sign_in.html", "signed_out.html", "audit.html"}
    mine |= {f"admin/{p.name}" for p in (TEMPLATES / "admin").glob("*.html")}

    assert set() == mine - set(CONTEXTS)


def test_the_macros_escape_what_they_are_given():
    env = make_environment()
    page = env.from_string(
        '{% from "macros.html" import error_summary, summary_list, table, text_input, textarea, radios, select,'
        " date_input, button, notification, tag, back_link, password_input %}"
        "{{ error_summary({h: h}) }}"
        "{{ summary_list([(h, h), {'key': h, 'value': [h], 'action': {'href': h, 'text': h}}]) }}"
        "{{ table([h], [[h, {'text': h, 'href': h}]], caption=h) }}{{ text_input(h, h, value=h, error=h, hint=h) }}"
        "{{ textarea(h, h, value=h, error=h) }}{{ radios(h, h, [(h, h, h)], value=h, error=h) }}"
        "{{ select(h, h, [(h, h)], value=h) }}{{ date_input(h, h, {'day': h}) }}{{ button(h, name=h, value=h) }}"
        "{{ notification(h, text=h) }}{{ tag(h) }}{{ back_link(h, h) }}{{ password_input(h, h, error=h) }}"
    )

    assert_inert(page.render(h=HOSTILE))


def test_markup_a_page_builds_itself_is_kept():
    env = make_environment()

    html = env.from_string('{% from "macros.html" import table %}{{ table(["a"], [[m]]) }}').render(
        m=Markup('<a class="govuk-link" href="/cases/SSCP-2026-001">SSCP-2026-001</a>')
    )

    assert '<a class="govuk-link" href="/cases/SSCP-2026-001">SSCP-2026-001</a>' in html


def test_hostile_audit_entries_are_inert_on_the_audit_page(webkit, signed_in):
    admin = signed_in("admin")
    with UnitOfWork(webkit.engine) as uow:
        uow.audit.record(HOSTILE, HOSTILE, HOSTILE, HOSTILE, {HOSTILE: HOSTILE}, at=START)
        uow.commit()

    page = admin.get("/audit")

    assert 200 == page.status_code
    assert_inert(page.text)


# -- downloads -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Agency summary.docx", "Agency summary.docx"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\report.xlsx", "report.xlsx"),
        ('evil"\r\nSet-Cookie: a=b.docx', "evil_Set-Cookie_ a=b.docx"),
        ("=HYPERLINK(1).xlsx", "HYPERLINK(1).xlsx"),
        ("...", "download"),
        ("", "download"),
        (None, "download"),
    ],
)
def test_a_download_gets_a_safe_name(given, expected):
    assert expected == safe_filename(given)


def test_a_very_long_name_keeps_its_extension():
    name = safe_filename("a" * 400 + ".docx")

    assert 150 == len(name)
    assert name.endswith(".docx")


def test_a_download_is_an_attachment_never_shown_in_the_browser():
    response = download_response(b"<html><script>alert(1)</script>", "chronology <b>.html")

    assert response.headers["content-disposition"].startswith('attachment; filename="chronology _b_.html"')
    assert "filename*=UTF-8''chronology%20_b_.html" in response.headers["content-disposition"]
    assert "application/octet-stream" == response.headers["content-type"]
    assert "sandbox" in response.headers["content-security-policy"]


def test_a_word_document_downloads_with_its_type_and_a_non_ascii_name_survives():
    response = download_response(b"PK", "Référral – Zoë.docx")

    assert response.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument")
    assert "filename*=UTF-8''R%C3%A9f%C3%A9rral%20%E2%80%93%20Zo%C3%AB.docx" in response.headers["content-disposition"]


# -- passwords -----------------------------------------------------------------------------------


def test_passwords_need_twelve_characters_and_nothing_else():
    assert 12 == MIN_PASSWORD_LENGTH
    assert password_problem("elevenchars") is not None
    assert password_problem("twelve chars") is None
    assert password_problem("aaaaaaaaaaaa") is None  # no composition rules


def test_one_time_passwords_are_long_and_differ():
    passwords = {one_time_password() for _ in range(50)}

    assert 50 == len(passwords)
    assert all(len(p) == 23 and password_problem(p) is None for p in passwords)


def test_stored_passwords_are_argon2id(webkit):
    user_id, _ = webkit.add_user("viewer")

    with UnitOfWork(webkit.engine) as uow:
        assert stored_user(uow, user_id).password_hash.startswith("$argon2id$")


def test_the_production_hasher_uses_rfc_9106_s_parameters():
    from web.ports import default_password_hasher

    hasher = default_password_hasher()

    assert (3, 65536, 4) == (hasher.time_cost, hasher.memory_cost, hasher.parallelism)


def test_dates_are_shown_in_london_time():
    env = make_environment()

    summer = env.from_string("{{ t | datetime }}").render(t=dt.datetime(2026, 7, 1, 8, 5, tzinfo=dt.UTC))

    assert "1 July 2026 at 9:05am" == summer
