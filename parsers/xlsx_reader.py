"""A returned chronology workbook (.xlsx) -> Document, read by its labels and headings.

Cell values come from python-calamine (about half the cost of a bare lxml pass over the
sheet, where openpyxl's read-only mode is five times it: design/reading-documents.md).
Calamine can abort the process on a hostile sheet; the gate checks the file first and the
reading runs in an isolated worker, so that is a rejected file, not a crash of the service.

How a workbook is read:

- The form: the custom properties TemplateId/TemplateVersion first; else the chronology form
  whose event columns a sheet's header row names (parsers.identify decides which form the
  properties name, an unknown version of a known form being read as its current version).
- The events sheet: the header row is looked for in the first :data:`HEADER_SEARCH_ROWS`
  rows of every worksheet (title rows and header details may stand above it). Visible
  sheets win over hidden ones (a hidden sheet is used only when nothing visible matches);
  then the sheet named like the template's; then the best header match; then the first.
- Events: every row below the header goes to parsers.events (blank and decorative rows are
  skipped there). Calamine leaves out cells that are formatted but hold no value, so
  thousands of formatted empty rows cost nothing.
- Header details are read by their labels, not positions: a label with its value beside it
  (the next filled cell to the right), or "Label: value" in one cell, anywhere in the first
  :data:`LABEL_COLUMNS` columns of the details sheet, of the rows above the events header,
  and of the first rows of any other visible sheet. Guidance and list sheets are not read
  (the template's guidance prints each label beside its help). A value found beats an
  empty one; the details sheet comes first, then the events sheet, then other sheets.
- Case references: every text of those header areas (guidance sheets excluded: the
  template's help shows an example reference), and the events' text and longtext columns,
  each column's joined text checked with one substring test for the prefix before the
  regex runs over the few cells that hold it; dates, numbers and choices are not scanned.
- Rows are streamed from calamine (``iter_rows``) rather than converted to one list of
  lists first, a third less memory at 50,000 rows.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from python_calamine import CalamineError, CalamineSheet, CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

from core.catalogue import FieldDef, FormDef
from core.model import Document, FieldValue, Location, Rejection
from core.settings import FormsContext
from parsers.events import EventsReader
from parsers.identify import by_properties, matcher_for
from parsers.labels import FieldMatcher, LabelMatch
from parsers.ooxml import custom_properties
from parsers.values import coerce, find_case_references

__all__ = ["HEADER_SEARCH_ROWS", "read_xlsx"]

#: the events header row is looked for in this many rows from the top of each sheet
HEADER_SEARCH_ROWS: Final = 30
#: labels are looked for in this many columns from the left
LABEL_COLUMNS: Final = 12
#: a label's value is the next filled cell within this many cells to its right
VALUE_REACH: Final = 3
#: rows read for labels: the details sheet, and any other sheet
DETAILS_ROWS: Final = 300
OTHER_ROWS: Final = 60
#: only texts this short can be labels
MAX_LABEL_CHARS: Final = 120
#: sheets never read for header details (normalised names, or their beginnings)
_NOT_DETAILS: Final = ("guidance", "instruction", "help", "readme", "notes", "list", "lookup", "option", "dropdown")
_NON_WORD = re.compile(r"[\W_]+")

_UNREADABLE: Final = "the workbook could not be read"
_PROTECTED: Final = "the workbook is password protected"


def read_xlsx(data: bytes, filename: str, ctx: FormsContext) -> Document:
    """Read a returned chronology workbook (already through the gate) against the catalogue."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            props = custom_properties(zf)
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        try:
            return _WorkbookReader(book, filename, ctx, props).read()
        finally:
            book.close()
    except (zipfile.BadZipFile, CalamineError, OSError, ValueError) as exc:
        reason = _PROTECTED if type(exc).__name__ == "PasswordError" else _UNREADABLE
        return Document(filename=filename, media="xlsx", rejection=Rejection(rule="DOC-UNREADABLE", reason=reason))


def _sheet_key(name: str) -> str:
    return _NON_WORD.sub("", name.casefold())


def _column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _ref(row: int, col: int) -> str:
    """The A1 reference of 0-based (row, col)."""
    return f"{_column_letters(col)}{row + 1}"


def _blank(raw: object) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


@dataclass
class _Header:
    """The events header found on a sheet."""

    sheet: str
    row: int  # 0-based
    mapping: dict[int, str]
    form: FormDef
    rank: tuple[int, ...] = field(default=())


