"""The embedded default inbox: a Maildir (var/mail under the data directory), no server needed.

Messages are files in ``new/`` and ``cur/`` (delivered through ``tmp/``). IMAP's UIDs are
imitated: each message gets an integer UID, in arrival order, the first time it is seen, and
keeps it (also when a mail program moves it from new/ to cur/); a UID is never reused. The
mapping lives in a small state file, ``.intake-uids.json``, written atomically (temporary file,
fsync, rename) under an flock, with a UIDVALIDITY fixed when the file is created.

``move`` renames a message into the Maildir++ subfolder ``.Processed`` or ``.Exceptions``
(created, with its ``maildirfolder`` marker, when missing). Reading never changes a message.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import itertools
import json
import os
import socket
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from core.mail import FetchedMessage, FolderState, MessageKey
from core.ports import Destination
from intake.errors import MailboxUnavailable
from storage.files import fsync_dir

STATE_FILE = ".intake-uids.json"
LOCK_FILE = ".intake-uids.lock"
SUBDIRS = ("new", "cur", "tmp")


def _unique(filename: str) -> str:
    """A Maildir file's unique part: the name without its ':2,FLAGS' info."""
    return filename.split(":", 1)[0]


class MaildirMailbox:
    """A Maildir as a core.ports.Mailbox."""

    def __init__(
        self,
        directory: Path,
        name: str = "default",
        folder: str = "INBOX",
        *,
        processed_folder: str = "Processed",
        exceptions_folder: str = "Exceptions",
    ) -> None:
        self.directory = Path(directory)
        self.name = name
        self.folder = folder
        self._folders = {"processed": processed_folder, "exceptions": exceptions_folder}
        self.commands = 0

    def __repr__(self) -> str:
        return f"MaildirMailbox({self.name!r}, folder={self.folder!r})"

    # ---- the port ------------------------------------------------------------------------

    def state(self) -> FolderState:
        self.commands += 1
        uidvalidity, uidnext, present = self._scan()
        return FolderState(uidvalidity=uidvalidity, uidnext=uidnext, exists=len(present))

    def uids(self) -> list[int]:
        self.commands += 1
        return sorted(self._scan()[2])

    def fetch(self, uids: Sequence[int]) -> Iterator[FetchedMessage]:
        self.commands += 1
        uidvalidity, _, present = self._scan()
        for uid in sorted(set(uids)):
            path = present.get(uid)
            if path is None:
                continue
            try:
                raw = path.read_bytes()
                mtime = path.stat().st_mtime
            except FileNotFoundError:
                continue  # moved away meanwhile
            except OSError as exc:
                raise MailboxUnavailable(f"maildir {self.name}: read message {uid}: {exc.strerror}") from exc
            yield FetchedMessage(
                key=MessageKey(mailbox=self.name, folder=self.folder, uidvalidity=uidvalidity, uid=uid),
                raw=raw,
                internal_date=dt.datetime.fromtimestamp(mtime, tz=dt.UTC),
            )

    def move(self, uids: Sequence[int], destination: Destination) -> None:
        if not uids:
            return
        self.commands += 1
        target = self._subfolder(self._folders[destination])
        _, _, present = self._scan()
        for uid in sorted(set(uids)):
            path = present.get(uid)
            if path is None:
                continue
            try:
                path.rename(target / path.parent.name / path.name)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise MailboxUnavailable(f"maildir {self.name}: move message {uid}: {exc.strerror}") from exc
        _fsync_dir(target / "cur")
        _fsync_dir(target / "new")

    def close(self) -> None:
        """Nothing is held open."""

    # ---- beyond the port -----------------------------------------------------------------

    def add(self, raw: bytes) -> int:
        """Deliver a message the Maildir way (tmp/, then new/) and return its UID."""
        self._ensure()
        name = f"{time.time_ns()}.P{os.getpid()}Q{_counter()}.{socket.gethostname().replace('/', '_')}"
        tmp = self.directory / "tmp" / name
        with tmp.open("wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.rename(self.directory / "new" / name)
        _fsync_dir(self.directory / "new")
        for uid, path in self._scan()[2].items():
            if _unique(path.name) == name:
                return uid
        raise MailboxUnavailable(f"maildir {self.name}: a delivered message vanished")

    def folder_files(self, destination: Destination) -> list[Path]:
        """The files in the Processed or Exceptions subfolder."""
        base = self.directory / f".{self._folders[destination]}"
        return sorted(p for sub in ("new", "cur") if (base / sub).is_dir() for p in (base / sub).iterdir())

    # ---- the UID map ---------------------------------------------------------------------

    def _ensure(self) -> None:
        for sub in SUBDIRS:
            (self.directory / sub).mkdir(parents=True, exist_ok=True)

    def _subfolder(self, folder: str) -> Path:
        base = self.directory / f".{folder}"
        for sub in SUBDIRS:
            (base / sub).mkdir(parents=True, exist_ok=True)
        (base / "maildirfolder").touch(exist_ok=True)
        return base

    def _scan(self) -> tuple[int, int, dict[int, Path]]:
        """(uidvalidity, uidnext, uid -> path), assigning UIDs to newly arrived messages."""
        try:
            self._ensure()
            with _locked(self.directory / LOCK_FILE):
                return self._scan_locked()
        except OSError as exc:
            raise MailboxUnavailable(f"maildir {self.name}: {exc.strerror or type(exc).__name__}") from exc

    def _scan_locked(self) -> tuple[int, int, dict[int, Path]]:
        state_path = self.directory / STATE_FILE
        known: dict[str, int]
        try:
            data = json.loads(state_path.read_text(encoding="utf-8"))
            uidvalidity, uidnext = int(data["uidvalidity"]), int(data["uidnext"])
            known = {str(k): int(v) for k, v in data["uids"].items()}
            dirty = False
        except FileNotFoundError:
            uidvalidity, uidnext, known, dirty = int(time.time()), 1, {}, True
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise MailboxUnavailable(f"maildir {self.name}: {STATE_FILE} is damaged") from exc

        files: dict[str, Path] = {}
        for sub in ("new", "cur"):
            with os.scandir(self.directory / sub) as entries:
                for entry in entries:
                    if entry.is_file() and not entry.name.startswith("."):
                        files[_unique(entry.name)] = Path(entry.path)
        arrivals = sorted((u for u in files if u not in known), key=lambda u: (_mtime_ns(files[u]), u))
        for unique in arrivals:
            known[unique] = uidnext
            uidnext += 1
            dirty = True
        gone = [u for u in known if u not in files]
        for unique in gone:
            del known[unique]
            dirty = True
        if dirty:
            _write_atomic(state_path, {"uidvalidity": uidvalidity, "uidnext": uidnext, "uids": known})
        return uidvalidity, uidnext, {uid: files[unique] for unique, uid in known.items()}


_SEQUENCE = itertools.count(1)


def _counter() -> int:
    return next(_SEQUENCE)


def _mtime_ns(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return 0


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _write_atomic(path: Path, data: object) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # a filesystem that cannot flush a directory (the file itself was)
        fsync_dir(directory)
