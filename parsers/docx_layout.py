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

import operator
from collections.abc import Callable
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
_SYM = W + "sym"
_FLDCHAR = W + "fldChar"
_PSTYLE = W + "pStyle"
_OUTLINE = W + "outlineLvl"
_B = W + "b"
_GRIDSPAN = W + "gridSpan"
_MERGES = frozenset({W + "vMerge", W + "hMerge"})
#: what the plain-text fast path reads, and the text of the elements other than w:t
_TAB = W + "tab"
_TBLGRID = W + "tblGrid"
_DEL = W + "del"
_BR = W + "br"
_CR = W + "cr"
_NBH = W + "noBreakHyphen"
_TAG = W + "tag"
_ALIAS = W + "alias"
_PLCHDR = W + "showingPlcHdr"
_DATE = W + "date"
_FULLDATE = W + "fullDate"
_LISTS = frozenset({W + "dropDownList", W + "comboBox"})
_CHECKBOX = W14 + "checkbox"
_CHECKED = W14 + "checked"
_W14VAL = W14 + "val"
_PICTURE = W + "picture"
_GROUP = W + "group"
_CHAR = W + "char"
_FALSE = frozenset({"0", "false", "off"})
_SPECIAL_RUN = frozenset({W + "sym", W + "fldChar"})
#: paragraph children the plain fast path may skip; anything in _STRUCTURAL sends the
#: paragraph to the full walk
_PLAIN_IGNORED = frozenset(
    W + n
    for n in (
        "bookmarkStart",
        "bookmarkEnd",
        "proofErr",
        "permStart",
        "permEnd",
        "commentRangeStart",
        "commentRangeEnd",
        "lastRenderedPageBreak",
    )
)
_STRUCTURAL = frozenset(
    W + n
    for n in (
        "sdt",
        "ins",
        "del",
        "moveTo",
        "moveFrom",
        "hyperlink",
        "smartTag",
        "customXml",
        "fldSimple",
        "dir",
        "bdo",
    )
)
_TEXT_OF = {W + "tab": "\t", W + "br": "\n", W + "cr": "\n", W + "noBreakHyphen": "-"}
#: bold-only is worked out for paragraphs up to this long (headings, labels)
_BOLD_CHECK_CHARS = 120

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

