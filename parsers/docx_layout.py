"""The structure of word/document.xml in one pass: paragraphs, tables, content controls.

``extract(root)`` walks ``w:body`` in document order and returns a ``Layout``:

- top-level blocks: ``Para`` (text, style id, heading?, bold-only?) and ``Table``;
- every table (nested ones too) numbered 1, 2, ... in document order, as a person counts them;
  a nested table is a table of its own, hung on the cell that holds it, and its text is not
  repeated in that cell's text;
- merged cells appear once: a ``w:vMerge`` continuation cell is dropped, ``w:gridSpan`` kept
  as the cell's ``span``;
- content controls (``w:sdt``) at any level: tag, alias, kind, display text, check state,
  date; a control showing its placeholder counts as empty, and its placeholder text is left
  out of the surrounding text too;
- tracked changes: inserted text is kept, deleted text dropped;
- a checked check box (content control or legacy form field) reads as "☒", an unchecked one as
  "☐", so ticks and options printed beside them read the same however they were made.

No xpath: one recursive walk, comparing tag names against constants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lxml import etree

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
W14 = "{http://schemas.microsoft.com/office/word/2010/wordml}"

TICKED = "☒"
UNTICKED = "☐"

_P = W + "p"
_R = W + "r"
_T = W + "t"
_TBL = W + "tbl"
_TR = W + "tr"
_TC = W + "tc"
_SDT = W + "sdt"
_SDTPR = W + "sdtPr"
_SDTCONTENT = W + "sdtContent"
_PPR = W + "pPr"
_RPR = W + "rPr"
_TCPR = W + "tcPr"
_TRPR = W + "trPr"
_VAL = W + "val"

#: inline wrappers whose children are read as if they stood in the paragraph
_INLINE_TRANSPARENT = frozenset(
    W + n for n in ("ins", "moveTo", "hyperlink", "smartTag", "customXml", "fldSimple", "dir", "bdo")
)
#: block wrappers (body, cell) whose children are read as if they stood in the container
_BLOCK_TRANSPARENT = frozenset(W + n for n in ("customXml", "ins", "moveTo"))
_SKIP = frozenset(W + n for n in ("del", "moveFrom"))

#: Wingdings / Webdings / Segoe symbol code points used as ticks in w:sym
_SYM_TICKED = frozenset({"F0FE", "F0FD", "F078", "F0FC", "F0FB", "F0D3", "F0D4", "F052", "F054", "2612", "2611"})
_SYM_UNTICKED = frozenset({"F0A8", "F06F", "F0A1", "F071", "F072", "F0A3", "2610", "F063"})

_HEADING_STYLES = ("heading", "title", "subtitle", "berschrift", "titre", "kop")

ControlKind = Literal["text", "date", "dropdown", "checkbox", "picture", "group"]


@dataclass(slots=True)
class Control:
    """A content control. ``text`` is what it shows ("" when showing its placeholder)."""

    tag: str
    alias: str
    kind: ControlKind
    text: str
    placeholder: bool = False
    checked: bool | None = None
    date: str | None = None  # "YYYY-MM-DD" from w:fullDate
    #: for a check box: the text printed after it in its paragraph (its option)
    after: str = ""
    #: where it stands: a table number/row/cell, or a paragraph number
    table: int | None = None
    row: int | None = None
    cell: int | None = None
    paragraph: int | None = None


@dataclass(slots=True)
class Para:
    text: str
    style: str = ""
    heading: bool = False
    bold: bool = False
    number: int = 0  # 1-based among the body's own paragraphs; 0 inside a table
    controls: list[Control] = field(default_factory=list)


@dataclass(slots=True)
class Cell:
    index: int  # 1-based position of the cell in its row
    col: int  # 0-based grid column where it starts
    span: int
    paragraphs: list[Para] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    controls: list[Control] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.paragraphs).strip()


@dataclass(slots=True)
class Row:
    index: int  # 1-based among the table's rows
    cells: list[Cell] = field(default_factory=list)


@dataclass(slots=True)
class Table:
    number: int
    rows: list[Row] = field(default_factory=list)
    columns: int = 0  # grid width


Block = Para | Table


@dataclass(slots=True)
class Layout:
    blocks: list[Block] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    controls: list[Control] = field(default_factory=list)

    def texts(self) -> list[str]:
        """Every paragraph's text, body and cells, in document order (for scanning)."""
        out: list[str] = []

        def add_table(t: Table) -> None:
            for r in t.rows:
                for c in r.cells:
                    out.extend(p.text for p in c.paragraphs if p.text)
                    for nested in c.tables:
                        add_table(nested)

        for b in self.blocks:
            if isinstance(b, Para):
                if b.text:
                    out.append(b.text)
            else:
                add_table(b)
        return out


