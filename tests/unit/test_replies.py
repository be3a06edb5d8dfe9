"""The reply to an agency: what it says for each outcome, that it leaks nothing personal, and
that it threads and marks itself automatic."""

from __future__ import annotations

import datetime as dt
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from functools import cache

import pytest

from core.cases import DocumentStatus, ExceptionReason, ReplyDraft
from core.model import Finding, Severity
from intake.replies import (
    MAX_REFERENCES,
    DocumentOutcome,
    ReplyFacts,
    compose,
    render,
    reply_message_id,
)
from parsers.read import read_document
from tests.fixtures import flawed
from tests.fixtures.sample import CASE_REFERENCE, fixture_context
from validators import CheckContext, check

REFERENCE = "SSCP-2026-004"
SENDER = "referrer@police.example.org"
ORIGINAL_ID = "<original-1@police.example.org>"
RECEIVED = dt.datetime(2026, 3, 3, 9, 30, tzinfo=dt.UTC)
SENT = dt.datetime(2026, 3, 3, 9, 35, tzinfo=dt.UTC)
CHRONOLOGY = "Chronology of Significant Events"
SUMMARY = "Agency Summary Report"


def error(message: str, row: int | None = None) -> Finding:
    return Finding(rule="FIELD-REQUIRED", severity=Severity.ERROR, message=message, row=row)


def warning(message: str, row: int | None = None) -> Finding:
    return Finding(rule="DATE-APPROXIMATE", severity=Severity.WARNING, message=message, row=row)


def facts(**changes: object) -> ReplyFacts:
    base: dict[str, object] = {
        "to": SENDER,
        "in_reply_to": ORIGINAL_ID,
        "references": (),
        "received": RECEIVED,
        "case_reference": REFERENCE,
        "outcome": "filed",
        "documents": (
            DocumentOutcome(1, CHRONOLOGY, DocumentStatus.ACCEPTED),
            DocumentOutcome(2, SUMMARY, DocumentStatus.ACCEPTED),
        ),
    }
    base.update(changes)
    return ReplyFacts(**base)  # type: ignore[arg-type]


def rendered(draft: ReplyDraft) -> EmailMessage:
    raw = render(draft, from_address="intake@sscp.example.org", message_id="<reply-1.x@sscp.example.org>", date=SENT)
    message = message_from_bytes(raw, policy=default)
    assert isinstance(message, EmailMessage)
    return message


# --- what it says ------------------------------------------------------------------------------


def test_documents_all_accepted_say_so_in_the_subject_and_per_document() -> None:
    draft = compose(facts())

    assert "Received: case SSCP-2026-004 — 2 documents accepted" == draft.subject
    assert "We received your email of 3 March 2026 with 2 attachments for case\nSSCP-2026-004." in draft.body
    assert f"Attachment 1: {CHRONOLOGY} — accepted." in draft.body
    assert f"Attachment 2: {SUMMARY} — accepted." in draft.body


def test_one_accepted_document_is_counted_in_the_singular() -> None:
    draft = compose(facts(documents=(DocumentOutcome(1, SUMMARY, DocumentStatus.ACCEPTED),)))

    assert "Received: case SSCP-2026-004 — 1 document accepted" == draft.subject
    assert "with 1 attachment for case" in draft.body


def test_a_document_needing_changes_lists_them_numbered_with_their_rows() -> None:
    findings = (
        error('Row 12: "Action taken / outcome" is empty. Please record it.', row=12),
        error('Row 15: "Source of information" is empty. Please add it.', row=15),
    )
    draft = compose(
        facts(
            documents=(
                DocumentOutcome(1, CHRONOLOGY, DocumentStatus.NEEDS_CHANGES, findings),
                DocumentOutcome(2, SUMMARY, DocumentStatus.ACCEPTED),
            )
        )
    )

    assert "Changes needed: case SSCP-2026-004" == draft.subject
    expected = (
        f"Attachment 1: {CHRONOLOGY} — changes needed.\n"
        "\n"
        "What to change:\n"
        '1. Row 12: "Action taken / outcome" is empty. Please record it.\n'
        '2. Row 15: "Source of information" is empty. Please add it.'
    )
    assert expected in draft.body
    assert f"Attachment 2: {SUMMARY} — accepted." in draft.body


