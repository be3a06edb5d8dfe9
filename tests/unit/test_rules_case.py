"""CASE-MISMATCH: the child of the form against the case it names."""

from __future__ import annotations

from core.model import CaseFacts
from tests.fixtures.documents import CASE_REFERENCE, CHILD_DOB, CHILD_NAME, agency_summary, context, only
from validators import check


def mismatches(doc, case):
    return [(f.field, f.message) for f in only("CASE-MISMATCH", check(doc, context(case=case)))]


def test_a_different_date_of_birth_for_the_named_case_is_a_mismatch():
    case = CaseFacts(reference=CASE_REFERENCE, child_name=CHILD_NAME, child_dob="2016-04-17")

    assert [
        (
            "child_dob",
            '"Date of birth" does not match the case this form names. '
            "Please check the case reference and the date of birth.",
        )
    ] == mismatches(agency_summary(), case)


def test_a_different_name_for_the_named_case_is_a_mismatch():
    case = CaseFacts(reference=CASE_REFERENCE, child_name="Child B", child_dob=CHILD_DOB)

    assert ["child_name"] == [field for field, _ in mismatches(agency_summary(child_name="Child A"), case)]


def test_names_compare_without_case_punctuation_or_spacing():
    case = CaseFacts(reference=CASE_REFERENCE, child_name="child  a", child_dob=CHILD_DOB)

    assert [] == mismatches(agency_summary(child_name="Child A."), case)


def test_the_same_child_is_no_mismatch():
    case = CaseFacts(reference=CASE_REFERENCE, child_name=CHILD_NAME, child_dob=CHILD_DOB)

    assert [] == mismatches(agency_summary(), case)


def test_a_case_with_another_reference_is_not_compared():
    case = CaseFacts(reference="SSCP-2026-999", child_name="Child B", child_dob="2001-01-01")

    assert [] == mismatches(agency_summary(), case)


def test_without_a_case_nothing_is_compared():
    assert [] == mismatches(agency_summary(), None)