class _Walker:
    def __init__(self) -> None:
        self.layout = Layout()
        self.paragraph_count = 0
        # where we are, for controls' locations
        self.where: tuple[int, int, int] | None = None

    # -- blocks -------------------------------------------------------------------------
    def blocks(self, container: etree._Element, out: list[Block], top: bool) -> None:
        for child in container:
            tag = child.tag
            if tag == _P:
                out.append(self.paragraph(child, top))
            elif tag == _TBL:
                out.append(self.table(child))
            elif tag == _SDT:
                self.block_sdt(child, out, top)
            elif tag in _BLOCK_TRANSPARENT:
                self.blocks(child, out, top)

    def block_sdt(self, sdt: etree._Element, out: list[Block], top: bool) -> None:
        control = self._control(sdt)
        content = sdt.find(_SDTCONTENT)
        if content is None:
            return
        start = len(out)
        self.blocks(content, out, top)
        inner = out[start:]
        texts: list[str] = []
        for b in inner:
            if isinstance(b, Para):
                texts.append(b.text)
        if control.placeholder:
            for b in inner:
                if isinstance(b, Para):
                    b.text = ""
            control.text = ""
        elif control.kind != "checkbox":
            control.text = "\n".join(texts).strip()
        first = next((b for b in inner if isinstance(b, Para)), None)
        if first is not None:
            first.controls.insert(0, control)
        self._place(control, first)

    def _place(self, control: Control, para: Para | None) -> None:
        if self.where is not None:
            control.table, control.row, control.cell = self.where
        elif para is not None and para.number:
            control.paragraph = para.number
        self.layout.controls.append(control)

    # -- paragraphs ---------------------------------------------------------------------
    def paragraph(self, p: etree._Element, top: bool) -> Para:
        para = Para(text="")
        if top:
            self.paragraph_count += 1
            para.number = self.paragraph_count
        ppr = p.find(_PPR)
        if ppr is not None:
            style = ppr.find(W + "pStyle")
            if style is not None:
                para.style = style.get(_VAL) or ""
                low = para.style.lower()
                para.heading = any(h in low for h in _HEADING_STYLES)
            if not para.heading and ppr.find(W + "outlineLvl") is not None:
                lvl = ppr.find(W + "outlineLvl")
                para.heading = lvl is not None and (lvl.get(_VAL) or "9") not in ("9",)
        parts: list[str] = []
        controls: list[tuple[Control, int]] = []
        bold = [True, False]  # [all text runs bold, any text run seen]
        self.inline(p, parts, controls, bold)
        text = "".join(parts)
        # a check box's option: the text after it up to the next check box
        boxes = [(c, pos) for c, pos in controls if c.kind == "checkbox"]
        for i, (c, pos) in enumerate(boxes):
            end = boxes[i + 1][1] - 1 if i + 1 < len(boxes) else len(text)
            c.after = text[pos:end].strip(" \t\n:-")
        para.text = text.strip()
        para.bold = bold[0] and bold[1]
        for c, _ in controls:
            para.controls.append(c)
            self._place(c, para)
        return para

    def inline(
        self, el: etree._Element, parts: list[str], controls: list[tuple[Control, int]], bold: list[bool]
    ) -> None:
        for child in el:
            tag = child.tag
            if tag == _R:
                self.run(child, parts, bold)
            elif tag == _SDT:
                control = self._control(child)
                content = child.find(_SDTCONTENT)
                if control.kind == "checkbox":
                    parts.append(TICKED if control.checked else UNTICKED)
                    controls.append((control, len("".join(parts))))
                    continue
                if content is not None and not control.placeholder:
                    sub: list[str] = []
                    self.inline(content, sub, controls, bold)
                    control.text = "".join(sub).strip()
                    parts.extend(sub)
                else:
                    control.text = ""
                controls.append((control, len("".join(parts))))
            elif tag in _INLINE_TRANSPARENT:
                self.inline(child, parts, controls, bold)
            elif tag == _PPR or tag in _SKIP:
                continue

    def run(self, r: etree._Element, parts: list[str], bold: list[bool]) -> None:
        start = len(parts)
        run_bold: bool | None = None
        for child in r:
            tag = child.tag
            if tag == _T:
                parts.append(child.text or "")
            elif tag == _RPR:
                b = child.find(W + "b")
                run_bold = b is not None and (b.get(_VAL) or "true") not in ("0", "false", "off")
            elif tag == W + "tab":
                parts.append("\t")
            elif tag in (W + "br", W + "cr"):
                parts.append("\n")
            elif tag == W + "noBreakHyphen":
                parts.append("-")
            elif tag == W + "sym":
                code = (child.get(W + "char") or "").upper()
                if code in _SYM_TICKED:
                    parts.append(TICKED)
                elif code in _SYM_UNTICKED:
                    parts.append(UNTICKED)
            elif tag == W + "fldChar":
                box = _legacy_checkbox(child)
                if box is not None:
                    parts.append(TICKED if box else UNTICKED)
        if any(p.strip() for p in parts[start:]):
            bold[1] = True
            if not run_bold:
                bold[0] = False

    # -- tables -------------------------------------------------------------------------
    def table(self, tbl: etree._Element) -> Table:
        table = Table(number=len(self.layout.tables) + 1)
        self.layout.tables.append(table)
        grid = tbl.find(W + "tblGrid")
        if grid is not None:
            table.columns = len(grid)
        saved = self.where
        for tr in _rows(tbl):
            row = Row(index=len(table.rows) + 1)
            table.rows.append(row)
            col = 0
            for position, tc in enumerate(_cells(tr), start=1):
                span, continued = _cell_props(tc)
                if not continued:
                    cell = Cell(index=position, col=col, span=span)
                    self.where = (table.number, row.index, position)
                    self.cell(tc, cell)
                    row.cells.append(cell)
                col += span
            table.columns = max(table.columns, col)
        self.where = saved
        return table

    def cell(self, tc: etree._Element, cell: Cell) -> None:
        before = len(self.layout.controls)
        blocks: list[Block] = []
        self.blocks(tc, blocks, top=False)
        for b in blocks:
            if isinstance(b, Para):
                cell.paragraphs.append(b)
            else:
                cell.tables.append(b)
        # controls of this cell only (not of nested tables)
        here = self.where
        cell.controls = [
            c for c in self.layout.controls[before:] if (c.table, c.row, c.cell) == here
        ]

    # -- content controls ---------------------------------------------------------------
    def _control(self, sdt: etree._Element) -> Control:
        tag = alias = ""
        kind: ControlKind = "text"
        placeholder = False
        checked: bool | None = None
        date: str | None = None
        pr = sdt.find(_SDTPR)
        if pr is not None:
            for child in pr:
                t = child.tag
                if t == W + "tag":
                    tag = child.get(_VAL) or ""
                elif t == W + "alias":
                    alias = child.get(_VAL) or ""
                elif t == W + "showingPlcHdr":
                    placeholder = (child.get(_VAL) or "true") not in ("0", "false", "off")
                elif t == W + "date":
                    kind = "date"
                    full = child.get(W + "fullDate")
                    if full and len(full) >= 10:
                        date = full[:10]
                elif t in (W + "dropDownList", W + "comboBox"):
                    kind = "dropdown"
                elif t == W14 + "checkbox":
                    kind = "checkbox"
                    state = child.find(W14 + "checked")
                    checked = state is not None and (state.get(W14 + "val") or "1") in ("1", "true", "on")
                elif t == W + "picture":
                    kind = "picture"
                elif t == W + "group":
                    kind = "group"
        return Control(tag=tag, alias=alias, kind=kind, text="", placeholder=placeholder and kind != "checkbox",
                       checked=checked, date=date)


