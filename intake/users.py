"""`intake users add EMAIL --role ROLE`: a web app account.

The password is read from standard input when it is not a terminal (one line, e.g.
``printf '%s\\n' "$PASSWORD" | intake users add ...``); on a terminal a one-time password is
printed once instead, and the person must choose their own at first sign-in.
"""

from __future__ import annotations

import sys
from typing import TextIO

from core.errors import ConfigError
from intake.service import SystemClock, database_url
from intake.settings import Settings
from storage.db import make_engine, migrate
from storage.uow import UnitOfWork
from web.auth import AccountRefused, add_user
from web.ports import default_password_hasher

EXIT_OK = 0


def read_password(stdin: TextIO) -> str | None:
    """The password piped in (one line), or None on a terminal."""
    if stdin.isatty():
        return None
    line = stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise ConfigError("no password on standard input (give one line, or run on a terminal for a one-time password)")
    return password


def add(settings: Settings, email: str, role: str, *, stdin: TextIO | None = None, out: TextIO | None = None) -> int:
    stdin = stdin if stdin is not None else sys.stdin
    out = out if out is not None else sys.stdout
    password = read_password(stdin)
    clock = SystemClock(settings.service.timezone)
    engine = make_engine(database_url(settings))
    try:
        migrate(engine)
        with UnitOfWork(engine) as uow:
            try:
                user, secret = add_user(
                    uow,
                    default_password_hasher(),
                    email=email,
                    role=role,
                    password=password,
                    actor="cli",
                    now=clock.now(),
                )
            except AccountRefused as refused:
                raise ConfigError(f"{refused.field}: {refused.message}") from None
            uow.commit()
    finally:
        engine.dispose()
    print(f"added {user.email} as {role}", file=out)
    if secret is not None:
        print(f"one-time password (shown only this once; they choose their own at first sign-in): {secret}", file=out)
    return EXIT_OK
