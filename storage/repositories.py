"""Repositories: the queries the pipeline, the CLI and the web app need, on one Session.

They flush (so rows get their ids) but never commit: the UnitOfWork commits. Writes that may
collide with another worker (a ledger key, a case reference, a reply) run in a SAVEPOINT so a
collision leaves the unit of work usable.
"""

from __future__ import annotations

import builtins
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import BigInteger, String, any_, bindparam, delete, func, insert, or_, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.mail import FolderState, MessageKey
from core.model import Finding as FindingValue
from storage.errors import AlreadyRecorded, ReferenceTaken
from storage.models import (
    FINAL_STATES,
    MESSAGE_STATES,
    AuditEntry,
    Case,
    Document,
    ExceptionItem,
    ExpectedReturn,
    Finding,
    MailboxState,
    Message,
    OutboxItem,
    utcnow,
)

REFERENCE_ATTEMPTS = 50
ERROR_LENGTH = 500


def normalise_name(name: str | None) -> str:
    """A child's name as matching compares it: lower-case, spaces collapsed."""
    return " ".join((name or "").lower().split())


def _short(text: str | None) -> str | None:
    return None if text is None else text[:ERROR_LENGTH]


class _Repository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _among(self, column: Any, values: Sequence[Any], item_type: Any) -> Any:
        """``column IN (values)``; on PostgreSQL ``column = ANY(array)``: one parameter however
        many values (a hundred placeholders cost psycopg more to parse than the query costs)."""
        if self._postgres:
            return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(item_type)))
        return column.in_(list(values))

    def _insert_unnested(self, model: Any, rows: Sequence[dict[str, Any]], returning: str = "") -> list[Any]:
        """PostgreSQL: ``rows`` as one INSERT ... SELECT FROM unnest(arrays), one parameter a
        column (a VALUES list of a hundred rows has some 1,500 placeholders, which psycopg
        parses in Python every time); the RETURNING rows, if asked. Each value goes through
        its column type's own bind processing (UTC datetimes, JSON), as an ORM insert's would."""
        table: Any = model.__table__
        dialect = self.session.get_bind().dialect
        columns = sorted({name for row in rows for name in row})  # names of the model's columns
        arrays: dict[str, list[Any]] = {}
        casts: list[str] = []
        for name in columns:
            column_type = table.c[name].type
            process = column_type.dialect_impl(dialect).bind_processor(dialect)
            values = [row.get(name) for row in rows]
            arrays[name] = [process(v) for v in values] if process is not None else values
            casts.append(f"CAST(:{name} AS {column_type.compile(dialect=dialect)}[])")
        statement = text(
            f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({', '.join(casts)})"  # noqa: S608 - the model's names
            + (f" RETURNING {returning}" if returning else "")
        )
        result = self.session.execute(statement, arrays)
        return list(result.all()) if returning else []

    def _upsert(self, model: Any) -> Any:
        """An INSERT that takes ON CONFLICT clauses (PostgreSQL's or SQLite's, the same SQL)."""
        return postgresql.insert(model) if self._postgres else sqlite.insert(model)

    @property
    def _postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"


