"""Errors of the intake adapters, translated at the edge from their libraries' errors.

    IntakeError (core.errors)
    └── MailboxError                 a mailbox could not be read or changed
        ├── MailboxUnavailable       temporary: a socket error, a timeout, the server said BYE
        │   │                        or [UNAVAILABLE]; retry later with backoff
        │   └── UidValidityChanged   the folder's UIDVALIDITY changed under a poll: poll again
        └── MailboxRefused           permanent until a person acts: credentials refused, the
                                     certificate not trusted, no STARTTLS offered, a missing
                                     folder, a token that cannot be obtained

Messages name the server and the step ("imap 127.0.0.1:993: login: ..."), never a password,
a token, a client secret or anything from a message.
"""

from __future__ import annotations

from core.errors import IntakeError


class MailboxError(IntakeError):
    """A mailbox could not be read or changed."""

    #: True when the same call may succeed later without anyone changing anything
    temporary: bool = False


class MailboxUnavailable(MailboxError):
    """Temporary: the server could not be reached or dropped the connection. Retry later."""

    temporary = True


class UidValidityChanged(MailboxUnavailable):
    """The folder's UIDVALIDITY changed between state() and a later call: the UIDs the caller
    holds mean other messages now. Poll again from state()."""


class MailboxRefused(MailboxError):
    """Permanent until a person acts: bad credentials, an untrusted certificate, a server that
    will not encrypt, a missing folder, a token source that fails."""
