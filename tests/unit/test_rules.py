"""The checklist as a whole: every rule id of spec/forms.md, gates, clean documents,
no personal data in messages, and a 50,000-row chronology."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from core.model import Document, Rejection, Severity
from tests.fixtures.documents import (
    CHILD_DOB,
    CHILD_NAME,
    CHILD_NHS_NUMBER,
    agency_summary,
    chronology,
    context,
    declaration,
    document,
    event,
    events,
    good_outcome,
    referral,
    rules_of,
    serious_offence,
)
from validators import RULES, Checklist, check

#: spec/forms.md, "Quality rules (ids are stable)"
SPEC_RULES = {
    "DOC-UNREADABLE": "error",
    "DOC-UNSAFE": "error",
    "DOC-UNKNOWN": "error",
    "DOC-OLD-VERSION": "warning",
    "FIELD-REQUIRED": "error",
    "FIELD-INVALID": "error",
    "DATE-FUTURE": "error",
    "DATE-BEFORE-BIRTH": "warning",
    "DATE-APPROXIMATE": "warning",
    "DATE-ORDER": "error",
    "SIGNOFF-BEFORE-CONTENT": "warning",
    "CHRON-EMPTY": "error",
    "CHRON-ORDER": "warning",
    "CHRON-OUTSIDE-PERIOD": "warning",
    "CHRON-DUPLICATE": "warning",
    "CHRON-GAP": "warning",
    "CHRON-NO-ACTION": "warning",
    "TEXT-ABBREVIATION": "warning",
    "TEXT-PASTED-NOTES": "warning",
    "TEXT-PERSONAL-DATA": "warning",
    "TEXT-TOO-SHORT": "warning",
    "NIL-RETURN-CONFLICT": "warning",
    "REF-DEATH-DATE": "error",
    "DOI-DETAILS": "error",
    "CASE-MISMATCH": "error",
}


def _spec_table() -> dict[str, str] | None:
    for base in (Path(__file__).resolve().parents[3] / "shared", Path("/work/shared")):
        spec = base / "spec" / "forms.md"
        if spec.exists():
            text = spec.read_text(encoding="utf-8").split("## Quality rules", 1)[1]
            return dict(re.findall(r"^\| ([A-Z]+(?:-[A-Z]+)+) \| (error|warning) \|", text, re.MULTILINE))
    return None


def test_there_is_one_rule_for_every_rule_id_of_the_spec_with_its_severity():
    assert SPEC_RULES == {r.id: r.severity.value for r in RULES}


def test_the_spec_table_still_lists_the_same_rules():
    table = _spec_table()
    if table is None:
        # CI always has shared/ beside the clone: there a missing spec fails the run
        assert not os.environ.get("CI"), "spec/forms.md is not beside the checkout in CI"
        pytest.skip("spec/forms.md is not beside the checkout (outside CI)")
    assert SPEC_RULES == table


def test_every_rule_describes_itself():
    assert [] == [r.id for r in RULES if not r.description]


def test_a_checklist_refuses_two_rules_with_one_id():
    with pytest.raises(ValueError, match="FIELD-REQUIRED"):
        Checklist([RULES[4], RULES[4]])


CLEAN = {
    "referral": referral,
    "serious_offence": serious_offence,
    "good_outcome": good_outcome,
    "agency_summary": agency_summary,
    "declaration_of_interest": declaration,
    "chronology": chronology,
}


@pytest.mark.parametrize("form", sorted(CLEAN))
def test_a_clean_document_of_each_form_has_no_findings(form):
    assert [] == check(CLEAN[form](), context())


def test_a_document_that_was_not_read_gets_only_its_rejection():
    doc = document(None, {}, rejection=Rejection(rule="DOC-UNSAFE", reason="the file contains macros"))

    findings = check(doc, context())

    assert ["DOC-UNSAFE"] == rules_of(findings)
    assert "the file contains macros" in findings[0].message


def test_an_unreadable_file_gets_doc_unreadable_with_its_reason():
    doc = document(None, {}, rejection=Rejection(rule="DOC-UNREADABLE", reason="the file is password protected"))

    findings = check(doc, context())

    assert [("DOC-UNREADABLE", Severity.ERROR)] == [(f.rule, f.severity) for f in findings]
    assert "password protected" in findings[0].message


def test_an_unrecognised_document_gets_doc_unknown_only():
    assert ["DOC-UNKNOWN"] == rules_of(check(document(None, {"child_name": None}), context()))


def test_a_form_version_not_in_the_catalogue_is_unknown():
    assert ["DOC-UNKNOWN"] == rules_of(check(agency_summary(version="1999.1"), context()))


def test_an_older_accepted_version_is_a_warning_and_the_rest_is_still_checked():
    findings = check(agency_summary(version="2025.1", child_dob=None), context())

    assert ["DOC-OLD-VERSION", "FIELD-REQUIRED"] == rules_of(findings)
    assert Severity.WARNING == findings[0].severity


def test_the_checklist_collects_findings_of_every_rule_not_just_the_first():
    doc = referral(child_dob=None, referrer_email="not an address", incident_date="2027-01-01")

    assert {"FIELD-REQUIRED", "FIELD-INVALID", "DATE-FUTURE"} <= set(rules_of(check(doc, context())))


def _spoilt_documents() -> list[Document]:
    """Documents that trip as many rules as possible, with the child's details planted."""
    rows = [
        event(2, "2014-01-01", f"Visit to {CHILD_NAME}, born {CHILD_DOB}, NHS {CHILD_NHS_NUMBER}. CIN plan."),
        event(
            3,
            "2014-01-01",
            f"Visit to {CHILD_NAME}, born {CHILD_DOB}, NHS {CHILD_NHS_NUMBER}. CIN plan!",
            action_outcome=None,
            end_date="2013-01-01",
        ),
        event(4, "2010-05-05", f"{CHILD_NAME} <br> Created by: someone on 12/03/2025 14:32", end_date="2030-01-01"),
        event(5, "2031-01-01", f"{CHILD_NAME} was not involved"),
    ]
    return [
        chronology(rows=rows, nil_return=True, child_dob=CHILD_DOB, signoff_date="2011-01-01"),
        referral(
            harm_type="Death",
            incident_date="2001-01-01",
            approval_date="2000-01-01",
            incident_summary=f"{CHILD_NAME} {CHILD_DOB} LAC",
            reason_for_referral=CHILD_NAME,
            date_agency_aware="2099-01-01",
        ),
        agency_summary(agency_involved=False, learning=f"{CHILD_NAME} {CHILD_NHS_NUMBER}", period_to="2000-01-01"),
        declaration(prior_involvement=True, declarant_name=CHILD_NAME),
    ]