class MessageRepository(_Repository):
    """The ledger."""

    def get(self, id: int) -> Message | None:
        return self.session.get(Message, id)

    def get_many(self, ids: Sequence[int]) -> dict[int, Message]:
        """Rows by id, read in one statement (``get`` then finds them without a query)."""
        if not ids:
            return {}
        rows = self.session.exec(select(Message).where(col(Message.id).in_(ids))).all()
        return {row.id: row for row in rows if row.id is not None}

    def get_by_key(self, key: MessageKey) -> Message | None:
        return self.session.exec(
            select(Message).where(
                Message.mailbox == key.mailbox,
                Message.folder == key.folder,
                Message.uidvalidity == key.uidvalidity,
                Message.uid == key.uid,
            )
        ).first()

    def add(
        self,
        key: MessageKey,
        *,
        message_id: str | None,
        sha256: str,
        blob: str,
        sender: str | None,
        subject: str | None,
        received_at: dt.datetime | None,
        now: dt.datetime | None = None,
    ) -> Message:
        """A new pending row. Raises AlreadyRecorded when the key is taken (the unit of work stays usable)."""
        now = now or utcnow()
        row = Message(
            mailbox=key.mailbox,
            folder=key.folder,
            uidvalidity=key.uidvalidity,
            uid=key.uid,
            message_id=message_id,
            sha256=sha256,
            blob=blob,
            sender=sender,
            subject=subject,
            received_at=received_at,
            state="pending",
            created_at=now,
            updated_at=now,
        )
        try:
            with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError as exc:
            raise AlreadyRecorded(f"message {key.mailbox}/{key.uidvalidity}/{key.uid} is already recorded") from exc
        return row

    def find_duplicate(
        self, sha256: str, message_id: str | None, sender: str | None, exclude_id: int | None = None
    ) -> Message | None:
        """The earliest earlier message with the same bytes, or the same Message-ID from the same sender."""
        same = Message.sha256 == sha256
        if message_id and sender:
            same = same | ((Message.message_id == message_id) & (Message.sender == sender))
        query = select(Message).where(same)
        if exclude_id is not None:
            query = query.where(col(Message.id) < exclude_id)
        return self.session.exec(query.order_by(col(Message.id))).first()

    def recorded_keys(self, keys: Sequence[MessageKey]) -> set[MessageKey]:
        """Which of ``keys`` (one folder's) the ledger already holds: one query."""
        if not keys:
            return set()
        first = keys[0]
        uids = self.session.exec(
            select(Message.uid).where(
                Message.mailbox == first.mailbox,
                Message.folder == first.folder,
                Message.uidvalidity == first.uidvalidity,
                self._among(col(Message.uid), [k.uid for k in keys], BigInteger()),
            )
        ).all()
        found = set(uids)
        return {k for k in keys if k.uid in found}

    def duplicate_candidates(self, sha256s: Sequence[str], message_ids: Sequence[str]) -> list[Message]:
        """Messages with any of these digests or Message-IDs, oldest first: one query."""
        same = [self._among(col(Message.sha256), sha256s, String())]
        if message_ids:
            same.append(self._among(col(Message.message_id), message_ids, String()))
        return list(self.session.exec(select(Message).where(or_(*same)).order_by(col(Message.id))).all())

    def insert_recorded(self, rows: Sequence[dict[str, Any]], now: dt.datetime) -> list[int]:
        """New ledger rows from plain values (the columns of ``add``: mailbox, folder,
        uidvalidity, uid, message_id, sha256, blob, sender, subject, received_at, and
        optionally state / destination), inserted in one statement without building ORM
        objects; their ids, in order. A taken key raises AlreadyRecorded after the whole unit
        of work is rolled back."""
        if not rows:
            return []
        values = [
            {
                "state": "pending",
                "destination": None,
                "reply_state": "none",
                "moved": False,
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
                **row,
            }
            for row in rows
        ]
        try:
            if self._postgres:
                ids = self._ids_of_inserted(values)
            else:
                statement = insert(Message).returning(col(Message.id), sort_by_parameter_order=True)
                ids = [int(found) for found in self.session.execute(statement, values).scalars().all()]
        except IntegrityError as exc:
            self.session.rollback()
            raise AlreadyRecorded("a message of the batch is already recorded") from exc
        return ids

    def _ids_of_inserted(self, values: list[dict[str, Any]]) -> list[int]:
        """PostgreSQL: the rows inserted from arrays; their ids, in the order of ``values``,
        matched by their keys (unique)."""
        found = self._insert_unnested(Message, values, returning="id, mailbox, folder, uidvalidity, uid")
        made = {(mailbox, folder, uidvalidity, uid): id for id, mailbox, folder, uidvalidity, uid in found}
        return [int(made[(row["mailbox"], row["folder"], row["uidvalidity"], row["uid"])]) for row in values]

    def mark_duplicates(self, pairs: Sequence[tuple[int, int]]) -> None:
        """(id, id of the first copy): each a duplicate, bound for Processed (one statement)."""
        if not pairs:
            return
        table: Any = Message.__table__  # type: ignore[attr-defined]
        self.session.execute(
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values(state="duplicate", duplicate_of=bindparam("first_id"), destination="processed"),
            [{"row_id": row, "first_id": first} for row, first in pairs],
        )

    def set_blobs(self, changes: Sequence[dict[str, Any]]) -> None:
        """{"row_id", "blob"}: each row's blob digest (one statement)."""
        table: Any = Message.__table__  # type: ignore[attr-defined]
        self.session.execute(
            update(table).where(table.c.id == bindparam("row_id")).values(blob=bindparam("blob")), list(changes)
        )

    def known_uids(self, mailbox: str, folder: str, uidvalidity: int) -> set[int]:
        return set(
            self.session.exec(
                select(Message.uid).where(
                    Message.mailbox == mailbox, Message.folder == folder, Message.uidvalidity == uidvalidity
                )
            ).all()
        )

    def claim_pending(
        self, limit: int, worker: str, stale_after: dt.timedelta, now: dt.datetime | None = None
    ) -> list[Message]:
        """Pending messages nobody holds (or whose claim is older than ``stale_after``), now held by ``worker``.

        PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED, so two workers never take the same row.
        The claim is visible to others once the unit of work commits."""
        now = now or utcnow()
        query = (
            select(Message)
            .where(Message.state == "pending")
            .where(col(Message.claimed_by).is_(None) | (col(Message.claimed_at) < now - stale_after))
            .order_by(col(Message.id))
            .limit(limit)
        )
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        rows = list(self.session.exec(query).all())
        for row in rows:
            row.claimed_by = worker
            row.claimed_at = now
        self.session.flush()
        return rows

    def claimed(self) -> list[Message]:
        """Pending messages some worker holds (PostgreSQL: rows another transaction is
        claiming right now are skipped)."""
        query = (
            select(Message)
            .where(Message.state == "pending", col(Message.claimed_by).is_not(None))
            .order_by(col(Message.id))
        )
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        return list(self.session.exec(query).all())

    def release(self, message: Message) -> None:
        """Give up a claim (the message is tried again by whoever claims next)."""
        message.claimed_by = None
        message.claimed_at = None
        self.session.flush()

    def unacknowledged(self, mailbox: str, folder: str) -> list[Message]:
        """Messages in a final state with a destination that are not yet moved on the server."""
        return list(
            self.session.exec(
                select(Message)
                .where(Message.mailbox == mailbox, Message.folder == folder)
                .where(col(Message.state).in_(FINAL_STATES))
                .where(col(Message.destination).is_not(None))
                .where(col(Message.moved).is_(False))
                .order_by(col(Message.uid))
            ).all()
        )

    def mark_moved(self, ids: Iterable[int]) -> None:
        for row in self.session.exec(select(Message).where(col(Message.id).in_(list(ids)))).all():
            row.moved = True
        self.session.flush()

    def list_all(self) -> list[Message]:
        return list(self.session.exec(select(Message).order_by(col(Message.id))).all())

    def counts(self) -> dict[str, int]:
        """Messages per state (every state present, zero when none)."""
        counts = dict.fromkeys(MESSAGE_STATES, 0)
        for state, n in self.session.exec(select(Message.state, func.count()).group_by(col(Message.state))).all():
            counts[state] = n
        return counts

    def set_error(self, message: Message, error: str | None) -> None:
        """A short reason (no personal data), truncated to fit."""
        message.error = _short(error)


