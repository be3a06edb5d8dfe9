"""The IMAP mailbox against a real, private Dovecot (tests/services/dovecot.py).

It reads what was delivered byte for byte without marking it seen, in batches; moves exactly
the UIDs it is given (with MOVE, and with COPY + UID EXPUNGE where MOVE is absent, forced here
by hiding the capability); speaks TLS implicitly or by STARTTLS and refuses a server that
will not encrypt (a tiny fake server that offers no STARTTLS); logs in with a password or an
XOAUTH2 token; turns failures into MailboxRefused / MailboxUnavailable and recovers after an
outage; wakes on IDLE; and costs one command for an idle poll.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from intake.errors import MailboxRefused, MailboxUnavailable
from intake.mailboxes import ImapMailbox
from intake.oauth import CommandTokenProvider
from intake.settings import ImapSettings
from tests.services.dovecot import DovecotServer, dovecot  # noqa: F401  (the session fixture)

MakeMailbox = Callable[..., ImapMailbox]


def a_message(n: int, size: int = 0) -> bytes:
    """An invented agency email with a binary-looking attachment (CRLF line ends)."""
    filler = ("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=" * (size // 36 + 1))[:size]
    lines = [
        "From: Referrer One <referrer@police.example.org>",
        "To: intake@sscp.example.org",
        f"Subject: Form return {n}",
        f"Message-ID: <return-{n}.test@police.example.org>",
        "Date: Tue, 03 Mar 2026 10:00:00 +0000",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="b1"',
        "",
        "--b1",
        "Content-Type: text/plain; charset=utf-8",
        "",
        f"Please find return {n} attached.",
        "--b1",
        "Content-Type: application/octet-stream",
        'Content-Disposition: attachment; filename="return.docx"',
        "Content-Transfer-Encoding: base64",
        "",
        filler or "UEsDBA==",
        "--b1--",
        "",
    ]
    return "\r\n".join(lines).encode()


@pytest.fixture
def server(dovecot: DovecotServer) -> DovecotServer:  # noqa: F811
    """The session's Dovecot with both users' mailboxes emptied."""
    dovecot.start()  # in case a test left it stopped
    dovecot.reset(dovecot.password_user)
    dovecot.reset(dovecot.oauth_user)
    return dovecot


@pytest.fixture
def make_mailbox(server: DovecotServer) -> Iterator[MakeMailbox]:
    opened: list[ImapMailbox] = []

    def make(*, tls: str = "none", password: str | None = None, token_provider: Any = None, **kw: Any) -> ImapMailbox:
        ignore = kw.pop("ignore_capabilities", ())
        settings = server.imap_settings(tls=tls, **kw)
        if password is None and token_provider is None:
            password = server.password
        box = ImapMailbox(settings, password=password, token_provider=token_provider, ignore_capabilities=ignore)
        opened.append(box)
        return box

    yield make
    for box in opened:
        box.close()


# ---- reading ---------------------------------------------------------------------------


def test_state_uids_and_fetch_return_the_delivered_messages_byte_for_byte(server, make_mailbox):
    raws = [a_message(n, size=3000) for n in range(3)]
    delivered = server.deliver_many(server.password_user, raws)
    box = make_mailbox()

    state = box.state()
    uids = box.uids()
    fetched = list(box.fetch(uids))

    assert (3, delivered[-1] + 1) == (state.exists, state.uidnext)
    assert delivered == uids
    assert raws == [m.raw for m in fetched]
    assert [("default", "INBOX", state.uidvalidity, uid) for uid in delivered] == [
        (m.key.mailbox, m.key.folder, m.key.uidvalidity, m.key.uid) for m in fetched
    ]
    assert all(isinstance(m.internal_date, dt.datetime) and m.internal_date.tzinfo for m in fetched)


def test_state_reports_the_folders_uidvalidity(server, make_mailbox):
    assert server.uidvalidity(server.password_user) == make_mailbox().state().uidvalidity


def test_fetch_peeks_and_leaves_messages_unseen(server, make_mailbox):
    uid = server.deliver(server.password_user, a_message(1))
    box = make_mailbox()
    box.state()

    list(box.fetch([uid]))

    assert b"\\Seen" not in server.flags(server.password_user, uid)


def test_fetch_asks_in_batches_of_batch_size(server, make_mailbox):
    uids = server.deliver_many(server.password_user, [a_message(n) for n in range(5)])
    box = make_mailbox(batch_size=2)
    box.state()
    before = box.commands

    fetched = [m.key.uid for m in box.fetch(uids)]

    assert uids == fetched
    assert 3 == box.commands - before


def test_fetch_skips_uids_that_are_gone(server, make_mailbox):
    uid = server.deliver(server.password_user, a_message(1))
    box = make_mailbox()
    box.state()

    assert [uid] == [m.key.uid for m in box.fetch([uid, uid + 50])]


def test_an_idle_poll_of_an_unchanged_folder_costs_one_command(server, make_mailbox):
    server.deliver_many(server.password_user, [a_message(n) for n in range(3)])
    box = make_mailbox()
    first = box.state()
    before = box.commands

    again = box.state()

    assert first == again
    assert 1 == box.commands - before
    assert 1 == box.logins


def test_state_sees_a_new_message_on_the_kept_connection(server, make_mailbox):
    box = make_mailbox()
    first = box.state()

    uid = server.deliver(server.password_user, a_message(1))

    assert (first.exists + 1, uid + 1) == (box.state().exists, box.state().uidnext)


def test_a_missing_folder_is_refused(make_mailbox):
    with pytest.raises(MailboxRefused, match="does not exist"):
        make_mailbox(folder="No such folder").state()


# ---- moving ----------------------------------------------------------------------------


def test_move_to_processed_creates_the_folder_and_moves_the_messages(server, make_mailbox):
    uids = server.deliver_many(server.password_user, [a_message(n) for n in range(3)])
    box = make_mailbox()
    box.state()

    box.move(uids[:2], "processed")

    assert "Processed" in server.folders(server.password_user)
    assert [uids[2]] == server.folder_uids(server.password_user)
    assert 2 == len(server.folder_uids(server.password_user, "Processed"))


def test_move_to_exceptions_uses_the_configured_folder_and_an_existing_one(server, make_mailbox):
    server.client(server.password_user).create_folder("Queue")
    uid = server.deliver(server.password_user, a_message(1))
    box = make_mailbox(exceptions_folder="Queue")
    box.state()

    box.move([uid], "exceptions")

    assert ([], 1) == (server.folder_uids(server.password_user), len(server.folder_uids(server.password_user, "Queue")))


def test_without_move_copy_and_uid_expunge_move_exactly_the_given_uids(server, make_mailbox):
    user = server.password_user
    uids = server.deliver_many(user, [a_message(n) for n in range(4)])
    # another client has flagged a message \Deleted: a plain EXPUNGE would take it too
    admin = server.client(user)
    admin.select_folder("INBOX")
    admin.add_flags([uids[3]], [b"\\Deleted"])
    box = make_mailbox(ignore_capabilities={"MOVE"})
    box.state()

    box.move([uids[0], uids[2]], "processed")

    assert "MOVE" not in box.capabilities
    assert [uids[1], uids[3]] == server.folder_uids(user)
    moved = server.folder_messages(user, "Processed")
    assert [a_message(0), a_message(2)] == list(moved.values())


def test_moving_nothing_issues_no_command(make_mailbox):
    box = make_mailbox()
    box.state()
    before = box.commands

    box.move([], "processed")

    assert before == box.commands


# ---- TLS ---------------------------------------------------------------------------------


def test_implicit_tls_on_the_imaps_port_with_the_ca_file(server, make_mailbox):
    server.deliver(server.password_user, a_message(1))
    box = make_mailbox(tls="ssl")

    assert 1 == box.state().exists
    assert box.encrypted


def test_a_certificate_from_an_unknown_authority_is_refused(make_mailbox, server):
    box = make_mailbox(tls="ssl", ca_file=None)

    with pytest.raises(MailboxRefused, match="certificate is not trusted"):
        box.state()


def test_starttls_on_the_plain_port(server, make_mailbox):
    box = make_mailbox(tls="starttls")

    box.state()

    assert box.encrypted


def test_the_plain_port_without_tls_is_not_encrypted(make_mailbox):
    box = make_mailbox(tls="none")

    box.state()

    assert not box.encrypted


class NoStartTlsServer:
    """A fake IMAP server that offers no STARTTLS and records every line it receives."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn, conn.makefile("rb") as reader:
            conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake server ready\r\n")
            for line in reader:
                self.received.append(line)
                tag, _, rest = line.partition(b" ")
                command = rest.strip().upper()
                if command == b"CAPABILITY":
                    conn.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
                elif command == b"LOGOUT":
                    conn.sendall(b"* BYE\r\n" + tag + b" OK bye\r\n")
                    return
                else:
                    conn.sendall(tag + b" BAD not here\r\n")

    def close(self) -> None:
        self.sock.close()


