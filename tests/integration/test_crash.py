"""The crash harness: `intake poll --once` is killed (SIGKILL) at every named step of the flow
(intake.pipeline.STEPS), on each message in turn, then restarted without the crash; afterwards
no message is lost, none is filed twice, every message is in one final state, and a reply is
repeated at most once, with the same Message-ID (crash_kit.check_guarantees).

The full matrix runs on the embedded defaults (Maildir inbox, SQLite, Maildir outbox); a subset
runs against the private Dovecot and PostgreSQL. A deliberately broken pipeline (moving before
committing) shows the checks catch loss.
"""

from __future__ import annotations

import datetime as dt
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from intake.mailboxes.maildir import MaildirMailbox
from intake.pipeline import STEPS
from intake.service import Service
from intake.settings import load_settings
from storage.db import make_engine, sqlite_url
from tests.fixtures.cases import migrate_with_fixture_case
from tests.integration.crash_kit import (
    Expected,
    Observed,
    assert_finished,
    assert_killed,
    broken_poll,
    crash_set,
    intake_poll,
    maildir_replies,
    observe,
    write_config,
)
from tests.integration.crash_kit import check_guarantees as check
from tests.services.dovecot import DovecotServer, dovecot  # noqa: F401  (the fixture)
from tests.services.postgres import PostgresCluster

SENT = crash_set()
OPENED = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
#: scenarios run two at a time (each is two short processes)
PARALLEL = 2


def open_case(url: str) -> None:
    """Migrate the database and open the case the good returns are for."""
    migrate_with_fixture_case(url, OPENED)


# ---- the embedded defaults: Maildir inbox, SQLite, Maildir outbox ----------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory ready for a run: database migrated, the case open, SENT delivered."""
    root = tmp_path_factory.mktemp("crash-template")
    data = root / "var"
    config = write_config(root / "config.toml", data)
    with Service.build(load_settings(config)):
        pass  # migrated, storage key made
    open_case(sqlite_url(data))
    inbox = MaildirMailbox(data / "mail")
    for raw in SENT:
        inbox.add(raw)
    return data


def scenario(template: Path, where: Path) -> Path:
    """A copy of the template in ``where``; returns its config file."""
    shutil.copytree(template, where / "var")
    return write_config(where / "config.toml", where / "var")


def observe_maildir(data: Path) -> Observed:
    engine = make_engine(sqlite_url(data))
    inbox = MaildirMailbox(data / "mail")
    try:
        return observe(
            engine,
            inbox=[m.raw for m in inbox.fetch(inbox.uids())],
            processed=[p.read_bytes() for p in inbox.folder_files("processed")],
            exceptions=[p.read_bytes() for p in inbox.folder_files("exceptions")],
            replies=maildir_replies(data / "outbox"),
        )
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def baseline(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Expected:
    """One run without a crash: what every crashed run must reach."""
    config = scenario(template, tmp_path_factory.mktemp("crash-baseline"))
    assert_finished(intake_poll(config))
    seen = observe_maildir(config.parent / "var")
    check(SENT, seen)
    return Expected.of(seen)


def times_reached(step: str, expected: Expected) -> int:
    """How often one run reaches ``step`` (so n = 1..k lands the kill on each message)."""
    originals = sum(1 for states in expected.states.values() for s in states if s != "duplicate")
    destinations = 2  # Processed and Exceptions: one move each
    return {
        "fetched": len(SENT),
        "blob-stored": len(SENT),
        "recorded": len(SENT),
        "processed": originals,
        "moved": destinations,
        "acknowledged": destinations,
        "reply-sent": len(expected.replied_to),
    }[step]


def crash_and_restart(template: Path, where: Path, crash: str) -> Observed:
    where.mkdir()
    config = scenario(template, where)
    assert_killed(intake_poll(config, crash=crash))
    assert_finished(intake_poll(config))
    return observe_maildir(config.parent / "var")


def test_the_baseline_has_every_kind_of_outcome(baseline: Expected) -> None:
    states = sorted(s for found in baseline.states.values() for s in found)
    assert ["duplicate", "exception", "exception", "filed", "ignored"] == states
    assert ["no_attachment", "unknown_sender"] == baseline.queue_reasons
    assert 2 == len(baseline.replied_to)


@pytest.mark.parametrize("step", STEPS)
def test_a_kill_at_any_step_on_any_message_loses_nothing_and_files_nothing_twice(
    step: str, template: Path, baseline: Expected, tmp_path: Path
) -> None:
    kills = [f"{step}:{n}" for n in range(1, times_reached(step, baseline) + 1)]

    with ThreadPoolExecutor(PARALLEL) as pool:
        seen = list(pool.map(lambda c: crash_and_restart(template, tmp_path / c.replace(":", "-"), c), kills))

    for crash, observed in zip(kills, seen, strict=True):
        try:
            check(SENT, observed, baseline)
        except AssertionError as exc:
            raise AssertionError(f"after a kill at {crash}: {exc}") from exc
        # a kill between sending and recording repeats exactly that reply; no other kill repeats one
        assert (1 if step == "reply-sent" else 0) == observed.repeated_replies(), crash


def test_a_second_restart_changes_nothing(template: Path, baseline: Expected, tmp_path: Path) -> None:
    config = scenario(template, tmp_path)
    assert_killed(intake_poll(config, crash="reply-sent:2"))
    assert_finished(intake_poll(config))
    first = observe_maildir(tmp_path / "var")

    assert_finished(intake_poll(config))

    again = observe_maildir(tmp_path / "var")
    check(SENT, again, baseline)
    assert (first.rows, first.documents, first.replies) == (again.rows, again.documents, again.replies)


def test_the_harness_catches_a_pipeline_that_moves_before_it_commits(template: Path, tmp_path: Path) -> None:
    config = scenario(template, tmp_path)
    assert_killed(broken_poll(config, crash="fetched:2"))
    assert_finished(intake_poll(config))

    seen = observe_maildir(tmp_path / "var")

    with pytest.raises(AssertionError, match="ledger row"):
        check(SENT, seen)


# ---- the private Dovecot and PostgreSQL ------------------------------------------------------


@pytest.mark.parametrize("crash", ["fetched:3", "recorded:4", "processed:2", "moved:1"])
def test_a_kill_against_dovecot_and_postgresql_loses_nothing(
    crash: str,
    dovecot: DovecotServer,  # noqa: F811
    postgres: PostgresCluster,
    baseline: Expected,
    tmp_path: Path,
) -> None:
    user = dovecot.password_user
    dovecot.reset(user)
    dovecot.deliver_many(user, SENT)
    url = postgres.create_database()
    try:
        open_case(url)
        imap = {"host": dovecot.host, "port": dovecot.imap_port, "tls": "none", "username": user, "timeout_s": 10.0}
        config = write_config(tmp_path / "config.toml", tmp_path / "var", database_url=url, imap=imap)
        env = {"INTAKE_IMAP_PASSWORD": dovecot.password}

        assert_killed(intake_poll(config, crash=crash, env=env))
        assert_finished(intake_poll(config, env=env))

        engine = make_engine(url)
        try:
            seen = observe(
                engine,
                inbox=list(dovecot.folder_messages(user, "INBOX").values()),
                processed=list(dovecot.folder_messages(user, "Processed").values()),
                exceptions=list(dovecot.folder_messages(user, "Exceptions").values()),
                replies=maildir_replies(tmp_path / "var" / "outbox"),
            )
        finally:
            engine.dispose()
    finally:
        postgres.drop_database(url.rsplit("/", 1)[1])
    check(SENT, seen, baseline)
