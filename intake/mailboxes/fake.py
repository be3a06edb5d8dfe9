"""An in-memory mailbox for unit tests: the core.ports.Mailbox API, a record of every command
and every move, and ways to make it misbehave (a failure on the next call of a step, a
UIDVALIDITY change).

    box = FakeMailbox()
    uid = box.add(b"From: a@example.org\\r\\n\\r\\nhello")
    box.fail("fetch", MailboxUnavailable("connection lost"))   # the next fetch raises it
    ...
    assert [((uid,), "processed")] == box.moves
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from core.mail import FetchedMessage, FolderState, MessageKey
from core.ports import Destination


@dataclass
class _Stored:
    raw: bytes
    internal_date: dt.datetime


class FakeMailbox:
    def __init__(
        self,
        name: str = "default",
        folder: str = "INBOX",
        *,
        uidvalidity: int = 1,
        batch_size: int = 50,
        processed_folder: str = "Processed",
        exceptions_folder: str = "Exceptions",
    ) -> None:
        self.name = name
        self.folder = folder
        self.uidvalidity = uidvalidity
        self.batch_size = batch_size
        self.uidnext = 1
        self.messages: dict[int, _Stored] = {}
        #: the other folders' contents, in arrival order ("Processed", "Exceptions")
        self.folders: dict[str, list[bytes]] = {}
        self._names: dict[Destination, str] = {"processed": processed_folder, "exceptions": exceptions_folder}
        #: every command as an IMAP server would have seen it: "SELECT", "UID SEARCH", "UID FETCH 1:3" ...
        self.commands: list[str] = []
        #: every move: (uids, destination)
        self.moves: list[tuple[tuple[int, ...], Destination]] = []
        self.closed = False
        self._failures: dict[str, list[BaseException]] = {}

    # ---- test controls -------------------------------------------------------------------

    def add(self, raw: bytes, internal_date: dt.datetime | None = None) -> int:
        uid = self.uidnext
        self.uidnext += 1
        self.messages[uid] = _Stored(raw, internal_date or dt.datetime.now(dt.UTC))
        return uid

    def fail(self, step: str, error: BaseException, times: int = 1) -> None:
        """Make the next ``times`` calls of ``step`` ("state", "uids", "fetch", "move",
        "close") raise ``error``."""
        self._failures.setdefault(step, []).extend([error] * times)

    def renumber(self, uidvalidity: int) -> dict[int, int]:
        """Simulate a UIDVALIDITY change: every message gets a new UID. Returns old -> new."""
        self.uidvalidity = uidvalidity
        mapping: dict[int, int] = {}
        renumbered: dict[int, _Stored] = {}
        for new, old in enumerate(sorted(self.messages), start=1):
            mapping[old] = new
            renumbered[new] = self.messages[old]
        self.messages = renumbered
        self.uidnext = len(renumbered) + 1
        return mapping

    def expunge(self, uid: int) -> None:
        """Another client removed a message."""
        self.messages.pop(uid, None)

    # ---- the port ------------------------------------------------------------------------

    def state(self) -> FolderState:
        self._step("state", "SELECT")
        return FolderState(uidvalidity=self.uidvalidity, uidnext=self.uidnext, exists=len(self.messages))

    def uids(self) -> list[int]:
        self._step("uids", "UID SEARCH ALL")
        return sorted(self.messages)

    def fetch(self, uids: Sequence[int]) -> Iterator[FetchedMessage]:
        wanted = sorted(set(uids))
        for start in range(0, len(wanted), max(1, self.batch_size)):
            batch = wanted[start : start + self.batch_size]
            self._step("fetch", "UID FETCH " + ",".join(map(str, batch)))
            for uid in batch:
                stored = self.messages.get(uid)
                if stored is None:
                    continue
                key = MessageKey(mailbox=self.name, folder=self.folder, uidvalidity=self.uidvalidity, uid=uid)
                yield FetchedMessage(key=key, raw=stored.raw, internal_date=stored.internal_date)

    def move(self, uids: Sequence[int], destination: Destination) -> None:
        if not uids:
            return
        target = self._names[destination]
        self._step("move", f"UID MOVE {','.join(map(str, sorted(set(uids))))} {target}")
        self.moves.append((tuple(uids), destination))
        for uid in sorted(set(uids)):
            stored = self.messages.pop(uid, None)
            if stored is not None:
                self.folders.setdefault(target, []).append(stored.raw)

    def close(self) -> None:
        self._step("close", "LOGOUT")
        self.closed = True

    # ---- helpers -------------------------------------------------------------------------

    def _step(self, step: str, command: str) -> None:
        pending = self._failures.get(step)
        if pending:
            raise pending.pop(0)
        self.commands.append(command)
        self.closed = False
