"""The filing decision: which case, or which reason a person is needed, and whether to reply."""

from __future__ import annotations

import datetime as dt

from core.cases import CaseKind, CaseSummary, DocumentStatus, ExceptionReason
from core.mail import Attachment, Automated, InboundMessage, Screening
from core.model import CheckedDocument, Document, FieldValue, Finding, Rejection, Severity, Value
from intake.filing import Decision, ReadAttachment, decide
from parsers.values import find_case_references

TODAY = dt.date(2026, 11, 2)
CASE = CaseSummary(
    reference="SSCP-2026-004",
    kind=CaseKind.RAPID_REVIEW,
    child_name="Child A",
    child_dob=dt.date(2015, 3, 27),
)
GMP = Screening(agencies=("gmp",), authenticated=True)
COUNCIL = Screening(agencies=("childrens_services", "housing"), authenticated=True)


class Cases:
    def __init__(self, *cases: CaseSummary) -> None:
        self.cases = cases

    def by_reference(self, reference: str) -> CaseSummary | None:
        return next((c for c in self.cases if c.reference == reference), None)

    def by_child(self, name: str, dob: dt.date) -> list[CaseSummary]:
        return [c for c in self.cases if (c.child_name or "").casefold() == name.casefold() and c.child_dob == dob]


def message(subject: str = "Return", body: str = "Please find attached.") -> InboundMessage:
    return InboundMessage(
        message_id="<m1@police.example.org>", sender="officer@police.example.org", subject=subject, body_text=body
    )


def form(
    form_id: str | None,
    fields: dict[str, Value] | None = None,
    *,
    findings: tuple[Finding, ...] = (),
    rejection: Rejection | None = None,
) -> CheckedDocument:
    doc = Document(
        filename="return.docx",
        form=form_id,
        version="2026.1" if form_id else None,
        rejection=rejection,
        fields={k: FieldValue(value=v) for k, v in (fields or {}).items()},
    )
    return CheckedDocument(document=doc, findings=list(findings))


def attached(*checked: CheckedDocument) -> list[ReadAttachment]:
    return [
        ReadAttachment(i, Attachment(filename=f"file{i}.docx", content_type="application/octet-stream", data=b""), c)
        for i, c in enumerate(checked, 1)
    ]


def no_conflict(checked: CheckedDocument, case: CaseSummary) -> list[Finding]:
    return []


def conflict(checked: CheckedDocument, case: CaseSummary) -> list[Finding]:
    return [Finding(rule="CASE-MISMATCH", severity=Severity.ERROR, field="child_dob", message="does not match")]


def run(
    msg: InboundMessage, screening: Screening, read: list[ReadAttachment], cases: Cases, check=no_conflict
) -> Decision:
    return decide(msg, screening, read, cases, case_check=check, find_references=find_case_references, aware=TODAY)


SUMMARY: dict[str, Value] = {
    "case_reference": "SSCP-2026-004",
    "child_name": "Child A",
    "child_dob": "2015-03-27",
    "agency": "gmp",
}


def test_automated_mail_is_ignored_and_never_answered() -> None:
    decision = run(message(), Screening(automated=Automated.AUTO_REPLY, agencies=("gmp",)), [], Cases())

    assert ("ignored", False) == (decision.state, decision.reply)


def test_an_unknown_sender_goes_to_the_queue_without_a_reply() -> None:
    decision = run(
        message(), Screening(distrust="unknown domain"), attached(form("agency_summary", SUMMARY)), Cases(CASE)
    )

    assert (ExceptionReason.UNKNOWN_SENDER, False) == (decision.reason, decision.reply)


def test_a_covering_email_with_nothing_attached_is_queued_and_answered() -> None:
    decision = run(message(), GMP, [], Cases(CASE))

    assert ("exception", ExceptionReason.NO_ATTACHMENT, True) == (decision.state, decision.reason, decision.reply)


def test_a_form_naming_its_case_is_filed_there() -> None:
    decision = run(message(), GMP, attached(form("agency_summary", SUMMARY)), Cases(CASE))

    assert ("filed", "SSCP-2026-004", "gmp") == (decision.state, decision.case_reference, decision.agency)
    assert [DocumentStatus.ACCEPTED] == [d.status for d in decision.documents]


def test_a_form_with_an_error_is_filed_as_needing_changes() -> None:
    error = Finding(rule="FIELD-REQUIRED", severity=Severity.ERROR, field="learning", message="Please add")

    decision = run(message(), GMP, attached(form("agency_summary", SUMMARY, findings=(error,))), Cases(CASE))

    assert ("filed", [DocumentStatus.NEEDS_CHANGES]) == (decision.state, [d.status for d in decision.documents])


