"""An SMTP sink for tests: aiosmtpd on 127.0.0.1 (design/test-services.md).

``SmtpSink`` runs an aiosmtpd ``Controller`` on a free loopback port (bound first: ``port=0``
does not work in aiosmtpd 1.4.6) and keeps every message as it arrived
(``envelope.original_content``). Variants:

    tls="none"        plain SMTP
    tls="starttls"    STARTTLS offered (a self-signed certificate made with openssl)
    tls="ssl"         implicit TLS
    users={...}       AUTH PLAIN and LOGIN with these passwords
    tokens={...}      AUTH XOAUTH2 with these static bearer tokens (a handler auth_ method)
    sink.refuse(451)  answer RCPT TO with 451 (temporary) or 550 (permanent); refuse(None) ends it
    sink.stop()/start()  an outage, on the same port

Use from a test module or conftest::

    from tests.services.smtp import smtp_sink, smtp_tls  # noqa: F401  (fixtures)

``smtp_sink`` is a factory: ``smtp_sink(tls="starttls", users={"intake": "pw"})``; every sink
it made is stopped after the test. ``smtp_tls`` is the session's certificate (``.cert`` is the
CA file a client trusts).
"""

from __future__ import annotations

import base64
import binascii
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword

from tests.services import unavailable

Tls = Literal["none", "starttls", "ssl"]


class OpensslUnavailable(RuntimeError):
    """openssl is missing: no certificate for the TLS variants."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


def make_certificate(directory: Path) -> TlsFiles:
    """A self-signed certificate for localhost and 127.0.0.1, valid two days."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise OpensslUnavailable("openssl not found on PATH; install the openssl package (scripts/system-deps)")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return TlsFiles(cert=cert, key=key)


@dataclass(frozen=True)
class Received:
    """One message as the sink got it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes  # envelope.original_content: the bytes as sent
    login: str | None  # who authenticated, if anyone


@dataclass
class SinkHandler:
    """The aiosmtpd handler: keeps messages, refuses on demand, and offers XOAUTH2."""

    tokens: Mapping[str, str] = field(default_factory=dict)
    messages: list[Received] = field(default_factory=list)
    refusal: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    delivered: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.delivered = threading.Condition(self.lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if self.refusal is not None and 400 <= self.refusal < 500:
            return f"{self.refusal} 4.3.0 Try again later"
        if self.refusal is not None:
            return f"{self.refusal} 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        auth = session.auth_data
        received = Received(
            mail_from=envelope.mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=bytes(envelope.original_content),
            login=auth.login.decode() if isinstance(auth, LoginPassword) else None,
        )
        with self.delivered:
            self.messages.append(received)
            self.delivered.notify_all()
        return "250 Message accepted"

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> AuthResult:
        """SASL XOAUTH2: ``user=U^Aauth=Bearer T^A^A``. On failure, RFC 7628's JSON challenge,
        the client's empty answer, then 535."""
        if len(args) == 1:
            blob = await server.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False, handled=True)
        else:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except binascii.Error:
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        fields = dict(part.split("=", 1) for part in blob.decode("utf-8", "replace").split("\x01") if "=" in part)
        user, auth = fields.get("user", ""), fields.get("auth", "")
        if auth.startswith("Bearer ") and self.tokens.get(user) == auth.removeprefix("Bearer "):
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))
        await server.challenge_auth('{"status":"401","schemes":"bearer","scope":"https://mail.example.org/"}')
        return AuthResult(success=False, handled=False, message="535 5.7.8 Authentication credentials invalid")


class SmtpSink:
    """An aiosmtpd server on 127.0.0.1 for one test."""

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        tls: Tls = "none",
        tls_files: TlsFiles | None = None,
        users: Mapping[str, str] | None = None,
        tokens: Mapping[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        if tls != "none" and tls_files is None:
            raise ValueError("a TLS sink needs a certificate")
        self.tls = tls
        self.tls_files = tls_files
        self.users = dict(users or {})
        self.tokens = dict(tokens or {})
        self.port = port or free_port()
        self.handler = SinkHandler(tokens=self.tokens)
        self._controller: Controller | None = None

    @property
    def cert(self) -> Path | None:
        """The CA file a client trusts (the self-signed certificate)."""
        return self.tls_files.cert if self.tls_files else None

    @property
    def messages(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.messages)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        with self.handler.delivered:
            self.handler.delivered.wait_for(lambda: len(self.handler.messages) >= count, timeout)
            return list(self.handler.messages)

    def refuse(self, code: int | None) -> None:
        """Answer every RCPT TO with ``code`` (451: try later; 550: refused); None: accept."""
        self.handler.refusal = code

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> SmtpSink:
        if self._controller is not None:
            return self
        kwargs: dict[str, Any] = {
            "hostname": self.host,
            "port": self.port,
            "decode_data": False,
            "ready_timeout": 5.0,
            # aiosmtpd does not see implicit TLS as TLS: only STARTTLS sinks demand it for AUTH
            "auth_require_tls": self.tls == "starttls",
            "authenticator": self._authenticate,
        }
        if not self.tokens:
            kwargs["auth_exclude_mechanism"] = ["XOAUTH2"]
        if not self.users:
            kwargs.setdefault("auth_exclude_mechanism", []).extend(["PLAIN", "LOGIN"])
        if self.tls == "starttls":
            assert self.tls_files is not None
            kwargs["tls_context"] = self.tls_files.server_context()
            kwargs["require_starttls"] = False
        elif self.tls == "ssl":
            assert self.tls_files is not None
            kwargs["ssl_context"] = self.tls_files.server_context()
        controller = Controller(self.handler, **kwargs)
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword):
            login, password = data.login.decode(), data.password.decode()
            if self.users.get(login) == password:
                return AuthResult(success=True, auth_data=data)
        return AuthResult(success=False, handled=False)


def _unavailable(reason: str) -> None:
    """A missing tool fails the run in CI and skips (with the reason) elsewhere."""
    unavailable("openssl", reason)


@pytest.fixture(scope="session")
def smtp_tls() -> Iterator[TlsFiles]:
    """The session's self-signed certificate and key (in a directory removed after)."""
    directory = Path(tempfile.mkdtemp(prefix="smtp-tls-"))
    try:
        try:
            files = make_certificate(directory)
        except OpensslUnavailable as exc:
            _unavailable(str(exc))
        yield files
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def smtp_sink(request: pytest.FixtureRequest) -> Iterator[Callable[..., SmtpSink]]:
    """A factory of started sinks, all stopped after the test. ``tls`` other than "none" uses
    the session's certificate (``sink.cert``)."""
    sinks: list[SmtpSink] = []

    def make(*, tls: Tls = "none", **kwargs: Any) -> SmtpSink:
        files = request.getfixturevalue("smtp_tls") if tls != "none" else None
        sink = SmtpSink(tls=tls, tls_files=files, **kwargs)
        sinks.append(sink)
        return sink.start()

    yield make
    for sink in sinks:
        sink.stop()
