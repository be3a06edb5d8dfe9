"""The crash harness's kit: a config file for `intake poll --once` in a subprocess, the
messages it is fed, what a run leaves behind (ledger, documents, server folders, replies), and
the checks every crash must pass (``check_guarantees``).

    config = write_config(tmp, data_dir=tmp / "var")
    done = intake_poll(config, crash="processed:2")      # killed (SIGKILL) at that step
    done = intake_poll(config)                           # the restart finishes the work
    check_guarantees(CRASH_SET, observe_maildir(settings), expected)

A deliberately broken pipeline (``MoveFirstPipeline``: the message leaves the inbox before its
bytes and outcome are committed) is run by this module as a script, to show the checks catch
loss:

    python -m tests.integration.crash_kit --config FILE     # one cycle with the broken pipeline
"""

from __future__ import annotations

import argparse
import collections
import email
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email import policy
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from core.mail import FetchedMessage
from core.ports import Mailbox
from intake.pipeline import CycleReport, Pipeline
from storage.models import FINAL_STATES
from storage.uow import UnitOfWork
from tests.fixtures import mail
from tests.fixtures.sample import FIXTURE_AGENCIES

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 120.0
KILLED = -9  # subprocess returncode of a process ended by SIGKILL


def crash_set() -> list[bytes]:
    """The messages of every crash scenario, in delivery order: a good return for the open case
    (sent twice, byte for byte), an auto-reply, an unknown sender, a covering email."""
    return [
        mail.good_form_email("agency_summary"),
        mail.auto_reply_email(),
        mail.good_form_email("agency_summary"),  # the identical resend
        mail.unknown_sender_email(),
        mail.covering_email(),
    ]


def message_id_of(raw: bytes) -> str:
    msg = email.message_from_bytes(raw, policy=policy.compat32)
    return str(msg.get("Message-ID", "")).strip()


# ---- running the service ---------------------------------------------------------------------


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"no TOML for {type(value).__name__}")


def config_text(
    data_dir: Path,
    *,
    database_url: str | None = None,
    imap: dict[str, Any] | None = None,
    smtp: dict[str, Any] | None = None,
) -> str:
    """A config.toml for the test agencies, trusting the fixtures' Authentication-Results."""
    sections: list[tuple[str, dict[str, Any]]] = [
        ("service", {"data_dir": str(data_dir)}),
        ("screening", {"trusted_authserv_ids": [mail.AUTHSERV_ID]}),
    ]
    if database_url:
        sections.append(("database", {"url": database_url}))
    if imap:
        sections.append(("imap", imap))
    if smtp:
        sections.append(("smtp", smtp))
    lines: list[str] = []
    for name, values in sections:
        lines.append(f"[{name}]")
        lines.extend(f"{k} = {_toml(v)}" for k, v in values.items())
        lines.append("")
    for agency in FIXTURE_AGENCIES.agencies:
        lines.append("[[agencies]]")
        lines.extend(f"{k} = {_toml(v)}" for k, v in agency.model_dump().items())
        lines.append("")
    return "\n".join(lines)


def write_config(path: Path, data_dir: Path, **kwargs: Any) -> Path:
    path.write_text(config_text(data_dir, **kwargs), encoding="utf-8")
    return path


def _run(argv: list[str], crash: str | None, env: dict[str, str] | None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "INTAKE_CRASH_AT"}
    environ.update(env or {})
    if crash:
        environ["INTAKE_CRASH_AT"] = crash
    return subprocess.run(
        argv, cwd=REPO, env=environ, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
    )


