"""Signing in and out, sessions kept on the server, the per-account limit, CSRF."""

from __future__ import annotations

from storage.uow import UnitOfWork
from tests.unit.web_support import (
    PASSWORD,
    csrf_token,
    stored_user,
)
from web.security import sha256_hex

pytest_plugins = ("tests.unit.web_kit",)

COOKIE = "__Host-session"


def audit_actions(webkit) -> list[tuple[str, str, str | None]]:
    with UnitOfWork(webkit.engine) as uow:
        return [(e.actor, e.action, e.entity_id) for e in uow.audit.list() if e.action != "user.added"]


def session_rows(webkit) -> int:
    with UnitOfWork(webkit.engine) as uow:
        return sum(len(uow.accounts.sessions_for(u)) for u in uow.accounts.users())


# -- the sign-in page ----------------------------------------------------------------------------


def test_the_sign_in_page_follows_the_gov_uk_pattern(webkit):
    page = webkit.client().get("/sign-in")

    assert 200 == page.status_code
    assert '<label class="govuk-label" for="email">Email address</label>' in page.text
    assert '<label class="govuk-label" for="password">Password</label>' in page.text
    assert ">Sign in</button>" in page.text
    assert 'name="csrf_token"' in page.text


def test_signing_in_starts_a_session_in_a_host_only_secure_cookie(webkit):
    user_id, email = webkit.add_user("business_unit")
    client = webkit.client()

    response = webkit.sign_in(client, email)

    assert 303 == response.status_code
    assert "/" == response.headers["location"]
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(COOKIE + "="))
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path=/", "samesite=strict", "secure"} <= attributes
    assert not any(a.startswith("domain") for a in attributes)
    session_id = client.cookies[COOKIE]
    assert 43 <= len(session_id)  # 256 bits, URL-safe base64
    with UnitOfWork(webkit.engine) as uow:
        user = stored_user(uow, user_id)
        assert [sha256_hex(session_id)] == [s.id_hash for s in uow.accounts.sessions_for(user)]
    assert [(email, "user.signed_in", str(user_id))] == audit_actions(webkit)


def test_the_email_is_matched_whatever_its_case(webkit):
    _, email = webkit.add_user("viewer")

    assert 303 == webkit.sign_in(webkit.client(), email.upper()).status_code


def test_a_wrong_password_is_refused_without_saying_which_was_wrong(webkit):
    user_id, email = webkit.add_user("business_unit")

    wrong_password = webkit.sign_in(webkit.client(), email, "not the password at all")
    unknown_email = webkit.sign_in(webkit.client(), "nobody@partnership.example.org")

    assert 400 == wrong_password.status_code
    assert "Enter a correct email address and password" in wrong_password.text
    assert "There is a problem" in wrong_password.text
    assert wrong_password.text.count("Enter a correct email address and password") == unknown_email.text.count(
        "Enter a correct email address and password"
    )
    assert COOKIE not in wrong_password.cookies
    assert [
        ("anonymous", "user.sign_in_failed", str(user_id)),
        ("anonymous", "user.sign_in_failed", None),
    ] == audit_actions(webkit)


def test_a_failure_for_an_unknown_account_records_the_email_tried_but_never_other_text(webkit):
    webkit.sign_in(webkit.client(), "nobody@partnership.example.org")
    webkit.sign_in(webkit.client(), "my password typed in the wrong box")

    with UnitOfWork(webkit.engine) as uow:
        details = [e.detail for e in uow.audit.list()]
    assert [{"email": "nobody@partnership.example.org"}, {"email": None}] == details


def test_an_empty_form_asks_for_both_fields(webkit):
    client = webkit.client()
    token = csrf_token(client.get("/sign-in").text)

    response = client.post("/sign-in", data={"email": "", "password": "", "csrf_token": token})

    assert 400 == response.status_code
    assert '<a href="#email">Enter your email address</a>' in response.text
    assert '<a href="#password">Enter your password</a>' in response.text
    assert response.text.startswith("<!DOCTYPE html>")
    assert "<title>Error: Sign in" in response.text


def test_the_tenth_failure_in_five_minutes_locks_the_account_even_against_the_right_password(webkit):
    user_id, email = webkit.add_user("business_unit")
    client = webkit.client()
    for _ in range(10):
        assert 400 == webkit.sign_in(client, email, "wrong password again").status_code

    refused = webkit.sign_in(client, email, PASSWORD)

    assert 429 == refused.status_code
    assert "too many attempts to sign in to this account" in refused.text
    assert COOKIE not in client.cookies
    assert ("anonymous", "user.sign_in_refused", str(user_id)) == audit_actions(webkit)[-1]