#: ``el[:]``: an element's children as a list built in C. The walk goes over children
#: this way rather than with lxml's child iterator (``for x in el``), which costs about
#: half as much again per element; lxml-stubs types only integer indexes, hence the alias.
_children: Callable[[etree._Element], list[etree._Element]] = operator.itemgetter(slice(None))

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
    #: the paragraphs' text joined by "\n" (nested tables' text not included)
    text: str = ""


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
    __slots__ = ("layout", "paragraph_count", "where")

    def __init__(self) -> None:
        self.layout = Layout()
        self.paragraph_count = 0
        # where we are, for controls' locations
        self.where: tuple[int, int, int] | None = None

    # -- blocks -------------------------------------------------------------------------
    def blocks(self, container: etree._Element, out: list[Block], top: bool) -> None:
        for child in _children(container):
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
        pr, content = _sdt_parts(sdt)
        control = self._control(pr)
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
        if top:
            self.paragraph_count += 1
            number = self.paragraph_count
        else:
            number = 0
        # the common case: runs of plain text, no controls, symbols or fields
        children = _children(p)
        para = _plain(children, number)
        return para if para is not None else self.full_paragraph(children, number)

    def full_paragraph(self, children: list[etree._Element], number: int) -> Para:
        """Any paragraph (controls, symbols, fields, hyperlinks, tracked changes), from the
        paragraph's children."""
        para = Para("", "", False, False, number)  # text, style, heading, bold, number
        first = children[0] if children else None
        if first is not None and first.tag == _PPR:
            para.style, para.heading = _style_of(first)
        parts: list[str] = []
        controls: list[tuple[Control, int]] = []
        bold = [True, False]  # [all text runs bold, any text run seen]
        self.inline(children, parts, controls, bold)
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
        self,
        children: list[etree._Element],
        parts: list[str],
        controls: list[tuple[Control, int]],
        bold: list[bool],
    ) -> None:
        """Read a paragraph's (or an inline wrapper's) ``children`` into ``parts``."""
        for child in children:
            tag = child.tag
            if tag == _R:
                self.run(child, parts, bold)
            elif tag == _SDT:
                pr, content = _sdt_parts(child)
                control = self._control(pr)
                if control.kind == "checkbox":
                    parts.append(TICKED if control.checked else UNTICKED)
                    controls.append((control, len("".join(parts))))
                    continue
                if content is not None and not control.placeholder:
                    sub: list[str] = []
                    self.inline(_children(content), sub, controls, bold)
                    control.text = "".join(sub).strip()
                    parts.extend(sub)
                else:
                    control.text = ""
                controls.append((control, len("".join(parts))))
            elif tag in _INLINE_TRANSPARENT:
                self.inline(_children(child), parts, controls, bold)
            elif tag == _PPR or tag in _SKIP:
                continue

    def run(self, r: etree._Element, parts: list[str], bold: list[bool]) -> None:
        start = len(parts)
        run_bold = False
        for child in _children(r):
            tag = child.tag
            if tag == _T:
                parts.append(child.text or "")
            elif tag == _RPR:
                run_bold = _is_bold(child)
            elif tag in _TEXT_OF:
                parts.append(_TEXT_OF[tag])
            elif tag == _SYM:
                code = (child.get(_CHAR) or "").upper()
                if code in _SYM_TICKED:
                    parts.append(TICKED)
                elif code in _SYM_UNTICKED:
                    parts.append(UNTICKED)
            elif tag == _FLDCHAR:
                box = _legacy_checkbox(child)
                if box is not None:
                    parts.append(TICKED if box else UNTICKED)
        for i in range(start, len(parts)):
            if not parts[i].isspace() and parts[i]:
                bold[1] = True
                if not run_bold:
                    bold[0] = False
                break

    # -- tables -------------------------------------------------------------------------
    def table(self, tbl: etree._Element) -> Table:
        tables = self.layout.tables
        table = Table(number=len(tables) + 1)
        tables.append(table)
        saved = self.where
        columns = 0
        grid_seen = False
        row = self.row
        # rows in document order; the first w:tblGrid gives the grid width
        for child in _children(tbl):
            tag = child.tag
            if tag == _TR:
                columns = max(columns, row(child, table))
            elif tag == _TBLGRID:
                if not grid_seen:
                    grid_seen = True
                    columns = max(columns, len(child))
            elif tag == _SDT or tag in _BLOCK_TRANSPARENT:
                for tr in _wrapped(child, _TR):
                    columns = max(columns, row(tr, table))
        table.columns = columns
        self.where = saved
        return table

    def row(self, tr: etree._Element, table: Table) -> int:
        """Read a row into the table (a deleted row is left out); the grid columns it spans."""
        children = _children(tr)
        first = children[0] if children else None
        if first is not None and first.tag == _TRPR and _child(first, _DEL) is not None:
            return 0
        rows = table.rows
        row = Row(len(rows) + 1)
        rows.append(row)
        col = 0
        position = 0
        cell = self.cell
        for child in children:
            tag = child.tag
            if tag == _TC:
                position += 1
                col += cell(child, table.number, row, position, col)
            elif tag == _SDT or tag in _BLOCK_TRANSPARENT:
                for tc in _wrapped(child, _TC):
                    position += 1
                    col += cell(tc, table.number, row, position, col)
        return col

    def cell(self, tc: etree._Element, table: int, row: Row, position: int, col: int) -> int:
        """Read a cell into the row (a vertical-merge continuation is left out); its span."""
        span = 1
        children = _children(tc)
        first = children[0] if children else None
        if first is not None and first.tag == _TCPR:
            del children[0]  # the cell's properties, read here: the blocks follow
            for x in _children(first):
                tag = x.tag
                if tag == _GRIDSPAN:
                    try:
                        span = max(1, int(x.get(_VAL) or "1"))
                    except ValueError:
                        span = 1
                elif tag in _MERGES and (x.get(_VAL) or "continue") == "continue":
                    return span  # continues the cell above: read there
        controls = self.layout.controls
        before = len(controls)
        here = (table, row.index, position)
        self.where = here
        paragraphs: list[Para] = []
        tables: list[Table] = []
        # the cell's blocks in order, paragraphs and tables apart (as ``blocks`` reads them)
        for child in children:
            tag = child.tag
            if tag == _P:
                kids = _children(child)
                para = _plain(kids, 0)
                paragraphs.append(para if para is not None else self.full_paragraph(kids, 0))
            elif tag == _TBL:
                tables.append(self.table(child))
                self.where = here
            elif tag == _SDT or tag in _BLOCK_TRANSPARENT:
                blocks: list[Block] = []
                if tag == _SDT:
                    self.block_sdt(child, blocks, False)
                else:
                    self.blocks(child, blocks, False)
                for b in blocks:
                    if isinstance(b, Para):
                        paragraphs.append(b)
                    else:
                        tables.append(b)
        # one paragraph's text is already stripped
        text = paragraphs[0].text if len(paragraphs) == 1 else "\n".join([p.text for p in paragraphs]).strip()
        cell = Cell(position, col, span, paragraphs, tables, [], text)
        # controls of this cell only (not of nested tables)
        if len(controls) > before:
            cell.controls = [c for c in controls[before:] if (c.table, c.row, c.cell) == here]
        row.cells.append(cell)
        return span

    # -- content controls ---------------------------------------------------------------
    def _control(self, pr: etree._Element | None) -> Control:
        """The control whose properties (``w:sdtPr``) are ``pr``."""
        tag = alias = ""
        kind: ControlKind = "text"
        placeholder = False
        checked: bool | None = None
        date: str | None = None
        if pr is not None:
            for child in _children(pr):
                t = child.tag
                if t == _TAG:
                    tag = child.get(_VAL) or ""
                elif t == _ALIAS:
                    alias = child.get(_VAL) or ""
                elif t == _PLCHDR:
                    placeholder = (child.get(_VAL) or "true") not in _FALSE
                elif t == _DATE:
                    kind = "date"
                    full = child.get(_FULLDATE)
                    if full and len(full) >= 10:
                        date = full[:10]
                elif t in _LISTS:
                    kind = "dropdown"
                elif t == _CHECKBOX:
                    kind = "checkbox"
                    state = next((x for x in child if x.tag == _CHECKED), None)
                    checked = state is not None and (state.get(_W14VAL) or "1") in ("1", "true", "on")
                elif t == _PICTURE:
                    kind = "picture"
                elif t == _GROUP:
                    kind = "group"
        # tag, alias, kind, text, placeholder, checked, date (positional: cheaper to call)
        return Control(tag, alias, kind, "", placeholder and kind != "checkbox", checked, date)


