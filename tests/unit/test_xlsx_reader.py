"""Reading returned chronology workbooks (parsers.xlsx_reader)."""

from __future__ import annotations

import datetime as dt

from pytest import MonkeyPatch

from core.model import Document, Location
from parsers import xlsx_reader
from parsers.templates import build_template
from parsers.xlsx_reader import read_xlsx
from tests.fixtures.filler import fill
from tests.fixtures.sample import complete_events, complete_values, fixture_context
from tests.fixtures.variants import CHRON_HEADINGS
from tests.fixtures.xlsx_kit import CellValue, Sheet, workbook_bytes

HEADER: list[CellValue] = list(CHRON_HEADINGS)


def read(*sheets: Sheet) -> Document:
    return read_xlsx(workbook_bytes(sheets), "chronology.xlsx", fixture_context())


def event(day: dt.date, text: str, seq: int = 1) -> list[CellValue]:
    """A template-ordered event row."""
    return [seq, day, None, None, "Case record", "Health visitor", "Child A", "Home visit", text, "Noted", "", "Yes"]


def details_sheet(**overrides: CellValue) -> Sheet:
    values: dict[str, CellValue] = {
        "Case reference": "SSCP-2025-014",
        "Child's name": "Child A",
        "Date of birth": dt.date(2015, 6, 14),
        "Agency": "Greater Manchester Police",
        "Author name": "Casey Lund",
        "Period covered from": dt.date(2025, 1, 1),
        "Period covered to": dt.date(2025, 12, 31),
    }
    values.update(overrides)
    return Sheet("Details", rows=[[label, value] for label, value in values.items()])


def values_of(doc: Document) -> dict[str, object]:
    return {k: v.value for k, v in doc.fields.items() if v.value is not None}


def dates_and_rows(doc: Document) -> list[tuple[int, object]]:
    return [(int(str(r["row"])), r["date"]) for r in doc.rows]


# -- the round trip with the project's own template ------------------------------------------


def test_a_filled_template_reads_back_exactly_the_values_and_events() -> None:
    ctx = fixture_context()
    form = ctx.catalogue.get("chronology")
    values = complete_values("chronology")
    events = complete_events(12)

    doc = read_xlsx(fill(form, values, events), "chronology.xlsx", ctx)

    assert ("chronology", form.version, "properties", "xlsx") == (
        doc.form,
        doc.version,
        doc.identified_by,
        doc.media,
    )
    assert values == {k: v.value for k, v in doc.fields.items()}
    assert [{"row": n, **e} for n, e in enumerate(events, start=2)] == doc.rows
    assert ([], [], "sheet 'Chronology'") == (doc.issues, doc.approximate, doc.rows_location)
    assert ["SSCP-2025-014"] == doc.references_seen


def test_the_blank_template_is_identified_with_no_events_and_empty_details() -> None:
    ctx = fixture_context()
    name, blank = build_template(ctx.catalogue.get("chronology"))

    doc = read_xlsx(blank, name, ctx)

    assert ("chronology", "properties", []) == (doc.form, doc.identified_by, doc.rows)
    assert {} == values_of(doc)
    assert [] == [f for f, v in doc.fields.items() if v.problem is not None]
    assert [] == doc.references_seen  # the guidance's example reference is not a reference


def test_a_value_records_the_cell_it_was_read_from() -> None:
    doc = read(details_sheet(), Sheet("Chronology", rows=[HEADER, event(dt.date(2025, 3, 3), "One")]))

    assert Location(kind="cell", sheet="Details", ref="B3") == doc.fields["child_dob"].location


# -- identification --------------------------------------------------------------------------


def test_a_workbook_without_properties_is_identified_by_its_event_headings() -> None:
    doc = read(Sheet("Sheet1", rows=[HEADER, event(dt.date(2025, 3, 3), "One")]))

    assert ("chronology", "labels", [(2, "2025-03-03")]) == (doc.form, doc.identified_by, dates_and_rows(doc))


def test_a_workbook_with_no_event_headings_is_not_identified() -> None:
    doc = read(Sheet("Budget", rows=[["Item", "Cost"], ["Paper", 3.5]]))

    assert (None, []) == (doc.form, doc.rows)


def test_bytes_that_are_not_a_workbook_are_unreadable() -> None:
    doc = read_xlsx(b"PK\x03\x04 not really a zip", "x.xlsx", fixture_context())

    assert doc.rejection is not None and "DOC-UNREADABLE" == doc.rejection.rule