def test_the_lock_lifts_when_the_failures_are_older_than_five_minutes(webkit):
    _, email = webkit.add_user("business_unit")
    client = webkit.client()
    for _ in range(10):
        webkit.sign_in(client, email, "wrong password again")

    webkit.clock.advance(minutes=5, seconds=1)

    assert 303 == webkit.sign_in(client, email).status_code


def test_unknown_accounts_are_limited_too_so_the_limit_tells_nothing(webkit):
    client = webkit.client()
    for _ in range(10):
        webkit.sign_in(client, "nobody@partnership.example.org", "guess")

    assert 429 == webkit.sign_in(client, "nobody@partnership.example.org", "guess").status_code


def test_the_limit_is_per_account(webkit):
    _, email = webkit.add_user("business_unit")
    client = webkit.client()
    for _ in range(10):
        webkit.sign_in(client, "someone-else@partnership.example.org", "guess")

    assert 303 == webkit.sign_in(client, email).status_code


def test_a_disabled_user_cannot_sign_in(webkit):
    user_id, email = webkit.add_user("business_unit")
    with UnitOfWork(webkit.engine) as uow:
        uow.accounts.disable(stored_user(uow, user_id))
        uow.commit()

    response = webkit.sign_in(webkit.client(), email)

    assert 400 == response.status_code
    assert "Enter a correct email address and password" in response.text


def test_signing_in_again_rotates_the_session_id(webkit):
    _, email = webkit.add_user("business_unit")
    client = webkit.client()
    webkit.sign_in(client, email)
    first = client.cookies[COOKIE]

    webkit.sign_in(client, email)

    assert first != client.cookies[COOKIE]
    stale = webkit.client()
    stale.cookies.set(COOKIE, first)
    assert 303 == stale.get("/admin/users").status_code  # the old id is gone
    assert 1 == session_rows(webkit)


def test_after_signing_in_the_person_goes_where_they_were_going_but_never_off_site(webkit):
    _, email = webkit.add_user("admin")
    client = webkit.client()
    assert "/sign-in?next=/admin/users" == client.get("/admin/users").headers["location"]

    def sign_in_with_next(target: str) -> str:
        c = webkit.client()
        token = csrf_token(c.get("/sign-in").text)
        response = c.post("/sign-in", data={"email": email, "password": PASSWORD, "csrf_token": token, "next": target})
        return str(response.headers["location"])

    assert "/admin/users" == sign_in_with_next("/admin/users")
    assert "/" == sign_in_with_next("//evil.example.com/")
    assert "/" == sign_in_with_next("https://evil.example.com/")
    assert "/" == sign_in_with_next("/\\evil.example.com")


# -- time-outs, signing out, disabling -------------------------------------------------------------


def test_a_session_ends_after_thirty_idle_minutes(signed_in, webkit):
    client = signed_in("admin")
    webkit.clock.advance(minutes=29)
    assert 200 == client.get("/admin/users").status_code

    webkit.clock.advance(minutes=29)
    assert 200 == client.get("/admin/users").status_code  # used 29 minutes ago: still alive

    webkit.clock.advance(minutes=30)
    response = client.get("/admin/users")

    assert 303 == response.status_code
    assert response.headers["location"].startswith("/sign-in")
    assert 0 == session_rows(webkit)


def test_a_session_ends_after_twelve_hours_however_busy(signed_in, webkit):
    client = signed_in("admin")
    for _ in range(12 * 3 - 1):
        webkit.clock.advance(minutes=20)
        assert 200 == client.get("/admin/users").status_code

    webkit.clock.advance(minutes=20)

    assert 303 == client.get("/admin/users").status_code


def test_signing_out_ends_the_session_on_the_server(signed_in, webkit):
    client = signed_in("business_unit")
    session_id = client.cookies[COOKIE]
    token = webkit.token(client)

    response = client.post("/sign-out", data={"csrf_token": token})

    assert 200 == response.status_code
    assert "You have signed out" in response.text
    assert 0 == session_rows(webkit)
    replay = webkit.client()
    replay.cookies.set(COOKIE, session_id)
    assert 303 == replay.get("/account/password").status_code
    assert ("user.signed_out", str(client.user_id)) == audit_actions(webkit)[-1][1:]


