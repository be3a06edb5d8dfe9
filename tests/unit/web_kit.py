"""Fixtures for the web app's tests: an app on a migrated SQLite file (copied per test), a clock
you move, a cheap password hasher, users of each role, and signed-in TestClients.

Use from a test module (helpers come from tests.unit.web_support; never import this module,
so pytest can load it as a plugin)::

    pytest_plugins = ("tests.unit.web_kit",)

    def test_something(webkit, signed_in):
        client = signed_in("business_unit")     # client.user (email), client.user_id
        page = client.get("/queue")
        token = webkit.token(client)            # the session's CSRF token, for a POST

``webkit``: a WebKit (app, services, clock, engine, actions, add_user(...), client(),
sign_in(...), signed_in(role), token(client)). The clients talk https to "testserver", so the
Secure ``__Host-`` cookie is kept.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.catalogue import load_catalogue
from core.settings import FormsContext
from storage.db import make_engine, migrate, sqlite_url
from tests.unit.web_support import MemoryBlobs, MovableClock, RecordingActions, SignedInClient, WebKit, cheap_hasher
from web.app import create_app
from web.ports import WebServices, WebSettings


@pytest.fixture(scope="session")
def web_database_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("web-db")
    engine = make_engine(sqlite_url(directory))
    try:
        migrate(engine)
    finally:
        engine.dispose()
    return directory / "intake.sqlite3"


@pytest.fixture(scope="session")
def web_forms() -> FormsContext:
    return FormsContext(catalogue=load_catalogue())


@pytest.fixture
def webkit(tmp_path: Path, web_database_template: Path, web_forms: FormsContext) -> Iterator[WebKit]:
    shutil.copy(web_database_template, tmp_path / "intake.sqlite3")
    engine = make_engine(sqlite_url(tmp_path))
    clock = MovableClock()
    actions = RecordingActions()
    services = WebServices(
        engine=engine,
        actions=actions,
        blobs=MemoryBlobs(),
        forms=web_forms,
        clock=clock,
        settings=WebSettings(base_url="https://127.0.0.1:8000"),
        hasher=cheap_hasher(),
    )
    try:
        yield WebKit(app=create_app(services), services=services, clock=clock, engine=engine, actions=actions)
    finally:
        engine.dispose()


@pytest.fixture
def signed_in(webkit: WebKit) -> Callable[..., SignedInClient]:
    return webkit.signed_in
