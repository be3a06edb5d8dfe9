"""The encrypted, content-addressed blob store and its key."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import stat

import pytest

from core.errors import ConfigError
from storage.blobs import EncryptedBlobStore, ensure_key_file, generate_key_file, load_key
from storage.errors import BlobCorrupt, BlobMissing

KEY = bytes(range(32))
ORIGINAL = b"From: officer@police.example.org\r\nSubject: Agency summary\r\n\r\nChild: Ada Example\r\n"


@pytest.fixture
def store(tmp_path):
    return EncryptedBlobStore(tmp_path / "blobs", KEY)


def test_a_blob_comes_back_byte_for_byte_under_its_sha256(store):
    digest = store.put(ORIGINAL)
    assert hashlib.sha256(ORIGINAL).hexdigest() == digest
    assert ORIGINAL == store.get(digest)
    assert store.exists(digest)


def test_a_blob_is_kept_encrypted_in_the_folder_of_its_first_hex_digit(store):
    digest = store.put(ORIGINAL)
    path = store.directory / digest[:1] / digest
    assert path.is_file()
    assert b"Ada Example" not in path.read_bytes()
    assert b"police" not in path.read_bytes()


def test_an_empty_blob_round_trips(store):
    assert b"" == store.get(store.put(b""))


def test_putting_the_same_bytes_twice_keeps_one_file(store):
    first = store.put(ORIGINAL)
    path = store.path(first)
    written = path.read_bytes()
    assert first == store.put(ORIGINAL)
    assert written == path.read_bytes()
    assert [path.name] == [p.name for p in store.directory.rglob("*") if p.is_file()]


def test_a_missing_blob_is_reported(store):
    with pytest.raises(BlobMissing):
        store.get("0" * 64)
    assert not store.exists("0" * 64)


def test_a_malformed_digest_is_refused_rather_than_used_as_a_path(store):
    with pytest.raises(ValueError, match="digest"):
        store.get("../../etc/passwd")


def test_a_changed_byte_is_detected(store):
    digest = store.put(ORIGINAL)
    path = store.path(digest)
    sealed = bytearray(path.read_bytes())
    sealed[-5] ^= 0x01
    path.write_bytes(bytes(sealed))
    with pytest.raises(BlobCorrupt):
        store.get(digest)


def test_a_blob_copied_under_another_name_is_detected(store):
    one, other = store.put(b"one"), store.put(b"other")
    store.path(other).write_bytes(store.path(one).read_bytes())
    with pytest.raises(BlobCorrupt):
        store.get(other)


def test_a_truncated_blob_is_detected(store):
    digest = store.put(ORIGINAL)
    store.path(digest).write_bytes(store.path(digest).read_bytes()[:12])
    with pytest.raises(BlobCorrupt):
        store.get(digest)


def test_the_wrong_key_cannot_read_a_blob(store, tmp_path):
    digest = store.put(ORIGINAL)
    wrong = EncryptedBlobStore(tmp_path / "blobs", bytes(32))
    with pytest.raises(BlobCorrupt, match="wrong key"):
        wrong.get(digest)


def test_errors_name_the_digest_and_never_the_contents(store):
    digest = store.put(ORIGINAL)
    with pytest.raises(BlobCorrupt) as caught:
        EncryptedBlobStore(store.directory, bytes(32)).get(digest)
    assert digest in str(caught.value)
    assert "Ada" not in str(caught.value)


def test_a_key_must_be_32_bytes(tmp_path):
    with pytest.raises(ValueError, match="32 bytes"):
        EncryptedBlobStore(tmp_path, b"short")


def test_a_write_that_fails_leaves_no_blob_and_no_partial_file(store, monkeypatch):
    def failing_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        store.put(ORIGINAL)
    monkeypatch.undo()
    digest = hashlib.sha256(ORIGINAL).hexdigest()
    assert not store.exists(digest)
    assert [] == [p for p in store.directory.rglob("*") if p.is_file()]
    assert ORIGINAL == store.get(store.put(ORIGINAL))


def test_a_blob_appears_under_its_name_only_when_complete(store, monkeypatch):
    from pathlib import Path

    seen: list[tuple[bool, int]] = []
    real_replace = Path.replace

    def watching_replace(self, target):
        # at the moment of the rename the final name does not exist yet and the temp file is whole
        seen.append((Path(target).exists(), self.stat().st_size))
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", watching_replace)
    digest = store.put(ORIGINAL)
    assert [(False, store.path(digest).stat().st_size)] == seen


def test_a_deleted_blob_is_gone_and_deleting_again_is_harmless(store):
    digest = store.put(ORIGINAL)
    store.delete(digest)
    store.delete(digest)
    assert not store.exists(digest)


# keys


def test_a_key_is_read_from_the_environment_in_either_base64_alphabet():
    key = bytes([251, 255] * 16)
    assert key == load_key(base64.b64encode(key).decode(), None)
    assert key == load_key(base64.urlsafe_b64encode(key).decode().rstrip("="), None)


def test_the_environment_wins_over_the_key_file(tmp_path):
    key_file = tmp_path / "storage.key"
    key_file.write_text(base64.b64encode(bytes(32)).decode())
    assert KEY == load_key(base64.b64encode(KEY).decode(), key_file)
    assert bytes(32) == load_key("", key_file)


def test_no_key_anywhere_is_none():
    assert load_key(None, None) is None


def test_a_malformed_key_names_its_source_and_never_the_key(tmp_path):
    secret = "not-base64!!-" + "s3cr3t"
    with pytest.raises(ConfigError, match="INTAKE_STORAGE_KEY") as caught:
        load_key(secret, None)
    assert "s3cr3t" not in str(caught.value)
    with pytest.raises(ConfigError, match="32"):
        load_key(base64.b64encode(bytes(16)).decode(), None)
    key_file = tmp_path / "storage.key"
    key_file.write_text(base64.b64encode(bytes(31)).decode())
    with pytest.raises(ConfigError, match=r"storage\.key_file"):
        load_key(None, key_file)


def test_a_missing_key_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_key(None, tmp_path / "absent.key")


def test_a_generated_key_file_is_private_and_loads(tmp_path):
    path = tmp_path / "data" / "storage.key"
    key = generate_key_file(path)
    assert 0o600 == stat.S_IMODE(path.stat().st_mode)
    assert key == load_key(None, path)
    assert 32 == len(key)


def test_a_key_file_is_never_overwritten(tmp_path):
    path = tmp_path / "storage.key"
    key = generate_key_file(path)
    with pytest.raises(FileExistsError):
        generate_key_file(path)
    assert key == ensure_key_file(path)
    assert [path] == list(tmp_path.iterdir())


def test_a_batch_stored_with_its_digests_given_comes_back_under_them(store):
    items = [ORIGINAL, b"second", b""]
    digests = [hashlib.sha256(item).hexdigest() for item in items]

    assert digests == store.put_many(items, digests)
    assert items == [store.get(d) for d in digests]


def test_a_batch_with_a_digest_missing_is_refused(store):
    with pytest.raises(ValueError, match="one digest per item"):
        store.put_many([ORIGINAL, b"second"], [hashlib.sha256(ORIGINAL).hexdigest()])


def test_a_blob_is_stored_again_when_its_folder_was_removed_meanwhile(store):
    digest = store.put(ORIGINAL)
    shutil.rmtree(store.path(digest).parent)

    assert digest == store.put(ORIGINAL)
    assert ORIGINAL == store.get(digest)


def test_a_blob_of_the_earlier_layout_is_read_found_deleted_and_not_stored_twice(tmp_path):
    digest = EncryptedBlobStore(tmp_path / "blobs", KEY).put(ORIGINAL)
    legacy = tmp_path / "blobs" / digest[:2] / digest
    legacy.parent.mkdir()
    (tmp_path / "blobs" / digest[:1] / digest).rename(legacy)  # as a store of 256 folders kept it
    store = EncryptedBlobStore(tmp_path / "blobs", KEY)

    assert ORIGINAL == store.get(digest)
    assert store.exists(digest)
    assert digest == store.put(ORIGINAL)
    assert not store.path(digest).exists()
    store.delete(digest)
    assert not store.exists(digest)
    assert not legacy.exists()
