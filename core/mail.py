"""Mail as the inside sees it: a message fetched from a mailbox, decoded, screened.

    FetchedMessage (raw bytes + where it was)      mailbox adapters (intake.mailboxes)
      -> InboundMessage (headers, body, files)      MIME decoding (intake.mime)
      -> Screening (who, automated?, authenticated) screening (intake.screening)

No personal data is ever logged from these values; subjects and bodies are kept only in the
encrypted original and the database.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class MessageKey(BaseModel):
    """Where a message sits on its server: (mailbox, folder, UIDVALIDITY, UID)."""

    model_config = ConfigDict(frozen=True)

    mailbox: str  # the configured mailbox's name ("default")
    folder: str
    uidvalidity: int
    uid: int


class FetchedMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: MessageKey
    raw: bytes
    internal_date: dt.datetime | None = None


class FolderState(BaseModel):
    """What SELECT/STATUS says of a folder: enough to tell that nothing changed."""

    model_config = ConfigDict(frozen=True)

    uidvalidity: int
    uidnext: int
    exists: int


class Attachment(BaseModel):
    """A file found in a message (inside forwarded messages and winmail.dat too).

    ``filename`` is the sender's name for it: shown to staff, never used as a path, never
    put in a reply (it may name the child)."""

    model_config = ConfigDict(frozen=True)

    filename: str
    content_type: str
    data: bytes
    #: where it was found: "attachment", "forwarded message", "winmail.dat"
    found_in: str = "attachment"
    inline_image: bool = False


class AuthResult(BaseModel):
    """The trusted Authentication-Results verdicts (RFC 8601)."""

    model_config = ConfigDict(frozen=True)

    spf: str | None = None
    dkim: str | None = None
    dmarc: str | None = None
    authserv_id: str | None = None

    @property
    def passed(self) -> bool:
        return self.dmarc == "pass" or (self.dkim == "pass" and self.spf == "pass")


class InboundMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    message_id: str | None
    sender: str | None  # the From address, lower-cased; None when missing or malformed
    sender_name: str | None = None
    reply_to: str | None = None  # recorded, never used as a reply address
    subject: str = ""
    date: dt.datetime | None = None
    references: tuple[str, ...] = ()
    body_text: str = ""
    attachments: tuple[Attachment, ...] = ()
    auth: AuthResult = Field(default_factory=AuthResult)
    headers: dict[str, str] = Field(default_factory=dict)  # lower-cased names, first value
    #: MIME problems worth telling staff: "too many parts", "nested too deeply"
    problems: tuple[str, ...] = ()


class Automated(StrEnum):
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    LIST = "list"


class Screening(BaseModel):
    """Who sent a message and whether a reply may ever go back."""

    model_config = ConfigDict(frozen=True)

    automated: Automated | None = None
    #: agencies the sender's domain belongs to (one, or several on a shared domain)
    agencies: tuple[str, ...] = ()
    authenticated: bool = False
    #: why the sender is not trusted, for the queue item: "unknown domain", "authentication failed"
    distrust: str | None = None

    @property
    def known(self) -> bool:
        return bool(self.agencies) and self.distrust is None


MessageState = Literal["pending", "filed", "exception", "ignored", "duplicate"]
ReplyState = Literal["none", "queued", "sent"]
