"""What the web app is given when it is built: intake's composition root fills these in.

    WebServices(engine, actions, blobs, forms, settings, clock)   -> web.app.create_app(services)

The app reads the database through storage's UnitOfWork on ``engine`` (read side, plus its own
accounts, sessions and audit entries) and changes the queue only through ``actions``
(QueueActions, implemented in intake/actions.py). It imports no mailbox or SMTP adapter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from argon2 import PasswordHasher
from sqlalchemy import Engine

from core.catalogue import Catalogue
from core.ports import BlobStore, Clock
from core.settings import FormsContext


class Role(StrEnum):
    """admin: users, settings, audit; business_unit: everything on cases and the queue;
    viewer: read only."""

    ADMIN = "admin"
    BUSINESS_UNIT = "business_unit"
    VIEWER = "viewer"


@dataclass(frozen=True)
class Actor:
    """The signed-in person a page acts for (passed to QueueActions.perform)."""

    user_id: int
    email: str
    role: Role

    @property
    def audit_name(self) -> str:
        """What the audit log's ``actor`` column records for this person."""
        return self.email


@dataclass(frozen=True)
class ReplyPreview:
    """The reply an action would send, shown to the person (who may edit ``body``) before it goes."""

    to: str
    subject: str
    body: str


@dataclass(frozen=True)
class ActionResult:
    """What an action did. ``ok`` False: nothing changed; ``errors`` maps a form field name to a
    message for the GOV.UK error summary (``""`` for the form as a whole)."""

    ok: bool
    message: str = ""
    errors: Mapping[str, str] = field(default_factory=dict)
    #: the case the item ended up with, when it has one (the page links to it)
    case_reference: str | None = None


class QueueActions(Protocol):
    """The queue's actions (spec/intake.md's table; core.cases.ACTIONS per reason).

    ``action`` is one of core.cases.ACTIONS[reason]; ``form`` holds the posted fields (the
    csrf_token removed): e.g. ``note``, ``agency``, ``case_reference``, and ``reply_body``
    when the person edited the reply shown by preview_reply. Implementations validate
    ``form`` themselves, commit in one transaction, write the reply to the outbox (never send
    it), and record the audit entry with ``actor.audit_name``."""

    def preview_reply(self, item_id: int, action: str, form: Mapping[str, str]) -> ReplyPreview | None:
        """The reply the action would send, or None when it sends none. Changes nothing.
        Raises a core.errors.IntakeError (intake's ActionRefused, with ``message`` for the
        person and ``field``, the form field at fault or "") when the action cannot be done
        as asked."""
        ...

    def perform(self, item_id: int, action: str, form: Mapping[str, str], actor: Actor) -> ActionResult: ...


@dataclass(frozen=True)
class WebSettings:
    """The [web] settings the app needs (intake.settings.WebSettings -> this)."""

    session_idle: dt.timedelta = dt.timedelta(minutes=30)
    session_absolute: dt.timedelta = dt.timedelta(hours=12)
    #: the cookie is always __Host- and Secure; False only for a test client on plain http
    secure_cookies: bool = True
    #: where people reach the app; Strict-Transport-Security is sent unless it is loopback
    base_url: str = "http://127.0.0.1:8000"
    service_name: str = "Safeguarding reviews intake"
    #: failed sign-ins allowed per account in ``lockout_window`` before sign-in is refused
    max_failed_sign_ins: int = 10
    lockout_window: dt.timedelta = dt.timedelta(minutes=5)
    page_size: int = 50


def default_password_hasher() -> PasswordHasher:
    """argon2id with RFC 9106's low-memory profile (t=3, m=64 MiB, p=4)."""
    return PasswordHasher()


@dataclass(frozen=True)
class WebServices:
    engine: Engine
    actions: QueueActions
    blobs: BlobStore
    forms: FormsContext
    clock: Clock
    settings: WebSettings = field(default_factory=WebSettings)
    #: tests pass a cheap one; production keeps the default
    hasher: PasswordHasher = field(default_factory=default_password_hasher)

    @property
    def catalogue(self) -> Catalogue:
        return self.forms.catalogue
