"""Every route refuses an anonymous request and the wrong role; the admins' pages; the audit trail."""

from __future__ import annotations

import re
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends

from storage.uow import UnitOfWork
from tests.unit.web_support import (
    START,
    csrf_token,
    stored_user,
)
from web.app import create_app
from web.auth import Principal, require, route_access
from web.ports import Role

ROLES = [r.value for r in Role]

pytest_plugins = ("tests.unit.web_kit",)


def concrete(path: str) -> str:
    """A route's path with a plausible value for each parameter."""
    return re.sub(r"\{[^}]+\}", "1", path)


# -- the route walk -----------------------------------------------------------------------------


def test_every_route_declares_who_may_use_it(webkit):
    routes = route_access(webkit.app)

    assert routes
    public = {(r.path, m) for r in routes if r.access.public for m in r.methods}
    assert {("/sign-in", "GET"), ("/sign-in", "POST")} == public


def test_an_app_with_a_route_that_declares_nobody_is_refused(webkit):
    careless = APIRouter()

    @careless.get("/careless")
    def page() -> str:
        return "anyone"

    with pytest.raises(RuntimeError, match="/careless"):
        create_app(webkit.services, extra_routers=[careless])


def test_every_route_refuses_an_anonymous_request(webkit):
    client = webkit.client()
    for route in route_access(webkit.app):
        if route.access.public:
            continue
        for method in route.methods:
            response = client.request(method, concrete(route.path))
            if method in ("GET", "HEAD"):
                assert (303, "/sign-in") == (response.status_code, response.headers["location"].split("?")[0]), route
            else:
                assert 401 == response.status_code, route


def test_every_route_refuses_the_wrong_role(webkit, signed_in):
    clients = {role: signed_in(role) for role in ROLES}
    tokens = {role: webkit.token(client) for role, client in clients.items()}
    checked = 0
    for route in route_access(webkit.app):
        if route.access.public:
            continue
        for role in ROLES:
            if role in route.access.roles:
                continue
            for method in route.methods:
                data = {"csrf_token": tokens[role]} if method not in ("GET", "HEAD") else None
                response = clients[role].request(method, concrete(route.path), data=data)
                assert 403 == response.status_code, (route, role)
                checked += 1
    assert checked > 0


def test_a_route_added_later_is_walked_too(webkit, signed_in):
    extra = APIRouter()

    @extra.post("/queue/{item_id}/actions/{action}")
    def act(item_id: int, action: str, user: Annotated[Principal, Depends(require(Role.BUSINESS_UNIT))]) -> str:
        return "done"

    app = create_app(webkit.services, extra_routers=[extra])
    walked = {r.path: r.access.roles for r in route_access(app)}

    assert frozenset({Role.BUSINESS_UNIT}) == walked["/queue/{item_id}/actions/{action}"]


def test_the_admin_pages_are_for_admins_only(signed_in):
    for role in ("business_unit", "viewer"):
        client = signed_in(role)
        assert 403 == client.get("/admin/users").status_code
        assert 403 == client.get("/audit").status_code
    assert 200 == signed_in("admin").get("/admin/users").status_code


def test_the_navigation_shows_admins_their_pages_and_no_one_else(signed_in):
    admin_page = signed_in("admin").get("/account/password").text
    viewer_page = signed_in("viewer").get("/account/password").text

    assert 'href="/audit"' in admin_page and 'href="/admin/users"' in admin_page
    assert 'href="/audit"' not in viewer_page and 'href="/admin/users"' not in viewer_page
    assert 'href="/queue"' in viewer_page and 'href="/cases"' in viewer_page
    assert '<form method="post" action="/sign-out"' in viewer_page


# -- users ---------------------------------------------------------------------------------------


def test_an_admin_adds_a_user_and_sees_the_one_time_password_once(signed_in, webkit):
    admin = signed_in("admin")
    form = admin.get("/admin/users/new")

    response = admin.post(
        "/admin/users/new",
        data={"email": "Pat.Jones@Partnership.example.org", "role": "viewer", "csrf_token": csrf_token(form.text)},
    )

    assert 200 == response.status_code
    secret = re.search(r"([a-z2-9]{5}-){3}[a-z2-9]{5}", response.text)
    assert secret is not None
    assert "pat.jones@partnership.example.org" in response.text
    assert "no-store" == response.headers["cache-control"]
    assert secret.group(0) not in admin.get("/admin/users").text
    newcomer = webkit.client()
    assert (
        "/account/password"
        == webkit.sign_in(newcomer, "pat.jones@partnership.example.org", secret.group(0)).headers["location"]
    )
    with UnitOfWork(webkit.engine) as uow:
        added = [e for e in uow.audit.list() if e.action == "user.added" and e.actor == admin.user]
        assert [{"role": "viewer"}] == [e.detail for e in added]


def test_adding_a_user_twice_or_with_a_bad_address_is_refused(signed_in, webkit):
    admin = signed_in("admin")
    token = webkit.token(admin)

    twice = admin.post("/admin/users/new", data={"email": admin.user.upper(), "role": "viewer", "csrf_token": token})
    malformed = admin.post("/admin/users/new", data={"email": "not an email", "role": "viewer", "csrf_token": token})
    no_role = admin.post(
        "/admin/users/new", data={"email": "sam@partnership.example.org", "role": "", "csrf_token": token}
    )

    assert 400 == twice.status_code and "A user with that email address already exists" in twice.text
    assert 400 == malformed.status_code and "Enter an email address in the correct format" in malformed.text
    assert 400 == no_role.status_code and '<a href="#role">Select a role</a>' in no_role.text


