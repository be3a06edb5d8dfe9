"""TEXT-ABBREVIATION, TEXT-PASTED-NOTES, TEXT-PERSONAL-DATA and TEXT-TOO-SHORT."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fixtures.documents import LONG_TEXT, agency_summary, chronology, context, event, only, referral
from validators import check
from validators.rules.text import _TOKENS, _may_hold_tokens


def found(rule, doc, **quality):
    return [(f.field, f.row) for f in only(rule, check(doc, context(**quality)))]


def test_an_abbreviation_not_in_the_glossary_is_reported_once_where_first_used():
    doc = agency_summary(learning=LONG_TEXT + " The CIN plan was reviewed.", child_voice=LONG_TEXT + " CIN again.")

    findings = only("TEXT-ABBREVIATION", check(doc, context()))

    assert [("learning", None)] == [(f.field, f.row) for f in findings]
    assert '"Learning" uses the abbreviation "CIN", which is not explained. Please add it to the glossary.' == (
        findings[0].message
    )


def test_an_abbreviation_in_the_glossary_is_fine():
    assert [] == found("TEXT-ABBREVIATION", agency_summary())  # key_episodes uses MASH, in the glossary


def test_the_partnerships_standard_abbreviations_are_fine():
    doc = agency_summary(learning=LONG_TEXT + " The GP and the LAC nurse met.")

    assert [] == found("TEXT-ABBREVIATION", doc, standard_abbreviations=("GP", "LAC"))


def test_an_abbreviation_in_a_chronology_is_reported_in_the_row_first_using_it():
    rows = [
        event(2, "2024-01-05"),
        event(3, "2024-01-19", "Referral to CAMHS."),
        event(4, "2024-02-02", "CAMHS saw the child."),
    ]

    findings = only("TEXT-ABBREVIATION", check(chronology(rows=rows), context()))

    assert [("event", 3)] == [(f.field, f.row) for f in findings]
    assert "write it out in full the first time it is used" in findings[0].message


def test_capitalised_words_and_case_references_are_not_abbreviations():
    rows = [event(2, "2024-01-05", "Mother said she would NOT attend; see SSCP-2026-001. Child A was seen.")]

    assert [] == found("TEXT-ABBREVIATION", chronology(rows=rows))


def test_system_stamps_look_like_pasted_notes():
    rows = [
        event(2, "2024-01-05", "Created by: J Bloggs on 12/03/2025 14:32 Visit completed."),
        event(3, "2024-01-19", "[Entered in error]"),
        event(4, "2024-02-02", "Printed: 01/02/2024"),
        event(5, "2024-02-16", "Visit at 14:32 went well."),
    ]

    assert [("event", 2), ("event", 3), ("event", 4)] == found("TEXT-PASTED-NOTES", chronology(rows=rows))


def test_markup_looks_like_pasted_notes():
    rows = [
        event(2, "2024-01-05", "Visit<br>child seen"),
        event(3, "2024-01-19", "Mum&nbsp;present"),
        event(4, "2024-02-02", r"{\rtf1\ansi Visit}"),
        event(5, "2024-02-16", "Child is < 5 years old & well."),
    ]

    findings = only("TEXT-PASTED-NOTES", check(chronology(rows=rows), context()))

    assert [2, 3, 4] == [f.row for f in findings]
    assert 'Row 2: "Event" looks like pasted case notes (formatting code).' in findings[0].message


def test_a_very_long_cell_looks_like_pasted_notes():
    doc = referral(incident_summary=LONG_TEXT * 3)

    assert [("incident_summary", None)] == found("TEXT-PASTED-NOTES", doc, pasted_notes_max_chars=500)


def test_plain_narrative_is_not_pasted_notes():
    assert [] == found("TEXT-PASTED-NOTES", chronology())


def test_identifiers_in_narrative_are_personal_data_one_finding_per_cell():
    rows = [
        event(2, "2024-01-05", "Father's number is 07700 900123 and he lives at M6 8HD."),
        event(3, "2024-01-19", "Uncle's NI number AB123456C was recorded."),
        event(4, "2024-02-02", "Sibling NHS number 401 023 2137 noted."),
        event(5, "2024-02-16", "Police called on +44 161 496 0000."),
    ]

    findings = only("TEXT-PERSONAL-DATA", check(chronology(rows=rows), context()))

    assert [2, 3, 4, 5] == [f.row for f in findings]
    assert 'Row 2: "Event" seems to contain a phone number and a postcode.' in findings[0].message


def test_numbers_that_are_not_identifiers_are_fine():
    rows = [event(2, "2024-01-05", "Visit 3 of 10 on 12/03/2024 at 14:30; 1234567890 is not a valid NHS number.")]

    assert [] == found("TEXT-PERSONAL-DATA", chronology(rows=rows))


def test_the_childs_own_postcode_and_nhs_number_are_fine():
    doc = referral(incident_summary=LONG_TEXT + " At home, M6 8HD. NHS number 943 476 5919.")

    assert [] == found("TEXT-PERSONAL-DATA", doc)


def test_an_analysis_section_under_the_word_count_is_too_short():
    findings = only("TEXT-TOO-SHORT", check(agency_summary(learning="We learnt a lot."), context()))

    assert [("learning", None)] == [(f.field, f.row) for f in findings]
    assert findings[0].message.startswith('"Learning" has 4 words. Please write at least 40 words')


def test_an_empty_analysis_section_is_required_not_too_short():
    assert [] == found("TEXT-TOO-SHORT", agency_summary(learning=None))


def test_the_word_count_comes_from_the_settings():
    assert [] == found("TEXT-TOO-SHORT", agency_summary(learning="We learnt a lot."), min_words=4)


# --- the C-level pre-test of the token scan ----------------------------------------------
# what _may_hold_tokens rules out, the token pattern never matches: text made of the
# characters the pattern starts or goes on with, and a few others
_TOKEN_ALPHABET = "abeprsABCDGHNPSWXYZ0123456789 -:+<&{}\\/>;#\t\n\x00.,'()" + "é٣"


@given(st.text(alphabet=_TOKEN_ALPHABET, max_size=40))
@settings(max_examples=3000)
def test_a_text_ruled_out_before_the_scan_holds_no_token(text):
    if not _may_hold_tokens(text):
        assert _TOKENS.search(text) is None


def test_the_pre_test_lets_every_kind_of_token_through():
    for text in ("a CIN plan", "call 07700 900123", "NHS 943 476 5919", "AB 12 34 56 C", "M1 1AE", "note:", "<br>"):
        assert _may_hold_tokens(text), text
    assert not _may_hold_tokens("The health visitor recorded that the family attended.")
