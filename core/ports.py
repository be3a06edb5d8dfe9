"""The ports: what the inside asks of the outside. Adapters live in intake/ and storage/.

Mailbox        -> intake.mailboxes.ImapMailbox, MaildirMailbox, (tests) FakeMailbox
ReplyTransport -> intake.outbox.SmtpTransport, MaildirTransport
BlobStore      -> storage.blobs.EncryptedBlobStore
Clock          -> SystemClock, (tests) FixedClock
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Literal, Protocol

from core.mail import FetchedMessage, FolderState

Destination = Literal["processed", "exceptions"]


class Mailbox(Protocol):
    """One folder of one mailbox. A connection is opened lazily and kept between calls.

    The poller asks ``state()`` first: when it equals what the ledger saw last time,
    nothing else is asked (an idle poll costs one command after login)."""

    name: str
    folder: str

    def state(self) -> FolderState: ...

    def uids(self) -> list[int]:
        """Every UID in the folder (UID SEARCH ALL), ascending."""
        ...

    def fetch(self, uids: Sequence[int]) -> Iterator[FetchedMessage]:
        """The raw messages, without marking them seen (BODY.PEEK[]), in batches."""
        ...

    def move(self, uids: Sequence[int], destination: Destination) -> None:
        """Move to the Processed or Exceptions folder (created if missing)."""
        ...

    def close(self) -> None: ...


class ReplyTransport(Protocol):
    """Sends one RFC 5322 message; raises TransportError (temporary) or
    TransportRefused (permanent) from intake.outbox."""

    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> None: ...

    def close(self) -> None: ...


class BlobStore(Protocol):
    """Content-addressed, encrypted at rest: put returns the SHA-256 (hex) of the plaintext."""

    def put(self, data: bytes) -> str: ...

    def get(self, digest: str) -> bytes: ...

    def exists(self, digest: str) -> bool: ...

    def delete(self, digest: str) -> None: ...


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """Aware UTC now."""
        ...

    def today(self) -> dt.date:
        """Today in the partnership's time zone (Europe/London)."""
        ...
