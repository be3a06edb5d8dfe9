"""The blank templates agencies download, and the filler tests use to complete them."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime
from functools import cache
from itertools import pairwise
from pathlib import Path

import docx
import pytest
from lxml import etree
from openpyxl import load_workbook

from core.catalogue import FormDef
from core.model import Value
from parsers.templates import build_all, build_template
from tests.fixtures.filler import fill, filled_document
from tests.fixtures.sample import complete_events, complete_values, fixture_context

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
NS = {"w": W, "w14": W14}
CUSTOM_NS = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"

CATALOGUE = fixture_context().catalogue
WORD_FORMS = [f for f in CATALOGUE.current() if f.form.layout == "word"]
CHRONOLOGY = CATALOGUE.get("chronology")


@cache
def blank(form_id: str) -> bytes:
    return build_template(CATALOGUE.get(form_id))[1]


@cache
def complete(form_id: str) -> bytes:
    return filled_document(form_id)[1]


def document_xml(data: bytes) -> etree._Element:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return etree.fromstring(z.read("word/document.xml"))


def text_of(element: etree._Element | None) -> str:
    assert element is not None
    return "".join(str(t) for t in element.itertext())


def custom_properties(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        root = etree.fromstring(z.read("docProps/custom.xml"))
    return {str(p.get("name")): text_of(p) for p in root.iter(f"{{{CUSTOM_NS}}}property")}


def controls(data: bytes) -> dict[str, list[etree._Element]]:
    found: dict[str, list[etree._Element]] = {}
    for sdt in document_xml(data).iter(f"{{{W}}}sdt"):
        tag = sdt.find("w:sdtPr/w:tag", NS)
        assert tag is not None
        found.setdefault(tag.get(f"{{{W}}}val", ""), []).append(sdt)
    return found


def control_text(sdt: etree._Element) -> str:
    paragraphs = sdt.findall("w:sdtContent/w:p", NS)
    if paragraphs:
        return "\n".join(text_of(p) for p in paragraphs)
    return text_of(sdt.find("w:sdtContent", NS))


def shows_placeholder(sdt: etree._Element) -> bool:
    return sdt.find("w:sdtPr/w:showingPlcHdr", NS) is not None


def scalar_ids(form: FormDef) -> set[str]:
    return {f.id for f in form.fields if f.type != "table"}


def ticked_options(sdts: list[etree._Element]) -> list[str]:
    ticked = []
    for sdt in sdts:
        checked = sdt.find("w:sdtPr/w14:checkbox/w14:checked", NS)
        if checked is not None and checked.get(f"{{{W14}}}val") == "1":
            ticked.append(text_of(sdt.getnext()).strip())
    return ticked


# -- the builder: names and reproducibility --------------------------------------------------


def test_build_all_writes_a_template_per_current_form_named_by_id_and_version(tmp_path: Path) -> None:
    written = build_all(CATALOGUE, tmp_path / "templates")
    expected = [
        "agency_summary-2026.1.docx",
        "chronology-2026.1.xlsx",
        "declaration_of_interest-2026.1.docx",
        "good_outcome-2026.1.docx",
        "referral-2026.1.docx",
        "serious_offence-2026.1.docx",
    ]
    assert expected == sorted(p.name for p in written)
    assert expected == sorted(p.name for p in (tmp_path / "templates").iterdir())
    assert blank("referral") == (tmp_path / "templates" / "referral-2026.1.docx").read_bytes()


@pytest.mark.parametrize("form_id", ["referral", "chronology"])
def test_a_template_built_twice_is_byte_for_byte_the_same(form_id: str) -> None:
    form = CATALOGUE.get(form_id)
    assert build_template(form) == build_template(form)


def test_zip_members_carry_the_pinned_time() -> None:
    with zipfile.ZipFile(io.BytesIO(blank("referral"))) as z:
        assert {(2026, 1, 1, 0, 0, 0)} == {info.date_time for info in z.infolist()}


# -- Word templates ----------------------------------------------------------------------------


@pytest.mark.parametrize("form", WORD_FORMS, ids=lambda f: f.id)
def test_word_template_opens_in_python_docx_with_title_and_template_line(form: FormDef) -> None:
    document = docx.Document(io.BytesIO(blank(form.id)))
    paragraphs = [p.text for p in document.paragraphs]
    assert [form.form.title, f"Template: {form.id} version {form.version}"] == paragraphs[:2]
    assert "Title" == getattr(document.paragraphs[0].style, "name", None)


@pytest.mark.parametrize("form", WORD_FORMS, ids=lambda f: f.id)
def test_word_template_carries_template_id_and_version_properties(form: FormDef) -> None:
    assert {"TemplateId": form.id, "TemplateVersion": form.version} == custom_properties(blank(form.id))


def test_custom_properties_part_has_its_content_type_and_relationship() -> None:
    with zipfile.ZipFile(io.BytesIO(blank("referral"))) as z:
        content_types = z.read("[Content_Types].xml").decode()
        rels = z.read("_rels/.rels").decode()
    assert 'PartName="/docProps/custom.xml"' in content_types
    assert "relationships/custom-properties" in rels
    assert "thumbnail" not in rels


@pytest.mark.parametrize("form", WORD_FORMS, ids=lambda f: f.id)
def test_every_scalar_field_has_a_tagged_content_control_and_nothing_else_does(form: FormDef) -> None:
    assert scalar_ids(form) == set(controls(blank(form.id)))


@pytest.mark.parametrize("form", WORD_FORMS, ids=lambda f: f.id)
def test_every_section_with_fields_has_a_heading(form: FormDef) -> None:
    document = docx.Document(io.BytesIO(blank(form.id)))
    headings = [p.text for p in document.paragraphs if getattr(p.style, "name", None) == "Heading 1"]
    expected = ["Guidance"] + [s.title for s in form.sections if form.fields_in(s.id)]
    assert expected == headings


@pytest.mark.parametrize("form", WORD_FORMS, ids=lambda f: f.id)
def test_label_cells_start_with_the_label_and_a_star_when_mandatory(form: FormDef) -> None:
    document = docx.Document(io.BytesIO(blank(form.id)))
    first_paragraphs = [
        row.cells[0].paragraphs[0].text for table in document.tables for row in table.rows if len(row.cells) == 2
    ]
    expected = [f.label + (" *" if f.mandatory else "") for f in form.fields if f.type != "table"]
    assert expected == [text for text in first_paragraphs if text in expected]
    assert len(expected) == len([t for t in first_paragraphs if t in expected])


def test_controls_carry_the_label_as_alias() -> None:
    found = controls(blank("referral"))
    alias = found["child_dob"][0].find("w:sdtPr/w:alias", NS)
    assert alias is not None
    assert "Date of birth" == alias.get(f"{{{W}}}val")


def test_blank_text_and_date_controls_show_their_placeholder() -> None:
    found = controls(blank("referral"))
    assert shows_placeholder(found["referrer_name"][0])
    assert "Click or tap here to enter text." == control_text(found["referrer_name"][0])
    assert shows_placeholder(found["incident_summary"][0])
    assert "Click or tap to enter a date." == control_text(found["child_dob"][0])


def test_date_fields_are_date_pickers_in_day_month_year() -> None:
    form = CATALOGUE.get("referral")
    found = controls(blank("referral"))
    for field in (f for f in form.fields if f.type == "date"):
        date_format = found[field.id][0].find("w:sdtPr/w:date/w:dateFormat", NS)
        assert date_format is not None
        assert "dd/MM/yyyy" == date_format.get(f"{{{W}}}val"), field.id


def test_choice_fields_are_drop_downs_listing_every_option() -> None:
    field = CATALOGUE.get("referral").field("harm_type")
    items = controls(blank("referral"))["harm_type"][0].findall("w:sdtPr/w:dropDownList/w:listItem", NS)
    assert list(field.choices) == [i.get(f"{{{W}}}value") for i in items if i.get(f"{{{W}}}value")]


def test_choice_options_are_printed_in_the_label_cell_not_the_value_cell() -> None:
    document = docx.Document(io.BytesIO(blank("referral")))
    rows = [row for table in document.tables for row in table.rows if len(row.cells) == 2]
    (row,) = [r for r in rows if r.cells[0].paragraphs[0].text == "Type of harm *"]
    assert "Options: Death / Serious harm / Other learning" == row.cells[0].paragraphs[-1].text
    assert "Options" not in "".join(row.cells[1]._tc.itertext())


def test_yes_no_fields_are_two_unticked_check_boxes_labelled_yes_and_no() -> None:
    sdts = controls(blank("referral"))["family_aware"]
    beside = [text_of(s.getnext()).strip() for s in sdts]
    glyphs = [control_text(s) for s in sdts]
    assert (["Yes", "No"], ["\u2610", "\u2610"]) == (beside, glyphs)


def test_checkbox_fields_have_one_check_box_per_option() -> None:
    field = CATALOGUE.get("referral").field("criteria")
    sdts = controls(blank("referral"))["criteria"]
    assert list(field.choices) == [text_of(s.getnext()).strip() for s in sdts]


def test_repeating_tables_have_a_header_row_and_five_empty_rows() -> None:
    form = CATALOGUE.get("agency_summary")
    document = docx.Document(io.BytesIO(blank("agency_summary")))
    for field in (f for f in form.fields if f.type == "table"):
        labels = [c.label for c in field.columns]
        (table,) = [t for t in document.tables if [c.text for c in t.rows[0].cells] == labels]
        assert [[""] * len(labels)] * 5 == [[c.text for c in row.cells] for row in table.rows[1:]]


# -- the Excel chronology -------------------------------------------------------------------


def test_chronology_workbook_has_details_chronology_and_guidance_sheets() -> None:
    wb = load_workbook(io.BytesIO(blank("chronology")))
    assert ["Details", "Chronology", "Guidance"] == wb.sheetnames


def test_chronology_workbook_carries_template_properties() -> None:
    assert {"TemplateId": "chronology", "TemplateVersion": CHRONOLOGY.version} == custom_properties(blank("chronology"))


def test_chronology_header_row_lists_the_columns_in_catalogue_order() -> None:
    ws = load_workbook(io.BytesIO(blank("chronology")))["Chronology"]
    assert [c.label for c in CHRONOLOGY.events] == [c.value for c in ws[1]]
    assert "A2" == ws.freeze_panes


def test_chronology_date_columns_are_formatted_day_month_year_down_to_row_1000() -> None:
    ws = load_workbook(io.BytesIO(blank("chronology")))["Chronology"]
    date_columns = [i for i, c in enumerate(CHRONOLOGY.events, start=1) if c.type == "date"]
    formats = {(ws.cell(row=r, column=i).number_format) for i in date_columns for r in (2, 500, 1000)}
    assert {"DD/MM/YYYY"} == formats


def test_chronology_choice_and_yes_no_columns_have_list_validations() -> None:
    ws = load_workbook(io.BytesIO(blank("chronology")))["Chronology"]
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    expected = {
        f"{letters[i]}2:{letters[i]}1000" for i, c in enumerate(CHRONOLOGY.events) if c.type in ("choice", "yesno")
    }
    validations = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    assert expected == set(validations)
    contact = CHRONOLOGY.events[[c.id for c in CHRONOLOGY.events].index("contact_type")]
    column = letters[[c.id for c in CHRONOLOGY.events].index("contact_type")]
    assert '"' + ",".join(contact.choices) + '"' == validations[f"{column}2:{column}1000"].formula1


def test_details_sheet_has_every_header_label_in_column_a() -> None:
    ws = load_workbook(io.BytesIO(blank("chronology")))["Details"]
    labels = [str(v).removesuffix(" *") for (v,) in ws.iter_rows(min_row=4, max_col=1, values_only=True)]
    assert [f.label for f in CHRONOLOGY.fields] == labels
    assert all(v is None for (v,) in ws.iter_rows(min_col=2, max_col=2, values_only=True))


def test_guidance_sheet_explains_every_column() -> None:
    ws = load_workbook(io.BytesIO(blank("chronology")))["Guidance"]
    text = {str(v) for row in ws.iter_rows(values_only=True) for v in row if v is not None}
    assert set(CHRONOLOGY.form.guidance) <= text
    assert {c.help for c in CHRONOLOGY.events if c.help} <= text


# -- the filler -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def filled_referral() -> dict[str, list[etree._Element]]:
    return controls(complete("referral"))


def test_filled_referral_has_its_text_in_the_controls_without_placeholder(filled_referral) -> None:
    sdt = filled_referral["referrer_name"][0]
    assert ("Jordan Ellis", False) == (control_text(sdt), shows_placeholder(sdt))


def test_filled_referral_long_text_is_one_paragraph_per_line(filled_referral) -> None:
    assert complete_values("referral")["child_address"] == control_text(filled_referral["child_address"][0])


def test_filled_date_picker_has_full_date_and_displayed_day_month_year(filled_referral) -> None:
    sdt = filled_referral["child_dob"][0]
    full_date = sdt.find("w:sdtPr/w:date", NS).get(f"{{{W}}}fullDate")
    assert ("2015-06-14T00:00:00Z", "14/06/2015") == (full_date, control_text(sdt))


def test_filled_drop_down_shows_the_option(filled_referral) -> None:
    assert "Death" == control_text(filled_referral["harm_type"][0])


def test_filled_agency_is_written_by_name(filled_referral) -> None:
    assert "Salford Education and Inclusion" == control_text(filled_referral["referrer_agency"][0])


def test_filled_check_boxes_are_ticked_with_the_crossed_glyph(filled_referral) -> None:
    assert ["Yes"] == ticked_options(filled_referral["family_aware"])
    assert ["No"] == ticked_options(filled_referral["media_interest"])
    assert complete_values("referral")["parallel_processes"] == ticked_options(filled_referral["parallel_processes"])
    assert "\u2612" == control_text(filled_referral["family_aware"][0])


def test_filled_repeating_table_has_the_rows() -> None:
    document = docx.Document(io.BytesIO(complete("referral")))
    (table,) = [t for t in document.tables if t.rows[0].cells[0].text == "Agency"]
    rows = [[c.text for c in row.cells] for row in table.rows[1:4]]
    expected_first = ["Greater Manchester Police", "Alex Morgan", "alex.morgan@police.example.org", "Yes"]
    assert expected_first == rows[0]
    assert ["", "", "", ""] == [c.text for c in table.rows[4].cells]


def test_a_table_longer_than_the_template_gets_more_rows() -> None:
    form = CATALOGUE.get("agency_summary")
    values = complete_values("agency_summary")
    glossary: list[dict[str, Value]] = [{"abbreviation": f"T{i}", "meaning": f"Term {i}"} for i in range(8)]
    values["glossary"] = glossary
    document = docx.Document(io.BytesIO(fill(form, values)))
    (table,) = [t for t in document.tables if t.rows[0].cells[0].text == "Abbreviation"]
    assert ["T7", "Term 7"] == [c.text for c in table.rows[8].cells]


def test_fields_left_out_keep_their_placeholder() -> None:
    _, data = filled_document("referral", without=["child_dob", "incident_summary", "family_aware"])
    found = controls(data)
    assert shows_placeholder(found["child_dob"][0])
    assert shows_placeholder(found["incident_summary"][0])
    assert [] == ticked_options(found["family_aware"])
    assert not shows_placeholder(found["child_name"][0])


def test_filling_keeps_the_template_properties() -> None:
    assert {"TemplateId": "referral", "TemplateVersion": "2026.1"} == custom_properties(complete("referral"))


def test_filled_chronology_has_header_values_in_column_b_and_events_from_row_2() -> None:
    wb = load_workbook(io.BytesIO(filled_document("chronology", events=3)[1]))
    details = {str(a).removesuffix(" *"): b for a, b in wb["Details"].iter_rows(min_row=4, max_col=2, values_only=True)}
    assert "SSCP-2025-014" == details["Case reference"]
    assert datetime(2015, 6, 14) == details["Date of birth"]
    assert "Greater Manchester Police" == details["Agency"]
    ws = wb["Chronology"]
    events = complete_events(3)
    date_column = [c.id for c in CHRONOLOGY.events].index("date") + 1
    assert [datetime.fromisoformat(str(e["date"])) for e in events] == [
        ws.cell(row=r, column=date_column).value for r in (2, 3, 4)
    ]
    assert "DD/MM/YYYY" == ws.cell(row=2, column=date_column).number_format
    assert ws.cell(row=5, column=date_column).value is None


# -- the sample values ------------------------------------------------------------------------


@pytest.mark.parametrize("form", CATALOGUE.current(), ids=lambda f: f.id)
def test_sample_values_cover_exactly_the_fields_of_every_current_form(form: FormDef) -> None:
    assert {f.id for f in form.fields} == set(complete_values(form.id))


@pytest.mark.parametrize("form", CATALOGUE.current(), ids=lambda f: f.id)
def test_sample_narratives_have_forty_words_and_no_phone_numbers_or_postcodes(form: FormDef) -> None:
    values = complete_values(form.id)
    for field in (f for f in form.fields if f.narrative):
        text = str(values[field.id])
        assert len(text.split()) >= 40, field.id
        assert not re.search(r"\d{3,}|\b[A-Z]{1,2}\d", text), field.id


@pytest.mark.parametrize("form", CATALOGUE.current(), ids=lambda f: f.id)
def test_sample_dates_are_after_birth_and_before_november_2026(form: FormDef) -> None:
    values = complete_values(form.id)
    dates = [str(values[f.id]) for f in form.fields if f.type == "date"]
    assert all("2015-06-14" <= d < "2026-11-01" for d in dates)


def test_sample_events_are_in_order_inside_the_period_at_most_a_month_apart() -> None:
    events = complete_events(12)
    days = [date.fromisoformat(str(e["date"])) for e in events]
    assert list(range(1, 13)) == [e["seq"] for e in events]
    assert sorted(days) == days
    assert date(2025, 1, 1) <= days[0] and days[-1] <= date(2025, 12, 31)
    assert max((b - a).days for a, b in pairwise(days)) <= 31
    assert all(e["action_outcome"] for e in events)


# -- round trip: what the reader and the checks make of a completed template -----------------


@pytest.mark.parametrize("form", CATALOGUE.current(), ids=lambda f: f.id)
def test_a_completed_template_reads_back_as_the_sample_values(form: FormDef) -> None:
    from parsers.read import read_document

    document = read_document(complete(form.id), build_template(form)[0], fixture_context())
    scalars = {f.id: document.value(f.id) for f in form.fields if f.type != "table"}
    tables = {
        f.id: [{k: v for k, v in row.items() if k != "row"} for row in document.tables.get(f.id, [])]
        for f in form.fields
        if f.type == "table"
    }
    assert (form.id, "properties") == (document.form, document.identified_by)
    assert complete_values(form.id) == {**scalars, **tables}


@pytest.mark.parametrize("form", CATALOGUE.current(), ids=lambda f: f.id)
def test_a_completed_template_has_no_findings(form: FormDef) -> None:
    from parsers.read import read_document
    from validators import CheckContext, check

    document = read_document(complete(form.id), build_template(form)[0], fixture_context())
    assert [] == check(document, CheckContext(forms=fixture_context(), received=date(2026, 11, 1)))