class CaseRepository(_Repository):
    def get(self, reference: str, *, lock: bool = False) -> Case | None:
        """``lock``: PostgreSQL holds the case's row (FOR UPDATE) until the transaction ends, so
        concurrent filings to one case are serialised (SQLite's writers are serialised already)."""
        query = select(Case).where(Case.reference == reference)
        if lock and self._postgres:
            query = query.with_for_update()
        return self.session.exec(query).first()

    def get_by_id(self, id: int) -> Case | None:
        return self.session.get(Case, id)

    def open_cases(self) -> list[Case]:
        return list(self.session.exec(select(Case).where(Case.status == "open").order_by(col(Case.id))).all())

    def find_by_child(self, name_key: str, dob: dt.date) -> list[Case]:
        """Open cases whose child's normalised name and date of birth match."""
        wanted = normalise_name(name_key)
        candidates = self.session.exec(
            select(Case).where(Case.status == "open", Case.child_dob == dob).order_by(col(Case.id))
        ).all()
        return [case for case in candidates if normalise_name(case.child_name) == wanted]

    def create(
        self,
        kind: str,
        child_name: str | None,
        child_dob: dt.date | None,
        aware: dt.date | None,
        opened: dt.datetime | dt.date,
        reference: str | None = None,
        prefix: str = "SSCP",
    ) -> Case:
        """A new open case. ``reference`` None: the next free PREFIX-YYYY-NNN for the year it opened,
        retried when another worker takes the same number first. A given reference already in use
        raises ReferenceTaken."""
        opened_at = (
            opened
            if isinstance(opened, dt.datetime)
            else dt.datetime(opened.year, opened.month, opened.day, tzinfo=dt.UTC)
        )
        for _ in range(REFERENCE_ATTEMPTS):
            ref = reference or self.next_reference(opened_at.year, prefix)
            case = Case(
                reference=ref,
                kind=str(kind),
                child_name=child_name,
                child_dob=child_dob,
                aware_date=aware,
                opened_at=opened_at,
            )
            try:
                with self.session.begin_nested():
                    self.session.add(case)
                return case
            except IntegrityError as exc:
                if reference is not None:
                    raise ReferenceTaken(f"case reference {reference} is already in use") from exc
        raise ReferenceTaken(f"no free {prefix} reference for {opened_at.year} after {REFERENCE_ATTEMPTS} attempts")

    def next_reference(self, year: int, prefix: str = "SSCP") -> str:
        stem = f"{prefix}-{year}-"
        pattern = re.compile(re.escape(stem) + r"(\d+)")
        taken = self.session.exec(select(Case.reference).where(col(Case.reference).startswith(stem))).all()
        numbers = [int(m.group(1)) for ref in taken if (m := pattern.fullmatch(ref))]
        return f"{stem}{max(numbers, default=0) + 1:03d}"

    def list_all(self) -> list[Case]:
        return list(self.session.exec(select(Case).order_by(col(Case.id))).all())


