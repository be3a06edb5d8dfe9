"""The shared chronology event-row reader (parsers.events)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.catalogue import FormDef
from core.errors import ReaderFault
from parsers import events as events_module
from parsers.events import EventsReader, event_row_adapter
from parsers.values import coerce
from tests.fixtures.sample import fixture_context
from tests.fixtures.variants import CHRON_HEADINGS

#: the chronology template's headings
TEMPLATE_HEADER = CHRON_HEADINGS


def chronology() -> FormDef:
    return fixture_context().catalogue.get("chronology")


def reader() -> EventsReader:
    return EventsReader(chronology(), fixture_context())


def read(header: Sequence[object], rows: Sequence[Sequence[object]], first_row: int = 2) -> EventsReader:
    r = reader()
    assert r.map_header(header) is not None
    for offset, cells in enumerate(rows):
        r.read_row(first_row + offset, cells)
    return r


def event_row(**values: object) -> dict[str, object]:
    """A row as the reader gives it: every column present, None unless given."""
    row: dict[str, object] = {"row": 0, **dict.fromkeys(c.id for c in chronology().events)}
    row.update(values)
    return row


# -- the header -----------------------------------------------------------------------------


def test_the_template_header_maps_every_column_in_order() -> None:
    expected = {i: c.id for i, c in enumerate(chronology().events)}

    assert expected == reader().map_header(TEMPLATE_HEADER)


def test_renamed_and_reordered_headings_map_to_their_columns() -> None:
    header = ["Details of event", "", "Date of event", "Outcome", "Source"]

    assert {0: "event", 2: "date", 3: "action_outcome", 4: "source"} == reader().map_header(header)


def test_date_and_event_alone_are_enough_for_a_header() -> None:
    assert {0: "date", 1: "event"} == reader().map_header(["Date", "Event"])


def test_a_row_of_values_is_not_a_header() -> None:
    assert reader().map_header(["Case reference", "SSCP-2025-014", None, 3.0]) is None


def test_rows_before_a_header_are_ignored() -> None:
    r = reader()
    r.read_row(2, [1, dt.date(2025, 3, 3), None, None, "Record"])

    assert ([], [], []) == r.finish()


# -- the rows -------------------------------------------------------------------------------


def test_a_row_is_read_into_normalised_values_by_column_type() -> None:
    cells: list[object] = [
        1.0,
        dt.date(2025, 3, 3),
        dt.time(9, 30),
        dt.datetime(2025, 3, 4),
        "  Home visit record ",
        "Health visitor",
        "Child A; Adult B (mother)",
        "home visit",
        "Health visitor saw Child A at home.",
        "Referral to early help.",
        "First contact",
        "Yes",
    ]

    rows, issues, approximate = read(TEMPLATE_HEADER, [cells]).finish()

    expected = event_row(
        row=2,
        seq=1,
        date="2025-03-03",
        time="09:30",
        end_date="2025-03-04",
        source="Home visit record",
        practitioner_role="Health visitor",
        persons_involved="Child A; Adult B (mother)",
        contact_type="Home visit",
        event="Health visitor saw Child A at home.",
        action_outcome="Referral to early help.",
        significance="First contact",
        child_seen=True,
    )
    assert ([expected], [], []) == (rows, issues, approximate)


def test_text_dates_are_read_and_approximate_ones_listed() -> None:
    header = ["Date", "Event"]
    rows = [["03/03/2025", "One"], ["?04/03/2025", "Two"], ["Mar 2025", "Three"]]

    got, issues, approximate = read(header, rows).finish()

    assert ["2025-03-03", "2025-03-04", "2025-03-01"] == [r["date"] for r in got]
    assert [(3, "date"), (4, "date")] == approximate
    assert [] == issues


def test_an_unreadable_cell_is_none_and_an_issue_without_the_value() -> None:
    got, issues, _ = read(["Date", "Event", "Child seen"], [["31/02/2025", "One", "Perhaps"]]).finish()

    assert (None, None) == (got[0]["date"], got[0]["child_seen"])
    assert [("date", 2), ("child_seen", 2)] == [(i.field, i.row) for i in issues]
    assert all("31/02" not in i.message and "Perhaps" not in i.message for i in issues)


def test_blank_and_decorative_rows_are_skipped() -> None:
    header = ["Seq", "Date", "Source", "Event"]
    rows: list[list[object]] = [
        [1, dt.date(2025, 1, 5), "Record 1", "First event"],
        [None, None, None, None],
        ["", "  ", "", ""],
        ["-----", "-----", "-----", "-----"],
        [None, "2025", None, None],
        [None, 2025.0, None, None],
        [None, "March 2025", None, None],
        ["Health visiting records", None, None, None],
        [None, None, "=====", None],
        [7, None, None, None],
        [2, dt.date(2025, 2, 5), "Record 2", "Second event"],
    ]

    got, issues, _ = read(header, rows).finish()

    assert [2, 12] == [r["row"] for r in got]
    assert [] == issues


def test_a_lone_description_or_date_is_an_event_missing_the_rest() -> None:
    rows: list[list[object]] = [[None, None, "Something happened"], [None, dt.date(2025, 4, 1), None]]

    got, _, _ = read(["Seq", "Date", "Event"], rows).finish()

    assert [(2, None, "Something happened"), (3, "2025-04-01", None)] == [
        (r["row"], r["date"], r["event"]) for r in got
    ]


def test_every_row_holds_every_column_of_the_form() -> None:
    got, _, _ = read(["Date", "Event"], [[dt.date(2025, 1, 1), "One"]]).finish()

    assert ["row", *(c.id for c in chronology().events)] == list(got[0])


def test_a_word_table_is_read_in_one_call() -> None:
    result = reader().read_word_table(["Date", "Event"], [(2, ["03/03/2025", "One"]), (3, ["", ""])])

    assert [("2025-03-03", "One")] == [(r["date"], r["event"]) for r in result.rows]


# -- the generated row schema -------------------------------------------------------------------


def test_the_row_schema_is_generated_from_the_event_columns() -> None:
    adapter = event_row_adapter(chronology())

    (row_schema,) = adapter.json_schema()["$defs"].values()
    properties = row_schema["properties"]

    assert ["row", *(c.id for c in chronology().events)] == list(properties)


def test_a_row_of_the_wrong_type_is_a_reader_fault() -> None:
    r = read(["Date", "Event"], [[dt.date(2025, 1, 1), "One"]])
    r._rows[0]["seq"] = "1"

    with pytest.raises(ReaderFault):
        r.finish()


# -- the fast paths agree with values.coerce -------------------------------------------------

TRICKY_TEXTS = [
    "Plain text",
    "  padded   with   spaces  ",
    "Click or tap here to enter text.",
    "Click or tap\nhere to enter text.",
    "Choose an item.",
    "dd/mm/yyyy",
    "____",
    "...",
    "Mother\u2019s partner \u2014 left",
    "\u200bInvisible start",
    "Line one\r\nLine two\n\n  Line three  ",
    "Line one\nClick or tap here to enter text.\nLine three",
    "- bullet\n- bullet two",
    "Typed here by the author",
    "Enter text here please",
    "\u00a0non-breaking\u00a0space",
    "tab\tseparated",
    "\x0bvertical tab",
    "N/A",
    "-",
]


@pytest.mark.parametrize("type_", ["text", "longtext"])
@pytest.mark.parametrize("raw", TRICKY_TEXTS)
def test_text_conversion_agrees_with_coerce(type_: str, raw: str) -> None:
    column = next(c for c in chronology().events if c.type == type_)
    convert = events_module._converter(column, fixture_context())

    expected = coerce(column.type, raw)
    assert (expected.value, expected.problem, expected.approximate) == events_module._as_tuple(convert(raw))


_PIECES = st.sampled_from(
    ["a", "Z", "7", " ", "  ", "\n", "\r\n", "\t", "_", ".", "\u2019", "\u00a0", "\u200b", "-", "\u2014",
     "click or tap here to enter text", "Choose an item", "dd/mm/yyyy", "hh:mm", "enter", "type here"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=8).map("".join), st.sampled_from(["text", "longtext"]))
def test_text_conversion_agrees_with_coerce_on_any_mix(raw: str, type_: str) -> None:
    column = next(c for c in chronology().events if c.type == type_)
    convert = events_module._converter(column, fixture_context())

    expected = coerce(column.type, raw)
    assert (expected.value, expected.problem, expected.approximate) == events_module._as_tuple(convert(raw))


@pytest.mark.parametrize(
    ("column_id", "raw"),
    [
        ("date", dt.datetime(2025, 3, 3, 14, 5)),
        ("date", dt.date(1850, 1, 1)),
        ("date", 45719.0),
        ("time", dt.time(14, 5)),
        ("time", 0.5),
        ("seq", 3.0),
        ("seq", 3.5),
        ("seq", True),
        ("child_seen", "yes"),
        ("child_seen", True),
        ("contact_type", "TELEPHONE"),
        ("contact_type", "Carrier pigeon"),
    ],
)
def test_typed_conversion_agrees_with_coerce(column_id: str, raw: object) -> None:
    column = next(c for c in chronology().events if c.id == column_id)
    convert = events_module._converter(column, fixture_context())

    expected = coerce(column.type, raw, choices=column.choices)  # type: ignore[arg-type]
    assert (expected.value, expected.problem, expected.approximate) == events_module._as_tuple(convert(raw))


def test_the_letters_placeholders_begin_with_are_read_from_the_values_pattern() -> None:
    maybe = events_module._MAYBE_PLACEHOLDER

    assert maybe is not None  # the analysis worked: the regex is not run for every text
    assert all(p[:2] in maybe for p in ("Click here", "choose an item", "Select one", "dd/mm/yyyy", "hh:mm"))
    assert not {"Ho", "Po", "Ch"[::-1]} & maybe