def test_an_admin_changes_a_role(signed_in, webkit):
    admin = signed_in("admin")
    other_id, _ = webkit.add_user("viewer")

    response = admin.post(
        f"/admin/users/{other_id}/role", data={"role": "business_unit", "csrf_token": webkit.token(admin)}
    )

    assert (303, f"/admin/users/{other_id}?done=role") == (response.status_code, response.headers["location"])
    assert "Role changed" in admin.get(response.headers["location"]).text
    with UnitOfWork(webkit.engine) as uow:
        assert "business_unit" == stored_user(uow, other_id).role
        assert {"from": "viewer", "to": "business_unit"} == uow.audit.list()[-1].detail


def test_an_admin_cannot_lock_themselves_out(signed_in, webkit):
    admin = signed_in("admin")
    token = webkit.token(admin)

    assert 409 == admin.post(f"/admin/users/{admin.user_id}/disable", data={"csrf_token": token}).status_code
    assert (
        409
        == admin.post(f"/admin/users/{admin.user_id}/role", data={"role": "viewer", "csrf_token": token}).status_code
    )


def test_a_disabled_user_can_be_enabled_again(signed_in, webkit):
    admin = signed_in("admin")
    other_id, email = webkit.add_user("viewer")
    token = webkit.token(admin)
    admin.post(f"/admin/users/{other_id}/disable", data={"csrf_token": token})
    assert 400 == webkit.sign_in(webkit.client(), email).status_code

    admin.post(f"/admin/users/{other_id}/enable", data={"csrf_token": token})

    assert 303 == webkit.sign_in(webkit.client(), email).status_code


def test_resetting_a_password_ends_their_sessions_and_gives_a_new_one_time_password(signed_in, webkit):
    admin = signed_in("admin")
    other = signed_in("viewer")

    response = admin.post(f"/admin/users/{other.user_id}/password", data={"csrf_token": webkit.token(admin)})

    assert 200 == response.status_code
    assert "Password reset" in response.text
    assert 303 == other.get("/account/password").status_code


def test_an_unknown_user_is_not_found(signed_in):
    assert 404 == signed_in("admin").get("/admin/users/999").status_code
    assert 404 == signed_in("admin").get("/admin/users/not-a-number").status_code


# -- the audit trail -----------------------------------------------------------------------------


def add_entries(webkit) -> None:
    with UnitOfWork(webkit.engine) as uow:
        uow.audit.record("intake", "case.opened", "case", "SSCP-2026-001", None, at=START)
        uow.audit.record("intake", "queue.opened", "message", 4, {"reason": "no_case"}, at=START.replace(day=5))
        uow.audit.record("cli", "case.opened", "case", "SSCP-2026-002", {"by_hand": True}, at=START.replace(day=9))
        uow.commit()


def test_the_audit_trail_is_searched_by_who_what_which_record_and_when(signed_in, webkit):
    admin = signed_in("admin")
    add_entries(webkit)

    def shown(**query) -> list[str]:
        page = admin.get("/audit", params=query)
        assert 200 == page.status_code
        return re.findall(r'<td class="govuk-table__cell">(?:case )?(SSCP-2026-00\d|message 4)</td>', page.text)

    assert ["SSCP-2026-002", "message 4", "SSCP-2026-001"] == shown()
    assert ["SSCP-2026-002"] == shown(actor="cli")
    assert ["SSCP-2026-002", "SSCP-2026-001"] == shown(action="case")
    assert ["message 4"] == shown(entity="message")
    assert ["SSCP-2026-001"] == shown(record="SSCP-2026-001")
    assert ["message 4"] == shown(
        **{"from-day": "3", "from-month": "3", "from-year": "2026", "to-day": "5"}
        | {
            "to-month": "3",
            "to-year": "2026",
        }
    )


def test_a_person_is_chosen_by_id_so_no_email_goes_in_the_address(signed_in, webkit):
    admin = signed_in("admin")

    page = admin.get("/audit", params={"actor": f"user:{admin.user_id}"})

    assert f'<option value="user:{admin.user_id}" selected>{admin.user}</option>' in page.text
    assert "user.signed_in" in page.text


def test_a_date_that_is_not_real_is_an_error_not_a_failure(signed_in):
    page = signed_in("admin").get("/audit", params={"from-day": "31", "from-month": "2", "from-year": "2026"})

    assert 200 == page.status_code
    assert '<a href="#from">Date from must be a real date</a>' in page.text


def test_the_audit_trail_is_paged(signed_in, webkit):
    admin = signed_in("admin")
    with UnitOfWork(webkit.engine) as uow:
        for n in range(120):
            uow.audit.record("intake", "message.filed", "message", n, None, at=START)
        uow.commit()

    first = admin.get("/audit", params={"action": "message.filed"})
    third = admin.get("/audit", params={"action": "message.filed", "page": "3"})
    beyond = admin.get("/audit", params={"action": "message.filed", "page": "99"})

    assert "Showing 1 to 50 of 120 entries" in first.text
    assert 'href="/audit?action=message.filed&amp;page=2" rel="next"' in first.text
    assert "Showing 101 to 120 of 120 entries" in third.text
    assert "Showing 101 to 120 of 120 entries" in beyond.text


def test_viewing_the_audit_trail_is_itself_audited(signed_in, webkit):
    admin = signed_in("admin")

    admin.get("/audit", params={"entity": "case", "page": "2"})

    with UnitOfWork(webkit.engine) as uow:
        last = uow.audit.list()[-1]
        assert (admin.user, "audit.viewed", "audit_log") == (last.actor, last.action, last.entity)
        assert {"entity": "case", "page": 1} == last.detail