def test_starttls_is_refused_when_the_server_does_not_offer_it_and_no_credentials_leave():
    fake = NoStartTlsServer()
    try:
        box = ImapMailbox(
            ImapSettings(host="127.0.0.1", port=fake.port, tls="starttls", username="intake@example.org", timeout_s=5),
            password="never-sent-3a9e",
        )
        with pytest.raises(MailboxRefused, match="does not offer STARTTLS") as refused:
            box.state()
        fake.thread.join(timeout=5)
    finally:
        fake.close()

    assert "never-sent-3a9e" not in str(refused.value)
    assert not [line for line in fake.received if b"LOGIN" in line.upper() or b"AUTHENTICATE" in line.upper()]


# ---- logging in ----------------------------------------------------------------------------


def test_xoauth2_login_with_a_token_from_a_command(server, make_mailbox):
    server.deliver(server.oauth_user, a_message(1))
    provider = CommandTokenProvider(f"echo {server.oauth_token}")
    box = make_mailbox(tls="starttls", user=server.oauth_user, token_provider=provider)

    assert 1 == box.state().exists
    assert f"user=<{server.oauth_user}>, method=XOAUTH2" in server.log_tail(200)


def test_a_wrong_xoauth2_token_is_refused(server, make_mailbox):
    provider = CommandTokenProvider("echo expired-token-0000")
    box = make_mailbox(user=server.oauth_user, token_provider=provider)

    with pytest.raises(MailboxRefused, match="refused the xoauth2 token") as refused:
        box.state()

    assert "expired-token-0000" not in str(refused.value)


