"""The blank Excel workbook of a chronology form (layout "chronology").

Sheets, in this order (names from the form: ``details_sheet`` / ``events_sheet``):

- "Details": A1 the form's title, A2 ``Template: <id> version <version>``, row 3 empty, then
  from row 4 one header field a row: label in column A (with " *" when mandatory), value in
  column B (empty; dates formatted dd/mm/yyyy; choice and yes/no fields have a list
  validation). Nothing else is written to the right of column B.
- "Chronology": row 1 the column headings in catalogue order (plain labels, no "*"),
  frozen; rows 2..1000 formatted (dd/mm/yyyy for date columns, hh:mm for time columns) but
  empty; list validations for choice and yes/no columns; widths set per column type.
- "Guidance": the guidance, then each header field and event column with its help, then
  any option lists too long for an inline validation formula.

Custom document properties TemplateId / TemplateVersion name the template.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from openpyxl import Workbook
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from core.catalogue import Column, FieldDef, FormDef
from parsers.templates.common import (
    PINNED_TIME,
    PROP_TEMPLATE_ID,
    PROP_TEMPLATE_VERSION,
    repack,
    template_line,
)

GUIDANCE_SHEET = "Guidance"
#: the first row of header fields on the details sheet
DETAILS_FIRST_ROW = 4
#: event rows formatted in the blank template (row 1 is the header)
LAST_FORMATTED_ROW = 1000
DATE_FORMAT = "DD/MM/YYYY"
TIME_FORMAT = "HH:MM"
YES_NO = ("Yes", "No")

_HEADER_FILL = PatternFill("solid", fgColor="D9D9D9")
_WIDTHS = {"longtext": 48, "date": 13, "time": 9, "integer": 7, "yesno": 11, "choice": 26}
_DEFAULT_WIDTH = 24
_MAX_INLINE_LIST = 255


def build_excel(form: FormDef) -> bytes:
    """The blank .xlsx of a chronology form."""
    wb = Workbook()
    details = wb.active
    assert details is not None
    details.title = form.form.details_sheet
    events = wb.create_sheet(form.form.events_sheet)
    guidance = wb.create_sheet(GUIDANCE_SHEET)

    lists = _ListsOnGuidance(guidance)
    _guidance_sheet(guidance, form)
    _details_sheet(details, form, lists)
    _events_sheet(events, form, lists)

    wb.properties.title = form.form.title
    wb.properties.subject = template_line(form)
    wb.properties.creator = "Safeguarding partnership"
    wb.properties.lastModifiedBy = "Safeguarding partnership"
    wb.properties.created = PINNED_TIME
    wb.properties.modified = PINNED_TIME
    custom = wb.custom_doc_props  # type: ignore[attr-defined]  # missing from the openpyxl stubs
    custom.append(StringProperty(name=PROP_TEMPLATE_ID, value=form.id))
    custom.append(StringProperty(name=PROP_TEMPLATE_VERSION, value=form.version))

    out = io.BytesIO()
    wb.save(out)
    return repack(out.getvalue())


class _ListsOnGuidance:
    """List validation formulas: inline when short, else a range on the guidance sheet."""

    def __init__(self, guidance: Worksheet) -> None:
        self._sheet = guidance
        self._pending: list[tuple[str, tuple[str, ...]]] = []

    def formula(self, title: str, options: tuple[str, ...]) -> str:
        inline = ",".join(options)
        if len(inline) + 2 <= _MAX_INLINE_LIST and not any("," in o or '"' in o for o in options):
            return f'"{inline}"'
        start = self._sheet.max_row + 2
        self._sheet.cell(row=start, column=1, value=f"Options for {title}").font = Font(bold=True)
        for offset, option in enumerate(options, start=1):
            self._sheet.cell(row=start + offset, column=1, value=option)
        end = start + len(options)
        return f"'{self._sheet.title}'!$A${start + 1}:$A${end}"


def _list_validation(formula: str, title: str, refs: str) -> DataValidation:
    dv = DataValidation(
        type="list",
        formula1=formula,
        allow_blank=True,
        showErrorMessage=True,
        errorStyle="warning",
        error="Choose one of the options, or keep your text if none fits.",
        showInputMessage=False,
        promptTitle=title[:32],
    )
    dv.add(refs)
    return dv


def _options_of(item: FieldDef | Column) -> tuple[str, ...] | None:
    if item.type == "choice":
        return item.choices
    if item.type == "yesno":
        return YES_NO
    return None


def _details_sheet(ws: Worksheet, form: FormDef, lists: _ListsOnGuidance) -> None:
    ws["A1"] = form.form.title
    ws["A1"].font = Font(bold=True, size=14)
    ws["A2"] = template_line(form)
    ws.column_dimensions["A"].width = 30
    ws.column_dimensions["B"].width = 40
    for row, field in enumerate(_scalar(form.fields), start=DETAILS_FIRST_ROW):
        label = ws.cell(row=row, column=1, value=field.label + (" *" if field.mandatory else ""))
        label.font = Font(bold=True)
        value = ws.cell(row=row, column=2)
        if field.type == "date":
            value.number_format = DATE_FORMAT
        elif field.type == "time":
            value.number_format = TIME_FORMAT
        options = _options_of(field)
        if options is not None:
            ws.add_data_validation(_list_validation(lists.formula(field.label, options), field.label, value.coordinate))


def _scalar(fields: Iterable[FieldDef]) -> list[FieldDef]:
    return [f for f in fields if f.type != "table"]


def _events_sheet(ws: Worksheet, form: FormDef, lists: _ListsOnGuidance) -> None:
    for index, column in enumerate(form.events, start=1):
        letter = get_column_letter(index)
        head = ws.cell(row=1, column=index, value=column.label)
        head.font = Font(bold=True)
        head.fill = _HEADER_FILL
        head.alignment = Alignment(wrap_text=True, vertical="top")
        ws.column_dimensions[letter].width = _WIDTHS.get(column.type, _DEFAULT_WIDTH)
        number_format = {"date": DATE_FORMAT, "time": TIME_FORMAT}.get(column.type)
        if number_format is not None:
            for row in range(2, LAST_FORMATTED_ROW + 1):
                ws.cell(row=row, column=index).number_format = number_format
        options = _options_of(column)
        if options is not None:
            refs = f"{letter}2:{letter}{LAST_FORMATTED_ROW}"
            ws.add_data_validation(_list_validation(lists.formula(column.label, options), column.label, refs))
    ws.freeze_panes = "A2"


def _guidance_sheet(ws: Worksheet, form: FormDef) -> None:
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 90
    ws["A1"] = "Guidance"
    ws["A1"].font = Font(bold=True, size=14)
    row = 2
    for line in form.form.guidance:
        ws.cell(row=row, column=1, value=line)
        row += 1
    row += 1
    ws.cell(row=row, column=1, value=f"Sheet {form.form.details_sheet!r}").font = Font(bold=True)
    row += 1
    for field in _scalar(form.fields):
        row = _help_row(ws, row, field.label, field.mandatory, field.help)
    row += 1
    ws.cell(row=row, column=1, value=f"Sheet {form.form.events_sheet!r}: one event a row").font = Font(bold=True)
    row += 1
    for column in form.events:
        row = _help_row(ws, row, column.label, column.mandatory, column.help)
    row += 1
    ws.cell(row=row, column=1, value="Fields marked * are mandatory.")


def _help_row(ws: Worksheet, row: int, label: str, mandatory: bool, help_text: str) -> int:
    ws.cell(row=row, column=1, value=label + (" *" if mandatory else ""))
    cell = ws.cell(row=row, column=2, value=help_text or None)
    cell.alignment = Alignment(wrap_text=True, vertical="top")
    return row + 1
