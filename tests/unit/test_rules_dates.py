"""DATE-FUTURE, DATE-BEFORE-BIRTH, DATE-APPROXIMATE, DATE-ORDER and SIGNOFF-BEFORE-CONTENT."""

from __future__ import annotations

from core.model import FieldValue
from tests.fixtures.documents import (
    agency_summary,
    chronology,
    context,
    event,
    good_outcome,
    only,
    referral,
    serious_offence,
)
from validators import check


def found(rule, doc):
    return [(f.field, f.row) for f in only(rule, check(doc, context()))]


def test_a_date_after_the_day_of_receipt_is_in_the_future():
    findings = only("DATE-FUTURE", check(referral(referral_date="2026-03-03"), context()))

    assert [("referral_date", None)] == [(f.field, f.row) for f in findings]
    assert '"Date of referral" is later than the day we received the form. Please check the date.' == (
        findings[0].message
    )


def test_the_day_of_receipt_itself_is_not_in_the_future():
    assert [] == found("DATE-FUTURE", referral(referral_date="2026-03-02"))


def test_an_event_dated_after_receipt_is_in_the_future_with_its_row():
    doc = chronology(rows=[event(2, "2024-01-05"), event(3, "2024-02-01", end_date="2026-04-01")])

    assert [("end_date", 3)] == found("DATE-FUTURE", doc)


def test_an_event_before_the_childs_birth_is_a_warning_with_its_row():
    doc = chronology(rows=[event(2, "2015-03-01"), event(3, "2015-05-01")])

    findings = only("DATE-BEFORE-BIRTH", check(doc, context()))

    assert [("date", 2)] == [(f.field, f.row) for f in findings]
    assert findings[0].message.startswith('Row 2: "Date" is before the child\'s "Date of birth".')


def test_an_incident_before_the_childs_birth_is_a_warning():
    assert [("incident_date", None)] == found("DATE-BEFORE-BIRTH", referral(incident_date="2014-01-01"))


def test_events_after_birth_are_fine():
    assert [] == found("DATE-BEFORE-BIRTH", chronology())


def test_an_approximate_event_date_is_a_warning_with_its_row():
    doc = chronology(approximate=[(5, "date")])

    assert [("date", 5)] == found("DATE-APPROXIMATE", doc)


def test_an_approximate_field_date_is_a_warning():
    doc = referral()
    doc.fields["incident_date"] = FieldValue(value="2026-01-01", approximate=True)

    assert [("incident_date", None)] == found("DATE-APPROXIMATE", doc)


def test_exact_dates_are_not_approximate():
    assert [] == found("DATE-APPROXIMATE", referral())


def test_a_period_ending_before_it_starts_is_out_of_order():
    findings = only("DATE-ORDER", check(agency_summary(period_to="2023-12-31"), context()))

    assert ["period_to"] == [f.field for f in findings]
    assert '"Period covered to" is before "Period covered from". Please check both dates.' == findings[0].message


def test_a_practice_period_ending_before_it_starts_is_out_of_order():
    assert [("practice_to", None)] == found("DATE-ORDER", good_outcome(practice_to="2024-08-01"))


def test_a_death_before_birth_is_out_of_order():
    assert [("date_of_death", None)] == found("DATE-ORDER", referral(harm_type="Death", date_of_death="2010-01-01"))


def test_a_charge_before_the_offence_is_out_of_order():
    assert [("charge_date", None)] == found("DATE-ORDER", serious_offence(charge_date="2025-12-01"))


def test_an_event_ending_before_it_starts_is_out_of_order_in_its_row():
    doc = chronology(
        rows=[event(2, "2024-01-05", end_date="2024-01-04"), event(3, "2024-01-19", end_date="2024-01-19")]
    )

    assert [("end_date", 2)] == found("DATE-ORDER", doc)


def test_dates_in_order_are_fine():
    assert [] == found("DATE-ORDER", chronology())


def test_a_chronology_signed_off_before_its_last_event_is_a_warning():
    findings = only("SIGNOFF-BEFORE-CONTENT", check(chronology(signoff_date="2025-06-01"), context()))

    assert [("signoff_date", None)] == [(f.field, f.row) for f in findings]
    assert "the event in row 53" in findings[0].message


def test_a_referral_approved_before_the_incident_is_a_warning():
    assert [("approval_date", None)] == found("SIGNOFF-BEFORE-CONTENT", referral(approval_date="2026-01-09"))


def test_signing_off_after_the_content_is_fine():
    assert [] == found("SIGNOFF-BEFORE-CONTENT", chronology(signoff_date="2025-12-17"))