def test_ten_changes_are_numbered_in_one_column_and_long_ones_wrap_under_their_text() -> None:
    findings = tuple(error(f"Row {n}: the event date is missing. " + "Please add it. " * 8) for n in range(1, 11))
    draft = compose(facts(documents=(DocumentOutcome(1, CHRONOLOGY, DocumentStatus.NEEDS_CHANGES, findings),)))

    lines = draft.body.splitlines()
    numbered = [line for line in lines if line[:3].strip().rstrip(".").isdigit() and line[2:4] == ". "]
    assert [f"{n:>2}. Row {n}:" for n in range(1, 11)] == [line[:11].rstrip() for line in numbered]
    assert all(len(line) <= 76 for line in lines)
    assert " 1. Row 1: the event date is missing. Please add it." in draft.body
    assert "\n    Please add it." in draft.body


def test_warnings_are_advice_apart_from_the_changes_and_do_not_stop_acceptance() -> None:
    advice = warning("Row 4: the date is approximate. Please give the exact date.", row=4)
    draft = compose(facts(documents=(DocumentOutcome(1, CHRONOLOGY, DocumentStatus.ACCEPTED, (advice,)),)))

    assert "Received: case SSCP-2026-004 — 1 document accepted" == draft.subject
    assert (
        f"Attachment 1: {CHRONOLOGY} — accepted.\n"
        "\n"
        "Advice (no change is needed for the document to be accepted):\n"
        "- Row 4: the date is approximate. Please give the exact date."
    ) in draft.body
    assert "What to change" not in draft.body


def test_changes_and_advice_on_one_document_are_listed_apart() -> None:
    doc = DocumentOutcome(
        1,
        CHRONOLOGY,
        DocumentStatus.NEEDS_CHANGES,
        (warning("Row 4: the date is approximate."), error("Row 9: the event is empty.")),
    )
    body = compose(facts(documents=(doc,))).body

    assert body.index("What to change:\n1. Row 9: the event is empty.") < body.index(
        "Advice (no change is needed for the document to be accepted):\n- Row 4: the date is approximate."
    )


def test_a_rejected_document_says_why_it_could_not_be_accepted() -> None:
    reason = error("The file is password protected. Please send it again without a password.")
    draft = compose(facts(documents=(DocumentOutcome(1, None, DocumentStatus.REJECTED, (reason,)),)))

    assert "Changes needed: case SSCP-2026-004" == draft.subject
    assert (
        "Attachment 1: not recognised as one of the partnership's forms — could not be accepted.\n\nWhy:\n"
        "1. The file is password protected. Please send it again without a password."
    ) in draft.body


def test_a_resubmission_says_which_version_it_replaces() -> None:
    doc = DocumentOutcome(1, SUMMARY, DocumentStatus.ACCEPTED, superseded_version=1)
    body = compose(facts(documents=(doc,))).body

    assert f"Attachment 1: {SUMMARY} — accepted.\nThis replaces version 1 you sent earlier." in body


def test_an_email_with_nothing_attached_says_nothing_was_attached() -> None:
    draft = compose(facts(outcome="no_attachment", documents=(), case_reference=None))

    assert "Received: your email of 3 March 2026" == draft.subject
    assert "Nothing was attached to it" in draft.body
    assert "Attachment 1" not in draft.body


