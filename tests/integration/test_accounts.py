"""The web app's accounts, sessions, sign-in attempts and the audit search, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import IntegrityError

from storage.accounts import EmailTaken
from storage.uow import UnitOfWork

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
HASH = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"


def add(uow: UnitOfWork, email: str = "alex@partnership.example.org", role: str = "business_unit"):
    return uow.accounts.add_user(email, role, HASH, must_change_password=False, now=NOW)


def test_an_email_is_stored_lower_cased_and_is_unique_whatever_its_case(engine):
    with UnitOfWork(engine) as uow:
        add(uow, "Alex@Partnership.example.org")
        uow.commit()
    with UnitOfWork(engine) as uow:
        with pytest.raises(EmailTaken):
            add(uow, "ALEX@partnership.example.org")
        add(uow, "sam@partnership.example.org")  # the unit of work is still usable
        uow.commit()
        assert ["alex@partnership.example.org", "sam@partnership.example.org"] == [
            u.email for u in uow.accounts.users()
        ]
        assert uow.accounts.user_by_email(" Alex@PARTNERSHIP.example.org ") is not None


def test_the_database_refuses_an_unknown_role(engine):
    with UnitOfWork(engine) as uow:
        user = add(uow)
        user.role = "superuser"
        with pytest.raises(IntegrityError):
            uow.flush()


def test_a_session_is_found_by_its_hash_with_its_user_and_ends(engine):
    with UnitOfWork(engine) as uow:
        user = add(uow)
        uow.accounts.create_session("a" * 64, user, "token", NOW)
        uow.accounts.create_session("b" * 64, user, "token", NOW)
        uow.commit()
    with UnitOfWork(engine) as uow:
        found = uow.accounts.session_with_user("a" * 64)
        assert found is not None
        session, owner = found
        assert ("alex@partnership.example.org", NOW) == (owner.email, session.created_at)
        assert uow.accounts.end_session("a" * 64)
        assert not uow.accounts.end_session("a" * 64)
        uow.commit()
        assert uow.accounts.session_with_user("a" * 64) is None


def test_disabling_a_user_ends_every_session_of_theirs_only(engine):
    with UnitOfWork(engine) as uow:
        alex, sam = add(uow), add(uow, "sam@partnership.example.org")
        for n, user in enumerate((alex, alex, sam)):
            uow.accounts.create_session(f"{n:064x}", user, "token", NOW)
        assert 2 == uow.accounts.disable(alex)
        uow.commit()
        assert [] == uow.accounts.sessions_for(alex)
        assert 1 == len(uow.accounts.sessions_for(sam))


def test_stale_sessions_are_swept(engine):
    with UnitOfWork(engine) as uow:
        user = add(uow)
        old = uow.accounts.create_session("a" * 64, user, "t", NOW - dt.timedelta(hours=13))
        old.last_seen_at = NOW
        idle = uow.accounts.create_session("b" * 64, user, "t", NOW - dt.timedelta(hours=1))
        idle.last_seen_at = NOW - dt.timedelta(minutes=31)
        uow.accounts.create_session("c" * 64, user, "t", NOW)
        uow.flush()

        swept = uow.accounts.end_stale_sessions(
            idle_since=NOW - dt.timedelta(minutes=30), created_before=NOW - dt.timedelta(hours=12)
        )

        assert 2 == swept
        assert ["c" * 64] == [s.id_hash for s in uow.accounts.sessions_for(user)]


def test_failures_are_counted_in_the_window_and_after_the_last_success(engine):
    with UnitOfWork(engine) as uow:
        for minutes, ok in ((10, False), (4, False), (3, True), (2, False), (1, False)):
            uow.accounts.record_attempt("k", succeeded=ok, now=NOW - dt.timedelta(minutes=minutes))
        uow.accounts.record_attempt("other", succeeded=False, now=NOW)
        uow.commit()

        assert 2 == uow.accounts.recent_failures("k", NOW - dt.timedelta(minutes=5))
        assert 1 == uow.accounts.recent_failures("other", NOW - dt.timedelta(minutes=5))
        assert 3 == uow.accounts.prune_attempts(NOW - dt.timedelta(minutes=2))


def record(uow: UnitOfWork, actor: str, action: str, entity: str, entity_id: str | None, minutes: int) -> None:
    uow.audit.record(actor, action, entity, entity_id, None, at=NOW + dt.timedelta(minutes=minutes))


def test_the_audit_search_filters_pages_and_shows_the_newest_first(engine):
    with UnitOfWork(engine) as uow:
        record(uow, "intake", "case.opened", "case", "SSCP-2026-001", 0)
        record(uow, "alex@partnership.example.org", "case.viewed", "case", "SSCP-2026-001", 1)
        record(uow, "alex@partnership.example.org", "queue_item.viewed", "exception_item", "4", 2)
        record(uow, "intake", "casework.other", "case", "SSCP-2026-002", 3)
        uow.commit()
        search = uow.audit_search

        assert 4 == search.search().total
        assert ["casework.other", "queue_item.viewed"] == [e.action for e in search.search(limit=2).entries]
        assert ["case.opened"] == [e.action for e in search.search(offset=3, limit=2).entries]
        assert ["case.viewed", "case.opened"] == [e.action for e in search.search(action="case").entries]
        assert ["case.viewed"] == [e.action for e in search.search(action="case.viewed").entries]
        assert 2 == search.search(actor="alex@partnership.example.org").total
        assert 3 == search.search(entity="case").total
        assert 2 == search.search(entity="case", entity_id="SSCP-2026-001").total
        window = search.search(since=NOW + dt.timedelta(minutes=1), until=NOW + dt.timedelta(minutes=3))
        assert ["queue_item.viewed", "case.viewed"] == [e.action for e in window.entries]
        assert ["alex@partnership.example.org", "intake"] == search.actors()
        assert ["case", "exception_item"] == search.entities()


def test_an_underscore_in_the_action_searched_is_not_a_wildcard(engine):
    with UnitOfWork(engine) as uow:
        record(uow, "intake", "queue_item.viewed", "exception_item", "1", 0)
        record(uow, "intake", "queueXitem.viewed", "exception_item", "2", 1)
        uow.commit()

        assert ["queue_item.viewed"] == [e.action for e in uow.audit_search.search(action="queue_item").entries]
