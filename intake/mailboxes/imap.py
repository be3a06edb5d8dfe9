"""The IMAP mailbox (imapclient): one folder of the partnership's secure mailbox.

Connection: opened lazily on the first call, kept between calls, dropped on any failure and
opened again by the next call. TLS is implicit (``tls = "ssl"``) or STARTTLS, and a server
that does not offer STARTTLS is refused: credentials never go out in clear text unless the
settings say ``tls = "none"`` (refused in production mode). Certificates are verified, against
``ca_file`` when one is configured.

Cost: ``state()`` is one SELECT (and leaves the folder selected for ``uids()``, ``fetch()`` and
``move()``), so an idle poll costs one command after login. ``commands`` counts the commands
put on the wire since login, read from imaplib's tag counter (every command, whichever
imapclient method issued it, takes a new tag), summed over reconnections.

IDLE: ``idle_wait()`` uses a second connection of its own, so the poller's connection stays
free for polling while a listener waits (it may wait in another thread: the two connections
share nothing but the settings; ``close()`` closes both and belongs to the owner's thread).

Errors are translated here: MailboxUnavailable for what may pass (socket errors, timeouts,
BYE, [UNAVAILABLE]), MailboxRefused for what needs a person (credentials, certificate, no
STARTTLS, a missing folder). Messages name the server and the step, never a secret.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import imaplib
import logging
import re
import socket
import ssl
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any, TypeVar

from imapclient import IMAPClient
from imapclient import exceptions as imap_errors

from core.mail import FetchedMessage, FolderState, MessageKey
from core.ports import Destination
from intake.errors import MailboxError, MailboxRefused, MailboxUnavailable, UidValidityChanged
from intake.oauth import TokenProvider
from intake.settings import ImapSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

#: RFC 2177: re-issue IDLE before the server's 30-minute inactivity timer
IDLE_RENEW_S = 25 * 60.0
DELETED = b"\\Deleted"
_RESPONSE_CODE = re.compile(r"\[([A-Z-]+)")
_TEMPORARY_CODES = frozenset({"UNAVAILABLE", "SERVERBUG", "INUSE", "LIMIT", "OVERQUOTA", "EXPUNGEISSUED"})


def ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """A context that verifies the server's certificate and name (against ca_file if given)."""
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def sequence_set(uids: Sequence[int]) -> str:
    """UIDs as an IMAP sequence set of exactly those UIDs: runs of consecutive UIDs become
    ranges ("3:5,9"); a range never spans a UID that was not asked for."""
    ordered = sorted(set(uids))
    parts: list[str] = []
    start = prev = ordered[0]
    for uid in ordered[1:]:
        if uid == prev + 1:
            prev = uid
            continue
        parts.append(f"{start}:{prev}" if prev > start else str(start))
        start = prev = uid
    parts.append(f"{start}:{prev}" if prev > start else str(start))
    return ",".join(parts)


def _response_code(exc: BaseException) -> str | None:
    match = _RESPONSE_CODE.search(str(exc))
    return match.group(1) if match else None


