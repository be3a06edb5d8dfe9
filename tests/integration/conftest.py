"""Fixtures for tests against real servers. Every storage test runs on SQLite and PostgreSQL.

``database_url``: an empty database (a SQLite file in tmp_path, or a new database in the
session's throwaway cluster). ``engine``: an engine on a migrated database: on PostgreSQL one
database per module, migrated once and emptied before each test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from intake.mailboxes.fake import FakeMailbox
from intake.outbox import MaildirTransport
from intake.service import Service
from intake.settings import DatabaseSettings, ScreeningSettings, ServiceSettings, Settings
from storage.db import make_engine, migrate, sqlite_url
from tests.fixtures import mail
from tests.fixtures.sample import FIXTURE_AGENCIES
from tests.services.postgres import PostgresCluster, postgres, postgres_url  # noqa: F401  (fixtures)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        return sqlite_url(tmp_path)
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="module")
def migrated_postgres(postgres: PostgresCluster) -> Iterator[str]:  # noqa: F811
    """The module's migrated PostgreSQL database (its name)."""
    url = postgres.create_database()
    engine = make_engine(url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    name = url.rsplit("/", 1)[1]
    try:
        yield name
    finally:
        postgres.drop_database(name)


@pytest.fixture
def engine(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if backend == "sqlite":
        url = sqlite_url(tmp_path)
    else:
        cluster: PostgresCluster = request.getfixturevalue("postgres")
        name = request.getfixturevalue("migrated_postgres")
        cluster.reset_database(name)
        url = cluster.url(name)
    engine = make_engine(url)
    try:
        migrate(engine)  # new on SQLite; on PostgreSQL a check that a test left it at head
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def inbox() -> FakeMailbox:
    """An in-memory mailbox for the service under test."""
    return FakeMailbox()


@pytest.fixture
def service(database_url: str, tmp_path: Path, inbox: FakeMailbox) -> Iterator[Service]:
    """The whole service on the test database: the in-memory inbox, a Maildir outbox in
    tmp_path/outbox, the fixture agencies, the fixture mail's trusted authserv-id."""
    settings = Settings(
        service=ServiceSettings(data_dir=str(tmp_path / "var")),
        database=DatabaseSettings(url=database_url),
        screening=ScreeningSettings(trusted_authserv_ids=(mail.AUTHSERV_ID,)),
        agencies=FIXTURE_AGENCIES.agencies,
    )
    built = Service.build(settings, mailboxes=[inbox], transport=MaildirTransport(tmp_path / "outbox"))
    try:
        yield built
    finally:
        built.close()
