"""One poller per mailbox, even with several processes.

PostgreSQL: a session-level advisory lock (pg_try_advisory_lock) on a stable 64-bit hash of
the name, held on a dedicated connection while the block runs. SQLite (one machine): a
non-blocking flock on ``lock_dir/<name>.lock``. Either way the block is told whether it got
the lock; it never waits.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, text

_SAFE = re.compile(r"[A-Za-z0-9._-]+")


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)


def lock_path(lock_dir: Path, name: str) -> Path:
    if _SAFE.fullmatch(name) and not name.startswith("."):
        return Path(lock_dir) / f"{name}.lock"
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")[:60] or "lock"
    return Path(lock_dir) / f"{cleaned}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:12]}.lock"


@contextlib.contextmanager
def mailbox_lock(engine: Engine, name: str, lock_dir: Path) -> Iterator[bool]:
    """``with mailbox_lock(engine, "default", lock_dir) as held: if held: poll()``."""
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, name) as held:
            yield held
    else:
        with _file_lock(lock_path(lock_dir, name)) as held:
            yield held


@contextlib.contextmanager
def _advisory_lock(engine: Engine, name: str) -> Iterator[bool]:
    key = lock_key(name)
    connection = engine.connect()
    try:
        held = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())
        connection.commit()  # the lock is the session's: no transaction is left open while it is held
    except BaseException:
        connection.invalidate()
        connection.close()
        raise
    try:
        yield held
    finally:
        if held:
            try:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()
            except Exception:
                connection.invalidate()  # closing the server session releases the lock
        connection.close()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[bool]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