class ExpectedReturnRepository(_Repository):
    """What each agency was asked to return for a case, and how far it got."""

    def get(self, case_id: int, agency: str, form: str) -> ExpectedReturn | None:
        return self.session.exec(
            select(ExpectedReturn).where(
                ExpectedReturn.case_id == case_id, ExpectedReturn.agency == agency, ExpectedReturn.form == form
            )
        ).first()

    def set(
        self,
        case_id: int,
        agency: str,
        form: str,
        state: str,
        *,
        now: dt.datetime,
        due_date: dt.date | None = None,
    ) -> None:
        """Create or update the expected return's state (and due date, when given): one
        INSERT ... ON CONFLICT DO UPDATE, not a read and then a write."""
        table: Any = ExpectedReturn.__table__  # type: ignore[attr-defined]
        statement = self._upsert(table).values(
            case_id=case_id, agency=agency, form=form, state=str(state), due_date=due_date, updated_at=now
        )
        changes = {"state": statement.excluded.state, "updated_at": statement.excluded.updated_at}
        if due_date is not None:
            changes["due_date"] = statement.excluded.due_date
        row_id = self.session.execute(
            statement.on_conflict_do_update(index_elements=["case_id", "agency", "form"], set_=changes).returning(
                table.c.id
            )
        ).scalar_one()
        # a copy of the row this session holds is out of date now: read again when next used
        held = self.session.identity_map.get(self.session.identity_key(ExpectedReturn, row_id))
        if held is not None:
            self.session.expire(held)

    def for_case(self, case_id: int) -> list[ExpectedReturn]:
        return list(
            self.session.exec(
                select(ExpectedReturn)
                .where(ExpectedReturn.case_id == case_id)
                .order_by(col(ExpectedReturn.agency), col(ExpectedReturn.form))
            ).all()
        )