def intake_poll(
    config: Path, *, crash: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`intake --config FILE poll --once`, killed at ``crash`` ("step:n") when given."""
    return _run([sys.executable, "-m", "intake.cli", "--config", str(config), "poll", "--once"], crash, env)


def broken_poll(
    config: Path, *, crash: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """One cycle with MoveFirstPipeline (this module run as a script)."""
    return _run([sys.executable, "-m", "tests.integration.crash_kit", "--config", str(config)], crash, env)


def assert_finished(done: subprocess.CompletedProcess[str]) -> None:
    assert 0 == done.returncode, f"exit {done.returncode}: {done.stderr[-2000:]}"


def assert_killed(done: subprocess.CompletedProcess[str]) -> None:
    assert KILLED == done.returncode, f"not killed (exit {done.returncode}): {done.stderr[-2000:]}"


# ---- what a run leaves behind ----------------------------------------------------------------


@dataclass(frozen=True)
class LedgerRow:
    id: int
    message_id: str
    state: str
    destination: str | None
    moved: bool
    reply_state: str


@dataclass(frozen=True)
class FiledDocument:
    message_row_id: int
    case_id: int | None
    agency: str | None
    form: str | None
    version_no: int
    position: int


@dataclass(frozen=True)
class Reply:
    in_reply_to: str
    message_id: str


@dataclass
class Observed:
    """Everything the checks look at after the last restart."""

    rows: list[LedgerRow]
    documents: list[FiledDocument]
    outbox_states: list[str]
    inbox: list[bytes]
    processed: list[bytes]
    exceptions: list[bytes]
    replies: list[Reply]
    queue_reasons: list[str] = field(default_factory=list)

    def states(self) -> dict[str, list[str]]:
        """Message-ID -> the final states of its ledger rows, sorted."""
        found: dict[str, list[str]] = collections.defaultdict(list)
        for row in self.rows:
            found[row.message_id].append(row.state)
        return {k: sorted(v) for k, v in found.items()}

    def versions(self) -> collections.Counter[tuple[str | None, str | None]]:
        """(agency, form) -> how many versions were filed against a case."""
        return collections.Counter((d.agency, d.form) for d in self.documents if d.case_id is not None)

    def replied_to(self) -> set[str]:
        return {r.in_reply_to for r in self.replies}

    def repeated_replies(self) -> int:
        """How many replies went out twice (a kill between sending and recording)."""
        return sum(n > 1 for n in collections.Counter(r.in_reply_to for r in self.replies).values())


def ledger(engine: Engine) -> tuple[list[LedgerRow], list[FiledDocument], list[str], list[str]]:
    with UnitOfWork(engine) as uow:
        messages = uow.messages.list_all()
        rows = [
            LedgerRow(
                id=int(m.id or 0),
                message_id=m.message_id or "",
                state=m.state,
                destination=m.destination,
                moved=bool(m.moved),
                reply_state=m.reply_state,
            )
            for m in messages
        ]
        documents = [
            FiledDocument(
                message_row_id=d.message_row_id,
                case_id=d.case_id,
                agency=d.agency,
                form=d.form,
                version_no=d.version_no,
                position=d.position,
            )
            for m in messages
            for d in uow.documents.for_message(int(m.id or 0))
        ]
        outbox = [o.state for m in messages if (o := uow.outbox.for_message(int(m.id or 0))) is not None]
        reasons = [i.reason for m in messages for i in uow.queue.for_message(int(m.id or 0))]
    return rows, documents, outbox, reasons


def replies_in(raws: Iterable[bytes]) -> list[Reply]:
    found = []
    for raw in raws:
        msg = email.message_from_bytes(raw, policy=policy.compat32)
        found.append(Reply(str(msg.get("In-Reply-To", "")).strip(), str(msg.get("Message-ID", "")).strip()))
    return found


def maildir_replies(outbox: Path) -> list[Reply]:
    new = outbox / "new"
    return replies_in(p.read_bytes() for p in sorted(new.iterdir())) if new.is_dir() else []


def observe(
    engine: Engine,
    *,
    inbox: list[bytes],
    processed: list[bytes],
    exceptions: list[bytes],
    replies: list[Reply],
) -> Observed:
    rows, documents, outbox, reasons = ledger(engine)
    return Observed(
        rows=rows,
        documents=documents,
        outbox_states=outbox,
        inbox=inbox,
        processed=processed,
        exceptions=exceptions,
        replies=replies,
        queue_reasons=reasons,
    )


# ---- the guarantees --------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """What a run without any crash leaves (the baseline the crashed runs must reach)."""

    states: dict[str, list[str]]
    versions: collections.Counter[tuple[str | None, str | None]]
    replied_to: set[str]
    queue_reasons: list[str]

    @classmethod
    def of(cls, seen: Observed) -> Expected:
        return cls(seen.states(), seen.versions(), seen.replied_to(), sorted(seen.queue_reasons))


def check_guarantees(sent: Sequence[bytes], seen: Observed, expected: Expected | None = None) -> None:
    """Raise AssertionError unless the guarantees (spec/intake.md) hold after the restarts."""
    deliveries = collections.Counter(message_id_of(raw) for raw in sent)

    # no message lost: each delivery has its ledger row and sits in Processed or Exceptions
    assert [] == seen.inbox, "messages left in the inbox"
    assert sorted(sent) == sorted(seen.processed + seen.exceptions), "the server folders lost or gained messages"
    assert deliveries == collections.Counter(r.message_id for r in seen.rows), "a delivery without its ledger row"

    # every message in exactly one final state, moved where its state says
    not_final = [r for r in seen.rows if r.state not in FINAL_STATES or not r.moved]
    assert [] == not_final, "messages not finished"
    assert len(seen.exceptions) == sum(r.destination == "exceptions" for r in seen.rows)
    assert len(seen.processed) == sum(r.destination == "processed" for r in seen.rows)

    # none filed twice: one non-duplicate row per Message-ID, one document per attachment,
    # one version per agency and form for identical sends
    originals = collections.Counter(r.message_id for r in seen.rows if r.state != "duplicate")
    assert set(deliveries) == set(originals) and {1} == set(originals.values()), "a message handled twice"
    placed = collections.Counter((d.message_row_id, d.position) for d in seen.documents)
    assert all(n == 1 for n in placed.values()), "an attachment stored twice"
    duplicates = {r.id for r in seen.rows if r.state == "duplicate"}
    assert not any(d.message_row_id in duplicates for d in seen.documents), "a duplicate filed"

    # at most one reply per message; a repeat (a crash between sending and recording) once,
    # with the same Message-ID; and every reply that was queued went out
    by_original: dict[str, list[str]] = collections.defaultdict(list)
    for reply in seen.replies:
        by_original[reply.in_reply_to].append(reply.message_id)
    for ids in by_original.values():
        assert len(ids) <= 2, "a reply sent more than twice"
        assert 1 == len(set(ids)), "a repeated reply with another Message-ID"
    assert all(s == "sent" for s in seen.outbox_states), "a reply not sent"
    assert len(seen.outbox_states) == len(by_original), "a reply missing"

    if expected is not None:
        assert expected.states == seen.states(), "final states differ from a run without a crash"
        assert expected.versions == seen.versions(), "filed versions differ from a run without a crash"
        assert expected.replied_to == seen.replied_to(), "replies differ from a run without a crash"
        assert expected.queue_reasons == sorted(seen.queue_reasons), "the queue differs from a run without a crash"


# ---- the deliberately broken pipeline --------------------------------------------------------


class MoveFirstPipeline(Pipeline):
    """BROKEN ON PURPOSE: each message is moved to Processed as soon as it is fetched, before its
    bytes and outcome are committed (the "delete on download" mistake). A crash between the move
    and the commit loses the message: the harness must notice."""

    def poll(self, mailbox: Mailbox, report: CycleReport | None = None) -> CycleReport:
        report = report or CycleReport()
        state = mailbox.state()
        with self.uow() as uow:
            known = uow.messages.known_uids(mailbox.name, mailbox.folder, state.uidvalidity)
        fetched: list[FetchedMessage] = list(mailbox.fetch([u for u in mailbox.uids() if u not in known]))
        for message in fetched:
            mailbox.move([message.key.uid], "processed")  # the bug: before anything is durable
            report.fetched += 1
            self._crash.at("fetched")
            if self.record(message):
                report.recorded += 1
            else:
                report.duplicates += 1
        return report


def run_broken(config: Path) -> int:
    """One cycle of the service with MoveFirstPipeline in place of the real one."""
    from intake.service import Service
    from intake.settings import load_settings

    with Service.build(load_settings(config)) as service:
        service.pipeline.__class__ = MoveFirstPipeline
        report = service.cycle()
    return 3 if report.failures else 0


def run_worker(config: Path, limit: int, ready: Path, go: Path) -> int:
    """A processing worker: built (the slow part), it says it is ready, waits for the go, then
    processes what is pending ``limit`` messages at a claim. Prints how many it processed."""
    import time

    from intake.service import Service
    from intake.settings import load_settings

    with Service.build(load_settings(config), mailboxes=[]) as service:
        ready.touch()
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while not go.exists():
            if time.monotonic() > deadline:
                return 2
            time.sleep(0.01)
        report = service.pipeline.process_pending(limit=limit)
    print(report.processed)
    return 3 if report.failures else 0


def worker_command(config: Path, limit: int, ready: Path, go: Path) -> list[str]:
    return [
        sys.executable, "-m", "tests.integration.crash_kit", "--config", str(config),
        "worker", "--limit", str(limit), "--ready", str(ready), "--go", str(go),
    ]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="test-only runners of the service")
    parser.add_argument("--config", required=True, type=Path)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("broken", help="one cycle with the deliberately broken pipeline (the default)")
    worker = commands.add_parser("worker", help="process pending messages after a go signal")
    worker.add_argument("--limit", type=int, default=2)
    worker.add_argument("--ready", type=Path, required=True)
    worker.add_argument("--go", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "worker":
        return run_worker(args.config, args.limit, args.ready, args.go)
    return run_broken(args.config)


if __name__ == "__main__":
    sys.exit(main())
