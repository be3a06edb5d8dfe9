"""A returned .docx -> Document, read by its labels, not by cell positions.

One pass of lxml over word/document.xml (parsers.docx_layout), then:

- content controls tagged with a field id of the form are trusted directly (tag beats label);
- the current section follows headings, bold paragraphs and full-width table rows, so a short
  label ("Date:") resolves to the field of the section it stands in;
- in a table, a label cell's value is the cell beside it, or the cell below when nothing
  stands beside; "Label: value" in one cell or paragraph is split; a label paragraph takes the
  paragraphs under it;
- a table whose header row matches a repeating table field's columns is read as that table's
  rows (blank rows dropped); a chronology's events table goes to parsers.events;
- a field given twice with different values is reported, never guessed;
- every text is scanned for case references; an empty case reference takes the one reference
  seen elsewhere, when there is exactly one.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree

from core.agencies import AgencyRegistry
from core.catalogue import Column, FieldDef, FormDef
from core.catalogue.schema import FieldType
from core.model import Document, FieldValue, Location, ReadIssue, Rejection, Value, new_field_value, new_location
from core.settings import FormsContext
from parsers.docx_layout import Cell, Layout, Para, Row, Table, extract
from parsers.identify import IdentifiedBy, by_properties, identify, matcher_for
from parsers.labels import FieldMatcher, LabelMatch, normalise_label
from parsers.ooxml import CUSTOM_PROPERTIES_PART, SAFE_PARSER, custom_properties, parse_custom_properties
from parsers.values import BOTH_TICKED, Coerced, coerce, find_case_references, is_empty

TWICE = "given twice with different values"
MANY_TICKED = BOTH_TICKED
#: a text longer than this is not read as a label
MAX_LABEL_CHARS = 120
#: a paragraph longer than this is not a heading
MAX_HEADING_CHARS = 100
#: a label match at least this good marks a cell as a label (not a value)
STRONG = 0.9
YES_NO = ("Yes", "No")
#: types whose value may run over several paragraphs
_MULTILINE = frozenset({"longtext", "checkboxes"})


DOCUMENT_PART = "word/document.xml"
#: the parts read_docx reads: the gate may hand them over already read (``parts``)
DOCX_PARTS = (DOCUMENT_PART, CUSTOM_PROPERTIES_PART)


def read_docx(
    data: bytes, filename: str, ctx: FormsContext, parts: Mapping[str, bytes | None] | None = None
) -> Document:
    """Read a returned Word document (already through the gate) against the catalogue.

    ``parts``: the bytes of the DOCX_PARTS as the gate read them (None for a part the
    package lacks, see ``gate.GateResult.parts``); when any is missing from it the zip is
    opened and both are read here."""
    try:
        if parts is not None and all(name in parts for name in DOCX_PARTS):
            xml = parts[DOCUMENT_PART]
            if xml is None:
                raise KeyError(DOCUMENT_PART)
            custom = parts[CUSTOM_PROPERTIES_PART]
            props = parse_custom_properties(custom) if custom is not None else {}
        else:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                xml = zf.read(DOCUMENT_PART)
                props = custom_properties(zf)
        root = etree.fromstring(xml, SAFE_PARSER)
    except (zipfile.BadZipFile, KeyError, etree.XMLSyntaxError, ValueError, OSError, zlib.error, EOFError) as exc:
        reason = (
            "the Word document could not be read"
            if not isinstance(exc, KeyError)
            else ("the file has no Word document body")
        )
        return Document(filename=filename, media="docx", rejection=Rejection(rule="DOC-UNREADABLE", reason=reason))
    layout = extract(root)
    return read_layout(layout, props, filename, ctx)


def read_layout(layout: Layout, props: dict[str, str], filename: str, ctx: FormsContext) -> Document:
    form: FormDef | None = by_properties(props, ctx.catalogue)
    how: IdentifiedBy | None = "properties" if form is not None else None
    if form is None:
        texts, rows = _identification_texts(layout)
        form, how = identify(props, texts, ctx.catalogue, rows)
    doc = Document(filename=filename, media="docx", identified_by=how)
    if form is None:
        doc.references_seen = [ref for ref, _ in _references(layout, ctx.forms.case_reference_prefix)]
        return doc
    doc.form = form.id
    doc.version = form.version
    _Reader(form, ctx, layout, doc).read()
    return doc


def _identification_texts(layout: Layout) -> tuple[list[str], list[list[str]]]:
    """Paragraph texts and label-cell texts (first paragraph of each cell), and the first
    rows of every table (possible column headings)."""
    texts: list[str] = []
    rows: list[list[str]] = []
    for b in layout.blocks:
        if isinstance(b, Para):
            if b.text:
                texts.append(b.text)
        else:
            _add_identification_table(b, texts, rows)
    return texts, rows


def _add_identification_table(t: Table, texts: list[str], rows: list[list[str]]) -> None:
    """``_identification_texts`` for a table and the tables nested in it (a plain function:
    a closure calling itself would be a reference cycle left to the garbage collector)."""
    for i, r in enumerate(t.rows):
        cells = [_label_text(c) for c in r.cells]
        if i < 3:
            rows.append(cells)
        texts.extend(c for c in cells if c)
        for c in r.cells:
            for nested in c.tables:
                _add_identification_table(nested, texts, rows)


def _label_text(cell: Cell) -> str:
    for p in cell.paragraphs:
        if p.text:
            return p.text
    return ""


def _is_options_line(text: str) -> bool:
    return text[:8].lower() == "options:"


def _value_text(cell: Cell) -> str:
    paragraphs = cell.paragraphs
    if len(paragraphs) == 1:  # the common case, without the generator
        text = paragraphs[0].text
        return text.strip() if text and not _is_options_line(text) else ""
    return "\n".join(p.text for p in paragraphs if p.text and not _is_options_line(p.text)).strip()


def _cell_location(t: Table, r: Row, c: Cell) -> Location:
    return new_location(kind="table", table=t.number, row=r.index, cell=c.index)


def _paragraph_location(p: Para, where: Location | None) -> Location:
    """``where`` (a cell read paragraph by paragraph), else the body paragraph's own
    location; built only when a value is taken from the paragraph."""
    return where if where is not None else new_location(kind="paragraph", paragraph=p.number)


def _references(layout: Layout, prefix: str, skip: set[int] | None = None) -> list[tuple[str, Location]]:
    """(normalised reference, where first seen), in document order, each once."""
    seen: dict[str, Location] = {}
    key = prefix.lower()  # a text without it holds no reference: most are ruled out so
    for b in layout.blocks:
        if isinstance(b, Para):
            if b.text and key in b.text.lower() and (refs := find_case_references(b.text, prefix)):
                where = new_location(kind="paragraph", paragraph=b.number)
                for ref in refs:
                    seen.setdefault(ref, where)
        else:
            _table_references(b, key, prefix, skip, seen)
    return list(seen.items())


def _table_references(t: Table, key: str, prefix: str, skip: set[int] | None, seen: dict[str, Location]) -> None:
    """``_references`` for a table and the tables nested in it (a plain function: a closure
    calling itself would be a reference cycle left to the garbage collector)."""
    for r in t.rows:
        for c in r.cells:
            text = c.text
            if (
                text
                and key in text.lower()
                and not (skip and id(c) in skip)
                and (refs := find_case_references(text, prefix))
            ):
                where = _cell_location(t, r, c)
                for ref in refs:
                    seen.setdefault(ref, where)
            for nested in c.tables:
                _table_references(nested, key, prefix, skip, seen)


@dataclass(slots=True)
class _Candidate:
    value: FieldValue
    raw: str
    by_tag: bool


class _Reader:
    def __init__(self, form: FormDef, ctx: FormsContext, layout: Layout, doc: Document) -> None:
        self.form = form
        self.ctx = ctx
        self.layout = layout
        self.doc = doc
        self.m: FieldMatcher = matcher_for(form)
        self.fields = form.fields_by_id
        self.table_fields = form.table_fields
        self.found: dict[str, list[_Candidate]] = {}
        self.section: str | None = None
        self.pending_table: str | None = None
        # a label paragraph waiting for the paragraphs under it
        self.para_label: FieldDef | None = None
        self.para_values: list[tuple[Para, Location]] = []
        self.events_read = False
        #: cells read as labels: their hints (which may show an example reference) are not values
        self.label_cells: set[int] = set()

    # -- the walk -------------------------------------------------------------------------
    def read(self) -> None:
        self.read_controls()
        for block in self.layout.blocks:
            if isinstance(block, Para):
                self.paragraph(block)
            else:
                self.end_para_label()
                self.table(block)
        self.end_para_label()
        self.settle()
        self.references()

    # -- content controls -------------------------------------------------------------------
    def read_controls(self) -> None:
        by_field: dict[str, list[Any]] = {}
        for c in self.layout.controls:
            if c.tag in self.fields and self.fields[c.tag].type != "table":
                by_field.setdefault(c.tag, []).append(c)
        for field_id, controls in by_field.items():
            field = self.fields[field_id]
            boxes = [c for c in controls if c.kind == "checkbox"]
            others = [c for c in controls if c.kind != "checkbox"]
            if boxes:
                first = boxes[0]
                where = self._control_location(first)
                ticked = [c.after for c in boxes if c.checked and c.after]
                self.add_ticked(field, ticked, where, by_tag=True)
            for c in others:
                where = self._control_location(c)
                raw = c.text
                if c.kind == "date" and c.date and raw:
                    fv = self.coerce(field, raw, where)
                    if fv.problem is not None:
                        fv = self.coerce(field, c.date, where)
                elif c.kind == "date" and c.date and not raw:
                    fv = self.coerce(field, c.date, where)
                else:
                    fv = self.coerce(field, raw, where)
                self.found.setdefault(field_id, []).append(_Candidate(fv, raw, by_tag=True))

    def _control_location(self, c: Any) -> Location | None:
        if c.table is not None:
            return new_location(kind="table", table=c.table, row=c.row, cell=c.cell)
        if c.paragraph is not None:
            return new_location(kind="paragraph", paragraph=c.paragraph)
        return None

    def add_ticked(self, field: FieldDef, ticked: list[str], where: Location | None, by_tag: bool) -> None:
        raw = "\n".join(ticked)
        if field.type == "checkboxes":
            text = "\n".join(f"☒ {t}" for t in ticked)
            fv = self.coerce(field, text, where) if ticked else new_field_value(value=None, location=where)
            if ticked and fv.value is None and fv.problem is None:
                fv = new_field_value(value=[], location=where)
        elif not ticked:
            fv = new_field_value(value=None, location=where)
        elif len(ticked) > 1:
            fv = new_field_value(value=None, location=where, problem=MANY_TICKED)
        else:
            fv = self.coerce(field, ticked[0], where)
        self.found.setdefault(field.id, []).append(_Candidate(fv, raw, by_tag=by_tag))

    # -- values ---------------------------------------------------------------------------
    def coerce(self, field: FieldDef, raw: str, where: Location | None) -> FieldValue:
        result = _coerce(field.type, raw.strip(), field.choices, self.ctx)
        return new_field_value(
            value=result.value, location=where, problem=result.problem, approximate=result.approximate
        )

    def add(self, field: FieldDef, raw: str, where: Location) -> None:
        fv = self.coerce(field, raw, where)
        self.found.setdefault(field.id, []).append(_Candidate(fv, raw, by_tag=False))

    def settle(self) -> None:
        for field_id, candidates in self.found.items():
            if len(candidates) == 1:
                # what the rest makes of a single candidate, empty or not: its value
                self.doc.fields[field_id] = candidates[0].value
                continue
            tagged = [c for c in candidates if c.by_tag and not _empty(c)]
            labelled = [c for c in candidates if not c.by_tag and not _empty(c)]
            chosen = tagged or labelled
            if not chosen:
                self.doc.fields[field_id] = candidates[0].value
                continue
            if len(chosen) > 1 and len({_key(c) for c in chosen}) > 1:
                self.doc.fields[field_id] = new_field_value(
                    value=None, location=chosen[0].value.location, problem=TWICE
                )
            else:
                self.doc.fields[field_id] = chosen[0].value

    def references(self) -> None:
        found = _references(self.layout, self.ctx.forms.case_reference_prefix, self.label_cells)
        self.doc.references_seen = [ref for ref, _ in found]
        if "case_reference" not in self.fields:
            return
        current = self.doc.fields.get("case_reference")
        if current is not None and (current.value is not None or current.problem is not None):
            return
        if len(found) == 1:
            ref, where = found[0]
            self.doc.fields["case_reference"] = new_field_value(value=ref, location=where)

    # -- paragraphs ---------------------------------------------------------------------------
    def paragraph(self, p: Para, where: Location | None = None) -> None:
        """A paragraph of the body (or of a cell read paragraph by paragraph, ``where`` the cell)."""
        text = p.text
        if not text:
            return
        headingish = p.heading or (p.bold and len(text) <= MAX_HEADING_CHARS)
        if headingish:
            hit = self.label_match(text)
            strong = hit is not None and (hit.exact or hit.score >= STRONG)
            section = None if strong else self.m.match_section(text)
            if section is not None:
                self.end_para_label()
                self.section = section
                self.pending_table = None
                return
            if hit is not None and self.fields[hit.field_id].type == "table":
                self.end_para_label()
                self.pending_table = hit.field_id
                return
            if p.heading and hit is None:
                self.end_para_label()
                self.section = None
                return
        if self.pending_table is not None and p.number:
            return  # the caption and hints between a table's heading and the table
        if _has_value_after_colon(text):
            split = self.m.split_label_value(text, self.section)
            if split is not None and self.fields[split[0].field_id].type != "table":
                self.end_para_label()
                field = self.fields[split[0].field_id]
                if self.tagged_here(p.controls, field.id):
                    return
                if field.type in _MULTILINE:
                    self.para_label = field
                    self.para_values = [(Para(text=split[1]), _paragraph_location(p, where))]
                else:
                    self.add(field, split[1], _paragraph_location(p, where))
                return
        if len(text) <= MAX_LABEL_CHARS and (p.bold or p.heading or text.rstrip().endswith(":")):
            hit = self.label_match(text)
            if hit is not None and self.fields[hit.field_id].type != "table":
                self.end_para_label()
                self.para_label = self.fields[hit.field_id]
                return
        if self.para_label is not None and not _is_options_line(text):
            self.para_values.append((p, _paragraph_location(p, where)))
            if self.para_label.type not in _MULTILINE:
                self.end_para_label()

    def end_para_label(self) -> None:
        field, values = self.para_label, self.para_values
        self.para_label, self.para_values = None, []
        if field is None or not values:
            return
        if any(self.tagged_here(p.controls, field.id) for p, _ in values):
            return
        self.add(field, "\n".join(p.text for p, _ in values), values[0][1])

    def tagged_here(self, controls: list[Any], field_id: str) -> bool:
        # most paragraphs and cells hold no control: no generator for them
        return bool(controls) and any(c.tag == field_id for c in controls)

    def label_match(self, text: str) -> LabelMatch | None:
        if not text or len(text) > MAX_LABEL_CHARS:
            return None
        return self.m.match(text, self.section)

    def is_label(self, cell: Cell) -> bool:
        if cell.controls and any(c.tag in self.fields for c in cell.controls):
            return False
        hit = self.label_match(_label_text(cell))
        return hit is not None and (hit.exact or hit.score >= STRONG)

    # -- tables ---------------------------------------------------------------------------
    def table(self, t: Table) -> None:
        if not t.rows:
            return
        if self.form.form.layout == "chronology" and not self.events_read:
            header = self.events_header(t)
            if header is not None:
                self.read_events(t, header)
                return
        found = self.repeating_header(t, 0, 3)
        if found is not None:
            field, header_index, columns = found
            end = self.read_repeating(t, field, header_index, columns)
            if end < len(t.rows):
                self.label_rows(t, end)
            return
        self.label_rows(t, 0)

    def repeating_header(self, t: Table, start: int, depth: int) -> tuple[FieldDef, int, dict[int, str]] | None:
        """(table field, header row index, grid column -> column id) for the first of
        ``depth`` rows from ``start`` that holds a table field's column headings."""
        if not self.table_fields:
            return None
        match_column = self.m.match_column
        for ri in range(start, min(len(t.rows), start + depth)):
            row = t.rows[ri]
            texts = [(c.col, text) for c in row.cells if (text := _label_text(c))]
            if len(texts) < 2:
                continue
            # only texts short enough to be headings are matched
            texts = [(col, text) for col, text in texts if len(text) <= MAX_LABEL_CHARS]
            best: tuple[int, int, FieldDef, dict[int, str]] | None = None
            for field in self.table_fields:
                columns: dict[int, str] = {}
                need = min(2, len(field.columns))
                if len(texts) >= need:
                    for col, text in texts:
                        hit = match_column(text, field.columns)
                        if hit is not None and hit not in columns.values():
                            columns[col] = hit
                if len(columns) >= need:
                    score = (len(columns), 1 if field.id == self.pending_table else 0, field, columns)
                    if best is None or score[:2] > best[:2]:
                        best = score
            if best is not None:
                return best[2], ri, best[3]
        return None

    def read_repeating(self, t: Table, field: FieldDef, header_index: int, columns: dict[int, str]) -> int:
        """Read the rows under the header; returns the index of the first row not read."""
        self.pending_table = None
        by_id: dict[str, Column] = {c.id: c for c in field.columns}
        rows = self.doc.tables.setdefault(field.id, [])
        if field.id not in self.doc.table_locations:
            self.doc.table_locations[field.id] = new_location(
                kind="table", table=t.number, row=t.rows[header_index].index
            )
        header_cols = {c.col for c in t.rows[header_index].cells}
        ri = header_index + 1
        while ri < len(t.rows):
            row = t.rows[ri]
            if self.ends_repeating(row, header_cols):
                break
            values: dict[str, Value] = {"row": row.index}
            blank = True
            for column in field.columns:
                values[column.id] = None
            for cell in row.cells:
                column_id = columns.get(cell.col)
                if column_id is None:
                    continue
                raw = _value_text(cell)
                if not raw or is_empty(raw):
                    continue
                blank = False
                column = by_id[column_id]
                result = _coerce(column.type, raw, column.choices, self.ctx)
                values[column_id] = result.value
                if result.problem is not None:
                    self.doc.issues.append(
                        ReadIssue(field=column_id, row=row.index, message=result.problem, table=field.id)
                    )
            if not blank:
                rows.append(values)
            ri += 1
        return ri

    def ends_repeating(self, row: Row, header_cols: set[int]) -> bool:
        """A row of another shape that names a section or a field ends the repeating rows."""
        if {c.col for c in row.cells} == header_cols:
            return False
        for cell in row.cells:
            text = _label_text(cell)
            if text and (self.m.match_section(text) is not None or self.is_label(cell)):
                return True
        return False

    def label_rows(self, t: Table, start: int) -> None:
        rows = t.rows
        consumed: set[tuple[int, int]] = set()
        ri = start
        while ri < len(rows):
            row = rows[ri]
            cells = row.cells
            filled = [c for c in cells if c.text]
            if (
                len(filled) == 1
                and not filled[0].tables
                and (len(cells) == 1 or filled[0].span >= t.columns)
                and not _has_value_after_colon(_label_text(filled[0]))
                and not self.is_scalar_label(filled[0])
            ):
                section = self.m.match_section(_label_text(filled[0]))
                if section is not None:
                    self.section = section
                    self.pending_table = None
                    ri += 1
                    continue
            if len(filled) >= 2 and self.table_fields and ri != start and not self.is_scalar_label(cells[0]):
                found = self.repeating_header(t, ri, 1)
                if found is not None:
                    field, header_index, columns = found
                    ri = self.read_repeating(t, field, header_index, columns)
                    continue
            ci = 0
            while ci < len(cells):
                cell = cells[ci]
                for nested in cell.tables:
                    self.table(nested)
                if (ri, ci) in consumed:
                    ci += 1
                    continue
                ci += self.label_cell(t, ri, ci, consumed)
            ri += 1

    def is_scalar_label(self, cell: Cell) -> bool:
        hit = self.label_match(_label_text(cell))
        return hit is not None and self.fields[hit.field_id].type != "table" and (hit.exact or hit.score >= STRONG)

    def label_cell(self, t: Table, ri: int, ci: int, consumed: set[tuple[int, int]]) -> int:
        """Read the cell as a label (or "Label: value"); how many cells were used."""
        row = t.rows[ri]
        cell = row.cells[ci]
        text = _label_text(cell)
        if not text:
            return 1
        if cell.controls and any(c.tag in self.fields for c in cell.controls):
            return 1  # a value cell read through its controls
        value_after_colon = _has_value_after_colon(text)
        hit = None if value_after_colon else self.label_match(text)
        strong = hit is not None and (hit.exact or hit.score >= STRONG)
        if (
            not strong
            and not value_after_colon
            and sum(1 for p in cell.paragraphs if p.text) == 1
            and (section := self.m.match_section(text)) is not None
        ):
            self.section = section
            self.pending_table = None
            return 1
        if hit is None:
            self.cell_paragraphs(t, row, cell)
            return 1
        self.label_cells.add(id(cell))
        field = self.fields[hit.field_id]
        if field.type == "table":
            self.pending_table = field.id
            return 1
        beside = row.cells[ci + 1] if ci + 1 < len(row.cells) else None
        if beside is not None and not self.is_label(beside):
            for nested in beside.tables:
                self.table(nested)
            if not self.tagged_here(beside.controls, field.id):
                self.add(field, _value_text(beside), _cell_location(t, row, beside))
            return 2
        below = self.cell_below(t, ri, cell)
        if below is not None:
            below_row, below_index = below
            below_cell = t.rows[below_row].cells[below_index]
            if not self.is_label(below_cell):
                consumed.add((below_row, below_index))
                if not self.tagged_here(below_cell.controls, field.id):
                    self.add(field, _value_text(below_cell), _cell_location(t, t.rows[below_row], below_cell))
                return 1
        self.add(field, "", _cell_location(t, row, cell))
        return 1

    def cell_paragraphs(self, t: Table, row: Row, cell: Cell) -> None:
        """A cell that is no label: read its paragraphs as body paragraphs are read
        ("Label: value" lines, a label line with its value under it)."""
        self.end_para_label()
        where = _cell_location(t, row, cell)
        for p in cell.paragraphs:
            self.paragraph(p, where)
        self.end_para_label()

    def cell_below(self, t: Table, ri: int, cell: Cell) -> tuple[int, int] | None:
        if ri + 1 >= len(t.rows):
            return None
        for index, other in enumerate(t.rows[ri + 1].cells):
            if other.col == cell.col:
                return ri + 1, index
        return None

    # -- chronology events in a Word table --------------------------------------------------
    def events_header(self, t: Table) -> int | None:
        for ri in range(min(3, len(t.rows))):
            ids: set[str] = set()
            for c in t.rows[ri].cells:
                text = _label_text(c)
                if text and len(text) <= MAX_LABEL_CHARS:
                    hit = self.m.match_column(text, self.form.events)
                    if hit is not None:
                        ids.add(hit)
            if len(ids) >= 3:
                return ri
        return None

    def read_events(self, t: Table, header_index: int) -> None:
        from parsers.events import EventsReader

        reader = EventsReader(self.form, self.ctx)
        header = _grid_texts(t.rows[header_index], t.columns)
        body = [(r.index, _grid_texts(r, t.columns)) for r in t.rows[header_index + 1 :]]
        result = reader.read_word_table(header, body)
        self.doc.rows.extend(result.rows)
        self.doc.issues.extend(result.issues)
        self.doc.approximate.extend(result.approximate)
        self.doc.rows_location = f"table {t.number}"
        self.events_read = True