class DocumentRepository(_Repository):
    def add(
        self,
        *,
        message_row_id: int,
        position: int,
        filename: str,
        blob: str,
        status: str,
        case_id: int | None = None,
        form: str | None = None,
        version: str | None = None,
        agency: str | None = None,
        values: dict[str, Any] | None = None,
        version_no: int | None = None,
        created: dt.datetime | None = None,
    ) -> Document:
        """A new current document. ``version_no`` None: one more than the case's latest of this
        agency's form (1 without a case). Supersede the previous current one with ``supersede``."""
        if version_no is None:
            version_no = 1
            if case_id is not None:
                latest = self.session.exec(
                    select(func.max(Document.version_no)).where(
                        Document.case_id == case_id, Document.agency == agency, Document.form == form
                    )
                ).one()
                version_no = (latest or 0) + 1
        doc = Document(
            case_id=case_id,
            message_row_id=message_row_id,
            position=position,
            filename=filename,
            blob=blob,
            form=form,
            version=version,
            agency=agency,
            status=str(status),
            version_no=version_no,
            current=True,
            values=values or {},
            created_at=created or utcnow(),
        )
        self.session.add(doc)
        self.session.flush()
        return doc

    def get(self, id: int) -> Document | None:
        return self.session.get(Document, id)

    def current_for(self, case_id: int, agency: str | None, form: str | None) -> Document | None:
        return self.session.exec(
            select(Document)
            .where(
                Document.case_id == case_id,
                Document.agency == agency,
                Document.form == form,
                col(Document.current).is_(True),
            )
            .order_by(col(Document.version_no).desc(), col(Document.id).desc())
        ).first()

    def supersede(self, old: Document, new: Document) -> None:
        old.current = False
        old.superseded_by = new.id
        new.current = True
        self.session.flush()

    def for_case(self, case_id: int) -> list[Document]:
        return list(
            self.session.exec(
                select(Document)
                .where(Document.case_id == case_id)
                .order_by(col(Document.agency), col(Document.form), col(Document.version_no), col(Document.id))
            ).all()
        )

    def for_message(self, message_row_id: int) -> list[Document]:
        return list(
            self.session.exec(
                select(Document).where(Document.message_row_id == message_row_id).order_by(col(Document.position))
            ).all()
        )

    def add_findings(self, doc: Document, findings: Sequence[FindingValue]) -> list[Finding]:
        assert doc.id is not None, "add the document first"
        rows = [
            Finding(
                document_id=doc.id,
                rule=f.rule,
                severity=str(f.severity),
                field=f.field,
                row=f.row,
                message=f.message,
            )
            for f in findings
        ]
        self.session.add_all(rows)
        self.session.flush()
        return rows

    def findings_for(self, document_ids: Iterable[int]) -> dict[int, list[Finding]]:
        """Each document's findings, in the order they were added (every id present)."""
        ids = list(document_ids)
        found: dict[int, list[Finding]] = {i: [] for i in ids}
        if ids:
            for row in self.session.exec(
                select(Finding).where(col(Finding.document_id).in_(ids)).order_by(col(Finding.id))
            ).all():
                found[row.document_id].append(row)
        return found

    def remove_unfiled(self, message_row_id: int) -> int:
        """Forget a message's documents that were never filed to a case (with their findings),
        before the message is read again. Returns how many went."""
        ids = list(
            self.session.exec(
                select(Document.id).where(Document.message_row_id == message_row_id, col(Document.case_id).is_(None))
            ).all()
        )
        if ids:
            self.session.execute(delete(Finding).where(col(Finding.document_id).in_(ids)))
            self.session.execute(delete(Document).where(col(Document.id).in_(ids)))
        return len(ids)

    def counts_by_message(self) -> dict[int, int]:
        """How many documents each message gave (messages without any are absent)."""
        return {
            message_id: n
            for message_id, n in self.session.exec(
                select(Document.message_row_id, func.count()).group_by(col(Document.message_row_id))
            ).all()
        }


