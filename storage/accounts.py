"""The web app's accounts, sessions and sign-in attempts, and the audit log's search.

    uow.accounts        AccountRepository: users, server-side sessions, the per-account limit
    uow.audit_search    AuditSearch: the admin page's filtered, paged view of the audit log

Like the other repositories they flush but never commit. Emails are stored lower-cased.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.errors import StorageError
from storage.models import USER_ROLES, AuditEntry, SignInAttempt, User, WebSession


class EmailTaken(StorageError):
    """A user with that email already exists."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


class AccountRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- users -------------------------------------------------------------------------------

    def add_user(
        self, email: str, role: str, password_hash: str, *, must_change_password: bool, now: dt.datetime
    ) -> User:
        """A new user. Raises EmailTaken when the (lower-cased) email is in use; the unit of work stays usable."""
        if role not in USER_ROLES:
            raise ValueError(f"unknown role {role!r}")
        user = User(
            email=normalise_email(email),
            role=role,
            password_hash=password_hash,
            must_change_password=must_change_password,
            created_at=now,
            password_changed_at=now,
        )
        try:
            with self.session.begin_nested():
                self.session.add(user)
        except IntegrityError as exc:
            raise EmailTaken("a user with that email already exists") from exc
        return user

    def user(self, id: int) -> User | None:
        return self.session.get(User, id)

    def user_by_email(self, email: str) -> User | None:
        return self.session.exec(select(User).where(User.email == normalise_email(email))).first()

    def users(self) -> list[User]:
        return list(self.session.exec(select(User).order_by(col(User.email))).all())

    def count_users(self) -> int:
        return self.session.exec(select(func.count()).select_from(User)).one()

    def set_role(self, user: User, role: str) -> None:
        if role not in USER_ROLES:
            raise ValueError(f"unknown role {role!r}")
        user.role = role
        self.session.flush()

    def set_password(self, user: User, password_hash: str, *, must_change: bool, now: dt.datetime) -> None:
        user.password_hash = password_hash
        user.must_change_password = must_change
        user.password_changed_at = now
        self.session.flush()

    def disable(self, user: User) -> int:
        """Disabled, and every session of theirs ended (how many)."""
        user.disabled = True
        self.session.flush()
        return self.end_sessions_for(user)

    def enable(self, user: User) -> None:
        user.disabled = False
        self.session.flush()

    def signed_in(self, user: User, now: dt.datetime) -> None:
        user.last_sign_in_at = now
        self.session.flush()

    # -- sessions ----------------------------------------------------------------------------

    def create_session(self, id_hash: str, user: User, csrf_token: str, now: dt.datetime) -> WebSession:
        assert user.id is not None, "add the user first"
        row = WebSession(id_hash=id_hash, user_id=user.id, csrf_token=csrf_token, created_at=now, last_seen_at=now)
        self.session.add(row)
        self.session.flush()
        return row

    def session_with_user(self, id_hash: str) -> tuple[WebSession, User] | None:
        found = self.session.exec(
            select(WebSession, User)
            .join(User, col(User.id) == col(WebSession.user_id))
            .where(WebSession.id_hash == id_hash)
        ).first()
        return None if found is None else (found[0], found[1])

    def touch_session(self, row: WebSession, now: dt.datetime) -> None:
        row.last_seen_at = now
        self.session.flush()

    def end_session(self, id_hash: str) -> bool:
        result = self.session.execute(delete(WebSession).where(col(WebSession.id_hash) == id_hash))
        return bool(getattr(result, "rowcount", 0))

    def end_sessions_for(self, user: User, *, keep: str | None = None) -> int:
        """End every session of the user (but ``keep``, a session's id hash): how many ended."""
        query = delete(WebSession).where(col(WebSession.user_id) == user.id)
        if keep is not None:
            query = query.where(col(WebSession.id_hash) != keep)
        return int(getattr(self.session.execute(query), "rowcount", 0))

    def sessions_for(self, user: User) -> list[WebSession]:
        return list(self.session.exec(select(WebSession).where(WebSession.user_id == user.id)).all())

    def end_stale_sessions(self, *, idle_since: dt.datetime, created_before: dt.datetime) -> int:
        """Housekeeping: sessions idle since ``idle_since`` or created before ``created_before``."""
        query = delete(WebSession).where(
            (col(WebSession.last_seen_at) < idle_since) | (col(WebSession.created_at) < created_before)
        )
        return int(getattr(self.session.execute(query), "rowcount", 0))

    # -- sign-in attempts --------------------------------------------------------------------

    def record_attempt(self, account_key: str, *, succeeded: bool, now: dt.datetime) -> None:
        self.session.add(SignInAttempt(account_key=account_key, at=now, succeeded=succeeded))
        self.session.flush()

    def recent_failures(self, account_key: str, since: dt.datetime) -> int:
        """Failed attempts for the account since ``since`` and after its latest success."""
        last_success = self.session.exec(
            select(func.max(SignInAttempt.at)).where(
                SignInAttempt.account_key == account_key,
                col(SignInAttempt.succeeded).is_(True),
                col(SignInAttempt.at) >= since,
            )
        ).one()
        start = max(since, last_success) if last_success is not None else since
        return self.session.exec(
            select(func.count())
            .select_from(SignInAttempt)
            .where(
                SignInAttempt.account_key == account_key,
                col(SignInAttempt.succeeded).is_(False),
                col(SignInAttempt.at) >= start,
            )
        ).one()

    def prune_attempts(self, before: dt.datetime) -> int:
        query = delete(SignInAttempt).where(col(SignInAttempt.at) < before)
        return int(getattr(self.session.execute(query), "rowcount", 0))


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    total: int


class AuditSearch:
    """Read-only queries over the audit log (newest first)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def search(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        entity: str | None = None,
        entity_id: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> AuditPage:
        """``action`` matches a whole action or its prefix up to a dot ("case" finds "case.opened");
        ``since`` inclusive, ``until`` exclusive."""
        conditions = []
        if actor is not None:
            conditions.append(col(AuditEntry.actor) == actor)
        if action is not None:
            conditions.append(
                (col(AuditEntry.action) == action) | col(AuditEntry.action).startswith(action + ".", autoescape=True)
            )
        if entity is not None:
            conditions.append(col(AuditEntry.entity) == entity)
        if entity_id is not None:
            conditions.append(col(AuditEntry.entity_id) == entity_id)
        if since is not None:
            conditions.append(col(AuditEntry.at) >= since)
        if until is not None:
            conditions.append(col(AuditEntry.at) < until)
        total = self.session.exec(select(func.count()).select_from(AuditEntry).where(*conditions)).one()
        entries = self.session.exec(
            select(AuditEntry)
            .where(*conditions)
            .order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
            .offset(offset)
            .limit(limit)
        ).all()
        return AuditPage(entries=list(entries), total=total)

    def actors(self) -> list[str]:
        return sorted(self.session.exec(select(AuditEntry.actor).distinct()).all())

    def actions(self) -> list[str]:
        return sorted(self.session.exec(select(AuditEntry.action).distinct()).all())

    def entities(self) -> list[str]:
        return sorted(self.session.exec(select(AuditEntry.entity).distinct()).all())
