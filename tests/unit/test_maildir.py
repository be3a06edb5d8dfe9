"""The embedded Maildir inbox: UIDs in arrival order that survive restarts and never come back,
reading without changing anything, moving into Maildir++ subfolders. The in-memory
FakeMailbox keeps the same contract (the last tests run on both)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from core.mail import FolderState
from intake.errors import MailboxUnavailable
from intake.mailboxes import FakeMailbox, MaildirMailbox
from intake.mailboxes.maildir import STATE_FILE


def a_message(n: int) -> bytes:
    return f"From: referrer@police.example.org\r\nSubject: Return {n}\r\n\r\nForm {n} attached.\r\n".encode()


def drop(directory: Path, name: str, raw: bytes, mtime: int, sub: str = "new") -> Path:
    """A message put there by a mail delivery agent, with a chosen arrival time."""
    (directory / sub).mkdir(parents=True, exist_ok=True)
    path = directory / sub / name
    path.write_bytes(raw)
    os.utime(path, (mtime, mtime))
    return path


def test_uids_follow_arrival_order_not_names(tmp_path):
    drop(tmp_path, "zzz.host", a_message(1), mtime=1_700_000_000)
    drop(tmp_path, "aaa.host", a_message(2), mtime=1_700_000_100)
    box = MaildirMailbox(tmp_path)

    assert [a_message(1), a_message(2)] == [m.raw for m in box.fetch(box.uids())]
    assert [1, 2] == box.uids()


def test_uids_and_uidvalidity_are_kept_by_a_new_instance(tmp_path):
    first = MaildirMailbox(tmp_path)
    uids = [first.add(a_message(n)) for n in range(3)]
    state = first.state()

    again = MaildirMailbox(tmp_path)

    assert uids == again.uids()
    assert state == again.state()


def test_a_message_moved_from_new_to_cur_by_a_mail_program_keeps_its_uid(tmp_path):
    path = drop(tmp_path, "1700000000.M1.host", a_message(1), mtime=1_700_000_000)
    box = MaildirMailbox(tmp_path)
    uid = box.uids()[0]

    (tmp_path / "cur").mkdir(exist_ok=True)
    path.rename(tmp_path / "cur" / f"{path.name}:2,S")

    assert [uid] == MaildirMailbox(tmp_path).uids()
    assert [a_message(1)] == [m.raw for m in box.fetch([uid])]


def test_a_uid_is_never_reused_after_a_move(tmp_path):
    box = MaildirMailbox(tmp_path)
    first = box.add(a_message(1))
    box.move([first], "processed")

    second = MaildirMailbox(tmp_path).add(a_message(2))

    assert second > first
    assert [second] == box.uids()


def test_state_is_unchanged_until_mail_arrives(tmp_path):
    box = MaildirMailbox(tmp_path)
    box.add(a_message(1))
    before = box.state()

    unchanged = box.state()
    box.add(a_message(2))
    after = box.state()

    assert before == unchanged
    assert FolderState(uidvalidity=before.uidvalidity, uidnext=3, exists=2) == after


def test_fetch_returns_the_files_bytes_with_their_keys_and_changes_nothing(tmp_path):
    box = MaildirMailbox(tmp_path, name="inbox-a")
    uid = box.add(a_message(7))
    files_before = sorted(p.name for p in (tmp_path / "new").iterdir())

    [message] = box.fetch([uid, uid + 10])

    assert a_message(7) == message.raw
    assert ("inbox-a", "INBOX", box.state().uidvalidity, uid) == (
        message.key.mailbox,
        message.key.folder,
        message.key.uidvalidity,
        message.key.uid,
    )
    assert message.internal_date is not None and message.internal_date.tzinfo is not None
    assert files_before == sorted(p.name for p in (tmp_path / "new").iterdir())


def test_move_renames_into_a_maildir_plus_plus_subfolder(tmp_path):
    box = MaildirMailbox(tmp_path)
    kept, moved, queued = (box.add(a_message(n)) for n in range(3))

    box.move([moved], "processed")
    box.move([queued], "exceptions")

    assert [kept] == box.uids()
    assert (tmp_path / ".Processed" / "maildirfolder").is_file()
    assert [a_message(1)] == [p.read_bytes() for p in box.folder_files("processed")]
    assert [a_message(2)] == [p.read_bytes() for p in box.folder_files("exceptions")]


def test_configured_folder_names_are_used(tmp_path):
    box = MaildirMailbox(tmp_path, processed_folder="Done")
    box.move([box.add(a_message(1))], "processed")

    assert (tmp_path / ".Done" / "new").is_dir()


def test_the_state_file_is_written_whole(tmp_path):
    box = MaildirMailbox(tmp_path)
    box.add(a_message(1))

    data = json.loads((tmp_path / STATE_FILE).read_text())

    assert 2 == data["uidnext"]
    assert [] == [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_damaged_state_file_is_reported_not_rebuilt(tmp_path):
    box = MaildirMailbox(tmp_path)
    box.add(a_message(1))
    (tmp_path / STATE_FILE).write_text("{not json")

    with pytest.raises(MailboxUnavailable, match="damaged"):
        box.state()


# ---- one contract, two adapters ----------------------------------------------------------


@pytest.fixture(params=["maildir", "fake"])
def mailbox(request, tmp_path) -> MaildirMailbox | FakeMailbox:
    return MaildirMailbox(tmp_path / "mail") if request.param == "maildir" else FakeMailbox()


def test_every_mailbox_reads_moves_and_counts_alike(mailbox):
    uids = [mailbox.add(a_message(n)) for n in range(4)]
    state = mailbox.state()

    fetched = list(mailbox.fetch(uids))
    mailbox.move(uids[:2], "processed")
    mailbox.move([], "exceptions")

    assert (4, uids[-1] + 1) == (state.exists, state.uidnext)
    assert [a_message(n) for n in range(4)] == [m.raw for m in fetched]
    assert uids == [m.key.uid for m in fetched]
    assert uids[2:] == mailbox.uids()
    assert 2 == mailbox.state().exists


def test_the_fake_records_moves_and_commands_and_fails_on_demand():
    box = FakeMailbox(batch_size=2)
    uids = [box.add(a_message(n)) for n in range(3)]
    box.fail("fetch", MailboxUnavailable("connection lost"))

    box.state()
    with pytest.raises(MailboxUnavailable):
        list(box.fetch(uids))
    list(box.fetch(uids))
    box.move([uids[0]], "exceptions")

    assert [((uids[0],), "exceptions")] == box.moves
    assert ["SELECT", "UID FETCH 1,2", "UID FETCH 3", "UID MOVE 1 Exceptions"] == box.commands
    assert {"Exceptions": [a_message(0)]} == box.folders


def test_the_fake_renumbers_on_a_uidvalidity_change():
    box = FakeMailbox()
    box.add(a_message(1))
    box.add(a_message(2))
    box.expunge(1)

    mapping = box.renumber(uidvalidity=2)

    assert {2: 1} == mapping
    assert FolderState(uidvalidity=2, uidnext=2, exists=1) == box.state()
