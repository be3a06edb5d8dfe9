"""The blank Word template of a form (layout "word"), built from its catalogue entry.

Layout, top to bottom (what a reader can rely on):

- the form's title (style Title), then a paragraph ``Template: <id> version <version>``;
- a "Guidance" heading (Heading 1) with the form's guidance as bullets, and a line saying
  that fields marked * are mandatory;
- per section a Heading 1 with the section's title, then a two-column table (Table Grid):
  **label cell** = paragraph 1 the label (bold, with " *" when mandatory), then small grey
  paragraphs: the field's help, and for a choice field ``Options: A / B / C``. Paragraphs
  after the first in a label cell are hints, never part of the label.
  **value cell** = only the field's content control(s), so its text is the value:
    text, email, phone, agency, case_ref, nhs_number, time, integer: an inline plain-text
      control (``w:text``) in the cell's paragraph;
    longtext: a block-level rich-text control (no type element) holding paragraphs, one per
      paragraph of the value;
    date: an inline date picker (``w:date``, format dd/MM/yyyy, ``w:fullDate`` when filled);
    choice: an inline drop-down list (``w:dropDownList``, one ``w:listItem`` per option);
    yesno: one paragraph ``☐ Yes  ☐ No``: two check-box controls (``w14:checkbox``) each
      followed by a run with the option text;
    checkboxes: one paragraph per option: a check-box control, then a run with the option.
  Every control carries ``w:tag`` = the field id and ``w:alias`` = the label. Empty controls
  show ``w:showingPlcHdr`` and Word's placeholder texts ("Click or tap here to enter text.",
  "Click or tap to enter a date.", "Choose an item.") in the "Placeholder Text" style.
- a table field: a Heading 2 with its label, a small grey paragraph with its help (and
  column hints), then a table whose first row holds the column labels (a repeated header
  row) followed by five empty rows of plain empty cells.

Custom document properties TemplateId / TemplateVersion are in docProps/custom.xml.
"""

from __future__ import annotations

import io
from itertools import count
from typing import Any

from docx import Document as new_document
from docx.enum.style import WD_STYLE_TYPE
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.opc.packuri import PackURI
from docx.opc.part import Part
from docx.oxml.ns import qn
from docx.oxml.parser import OxmlElement
from docx.shared import Inches, Mm, Pt, RGBColor
from lxml import etree

from core.catalogue import FieldDef, FormDef
from parsers.templates.common import (
    PINNED_TIME,
    PROP_TEMPLATE_ID,
    PROP_TEMPLATE_VERSION,
    options_line,
    repack,
    template_line,
)

PLACEHOLDER_TEXT = "Click or tap here to enter text."
PLACEHOLDER_DATE = "Click or tap to enter a date."
PLACEHOLDER_CHOICE = "Choose an item."
PLACEHOLDER_STYLE = "PlaceholderText"
UNCHECKED = "\u2610"  # ☐
CHECKED = "\u2612"  # ☒
EMPTY_TABLE_ROWS = 5
YES_NO = ("Yes", "No")

_GREY = RGBColor(0x59, 0x59, 0x59)
_HINT_SIZE = Pt(8)
_LABEL_WIDTH = Inches(2.3)
_VALUE_WIDTH = Inches(3.97)
_CUSTOM_PROPS_NS = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
_VT_NS = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
_CUSTOM_PROPS_TYPE = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
_FMTID = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"
_CHECKBOX_FONT = "MS Gothic"


def build_word(form: FormDef) -> bytes:
    """The blank .docx of a word-layout form."""
    doc = new_document()
    _page_setup(doc)
    _styles(doc)
    ids = count(1)

    doc.add_heading(form.form.title, level=0)
    doc.add_paragraph(template_line(form))

    doc.add_heading("Guidance", level=1)
    for line in form.form.guidance:
        doc.add_paragraph(line, style="List Bullet")
    doc.add_paragraph("Fields marked * are mandatory.")

    for section in form.sections:
        fields = form.fields_in(section.id)
        if not fields:
            continue
        doc.add_heading(section.title, level=1)
        pending: list[FieldDef] = []
        for field in fields:
            if field.type == "table":
                _label_value_table(doc, pending, ids)
                pending = []
                _repeating_table(doc, field)
            else:
                pending.append(field)
        _label_value_table(doc, pending, ids)

    props = doc.core_properties
    props.title = form.form.title
    props.subject = template_line(form)
    props.author = "Safeguarding partnership"
    props.last_modified_by = "Safeguarding partnership"
    props.comments = ""
    props.revision = 1
    props.created = PINNED_TIME
    props.modified = PINNED_TIME
    _add_custom_properties(doc, form)

    out = io.BytesIO()
    doc.save(out)
    return repack(out.getvalue())