def test_no_message_ever_repeats_the_childs_name_date_of_birth_or_nhs_number():
    from core.model import CaseFacts

    case = CaseFacts(reference="SSCP-2026-001", child_name="Someone Else", child_dob="2001-01-01")
    findings = [f for doc in _spoilt_documents() for f in check(doc, context(case=case))]
    planted = [CHILD_NAME, CHILD_NAME.split("-")[0], CHILD_DOB, "17/04/2015", CHILD_NHS_NUMBER, "943 476 5919"]

    assert len({f.rule for f in findings}) >= 15  # the spoilt documents exercise most rules
    assert [] == [f.message for f in findings if any(p.lower() in f.message.lower() for p in planted)]


def test_a_50000_row_chronology_is_checked_and_only_its_real_problems_are_found():
    rows = events(50_000, first="2012-01-01", per_day=10)
    rows[100] = {**rows[100], "action_outcome": None}
    rows[40_000] = {**rows[40_000], "event": str(rows[40_000]["event"]) + " Call 07700 900123."}
    doc = chronology(rows=rows, period_from="2012-01-01", period_to="2025-12-31", child_dob="2011-05-01")

    findings = check(doc, context())

    assert [("CHRON-NO-ACTION", 102), ("TEXT-PERSONAL-DATA", 40_002)] == [(f.rule, f.row) for f in findings]