@pytest.mark.parametrize("reason", list(ExceptionReason))
def test_a_queued_email_says_a_person_will_look_at_it_within_the_working_days(reason: ExceptionReason) -> None:
    documents = () if reason is ExceptionReason.NO_ATTACHMENT else (DocumentOutcome(1, None, None),)
    draft = compose(
        facts(outcome="queued", queue_reason=reason, case_reference=None, documents=documents),
        review_working_days=3,
    )

    assert "Received: your email of 3 March 2026" == draft.subject
    assert "within 3 working days" in " ".join(draft.body.split())
    assert "accepted." not in draft.body


def test_a_queued_email_without_a_reference_asks_for_one() -> None:
    draft = compose(
        facts(
            outcome="queued",
            queue_reason=ExceptionReason.NO_CASE,
            case_reference=None,
            documents=(DocumentOutcome(1, SUMMARY, None),),
        )
    )

    assert (
        "We could not match it to a case reference: please include the case reference (SSCP-YYYY-NNN) in the form"
        in " ".join(draft.body.split())
    )
    assert f"Attachment 1: {SUMMARY} — not filed yet." in draft.body


def test_a_reference_that_names_no_case_is_named_back_for_checking() -> None:
    draft = compose(facts(outcome="queued", queue_reason=ExceptionReason.NO_CASE, case_reference="SSCP-2026-999"))

    assert "Received: case SSCP-2026-999" == draft.subject
    assert "The case reference SSCP-2026-999 does not match an open case" in " ".join(draft.body.split())


def test_a_possible_duplicate_never_names_the_case_found_from_the_childs_details() -> None:
    draft = compose(facts(outcome="queued", queue_reason=ExceptionReason.POSSIBLE_DUPLICATE))

    assert REFERENCE not in draft.subject + draft.body


def test_only_a_reference_of_the_reference_shape_is_repeated() -> None:
    draft = compose(facts(case_reference="Ellis Quinnell's case"))

    assert "Quinnell" not in draft.subject + draft.body
    assert "Received: your email of 3 March 2026" == draft.subject


def test_the_received_date_is_the_day_in_london() -> None:
    late = dt.datetime(2026, 6, 30, 23, 30, tzinfo=dt.UTC)  # 00:30 on 1 July in London
    assert "Received: your email of 1 July 2026" == compose(facts(received=late, case_reference=None)).subject


# --- nothing personal leaks -----------------------------------------------------------------------

#: the flawed files whose findings come nearest the planted child and people
LEAK_SOURCES = (
    "referral-death-without-date",
    "referral-death-before-birth",
    "referral-nhs-number-mistyped",
    "referral-email-without-at",
    "referral-approved-next-year",
    "serious-offence-date-before-birth",
    "chronology-event-before-birth",
    "chronology-phone-number",
    "chronology-pasted-case-notes",
    "chronology-approximate-date",
    "agency-summary-wrong-case",
    "agency-summary-short-learning",
    "declaration-yes-without-details",
)
#: the filename and subject an agency might well use, naming the child
PLANTED_FILENAME = f"{flawed.CHILD_NAME} DOB 27.03.2015 NHS 943 476 5919"
PLANTED_SUBJECT = f"RE: {flawed.CHILD_NAME} (27/03/2015) chronology and summary"


def date_spellings(iso: str) -> set[str]:
    d = dt.date.fromisoformat(iso)
    day, month, year = d.day, d.month, d.year
    return {
        iso,
        d.strftime("%Y%m%d"),
        f"{day:02}/{month:02}/{year}",
        f"{day}/{month}/{year}",
        f"{day:02}/{month:02}/{year % 100:02}",
        f"{day:02}.{month:02}.{year}",
        f"{day:02}-{month:02}-{year}",
        f"{month:02}/{day:02}/{year}",
        f"{day} {d:%B %Y}",
        f"{day} {d:%b %Y}",
        f"{d:%B} {day}, {year}",
        f"{day:02} {d:%B %Y}",
    }


