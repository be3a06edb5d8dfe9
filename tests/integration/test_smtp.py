"""Replies leave over real SMTP (an aiosmtpd sink on loopback) or into the Maildir outbox.

The transport speaks TLS only when told to and never falls back to clear text; it logs in with
a password or XOAUTH2; a temporary answer is a TransportError (try later), a refused recipient
is TransportRefused; a server that goes away and comes back costs a TransportError and then
works again on a fresh connection.
"""

from __future__ import annotations

import datetime as dt
import os
import smtplib
import ssl
from collections.abc import Callable
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from core.cases import ReplyDraft
from intake.outbox import MaildirTransport, SmtpTransport, TransportError, TransportRefused, backoff
from intake.replies import render
from intake.settings import SmtpSettings

if TYPE_CHECKING:
    from tests.services.smtp import SmtpSink

pytest_plugins = ("tests.services.smtp",)  # the smtp_sink and smtp_tls fixtures

Sink = Callable[..., "SmtpSink"]

FROM = "intake@sscp.example.org"
TO = "referrer@police.example.org"
PASSWORD = "a-test-password-4d1f"  # invented, for the sink only
TOKEN = "ya29.a-test-token-77c2"


class StaticToken:
    def __init__(self, token: str) -> None:
        self.value = token
        self.calls = 0

    def token(self) -> str:
        self.calls += 1
        return self.value


def a_reply(n: int = 1) -> bytes:
    draft = ReplyDraft(to=TO, subject="Received: case SSCP-2026-004", body=f"Reply number {n}.\n")
    return render(
        draft,
        from_address=FROM,
        message_id=f"<reply-{n}.test@sscp.example.org>",
        date=dt.datetime(2026, 3, 3, 10, 0, tzinfo=dt.UTC),
    )


def settings_for(sink: SmtpSink, *, tls: str | None = None, username: str | None = None) -> SmtpSettings:
    return SmtpSettings(
        host=sink.host,
        port=sink.port,
        tls=tls or sink.tls,
        username=username,
        from_address=FROM,
        timeout_s=5.0,
        ca_file=str(sink.cert) if sink.cert else None,
    )


def message_ids(sink: SmtpSink) -> list[str]:
    return [str(message_from_bytes(m.data, policy=default)["Message-ID"]) for m in sink.messages]


# --- TLS and login ---------------------------------------------------------------------------


def test_a_reply_goes_over_starttls_after_a_password_login(smtp_sink: Sink) -> None:
    sink = smtp_sink(tls="starttls", users={"intake": PASSWORD})
    transport = SmtpTransport(settings_for(sink, username="intake"), password=PASSWORD, token_provider=None)
    transport.send(FROM, [TO], a_reply())
    transport.close()

    (received,) = sink.wait_for(1)
    assert (FROM, (TO,), "intake") == (received.mail_from, received.rcpt_tos, received.login)
    assert a_reply() == received.data


def test_a_reply_goes_over_implicit_tls_with_an_xoauth2_token(smtp_sink: Sink) -> None:
    sink = smtp_sink(tls="ssl", tokens={"intake@sscp.example.org": TOKEN})
    tokens = StaticToken(TOKEN)
    transport = SmtpTransport(settings_for(sink, username=FROM), password=None, token_provider=tokens)
    transport.send(FROM, [TO], a_reply())
    transport.close()

    (received,) = sink.wait_for(1)
    assert (FROM, 1) == (received.login, tokens.calls)


def test_a_refused_token_is_a_temporary_error_that_does_not_repeat_the_token(smtp_sink: Sink) -> None:
    sink = smtp_sink(tls="ssl", tokens={FROM: TOKEN})
    transport = SmtpTransport(settings_for(sink, username=FROM), password=None, token_provider=StaticToken("stale"))

    with pytest.raises(TransportError) as raised:
        transport.send(FROM, [TO], a_reply())

    assert 535 == raised.value.code
    assert "stale" not in str(raised.value)
    assert [] == sink.messages