class ImapMailbox:
    """One folder of an IMAP mailbox (the core.ports.Mailbox port), plus IDLE.

    ``ignore_capabilities`` hides capabilities the server offers (tests use it to take the
    COPY + UID EXPUNGE path on a server that has MOVE)."""

    def __init__(
        self,
        settings: ImapSettings,
        *,
        password: str | None = None,
        token_provider: TokenProvider | None = None,
        ignore_capabilities: Collection[str] = (),
    ) -> None:
        if password is None and token_provider is None:
            raise MailboxRefused(f"imap {settings.host}:{settings.port}: neither a password nor an oauth2 token")
        self.settings = settings
        self.name = settings.name
        self.folder = settings.folder
        self._password = password
        self._token_provider = token_provider
        self._ignored = frozenset(c.upper() for c in ignore_capabilities)
        self._context = ssl_context(settings.ca_file) if settings.tls != "none" else None
        self._client: IMAPClient | None = None
        self._caps: frozenset[str] = frozenset()
        self._baseline = 0  # imaplib's tag number right after login
        self._spent = 0  # commands issued on earlier connections
        self._selected = False
        self._ensured: set[str] = set()
        self._uidvalidity: int | None = None
        self.logins = 0
        self._idle_client: IMAPClient | None = None
        self._idle_exists = 0
        self._idle_caps: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        s = self.settings
        return f"ImapMailbox({s.name!r}, {s.host}:{s.port}, tls={s.tls!r}, folder={s.folder!r})"

    # ---- the port ------------------------------------------------------------------------

    def state(self) -> FolderState:
        client = self._connected()
        self._selected = False  # a failed SELECT leaves no folder selected
        info = self._call("select folder", lambda: client.select_folder(self.folder))
        self._selected = True
        try:
            state = FolderState(
                uidvalidity=int(info[b"UIDVALIDITY"]), uidnext=int(info[b"UIDNEXT"]), exists=int(info[b"EXISTS"])
            )
        except KeyError as exc:
            self._drop()
            raise MailboxUnavailable(f"{self._where}: select folder: the server did not report {exc}") from None
        self._uidvalidity = state.uidvalidity
        return state

    def uids(self) -> list[int]:
        client = self._selected_client()
        found = self._call("uid search", lambda: client.search(["ALL"]))
        return sorted(int(uid) for uid in found)

    def fetch(self, uids: Sequence[int]) -> Iterator[FetchedMessage]:
        wanted = sorted(set(uids))
        size = max(1, self.settings.batch_size)
        for start in range(0, len(wanted), size):
            batch = wanted[start : start + size]
            client = self._selected_client()
            uidvalidity = self._uidvalidity
            assert uidvalidity is not None
            response = self._call(
                # a list, not a sequence set: imapclient 4.1 filters the answer by the UIDs asked
                "uid fetch",
                functools.partial(client.fetch, batch, [b"BODY.PEEK[]", b"INTERNALDATE"]),
            )
            for uid in batch:
                data = response.get(uid)
                if data is None or b"BODY[]" not in data:
                    continue  # expunged meanwhile: nothing to fetch
                raw = data[b"BODY[]"]
                when = data.get(b"INTERNALDATE")
                yield FetchedMessage(
                    key=MessageKey(mailbox=self.name, folder=self.folder, uidvalidity=uidvalidity, uid=uid),
                    raw=bytes(raw),
                    internal_date=when if isinstance(when, dt.datetime) else None,
                )

    def move(self, uids: Sequence[int], destination: Destination) -> None:
        if not uids:
            return
        target = self._destination_folder(destination)
        client = self._selected_client()
        self._ensure_folder(client, target)
        messages = sequence_set(uids)
        if self._has("MOVE"):
            self._call("uid move", lambda: client.move(messages, target))
            return
        self._call("uid copy", lambda: client.copy(messages, target))
        self._call("uid store \\Deleted", lambda: client.add_flags(messages, [DELETED], silent=True))
        if self._has("UIDPLUS"):
            self._call("uid expunge", lambda: client.uid_expunge(messages))
        else:
            # A plain EXPUNGE would also remove messages others flagged \Deleted: leave the
            # copies flagged; the ledger already knows them, so they are not filed twice.
            log.warning("%s: no MOVE and no UIDPLUS; moved messages stay flagged \\Deleted", self._where)

    def close(self) -> None:
        for client in (self._client, self._idle_client):
            if client is None:
                continue
            try:
                client.logout()
            except Exception:  # already gone: nothing to tell anyone
                with contextlib.suppress(Exception):
                    client.shutdown()
        if self._client is not None:
            self._spent += self._used()
        self._client = None
        self._idle_client = None
        self._selected = False

    # ---- beyond the port -----------------------------------------------------------------

    @property
    def commands(self) -> int:
        """IMAP commands issued since login (summed over reconnections; not the IDLE connection)."""
        return self._spent + (self._used() if self._client is not None else 0)

    @property
    def capabilities(self) -> frozenset[str]:
        """What the server offers after login (less any ignored capability); connects if needed."""
        self._connected()
        return self._caps

    @property
    def encrypted(self) -> bool:
        """Whether the current connection runs over TLS (False when not connected)."""
        return self._client is not None and isinstance(self._client.socket(), ssl.SSLSocket)

    @property
    def supports_idle(self) -> bool:
        return self._has("IDLE") if self._client is not None else "IDLE" in self.capabilities

    def idle_wait(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for new mail in the folder: True as soon as the server
        reports EXISTS or RECENT, False on timeout. Uses a connection of its own (opened on the
        first call and kept). Without IDLE on the server, sleeps the timeout and returns False:
        the poll schedule is the fall-back."""
        deadline = time.monotonic() + max(0.0, timeout_s)
        client = self._idle_connected()
        if "IDLE" not in self._idle_caps:
            time.sleep(max(0.0, deadline - time.monotonic()))
            return False
        # Changes since the last wait arrive with the next command's response: NOOP first, so
        # that they neither get lost nor trip imapclient's IDLE start. A connection the server
        # closed while nobody waited is opened again once.
        try:
            pending = self._call("noop", client.noop, idle=True)
        except MailboxUnavailable:
            client = self._idle_connected()
            pending = self._call("noop", client.noop, idle=True)
        if self._news(pending[1]):
            return True
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._call("idle", client.idle, idle=True)
            arrived = False
            try:
                window = min(remaining, IDLE_RENEW_S)
                until = time.monotonic() + window
                while not arrived and (left := until - time.monotonic()) > 0:
                    responses = self._call("idle wait", functools.partial(client.idle_check, timeout=left), idle=True)
                    arrived = self._news(responses)
            finally:
                still_open = self._idle_client is not None  # a failed wait has dropped it
                if still_open:
                    done = self._call("idle done", client.idle_done, idle=True)
                    arrived = self._news(done[1]) or arrived
            if arrived:
                return True

    def _news(self, responses: Any) -> bool:
        """Whether untagged responses announce new mail: EXISTS growing, or RECENT > 0 (an
        EXISTS after an EXPUNGE, or a flag change, is not news)."""
        news = False
        for response in responses or ():
            if not (isinstance(response, tuple) and len(response) >= 2 and isinstance(response[0], int)):
                continue
            count, kind = response[0], response[1]
            if kind == b"EXISTS":
                news = news or count > self._idle_exists
                self._idle_exists = count
            elif kind == b"EXPUNGE":
                self._idle_exists = max(0, self._idle_exists - 1)
            elif kind == b"RECENT" and count > 0:
                news = True
        return news

    # ---- connection ----------------------------------------------------------------------

    @property
    def _where(self) -> str:
        return f"imap {self.settings.host}:{self.settings.port}"

    def _connected(self) -> IMAPClient:
        if self._client is None:
            client = self._open("connect")
            self._caps = (
                frozenset(
                    c.decode("ascii", "replace").upper() for c in self._guard(client, "capability", client.capabilities)
                )
                - self._ignored
            )
            self._client = client
            self._baseline = client._imap.tagnum
            self._selected = False
            self._ensured = set()
        return self._client

    def _idle_connected(self) -> IMAPClient:
        if self._idle_client is None:
            client = self._open("idle connect")
            caps = self._guard(client, "capability", client.capabilities)
            self._idle_caps = frozenset(c.decode("ascii", "replace").upper() for c in caps) - self._ignored
            info = self._guard(client, "idle select folder", lambda: client.select_folder(self.folder))
            self._idle_exists = int(info.get(b"EXISTS", 0))
            self._idle_client = client
        return self._idle_client

    def _open(self, step: str) -> IMAPClient:
        """A new logged-in connection; nothing is left open when this fails."""
        s = self.settings
        client: IMAPClient | None = None
        try:
            client = IMAPClient(s.host, port=s.port, ssl=s.tls == "ssl", ssl_context=self._context, timeout=s.timeout_s)
            client.normalise_times = False  # aware INTERNALDATEs
            if s.tls == "starttls":
                offered = {c.upper() for c in client.capabilities()}
                if b"STARTTLS" not in offered or "STARTTLS" in self._ignored:
                    raise MailboxRefused(
                        f"{self._where}: starttls: the server does not offer STARTTLS; refusing to log in in clear text"
                    )
                client.starttls(self._context)
            self._login(client)
        except BaseException as exc:
            if client is not None:
                with contextlib.suppress(Exception):
                    client.shutdown()
            if isinstance(exc, MailboxError):
                raise
            if isinstance(exc, Exception):
                raise self._translate(exc, step) from exc
            raise
        self.logins += 1
        return client

    def _login(self, client: IMAPClient) -> None:
        s = self.settings
        try:
            if self._token_provider is not None:
                client.oauth2_login(s.username, self._token_provider.token())
            else:
                assert self._password is not None
                client.login(s.username, self._password)
        except imap_errors.LoginError as exc:
            code = _response_code(exc)
            if code in _TEMPORARY_CODES:
                raise MailboxUnavailable(f"{self._where}: login: the server is unavailable [{code}]") from None
            how = "xoauth2 token" if self._token_provider is not None else "password"
            reason = f" [{code}]" if code else ""
            # not chained: imaplib's error may quote the command it sent
            raise MailboxRefused(f"{self._where}: login: the server refused the {how}{reason}") from None

    def _selected_client(self) -> IMAPClient:
        """The connection with the folder selected; after a reconnection the folder must still
        have the UIDVALIDITY the caller's UIDs came from."""
        client = self._connected()
        if self._selected and self._uidvalidity is not None:
            return client
        known = self._uidvalidity
        state = self.state()
        if known is not None and state.uidvalidity != known:
            raise UidValidityChanged(
                f"{self._where}: folder {self.folder!r}: UIDVALIDITY changed from {known} to {state.uidvalidity}"
            )
        return self._client if self._client is not None else self._connected()

    def _ensure_folder(self, client: IMAPClient, folder: str) -> None:
        if folder in self._ensured:
            return
        try:
            self._call("create folder", lambda: client.create_folder(folder), reraise_no=True)
        except imap_errors.IMAPClientError as exc:
            if _response_code(exc) != "ALREADYEXISTS":
                raise self._translate(exc, "create folder") from exc
        self._ensured.add(folder)

    def _destination_folder(self, destination: Destination) -> str:
        if destination == "processed":
            return self.settings.processed_folder
        if destination == "exceptions":
            return self.settings.exceptions_folder
        raise ValueError(f"unknown destination {destination!r}")

    def _has(self, capability: str) -> bool:
        return capability.upper() in self._caps

    def _used(self) -> int:
        assert self._client is not None
        tagnum: int = self._client._imap.tagnum
        return tagnum - self._baseline

    def _drop(self) -> None:
        if self._client is not None:
            self._spent += self._used()
            with contextlib.suppress(Exception):
                self._client.shutdown()
        self._client = None
        self._selected = False

    def _drop_idle(self) -> None:
        if self._idle_client is not None:
            with contextlib.suppress(Exception):
                self._idle_client.shutdown()
        self._idle_client = None

    # ---- error translation ---------------------------------------------------------------

    def _call(self, step: str, action: Callable[[], T], *, idle: bool = False, reraise_no: bool = False) -> T:
        """Run one client call; on failure drop the connection (it is reopened by the next
        call) and raise a MailboxError naming the server and the step."""
        try:
            return action()
        except Exception as exc:
            if reraise_no and type(exc) is imap_errors.IMAPClientError:
                raise  # a NO the caller expects (ALREADYEXISTS); the connection is fine
            error = self._translate(exc, step)
            if idle:
                self._drop_idle()
            elif not (isinstance(error, MailboxRefused) and type(exc) is imap_errors.IMAPClientError):
                self._drop()
            raise error from exc

    def _guard(self, client: IMAPClient, step: str, action: Callable[[], T]) -> T:
        try:
            return action()
        except Exception as exc:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise self._translate(exc, step) from exc

    def _translate(self, exc: Exception, step: str) -> MailboxError:
        where = f"{self._where}: {step}"
        if isinstance(exc, MailboxError):
            return exc
        if isinstance(exc, ssl.SSLCertVerificationError):
            return MailboxRefused(f"{where}: the server's certificate is not trusted ({exc.verify_message})")
        if isinstance(exc, ssl.SSLError):
            return MailboxUnavailable(f"{where}: TLS failed ({exc.reason or type(exc).__name__})")
        if isinstance(exc, socket.timeout | TimeoutError):
            return MailboxUnavailable(f"{where}: timed out after {self.settings.timeout_s:g} s")
        if isinstance(exc, OSError):
            return MailboxUnavailable(f"{where}: {exc.strerror or type(exc).__name__}")
        if isinstance(exc, imaplib.IMAP4.abort):  # BYE, EOF, a broken socket
            return MailboxUnavailable(f"{where}: the connection was lost ({_short(exc)})")
        if isinstance(exc, imap_errors.CapabilityError):
            return MailboxRefused(f"{where}: {exc}")
        if isinstance(exc, imap_errors.IMAPClientError):
            code = _response_code(exc)
            if code == "NONEXISTENT" or (code is None and step == "select folder"):
                return MailboxRefused(f"{where}: folder {self.folder!r} does not exist or cannot be opened")
            if code in {"NOPERM", "AUTHORIZATIONFAILED", "CANNOT"}:
                return MailboxRefused(f"{where}: the server refused [{code}]")
            return MailboxUnavailable(f"{where}: the server said NO" + (f" [{code}]" if code else ""))
        return MailboxUnavailable(f"{where}: {type(exc).__name__}")


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
