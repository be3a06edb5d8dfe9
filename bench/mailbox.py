"""The mail intake against peers measured in the same run (issue 3, "Performance").

    .venv/bin/python -m bench.mailbox [--messages 2000] [--idle-messages 10000] [--repeat 3]

It starts its own private Dovecot (tests/services/dovecot.py) and a PostgreSQL cluster with
fsync and synchronous commit ON (tests/services/postgres.py, ``durable=True``: "durably
stored" must mean the same for the ledger as for the peer's Maildir), and stops both, by the
PIDs it started, at the end.

Corpus: ``--messages`` agency emails of about 60 KB, built once with tests/fixtures/mail.py and
filler.py: three in four carry the NCA's agency summary (Word), one in four GMP's chronology
(Excel) and a summary. Every message has its own Message-ID, subject, date and attachment bytes
(a ZIP comment), so none is a duplicate. They are APPENDed into the private Dovecot over one
connection (MULTIAPPEND, LITERAL+).

Peers, in the same run:
- ``mbsync`` (isync) pulling the folder into a fresh Maildir with ``FSync yes``;
- a bare loop loading each attachment once (python-docx ``Document``, openpyxl
  ``load_workbook(read_only=True)``), touching its paragraphs / rows.

Subjects and targets:
1. download and record (fetched, encrypted into the blob store with fsync, ledger rows
   committed on PostgreSQL) <= 1.5x mbsync (medians of ``--repeat`` interleaved runs);
2. the whole cycle (download, read, check, file, reply queued, moved) <= 2x (mbsync + bare
   load loop);
3. an idle poll of an unchanged folder of ``--idle-messages``: <= 3 IMAP commands after login
   (ImapMailbox.commands), < 100 ms (median of warm polls);
4. reading shared by worker processes on PostgreSQL: process_pending in 1 vs 2 processes on
   fresh copies of the same recorded state (database and blob store); no document filed twice.
   The speed-up is printed (no target: the machine has 2 cores, shared).

Results go to bench/results/mailbox.json; the last line says "all targets met" or which
missed, and the exit status is 1 when one missed. The figures are noisy (2 shared cores).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import io
import json
import multiprocessing
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from imapclient import IMAPClient

RESULTS = Path(__file__).resolve().parent / "results"
KEY_ENV = "INTAKE_STORAGE_KEY"
TARGET_RECORD = 1.5
TARGET_CYCLE = 2.0
TARGET_IDLE_COMMANDS = 3
TARGET_IDLE_MS = 100.0
APPEND_CHUNK = 100
CASE_REFERENCE_OPENED = dt.datetime(2025, 9, 1, tzinfo=dt.UTC)


# -- the corpus ------------------------------------------------------------------------------


@dataclass
class Corpus:
    raws: list[bytes]
    attachments: list[tuple[str, bytes]]

    @property
    def mean_kb(self) -> float:
        return sum(map(len, self.raws)) / len(self.raws) / 1024


def _with_comment(zipped: bytes, tag: str) -> bytes:
    """The same ZIP with a comment of its own (distinct bytes, the same content)."""
    comment = tag.encode("ascii")
    assert zipped[-22:-18] == b"PK\x05\x06" and zipped[-2:] == b"\x00\x00", "a ZIP without a comment"
    return zipped[:-2] + struct.pack("<H", len(comment)) + comment


def build_corpus(count: int, run: str) -> Corpus:
    from tests.fixtures import mail
    from tests.fixtures.filler import filled_document
    from tests.fixtures.sample import CASE_REFERENCE

    _, summary = filled_document("agency_summary")
    _, chronology = filled_document("chronology")
    nca, gmp = mail.PEOPLE["nca"], mail.PEOPLE["gmp"]
    raws: list[bytes] = []
    attachments: list[tuple[str, bytes]] = []
    for i in range(count):
        tag = f"bench {run} {i:06d}"
        if i % 4 == 3:
            person = gmp
            files = [
                ("GMP chronology.xlsx", _with_comment(chronology, tag)),
                ("GMP agency summary.docx", _with_comment(summary, tag)),
            ]
            subject = f"{CASE_REFERENCE} GMP return {i:06d}: chronology and agency summary"
        else:
            person = nca
            files = [("Agency Summary Report - NCA.docx", _with_comment(summary, tag))]
            subject = f"{CASE_REFERENCE} Agency summary report - NCA ({i:06d})"
        raws.append(
            mail.agency_email(
                sender=person.formatted,
                subject=subject,
                body=f"Hello,\n\nPlease find attached our return ({i}).\n\nKind regards,\n\n{person.name}\n",
                attachments=files,
                message_id=f"<bench.{run}.{i:06d}@{person.domain}>",
                date=mail.DATE + dt.timedelta(minutes=i),
            )
        )
        attachments.extend(files)
    return Corpus(raws, attachments)


def small_messages(count: int, run: str) -> list[bytes]:
    """Plain notes for the idle folder (its size is what matters, not its content)."""
    return [
        (
            f"From: Casey Lund <casey.lund@police.example.org>\r\nTo: reviews@partnership.example.org\r\n"
            f"Subject: note {i}\r\nDate: Mon, 02 Mar 2026 09:30:00 +0000\r\n"
            f"Message-ID: <idle.{run}.{i:06d}@police.example.org>\r\n\r\nA note ({i}).\r\n"
        ).encode("ascii")
        for i in range(count)
    ]


def append_all(host: str, port: int, user: str, password: str, raws: list[bytes]) -> float:
    """APPEND over one connection, MULTIAPPEND in chunks; returns seconds."""
    started = time.perf_counter()
    client = IMAPClient(host, port=port, ssl=False, timeout=120)
    try:
        client.login(user, password)
        for start in range(0, len(raws), APPEND_CHUNK):
            client.multiappend("INBOX", raws[start : start + APPEND_CHUNK])
        client.select_folder("INBOX", readonly=True)
        found = len(client.search(["ALL"]))
        if found != len(raws):
            raise RuntimeError(f"appended {len(raws)} messages, the folder holds {found}")
    finally:
        with contextlib.suppress(Exception):
            client.logout()
    return time.perf_counter() - started


# -- the peers -------------------------------------------------------------------------------


def mbsync_pull(host: str, port: int, user: str, password: str, work: Path, *, fsync: bool = True) -> float:
    """mbsync pulls INBOX into a fresh Maildir; returns seconds (FSync yes by default)."""
    run_dir = Path(tempfile.mkdtemp(prefix="mbsync-", dir=work))
    local = run_dir / "maildir"
    local.mkdir()
    config = run_dir / "mbsyncrc"
    config.write_text(
        f"""FSync {"yes" if fsync else "no"}