class ExceptionRepository(_Repository):
    """The business unit's queue."""

    def open_item(
        self,
        message_row_id: int,
        reason: str,
        *,
        case_id: int | None = None,
        agency: str | None = None,
        opened: dt.datetime,
    ) -> ExceptionItem:
        item = ExceptionItem(
            message_row_id=message_row_id, reason=str(reason), case_id=case_id, agency=agency, opened_at=opened
        )
        self.session.add(item)
        self.session.flush()
        return item

    def get(self, id: int) -> ExceptionItem | None:
        return self.session.get(ExceptionItem, id)

    def list_open(self) -> list[ExceptionItem]:
        return list(
            self.session.exec(
                select(ExceptionItem)
                .where(ExceptionItem.status == "open")
                .order_by(col(ExceptionItem.opened_at), col(ExceptionItem.id))
            ).all()
        )

    def for_message(self, message_row_id: int) -> list[ExceptionItem]:
        return list(
            self.session.exec(
                select(ExceptionItem)
                .where(ExceptionItem.message_row_id == message_row_id)
                .order_by(col(ExceptionItem.id))
            ).all()
        )

    def close(self, item: ExceptionItem, resolution: str, actor: str, note: str | None, closed: dt.datetime) -> None:
        item.status = "closed"
        item.resolution = resolution
        item.actor = actor
        item.note = note
        item.closed_at = closed
        self.session.flush()

    def close_if_open(
        self, item: ExceptionItem, resolution: str, actor: str, note: str | None, closed: dt.datetime
    ) -> bool:
        """Close ``item`` only if it is still open in the database (one conditional UPDATE, so
        two people acting on one item at once cannot both succeed). False: someone was first."""
        result = self.session.execute(
            update(ExceptionItem)
            .where(col(ExceptionItem.id) == item.id, col(ExceptionItem.status) == "open")
            .values(status="closed", resolution=resolution, actor=actor, note=note, closed_at=closed)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            return False
        self.session.refresh(item)
        return True


class OutboxRepository(_Repository):
    """The transactional outbox: one reply per incoming message."""

    def enqueue(
        self,
        message_row_id: int,
        reply_message_id: str,
        to_addr: str,
        raw: bytes,
        now: dt.datetime,
        *,
        exception_item_id: int | None = None,
    ) -> OutboxItem:
        """Queue a reply (the message's reply_state becomes "queued"). Idempotent: a message that
        already has a reply keeps it, and that one is returned.

        ``exception_item_id``: the deliberate reply of a person's action on that queue item,
        beside the message's automatic one (one per item; the reply_state is left alone)."""
        message = self.session.get(Message, message_row_id) if exception_item_id is None else None
        before = message.reply_state if message is not None else "none"
        if message is not None:
            message.reply_state = "queued"  # flushed with the insert: one UPDATE with the message's other changes
        statement = (
            self._upsert(OutboxItem)
            .values(
                message_row_id=message_row_id,
                exception_item_id=exception_item_id,
                reply_message_id=reply_message_id,
                to_addr=to_addr.lower(),
                raw=raw,
                state="queued",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            .on_conflict_do_nothing()
            .returning(OutboxItem)
        )
        # one statement: a reply already there (this message's, or this item's) is kept
        item: OutboxItem | None = self.session.scalars(statement).first()
        if item is not None:
            return item
        if message is not None:
            message.reply_state = before
        found = self._existing(message_row_id, exception_item_id)
        if found is None:
            raise RuntimeError("a reply conflicted with another that is not there")
        return found

    def _existing(self, message_row_id: int, exception_item_id: int | None) -> OutboxItem | None:
        if exception_item_id is None:
            return self.for_message(message_row_id)
        return self.for_item(exception_item_id)

    def for_item(self, exception_item_id: int) -> OutboxItem | None:
        """The reply a person's action on this queue item sent, if any."""
        return self.session.exec(select(OutboxItem).where(OutboxItem.exception_item_id == exception_item_id)).first()

    def all_for_message(self, message_row_id: int) -> list[OutboxItem]:
        """Every reply to a message: the automatic one and any an action sent, oldest first."""
        return list(
            self.session.exec(
                select(OutboxItem).where(OutboxItem.message_row_id == message_row_id).order_by(col(OutboxItem.id))
            ).all()
        )

    def get(self, id: int) -> OutboxItem | None:
        return self.session.get(OutboxItem, id)

    def for_message(self, message_row_id: int) -> OutboxItem | None:
        """The message's automatic reply (not one a person's action sent)."""
        return self.session.exec(
            select(OutboxItem).where(
                OutboxItem.message_row_id == message_row_id, col(OutboxItem.exception_item_id).is_(None)
            )
        ).first()

    def due(self, now: dt.datetime, limit: int) -> list[OutboxItem]:
        """Queued replies whose next attempt is due, oldest first (PostgreSQL: locked, others skipped)."""
        query = (
            select(OutboxItem)
            .where(OutboxItem.state == "queued", col(OutboxItem.next_attempt_at) <= now)
            .order_by(col(OutboxItem.next_attempt_at), col(OutboxItem.id))
            .limit(limit)
        )
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        return list(self.session.exec(query).all())

    def mark_sent(self, item: OutboxItem, at: dt.datetime) -> None:
        """Sent (the message's reply_state becomes "sent")."""
        item.state = "sent"
        item.sent_at = at
        item.attempts += 1
        item.last_error = None
        if item.exception_item_id is None:
            self._set_reply_state(item.message_row_id, "sent")

    def mark_failed(self, item: OutboxItem, error: str, next_attempt_at: dt.datetime, permanent: bool) -> None:
        """A failed attempt: tried again at ``next_attempt_at``, or never when ``permanent``."""
        item.attempts += 1
        item.last_error = _short(error)
        item.next_attempt_at = next_attempt_at
        if permanent:
            item.state = "failed"
        self.session.flush()

    def sent_or_queued_to(self, to_addr: str, since: dt.datetime) -> int:
        """Replies to an address queued or sent since ``since`` (the per-sender rate limit)."""
        return self.session.exec(
            select(func.count())
            .select_from(OutboxItem)
            .where(
                OutboxItem.to_addr == to_addr.lower(),
                col(OutboxItem.state).in_(("queued", "sent")),
                col(OutboxItem.created_at) >= since,
            )
        ).one()

    def _set_reply_state(self, message_row_id: int, state: str) -> None:
        message = self.session.get(Message, message_row_id)
        if message is not None:
            message.reply_state = state  # written with the unit of work's next flush


class AuditLog(_Repository):
    """Append-only: the database refuses UPDATE and DELETE on it."""

    def record(
        self,
        actor: str,
        action: str,
        entity: str,
        entity_id: str | int | None,
        detail: dict[str, Any] | None = None,
        at: dt.datetime | None = None,
    ) -> AuditEntry:
        entry = AuditEntry(
            at=at or utcnow(),
            actor=actor,
            action=action,
            entity=entity,
            entity_id=None if entity_id is None else str(entity_id),
            detail=detail,
        )
        self.session.add(entry)  # written with the unit of work's next flush (batched with others)
        return entry

    def record_many(
        self, entries: Iterable[tuple[str, str, str, str | int | None, dict[str, Any] | None]], at: dt.datetime
    ) -> None:
        """(actor, action, entity, entity_id, detail) entries at ``at``, in one statement
        (no ORM objects: for the ledger's batches)."""
        values = [
            {
                "at": at,
                "actor": actor,
                "action": action,
                "entity": entity,
                "entity_id": None if entity_id is None else str(entity_id),
                "detail": detail,
            }
            for actor, action, entity, entity_id, detail in entries
        ]
        if not values:
            return
        if self._postgres:
            self._insert_unnested(AuditEntry, values)
        else:
            self.session.execute(insert(AuditEntry), values)

    def list(
        self, entity: str | None = None, entity_id: str | int | None = None, limit: int | None = None
    ) -> builtins.list[AuditEntry]:
        """Entries in the order they were written, optionally for one entity."""
        query = select(AuditEntry)
        if entity is not None:
            query = query.where(AuditEntry.entity == entity)
        if entity_id is not None:
            query = query.where(AuditEntry.entity_id == str(entity_id))
        query = query.order_by(col(AuditEntry.id))
        if limit is not None:
            query = query.limit(limit)
        return builtins.list(self.session.exec(query).all())


class MailboxStateRepository(_Repository):
    def get(self, mailbox: str, folder: str) -> MailboxState | None:
        return self.session.get(MailboxState, (mailbox, folder))

    def save(self, mailbox: str, folder: str, state: FolderState, polled_at: dt.datetime) -> MailboxState:
        row = self.get(mailbox, folder)
        if row is None:
            row = MailboxState(mailbox=mailbox, folder=folder, uidvalidity=0, uidnext=0, exists=0)
            self.session.add(row)
        row.uidvalidity = state.uidvalidity
        row.uidnext = state.uidnext
        row.exists = state.exists
        row.polled_at = polled_at
        self.session.flush()
        return row

    def folder_state(self, mailbox: str, folder: str) -> FolderState | None:
        """What the folder looked like at the last poll, as the Mailbox port reports it."""
        row = self.get(mailbox, folder)
        if row is None:
            return None
        return FolderState(uidvalidity=row.uidvalidity, uidnext=row.uidnext, exists=row.exists)
