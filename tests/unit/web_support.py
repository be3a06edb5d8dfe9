"""Helpers for the web app's tests; the fixtures that use them are in tests/unit/web_kit.py
(``pytest_plugins = ("tests.unit.web_kit",)``). A clock you move, a cheap password hasher,
blobs in memory, QueueActions that record what they are asked, WebKit, csrf_token(html),
stored_user(uow, id).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from storage.models import User
from storage.uow import UnitOfWork
from web.auth import add_user
from web.ports import ActionResult, Actor, ReplyPreview, WebServices

START = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class MovableClock:
    def __init__(self, now: dt.datetime = START) -> None:
        self.current = now

    def now(self) -> dt.datetime:
        return self.current

    def today(self) -> dt.date:
        return self.current.date()

    def advance(self, **delta: float) -> None:
        self.current += dt.timedelta(**delta)


class MemoryBlobs:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        import hashlib

        digest = hashlib.sha256(data).hexdigest()
        self.blobs[digest] = data
        return digest

    def get(self, digest: str) -> bytes:
        return self.blobs[digest]

    def exists(self, digest: str) -> bool:
        return digest in self.blobs

    def delete(self, digest: str) -> None:
        self.blobs.pop(digest, None)


@dataclass
class RecordingActions:
    """QueueActions that records what it was asked and changes nothing."""

    performed: list[tuple[int, str, dict[str, str], Actor]] = field(default_factory=list)

    def preview_reply(self, item_id: int, action: str, form: Mapping[str, str]) -> ReplyPreview | None:
        return ReplyPreview(to="officer@police.example.org", subject="Your return", body="Thank you.")

    def perform(self, item_id: int, action: str, form: Mapping[str, str], actor: Actor) -> ActionResult:
        self.performed.append((item_id, action, dict(form), actor))
        return ActionResult(ok=True, message="Done")


def cheap_hasher() -> PasswordHasher:
    """argon2id at its smallest cost: the tests prove behaviour, not hardness."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class SignedInClient(TestClient):
    user: str
    user_id: int


def stored_user(uow: UnitOfWork, user_id: int) -> User:
    user = uow.accounts.user(user_id)
    assert user is not None
    return user


def csrf_token(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "the page has no csrf_token input"
    return found.group(1)


@dataclass
class WebKit:
    app: FastAPI
    services: WebServices
    clock: MovableClock
    engine: Engine
    actions: RecordingActions
    _count: int = 0

    def add_user(
        self, role: str, email: str | None = None, *, password: str = PASSWORD, must_change: bool = False
    ) -> tuple[int, str]:
        self._count += 1
        email = email or f"{role.replace('_', '-')}{self._count}@partnership.example.org"
        with UnitOfWork(self.engine) as uow:
            user, _ = add_user(
                uow, self.services.hasher, email=email, role=role, password=password, actor="test", now=self.clock.now()
            )
            user.must_change_password = must_change
            uow.commit()
            assert user.id is not None
            return user.id, user.email

    def client(self) -> TestClient:
        return TestClient(self.app, base_url="https://testserver", follow_redirects=False)

    def sign_in(self, client: TestClient, email: str, password: str = PASSWORD):
        page = client.get("/sign-in")
        # already signed in: the page redirects, and the sign-in cookie still holds the form's token
        token = csrf_token(page.text) if page.status_code == 200 else client.cookies["__Host-sign-in"]
        return client.post("/sign-in", data={"email": email, "password": password, "csrf_token": token})

    def signed_in(self, role: str, **kwargs) -> SignedInClient:
        user_id, email = self.add_user(role, **kwargs)
        client = SignedInClient(self.app, base_url="https://testserver", follow_redirects=False)
        response = self.sign_in(client, email, kwargs.get("password", PASSWORD))
        assert 303 == response.status_code, response.text
        client.user = email
        client.user_id = user_id
        return client

    def token(self, client: TestClient, path: str = "/account/password") -> str:
        """A signed-in client's CSRF token, read from a page with a form."""
        return csrf_token(client.get(path).text)