def test_a_wrong_password_is_a_temporary_error_that_does_not_repeat_the_password(smtp_sink: Sink) -> None:
    sink = smtp_sink(tls="starttls", users={"intake": PASSWORD})
    wrong = "not-the-password-9a"
    transport = SmtpTransport(settings_for(sink, username="intake"), password=wrong, token_provider=None)

    with pytest.raises(TransportError) as raised:
        transport.send(FROM, [TO], a_reply())

    assert wrong not in str(raised.value)
    assert [] == sink.messages


def test_starttls_is_refused_rather_than_falling_back_when_the_server_does_not_offer_it(smtp_sink: Sink) -> None:
    sink = smtp_sink(tls="none", users={"intake": PASSWORD})
    transport = SmtpTransport(
        settings_for(sink, tls="starttls", username="intake"), password=PASSWORD, token_provider=None
    )

    with pytest.raises(TransportError, match="STARTTLS"):
        transport.send(FROM, [TO], a_reply())

    assert [] == sink.messages


def test_a_certificate_the_client_does_not_trust_is_refused(smtp_sink: Sink) -> None:
    sink = smtp_sink(tls="ssl")
    untrusting = settings_for(sink).model_copy(update={"ca_file": None})
    transport = SmtpTransport(untrusting, password=None, token_provider=None)

    with pytest.raises(TransportError, match="TLS"):
        transport.send(FROM, [TO], a_reply())

    assert [] == sink.messages


def test_the_connection_is_kept_between_replies(smtp_sink: Sink, monkeypatch: pytest.MonkeyPatch) -> None:
    sink = smtp_sink(tls="starttls", users={"intake": PASSWORD})
    logins: list[str] = []
    original = smtplib.SMTP.login

    def counting_login(self: smtplib.SMTP, user: str, password: str, **kwargs: object) -> object:
        logins.append(user)
        return original(self, user, password)

    transport = SmtpTransport(settings_for(sink, username="intake"), password=PASSWORD, token_provider=None)
    monkeypatch.setattr(smtplib.SMTP, "login", counting_login)
    for n in (1, 2, 3):
        transport.send(FROM, [TO], a_reply(n))
    transport.close()

    sink.wait_for(3)
    assert ["intake"] == logins
    assert [f"<reply-{n}.test@sscp.example.org>" for n in (1, 2, 3)] == message_ids(sink)


# --- refusals ----------------------------------------------------------------------------------


def test_a_451_answer_is_a_temporary_error(smtp_sink: Sink) -> None:
    sink = smtp_sink()
    sink.refuse(451)
    transport = SmtpTransport(settings_for(sink), password=None, token_provider=None)

    with pytest.raises(TransportError) as raised:
        transport.send(FROM, [TO], a_reply())

    assert 451 == raised.value.code
    assert TO not in str(raised.value)


def test_a_550_answer_refuses_the_message_for_good_and_the_next_one_still_goes(smtp_sink: Sink) -> None:
    sink = smtp_sink()
    sink.refuse(550)
    transport = SmtpTransport(settings_for(sink), password=None, token_provider=None)

    with pytest.raises(TransportRefused) as raised:
        transport.send(FROM, [TO], a_reply(1))
    sink.refuse(None)
    transport.send(FROM, [TO], a_reply(2))
    transport.close()

    assert (550, "the SMTP server refused the recipient (550 5.1.1)") == (raised.value.code, str(raised.value))
    sink.wait_for(1)
    assert ["<reply-2.test@sscp.example.org>"] == message_ids(sink)


# --- outages -----------------------------------------------------------------------------------


