"""A document prepared once for all rules: its form definition, labels and column arrays.

Rules over a 50,000-row chronology stay linear by sharing these plain lists (no per-row
objects). ``view_of`` memoises the last document's view on the CheckContext, so every rule
of one ``check()`` call shares it.
"""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import accumulate

from core.catalogue import Column, FieldDef, FormDef
from core.model import Document, Value
from validators.base import CheckContext

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")
#: separates cells in a joined column; not whitespace and not a word character, so no
#: pattern with \s or \b can match across two cells
CELL_SEP = "\x00"
#: a field the nil-return answer is given in, True meaning "nothing to return"
NIL_RETURN_FIELD = "nil_return"


def iso_date(value: Value) -> str | None:
    """``value`` if it is a real "YYYY-MM-DD" date, else None. ISO strings sort as dates."""
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        if value in _VALID_DATES:
            return value
        if _ISO.fullmatch(value):
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                return None
            if len(_VALID_DATES) < 100_000:
                _VALID_DATES.add(value)
            return value
    return None


#: dates already seen to be valid: chronologies repeat dates, parsing each once is enough
_VALID_DATES: set[str] = set()


@dataclass
class Blob:
    """One column's cells joined with CELL_SEP, to scan with one regex call.

    A column whose texts repeat may be joined with each distinct text once (see
    :func:`join_cells`): a cell of ``text`` then stands for every cell holding that text,
    ``indexes`` gives its first one and :meth:`every` all of them. What a pattern finds in
    a cell it finds in each copy (no pattern matches across CELL_SEP)."""

    text: str
    starts: list[int]  # start offset of each cell in ``text``
    indexes: list[int]  # index into doc.rows of each cell (of its first copy)
    #: index of a text's first cell -> the indexes of every cell holding it (repeats only)
    copies: dict[int, list[int]] = field(default_factory=dict)
    # ``lower``, once worked out (plain attributes: functools.cached_property takes a lock
    # on Python 3.11, which costs more than lower-casing a short text)
    _lower: str | None = field(default=None, init=False, repr=False, compare=False)
    _lowered: bool = field(default=False, init=False, repr=False, compare=False)

    @property
    def lower(self) -> str | None:
        """``text`` lower-cased, when that keeps every offset (None otherwise)."""
        if not self._lowered:
            low = self.text.lower()
            self._lower = low if len(low) == len(self.text) else None
            self._lowered = True
        return self._lower

    def index_at(self, pos: int) -> int:
        """The index into doc.rows of the cell holding offset ``pos`` of ``text`` (its first
        copy)."""
        return self.indexes[bisect_right(self.starts, pos) - 1]

    def every(self, index: int) -> list[int]:
        """The indexes of every cell holding the text of the cell at ``index``, ascending."""
        found = self.copies.get(index)
        return found if found is not None else [index]


def join_cells(values: list[Value], *, distinct: bool = False) -> Blob:
    """The non-empty text cells of ``values`` joined with CELL_SEP; with ``distinct``,
    each text once (a chronology's stock phrases are scanned once, not once a row)."""
    if not distinct:
        indexes = [i for i, v in enumerate(values) if isinstance(v, str) and v]
        cells = [str(values[i]) for i in indexes]
        copies: dict[int, list[int]] = {}
    else:
        first: dict[str, int] = {}
        indexes, cells, copies = [], [], {}
        for i, v in enumerate(values):
            if isinstance(v, str) and v:
                k = first.get(v)
                if k is None:
                    first[v] = i
                    indexes.append(i)
                    cells.append(str(v))
                else:
                    copies.setdefault(k, [k]).append(i)
    starts = list(accumulate((len(c) + 1 for c in cells), initial=0))[:-1]
    return Blob(CELL_SEP.join(cells), starts, indexes, copies)


@dataclass
class DocView:
    doc: Document
    form: FormDef
    fields: Mapping[str, FieldDef]
    columns: dict[str, Column]
    row_numbers: list[int]
    #: (row, column) of chronology cells the reader could not read
    unreadable_cells: set[tuple[int, str]]
    _dates: dict[str, list[str | None]] = field(default_factory=dict)
    _blobs: dict[str, Blob] = field(default_factory=dict)

    @property
    def is_chronology(self) -> bool:
        return self.form.form.layout == "chronology"

    def label(self, field_id: str, column_id: str | None = None) -> str:
        """The label the blank template prints (the id, readably, if the form lacks it)."""
        try:
            return self.form.label_of(field_id, column_id)
        except KeyError:
            return (column_id or field_id).replace("_", " ").capitalize()

    def row_label(self, column_id: str) -> str:
        column = self.columns.get(column_id)
        return column.label if column is not None else self.label(column_id)

    def date(self, field_id: str) -> str | None:
        return iso_date(self.doc.value(field_id))

    def text(self, field_id: str) -> str | None:
        value = self.doc.value(field_id)
        return value if isinstance(value, str) and value.strip() else None

    @property
    def nil_return(self) -> bool:
        """A nil return: the form's nil-return field answered No, or ``nil_return`` ticked."""
        nil_field = self.form.form.nil_return_field
        if nil_field is not None and nil_field != NIL_RETURN_FIELD and self.doc.value(nil_field) is False:
            return True
        return self.doc.value(NIL_RETURN_FIELD) is True

    def column_dates(self, column_id: str) -> list[str | None]:
        """Each event's ``column_id`` as a valid ISO date string, or None."""
        found = self._dates.get(column_id)
        if found is None:
            found = [iso_date(r.get(column_id)) for r in self.doc.rows]
            self._dates[column_id] = found
        return found

    def blob(self, column_id: str) -> Blob:
        """The column's distinct texts joined (see :class:`Blob`)."""
        found = self._blobs.get(column_id)
        if found is None:
            found = join_cells([r.get(column_id) for r in self.doc.rows], distinct=True)
            self._blobs[column_id] = found
        return found

    def narrative_fields(self) -> list[FieldDef]:
        return [f for f in self.form.fields if f.narrative and f.type != "table"]

    def narrative_columns(self) -> list[Column]:
        return [c for c in self.form.events if c.narrative]

    def narrative_table_columns(self) -> list[tuple[FieldDef, Column]]:
        return [(f, c) for f in self.form.fields if f.type == "table" for c in f.columns if c.narrative]


def view_of(doc: Document, ctx: CheckContext) -> DocView | None:
    """The prepared view of ``doc``, or None when its form is not in the catalogue."""
    memo = ctx._memo
    if memo.get("doc") is doc:
        cached = memo.get("view")
        return cached if isinstance(cached, DocView) else None
    view = _build(doc, ctx)
    memo.clear()
    memo["doc"] = doc
    memo["view"] = view
    return view


def _build(doc: Document, ctx: CheckContext) -> DocView | None:
    if doc.form is None:
        return None
    form = ctx.forms.catalogue.find(doc.form, doc.version)
    if form is None:
        return None
    numbers: list[int] = []
    for i, r in enumerate(doc.rows):
        n = r.get("row")
        numbers.append(n if isinstance(n, int) and not isinstance(n, bool) else i + 1)
    return DocView(
        doc=doc,
        form=form,
        fields=form.fields_by_id,
        columns={c.id: c for c in form.events},
        row_numbers=numbers,
        unreadable_cells={(i.row, i.field) for i in doc.issues if i.table is None},
    )