def test_a_reference_in_the_subject_names_the_case_when_the_form_has_none() -> None:
    fields: dict[str, Value] = {k: v for k, v in SUMMARY.items() if k != "case_reference"}

    decision = run(
        message(subject="Chronology for SSCP-2026-004"), GMP, attached(form("chronology", fields)), Cases(CASE)
    )

    assert ("filed", "SSCP-2026-004") == (decision.state, decision.case_reference)


def test_a_reference_that_names_no_case_is_queued_as_no_case() -> None:
    fields = {**SUMMARY, "case_reference": "SSCP-2026-099"}

    decision = run(message(), GMP, attached(form("agency_summary", fields)), Cases(CASE))

    assert (ExceptionReason.NO_CASE, True) == (decision.reason, decision.reply)


def test_a_form_whose_child_conflicts_with_its_case_is_queued_as_case_conflict() -> None:
    decision = run(message(), GMP, attached(form("agency_summary", SUMMARY)), Cases(CASE), check=conflict)

    assert (ExceptionReason.CASE_CONFLICT, "SSCP-2026-004") == (decision.reason, decision.related_case)
    assert [DocumentStatus.NEEDS_CHANGES] == [d.status for d in decision.documents]
    assert ["CASE-MISMATCH"] == [f.rule for d in decision.documents for f in d.findings]


def test_forms_naming_two_cases_are_queued_as_case_conflict() -> None:
    other = {**SUMMARY, "case_reference": "SSCP-2026-005"}

    decision = run(message(), GMP, attached(form("agency_summary", SUMMARY), form("chronology", other)), Cases(CASE))

    assert ExceptionReason.CASE_CONFLICT == decision.reason


def test_a_referral_without_reference_opens_a_new_case_of_its_kind() -> None:
    decision = run(
        message(),
        GMP,
        attached(form("serious_offence", {"child_name": "Child B", "child_dob": "2012-01-02"})),
        Cases(CASE),
    )

    assert decision.new_case is not None
    assert ("filed", CaseKind.SERIOUS_OFFENCE_REVIEW, "Child B", TODAY) == (
        decision.state,
        decision.new_case.kind,
        decision.new_case.child_name,
        decision.new_case.aware,
    )


def test_a_referral_for_a_child_with_an_open_case_is_a_possible_duplicate() -> None:
    decision = run(
        message(), GMP, attached(form("referral", {"child_name": "child a", "child_dob": "2015-03-27"})), Cases(CASE)
    )

    assert (ExceptionReason.POSSIBLE_DUPLICATE, "SSCP-2026-004", None) == (
        decision.reason,
        decision.related_case,
        decision.new_case,
    )


def test_a_form_without_reference_is_matched_by_the_childs_name_and_date_of_birth() -> None:
    fields: dict[str, Value] = {k: v for k, v in SUMMARY.items() if k != "case_reference"}

    decision = run(message(), GMP, attached(form("agency_summary", fields)), Cases(CASE))

    assert ("filed", "SSCP-2026-004") == (decision.state, decision.case_reference)


def test_a_form_without_reference_or_a_single_match_is_queued_as_no_case() -> None:
    fields: dict[str, Value] = {"child_name": "Child Z", "child_dob": "2010-01-01", "agency": "gmp"}

    decision = run(message(), GMP, attached(form("agency_summary", fields)), Cases(CASE))

    assert ExceptionReason.NO_CASE == decision.reason


def test_an_unsafe_file_beside_a_good_form_queues_the_message_but_files_the_form() -> None:
    unsafe = form(None, rejection=Rejection(rule="DOC-UNSAFE", reason="contains macros"))

    decision = run(message(), GMP, attached(form("agency_summary", SUMMARY), unsafe), Cases(CASE))

    assert ("exception", ExceptionReason.UNSAFE_FILE, "SSCP-2026-004") == (
        decision.state,
        decision.reason,
        decision.case_reference,
    )
    assert [DocumentStatus.ACCEPTED, DocumentStatus.REJECTED] == [d.status for d in decision.documents]


def test_an_unrecognised_document_is_queued() -> None:
    decision = run(message(subject="SSCP-2026-004"), GMP, attached(form(None)), Cases(CASE))

    assert ExceptionReason.UNRECOGNISED_DOCUMENT == decision.reason


def test_on_a_shared_domain_the_form_says_which_partner_sent_it() -> None:
    fields = {**SUMMARY, "agency": "housing"}

    decision = run(message(), COUNCIL, attached(form("agency_summary", fields)), Cases(CASE))

    assert ("filed", "housing") == (decision.state, decision.agency)


def test_on_a_shared_domain_a_form_that_names_no_partner_is_queued_without_reply() -> None:
    fields = {**SUMMARY, "agency": "gmp"}

    decision = run(message(), COUNCIL, attached(form("agency_summary", fields)), Cases(CASE))

    assert (ExceptionReason.UNKNOWN_SENDER, False) == (decision.reason, decision.reply)