class _WorkbookReader:
    def __init__(self, book: CalamineWorkbook, filename: str, ctx: FormsContext, props: dict[str, str]) -> None:
        self.book = book
        self.filename = filename
        self.ctx = ctx
        self.props = props
        self.sheets: list[tuple[str, bool]] = [
            (m.name, m.visible == SheetVisibleEnum.Visible)
            for m in book.sheets_metadata
            if m.typ == SheetTypeEnum.WorkSheet
        ]
        self._loaded: dict[str, CalamineSheet] = {}
        self._tops: dict[str, tuple[int, list[list[Any]]]] = {}
        self.fields: dict[str, FieldValue] = {}
        self.texts: list[str] = []

    # -- sheets ---------------------------------------------------------------------------
    def sheet(self, name: str) -> CalamineSheet:
        found = self._loaded.get(name)
        if found is None:
            found = self.book.get_sheet_by_name(name)
            self._loaded[name] = found
        return found

    def top(self, name: str, rows: int) -> list[list[Any]]:
        """The first ``rows`` rows of a sheet, cell positions as Excel's (row 0 is row 1)."""
        cached = self._tops.get(name)
        if cached is None or cached[0] < rows:
            cached = (rows, self.sheet(name).to_python(skip_empty_area=False, nrows=rows))
            self._tops[name] = cached
        return cached[1][:rows]

    # -- the whole read -------------------------------------------------------------------
    def read(self) -> Document:
        ctx = self.ctx
        form = by_properties(self.props, ctx.catalogue)
        identified_by: Any = "properties"
        if form is not None and form.form.layout != "chronology":
            form = None
        candidates = [form] if form is not None else _chronology_forms(ctx)
        header = self.find_header(candidates)
        if form is None:
            if header is None:
                return Document(filename=self.filename, media="xlsx")
            form, identified_by = header.form, "labels"
        doc = Document(
            filename=self.filename,
            media="xlsx",
            form=form.id,
            version=form.version,
            identified_by=identified_by,
        )
        self.read_details(form, header)
        doc.fields = self.fields
        if header is not None:
            self.read_events(doc, form, header)
        references = find_case_references("\n".join(self.texts), ctx.forms.case_reference_prefix)
        references.extend(r for r in self.event_references(doc, form) if r not in references)
        doc.references_seen = references
        return doc

    # -- the events -----------------------------------------------------------------------
    def find_header(self, candidates: Sequence[FormDef]) -> _Header | None:
        best: _Header | None = None
        for order, (name, visible) in enumerate(self.sheets):
            rows = self.top(name, HEADER_SEARCH_ROWS)
            for rank_form, form in enumerate(candidates):
                reader = EventsReader(form, self.ctx)
                found: tuple[int, dict[int, str]] | None = None
                for r, cells in enumerate(rows):
                    mapping = reader.match_header(cells)
                    if mapping is not None and (found is None or len(mapping) > len(found[1])):
                        found = (r, mapping)
                if found is None:
                    continue
                rank = (
                    int(visible),
                    int(_sheet_key(name) == _sheet_key(form.form.events_sheet)),
                    len(found[1]),
                    -rank_form,
                    -order,
                )
                if best is None or rank > best.rank:
                    best = _Header(name, found[0], found[1], form, rank)
        return best

    def read_events(self, doc: Document, form: FormDef, header: _Header) -> None:
        reader = EventsReader(form, self.ctx)
        if not self.stream_rows(reader, header):
            reader = EventsReader(form, self.ctx)
            reader.use_header(header.mapping)
            rows = self.sheet(header.sheet).to_python(skip_empty_area=False)
            read_row = reader.read_row
            for index in range(header.row + 1, len(rows)):
                read_row(index + 1, rows[index])
        doc.rows, doc.issues, doc.approximate = reader.finish()
        doc.rows_location = f"sheet '{header.sheet}'"

    def stream_rows(self, reader: EventsReader, header: _Header) -> bool:
        """Feed the rows below the header to ``reader`` one at a time, without holding the
        whole sheet as Python lists (a third less memory at 50,000 rows). Calamine's
        ``iter_rows`` gives every row from row 1 but only the columns from the first one
        used; the header row is compared with what was found, and False returned (nothing
        read) if the rows do not line up as expected."""
        sheet = self.sheet(header.sheet)
        start = sheet.start
        shift = start[1] if start is not None else 0
        if any(i < shift for i in header.mapping):
            return False
        expected = self.top(header.sheet, HEADER_SEARCH_ROWS)[header.row]
        reader.use_header({i - shift: column for i, column in header.mapping.items()})
        read_row = reader.read_row
        first = header.row + 1
        lined_up = False
        for index, cells in enumerate(sheet.iter_rows()):
            if index >= first:
                read_row(index + 1, cells)
            elif index == header.row:
                width = len(cells)
                lined_up = all(i - shift < width and cells[i - shift] == expected[i] for i in header.mapping)
                if not lined_up:
                    return False
        return lined_up

    def event_references(self, doc: Document, form: FormDef) -> list[str]:
        """Case references in the events' text columns: one substring test over each
        column's joined text first; the regex only runs over the cells that may hold one."""
        prefix = self.ctx.forms.case_reference_prefix
        needle = prefix.casefold()
        rows = doc.rows
        found: list[str] = []
        for column in form.events:
            if column.type not in ("text", "longtext"):
                continue
            key = column.id
            texts = [v for row in rows if type(v := row[key]) is str]
            if needle in "\n".join(texts).casefold():
                hits = "\n".join(t for t in texts if needle in t.casefold())
                found.extend(r for r in find_case_references(hits, prefix) if r not in found)
        return found

    # -- header details -------------------------------------------------------------------
    def read_details(self, form: FormDef, header: _Header | None) -> None:
        matcher = matcher_for(form)
        fields = {f.id: f for f in form.fields if f.type != "table"}
        details_key = _sheet_key(form.form.details_sheet)
        events_sheet = header.sheet if header is not None else None
        ordered = sorted(
            self.sheets,
            key=lambda s: (_sheet_key(s[0]) != details_key, s[0] != events_sheet),
        )
        for name, visible in ordered:
            key = _sheet_key(name)
            if name == events_sheet and header is not None:
                rows = self.top(name, HEADER_SEARCH_ROWS)[: header.row]
            elif key == details_key:
                rows = self.top(name, DETAILS_ROWS)
            elif visible and not key.startswith(_NOT_DETAILS):
                rows = self.top(name, OTHER_ROWS)
            else:
                continue
            self.scan_labels(name, rows, matcher, fields)

    def scan_labels(
        self, sheet: str, rows: list[list[Any]], matcher: FieldMatcher, fields: dict[str, FieldDef]
    ) -> None:
        for r, cells in enumerate(rows):
            width = min(len(cells), LABEL_COLUMNS)
            c = 0
            while c < width:
                cell = cells[c]
                if not isinstance(cell, str) or not cell.strip():
                    c += 1
                    continue
                text = cell.strip()
                self.texts.append(text)
                hit: LabelMatch | None = None
                split = matcher.split_label_value(text, None) if (":" in text or "\t" in text) else None
                if split is not None and split[0].field_id in fields:
                    if split[1]:  # "Label: value" in one cell
                        location = Location(kind="cell", sheet=sheet, ref=_ref(r, c))
                        self.record(fields[split[0].field_id], split[1], location)
                        c += 1
                        continue
                    hit = split[0]  # "Label:" with its value beside
                elif len(text) <= MAX_LABEL_CHARS:
                    hit = matcher.match(text, None)
                if hit is not None and hit.field_id in fields:
                    target = self.value_beside(cells, c, matcher)
                    raw = cells[target] if target is not None else None
                    at = target if target is not None else c + 1
                    if isinstance(raw, str) and raw.strip():
                        self.texts.append(raw)
                    self.record(fields[hit.field_id], raw, Location(kind="cell", sheet=sheet, ref=_ref(r, at)))
                    c = (target if target is not None else c) + 1
                    continue
                c += 1

    @staticmethod
    def value_beside(cells: Sequence[Any], c: int, matcher: FieldMatcher) -> int | None:
        """The index of a label's value: the next filled cell within reach to the right,
        unless that cell is itself exactly a label (then the value is empty). A fuzzy match
        is not enough: values such as "Child A" look like labels to a fuzzy matcher."""
        for k in range(c + 1, min(len(cells), c + 1 + VALUE_REACH)):
            raw = cells[k]
            if _blank(raw):
                continue
            if isinstance(raw, str) and len(raw) <= MAX_LABEL_CHARS:
                hit = matcher.match(raw.strip(), None)
                if hit is not None and hit.exact:
                    return None
            return k
        return None

    def record(self, f: FieldDef, raw: object, location: Location) -> None:
        if raw is not None and not isinstance(raw, str | int | float | bool) and not hasattr(raw, "year"):
            raw = str(raw)  # a duration: read as text
        if isinstance(raw, str) and f.help and raw.strip() == f.help:
            return  # a copy of the template's guidance, not a value
        got = coerce(
            f.type,
            raw,  # type: ignore[arg-type]
            choices=f.choices,
            agencies=self.ctx.agencies,
            case_prefix=self.ctx.forms.case_reference_prefix,
        )
        value = FieldValue(value=got.value, location=location, problem=got.problem, approximate=got.approximate)
        known = self.fields.get(f.id)
        if known is None or (known.value is None and known.problem is None and not _empty_value(value)):
            self.fields[f.id] = value


def _empty_value(v: FieldValue) -> bool:
    return v.value is None and v.problem is None


def _chronology_forms(ctx: FormsContext) -> list[FormDef]:
    """The chronology forms, current versions first, then newest first."""
    forms = [f for f in ctx.catalogue if f.form.layout == "chronology"]
    return sorted(forms, key=lambda f: f.form.status != "current")