def _rows(tbl: etree._Element) -> list[etree._Element]:
    found: list[etree._Element] = []
    for child in tbl:
        if child.tag == _TR:
            trpr = child.find(_TRPR)
            if trpr is not None and trpr.find(W + "del") is not None:
                continue
            found.append(child)
        elif child.tag == _SDT:
            content = child.find(_SDTCONTENT)
            if content is not None:
                found.extend(_rows(content))
        elif child.tag in _BLOCK_TRANSPARENT:
            found.extend(_rows(child))
    return found


def _cells(tr: etree._Element) -> list[etree._Element]:
    found: list[etree._Element] = []
    for child in tr:
        if child.tag == _TC:
            found.append(child)
        elif child.tag == _SDT:
            content = child.find(_SDTCONTENT)
            if content is not None:
                found.extend(_cells(content))
        elif child.tag in _BLOCK_TRANSPARENT:
            found.extend(_cells(child))
    return found


def _cell_props(tc: etree._Element) -> tuple[int, bool]:
    """(grid span, is a vertical-merge continuation)."""
    pr = tc.find(_TCPR)
    if pr is None:
        return 1, False
    span = 1
    continued = False
    gs = pr.find(W + "gridSpan")
    if gs is not None:
        try:
            span = max(1, int(gs.get(_VAL) or "1"))
        except ValueError:
            span = 1
    vm = pr.find(W + "vMerge")
    if vm is not None and (vm.get(_VAL) or "continue") == "continue":
        continued = True
    hm = pr.find(W + "hMerge")
    if hm is not None and (hm.get(_VAL) or "continue") == "continue":
        continued = True
    return span, continued


def _legacy_checkbox(fld: etree._Element) -> bool | None:
    """A legacy FORMCHECKBOX field's state, from the field's begin character."""
    if fld.get(W + "fldCharType") != "begin":
        return None
    ff = fld.find(W + "ffData")
    if ff is None:
        return None
    box = ff.find(W + "checkBox")
    if box is None:
        return None
    state = box.find(W + "checked")
    if state is None:
        state = box.find(W + "default")
        if state is None:
            return False
        return (state.get(_VAL) or "0") in ("1", "true", "on")
    return (state.get(_VAL) or "true") not in ("0", "false", "off")


def extract(root: etree._Element) -> Layout:
    """The layout of a parsed word/document.xml (its root element, ``w:document``)."""
    walker = _Walker()
    body = root.find(W + "body")
    if body is not None:
        walker.blocks(body, walker.layout.blocks, top=True)
    return walker.layout
