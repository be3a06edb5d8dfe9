"""Storage's errors. Messages name digests, ids and settings, never personal data.

core.errors.IntakeError
└── StorageError             anything storage raises on purpose
    ├── BlobMissing          no blob with that digest
    ├── BlobCorrupt          a blob that cannot be decrypted or whose contents changed
    ├── AlreadyRecorded      the ledger already holds a message at that key
    └── ReferenceTaken       a case reference that is already in use
"""

from __future__ import annotations

from core.errors import IntakeError


class StorageError(IntakeError):
    """Base of storage's errors."""


class BlobMissing(StorageError):
    """No blob is stored under the digest."""


class BlobCorrupt(StorageError):
    """A blob failed authentication (altered, or the wrong key) or its digest check."""


class AlreadyRecorded(StorageError):
    """A message with the same (mailbox, folder, UIDVALIDITY, UID) is already in the ledger."""


class ReferenceTaken(StorageError):
    """A case with the requested reference already exists."""