#: agency names repeat across documents and matching one scans the whole registry: the
#: results are kept per registry (the registry is immutable)
_AGENCY_CACHE: dict[int, tuple[AgencyRegistry, dict[str, Coerced]]] = {}
_AGENCY_CACHE_SIZE = 4096


def _coerce(type_: FieldType, raw: str, choices: tuple[str, ...], ctx: FormsContext) -> Coerced:
    if not raw:
        return _EMPTY
    prefix = ctx.forms.case_reference_prefix
    if type_ != "agency":
        return coerce(type_, raw, choices=choices, agencies=ctx.agencies, case_prefix=prefix)
    entry = _AGENCY_CACHE.get(id(ctx.agencies))
    if entry is None or entry[0] is not ctx.agencies:
        if len(_AGENCY_CACHE) > 8:
            _AGENCY_CACHE.clear()
        entry = (ctx.agencies, {})
        _AGENCY_CACHE[id(ctx.agencies)] = entry
    known = entry[1].get(raw)
    if known is None:
        known = coerce(type_, raw, choices=choices, agencies=ctx.agencies, case_prefix=prefix)
        if len(entry[1]) < _AGENCY_CACHE_SIZE:
            entry[1][raw] = known
    return known


_EMPTY = Coerced(None)


def _grid_texts(row: Row, width: int) -> list[str]:
    """The row's cell texts by grid column (a merged cell's text in its first column)."""
    texts = [""] * max(width, max((c.col + 1 for c in row.cells), default=0))
    for c in row.cells:
        texts[c.col] = _value_text(c)
    return texts


def _has_value_after_colon(text: str) -> bool:
    head, sep, tail = text.partition(":")
    return bool(sep) and bool(head.strip()) and bool(tail.strip())


def _empty(c: _Candidate) -> bool:
    return c.value.value is None and c.value.problem is None


def _key(c: _Candidate) -> str:
    v = c.value.value
    if isinstance(v, str):
        return " ".join(v.casefold().split())
    if v is not None:
        return repr(v)
    return "raw:" + normalise_label(c.raw)
