"""Originals at rest: a content-addressed store encrypted with AES-256-GCM.

A blob is named by the SHA-256 (hex) of its plaintext and kept at ``dir/a/<digest>`` (its
first hex digit names one of 16 folders; stores written before kept ``dir/ab/<digest>``, which
is still read). The file holds a format tag, a random 12-byte nonce and the ciphertext with
its tag; the digest is the associated data, so a file copied under another name fails to
decrypt. A write goes to a temporary file in the same directory, is fsynced, renamed into
place (os.replace) and the directory fsynced: a reader sees the whole blob or none. ``get``
checks the digest again.

``put_many`` stores a batch with the same guarantees, all durable when it returns: every file
is written, the files are fsynced together (in threads, so the filesystem's journal commits
them in a few flushes rather than one each), renamed, and each directory touched is fsynced
once for the batch.

The key is 32 bytes, from INTAKE_STORAGE_KEY (base64) or a key file (``load_key``); the
embedded default creates ``data_dir/storage.key`` once (``generate_key_file``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import ConfigError
from storage.errors import BlobCorrupt, BlobMissing
from storage.files import fsync_dir

KEY_BYTES = 32
NONCE_BYTES = 12
FORMAT = b"SSCPBLOB1\n"
KEY_ENV = "INTAKE_STORAGE_KEY"
_DIGEST = re.compile(r"[0-9a-f]{64}")
_LEGACY_FOLDER = re.compile(r"[0-9a-f]{2}")


def _make_dirs(directory: Path, root: Path) -> set[Path]:
    """Create ``directory`` (under ``root``); returns the parents whose entries changed (to fsync).
    One system call when it exists already (the common case once a store has filled)."""
    if directory == root:
        return set()
    try:
        directory.mkdir(mode=0o700)
    except FileExistsError:
        return set()
    except FileNotFoundError:
        changed = _make_dirs(directory.parent, root)
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            return changed
        return changed | {directory.parent}
    return {directory.parent}


_T = TypeVar("_T")
#: threads that wait on fsync together (the journal commits concurrent fsyncs in one flush)
SYNC_THREADS = 16


def _each(action: Callable[[_T], object], items: Iterable[_T]) -> None:
    """``action`` on every item, in threads when there are several; the first error is raised."""
    todo = list(items)
    if len(todo) <= 1:
        for item in todo:
            action(item)
        return
    with ThreadPoolExecutor(max_workers=min(SYNC_THREADS, len(todo))) as pool:
        for _ in pool.map(action, todo):
            pass


class EncryptedBlobStore:
    """Implements core.ports.BlobStore."""

    def __init__(self, directory: Path, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"the storage key must be {KEY_BYTES} bytes")
        self.directory = Path(directory)
        self._aead = AESGCM(key)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        #: folders known to exist (a blob's folder is made once, not tried for every blob)
        self._folders: set[Path] = set()
        #: whether blobs of the earlier layout (256 folders, ``dir/ab/<digest>``) are here
        self._legacy = any(
            entry.is_dir() and _LEGACY_FOLDER.fullmatch(entry.name) for entry in os.scandir(self.directory)
        )

    def path(self, digest: str) -> Path:
        """Where the blob is written: one level of 16 folders. A batch of new blobs then
        touches (and fsyncs) at most 16 folders (with 256, a batch of a hundred touched some
        eighty: as many directory flushes as file flushes), and a store of a million blobs
        holds some 60,000 a folder, which ext4's and XFS's hashed directories look up as fast."""
        if not _DIGEST.fullmatch(digest):
            raise ValueError("a blob digest is 64 lower-case hex digits")
        return self.directory / digest[:1] / digest

    def _found(self, digest: str) -> Path | None:
        """The blob's file, in the current layout or the earlier one; None when absent."""
        target = self.path(digest)
        if target.is_file():
            return target
        if self._legacy:
            legacy = self.directory / digest[:2] / digest
            if legacy.is_file():
                return legacy
        return None

    def put(self, data: bytes) -> str:
        return self.put_many([data])[0]

    def put_many(self, items: Sequence[bytes], digests: Sequence[str] | None = None) -> list[str]:
        """Store every item (durably, once this returns); their digests, in order. Each new
        blob is sealed, written and fsynced in a thread of its own (the journal commits
        concurrent fsyncs together), then renamed into place; the directories touched are
        fsynced once for the batch. ``digests``: the items' SHA-256 (hex), when the caller
        has worked them out already (they are not checked again here)."""
        if digests is None:
            digests = [hashlib.sha256(data).hexdigest() for data in items]
        elif len(digests) != len(items):
            raise ValueError("one digest per item")
        digests = list(digests)
        todo = dict(zip(digests, items, strict=True))
        written: list[tuple[Path, Path, set[Path]] | None] = [None] * len(todo)

        def write(job: tuple[int, tuple[str, bytes]]) -> None:
            n, (digest, data) = job
            target = self.path(digest)
            folder = target.parent
            made = set() if folder in self._folders else _make_dirs(folder, self.directory)
            if not made and self._found(digest) is not None:
                return
            random = os.urandom(NONCE_BYTES + 6)  # the nonce, and a unique name for the temporary file
            nonce = random[:NONCE_BYTES]
            sealed = FORMAT + nonce + self._aead.encrypt(nonce, data, digest.encode("ascii"))
            temp = folder / f".tmp-{digest[:8]}-{os.getpid()}-{random[NONCE_BYTES:].hex()}"
            try:
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            except FileNotFoundError:  # the folder went since it was known: make it again
                self._folders.discard(folder)
                made = _make_dirs(folder, self.directory)
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            self._folders.add(folder)
            try:
                written[n] = (temp, target, made)
                view = memoryview(sealed)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)

        changed: set[Path] = set()
        try:
            _each(write, list(enumerate(todo.items())))
            for entry in written:
                if entry is not None:
                    temp, target, made = entry
                    temp.replace(target)
                    changed |= made | {target.parent}
        except BaseException:
            for entry in written:
                if entry is not None:
                    entry[0].unlink(missing_ok=True)
            raise
        # deepest first: a new file's directory, then the directories made for it
        _each(fsync_dir, sorted(changed, key=lambda p: (-len(p.parts), p)))
        return digests

    def get(self, digest: str) -> bytes:
        try:
            sealed = self.path(digest).read_bytes()
        except FileNotFoundError as exc:
            legacy = self._found(digest) if self._legacy else None
            if legacy is None:
                raise BlobMissing(f"no blob {digest}") from exc
            sealed = legacy.read_bytes()
        if not sealed.startswith(FORMAT) or len(sealed) < len(FORMAT) + NONCE_BYTES + 16:
            raise BlobCorrupt(f"blob {digest} is not in the store's format")
        nonce = sealed[len(FORMAT) : len(FORMAT) + NONCE_BYTES]
        try:
            data = self._aead.decrypt(nonce, sealed[len(FORMAT) + NONCE_BYTES :], digest.encode("ascii"))
        except InvalidTag as exc:
            raise BlobCorrupt(f"blob {digest} cannot be decrypted: altered, or the wrong key") from exc
        if hashlib.sha256(data).hexdigest() != digest:
            raise BlobCorrupt(f"blob {digest} does not match its digest")
        return data

    def exists(self, digest: str) -> bool:
        return self._found(digest) is not None

    def delete(self, digest: str) -> None:
        while (target := self._found(digest)) is not None:  # in either layout
            try:
                target.unlink()
            except FileNotFoundError:
                continue
            fsync_dir(target.parent)


