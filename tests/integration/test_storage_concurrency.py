"""Several workers on one database: claims, case references, the one-poller-per-mailbox lock."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.mail import MessageKey
from storage.locks import lock_path, mailbox_lock
from storage.uow import UnitOfWork

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
STALE = dt.timedelta(minutes=10)


def add_messages(engine, count: int) -> None:
    with UnitOfWork(engine) as uow:
        for uid in range(1, count + 1):
            uow.messages.add(
                MessageKey(mailbox="default", folder="INBOX", uidvalidity=1, uid=uid),
                message_id=None,
                sha256=f"{uid:064x}",
                blob=f"{uid:064x}",
                sender=None,
                subject=None,
                received_at=None,
            )
        uow.commit()


# SQLite has one writer at a time: no two claims are open together
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_open_transactions_on_postgresql_never_claim_the_same_row(engine):
    add_messages(engine, 6)
    with UnitOfWork(engine) as first, UnitOfWork(engine) as second:
        taken_first = first.messages.claim_pending(4, "worker-a", STALE, now=NOW)
        taken_second = second.messages.claim_pending(4, "worker-b", STALE, now=NOW)
        first.commit()
        second.commit()
    assert [1, 2, 3, 4] == [m.uid for m in taken_first]
    assert [5, 6] == [m.uid for m in taken_second]


def test_workers_claiming_at_once_share_the_messages_without_overlap(engine):
    add_messages(engine, 40)
    claims: dict[str, list[int]] = {}

    def work(worker: str) -> None:
        mine: list[int] = []
        while True:
            with UnitOfWork(engine) as uow:
                taken = uow.messages.claim_pending(3, worker, STALE, now=NOW)
                for message in taken:
                    message.state = "filed"
                uow.commit()
            if not taken:
                break
            mine.extend(m.uid for m in taken)
        claims[worker] = mine

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(work, ["a", "b", "c"]))
    every = [uid for uids in claims.values() for uid in uids]
    assert sorted(every) == list(range(1, 41))


def test_workers_opening_cases_at_once_get_distinct_consecutive_references(engine):
    barrier = threading.Barrier(2)

    def open_cases(_: int) -> list[str]:
        barrier.wait()
        references = []
        for _ in range(8):
            with UnitOfWork(engine) as uow:
                case = uow.cases.create("rapid_review", None, None, None, NOW)
                uow.commit()
                references.append(case.reference)
        return references

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(open_cases, range(2)))
    every = sorted(results[0] + results[1])
    assert [f"SSCP-2026-{n:03d}" for n in range(1, 17)] == every


def test_a_second_holder_of_a_mailbox_lock_is_refused(engine, tmp_path):
    with (
        mailbox_lock(engine, "default", tmp_path) as first,
        mailbox_lock(engine, "default", tmp_path) as second,
        mailbox_lock(engine, "secondary", tmp_path) as other,
    ):
        assert (True, False, True) == (first, second, other)
    with mailbox_lock(engine, "default", tmp_path) as again:
        assert again


def test_a_mailbox_lock_is_refused_to_another_thread_while_held(engine, tmp_path):
    held = threading.Event()
    done = threading.Event()
    result: list[bool] = []

    def other_worker() -> None:
        held.wait(5)
        with mailbox_lock(engine, "default", tmp_path) as got:
            result.append(got)
        done.set()

    thread = threading.Thread(target=other_worker)
    thread.start()
    with mailbox_lock(engine, "default", tmp_path) as mine:
        held.set()
        done.wait(5)
    thread.join(5)
    assert (True, [False]) == (mine, result)


def test_the_lock_file_name_never_escapes_the_lock_directory(tmp_path):
    assert tmp_path / "default.lock" == lock_path(tmp_path, "default")
    odd = lock_path(tmp_path, "../../etc/passwd")
    assert tmp_path == odd.parent
    assert odd != lock_path(tmp_path, "..-..-etc-passwd")