def test_signing_out_needs_the_form_token(signed_in, webkit):
    client = signed_in("business_unit")

    response = client.post("/sign-out", data={})

    assert 403 == response.status_code
    assert 1 == session_rows(webkit)


def test_disabling_a_user_ends_their_sessions_at_once(signed_in, webkit):
    admin = signed_in("admin")
    victim = signed_in("business_unit")
    assert 200 == victim.get("/account/password").status_code

    response = admin.post(f"/admin/users/{victim.user_id}/disable", data={"csrf_token": webkit.token(admin)})

    assert 303 == response.status_code
    assert 303 == victim.get("/account/password").status_code
    with UnitOfWork(webkit.engine) as uow:
        assert [] == uow.accounts.sessions_for(stored_user(uow, victim.user_id))


# -- CSRF ----------------------------------------------------------------------------------------


def test_a_form_post_without_its_token_is_refused_and_changes_nothing(signed_in, webkit):
    admin = signed_in("admin")
    other_id, _ = webkit.add_user("viewer")

    missing = admin.post(f"/admin/users/{other_id}/role", data={"role": "admin"})
    wrong = admin.post(f"/admin/users/{other_id}/role", data={"role": "admin", "csrf_token": "x" * 43})

    assert 403 == missing.status_code
    assert 403 == wrong.status_code
    assert "Sorry, that form could not be sent" in missing.text
    with UnitOfWork(webkit.engine) as uow:
        assert "viewer" == stored_user(uow, other_id).role


def test_one_sessions_token_does_not_work_for_another(signed_in, webkit):
    admin = signed_in("admin")
    other_admin = signed_in("admin")
    other_id, _ = webkit.add_user("viewer")

    response = admin.post(
        f"/admin/users/{other_id}/role", data={"role": "admin", "csrf_token": webkit.token(other_admin)}
    )

    assert 403 == response.status_code


def test_the_sign_in_form_needs_its_own_token(webkit):
    _, email = webkit.add_user("business_unit")
    client = webkit.client()
    client.get("/sign-in")

    response = client.post("/sign-in", data={"email": email, "password": PASSWORD})

    assert 403 == response.status_code
    assert COOKIE not in client.cookies


# -- one-time passwords --------------------------------------------------------------------------


def test_a_one_time_password_must_be_changed_before_anything_else(webkit):
    _, email = webkit.add_user("business_unit", must_change=True)
    client = webkit.client()

    response = webkit.sign_in(client, email)

    assert "/account/password" == response.headers["location"]
    assert "/account/password" == client.get("/").headers["location"]
    page = client.get("/account/password")
    assert 200 == page.status_code
    assert "You must choose a new password" in page.text


def test_changing_the_password_rotates_the_session_and_ends_the_others(webkit):
    user_id, email = webkit.add_user("business_unit", must_change=True)
    elsewhere = webkit.client()
    webkit.sign_in(elsewhere, email)
    client = webkit.client()
    webkit.sign_in(client, email)
    before = client.cookies[COOKIE]
    new = "a new and rather long passphrase"

    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": new,
            "confirm_password": new,
            "csrf_token": webkit.token(client),
        },
    )

    assert 303 == response.status_code
    assert before != client.cookies[COOKIE]
    assert 303 == elsewhere.get("/account/password").status_code
    assert 1 == session_rows(webkit)
    assert 303 == webkit.sign_in(webkit.client(), email, new).status_code
    with UnitOfWork(webkit.engine) as uow:
        assert not stored_user(uow, user_id).must_change_password


def test_a_new_password_shorter_than_twelve_characters_is_refused(signed_in, webkit):
    client = signed_in("viewer")

    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "elevenchars",
            "confirm_password": "elevenchars",
            "csrf_token": webkit.token(client),
        },
    )

    assert 400 == response.status_code
    assert "Password must be 12 characters or more" in response.text


def test_a_wrong_current_password_changes_nothing(signed_in, webkit):
    client = signed_in("viewer")
    new = "a new and rather long passphrase"

    response = client.post(
        "/account/password",
        data={
            "current_password": "not my password",
            "new_password": new,
            "confirm_password": new,
            "csrf_token": webkit.token(client),
        },
    )

    assert 400 == response.status_code
    assert "Your current password is not right" in response.text