# -- document set-up ---------------------------------------------------------------------


def _page_setup(doc: Any) -> None:
    section = doc.sections[0]
    section.page_width = Mm(210)
    section.page_height = Mm(297)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Inches(1))


def _styles(doc: Any) -> None:
    style = doc.styles.add_style("Placeholder Text", WD_STYLE_TYPE.CHARACTER)
    style.font.color.rgb = RGBColor(0x80, 0x80, 0x80)


def custom_properties_xml(values: dict[str, str]) -> bytes:
    """docProps/custom.xml holding string properties, in the given order."""
    nsmap = {None: _CUSTOM_PROPS_NS, "vt": _VT_NS}
    root = etree.Element(f"{{{_CUSTOM_PROPS_NS}}}Properties", nsmap=nsmap)  # type: ignore[arg-type]
    for pid, (name, value) in enumerate(values.items(), start=2):
        prop = etree.SubElement(root, f"{{{_CUSTOM_PROPS_NS}}}property", fmtid=_FMTID, pid=str(pid), name=name)
        etree.SubElement(prop, f"{{{_VT_NS}}}lpwstr").text = value
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))


def _add_custom_properties(doc: Any, form: FormDef) -> None:
    package = doc.part.package
    # python-docx's default package carries a thumbnail of its own sample page: drop it
    for r_id, rel in list(package.rels.items()):
        if rel.reltype == RELATIONSHIP_TYPE.THUMBNAIL:
            del package.rels[r_id]
    blob = custom_properties_xml({PROP_TEMPLATE_ID: form.id, PROP_TEMPLATE_VERSION: form.version})
    part = Part(PackURI("/docProps/custom.xml"), _CUSTOM_PROPS_TYPE, blob, package)
    package.relate_to(part, RELATIONSHIP_TYPE.CUSTOM_PROPERTIES)


# -- label | value tables ------------------------------------------------------------------


def _label_value_table(doc: Any, fields: list[FieldDef], ids: count[int]) -> None:
    if not fields:
        return
    table = doc.add_table(rows=len(fields), cols=2)
    table.style = "Table Grid"
    table.autofit = False
    table.columns[0].width = _LABEL_WIDTH
    table.columns[1].width = _VALUE_WIDTH
    for row, field in zip(table.rows, fields, strict=True):
        label_cell, value_cell = row.cells
        label_cell.width = _LABEL_WIDTH
        value_cell.width = _VALUE_WIDTH
        _fill_label_cell(label_cell, field)
        _fill_value_cell(value_cell, field, ids)


def _fill_label_cell(cell: Any, field: FieldDef) -> None:
    paragraph = cell.paragraphs[0]
    run = paragraph.add_run(field.label + (" *" if field.mandatory else ""))
    run.bold = True
    if field.help:
        _hint(cell.add_paragraph(), field.help)
    if field.type == "choice":
        _hint(cell.add_paragraph(), options_line(field.choices))


def _hint(paragraph: Any, text: str) -> None:
    run = paragraph.add_run(text)
    run.font.size = _HINT_SIZE
    run.font.color.rgb = _GREY


def _fill_value_cell(cell: Any, field: FieldDef, ids: count[int]) -> None:
    tc = cell._tc
    first_p = cell.paragraphs[0]._p
    if field.type == "longtext":
        tc.remove(first_p)
        tc.append(_rich_text_control(field, next(ids)))
    elif field.type == "yesno":
        _checkbox_line(first_p, field, YES_NO, ids, separator="  ")
    elif field.type == "checkboxes":
        tc.remove(first_p)
        for option in field.choices:
            p = OxmlElement("w:p")
            tc.append(p)
            _checkbox_line(p, field, (option,), ids, separator="")
    elif field.type == "date":
        first_p.append(_date_control(field, next(ids)))
    elif field.type == "choice":
        first_p.append(_drop_down_control(field, next(ids)))
    else:
        first_p.append(_plain_text_control(field, next(ids)))


# -- content controls ----------------------------------------------------------------------


def _el(tag: str, parent: Any = None, **attrs: str) -> Any:
    element = OxmlElement(tag, {qn(k.replace("_", ":", 1)): v for k, v in attrs.items()})
    if parent is not None:
        parent.append(element)
    return element


def _sdt_pr(sdt: Any, field: FieldDef, sdt_id: int, placeholder: bool = True) -> Any:
    pr = _el("w:sdtPr", sdt)
    _el("w:alias", pr, w_val=field.label)
    _el("w:tag", pr, w_val=field.id)
    _el("w:id", pr, w_val=str(sdt_id))
    if placeholder:
        _el("w:showingPlcHdr", pr)
    return pr