def _child(el: etree._Element, tag: str) -> etree._Element | None:
    """The first child with this tag (faster than ``find`` for a few children)."""
    for x in _children(el):
        if x.tag == tag:
            return x
    return None


def _sdt_parts(sdt: etree._Element) -> tuple[etree._Element | None, etree._Element | None]:
    """A content control's first ``w:sdtPr`` and first ``w:sdtContent``, in one pass."""
    pr = content = None
    for x in _children(sdt):
        tag = x.tag
        if tag == _SDTPR:
            if pr is None:
                pr = x
        elif tag == _SDTCONTENT and content is None:
            content = x
    return pr, content


def _style_of(ppr: etree._Element) -> tuple[str, bool]:
    """(style id, heading?) from a paragraph's properties."""
    style = ""
    heading = False
    for child in _children(ppr):
        tag = child.tag
        if tag == _PSTYLE:
            style = child.get(_VAL) or ""
            low = style.lower()
            if any(h in low for h in _HEADING_STYLES):
                heading = True
        elif tag == _OUTLINE:
            if (child.get(_VAL) or "9") != "9":
                heading = True
        elif tag == _RPR:
            break
    return style, heading


def _is_bold(rpr: etree._Element) -> bool:
    for x in _children(rpr):
        if x.tag == _B:
            return (x.get(_VAL) or "true") not in _FALSE
    return False


def _plain(children: list[etree._Element], number: int) -> Para | None:
    """A paragraph of plain runs, read in one loop over its children (``_children(p)``) and theirs;
    None when it holds anything else (controls, symbols, fields, hyperlinks, tracked
    changes): the full walk reads those. Style from a first-child ``w:pPr``."""
    parts: list[str] = []
    append = parts.append
    all_bold = True
    any_text = False
    style = ""
    heading = False
    for child in children:
        tag = child.tag
        if tag == _R:
            bold = False
            has_text = False
            for x in _children(child):
                xt = x.tag
                if xt == _T:
                    text = x.text
                    if text:
                        append(text)
                        if not has_text and not text.isspace():
                            has_text = True
                elif xt == _RPR:
                    bold = _is_bold(x)
                elif xt in _TEXT_OF:
                    append(_TEXT_OF[xt])
                elif xt in _SPECIAL_RUN:
                    return None
            if has_text:
                any_text = True
                if not bold:
                    all_bold = False
        elif tag == _PPR:
            if child is children[0]:
                style, heading = _style_of(child)
        elif tag in _STRUCTURAL:
            return None
    return Para("".join(parts).strip(), style, heading, all_bold and any_text, number)


def _wrapped(el: etree._Element, tag: str) -> list[etree._Element]:
    """The ``tag`` elements (rows, cells) inside a content control or a block wrapper."""
    if el.tag == _SDT:
        content = _child(el, _SDTCONTENT)
        if content is None:
            return []
        el = content
    found: list[etree._Element] = []
    for child in _children(el):
        t = child.tag
        if t == tag:
            found.append(child)
        elif t == _SDT or t in _BLOCK_TRANSPARENT:
            found.extend(_wrapped(child, tag))
    return found


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
