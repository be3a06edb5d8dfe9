"""The schema: migrations from empty, the ledger's unique key, the append-only audit log."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import SQLModel

from core.mail import MessageKey
from storage.db import alembic_config, make_engine, migrate
from storage.errors import AlreadyRecorded
from storage.models import AuditEntry
from storage.uow import UnitOfWork

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
TABLES = {
    "audit_log",
    "cases",
    "documents",
    "exception_items",
    "expected_returns",
    "findings",
    "mailbox_states",
    "messages",
    "outbox",
}


def key(uid: int, folder: str = "INBOX", uidvalidity: int = 7) -> MessageKey:
    return MessageKey(mailbox="default", folder=folder, uidvalidity=uidvalidity, uid=uid)


def add_message(uow: UnitOfWork, uid: int, **overrides) -> Any:
    values: dict[str, Any] = {
        "message_id": f"<m{uid}@police.example.org>",
        "sha256": f"{uid:064x}",
        "blob": f"{uid:064x}",
        "sender": "officer@police.example.org",
        "subject": "Agency summary",
        "received_at": NOW,
    }
    values.update(overrides)
    return uow.messages.add(key(uid), **values)


def test_migrations_build_every_table_from_an_empty_database(database_url):
    engine = make_engine(database_url)
    try:
        assert set() == set(inspect(engine).get_table_names())
        migrate(engine)
        assert TABLES <= set(inspect(engine).get_table_names())
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        with engine.connect() as connection:
            assert head == MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def test_migrations_match_the_tables_the_code_declares(engine):
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert [] == differences


def test_migrating_twice_changes_nothing(engine):
    migrate(engine)
    assert TABLES <= set(inspect(engine).get_table_names())


def test_the_initial_migration_can_be_undone_and_redone(engine):
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set() == set(inspect(engine).get_table_names()) - {"alembic_version"}
    migrate(engine)
    assert TABLES <= set(inspect(engine).get_table_names())


def test_timestamps_come_back_aware_in_utc(engine):
    paris = dt.timezone(dt.timedelta(hours=1))
    with UnitOfWork(engine) as uow:
        row = add_message(uow, 1, received_at=dt.datetime(2026, 3, 2, 10, 30, tzinfo=paris))
        uow.commit()
        row_id = row.id
    with UnitOfWork(engine) as uow:
        stored = uow.messages.get(row_id)
        assert stored is not None
        assert NOW == stored.received_at
        assert dt.UTC == stored.received_at.tzinfo


def test_a_naive_timestamp_is_refused(engine):
    with UnitOfWork(engine) as uow, pytest.raises(Exception, match="naive"):
        add_message(uow, 1, received_at=dt.datetime(2026, 3, 2, 9, 30))


def test_the_ledger_refuses_a_second_row_for_the_same_key(engine):
    with UnitOfWork(engine) as uow:
        add_message(uow, 1)
        uow.commit()
    with UnitOfWork(engine) as uow:
        with pytest.raises(AlreadyRecorded):
            add_message(uow, 1, sha256="f" * 64)
        # the unit of work is still usable after the refusal
        add_message(uow, 2)
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert [1, 2] == [m.uid for m in uow.messages.list_all()]


def test_the_same_uid_in_another_folder_or_uidvalidity_is_another_message(engine):
    with UnitOfWork(engine) as uow:
        uow.messages.add(
            key(1), message_id=None, sha256="a" * 64, blob="a" * 64, sender=None, subject=None, received_at=None
        )
        uow.messages.add(
            key(1, folder="Other"),
            message_id=None,
            sha256="a" * 64,
            blob="a" * 64,
            sender=None,
            subject=None,
            received_at=None,
        )
        uow.messages.add(
            key(1, uidvalidity=8),
            message_id=None,
            sha256="a" * 64,
            blob="a" * 64,
            sender=None,
            subject=None,
            received_at=None,
        )
        uow.commit()
        assert 3 == len(uow.messages.list_all())


def test_the_database_refuses_an_unknown_state(engine):
    with UnitOfWork(engine) as uow:
        row = add_message(uow, 1)
        row.state = "lost"
        with pytest.raises(IntegrityError):
            uow.flush()


def test_leaving_a_unit_of_work_without_commit_rolls_back(engine):
    with UnitOfWork(engine) as uow:
        add_message(uow, 1)
    with UnitOfWork(engine) as uow:
        assert [] == uow.messages.list_all()


def test_rollback_discards_what_was_not_committed(engine):
    with UnitOfWork(engine) as uow:
        add_message(uow, 1)
        uow.commit()
        add_message(uow, 2)
        uow.rollback()
        assert [1] == [m.uid for m in uow.messages.list_all()]


def test_the_audit_log_refuses_update(engine):
    with UnitOfWork(engine) as uow:
        uow.audit.record("alice", "close", "exception_item", 1, {"resolution": "dismiss"}, NOW)
        uow.commit()
    with engine.begin() as connection, pytest.raises(DBAPIError, match="append-only"):
        connection.execute(text("UPDATE audit_log SET actor = 'mallory'"))
    with UnitOfWork(engine) as uow:
        assert ["alice"] == [e.actor for e in uow.audit.list()]


def test_the_audit_log_refuses_delete(engine):
    with UnitOfWork(engine) as uow:
        uow.audit.record("alice", "close", "exception_item", 1, None, NOW)
        uow.commit()
    with engine.begin() as connection, pytest.raises(DBAPIError, match="append-only"):
        connection.execute(text("DELETE FROM audit_log"))
    with UnitOfWork(engine) as uow:
        entry = uow.audit.list()[0]
        uow.session.delete(entry)
        with pytest.raises(DBAPIError, match="append-only"):
            uow.flush()
    with UnitOfWork(engine) as uow:
        assert 1 == len(uow.audit.list())


# SQLite has no TRUNCATE
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_the_audit_log_refuses_truncate_on_postgresql(engine):
    with UnitOfWork(engine) as uow:
        uow.audit.record("alice", "close", "exception_item", 1, None, NOW)
        uow.commit()
    with engine.begin() as connection, pytest.raises(DBAPIError, match="append-only"):
        connection.execute(text("TRUNCATE audit_log"))


def test_the_audit_log_keeps_entries_in_order_with_their_detail(engine):
    with UnitOfWork(engine) as uow:
        uow.audit.record("intake", "filed", "message", 1, {"case": "SSCP-2026-001"}, NOW)
        uow.audit.record("alice", "close", "exception_item", 4, None, NOW + dt.timedelta(minutes=1))
        uow.audit.record("intake", "replied", "message", 1, at=NOW + dt.timedelta(minutes=2))
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert ["filed", "close", "replied"] == [e.action for e in uow.audit.list()]
        assert ["filed", "replied"] == [e.action for e in uow.audit.list(entity="message", entity_id=1)]
        assert {"case": "SSCP-2026-001"} == uow.audit.list(limit=1)[0].detail
        assert NOW == uow.audit.list(limit=1)[0].at
        assert isinstance(uow.audit.list()[0], AuditEntry)
