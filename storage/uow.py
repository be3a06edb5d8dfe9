"""The unit of work: one Session, every repository on it, one commit.

    with UnitOfWork(engine) as uow:
        row = uow.messages.add(...)
        uow.commit()

Leaving the block without commit rolls back. Rows stay readable after commit
(expire_on_commit is off), and the unit of work may carry on into a new transaction.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Engine
from sqlmodel import Session

from storage.accounts import AccountRepository, AuditSearch
from storage.repositories import (
    AuditLog,
    CaseRepository,
    DocumentRepository,
    ExceptionRepository,
    ExpectedReturnRepository,
    MailboxStateRepository,
    MessageRepository,
    OutboxRepository,
)


class UnitOfWork:
    messages: MessageRepository
    cases: CaseRepository
    returns: ExpectedReturnRepository
    documents: DocumentRepository
    queue: ExceptionRepository
    outbox: OutboxRepository
    audit: AuditLog
    mailboxes: MailboxStateRepository
    accounts: AccountRepository
    audit_search: AuditSearch

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("use the unit of work in a with block")
        return self._session

    def __enter__(self) -> UnitOfWork:
        session = Session(self.engine, expire_on_commit=False)
        self._session = session
        self.messages = MessageRepository(session)
        self.cases = CaseRepository(session)
        self.returns = ExpectedReturnRepository(session)
        self.documents = DocumentRepository(session)
        self.queue = ExceptionRepository(session)
        self.outbox = OutboxRepository(session)
        self.audit = AuditLog(session)
        self.mailboxes = MailboxStateRepository(session)
        self.accounts = AccountRepository(session)
        self.audit_search = AuditSearch(session)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        session, self._session = self.session, None
        try:
            session.rollback()
        finally:
            session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    def flush(self) -> None:
        self.session.flush()