def test_a_server_that_is_down_is_a_temporary_error_and_sending_recovers_when_it_is_back(
    smtp_sink: Sink,
) -> None:
    sink = smtp_sink(tls="starttls", users={"intake": PASSWORD})
    transport = SmtpTransport(settings_for(sink, username="intake"), password=PASSWORD, token_provider=None)
    transport.send(FROM, [TO], a_reply(1))  # a kept connection, then the outage

    sink.stop()
    with pytest.raises(TransportError):
        transport.send(FROM, [TO], a_reply(2))
    with pytest.raises(TransportError):
        transport.send(FROM, [TO], a_reply(2))
    sink.start()
    transport.send(FROM, [TO], a_reply(2))
    transport.close()

    sink.wait_for(2)
    assert ["<reply-1.test@sscp.example.org>", "<reply-2.test@sscp.example.org>"] == message_ids(sink)


def test_a_kept_connection_the_server_dropped_is_replaced_without_an_error(smtp_sink: Sink) -> None:
    sink = smtp_sink()
    transport = SmtpTransport(settings_for(sink), password=None, token_provider=None)
    transport.send(FROM, [TO], a_reply(1))

    sink.stop()
    sink.start()
    transport.send(FROM, [TO], a_reply(2))
    transport.close()

    sink.wait_for(2)
    assert ["<reply-1.test@sscp.example.org>", "<reply-2.test@sscp.example.org>"] == message_ids(sink)


def test_nothing_listening_is_a_temporary_error(smtp_sink: Sink) -> None:
    sink = smtp_sink()
    sink.stop()
    transport = SmtpTransport(settings_for(sink), password=None, token_provider=None)

    with pytest.raises(TransportError, match="cannot reach"):
        transport.send(FROM, [TO], a_reply())


def test_the_ssl_context_verifies_the_server(smtp_sink: Sink) -> None:
    sink = smtp_sink(tls="ssl")
    context = ssl.create_default_context(cafile=str(sink.cert))
    with smtplib.SMTP_SSL(sink.host, sink.port, context=context, timeout=5) as client:
        assert 250 == client.noop()[0]


# --- the Maildir outbox ------------------------------------------------------------------------


def test_the_maildir_outbox_writes_each_reply_whole_into_new(tmp_path: Path) -> None:
    outbox = MaildirTransport(tmp_path / "outbox")
    outbox.send(FROM, [TO], a_reply(1))
    outbox.send(FROM, [TO], a_reply(2))
    outbox.close()

    files = sorted((tmp_path / "outbox" / "new").iterdir(), key=lambda p: p.read_bytes())
    assert [a_reply(1), a_reply(2)] == [p.read_bytes() for p in files]
    assert [] == list((tmp_path / "outbox" / "tmp").iterdir())
    assert [0o600, 0o600] == [p.stat().st_mode & 0o777 for p in files]


def test_the_maildir_outbox_is_read_by_the_standard_library(tmp_path: Path) -> None:
    import mailbox

    outbox = MaildirTransport(tmp_path / "outbox")
    outbox.send(FROM, [TO], a_reply(7))

    (message,) = list(mailbox.Maildir(tmp_path / "outbox", create=False))
    assert "<reply-7.test@sscp.example.org>" == message["Message-ID"]


def test_a_failed_write_leaves_nothing_half_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outbox = MaildirTransport(tmp_path / "outbox")

    def failing_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(TransportError):
        outbox.send(FROM, [TO], a_reply())

    assert ([], []) == (
        list((tmp_path / "outbox" / "tmp").iterdir()),
        list((tmp_path / "outbox" / "new").iterdir()),
    )


# --- backoff -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("attempts", "minutes"), [(0, 1), (1, 1), (2, 2), (3, 4), (4, 8), (6, 32), (7, 60), (50, 60)])
def test_backoff_doubles_from_a_minute_to_at_most_an_hour_give_or_take_a_tenth(attempts: int, minutes: int) -> None:
    waits = [backoff(attempts) for _ in range(50)]

    assert all(dt.timedelta(minutes=minutes * 0.9) <= w <= dt.timedelta(minutes=minutes * 1.1) for w in waits)
    assert all(w <= dt.timedelta(hours=1) for w in waits)
    assert len(set(waits)) > 1  # jittered
