"""A private Dovecot 2.3 for the test session (see docs: shared/design/test-services.md).

    from tests.services.dovecot import dovecot   # the session fixture; use it as an argument

    def test_something(dovecot: DovecotServer):
        dovecot.reset(dovecot.password_user)
        uid = dovecot.deliver(dovecot.password_user, raw)
        settings = dovecot.imap_settings()          # an ImapSettings for the plain port

It listens on 127.0.0.1 only, on free ports: IMAP (plain, STARTTLS offered), IMAPS (a
self-signed certificate for localhost/127.0.0.1: ``ca_file``), LMTP. Its config includes
nothing from /etc/dovecot. Two users: a password user and an XOAUTH2 user whose passwd-file
password is its static token. Failed logins are not penalised (anvil's penalty listener is
disabled, auth_failure_delay = 0). ``stop()`` / ``start()`` stop and restart the server (the
PID this fixture started, nothing else) on the same ports, to simulate an outage.

A missing dovecot binary fails the session when CI is set and skips it otherwise.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient
from pydantic import SecretStr

from intake.settings import ImapSettings
from tests.services import unavailable

HOST = "127.0.0.1"
START_TIMEOUT_S = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if Path(p).is_file()), None
    )


def missing(reason: str) -> None:
    """Fail in CI (a missing server must never pass silently there), skip elsewhere."""
    unavailable("Dovecot", reason)


@dataclass
class DovecotServer:
    directory: Path
    binary: str
    imap_port: int
    imaps_port: int
    lmtp_port: int
    ca_file: str
    password_user: str = "intake@example.org"
    password: str = "correct-horse-battery-7"  # a test account's password
    oauth_user: str = "oauth@example.org"
    oauth_token: str = "static-xoauth2-token-4f1c"  # its passwd-file password
    host: str = HOST
    process: subprocess.Popen[bytes] | None = None
    _admin: dict[str, IMAPClient] = field(default_factory=dict)

    @property
    def users(self) -> dict[str, str]:
        """user -> password (for the XOAUTH2 user: its static token)."""
        return {self.password_user: self.password, self.oauth_user: self.oauth_token}

    @property
    def config_file(self) -> Path:
        return self.directory / "dovecot.conf"

    @property
    def log_file(self) -> Path:
        return self.directory / "dovecot.log"

    # ---- settings for the code under test ------------------------------------------------

    def imap_settings(self, *, user: str | None = None, tls: str = "none", **overrides: Any) -> ImapSettings:
        """ImapSettings for this server: tls "none" or "starttls" use the plain port, "ssl"
        the IMAPS port; ca_file is the self-signed certificate."""
        user = user or self.password_user
        port = self.imaps_port if tls == "ssl" else self.imap_port
        values: dict[str, Any] = {
            "host": self.host,
            "port": port,
            "tls": tls,
            "username": user,
            "ca_file": self.ca_file,
            "timeout_s": 5.0,
        }
        values.update(overrides)
        if "password" in values and isinstance(values["password"], str):
            values["password"] = SecretStr(values["password"])
        return ImapSettings(**values)

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        self.process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.config_file)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(self.directory / "dovecot.stderr").open("ab"),
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if _greets(self.host, self.imap_port) and _accepts(self.host, self.lmtp_port):
                return
            time.sleep(0.02)
        self.stop()
        pytest.fail(f"dovecot did not start on {self.host}:{self.imap_port}:\n{self.log_tail()}", pytrace=False)

    def stop(self) -> None:
        """SIGTERM the dovecot master this fixture started (its own PID), and wait for it."""
        self._close_admin()
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        children = _children(process.pid)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        # The master leaves some of its children behind (imap processes serving open
        # connections, log, stats): end those it had, so that connections really drop.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in children:
                if _alive(pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, sig)
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and any(_alive(pid) for pid in children):
                time.sleep(0.02)

    def log_tail(self, lines: int = 30) -> str:
        texts = []
        for path in (self.log_file, self.directory / "dovecot.stderr"):
            if path.is_file():
                texts.extend(path.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(texts)

    # ---- helpers for tests ---------------------------------------------------------------

    def client(self, user: str) -> IMAPClient:
        """A logged-in plain connection for test set-up (kept, one per user)."""
        client = self._admin.get(user)
        if client is not None:
            try:
                client.noop()
                return client
            except Exception:
                self._admin.pop(user, None)
        client = IMAPClient(self.host, port=self.imap_port, ssl=False, timeout=10)
        client.login(user, self.users[user])
        self._admin[user] = client
        return client

    def deliver(self, user: str, raw: bytes, folder: str = "INBOX") -> int:
        """APPEND a message; returns its UID (APPENDUID)."""
        client = self.client(user)
        response = client.append(folder, raw)
        return _appenduid(response)

    def deliver_many(self, user: str, raws: list[bytes], folder: str = "INBOX") -> list[int]:
        return [self.deliver(user, raw, folder) for raw in raws]

    def deliver_lmtp(self, user: str, raw: bytes, sender: str = "sender@example.net") -> None:
        """Deliver to INBOX through LMTP, the way an MTA would."""
        with smtplib.LMTP(self.host, self.lmtp_port, timeout=10) as lmtp:
            lmtp.sendmail(sender, [user], raw)

    def folder_uids(self, user: str, folder: str = "INBOX") -> list[int]:
        """UIDs in a folder ([] when the folder does not exist)."""
        client = self.client(user)
        if not client.folder_exists(folder):
            return []
        client.select_folder(folder, readonly=True)
        return sorted(client.search(["ALL"]))

    def folder_messages(self, user: str, folder: str = "INBOX") -> dict[int, bytes]:
        uids = self.folder_uids(user, folder)
        if not uids:
            return {}
        client = self.client(user)
        fetched = client.fetch(uids, [b"BODY.PEEK[]"])
        return {uid: bytes(fetched[uid][b"BODY[]"]) for uid in uids}

    def flags(self, user: str, uid: int, folder: str = "INBOX") -> tuple[bytes, ...]:
        client = self.client(user)
        client.select_folder(folder, readonly=True)
        return tuple(client.get_flags([uid]).get(uid, ()))

    def folders(self, user: str) -> list[str]:
        return sorted(name for _, _, name in self.client(user).list_folders())

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        status = self.client(user).folder_status(folder, [b"UIDVALIDITY"])
        return int(status[b"UIDVALIDITY"])

    def reset(self, user: str) -> None:
        """Empty INBOX and delete every other folder (INBOX keeps its UIDVALIDITY)."""
        client = self.client(user)
        client.select_folder("INBOX")  # a selected folder being deleted would drop the connection
        for name in self.folders(user):
            if name.upper() != "INBOX":
                client.delete_folder(name)
        uids = client.search(["ALL"])
        if uids:
            client.add_flags(uids, [b"\\Deleted"], silent=True)
            client.expunge()
        client.unselect_folder()

    def _close_admin(self) -> None:
        for client in self._admin.values():
            with contextlib.suppress(Exception):
                client.shutdown()
        self._admin.clear()


def _appenduid(response: bytes) -> int:
    # b"[APPENDUID 1700000000 7] Append completed."
    text = response.decode("ascii", "replace")
    if "APPENDUID" not in text:
        raise AssertionError(f"no APPENDUID in {text!r}")
    return int(text.split("APPENDUID", 1)[1].split("]", 1)[0].split()[1])


def _children(pid: int) -> list[int]:
    """The PIDs whose parent is ``pid`` (the dovecot master's service processes)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")"
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def _greets(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            return sock.recv(64).startswith(b"* OK")
    except OSError:
        return False


def _make_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    key.chmod(0o600)
    return cert, key


def _config(server: DovecotServer, cert: Path, key: Path, uid: int, gid: int, user: str | None) -> str:
    d = server.directory
    internal = ""
    if user is not None:  # not root: every dovecot process runs as this user
        internal = f"default_internal_user = {user}\ndefault_internal_group = {user}\ndefault_login_user = {user}\n"
    return f"""# written by tests/services/dovecot.py; includes nothing from /etc/dovecot
instance_name = intake-test-{uuid.uuid4().hex[:8]}
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
{internal}listen = {HOST}
protocols = imap lmtp
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_failure_delay = 0
mail_location = maildir:{d}/mail/%u/Maildir
first_valid_uid = {uid}
first_valid_gid = {gid}
postmaster_address = postmaster@example.org
passdb {{
  driver = passwd-file
  args = {d}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/mail/%u allow_all_users=yes
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {HOST}
    port = {server.imap_port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {server.imaps_port}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = {HOST}
    port = {server.lmtp_port}
  }}
}}
"""


def start_dovecot() -> DovecotServer:
    binary = dovecot_binary()
    if binary is None:
        missing("dovecot is not installed (scripts/system-deps installs dovecot-core, dovecot-imapd, dovecot-lmtpd)")
        raise AssertionError("unreachable")
    if shutil.which("openssl") is None:
        missing("openssl is not installed")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    if not version.startswith("2.3"):
        missing(f"this fixture writes Dovecot 2.3 configuration; found {version or 'an unknown version'}")
    directory = Path(tempfile.mkdtemp(prefix="intake-dovecot-"))
    directory.chmod(0o755)
    if os.geteuid() == 0:
        account = pwd.getpwnam("dovecot")
        uid, gid, user = account.pw_uid, account.pw_gid, None
    else:
        uid, gid = os.getuid(), os.getgid()
        user = pwd.getpwuid(uid).pw_name
    (directory / "mail").mkdir()
    os.chown(directory / "mail", uid, gid)
    cert, key = _make_certificate(directory)
    server = DovecotServer(
        directory=directory,
        binary=binary,
        imap_port=free_port(),
        imaps_port=free_port(),
        lmtp_port=free_port(),
        ca_file=str(cert),
    )
    (directory / "users").write_text(
        "".join(f"{name}:{{PLAIN}}{secret}::::::\n" for name, secret in server.users.items()), encoding="utf-8"
    )
    server.config_file.write_text(_config(server, cert, key, uid, gid, user), encoding="utf-8")
    server.start()
    return server


_shared: DovecotServer | None = None
_holders = 0


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """The session's Dovecot. pytest makes one fixture per module that imports this one, so
    the server itself is shared here: started once, stopped after the last holder."""
    global _shared, _holders  # noqa: PLW0603 - one server per session, whichever module asks
    if _shared is None:
        _shared = start_dovecot()
    _holders += 1
    try:
        yield _shared
    finally:
        _holders -= 1
        if _holders == 0:
            server, _shared = _shared, None
            server.stop()
            shutil.rmtree(server.directory, ignore_errors=True)
