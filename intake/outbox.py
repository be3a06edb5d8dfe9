"""Reply transports (core.ports.ReplyTransport) and the sender's retry schedule.

    SmtpTransport     the partnership's SMTP server: implicit TLS or STARTTLS (never a silent
                      fall-back to clear text), password or XOAUTH2, one connection reused
    MaildirTransport  the embedded default: each message a file in var/outbox (tmp -> new)
    backoff(n)        when to try a message again after its n-th failure

Errors are translated at the edge: TransportError is temporary (try again later, with
backoff), TransportRefused is permanent for that message (the recipient was refused). Their
messages carry SMTP codes and never an address, a password, a token or a message's content.
Rate limiting is the pipeline's job (it asks the outbox repository).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import random
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from intake.settings import SmtpSettings
from storage.files import fsync_dir

#: backoff: the first retry after a minute, doubling, never more than an hour
BACKOFF_FIRST = dt.timedelta(minutes=1)
BACKOFF_MAX = dt.timedelta(hours=1)
BACKOFF_JITTER = 0.1

_RANDOM = random.SystemRandom()


class TransportError(Exception):
    """Temporary: the server is unreachable, busy, or said 4xx. Try again with backoff."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransportRefused(Exception):
    """Permanent for this message: the server refused the recipient or the message (5xx)."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TokenSource(Protocol):
    """An OAuth2 access token, fresh enough to use now (intake.oauth.TokenProvider)."""

    def token(self) -> str: ...


def backoff(attempts: int) -> dt.timedelta:
    """The wait before the next try after ``attempts`` failures: 1 min, 2, 4 ... capped at 1 h,
    each within ±10% so that many messages failed together do not retry together."""
    n = max(1, attempts)
    base = BACKOFF_FIRST.total_seconds() * 2 ** min(n - 1, 32)
    cap = BACKOFF_MAX.total_seconds()
    seconds = min(base, cap) * (1 + _RANDOM.uniform(-BACKOFF_JITTER, BACKOFF_JITTER))
    return dt.timedelta(seconds=min(seconds, cap))


def xoauth2_string(user: str, token: str) -> str:
    """The SASL XOAUTH2 initial response (before base64)."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def _code_text(code: int, reply: bytes | str | None) -> str:
    """The SMTP code and, if the server gave one, the enhanced status code (5.1.1): never the
    server's free text, which may echo an address."""
    text = reply.decode("ascii", "replace") if isinstance(reply, bytes) else (reply or "")
    first = text.split(None, 1)[0] if text.strip() else ""
    parts = first.split(".")
    enhanced = first if len(parts) == 3 and all(p.isdigit() for p in parts) else ""
    return f"{code} {enhanced}".strip()