def test_a_wrong_password_is_refused_at_once_and_without_a_penalty_afterwards(make_mailbox):
    """Dovecot answers a failure on its next 0.5 s auth tick (auth_failure_delay = 0); with
    anvil's penalty disabled, repeated failures do not grow to 4 s, and the next good login is
    not delayed at all."""
    refusals: list[float] = []
    for _ in range(3):
        started = time.monotonic()
        with pytest.raises(MailboxRefused, match="login: the server refused the password") as refused:
            make_mailbox(password="wrong-password-51b7").state()
        refusals.append(time.monotonic() - started)
    started = time.monotonic()
    make_mailbox().state()
    good = time.monotonic() - started

    assert "wrong-password-51b7" not in str(refused.value)
    assert "127.0.0.1" in str(refused.value)
    assert max(refusals) < 1.5
    assert good < 0.5


# ---- failures and recovery ----------------------------------------------------------------


def test_a_stopped_server_is_unavailable_and_the_mailbox_recovers_after_restart(server, make_mailbox):
    uid = server.deliver(server.password_user, a_message(1))
    box = make_mailbox(timeout_s=2)
    before = box.state()

    server.stop()
    try:
        with pytest.raises(MailboxUnavailable, match=re.escape("127.0.0.1")):
            box.state()
        with pytest.raises(MailboxUnavailable, match="connect"):
            box.state()
    finally:
        server.start()

    assert before == box.state()
    assert [uid] == [m.key.uid for m in box.fetch([uid])]
    assert 2 == box.logins


def test_a_server_stopped_mid_fetch_is_unavailable_and_nothing_is_skipped_after_restart(server, make_mailbox):
    uids = server.deliver_many(server.password_user, [a_message(n) for n in range(4)])
    box = make_mailbox(batch_size=2, timeout_s=2)
    box.state()
    fetched: list[int] = []

    try:
        with pytest.raises(MailboxUnavailable):
            for message in box.fetch(uids):
                fetched.append(message.key.uid)
                if len(fetched) == 2:
                    server.stop()
    finally:
        server.start()
    rest = [m.key.uid for m in box.fetch([u for u in uids if u not in fetched])]

    assert uids == fetched + rest


# ---- IDLE --------------------------------------------------------------------------------------


def test_idle_wakes_when_another_client_appends(server, make_mailbox):
    box = make_mailbox()
    assert box.supports_idle
    timer = threading.Timer(0.3, server.deliver, args=(server.password_user, a_message(1)))

    started = time.monotonic()
    timer.start()
    try:
        woke = box.idle_wait(10)
    finally:
        timer.join()
    elapsed = time.monotonic() - started

    assert woke
    assert elapsed < 2.5


def test_idle_returns_false_when_nothing_arrives(make_mailbox):
    box = make_mailbox()

    started = time.monotonic()
    woke = box.idle_wait(0.6)

    assert not woke
    assert 0.5 < time.monotonic() - started < 2.0


def test_idle_reports_mail_that_arrived_between_two_waits(server, make_mailbox):
    box = make_mailbox()
    box.idle_wait(0.1)

    server.deliver(server.password_user, a_message(1))

    assert box.idle_wait(5)


def test_idle_uses_its_own_connection_and_leaves_the_pollers_count_alone(make_mailbox):
    box = make_mailbox()
    box.state()
    before = box.commands

    box.idle_wait(0.2)

    assert before == box.commands