IMAPAccount bench
Host {host}
Port {port}
User {user}
Pass {password}
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account bench

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel bench
Far :remote:
Near :local:
Patterns INBOX
Sync Pull
Create Near
SyncState *
""",
        encoding="utf-8",
    )
    started = time.perf_counter()
    done = subprocess.run(["mbsync", "-q", "-c", str(config), "bench"], capture_output=True, check=False, timeout=600)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"mbsync failed ({done.returncode}): {done.stderr.decode(errors='replace')[-800:]}")
    pulled = len(list((local / "INBOX" / "cur").iterdir())) + len(list((local / "INBOX" / "new").iterdir()))
    shutil.rmtree(run_dir, ignore_errors=True)
    return elapsed if pulled else float("nan")


def bare_load(attachments: list[tuple[str, bytes]]) -> float:
    """Each attachment loaded once with python-docx / openpyxl, its content touched minimally."""
    import docx
    import openpyxl

    touched = 0
    started = time.perf_counter()
    for name, data in attachments:
        if name.endswith(".docx"):
            document = docx.Document(io.BytesIO(data))
            touched += len(document.paragraphs) + len(document.tables)
        else:
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
            for sheet in book.worksheets:
                for row in sheet.iter_rows(values_only=True):
                    touched += len(row)
            book.close()
    elapsed = time.perf_counter() - started
    assert touched > 0
    return elapsed


# -- the service -----------------------------------------------------------------------------


@dataclass
class Env:
    dovecot: Any
    cluster: Any
    work: Path
    template_db: str = "bench_template"
    _n: int = 0

    def fresh_database(self, template: str | None = None) -> tuple[str, str]:
        self._n += 1
        name = f"bench_{self._n}"
        self.cluster.execute_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template or self.template_db}"')
        return name, self.cluster.url(name)

    def drop(self, name: str) -> None:
        self.cluster.drop_database(name)


def service_settings(url: str, data_dir: Path, blobs: Path, imap: Any = None) -> Any:
    from intake.settings import (
        DatabaseSettings,
        PollingSettings,
        ScreeningSettings,
        ServiceSettings,
        Settings,
        StorageSettings,
    )
    from tests.fixtures import mail
    from tests.fixtures.sample import FIXTURE_AGENCIES

    return Settings(
        service=ServiceSettings(data_dir=str(data_dir)),
        database=DatabaseSettings(url=url),
        storage=StorageSettings(dir=str(blobs)),
        screening=ScreeningSettings(trusted_authserv_ids=(mail.AUTHSERV_ID,)),
        polling=PollingSettings(replies_per_sender_per_hour=1_000_000),  # every message gets its reply
        agencies=FIXTURE_AGENCIES.agencies,
        **({"imap": imap} if imap is not None else {}),
    )


def build_service(url: str, data_dir: Path, blobs: Path, imap: Any = None, worker: str | None = None) -> Any:
    from intake.outbox import MaildirTransport
    from intake.service import Service

    return Service.build(
        service_settings(url, data_dir, blobs, imap),
        mailboxes=[],
        transport=MaildirTransport(data_dir / "outbox"),
        worker=worker,
    )


def imap_mailbox(env: Env, user: str | None = None) -> Any:
    from intake.mailboxes.imap import ImapMailbox

    server = env.dovecot
    user = user or server.password_user
    settings = server.imap_settings(user=user, tls="none")
    return ImapMailbox(settings, password=server.users[user])


def prepare_template(env: Env) -> None:
    """A migrated database with the case the returns are for (copied for every run)."""
    from tests.fixtures.cases import migrate_with_fixture_case

    env.cluster.execute_admin(f'CREATE DATABASE "{env.template_db}"')
    migrate_with_fixture_case(env.cluster.url(env.template_db), CASE_REFERENCE_OPENED)


def record_phase(env: Env, expected: int, keep: bool = False) -> tuple[float, dict[str, Any]]:
    """pipeline.poll on a fresh database and blob store; returns seconds (and, with keep, where)."""
    name, url = env.fresh_database()
    run_dir = Path(tempfile.mkdtemp(prefix="record-", dir=env.work))
    service = build_service(url, run_dir / "var", run_dir / "blobs")
    mailbox = imap_mailbox(env)
    try:
        started = time.perf_counter()
        report = service.pipeline.poll(mailbox)
        elapsed = time.perf_counter() - started
    finally:
        mailbox.close()
        service.close()
    if report.recorded != expected or report.failures:
        raise RuntimeError(f"record phase: {report}")
    where = {"database": name, "dir": str(run_dir)}
    if not keep:
        env.drop(name)
        shutil.rmtree(run_dir, ignore_errors=True)
    return elapsed, where


def whole_cycle(env: Env, expected: int) -> tuple[float, dict[str, int]]:
    """Service.poll_mailbox (poll, process, acknowledge under the lock) on a fresh state."""
    from intake.pipeline import CycleReport

    name, url = env.fresh_database()
    run_dir = Path(tempfile.mkdtemp(prefix="cycle-", dir=env.work))
    service = build_service(url, run_dir / "var", run_dir / "blobs")
    mailbox = imap_mailbox(env)
    report = CycleReport()
    try:
        started = time.perf_counter()
        service.poll_mailbox(mailbox, report)
        elapsed = time.perf_counter() - started
        outcome = _outcome(url)
    finally:
        mailbox.close()
        service.close()
    left = env.dovecot.folder_uids(env.dovecot.password_user, "INBOX")
    if report.failures or report.processed != expected or report.moved != expected or left:
        raise RuntimeError(f"whole cycle: {report}, {len(left)} left in INBOX")
    env.drop(name)
    shutil.rmtree(run_dir, ignore_errors=True)
    return elapsed, outcome


def _outcome(url: str) -> dict[str, int]:
    """What the database holds after processing (and whether anything was filed twice)."""
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn:

        def one(sql: str) -> int:
            found = conn.execute(sql).fetchone()
            assert found is not None
            return int(found[0])

        states: dict[str, int] = dict(conn.execute("SELECT state, count(*) FROM messages GROUP BY state").fetchall())
        documents = one("SELECT count(*) FROM documents")
        twice = one(
            "SELECT count(*) FROM (SELECT message_row_id, position FROM documents "
            "GROUP BY message_row_id, position HAVING count(*) > 1) AS d"
        )
        replies = one("SELECT count(*) FROM outbox")
        versions_twice = one(
            "SELECT count(*) FROM (SELECT case_id, agency, form, version_no FROM documents WHERE case_id IS NOT NULL "
            "GROUP BY case_id, agency, form, version_no HAVING count(*) > 1) AS v"
        )
    return {
        **{f"messages_{k}": v for k, v in states.items()},
        "documents": documents,
        "documents_filed_twice": twice,
        "case_versions_twice": versions_twice,
        "replies_queued": replies,
    }


def _worker_main(args: dict[str, Any], ready: Any, go: Any, results: Any) -> None:
    service = build_service(args["url"], Path(args["data_dir"]), Path(args["blobs"]), worker=args["worker"])
    try:
        service.checker.check(b"", "warm-up.docx", dt.date(2026, 1, 1))  # the reading worker is up
        ready.set()
        go.wait()
        report = service.pipeline.process_pending()
        results.put((args["worker"], report.processed, len(report.failures), time.perf_counter()))
    finally:
        service.close()


def workers_phase(env: Env, recorded: dict[str, Any], processes: int, expected: int) -> tuple[float, dict[str, int]]:
    """process_pending in ``processes`` processes on a fresh copy of the recorded state."""
    name, url = env.fresh_database(template=recorded["database"])
    run_dir = Path(tempfile.mkdtemp(prefix=f"workers{processes}-", dir=env.work))
    shutil.copytree(Path(recorded["dir"]) / "blobs", run_dir / "blobs")
    context = multiprocessing.get_context("spawn")
    go, results = context.Event(), context.Queue()
    readies, children = [], []
    for n in range(processes):
        ready = context.Event()
        args = {
            "url": url,
            "data_dir": str(run_dir / f"var{n}"),
            "blobs": str(run_dir / "blobs"),
            "worker": f"bench-worker-{n}",
        }
        child = context.Process(target=_worker_main, args=(args, ready, go, results))
        child.start()
        readies.append(ready)
        children.append(child)
    try:
        for ready in readies:
            if not ready.wait(120):
                raise RuntimeError("a worker did not start")
        started = time.perf_counter()
        go.set()
        finished = [results.get(timeout=3600) for _ in children]
        elapsed = max(f[3] for f in finished) - started
    finally:
        for child in children:
            child.join(timeout=60)
            if child.is_alive():
                child.kill()  # our own child, by its handle
                child.join()
    processed = sum(f[1] for f in finished)
    failures = sum(f[2] for f in finished)
    outcome = _outcome(url)
    outcome.update({"processed": processed, "failures": failures, "per_worker": [f[1] for f in finished]})  # type: ignore[dict-item]
    if processed != expected or failures or outcome["documents_filed_twice"] or outcome["case_versions_twice"]:
        raise RuntimeError(f"{processes} workers: {outcome}")
    env.drop(name)
    shutil.rmtree(run_dir, ignore_errors=True)
    return elapsed, outcome


def idle_poll(env: Env, count: int, run: str) -> dict[str, Any]:
    """An unchanged folder of ``count`` messages, already recorded: commands and time of a poll."""
    server = env.dovecot
    user = server.oauth_user  # a folder of its own
    append_s = append_all(server.host, server.imap_port, user, server.users[user], small_messages(count, run))
    name, url = env.fresh_database()
    run_dir = Path(tempfile.mkdtemp(prefix="idle-", dir=env.work))
    service = build_service(url, run_dir / "var", run_dir / "blobs")
    mailbox = imap_mailbox(env, user)
    try:
        started = time.perf_counter()
        first = service.pipeline.poll(mailbox)
        record_s = time.perf_counter() - started
        if first.recorded != count:
            raise RuntimeError(f"idle folder: {first}")
        commands, times = [], []
        for _ in range(7):
            mailbox.close()
            mailbox.capabilities  # noqa: B018  (log in again: the count starts after login)
            before = mailbox.commands
            started = time.perf_counter()
            report = service.pipeline.poll(mailbox)
            times.append((time.perf_counter() - started) * 1000)
            commands.append(mailbox.commands - before)
            if not report.idle or report.fetched:
                raise RuntimeError(f"the idle poll was not idle: {report}")
        warm = []
        for _ in range(7):  # a poller keeps its connection between polls
            started = time.perf_counter()
            service.pipeline.poll(mailbox)
            warm.append((time.perf_counter() - started) * 1000)
    finally:
        mailbox.close()
        service.close()
    env.drop(name)
    shutil.rmtree(run_dir, ignore_errors=True)
    return {
        "folder_messages": count,
        "append_s": round(append_s, 2),
        "first_poll_record_s": round(record_s, 2),
        "commands_after_login": max(commands),
        "ms_after_login_median": round(statistics.median(times), 1),
        "ms_kept_connection_median": round(statistics.median(warm), 1),
    }


# -- the run ---------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return statistics.median(values)


def run(args: argparse.Namespace) -> int:
    from tests.services.dovecot import start_dovecot
    from tests.services.postgres import start_cluster

    os.environ.setdefault(KEY_ENV, base64.b64encode(os.urandom(32)).decode("ascii"))
    os.environ.pop("INTAKE_CRASH_AT", None)
    tag = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
    work = Path(tempfile.mkdtemp(prefix="bench-mailbox-"))
    work.chmod(0o755)
    load_before = os.getloadavg()
    print(f"building {args.messages} messages ...", flush=True)
    corpus = build_corpus(args.messages, tag)
    print(f"  {len(corpus.raws)} messages, mean {corpus.mean_kb:.1f} KB, {len(corpus.attachments)} attachments")
    dovecot = cluster = None
    try:
        dovecot = start_dovecot()
        cluster = start_cluster(durable=True)
        env = Env(dovecot=dovecot, cluster=cluster, work=work)
        prepare_template(env)
        user = dovecot.password_user
        append_s = append_all(dovecot.host, dovecot.imap_port, user, dovecot.password, corpus.raws)
        print(f"  APPENDed in {append_s:.1f} s", flush=True)
        n = len(corpus.raws)

        mbsync_runs: list[float] = []
        record_runs: list[float] = []
        kept: dict[str, Any] = {}
        for i in range(args.repeat):  # interleaved, so that drift hits both
            mbsync_runs.append(mbsync_pull(dovecot.host, dovecot.imap_port, user, dovecot.password, work))
            seconds, where = record_phase(env, n, keep=i == args.repeat - 1)
            record_runs.append(seconds)
            if i == args.repeat - 1:
                kept = where
            print(f"  run {i + 1}: mbsync {mbsync_runs[-1]:.2f} s, record {record_runs[-1]:.2f} s", flush=True)
        mbsync_s, record_s = _median(mbsync_runs), _median(record_runs)
        mbsync_nofsync_s = mbsync_pull(dovecot.host, dovecot.imap_port, user, dovecot.password, work, fsync=False)

        print("bare load loop ...", flush=True)
        bare_s = bare_load(corpus.attachments)
        print(f"  {bare_s:.1f} s", flush=True)

        print("workers (1, then 2 processes) ...", flush=True)
        one_s, one = workers_phase(env, kept, 1, n)
        print(f"  1 process: {one_s:.1f} s", flush=True)
        two_s, two = workers_phase(env, kept, 2, n)
        print(f"  2 processes: {two_s:.1f} s {two['per_worker']}", flush=True)
        env.drop(kept["database"])

        print("whole cycle ...", flush=True)
        cycle_s, cycle_outcome = whole_cycle(env, n)
        print(f"  {cycle_s:.1f} s", flush=True)

        print(f"idle poll of {args.idle_messages} messages ...", flush=True)
        idle = idle_poll(env, args.idle_messages, tag)
    finally:
        if dovecot is not None:
            dovecot.stop()
            shutil.rmtree(dovecot.directory, ignore_errors=True)
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)

    record_ratio = record_s / mbsync_s
    cycle_ratio = cycle_s / (mbsync_s + bare_s)
    checks = {
        "record <= 1.5x mbsync": record_ratio <= TARGET_RECORD,
        "cycle <= 2x (mbsync + bare load)": cycle_ratio <= TARGET_CYCLE,
        "idle poll <= 3 commands": idle["commands_after_login"] <= TARGET_IDLE_COMMANDS,
        "idle poll < 100 ms": idle["ms_after_login_median"] < TARGET_IDLE_MS,
        "no document filed twice": not any(
            o["documents_filed_twice"] or o["case_versions_twice"] for o in (one, two, cycle_outcome)
        ),
    }
    results = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_before": load_before, "load_after": os.getloadavg()},
        "corpus": {
            "messages": n,
            "mean_kb": round(corpus.mean_kb, 1),
            "attachments": len(corpus.attachments),
            "append_s": round(append_s, 2),
        },
        "record": {
            "mbsync_fsync_s": [round(x, 3) for x in mbsync_runs],
            "mbsync_no_fsync_s": round(mbsync_nofsync_s, 3),
            "intake_s": [round(x, 3) for x in record_runs],
            "ratio": round(record_ratio, 2),
            "target": TARGET_RECORD,
        },
        "cycle": {
            "intake_s": round(cycle_s, 2),
            "mbsync_s": round(mbsync_s, 2),
            "bare_load_s": round(bare_s, 2),
            "ratio": round(cycle_ratio, 2),
            "target": TARGET_CYCLE,
            "outcome": cycle_outcome,
        },
        "idle": idle,
        "workers": {
            "one_s": round(one_s, 2),
            "two_s": round(two_s, 2),
            "speedup": round(one_s / two_s, 2),
            "one": one,
            "two": two,
        },
        "checks": checks,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "mailbox.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")

    print()
    print(f"machine: {os.cpu_count()} cores, load {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after (noisy)")
    print(
        f"download + record: {record_s:.2f} s vs mbsync (FSync yes) {mbsync_s:.2f} s -> {record_ratio:.2f}x "
        f"(target <= {TARGET_RECORD}x; mbsync without fsync {mbsync_nofsync_s:.2f} s)"
    )
    print(
        f"whole cycle: {cycle_s:.1f} s vs mbsync + bare load {mbsync_s:.1f} + {bare_s:.1f} s -> {cycle_ratio:.2f}x "
        f"(target <= {TARGET_CYCLE}x)"
    )
    print(
        f"idle poll of {idle['folder_messages']} messages: {idle['commands_after_login']} commands after login, "
        f"{idle['ms_after_login_median']:.1f} ms (kept connection {idle['ms_kept_connection_median']:.1f} ms) "
        f"(targets <= {TARGET_IDLE_COMMANDS}, < {TARGET_IDLE_MS:g} ms)"
    )
    print(
        f"reading workers: 1 process {one_s:.1f} s, 2 processes {two_s:.1f} s -> speed-up {one_s / two_s:.2f}x "
        f"(per worker {two['per_worker']}; documents filed twice: {two['documents_filed_twice']})"
    )
    missed = [name for name, ok in checks.items() if not ok]
    print("all targets met" if not missed else "missed: " + "; ".join(missed))
    return 1 if missed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--idle-messages", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