def _placeholder_run(text: str) -> Any:
    run = _el("w:r")
    rpr = _el("w:rPr", run)
    _el("w:rStyle", rpr, w_val=PLACEHOLDER_STYLE)
    t = _el("w:t", run)
    t.text = text
    return run


def _plain_text_control(field: FieldDef, sdt_id: int) -> Any:
    sdt = _el("w:sdt")
    pr = _sdt_pr(sdt, field, sdt_id)
    _el("w:text", pr)
    content = _el("w:sdtContent", sdt)
    content.append(_placeholder_run(PLACEHOLDER_TEXT))
    return sdt


def _rich_text_control(field: FieldDef, sdt_id: int) -> Any:
    sdt = _el("w:sdt")
    _sdt_pr(sdt, field, sdt_id)
    content = _el("w:sdtContent", sdt)
    p = _el("w:p", content)
    p.append(_placeholder_run(PLACEHOLDER_TEXT))
    return sdt


def _date_control(field: FieldDef, sdt_id: int) -> Any:
    sdt = _el("w:sdt")
    pr = _sdt_pr(sdt, field, sdt_id)
    date = _el("w:date", pr)
    _el("w:dateFormat", date, w_val="dd/MM/yyyy")
    _el("w:lid", date, w_val="en-GB")
    _el("w:storeMappedDataAs", date, w_val="dateTime")
    _el("w:calendar", date, w_val="gregorian")
    content = _el("w:sdtContent", sdt)
    content.append(_placeholder_run(PLACEHOLDER_DATE))
    return sdt


def _drop_down_control(field: FieldDef, sdt_id: int) -> Any:
    sdt = _el("w:sdt")
    pr = _sdt_pr(sdt, field, sdt_id)
    listing = _el("w:dropDownList", pr)
    _el("w:listItem", listing, w_displayText=PLACEHOLDER_CHOICE, w_value="")
    for option in field.choices:
        _el("w:listItem", listing, w_displayText=option, w_value=option)
    content = _el("w:sdtContent", sdt)
    content.append(_placeholder_run(PLACEHOLDER_CHOICE))
    return sdt


def _checkbox_control(field: FieldDef, sdt_id: int) -> Any:
    sdt = _el("w:sdt")
    pr = _sdt_pr(sdt, field, sdt_id, placeholder=False)
    box = _el("w14:checkbox", pr)
    _el("w14:checked", box, w14_val="0")
    _el("w14:checkedState", box, w14_val="2612", w14_font=_CHECKBOX_FONT)
    _el("w14:uncheckedState", box, w14_val="2610", w14_font=_CHECKBOX_FONT)
    content = _el("w:sdtContent", sdt)
    run = _el("w:r", content)
    rpr = _el("w:rPr", run)
    _el(
        "w:rFonts",
        rpr,
        w_ascii=_CHECKBOX_FONT,
        w_eastAsia=_CHECKBOX_FONT,
        w_hAnsi=_CHECKBOX_FONT,
        w_hint="eastAsia",
    )
    t = _el("w:t", run)
    t.text = UNCHECKED
    return sdt


def _checkbox_line(p: Any, field: FieldDef, options: tuple[str, ...], ids: count[int], separator: str) -> None:
    for index, option in enumerate(options):
        p.append(_checkbox_control(field, next(ids)))
        run = _el("w:r", p)
        t = _el("w:t", run)
        t.text = f" {option}" + (separator if index < len(options) - 1 else "")
        t.set(qn("xml:space"), "preserve")


# -- repeating tables ----------------------------------------------------------------------


def _repeating_table(doc: Any, field: FieldDef) -> None:
    doc.add_heading(field.label, level=2)
    hints = [field.help] if field.help else []
    for column in field.columns:
        if column.type == "yesno":
            hints.append(f"{column.label}: Yes or No.")
        elif column.type == "choice":
            hints.append(f"{column.label}: {options_line(column.choices)}.")
        elif column.type == "date":
            hints.append(f"{column.label}: a date as dd/mm/yyyy.")
        if column.help:
            hints.append(f"{column.label}: {column.help}")
    for hint in hints:
        _hint(doc.add_paragraph(), hint)
    table = doc.add_table(rows=1 + EMPTY_TABLE_ROWS, cols=len(field.columns))
    table.style = "Table Grid"
    header = table.rows[0]
    tr_pr = header._tr.get_or_add_trPr()
    _el("w:tblHeader", tr_pr)
    for cell, column in zip(header.cells, field.columns, strict=True):
        cell.paragraphs[0].add_run(column.label).bold = True
