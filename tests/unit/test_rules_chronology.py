"""CHRON-* and NIL-RETURN-CONFLICT."""

from __future__ import annotations

from core.model import Value
from tests.fixtures.documents import agency_summary, chronology, context, event, only
from validators import check
from validators.rules.chronology import more_than_months_apart


def found(rule, doc, **quality):
    return [(f.field, f.row) for f in only(rule, check(doc, context(**quality)))]


def monthly(first_month: int = 1, last_month: int = 24) -> list[dict[str, Value]]:
    """An event on the 10th of each month of 2024 and 2025 (months numbered from 1)."""
    return [
        event(m + 1, f"{2024 + (m - 1) // 12}-{(m - 1) % 12 + 1:02d}-10", f"Monthly review meeting number {m}.")
        for m in range(first_month, last_month + 1)
    ]


def test_a_chronology_with_no_events_and_no_nil_return_is_empty():
    findings = only("CHRON-EMPTY", check(chronology(rows=[]), context()))

    assert 1 == len(findings)
    assert 'tick "Nil return (no involvement in the period)"' in findings[0].message


def test_a_nil_return_with_no_events_is_not_empty():
    assert [] == check(chronology(rows=[], nil_return=True), context())


def test_a_nil_return_with_events_conflicts():
    assert [("nil_return", None)] == found("NIL-RETURN-CONFLICT", chronology(nil_return=True))


def test_an_event_saying_the_agency_was_not_involved_conflicts_in_its_row():
    rows = [
        event(2, "2024-01-05"),
        event(3, "2024-01-19", "Agency not involved during this period."),
        event(4, "2024-02-02", "No involvement."),
    ]

    assert [("event", 3), ("event", 4)] == found("NIL-RETURN-CONFLICT", chronology(rows=rows))


def test_someone_else_not_being_involved_is_not_a_conflict():
    rows = [event(2, "2024-01-05", "Father said he was not involved in the argument.")]

    assert [] == found("NIL-RETURN-CONFLICT", chronology(rows=rows))


def test_a_nil_agency_summary_with_analysis_filled_in_conflicts():
    doc = agency_summary(agency_involved=False, went_well=None, could_improve=None, child_voice=None)

    findings = only("NIL-RETURN-CONFLICT", check(doc, context()))

    assert [("agency_involved", None)] == [(f.field, f.row) for f in findings]
    assert '"Learning" is filled in' in findings[0].message


def test_an_agency_summary_that_was_involved_has_no_conflict():
    assert [] == found("NIL-RETURN-CONFLICT", agency_summary())


def test_events_out_of_date_order_report_the_first_row_out_of_order():
    rows = [event(2, "2024-01-05"), event(3, "2024-03-01"), event(4, "2024-02-01"), event(5, "2024-01-01")]

    assert [("date", 4)] == found("CHRON-ORDER", chronology(rows=rows))


def test_events_in_date_order_are_fine():
    assert [] == found("CHRON-ORDER", chronology())


def test_each_event_outside_the_period_is_reported():
    rows = [event(2, "2023-12-31"), *monthly(1, 24)[1:], event(30, "2026-01-01")]

    assert [("date", 2), ("date", 30)] == found("CHRON-OUTSIDE-PERIOD", chronology(rows=rows))


def test_events_inside_the_period_are_fine():
    assert [] == found("CHRON-OUTSIDE-PERIOD", chronology(rows=monthly()))


def test_the_same_event_twice_on_one_day_is_a_duplicate_of_the_first():
    rows = [
        event(2, "2024-01-05", "Home visit: child seen, bedroom cold."),
        event(3, "2024-01-05", "Telephone call with the school."),
        event(4, "2024-01-05", "Home visit - child seen; bedroom cold"),
        event(5, "2024-01-19", "Home visit: child seen, bedroom cold."),
    ]

    findings = only("CHRON-DUPLICATE", check(chronology(rows=rows), context()))

    assert [("event", 4)] == [(f.field, f.row) for f in findings]
    assert "row 2" in findings[0].message


def test_near_identical_text_on_one_day_is_a_duplicate():
    rows = [
        event(2, "2024-01-05", "Strategy discussion held with police and health colleagues about the bruise."),
        event(3, "2024-01-05", "Strategy discussion held with police and health colleague about the bruises."),
    ]

    assert [("event", 3)] == found("CHRON-DUPLICATE", chronology(rows=rows))


def test_different_events_on_one_day_are_not_duplicates():
    rows = [event(2, "2024-01-05", "Home visit: child seen."), event(3, "2024-01-05", "Letter sent to the family.")]

    assert [] == found("CHRON-DUPLICATE", chronology(rows=rows))


def test_the_similarity_threshold_comes_from_the_settings():
    rows = [event(2, "2024-01-05", "Home visit, child seen and well"), event(3, "2024-01-05", "Home visit, child seen")]

    assert [("event", 3)] == found("CHRON-DUPLICATE", chronology(rows=rows), duplicate_similarity=0.8)


def test_no_events_for_more_than_six_months_is_a_gap_before_the_next_event():
    rows = [*monthly(1, 3), *monthly(11, 24)]  # nothing from 10 March to 10 November 2024

    findings = only("CHRON-GAP", check(chronology(rows=rows), context()))

    assert [("date", 12)] == [(f.field, f.row) for f in findings]
    assert "between row 4 and this event" in findings[0].message


def test_gaps_at_the_start_and_end_of_the_period_count():
    assert [("date", 9), ("date", 15)] == found("CHRON-GAP", chronology(rows=monthly(8, 14)))


def test_the_gap_span_comes_from_the_settings():
    rows = [*monthly(1, 3), *monthly(6, 24)]

    assert [("date", 7)] == found("CHRON-GAP", chronology(rows=rows), gap_months=2)


def test_regular_events_leave_no_gap():
    assert [] == found("CHRON-GAP", chronology(rows=monthly()))


def test_months_are_counted_as_a_person_counts_them():
    assert [False, True, False, True] == [
        more_than_months_apart("2024-01-31", "2024-07-31", 6),
        more_than_months_apart("2024-01-31", "2024-08-01", 6),
        more_than_months_apart("2024-08-31", "2025-02-28", 6),
        more_than_months_apart("2024-03-10", "2024-11-10", 6),
    ]


def test_an_event_without_an_action_or_outcome_is_reported_per_row():
    rows = [
        event(2, "2024-01-05", action_outcome=None),
        event(3, "2024-01-19"),
        event(4, "2024-02-02", action_outcome=" "),
    ]

    findings = only("CHRON-NO-ACTION", check(chronology(rows=rows), context()))

    assert [("action_outcome", 2), ("action_outcome", 4)] == [(f.field, f.row) for f in findings]
    assert 'Row 2: "Action / outcome" is empty. Please record the action taken, or why no action was taken.' == (
        findings[0].message
    )


def test_events_with_actions_are_fine():
    assert [] == found("CHRON-NO-ACTION", chronology())
