"""What the mail intake persists: the ledger, cases, documents, the queue, the outbox, the
audit log (storage.models, storage.uow), originals encrypted at rest (storage.blobs), engines
and migrations (storage.db), and the one-poller-per-mailbox lock (storage.locks)."""
