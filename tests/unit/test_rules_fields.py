"""FIELD-REQUIRED, FIELD-INVALID, REF-DEATH-DATE and DOI-DETAILS."""

from __future__ import annotations

from core.model import FieldValue, ReadIssue
from tests.fixtures.documents import (
    agency_summary,
    chronology,
    context,
    declaration,
    event,
    only,
    referral,
)
from validators import check
from validators.rules.fields import nhs_number_is_valid


def required(doc):
    return [(f.field, f.row, f.message) for f in only("FIELD-REQUIRED", check(doc, context()))]


def invalid(doc):
    return [(f.field, f.row) for f in only("FIELD-INVALID", check(doc, context()))]


def test_an_empty_mandatory_field_is_required_and_named_by_its_printed_label():
    assert [("child_dob", None, '"Date of birth" is empty. Please fill it in.')] == required(referral(child_dob=None))


def test_a_mandatory_field_missing_altogether_is_required():
    doc = referral()
    del doc.fields["referrer_role"]

    assert ["referrer_role"] == [field for field, _, _ in required(doc)]


def test_a_blank_text_counts_as_empty():
    assert ["referrer_name"] == [field for field, _, _ in required(referral(referrer_name="   "))]


def test_an_unanswered_yes_no_question_asks_for_an_answer():
    [(_, _, message)] = required(agency_summary(agency_involved=None))

    assert '"Was your agency involved?" is not answered. Please answer Yes or No.' == message


def test_a_field_the_reader_could_not_read_is_invalid_not_required():
    doc = referral()
    doc.fields["child_dob"] = FieldValue(value=None, problem="The day and month are unclear")

    findings = check(doc, context())

    assert [("FIELD-INVALID", "child_dob")] == [(f.rule, f.field) for f in findings]
    assert '"Date of birth" could not be read: the day and month are unclear. Please write dates as dd/mm/yyyy.' == (
        findings[0].message
    )


def test_criteria_need_at_least_one_tick():
    assert [("criteria", None, '"Criteria": please tick at least 1 option.')] == required(referral(criteria=[]))


def test_a_nil_return_may_leave_the_narrative_empty():
    doc = agency_summary(
        agency_involved=False,
        summary_of_involvement=None,
        went_well=None,
        could_improve=None,
        learning=None,
        child_voice=None,
    )

    assert [] == required(doc)


def test_a_return_that_is_not_nil_must_fill_the_narrative():
    assert ["went_well"] == [field for field, _, _ in required(agency_summary(went_well=None))]


def test_an_event_without_its_date_source_or_text_is_required_with_its_row():
    doc = chronology(rows=[event(2, "2024-01-05"), event(3, None, source="", event=None)])

    assert [("date", 3), ("source", 3), ("event", 3)] == [(field, row) for field, row, _ in required(doc)]


def test_an_event_cell_the_reader_could_not_read_is_invalid_with_its_row_not_required():
    doc = chronology(
        rows=[event(2, "2024-01-05"), event(3, None)],
        issues=[ReadIssue(field="date", row=3, message="Not a date we can read")],
    )

    findings = check(doc, context())

    assert [("FIELD-INVALID", "date", 3)] == [(f.rule, f.field, f.row) for f in findings if f.rule.startswith("FIELD")]
    assert findings[0].message.startswith('Row 3: "Date" could not be read: not a date we can read.')


def test_a_table_cell_the_reader_could_not_read_is_invalid_with_its_row():
    doc = referral(issues=[ReadIssue(field="contact_email", row=2, message="Not an email", table="agencies_involved")])

    assert [("contact_email", 2)] == invalid(doc)


def test_values_of_the_wrong_shape_are_invalid():
    doc = referral(
        referrer_email="alex at example.org",
        legal_status="Sort of",
        referrer_agency="nobody",
        child_nhs_number="1234567890",
        incident_date="2026-02-30",
    )

    expected = ["child_nhs_number", "incident_date", "legal_status", "referrer_agency", "referrer_email"]
    assert [(field, None) for field in expected] == sorted(invalid(doc))


def test_a_case_reference_must_have_the_configured_pattern():
    assert [("case_reference", None)] == invalid(declaration(case_reference="2026/1"))


def test_an_event_with_an_unknown_contact_type_is_invalid_in_its_row():
    doc = chronology(rows=[event(2, "2024-01-05"), event(3, "2024-01-19", contact_type="Carrier pigeon")])

    assert [("contact_type", 3)] == invalid(doc)


def test_nhs_numbers_are_checked_with_modulus_11():
    assert [True, False, False] == [nhs_number_is_valid(n) for n in ("9434765919", "9434765918", "943476591")]


def test_a_death_without_a_date_of_death_is_ref_death_date_and_not_also_field_required():
    findings = check(referral(harm_type="Death"), context())

    assert [("REF-DEATH-DATE", "date_of_death")] == [(f.rule, f.field) for f in findings]
    assert "Please add the date of death." in findings[0].message


def test_a_death_with_its_date_is_fine():
    assert [] == check(referral(harm_type="Death", date_of_death="2026-01-10"), context())


def test_serious_harm_needs_no_date_of_death():
    assert [] == only("REF-DEATH-DATE", check(referral(harm_type="Serious harm"), context()))


def test_a_yes_without_details_is_doi_details_not_field_required():
    findings = check(declaration(financial_interest=True), context())

    assert [("DOI-DETAILS", "financial_interest_details")] == [(f.rule, f.field) for f in findings]
    assert (
        'You answered Yes to "Do you have a commissioning, contractual or financial interest?" but '
        '"Details of the interest" is empty. Please give the details.'
    ) == findings[0].message


def test_a_yes_with_details_is_fine():
    doc = declaration(personal_relationship=True, personal_relationship_details="A neighbour of the family.")

    assert [] == check(doc, context())
