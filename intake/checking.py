"""Reading and checking documents: the composition of parsers and validators.

``DocumentChecker`` reads each file in the isolated worker (parsers.isolation) and checks it
there too, so a hostile file can cost the service neither its memory nor its time, and only
the compact result crosses the process boundary.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from types import TracebackType

from core.cases import CaseSummary
from core.model import CaseFacts, CheckedDocument, Document, Finding, Rejection
from core.settings import FormsContext
from intake.settings import Settings
from parsers.isolation import IsolatedRunner, WorkerFailure
from parsers.read import read_document
from validators import CheckContext, check
from validators.rules.case import RULES as CASE_RULES

#: modules the worker imports once at start, so the first document is not slow
WORKER_IMPORTS = ("lxml.etree", "python_calamine", "pydantic", "parsers.read", "validators")


@dataclass(frozen=True, slots=True)
class CheckJob:
    data: bytes
    filename: str
    received: dt.date
    settings_json: str
    case: CaseFacts | None = None


@lru_cache(maxsize=4)
def _context(settings_json: str) -> FormsContext:
    return Settings.model_validate_json(settings_json).forms_context()


def case_findings(checked: CheckedDocument, case: CaseSummary, ctx: FormsContext) -> list[Finding]:
    """The findings about a read document that only the case it is filed to can show
    (CASE-MISMATCH); run in the service process, after matching. The shape of
    ``intake.filing.CaseCheck`` once ``ctx`` is bound."""
    facts = CaseFacts(
        reference=case.reference,
        child_name=case.child_name,
        child_dob=case.child_dob.isoformat() if case.child_dob else None,
    )
    context = CheckContext(forms=ctx, received=dt.date.max, case=facts)
    return [f for rule in CASE_RULES for f in rule.check(checked.document, context)]


def read_and_check(job: CheckJob) -> CheckedDocument:
    """Read one file and check it. Runs in the worker (or in-process for benchmarks)."""
    ctx = _context(job.settings_json)
    document = read_document(job.data, job.filename, ctx)
    findings = check(document, CheckContext(forms=ctx, received=job.received, case=job.case))
    return CheckedDocument(document=document, findings=findings)


class DocumentChecker:
    """Reads and checks documents in one reused, limited worker process."""

    def __init__(self, settings: Settings) -> None:
        self._settings_json = settings.model_dump_json()
        self._limits = settings.reading
        self._runner: IsolatedRunner[CheckJob, CheckedDocument] = IsolatedRunner(
            read_and_check,
            memory_mb=settings.reading.worker_memory_mb,
            timeout_s=settings.reading.worker_timeout_s,
            imports=WORKER_IMPORTS,
        )

    def check(self, data: bytes, filename: str, received: dt.date, case: CaseFacts | None = None) -> CheckedDocument:
        job = CheckJob(data, filename, received, self._settings_json, case)
        try:
            return self._runner.run(job, timeout_s=self._timeout_for(len(data)))
        except WorkerFailure as failure:
            # the worker was killed (time, memory or a crash in a parsing library): the file
            # is refused as unsafe; the service itself goes on with a fresh worker
            document = Document(filename=filename, rejection=Rejection(rule="DOC-UNSAFE", reason=failure.reason))
            ctx = _context(self._settings_json)
            findings = check(document, CheckContext(forms=ctx, received=received, case=case))
            return CheckedDocument(document=document, findings=findings)

    @property
    def worker_pid(self) -> int | None:
        """The reading worker's process id, for measurements (None between workers)."""
        return self._runner.pid

    def _timeout_for(self, size: int) -> float:
        # a large legitimate chronology needs longer than a form; a compressed file of n
        # bytes unpacks to at most max_ratio * n, which the gate enforces
        mib = size / (1024 * 1024)
        return self._limits.worker_timeout_s + mib * self._limits.worker_timeout_per_mib_s * 10

    def close(self) -> None:
        self._runner.close()

    def __enter__(self) -> DocumentChecker:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