def decode_key(text: str, source: str) -> bytes:
    """The 32 bytes a base64 text (standard or URL-safe alphabet) holds; ConfigError names ``source``."""
    cleaned = "".join(text.split())
    padded = cleaned + "=" * (-len(cleaned) % 4)
    key: bytes | None = None
    for altchars in (None, b"-_"):
        try:
            key = base64.b64decode(padded.encode("ascii"), altchars=altchars, validate=True)
            break
        except (binascii.Error, ValueError, UnicodeEncodeError):
            continue
    if key is None or len(key) != KEY_BYTES:
        raise ConfigError(f"{source}: the storage key must be base64 of {KEY_BYTES} random bytes")
    return key


def load_key(env_value: str | None, key_file: Path | None) -> bytes | None:
    """The key from the environment's value, else from the key file; None when neither is given."""
    if env_value is not None and env_value.strip():
        return decode_key(env_value, KEY_ENV)
    if key_file is None:
        return None
    try:
        text = Path(key_file).read_text(encoding="ascii")
    except FileNotFoundError as exc:
        raise ConfigError(f"storage.key_file {key_file}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"storage.key_file {key_file}: cannot be read ({type(exc).__name__})") from exc
    return decode_key(text, f"storage.key_file {key_file}")


def generate_key_file(path: Path) -> bytes:
    """A new random key written to ``path`` (mode 0600, never over an existing file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = os.urandom(KEY_BYTES)
    fd, temp_name = tempfile.mkstemp(prefix=".tmp-key-", dir=path.parent)  # created 0600
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(base64.urlsafe_b64encode(key).decode("ascii") + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.link(temp, path)  # FileExistsError rather than replace a key that blobs depend on
    finally:
        temp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return key


def ensure_key_file(path: Path) -> bytes:
    """The embedded default: the key in ``path``, created on first use."""
    try:
        return generate_key_file(path)
    except FileExistsError:
        key = load_key(None, path)
        assert key is not None
        return key