def personal_strings() -> list[str]:
    values = set(flawed.PERSONAL) | {PLANTED_FILENAME, PLANTED_SUBJECT, flawed.CHILD_NAME.split()[0]}
    for iso in (flawed.CHILD_DOB, flawed.OTHER_CHILD_DOB, flawed.BABY_DOB):
        values |= date_spellings(iso)
    nhs = flawed.NHS_NUMBER
    values |= {nhs, f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}", f"{nhs[:3]}-{nhs[3:6]}-{nhs[6:]}"}
    return sorted(values)


@cache
def planted_outcomes() -> tuple[DocumentOutcome, ...]:
    """The flawed files, read under a filename naming the child, and checked."""
    ctx = fixture_context()
    outcomes = []
    for position, name in enumerate(LEAK_SOURCES, start=1):
        (item,) = [f for f in flawed.FLAWED if f.name == name]
        extension = item.filename.rsplit(".", 1)[1]
        doc = read_document(flawed.build(name), f"{PLANTED_FILENAME}.{extension}", ctx)
        findings = check(doc, CheckContext(forms=ctx, received=item.received, case=item.case))
        form = ctx.catalogue.find(doc.form, doc.version) if doc.form else None
        errors = any(f.severity is Severity.ERROR for f in findings)
        status = (
            DocumentStatus.REJECTED
            if doc.rejection
            else DocumentStatus.NEEDS_CHANGES
            if errors
            else DocumentStatus.ACCEPTED
        )
        outcomes.append(
            DocumentOutcome(position, form.form.title if form else None, status, tuple(findings), superseded_version=1)
        )
    return tuple(outcomes)


def every_reply_from_planted_facts() -> list[tuple[str, bytes]]:
    documents = planted_outcomes()
    base = facts(
        to=f"{flawed.CHILD_NAME} <{SENDER}>",
        references=("<thread-root@police.example.org>",),
        received=dt.datetime(2026, 11, 1, 10, tzinfo=dt.UTC),
        case_reference=CASE_REFERENCE,
        documents=documents,
    )
    variants: list[tuple[str, ReplyFacts]] = [
        ("filed", base),
        ("rejected", facts(**{**base.__dict__, "outcome": "rejected"})),
    ]
    variants += [
        (f"queued {reason}", facts(**{**base.__dict__, "outcome": "queued", "queue_reason": reason}))
        for reason in ExceptionReason
    ]
    variants.append(("no attachment", facts(**{**base.__dict__, "outcome": "no_attachment", "documents": ()})))
    return [
        (
            name,
            render(
                compose(f), from_address="intake@sscp.example.org", message_id="<r-1.a@sscp.example.org>", date=SENT
            ),
        )
        for name, f in variants
    ]


def searchable(raw: bytes) -> list[str]:
    """The reply as bytes and as a reader sees it (headers decoded, body decoded), with line
    breaks and wrapping folded away."""
    message = message_from_bytes(raw, policy=default)
    assert isinstance(message, EmailMessage)
    texts = [raw.decode("utf-8", "replace"), message.get_content()]
    texts += [f"{name}: {value}" for name, value in message.items()]
    return [" ".join(text.split()).casefold() for text in texts]


def test_the_planted_documents_do_carry_the_child_and_give_findings() -> None:
    ctx = fixture_context()
    doc = read_document(flawed.build("referral-death-without-date"), f"{PLANTED_FILENAME}.docx", ctx)
    assert (flawed.CHILD_NAME, flawed.CHILD_DOB, flawed.NHS_NUMBER) == (
        doc.value("child_name"),
        doc.value("child_dob"),
        doc.value("child_nhs_number"),
    )
    outcomes = planted_outcomes()
    assert len(LEAK_SOURCES) == len(outcomes)
    assert all(o.findings for o in outcomes)
    assert all(o.form_title for o in outcomes)


def test_no_reply_carries_a_personal_value_in_any_spelling() -> None:
    leaks = [
        (name, value)
        for name, raw in every_reply_from_planted_facts()
        for text in searchable(raw)
        for value in personal_strings()
        if " ".join(value.split()).casefold() in text
    ]
    assert [] == leaks