# -- title rows and header details above the events ------------------------------------------


def test_header_details_above_the_events_are_read_and_event_rows_keep_sheet_numbers() -> None:
    chronology = Sheet(
        "Chronology",
        rows=[
            ["Single Agency Chronology"],
            ["Case reference: SSCP-2025-014"],
            ["Child's name", "Child A"],
            [None, None, "Agency", "Greater Manchester Police"],
            [],
            HEADER,
            event(dt.date(2025, 3, 3), "One"),
        ],
        merged=("A1:F1",),
    )

    doc = read(chronology)

    assert {
        "case_reference": "SSCP-2025-014",
        "child_name": "Child A",
        "agency": "gmp",
    } == values_of(doc)
    assert Location(kind="cell", sheet="Chronology", ref="A2") == doc.fields["case_reference"].location
    assert Location(kind="cell", sheet="Chronology", ref="D4") == doc.fields["agency"].location
    assert [(7, "2025-03-03")] == dates_and_rows(doc)


def test_details_are_read_by_label_wherever_they_stand() -> None:
    cover = Sheet(
        "Cover",
        rows=[
            ["Chronology for the review"],
            [None, None, "Name of author", None, "Casey Lund"],
            [None, None, "Date signed off", dt.date(2026, 2, 20)],
        ],
    )

    doc = read(cover, Sheet("Chronology", rows=[HEADER, event(dt.date(2025, 3, 3), "One")]))

    assert {"author_name": "Casey Lund", "signoff_date": "2026-02-20"} == values_of(doc)


def test_a_value_found_beats_an_empty_label_elsewhere() -> None:
    doc = read(
        details_sheet(**{"Author name": None}),
        Sheet("Chronology", rows=[["Author name", "Casey Lund"], HEADER, event(dt.date(2025, 3, 3), "One")]),
    )

    assert "Casey Lund" == doc.value("author_name")


def test_a_label_beside_another_label_has_an_empty_value() -> None:
    doc = read(
        Sheet("Details", rows=[["Case reference", "Child's name", "Child A"]]),
        Sheet("Chronology", rows=[HEADER]),
    )

    assert (None, "Child A") == (doc.value("case_reference"), doc.value("child_name"))


# -- columns, rows and sheets as agencies return them -------------------------------------------


def test_columns_in_another_order_and_renamed_are_read() -> None:
    rows: list[list[CellValue]] = [
        ["Details of event", "Outcome", "Date of event", "Source"],
        ["Child seen at clinic", "Reviewed", dt.date(2025, 5, 6), "Clinic letter"],
    ]

    doc = read(Sheet("Chronology", rows=rows))

    (row,) = doc.rows
    assert ("Child seen at clinic", "Reviewed", "2025-05-06", "Clinic letter", None) == (
        row["event"],
        row["action_outcome"],
        row["date"],
        row["source"],
        row["time"],
    )


def test_blank_and_decorative_rows_between_events_are_skipped() -> None:
    rows: list[list[CellValue]] = [
        HEADER,
        event(dt.date(2025, 1, 5), "One", 1),
        [],
        ["----", "----", "----", "----", "----", "----", "----", "----", "----", "----", "----", "----"],
        [None, "2025"],
        ["Health visiting records"],
        event(dt.date(2025, 2, 5), "Two", 2),
    ]

    doc = read(Sheet("Chronology", rows=rows, filled_rows=(4,), width=12))

    assert [(2, "2025-01-05"), (7, "2025-02-05")] == dates_and_rows(doc)
    assert [] == doc.issues


def test_thousands_of_formatted_empty_rows_below_the_data_add_nothing() -> None:
    rows = [HEADER, *(event(dt.date(2025, 1, 1) + dt.timedelta(days=i), f"Event {i}", i) for i in range(3))]

    doc = read(Sheet("Chronology", rows=rows, formatted_empty_rows=3000, width=12, date_columns=("B", "D")))

    assert [2, 3, 4] == [r["row"] for r in doc.rows]


def test_the_sheet_named_like_the_template_wins_over_another_with_events() -> None:
    old = Sheet("Old version", rows=[HEADER, event(dt.date(2024, 1, 1), "Old")])
    current = Sheet("Chronology", rows=[["Date", "Event"], [dt.date(2025, 1, 1), "New"]])

    doc = read(old, current)

    assert (["New"], "sheet 'Chronology'") == ([r["event"] for r in doc.rows], doc.rows_location)


