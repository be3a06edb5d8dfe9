"""Coercing raw cell and paragraph values (parsers.values)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.agencies import Agency, AgencyRegistry
from parsers.values import (
    DATE_PROBLEM,
    YEAR_ONLY_PROBLEM,
    Coerced,
    Raw,
    coerce,
    excel_serial_to_date,
    find_case_references,
    is_empty,
    nhs_check_digit,
    parse_date,
    parse_tick,
    parse_time,
    ticked_options,
)

SEX = ("Female", "Male", "Other", "Not known")
ETHNICITY = (
    "White",
    "Mixed or multiple",
    "Asian or Asian British",
    "Black or Black British",
    "Other ethnic group",
    "Not known",
)
LEGAL = ("None", "Child in Need", "Child Protection Plan", "Looked After", "Care Leaver", "Not known")
CONTACT = ("Home visit", "Appointment", "Was not brought / did not attend", "Telephone", "Other")
PARALLEL = (
    "Police investigation",
    "Coroner's inquest",
    "Child death review",
    "NHS patient safety investigation",
    "Other",
)
VALID_NHS = "9434765919"  # the NHS's published example number
AGENCIES = AgencyRegistry(
    agencies=(
        Agency(id="police", name="Example Constabulary", aliases=("Police",)),
        Agency(id="health_visiting", name="Health Visiting Service", aliases=("HV", "Health visitors")),
    )
)


# --- emptiness ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   \n\t ",
        "\u00a0",
        "Click or tap here to enter text.",
        "click or tap here to enter text",
        "Click or tap to enter a date.",
        "Choose an item.",
        "Enter text",
        "dd/mm/yyyy",
        "DD/MM/YYYY",
        "__________",
        "Click or tap here to enter text.Click or tap here to enter text.",
        [],
        ["", "Choose an item."],
        float("nan"),
    ],
)
def test_blanks_and_word_placeholders_are_empty(raw: object) -> None:
    assert is_empty(raw) is True  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", ["N/A", "None", "-", "0", 0, False, "Enter text about the child", ["x"]])
def test_anything_a_person_wrote_is_not_empty(raw: object) -> None:
    assert is_empty(raw) is False  # type: ignore[arg-type]


@pytest.mark.parametrize("type_", ["text", "longtext", "date", "time", "email", "yesno", "choice", "nhs_number"])
def test_an_empty_value_of_any_type_has_neither_value_nor_problem(type_: str) -> None:
    assert Coerced(None) == coerce(type_, "Click or tap here to enter text.", choices=SEX)  # type: ignore[arg-type]


# --- dates --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2025-03-03", "2025-03-03"),
        ("2025-03-03T14:30:00", "2025-03-03"),
        ("2025-03-03 14:30", "2025-03-03"),
        ("2025/3/3", "2025-03-03"),
        ("3/3/25", "2025-03-03"),
        ("03/03/2025", "2025-03-03"),
        ("03-03-2025", "2025-03-03"),
        ("03.03.2025", "2025-03-03"),
        ("3 / 3 / 2025", "2025-03-03"),
        ("04/03/2025", "2025-03-04"),  # day first, never US
        ("12/01/2025", "2025-01-12"),
        ("03/03/2025 14:30", "2025-03-03"),
        ("3 March 2025", "2025-03-03"),
        ("3rd Mar 2025", "2025-03-03"),
        ("3rd of March, 2025", "2025-03-03"),
        ("Monday 3 March 2025", "2025-03-03"),
        ("21st Sept 2024", "2024-09-21"),
        ("03-Mar-25", "2025-03-03"),
        ("March 3, 2025", "2025-03-03"),
        ("  3  MARCH  2025 ", "2025-03-03"),
        ("29/02/2024", "2024-02-29"),
        ("1/1/00", "2000-01-01"),
        ("1/1/69", "2069-01-01"),
        ("1/1/70", "1970-01-01"),
        ("31/12/99", "1999-12-31"),
        ("20250303", "2025-03-03"),
        ("03032025", "2025-03-03"),
        (dt.date(2025, 3, 3), "2025-03-03"),
        (dt.datetime(2025, 3, 3, 14, 30), "2025-03-03"),
        (45719, "2025-03-03"),
        (45719.6041, "2025-03-03"),
        ("45719", "2025-03-03"),
    ],
)
def test_a_date_in_any_common_uk_form_is_read_exactly(raw: object, expected: str) -> None:
    assert Coerced(expected) == parse_date(raw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Mar 2025", "2025-03-01"),
        ("March 2025", "2025-03-01"),
        ("march, 2025", "2025-03-01"),
        ("Mar-25", "2025-03-01"),
        ("03/2025", "2025-03-01"),
        ("2025-03", "2025-03-01"),
        ("?3/3/2025", "2025-03-03"),
        ("? 03/03/2025", "2025-03-03"),
        ("??/3/3/2025", None),
        ("03/03/2025?", "2025-03-03"),
        ("c. 3 March 2025", "2025-03-03"),
        ("approx 03/03/2025", "2025-03-03"),
        ("? Mar 2025", "2025-03-01"),
        ("03/03/2025 (approx)", "2025-03-03"),
    ],
)
def test_a_month_alone_or_a_question_mark_makes_a_date_approximate(raw: str, expected: str | None) -> None:
    result = parse_date(raw)
    assert (expected, expected is not None) == (result.value, result.approximate)


@pytest.mark.parametrize(
    "raw",
    [
        "31/02/2025",
        "13/13/2025",
        "00/01/2025",
        "last week",
        "Spring 2024",
        "May 25",  # 25 May or May 2025? not guessed
        "3/3",
        "03/03/1066",
        "0303",
        "01122025x",
        True,
        dt.time(14, 30),
        123,
        10**7,
        ["01/01/2025", "02/01/2025"],
    ],
)
def test_an_unreadable_or_ambiguous_date_is_a_problem_not_a_guess(raw: object) -> None:
    assert Coerced(None, DATE_PROBLEM) == parse_date(raw)  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", ["2024", "c. 2024", 2024, "2024?"])
def test_a_year_alone_asks_for_at_least_a_month(raw: object) -> None:
    assert Coerced(None, YEAR_ONLY_PROBLEM) == parse_date(raw)  # type: ignore[arg-type]


def test_coerce_reads_a_date_field_as_parse_date_does() -> None:
    assert Coerced("2025-03-01", None, True) == coerce("date", "Mar 2025")


@given(st.dates(min_value=dt.date(1910, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_every_written_form_of_a_date_reads_back_as_that_date(day: dt.date) -> None:
    iso = day.isoformat()
    written: list[Raw] = [
        day.strftime("%d/%m/%Y"),
        f"{day.day}/{day.month}/{day.year}",
        day.strftime("%d-%m-%Y"),
        day.strftime("%d.%m.%Y"),
        day.strftime("%d %B %Y"),
        day.strftime("%d %b %Y"),
        iso,
        day,
        dt.datetime.combine(day, dt.time(9, 15)),
    ]
    if 1970 <= day.year < 2070:
        written.append(day.strftime("%d/%m/%y"))
    assert [iso] * len(written) == [parse_date(w).value for w in written]


@given(st.dates(min_value=dt.date(1910, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_excel_serials_round_trip(day: dt.date) -> None:
    serial = (day - dt.date(1899, 12, 30)).days
    assert day == excel_serial_to_date(serial)


def test_excel_serials_before_march_1900_follow_excels_leap_year_bug() -> None:
    assert (dt.date(1900, 1, 1), dt.date(1900, 2, 28), dt.date(1900, 3, 1)) == (
        excel_serial_to_date(1),
        excel_serial_to_date(59),
        excel_serial_to_date(61),
    )
    with pytest.raises(ValueError, match="fictitious"):
        excel_serial_to_date(60)


# --- times --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("14:30", "14:30"),
        ("14:30:59", "14:30"),
        ("9:05", "09:05"),
        ("14.30", "14:30"),
        ("1430", "14:30"),
        ("930", "09:30"),
        ("1430hrs", "14:30"),
        ("14:30 hrs", "14:30"),
        ("14h30", "14:30"),
        ("2.30pm", "14:30"),
        ("2:30 p.m.", "14:30"),
        ("2pm", "14:00"),
        ("12pm", "12:00"),
        ("12am", "00:00"),
        ("11.59 AM", "11:59"),
        ("midday", "12:00"),
        (dt.time(14, 30, 59), "14:30"),
        (dt.datetime(2025, 3, 3, 8, 0), "08:00"),
        (0.6041666666666666, "14:30"),
        (0.0, "00:00"),
        (45719.5, "12:00"),
        (1430, "14:30"),
    ],
)
def test_a_time_in_any_common_form_is_read_as_24_hour_hh_mm(raw: object, expected: str) -> None:
    assert Coerced(expected) == parse_time(raw)  # type: ignore[arg-type]
    assert Coerced(expected) == coerce("time", raw)  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", ["25:00", "14:75", "13pm", "0pm", "9", "teatime", "2.3", 2400, dt.date(2025, 1, 1)])
def test_an_impossible_or_unclear_time_is_a_problem(raw: object) -> None:
    result = parse_time(raw)  # type: ignore[arg-type]
    assert (None, True) == (result.value, result.problem is not None)


# --- email and phone ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a.person@example.org", "a.person@example.org"),
        ("  A.Person@Example.ORG ", "a.person@example.org"),
        ("mailto:a.person@example.org", "a.person@example.org"),
        ("MAILTO:a.person@example.org", "a.person@example.org"),
        ("A Person <a.person@example.org>", "a.person@example.org"),
        ("first+tag@sub.example.co.uk", "first+tag@sub.example.co.uk"),
    ],
)
def test_an_email_address_is_lower_cased_and_stripped_of_mailto(raw: str, expected: str) -> None:
    assert Coerced(expected) == coerce("email", raw)


@pytest.mark.parametrize(
    "raw",
    ["a person@example.org", "a@b@example.org", "a.person@example", "a.person.example.org", "@example.org",
     "a..b@example.org", ".a@example.org", "a@example..org", "a@-example.org"],
)  # fmt: skip
def test_a_malformed_email_address_is_a_problem(raw: str) -> None:
    assert Coerced(None, "not an email address we can read") == coerce("email", raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0161 496 0000", "0161 496 0000"),
        ("01614960000", "01614960000"),
        ("  0161   496\u00a00000 ", "0161 496 0000"),
        ("(0161) 496 0000", "(0161) 496 0000"),
        ("020 7946 0000", "020 7946 0000"),
        ("07700 900123", "07700 900123"),
        ("07700-900-123", "07700-900-123"),
        ("+44 161 496 0000", "+44 161 496 0000"),
        ("+44 (0)161 496 0000", "+44 (0)161 496 0000"),
        ("0044 161 496 0000", "0044 161 496 0000"),
        ("0161 496 0000 ext 123", "0161 496 0000 ext 123"),
        ("+33 1 23 45 67 89", "+33 1 23 45 67 89"),
        (1614960000.0, None),  # a number that lost its leading 0: too few digits
    ],
)
def test_a_uk_phone_number_is_kept_as_written_with_whitespace_tidied(raw: object, expected: str | None) -> None:
    assert expected == coerce("phone", raw).value  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("0161 496", "too few digits for a phone number"),
        ("0161 496 0000 0000", "too many digits for a phone number"),
        ("call reception", "not a phone number we can read"),
        ("0161 496 000O", "not a phone number we can read"),
        ("1161 496 0000", "not a phone number we can read"),
    ],
)
def test_a_phone_number_with_the_wrong_digits_is_a_problem(raw: str, problem: str) -> None:
    assert Coerced(None, problem) == coerce("phone", raw)


# --- ticks --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("☒", True), ("☑", True), ("✓", True), ("✔", True), ("X", True), ("x", True), ("[x]", True),
        ("[X]", True), ("(x)", True), ("Yes", True), ("yes.", True), ("Y", True), ("TRUE", True),
        ("☐", False), ("[ ]", False), ("[]", False), ("( )", False), ("No", False), ("n", False),
        ("false", False),
        ("✗", None), ("✘", None), ("maybe", None), ("", None), ("Yes No", None),
    ],
)  # fmt: skip
def test_a_single_tick_box_reads_as_ticked_unticked_or_unknown(text: str, expected: bool | None) -> None:
    assert expected is parse_tick(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("☐ Female ☒ Male ☐ Other ☐ Not known", ["Male"]),
        ("☐ Female ☑ Male", ["Male"]),
        ("✓ Female  Male", ["Female"]),
        ("✔ Female", ["Female"]),
        ("X Female   Male   Other", ["Female"]),
        ("[x] Female [ ] Male", ["Female"]),
        ("(x) Female ( ) Male", ["Female"]),
        ("Female [ ]  Male [x]", ["Male"]),
        ("Female: Yes\nMale: No", ["Female"]),
        ("☒ Female\n☒ Other", ["Female", "Other"]),
        ("☐ Female ☐ Male ☐ Other ☐ Not known", []),
        ("✗ Female ☐ Male", []),  # a cross is not a tick
        ("Female", None),
        ("", None),
        ("Male, probably", None),
    ],
)
def test_ticked_options_reads_the_marks_printed_beside_options(text: str, expected: list[str] | None) -> None:
    assert expected == ticked_options(text, SEX)


def test_ticked_options_returns_them_in_the_catalogue_order() -> None:
    assert ["Female", "Other"] == ticked_options("☒ Other ☐ Male ☒ Female", SEX)


def test_a_shorter_option_inside_a_longer_one_is_not_ticked_by_it() -> None:
    assert ["Other ethnic group"] == ticked_options("☐ White ☒ Other ethnic group ☐ Not known", ETHNICITY)


# --- yes/no -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (True, True), (False, False), (1, True), (0, False),
        ("Yes", True), ("yes", True), ("YES", True), ("Y", True), ("True", True), ("✓", True),
        ("☒", True), ("X", True), ("No", False), ("N", False), ("false", False), ("☐", False),
        ("☒ Yes ☐ No", True), ("☐ Yes ☒ No", False), ("Yes ☒  No ☐", True), ("Yes ☐ No ☒", False),
        ("[x] Yes [ ] No", True), ("(x) Yes ( ) No", True), ("X Yes  No", True), ("Yes  X No", False),
        ("Yes - see section 5", True), ("No.", False), ("No, not known to us", False),
        (["Yes"], True),
    ],
)  # fmt: skip
def test_yes_no_answers_and_ticked_yes_no_boxes_read_as_bool(raw: object, expected: bool) -> None:
    assert Coerced(expected) == coerce("yesno", raw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("maybe", "not a yes or no answer we can read; answer Yes or No"),
        ("Yes/No", "not a yes or no answer we can read; answer Yes or No"),
        ("Not sure yet", "not a yes or no answer we can read; answer Yes or No"),
        ("☒ Yes ☒ No", "more than one option is ticked; tick only one"),
        ("✗", "marked with a cross, which could mean either; tick the option with ☒ or X"),
        ("✗ Yes ☐ No", "marked with a cross, which could mean either; tick the option with ☒ or X"),
    ],
)
def test_an_unclear_yes_no_is_a_problem(raw: str, problem: str) -> None:
    assert Coerced(None, problem) == coerce("yesno", raw)


def test_yes_no_boxes_left_unticked_are_empty() -> None:
    assert Coerced(None) == coerce("yesno", "☐ Yes ☐ No")


# --- choices ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "choices", "expected"),
    [
        ("Male", SEX, "Male"),
        ("male", SEX, "Male"),
        ("  NOT   KNOWN. ", SEX, "Not known"),
        ("not-known", SEX, "Not known"),
        ("child protection plan", LEGAL, "Child Protection Plan"),
        ("Child-protection plan", LEGAL, "Child Protection Plan"),
        ("None", LEGAL, "None"),
        ("was not brought/did not attend", CONTACT, "Was not brought / did not attend"),
        ("Was Not Brought \u2013 Did Not Attend", CONTACT, "Was not brought / did not attend"),
        ("Coroner\u2019s inquest", PARALLEL, "Coroner's inquest"),
        ("Coroners inquest", PARALLEL, "Coroner's inquest"),
        ("Asian & Asian British", ("Asian and Asian British", "White"), "Asian and Asian British"),
        ("☐ Female ☒ Male ☐ Other ☐ Not known", SEX, "Male"),
        ("[x] Not known", SEX, "Not known"),
        (["Female"], SEX, "Female"),
    ],
)
def test_a_choice_matches_its_option_ignoring_case_punctuation_and_quotes(
    raw: object, choices: tuple[str, ...], expected: str
) -> None:
    assert Coerced(expected) == coerce("choice", raw, choices=choices)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("Boy", "not one of the options: Female, Male, Other, Not known"),
        ("Mal", "not one of the options: Female, Male, Other, Not known"),
        ("Male or female", "not one of the options: Female, Male, Other, Not known"),
        ("☒ Female ☒ Male", "more than one option is ticked; tick only one"),
        ("✗ Female ☐ Male", "marked with a cross, which could mean either; tick the option with ☒ or X"),
    ],
)
def test_a_choice_that_is_not_one_option_is_a_problem(raw: str, problem: str) -> None:
    assert Coerced(None, problem) == coerce("choice", raw, choices=SEX)


def test_a_choice_with_no_option_ticked_is_empty() -> None:
    assert Coerced(None) == coerce("choice", "☐ Female ☐ Male ☐ Other ☐ Not known", choices=SEX)


# --- checkboxes ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["Police investigation", "Other"], ["Police investigation", "Other"]),
        (["other", "police investigation"], ["Police investigation", "Other"]),
        ("☒ Police investigation\n☐ Coroner\u2019s inquest\n☒ Other", ["Police investigation", "Other"]),
        ("☐ Police investigation ☑ Child death review", ["Child death review"]),
        ("Police investigation: Yes\nCoroner's inquest: No\nOther: Yes", ["Police investigation", "Other"]),
        ("Police investigation\nCoroner's inquest", ["Police investigation", "Coroner's inquest"]),
        ("Police investigation; child death review", ["Police investigation", "Child death review"]),
        ("Police investigation, Coroners inquest", ["Police investigation", "Coroner's inquest"]),
        ("• Police investigation\n• Other", ["Police investigation", "Other"]),
        ("NHS patient safety investigation", ["NHS patient safety investigation"]),
    ],
)
def test_checkboxes_read_as_the_ticked_or_listed_options(raw: object, expected: list[str]) -> None:
    assert Coerced(expected) == coerce("checkboxes", raw, choices=PARALLEL)  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", ["Police investigation, Fire investigation", ["Police investigation", "Fire"]])
def test_checkboxes_with_an_unknown_item_are_a_problem(raw: object) -> None:
    expected = Coerced(None, "not one of the options: " + ", ".join(PARALLEL))
    assert expected == coerce("checkboxes", raw, choices=PARALLEL)  # type: ignore[arg-type]


def test_checkboxes_with_none_ticked_are_empty() -> None:
    assert Coerced(None) == coerce("checkboxes", "☐ Police investigation ☐ Other", choices=PARALLEL)


# --- agencies, references, numbers --------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("police", "police"),
        ("Example Constabulary", "police"),
        ("Health visitors", "health_visiting"),
        ("HV", "health_visiting"),
    ],
)
def test_an_agency_is_matched_by_id_name_or_alias(raw: str, expected: str) -> None:
    assert Coerced(expected) == coerce("agency", raw, agencies=AGENCIES)


def test_an_unknown_agency_is_a_problem() -> None:
    expected = Coerced(None, "not an agency we know; use the agency's name as listed")
    assert expected == coerce("agency", "Fire service", agencies=AGENCIES)


def test_an_agency_without_a_registry_is_a_problem_not_a_crash() -> None:
    assert Coerced(None, "no agencies are configured to match against") == coerce("agency", "Police")


@pytest.mark.parametrize(
    "raw",
    ["SSCP-2026-007", "sscp 2026 7", "SSCP/2026/007", "SSCP 2026-07", "SSCP2026007", "sscp_2026_007",
     "Ref: SSCP-2026-007.", "SSCP-2026-0007"],
)  # fmt: skip
def test_a_case_reference_is_normalised(raw: str) -> None:
    assert Coerced("SSCP-2026-007") == coerce("case_ref", raw)


@pytest.mark.parametrize("raw", ["2026-007", "SSCP-26-007", "SSCP-2026", "XSSCP-2026-007", "ABC-2026-007"])
def test_something_that_is_not_a_case_reference_is_a_problem(raw: str) -> None:
    expected = Coerced(None, "not a case reference we can read; use SSCP-YYYY-NNN")
    assert expected == coerce("case_ref", raw)


def test_two_different_case_references_in_one_field_are_a_problem() -> None:
    assert "more than one case reference; give one" == coerce("case_ref", "SSCP-2026-007 or SSCP-2026-008").problem


def test_the_case_reference_prefix_is_configurable() -> None:
    assert (Coerced("LSCP-2025-012"), ["LSCP-2025-012"]) == (
        coerce("case_ref", "lscp/2025/12", case_prefix="LSCP"),
        find_case_references("Ours: LSCP 2025 12; not SSCP-2025-013", prefix="LSCP"),
    )


def test_case_references_anywhere_in_a_text_are_found_in_order_once_each() -> None:
    text = "Re SSCP-2026-7 (see also sscp/2025/012) and again SSCP 2026 007; not SSCP-2026-12345."
    assert ["SSCP-2026-007", "SSCP-2025-012"] == find_case_references(text)


@pytest.mark.parametrize("raw", [VALID_NHS, "943 476 5919", "943-476-5919", " 943\u00a0476\u00a05919 ", 9434765919,
                                 9434765919.0])  # fmt: skip
def test_a_valid_nhs_number_is_ten_digits_without_spaces(raw: object) -> None:
    assert Coerced(VALID_NHS) == coerce("nhs_number", raw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("943 476 5918", "not a valid NHS number (the check digit does not match)"),
        ("943 476 591", "an NHS number has 10 digits"),
        ("943 476 59190", "an NHS number has 10 digits"),
        ("943 476 591X", "an NHS number has 10 digits"),
        (True, "an NHS number has 10 digits"),
    ],
)
def test_an_nhs_number_with_a_wrong_length_or_check_digit_is_a_problem(raw: object, problem: str) -> None:
    assert Coerced(None, problem) == coerce("nhs_number", raw)  # type: ignore[arg-type]


def test_an_nhs_number_whose_check_digit_would_be_ten_is_never_valid() -> None:
    nine = next(f"{n:09d}" for n in range(100_000_000, 100_001_000) if nhs_check_digit(f"{n:09d}") is None)
    assert [None] * 10 == [coerce("nhs_number", nine + str(d)).value for d in range(10)]


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_every_nhs_number_built_with_its_check_digit_is_valid(nine: str) -> None:
    check = nhs_check_digit(nine)
    if check is not None:
        number = nine + str(check)
        spaced = f"{number[:3]} {number[3:6]} {number[6:]}"
        assert (Coerced(number), Coerced(number)) == (coerce("nhs_number", number), coerce("nhs_number", spaced))


@given(
    st.text(alphabet="0123456789", min_size=9, max_size=9),
    st.integers(min_value=0, max_value=9),
    st.integers(min_value=1, max_value=9),
)
def test_changing_any_one_digit_of_a_valid_nhs_number_makes_it_invalid(nine: str, position: int, delta: int) -> None:
    check = nhs_check_digit(nine)
    if check is not None:
        digits = list(nine + str(check))
        digits[position] = str((int(digits[position]) + delta) % 10)
        assert coerce("nhs_number", "".join(digits)).value is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(12, 12), ("12", 12), (" 12 ", 12), (12.0, 12), ("12.0", 12), ("1,200", 1200), ("-3", -3)],
)
def test_an_integer_is_read_from_whole_numbers(raw: object, expected: int) -> None:
    assert Coerced(expected) == coerce("integer", raw)  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", ["12.5", 12.5, "twelve", "1,20", True, "12a"])
def test_something_that_is_not_a_whole_number_is_a_problem(raw: object) -> None:
    assert Coerced(None, "not a whole number") == coerce("integer", raw)  # type: ignore[arg-type]


# --- text ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Child   A  ", "Child A"),
        ("Child\tA\nB", "Child A B"),
        ("Child\u00a0A\u200b", "Child A"),
        ("N/A", "N/A"),
        (12.0, "12"),
        (True, "Yes"),
        (dt.date(2025, 3, 3), "2025-03-03"),
    ],
)
def test_text_is_trimmed_with_whitespace_runs_collapsed(raw: object, expected: str) -> None:
    assert Coerced(expected) == coerce("text", raw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  First line.  \n\n   Second   line. \r\nThird", "First line.\nSecond line.\nThird"),
        (["First.", "", "  Second. "], "First.\nSecond."),
        ("One\u2028Two\rThree", "One\nTwo\nThree"),
        ("Only\n\n\n", "Only"),
    ],
)
def test_longtext_keeps_paragraphs_and_drops_blank_lines(raw: object, expected: str) -> None:
    assert Coerced(expected) == coerce("longtext", raw)  # type: ignore[arg-type]


def test_a_table_is_not_coerced_as_a_scalar() -> None:
    with pytest.raises(ValueError, match="table"):
        coerce("table", "anything")


def test_problems_never_quote_the_value() -> None:
    secret = "Jo Bloggs 943 476 5918 jo@@example.org"
    problems = [
        coerce(t, secret, choices=SEX, agencies=AGENCIES).problem
        for t in ("date", "time", "email", "phone", "yesno", "choice", "checkboxes", "agency", "case_ref",
                  "nhs_number", "integer")
    ]  # fmt: skip
    assert [] == [p for p in problems if p is None or "Bloggs" in p or "5918" in p or "example" in p]
