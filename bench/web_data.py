"""The data bench/web.py measures the web app on, bulk-loaded with COPY into a migrated database.

    dataset = load(conninfo, cases=2000, open_items=10_000, now=now, seed=7)

Shaped like the pipeline stores it (intake/pipeline.py ``_values``; storage/models.py): cases
with their expected returns; agencies' messages filed to the cases, each with a document
(Word forms with fields read from table cells and repeating tables, Excel chronologies with
their events) and its findings, some superseded by a later version; ``open_items`` messages
waiting in the queue across every reason (each with 0 to 2 documents, some about a case),
plus closed items; one automatic reply per message; the audit entries the pipeline writes
and people's page views. Only invented people and example.org addresses.

Ids are given here (COPY), then each table's sequence is moved past them and the tables are
analysed, so the app's own inserts (sessions, audit entries) carry on normally.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import psycopg

from core.cases import CaseKind, ExceptionReason
from core.catalogue import Catalogue, FieldDef, FormDef, load_catalogue

AGENCIES = (
    "camhs",
    "gmp",
    "gmmh",
    "probation",
    "icb",
    "nca",
    "early_help",
    "education",
    "childrens_services",
    "community_safety",
    "housing",
    "public_health",
)
RETURN_STATES = ("asked", "received", "needs_changes", "accepted", "nil_return")
FINDING_RULES = (
    ("FIELD-REQUIRED", "error", "Complete the field '{label}'."),
    ("TEXT-TOO-SHORT", "warning", "The section '{label}' is shorter than expected: add the analysis."),
    ("DATE-ORDER", "error", "Check the dates in '{label}': the end is before the start."),
    ("TEXT-ABBREVIATION", "warning", "Explain the abbreviation used in '{label}' in the glossary."),
    ("CHRON-GAP", "warning", "The chronology has no events for more than 6 months."),
    ("FIELD-INVALID", "error", "Check '{label}': it is not in the expected format."),
)
_TEXT = (
    "the child was seen at school by the designated safeguarding lead who noted concerns about "
    "attendance and appearance a referral was made to the multi agency safeguarding hub and a "
    "strategy discussion followed with police health and children's social care the family "
    "engaged with early help for a period and the case was stepped down after review the "
    "practitioner recorded the child's views and shared them with the team around the family "
    "information sharing between agencies was timely although the health visitor was not invited"
)
WORDS = tuple(_TEXT.split(" "))


@dataclass
class Dataset:
    cases: int = 0
    case_references: list[str] = field(default_factory=list)
    open_item_ids: list[int] = field(default_factory=list)
    closed_item_ids: list[int] = field(default_factory=list)
    messages: int = 0
    documents: int = 0
    findings: int = 0
    expected_returns: int = 0
    outbox: int = 0
    audit_entries: int = 0
    values_bytes: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "open_items": len(self.open_item_ids),
            "closed_items": len(self.closed_item_ids),
            "messages": self.messages,
            "documents": self.documents,
            "findings": self.findings,
            "expected_returns": self.expected_returns,
            "outbox": self.outbox,
            "audit_entries": self.audit_entries,
            "values_mb": round(self.values_bytes / 1e6, 1),
            "load_s": round(self.seconds, 1),
        }


class _Writer:
    """Row lists per table, each later sent with one COPY."""

    COLUMNS: ClassVar[dict[str, tuple[str, ...]]] = {
        "cases": (
            "id",
            "reference",
            "kind",
            "status",
            "child_name",
            "child_dob",
            "aware_date",
            "period_from",
            "period_to",
            "opened_at",
        ),
        "expected_returns": ("id", "case_id", "agency", "form", "state", "due_date", "updated_at"),
        "messages": (
            "id",
            "mailbox",
            "folder",
            "uidvalidity",
            "uid",
            "message_id",
            "sha256",
            "blob",
            "sender",
            "subject",
            "received_at",
            "state",
            "case_id",
            "reply_state",
            "destination",
            "moved",
            "error",
            "attempts",
            "created_at",
            "updated_at",
        ),
        "documents": (
            "id",
            "case_id",
            "message_row_id",
            "position",
            "filename",
            "blob",
            "form",
            "version",
            "agency",
            "status",
            "version_no",
            "current",
            "superseded_by",
            "values",
            "created_at",
        ),
        "findings": ("id", "document_id", "rule", "severity", "field", "row", "message"),
        "exception_items": (
            "id",
            "message_row_id",
            "reason",
            "status",
            "case_id",
            "agency",
            "opened_at",
            "closed_at",
            "resolution",
            "note",
            "actor",
        ),
        "outbox": (
            "id",
            "message_row_id",
            "reply_message_id",
            "to_addr",
            "raw",
            "state",
            "attempts",
            "next_attempt_at",
            "sent_at",
            "created_at",
        ),
        "audit_log": ("id", "at", "actor", "action", "entity", "entity_id", "detail"),
    }

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in self.COLUMNS}

    def add(self, table: str, *row: Any) -> int:
        rows = self.rows[table]
        rows.append(row)
        return len(rows)

    def next_id(self, table: str) -> int:
        return len(self.rows[table]) + 1

    def copy(self, conn: psycopg.Connection[Any]) -> None:
        with conn.cursor() as cur:
            for table, columns in self.COLUMNS.items():
                names = ", ".join(f'"{c}"' for c in columns)
                with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in self.rows[table]:
                        copy.write_row(row)
                if self.rows[table]:
                    cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", (len(self.rows[table]),))
        conn.commit()
        conn.autocommit = True
        try:
            conn.execute("VACUUM ANALYZE")
        finally:
            conn.autocommit = False


class _Generator:
    def __init__(self, catalogue: Catalogue, now: dt.datetime, seed: int) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.w = _Writer()
        self.forms = {f.form.id: f for f in catalogue.current()}
        self.data = Dataset()
        self._uid = 0

    # -- values shaped like intake/pipeline.py _values ------------------------------------------

    def _text(self, low: int, high: int) -> str:
        n = self.rng.randint(low, high)
        start = self.rng.randrange(len(WORDS))
        return " ".join(WORDS[(start + i) % len(WORDS)] for i in range(n)).capitalize() + "."

    def _date(self, years_back: float = 3.0) -> dt.date:
        return (self.now - dt.timedelta(days=self.rng.uniform(0, 365 * years_back))).date()

    def _scalar(self, f: FieldDef, case_ref: str | None, agency: str | None) -> Any:
        t = f.type
        if t == "date":
            return self._date().isoformat()
        if t == "yesno":
            return self.rng.random() < 0.6
        if t == "longtext":
            return self._text(30, 180)
        if t == "checkboxes":
            return list(f.choices[: self.rng.randint(1, max(1, len(f.choices)))]) if f.choices else []
        if t == "choice":
            return self.rng.choice(f.choices) if f.choices else "Other"
        if t == "case_ref":
            return case_ref
        if t == "agency":
            return agency
        if t == "email":
            return f"officer{self.rng.randint(1, 999)}@agency.example.org"
        if t == "phone":
            return f"0161 496 0{self.rng.randint(100, 999)}"
        if t == "nhs_number":
            return "999 123 4560"
        return self._text(2, 5)

    def values(self, form: FormDef, filename: str, case_ref: str | None, agency: str | None) -> dict[str, Any]:
        excel = filename.endswith(".xlsx")
        fields: dict[str, Any] = {}
        tables: dict[str, list[dict[str, Any]]] = {}
        for i, f in enumerate(form.fields):
            if f.type == "table":
                tables[f.id] = [
                    {"row": r + 2, **{c.id: self._text(2, 12) for c in f.columns}}
                    for r in range(self.rng.randint(1, 5))
                ]
                continue
            if self.rng.random() < 0.05:
                continue  # not found at all
            location = (
                {"kind": "cell", "table": None, "row": None, "cell": None, "paragraph": None}
                | {"sheet": form.form.details_sheet, "ref": f"B{i + 2}"}
                if excel
                else {"kind": "table", "table": 1 + i // 8, "row": 1 + i % 8, "cell": 2}
                | {"paragraph": None, "sheet": None, "ref": None}
            )
            problem = "the date could not be read" if self.rng.random() < 0.02 else None
            fields[f.id] = {
                "value": None if problem else self._scalar(f, case_ref, agency),
                "location": location,
                "problem": problem,
                "approximate": False,
            }
        rows: list[dict[str, Any]] = []
        if form.events:
            for r in range(self.rng.randint(10, 60)):
                event: dict[str, Any] = {"row": r + 2}
                for c in form.events:
                    if c.type == "date":
                        event[c.id] = self._date().isoformat()
                    elif c.type == "yesno":
                        event[c.id] = self.rng.random() < 0.5
                    elif c.narrative or c.id in ("event", "action_outcome", "significance"):
                        event[c.id] = self._text(8, 40)
                    else:
                        event[c.id] = self._text(1, 3)
                rows.append(event)
        return {"fields": fields, "tables": tables, "rows": rows, "identified_by": "properties"}

    # -- rows -------------------------------------------------------------------------------

    def case(self, n: int) -> tuple[int, str]:
        opened = self.now - dt.timedelta(days=self.rng.uniform(1, 365 * 3))
        reference = f"SSCP-{opened.year}-{n:04d}"
        kind = self.rng.choice(list(CaseKind)).value
        case_id = self.w.add(
            "cases",
            n,
            reference,
            kind,
            "open" if self.rng.random() < 0.85 else "closed",
            f"Alex Example {n}",
            dt.date(2012, 1, 1) + dt.timedelta(days=n % 3000),
            opened.date(),
            opened.date() - dt.timedelta(days=730),
            opened.date(),
            opened,
        )
        self.data.case_references.append(reference)
        self.audit(opened, "intake", "case.opened", "case", case_id, {"kind": kind})
        return case_id, reference

    def message(
        self, *, state: str, case_id: int | None, agency: str | None, received: dt.datetime, sender: str | None = None
    ) -> int:
        self._uid += 1
        digest = hashlib.sha256(f"message {self._uid}".encode()).hexdigest()
        sender = sender or f"officer{self._uid % 500}@{agency or 'unknown'}.example.org"
        message_id = self.w.add(
            "messages",
            self._uid,
            "inbox",
            "INBOX",
            1,
            self._uid,
            f"<{digest[:24]}@mail.example.org>",
            digest,
            digest,
            sender,
            f"Return for review {self._uid}: {self._text(2, 6)}",
            received,
            state,
            case_id,
            "sent",
            "exceptions" if state == "exception" else "processed",
            True,
            None,
            1,
            received,
            received,
        )
        self.audit(received, "intake", "message.recorded", "message", message_id, None)
        self.audit(received, "intake", f"message.{state}", "message", message_id, None)
        self.w.add(
            "outbox",
            self.w.next_id("outbox"),
            message_id,
            f"<reply-{digest[:24]}@intake.example.org>",
            sender,
            b"From: intake@example.org\r\nSubject: Your email\r\n\r\n" + b"Thank you. " * 40,
            "sent",
            1,
            received,
            received + dt.timedelta(minutes=1),
            received,
        )
        self.data.messages += 1
        return message_id

    def document(
        self,
        *,
        message_id: int,
        position: int,
        case_id: int | None,
        case_ref: str | None,
        agency: str | None,
        form_id: str | None,
        status: str,
        when: dt.datetime,
        version_no: int = 1,
        current: bool = True,
        superseded_by: int | None = None,
    ) -> int:
        form = self.forms.get(form_id) if form_id else None
        excel = form is not None and bool(form.events)
        filename = f"{form_id or 'attachment'}-{message_id}.{'xlsx' if excel else 'docx'}"
        values = self.values(form, filename, case_ref, agency) if form is not None else {}
        encoded = json.dumps(values)
        self.data.values_bytes += len(encoded)
        doc_id = self.w.add(
            "documents",
            self.w.next_id("documents"),
            case_id,
            message_id,
            position,
            filename,
            hashlib.sha256(f"doc {message_id} {position}".encode()).hexdigest(),
            form_id,
            form.form.version if form is not None else None,
            agency,
            status,
            version_no,
            current,
            superseded_by,
            encoded,
            when,
        )
        labelled = [f for f in form.fields if f.type != "table"] if form is not None else []
        for _ in range(self.rng.choice((0, 0, 1, 2, 3, 5)) if form is not None else 1):
            rule, severity, text = self.rng.choice(FINDING_RULES)
            target = self.rng.choice(labelled) if labelled else None
            self.w.add(
                "findings",
                self.w.next_id("findings"),
                doc_id,
                rule if form is not None else "DOC-UNKNOWN",
                severity,
                target.id if target is not None else None,
                None,
                text.format(label=target.label if target is not None else "the document"),
            )
            self.data.findings += 1
        self.audit(when, "intake", "document.recorded", "document", doc_id, {"status": status})
        self.data.documents += 1
        return doc_id

    def audit(self, at: dt.datetime, actor: str, action: str, entity: str, entity_id: int | None, detail: Any) -> None:
        self.w.add(
            "audit_log",
            self.w.next_id("audit_log"),
            at,
            actor,
            action,
            entity,
            str(entity_id) if entity_id is not None else None,
            json.dumps(detail) if detail is not None else None,
        )

    def returns_for(self, case_id: int, reference: str, opened: dt.datetime, agencies: Sequence[str]) -> None:
        for agency in agencies:
            for form_id in ("agency_summary", "chronology"):
                self.w.add(
                    "expected_returns",
                    self.w.next_id("expected_returns"),
                    case_id,
                    agency,
                    form_id,
                    self.rng.choice(RETURN_STATES),
                    (opened + dt.timedelta(days=28)).date(),
                    opened,
                )
                self.data.expected_returns += 1

    def filed_returns(self, case_id: int, reference: str, agencies: Sequence[str]) -> None:
        """Agencies' returns filed to the case; about one in four sent again (version 2)."""
        for agency in agencies:
            form_id = self.rng.choice(("agency_summary", "chronology"))
            versions = 2 if self.rng.random() < 0.25 else 1
            previous: int | None = None
            for version_no in range(1, versions + 1):
                when = self.now - dt.timedelta(days=self.rng.uniform(0, 300))
                message_id = self.message(state="filed", case_id=case_id, agency=agency, received=when)
                doc_id = self.document(
                    message_id=message_id,
                    position=1,
                    case_id=case_id,
                    case_ref=reference,
                    agency=agency,
                    form_id=form_id,
                    status=self.rng.choice(("accepted", "accepted", "needs_changes")),
                    when=when,
                    version_no=version_no,
                    current=version_no == versions,
                )
                if previous is not None:
                    # the previous version points at this one (COPY rows are tuples: rebuild it)
                    rows = self.w.rows["documents"]
                    old = list(rows[previous - 1])
                    old[12] = doc_id
                    rows[previous - 1] = tuple(old)
                previous = doc_id

    def item(self, reason: ExceptionReason, case: tuple[int, str] | None, *, open_: bool) -> int:
        agency = None if reason is ExceptionReason.UNKNOWN_SENDER else self.rng.choice(AGENCIES)
        when = self.now - dt.timedelta(days=self.rng.uniform(0, 120), seconds=self.rng.uniform(0, 86400))
        case_id, reference = case if case is not None else (None, None)
        sender = "someone@elsewhere.example.net" if agency is None else None
        message_id = self.message(state="exception", case_id=case_id, agency=agency, received=when, sender=sender)
        forms: list[tuple[str | None, str]]
        if reason is ExceptionReason.NO_ATTACHMENT:
            forms = []
        elif reason in (ExceptionReason.NO_CASE, ExceptionReason.POSSIBLE_DUPLICATE):
            forms = [(self.rng.choice(("referral", "serious_offence", "good_outcome")), "accepted")]
        elif reason in (ExceptionReason.UNRECOGNISED_DOCUMENT, ExceptionReason.UNSAFE_FILE):
            forms = [(None, "rejected")]
        elif reason is ExceptionReason.PROCESSING_FAULT:
            forms = [] if self.rng.random() < 0.5 else [("agency_summary", "needs_changes")]
        else:  # unknown sender, case conflict: an agency's return
            forms = [("agency_summary", "accepted")]
            if self.rng.random() < 0.4:
                forms.append(("chronology", "needs_changes"))
        for position, (form_id, status) in enumerate(forms, start=1):
            self.document(
                message_id=message_id,
                position=position,
                case_id=None,
                case_ref=reference,
                agency=agency,
                form_id=form_id,
                status=status,
                when=when,
            )
        closed = None if open_ else when + dt.timedelta(days=self.rng.uniform(0.1, 5))
        item_id = self.w.add(
            "exception_items",
            self.w.next_id("exception_items"),
            message_id,
            reason.value,
            "open" if open_ else "closed",
            case_id,
            agency,
            when,
            closed,
            None if open_ else "dismissed",
            None if open_ else "Checked with the agency.",
            None if open_ else "officer@council.example.org",
        )
        self.audit(when, "intake", "queue.opened", "message", message_id, {"reason": reason.value})
        if closed is not None:
            self.audit(closed, "officer@council.example.org", "queue.dismiss", "exception_item", item_id, None)
        (self.data.open_item_ids if open_ else self.data.closed_item_ids).append(item_id)
        return item_id

    def views(self, n: int) -> None:
        """People's page views: looks, which an item's or a case's history leaves out."""
        items = len(self.w.rows["exception_items"])
        cases = len(self.w.rows["cases"])
        for _ in range(n):
            at = self.now - dt.timedelta(days=self.rng.uniform(0, 120))
            if self.rng.random() < 0.6:
                self.audit(
                    at,
                    "officer@council.example.org",
                    "exception_item.viewed",
                    "exception_item",
                    self.rng.randint(1, items),
                    None,
                )
            else:
                self.audit(at, "officer@council.example.org", "case.viewed", "case", self.rng.randint(1, cases), None)


