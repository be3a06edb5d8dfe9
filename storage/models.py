"""The tables. Every schema change is an Alembic migration (storage/migrations/versions).

    Case ─┬─ ExpectedReturn                 what each agency was asked for
          ├─ Message (the ledger) ── Document ── Finding
          │        ├─ ExceptionItem         the business unit's queue
          │        └─ OutboxItem            one reply per incoming message
          └─ AuditEntry (append-only)       who did what, when
    MailboxState                             what each folder looked like at the last poll

Timestamps are timezone-aware UTC (stored naive UTC on SQLite, timestamptz on PostgreSQL).
"""

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Index,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

MESSAGE_STATES = ("pending", "filed", "exception", "ignored", "duplicate")
FINAL_STATES = ("filed", "exception", "ignored", "duplicate")
REPLY_STATES = ("none", "queued", "sent")
DESTINATIONS = ("processed", "exceptions")
DOCUMENT_STATUSES = ("accepted", "needs_changes", "rejected")
OUTBOX_STATES = ("queued", "sent", "failed")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _one_of(column: str, values: tuple[str, ...], name: str, *, nullable: bool = False) -> CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    sql = f"{column} IN ({allowed})"
    if nullable:
        sql = f"{column} IS NULL OR {sql}"
    return CheckConstraint(sql, name=name)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware UTC datetime on every engine; a naive one is refused when written."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a naive datetime cannot be stored: give it a time zone")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Case(SQLModel, table=True):
    __tablename__ = "cases"
    __table_args__ = (
        _one_of("status", ("open", "closed"), "ck_cases_status"),
        # the cases page, newest first (migration 0003)
        Index("ix_cases_opened_at", "opened_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(unique=True)
    kind: str
    status: str = "open"
    child_name: str | None = None
    child_dob: dt.date | None = None
    aware_date: dt.date | None = None
    period_from: dt.date | None = None
    period_to: dt.date | None = None
    opened_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ExpectedReturn(SQLModel, table=True):
    __tablename__ = "expected_returns"
    __table_args__ = (UniqueConstraint("case_id", "agency", "form", name="uq_expected_returns_case_agency_form"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    agency: str
    form: str
    state: str = "asked"
    due_date: dt.date | None = None
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Message(SQLModel, table=True):
    """The ledger: every message seen, keyed by where it sat on the server."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("mailbox", "folder", "uidvalidity", "uid", name="uq_messages_key"),
        _one_of("state", MESSAGE_STATES, "ck_messages_state"),
        _one_of("reply_state", REPLY_STATES, "ck_messages_reply_state"),
        _one_of("destination", DESTINATIONS, "ck_messages_destination", nullable=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    mailbox: str
    folder: str
    uidvalidity: int = Field(sa_type=BigInteger)
    uid: int = Field(sa_type=BigInteger)
    message_id: str | None = Field(default=None, index=True)
    sha256: str = Field(index=True)
    blob: str
    sender: str | None = None
    subject: str | None = Field(default=None, sa_type=Text)
    received_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    state: str = Field(default="pending", index=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    reply_state: str = "none"
    destination: str | None = None
    moved: bool = False
    duplicate_of: int | None = Field(default=None, foreign_key="messages.id")
    #: a short reason for staff and logs: never personal data
    error: str | None = None
    attempts: int = 0
    claimed_by: str | None = None
    claimed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, sa_column_kwargs={"onupdate": utcnow})


class Document(SQLModel, table=True):
    """One attachment as filed: a version of an agency's form for a case."""

    __tablename__ = "documents"
    __table_args__ = (
        _one_of("status", DOCUMENT_STATUSES, "ck_documents_status"),
        Index("ix_documents_case_agency_form", "case_id", "agency", "form", "version_no"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    message_row_id: int = Field(foreign_key="messages.id", index=True)
    #: the attachment's index in its message, 1-based
    position: int
    filename: str
    blob: str
    form: str | None = None
    version: str | None = None
    agency: str | None = None
    status: str
    version_no: int = 1
    current: bool = True
    superseded_by: int | None = Field(default=None, foreign_key="documents.id")
    #: fields / tables / rows as read
    values: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Finding(SQLModel, table=True):
    __tablename__ = "findings"

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="documents.id", index=True)
    rule: str
    severity: str
    field: str | None = None
    row: int | None = None
    message: str = Field(sa_type=Text)


class ExceptionItem(SQLModel, table=True):
    __tablename__ = "exception_items"
    __table_args__ = (
        _one_of("status", ("open", "closed"), "ck_exception_items_status"),
        # the queue page: open items by age, counted by reason, filtered by agency or case (0003)
        Index("ix_exception_items_status_opened_at", "status", "opened_at", "id"),
        Index("ix_exception_items_status_reason", "status", "reason"),
        Index("ix_exception_items_status_agency", "status", "agency"),
        Index("ix_exception_items_case_id", "case_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    message_row_id: int = Field(foreign_key="messages.id", index=True)
    reason: str
    status: str = Field(default="open", index=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id")
    agency: str | None = None
    opened_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolution: str | None = None
    note: str | None = Field(default=None, sa_type=Text)
    actor: str | None = None


class OutboxItem(SQLModel, table=True):
    """A reply waiting to be sent (the transactional outbox). ``raw`` carries no personal data.

    One automatic reply per incoming message (``exception_item_id`` None); a person's action
    on a queue item may send one more, deliberate reply, keyed by that item (migration 0003)."""

    __tablename__ = "outbox"
    __table_args__ = (
        _one_of("state", OUTBOX_STATES, "ck_outbox_state"),
        Index(
            "uq_outbox_automatic_reply",
            "message_row_id",
            unique=True,
            sqlite_where=text("exception_item_id IS NULL"),
            postgresql_where=text("exception_item_id IS NULL"),
        ),
        Index("uq_outbox_exception_item_id", "exception_item_id", unique=True),
        Index("ix_outbox_to_addr_created_at", "to_addr", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    message_row_id: int = Field(foreign_key="messages.id")
    #: the queue item whose action sent this reply; None: the message's automatic reply
    exception_item_id: int | None = Field(default=None, foreign_key="exception_items.id")
    reply_message_id: str
    to_addr: str
    raw: bytes
    state: str = Field(default="queued", index=True)
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = None
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AuditEntry(SQLModel, table=True):
    """Append-only: triggers refuse UPDATE and DELETE (see the initial migration)."""

    __tablename__ = "audit_log"
    # an entity's history (an item's, a case's), migration 0003
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str
    action: str
    entity: str
    entity_id: str | None = None
    detail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class MailboxState(SQLModel, table=True):
    __tablename__ = "mailbox_states"

    mailbox: str = Field(primary_key=True)
    folder: str = Field(primary_key=True)
    uidvalidity: int = Field(sa_type=BigInteger)
    uidnext: int = Field(sa_type=BigInteger)
    exists: int
    polled_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# -- the web app's accounts (migration 0002) -------------------------------------------------

USER_ROLES = ("admin", "business_unit", "viewer")


class User(SQLModel, table=True):
    """A person who signs in to the web app. Never deleted: disabled, so the audit log keeps its sense."""

    __tablename__ = "users"
    __table_args__ = (_one_of("role", USER_ROLES, "ck_users_role"),)

    id: int | None = Field(default=None, primary_key=True)
    #: lower-cased
    email: str = Field(unique=True)
    role: str
    #: argon2id, in PHC string form
    password_hash: str
    #: a one-time password was given: it must be changed at the next sign-in
    must_change_password: bool = True
    disabled: bool = False
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    password_changed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_sign_in_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebSession(SQLModel, table=True):
    """A signed-in session, kept on the server. The cookie holds a random id; only its SHA-256 is stored."""

    __tablename__ = "web_sessions"

    id_hash: str = Field(primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    csrf_token: str
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SignInAttempt(SQLModel, table=True):
    """One sign-in attempt, for the per-account limit. ``account_key`` is the SHA-256 of the
    lower-cased email typed, so nothing typed is kept here."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (Index("ix_sign_in_attempts_account_key_at", "account_key", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    account_key: str
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    succeeded: bool