def test_the_best_header_match_wins_when_no_sheet_is_named_like_the_template() -> None:
    notes = Sheet("Notes", rows=[["Date", "Event"], [dt.date(2024, 1, 1), "A note"]])
    events = Sheet("Events 2025", rows=[HEADER, event(dt.date(2025, 1, 1), "The event")])

    doc = read(notes, events)

    assert ["The event"] == [r["event"] for r in doc.rows]


def test_a_hidden_sheet_is_ignored_when_a_visible_one_matches() -> None:
    hidden = Sheet("Chronology", rows=[HEADER, event(dt.date(2024, 1, 1), "Hidden")], hidden=True)
    shown = Sheet("Chronology 2", rows=[HEADER, event(dt.date(2025, 1, 1), "Shown")])

    doc = read(shown, hidden)

    assert ["Shown"] == [r["event"] for r in doc.rows]


def test_a_hidden_sheet_is_read_when_it_is_the_only_match() -> None:
    cover = Sheet("Cover", rows=[["Please return by 31 March"]])
    hidden = Sheet("Data", rows=[HEADER, event(dt.date(2025, 1, 1), "Hidden")], hidden=True)

    doc = read(cover, hidden)

    assert (["Hidden"], "sheet 'Data'") == ([r["event"] for r in doc.rows], doc.rows_location)


def test_excel_dates_and_typed_dates_are_read_and_approximate_ones_listed() -> None:
    rows: list[list[CellValue]] = [
        ["Date", "Event"],
        [dt.datetime(2025, 3, 3), "Excel date"],
        ["04/03/2025", "Typed date"],
        ["?05/03/2025", "Uncertain day"],
        ["Apr 2025", "Month only"],
        ["31/02/2025", "Impossible"],
    ]

    doc = read(Sheet("Chronology", rows=rows))

    assert [(2, "2025-03-03"), (3, "2025-03-04"), (4, "2025-03-05"), (5, "2025-04-01"), (6, None)] == (
        dates_and_rows(doc)
    )
    assert [(4, "date"), (5, "date")] == doc.approximate
    assert [("date", 6)] == [(i.field, i.row) for i in doc.issues]


# -- case references ---------------------------------------------------------------------------


def test_case_references_are_collected_from_the_header_area_and_the_events() -> None:
    rows: list[list[CellValue]] = [
        ["Review SSCP-2025-014 chronology"],
        HEADER,
        event(dt.date(2025, 3, 3), "Linked to review sscp 2024/7 by the panel"),
        event(dt.date(2025, 3, 4), "No reference here"),
    ]

    doc = read(Sheet("Chronology", rows=rows))

    assert ["SSCP-2025-014", "SSCP-2024-007"] == doc.references_seen


def test_an_events_table_that_starts_further_right_and_lower_is_read_in_place() -> None:
    rows: list[list[CellValue]] = [
        [None, None, "Chronology"],
        [],
        [None, None, "Date", "Event", "Child seen"],
        [None, None, dt.date(2025, 3, 3), "One", "No"],
        [None, None, None, None, None, "a note far to the right"],
        [None, None, "05/03/2025", "Two", "Yes"],
    ]

    doc = read(Sheet("Chronology", rows=rows))

    assert [(4, "2025-03-03", "One", False), (6, "2025-03-05", "Two", True)] == [
        (r["row"], r["date"], r["event"], r["child_seen"]) for r in doc.rows
    ]


def test_the_whole_sheet_read_at_once_gives_the_same_rows_as_streaming(monkeypatch: MonkeyPatch) -> None:
    rows: list[list[CellValue]] = [
        ["Title"],
        [None, "Date", "Event"],
        [None, dt.date(2025, 3, 3), "One"],
        [],
        [None, "?04/03/2025", "Two"],
    ]
    streamed = read(Sheet("Chronology", rows=rows))
    monkeypatch.setattr(xlsx_reader._WorkbookReader, "stream_rows", lambda *args: False)

    whole = read(Sheet("Chronology", rows=rows))

    assert (streamed.rows, streamed.approximate) == (whole.rows, whole.approximate)
    assert [3, 5] == [r["row"] for r in whole.rows]