#: how the queue's open items are spread across the reasons (and how many are about a case)
REASON_WEIGHTS: dict[ExceptionReason, tuple[float, float]] = {
    ExceptionReason.UNKNOWN_SENDER: (0.15, 0.0),
    ExceptionReason.NO_CASE: (0.2, 0.0),
    ExceptionReason.CASE_CONFLICT: (0.15, 1.0),
    ExceptionReason.POSSIBLE_DUPLICATE: (0.1, 1.0),
    ExceptionReason.UNRECOGNISED_DOCUMENT: (0.15, 0.3),
    ExceptionReason.UNSAFE_FILE: (0.1, 0.3),
    ExceptionReason.NO_ATTACHMENT: (0.1, 0.3),
    ExceptionReason.PROCESSING_FAULT: (0.05, 0.2),
}


def _reasons(rng: random.Random, n: int) -> Iterable[ExceptionReason]:
    reasons = list(REASON_WEIGHTS)
    weights = [REASON_WEIGHTS[r][0] for r in reasons]
    return rng.choices(reasons, weights=weights, k=n)


def load(
    conninfo: str,
    *,
    cases: int = 2000,
    open_items: int = 10_000,
    closed_items: int = 2000,
    views: int = 30_000,
    now: dt.datetime | None = None,
    seed: int = 7,
    catalogue: Catalogue | None = None,
) -> Dataset:
    """Generate the data and COPY it into the (migrated, empty) database at ``conninfo``."""
    import time

    started = time.perf_counter()
    now = now or dt.datetime.now(dt.UTC)
    g = _Generator(catalogue or load_catalogue(), now, seed)
    case_rows: list[tuple[int, str]] = []
    for n in range(1, cases + 1):
        case_id, reference = g.case(n)
        agencies = g.rng.sample(AGENCIES, g.rng.randint(3, 6))
        opened = g.w.rows["cases"][-1][9]
        g.returns_for(case_id, reference, opened, agencies)
        g.filed_returns(case_id, reference, agencies[: g.rng.randint(1, len(agencies))])
        case_rows.append((case_id, reference))
    g.data.cases = cases
    for index, reason in enumerate(_reasons(g.rng, open_items + closed_items)):
        about_case = g.rng.random() < REASON_WEIGHTS[reason][1]
        # a few busy cases gather many items, as conflicts about one child do
        case = (
            (case_rows[int(g.rng.paretovariate(1.2)) % 50] if g.rng.random() < 0.2 else g.rng.choice(case_rows))
            if about_case
            else None
        )
        g.item(reason, case, open_=index < open_items)
    g.views(views)
    g.data.outbox = len(g.w.rows["outbox"])
    g.data.audit_entries = len(g.w.rows["audit_log"])
    with psycopg.connect(conninfo) as conn:
        g.w.copy(conn)
    g.data.seconds = time.perf_counter() - started
    return g.data


__all__ = ["AGENCIES", "Dataset", "load"]