class SmtpTransport:
    """Sends replies over SMTP with smtplib. Not thread-safe: one sender job uses one transport."""

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        password: str | None,
        token_provider: TokenSource | None,
    ) -> None:
        if settings.tls not in ("ssl", "starttls", "none"):
            raise ValueError("smtp.tls must be ssl, starttls or none")
        if (password is not None or token_provider is not None) and not settings.username:
            raise ValueError("smtp.username is needed to log in")
        self._settings = settings
        self._password = password
        self._tokens = token_provider
        self._smtp: smtplib.SMTP | None = None
        self._local_hostname = settings.from_address.rpartition("@")[2] or "localhost"

    # --- the port -----------------------------------------------------------------------------

    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> None:
        if not recipients:
            raise TransportRefused("a message needs at least one recipient")
        if any("\r" in a or "\n" in a for a in (sender, *recipients)):
            raise TransportRefused("an envelope address must be a single line")
        reused = self._smtp is not None
        try:
            self._send_once(sender, recipients, message)
        except _Stale:
            if not reused:
                raise TransportError("the SMTP connection was lost while sending") from None
            # a kept connection the server has since closed: once more on a fresh one
            try:
                self._send_once(sender, recipients, message)
            except _Stale as exc:
                raise TransportError("the SMTP connection was lost while sending") from exc.__cause__

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            smtp.close()

    # --- inside ---------------------------------------------------------------------------------

    def _send_once(self, sender: str, recipients: Sequence[str], message: bytes) -> None:
        smtp = self._connection()
        try:
            # some recipients refused and others not: the message went (replies have one)
            smtp.sendmail(sender, list(recipients), message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            detail = ", ".join(_code_text(code, reply) for code, reply in exc.recipients.values())
            if any(500 <= code < 600 for code in codes):
                raise TransportRefused(f"the SMTP server refused the recipient ({detail})", code=codes[0]) from None
            raise TransportError(f"the SMTP server deferred the recipient ({detail})", code=codes[0]) from None
        except smtplib.SMTPSenderRefused as exc:
            # the From address is ours: a refusal is about the configuration, not this message
            self.close()
            raise TransportError(
                f"the SMTP server refused the sender address ({_code_text(exc.smtp_code, exc.smtp_error)})",
                code=exc.smtp_code,
            ) from None
        except smtplib.SMTPDataError as exc:
            text = _code_text(exc.smtp_code, exc.smtp_error)
            if 500 <= exc.smtp_code < 600:
                raise TransportRefused(f"the SMTP server refused the message ({text})", code=exc.smtp_code) from None
            self.close()
            raise TransportError(f"the SMTP server deferred the message ({text})", code=exc.smtp_code) from None
        except smtplib.SMTPServerDisconnected as exc:
            self._drop()
            raise _Stale from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            text = _code_text(exc.smtp_code, exc.smtp_error)
            if exc.smtp_code == 421:
                raise _Stale from exc  # the server is closing the connection
            raise TransportError(f"the SMTP server answered {text}", code=exc.smtp_code) from None
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise TransportError(f"sending over SMTP failed ({type(exc).__name__})") from None

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            self._smtp = self._connect()
        return self._smtp

    def _connect(self) -> smtplib.SMTP:
        s = self._settings
        smtp: smtplib.SMTP | None = None
        try:
            if s.tls == "ssl":
                smtp = smtplib.SMTP_SSL(
                    s.host,
                    s.port,
                    local_hostname=self._local_hostname,
                    timeout=s.timeout_s,
                    context=self._tls_context(),
                )
                smtp.ehlo()
            else:
                smtp = smtplib.SMTP(s.host, s.port, local_hostname=self._local_hostname, timeout=s.timeout_s)
                smtp.ehlo()
                if s.tls == "starttls":
                    if not smtp.has_extn("starttls"):
                        raise TransportError("the SMTP server does not offer STARTTLS; refusing to send in clear text")
                    smtp.starttls(context=self._tls_context())
                    smtp.ehlo()
            self._login(smtp)
        except TransportError:
            _close_quietly(smtp)
            raise
        except smtplib.SMTPAuthenticationError as exc:
            _close_quietly(smtp)
            raise TransportError(f"SMTP login failed ({exc.smtp_code})", code=exc.smtp_code) from None
        except smtplib.SMTPNotSupportedError:
            _close_quietly(smtp)
            raise TransportError("the SMTP server does not offer the login this service uses") from None
        except smtplib.SMTPResponseException as exc:
            _close_quietly(smtp)
            raise TransportError(
                f"the SMTP server answered {_code_text(exc.smtp_code, exc.smtp_error)} on connecting",
                code=exc.smtp_code,
            ) from None
        except ssl.SSLError as exc:
            _close_quietly(smtp)
            raise TransportError(f"TLS with the SMTP server failed ({exc.reason or type(exc).__name__})") from None
        except (OSError, smtplib.SMTPException) as exc:
            _close_quietly(smtp)
            raise TransportError(f"cannot reach the SMTP server ({type(exc).__name__})") from None
        return smtp

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self._settings.ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def _login(self, smtp: smtplib.SMTP) -> None:
        user = self._settings.username
        if not user:
            return
        if self._tokens is not None:
            if not smtp.has_extn("auth"):
                raise smtplib.SMTPNotSupportedError("AUTH")
            sasl = xoauth2_string(user, self._tokens.token())
            # XOAUTH2: the initial response carries it all; on failure the server sends a JSON
            # challenge, answered with an empty line, then 535
            smtp.auth("XOAUTH2", lambda challenge=None: sasl if challenge is None else "", initial_response_ok=True)
        elif self._password is not None:
            smtp.login(user, self._password)

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        _close_quietly(smtp)


class _Stale(Exception):
    """The connection went away under a send (a kept connection may have timed out)."""


def _close_quietly(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        with contextlib.suppress(OSError):
            smtp.close()


class MaildirTransport:
    """The embedded default outbox: every message a file in a Maildir (var/outbox), written to
    tmp/, fsynced, then renamed into new/ and the directory fsynced: a reader never sees half a
    message, and a message in new/ survives a crash."""

    _counter = itertools.count()
    _lock = threading.Lock()

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        for sub in ("tmp", "new", "cur"):
            (self.directory / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        self._host = socket.gethostname().replace("/", "\\057").replace(":", "\\072") or "localhost"

    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> None:
        if not recipients:
            raise TransportRefused("a message needs at least one recipient")
        name = self._unique_name(len(message))
        tmp = self.directory / "tmp" / name
        new = self.directory / "new" / name
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                view = memoryview(message)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            tmp.rename(new)
            fsync_dir(self.directory / "new")
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise TransportError(f"cannot write to the outbox ({type(exc).__name__})") from None

    def close(self) -> None:
        return None

    def _unique_name(self, size: int) -> str:
        with self._lock:
            n = next(self._counter)
        now = time.time()
        seconds = int(now)
        micros = int((now - seconds) * 1_000_000)
        return f"{seconds}.M{micros}P{os.getpid()}Q{n}R{_RANDOM.getrandbits(32):08x}.{self._host},S={size}"