def test_the_leak_search_would_see_a_name_wrapped_or_encoded() -> None:
    doc = DocumentOutcome(1, SUMMARY, DocumentStatus.NEEDS_CHANGES, (error("x " * 30 + f"{flawed.CHILD_NAME} — é"),))
    (raw,) = [
        render(compose(facts(documents=(doc,))), from_address="i@sscp.example.org", message_id="<a@b>", date=SENT)
    ]
    assert any(flawed.CHILD_NAME.casefold() in text for text in searchable(raw))


def test_a_display_name_given_with_the_sender_address_is_dropped() -> None:
    draft = compose(facts(to=f'"{flawed.CHILD_NAME}" <{SENDER}>'))
    assert SENDER == draft.to
    assert SENDER == str(rendered(draft)["To"])


# --- headers ---------------------------------------------------------------------------------------


def test_a_reply_is_plain_text_utf8_marked_automatic_and_addressed_to_the_sender_only() -> None:
    message = rendered(compose(facts()))

    assert "text/plain" == message.get_content_type()
    assert "utf-8" == message.get_content_charset()
    assert not message.is_multipart()
    assert "auto-replied" == message["Auto-Submitted"]
    assert "All" == message["X-Auto-Response-Suppress"]
    assert None is message["Precedence"]
    assert (None, None, None) == (message["Reply-To"], message["Cc"], message["Bcc"])
    assert SENDER == message["To"]
    assert "intake@sscp.example.org" == message["From"]
    assert "<reply-1.x@sscp.example.org>" == message["Message-ID"]
    assert SENT == message["Date"].datetime
    assert "Received: case SSCP-2026-004 — 2 documents accepted" == message["Subject"]


def test_a_reply_threads_under_the_original() -> None:
    draft = compose(facts(references=("<root@police.example.org> <second@police.example.org>",)))
    message = rendered(draft)

    assert ORIGINAL_ID == message["In-Reply-To"]
    assert "<root@police.example.org> <second@police.example.org> <original-1@police.example.org>" == str(
        message["References"]
    )


def test_a_long_thread_keeps_its_root_and_the_latest_references() -> None:
    references = tuple(f"<m{n}@police.example.org>" for n in range(30))
    draft = compose(facts(references=references))

    assert MAX_REFERENCES == len(draft.references)
    assert "<m0@police.example.org>" == draft.references[0]
    assert ORIGINAL_ID == draft.references[-1]
    assert "<m29@police.example.org>" == draft.references[-2]


def test_malformed_message_ids_are_not_repeated() -> None:
    draft = compose(facts(in_reply_to="not an id\r\nBcc: x@example.com", references=("garbage", "<ok@example.org>")))

    assert (None, ("<ok@example.org>",)) == (draft.in_reply_to, draft.references)


def test_a_draft_may_not_add_recipients_or_a_reply_to() -> None:
    draft = ReplyDraft(to=SENDER, subject="s", body="b\n", headers={"Bcc": "someone@example.com"})
    with pytest.raises(ValueError, match="Bcc"):
        rendered(draft)


def test_a_reply_goes_to_exactly_one_address() -> None:
    with pytest.raises(ValueError):
        compose(facts(to="a@police.example.org, b@police.example.org"))


def test_the_reply_message_id_is_the_same_for_the_same_incoming_message() -> None:
    first = reply_message_id(42, "sscp.example.org")

    assert first == reply_message_id(42, "sscp.example.org")
    assert first != reply_message_id(43, "sscp.example.org")
    assert first.startswith("<reply-42.") and first.endswith("@sscp.example.org>")
    raw = render(compose(facts()), from_address="intake@sscp.example.org", message_id=first, date=SENT)
    assert first == message_from_bytes(raw, policy=default)["Message-ID"]


def test_a_message_id_domain_must_be_a_domain() -> None:
    with pytest.raises(ValueError):
        reply_message_id(1, "sscp.example.org>\r\nBcc: x")
