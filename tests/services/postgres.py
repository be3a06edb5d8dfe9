"""A throwaway PostgreSQL cluster for the test session (design/test-services.md).

initdb (as the ``postgres`` user when run as root) with trust auth and no sync, pg_ctl start
on a free loopback port with its socket inside the cluster's directory and fsync off; stopped
by its postmaster's PID at the end and the directory removed. Each test gets a fresh database
(``postgres_url``), dropped after.

Use from a conftest::

    from tests.services.postgres import postgres, postgres_url  # noqa: F401  (fixtures)

or, outside pytest (benchmarks), ``start_cluster()`` / ``cluster.stop()``.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import services

START_ATTEMPTS = 3
STOP_TIMEOUT_S = 10.0


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries (or the postgres user, as root) are missing."""


def find_bindir() -> Path:
    """The newest PostgreSQL's bin directory (or $PG_BINDIR)."""
    override = os.environ.get("PG_BINDIR")
    candidates = [override] if override else sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin or on PATH; "
        "install the postgresql package (scripts/system-deps)"
    )


def _version(bindir: str) -> int:
    try:
        return int(Path(bindir).parent.name)
    except ValueError:
        return 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresCluster:
    directory: Path
    port: int
    pid: int
    _names: Iterator[int] = field(default_factory=itertools.count, repr=False)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self):  # -> psycopg.Connection
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True)

    def execute_admin(self, sql: str) -> None:
        with self._admin() as conn:
            conn.execute(sql)

    def create_database(self, name: str | None = None, template: str = "template0") -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        name = name or f"test_{os.getpid()}_{next(self._names)}"
        self.execute_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def reset_database(self, name: str) -> None:
        """Empty every table (identities restarted), triggers included: cheaper than a new database."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=name, autocommit=True) as conn:
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT quote_ident(tablename) FROM pg_tables "
                    "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                ).fetchall()
            ]
            if tables:
                # replica role: user triggers (the audit log's refusal) do not fire for the test's reset
                conn.execute("SET session_replication_role = replica")
                conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")

    def drop_database(self, name: str) -> None:
        self.execute_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Fast shutdown by the postmaster's PID, then remove the directory."""
        try:
            stop_pid(self.pid)
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


def stop_pid(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)  # "fast" shutdown
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGQUIT)  # "immediate" shutdown
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # not our child (pg_ctl daemonised it), but reap it if it is, so it is not left a zombie
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return False
    try:
        with Path(f"/proc/{pid}/stat").open() as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _as_postgres(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


def start_cluster(*, durable: bool = False) -> PostgresCluster:
    """initdb + pg_ctl start in a new temporary directory. Raises PostgresUnavailable.

    ``durable``: keep PostgreSQL's own fsync and synchronous commit (benchmarks that
    compare durable writes); tests run with both off."""
    bindir = find_bindir()
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise PostgresUnavailable("running as root needs the 'postgres' user to run initdb") from exc
        if shutil.which("runuser") is None:
            raise PostgresUnavailable("running as root needs runuser (util-linux) to run initdb")
    directory = Path(tempfile.mkdtemp(prefix="sscp-pg-"))
    try:
        directory.chmod(0o755)
        (directory / "sock").mkdir()
        if owner is not None:
            for path in (directory, directory / "sock"):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        data = directory / "data"
        subprocess.run(
            _as_postgres(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        last_error = ""
        for _ in range(START_ATTEMPTS):
            port = free_port()
            options = f"-c listen_addresses=127.0.0.1 -p {port} -k {directory / 'sock'} -c max_connections=100"
            if not durable:
                options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            result = subprocess.run(
                _as_postgres(
                    [
                        str(bindir / "pg_ctl"),
                        "-D",
                        str(data),
                        "-l",
                        str(directory / "pg.log"),
                        "-w",
                        "-o",
                        options,
                        "start",
                    ]
                ),
                capture_output=True,
                timeout=120,
                check=False,
            )
            if result.returncode == 0:
                pid = int((data / "postmaster.pid").read_text().split()[0])
                return PostgresCluster(directory=directory, port=port, pid=pid)
            last_error = result.stderr.decode(errors="replace")[-2000:]
        raise RuntimeError(f"PostgreSQL did not start: {last_error}")
    except BaseException:
        pid_file = directory / "data" / "postmaster.pid"
        if pid_file.exists():
            with contextlib.suppress(ValueError, OSError):
                stop_pid(int(pid_file.read_text().split()[0]))
        shutil.rmtree(directory, ignore_errors=True)
        raise


def unavailable(reason: str) -> None:
    """A missing server fails the run in CI and skips (with the reason) elsewhere."""
    services.unavailable("PostgreSQL", reason)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """The session's throwaway cluster."""
    try:
        cluster = start_cluster()
    except PostgresUnavailable as exc:
        unavailable(str(exc))
        raise  # unreachable: unavailable() always raises
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres: PostgresCluster) -> Iterator[str]:
    """A fresh, empty database for one test, dropped after it."""
    url = postgres.create_database()
    try:
        yield url
    finally:
        postgres.drop_database(url.rsplit("/", 1)[1])
