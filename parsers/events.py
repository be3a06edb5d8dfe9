"""Chronology events: a header row mapped to the catalogue's event columns, then one row an event.

Shared by the Excel reader (the "Chronology" sheet) and the Word reader (a chronology sent as
one Word table)::

    reader = EventsReader(form, ctx)
    if reader.map_header(first_row_cells) is not None:
        for number, cells in rows_below:
            reader.read_row(number, cells)
    rows, issues, approximate = reader.finish()

Each row is ``{"row": n, <column id>: value or None, ...}`` with every event column of the
form (None when the source has no such column or the cell is empty or unreadable). A cell
that cannot be read with confidence is None in the row and a ``ReadIssue`` in ``issues``;
an approximate date is listed in ``approximate`` as (row, column id).

Speed: a 50,000-row chronology has 600,000 cells, so a cell must cost well under a
microsecond. :func:`parsers.values.coerce` is exact but slow on long text (tens of µs), so
each column gets a converter with fast paths that give *the same result* as ``coerce``
(tests/unit/test_events.py checks this): dates and times as ``datetime`` objects (what Excel
date cells come back as), plain one-line text, and a memo for the few distinct texts of
choice, yes/no, agency and short text columns (and of typed dates). Anything else goes to
``coerce``. The rows are validated once at the end with a TypedDict generated from the
catalogue (see :func:`event_row_adapter` for why not a BaseModel).

Blank and decorative rows are skipped: all cells empty; dividers ("-----", "====") in every
filled cell; or one lone cell that is a title, a pre-filled sequence number, or a year or
month heading ("2025", "March 2025") -- unless it is the event description, or a readable
date (an event whose description is missing: the checks report it rather than it vanishing).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pydantic import ConfigDict, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from core.catalogue import Column, FormDef
from core.errors import ReaderFault
from core.model import ReadIssue, Value
from core.settings import FormsContext
from parsers import values
from parsers.identify import matcher_for

__all__ = ["EventsReader", "EventsResult", "event_row_adapter"]


class _Flagged:
    """A converted cell that is not simply its value: unreadable, or an approximate date."""

    __slots__ = ("approximate", "problem", "value")

    def __init__(self, value: Value, problem: str | None, approximate: bool) -> None:
        self.value = value
        self.problem = problem
        self.approximate = approximate


#: what a converter gives for one cell: the normalised value (None if empty), or _Flagged
Converted = Value | _Flagged
Converter = Callable[[Any], Converted]
_MISSING: Final = object()


def _as_tuple(converted: Converted) -> tuple[Value, str | None, bool]:
    """(value, problem, approximate) of a converter's result, as values.coerce gives them."""
    if isinstance(converted, _Flagged):
        return (converted.value, converted.problem, converted.approximate)
    return (converted, None, False)


#: characters a divider row is drawn with
_DIVIDER_CHARS: Final = "-_=*~.#+|/\\<> \t\u2013\u2014\u2500\u2550"
#: a month or year heading standing alone ("2025", "March 2025", "Mar-25", "March")
_HEADING = re.compile(
    r"(?:(?:19|20)\d{2}|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
    r"(?:[\s,'\-/]*(?:(?:19|20)?\d{2}))?)",
    re.IGNORECASE,
)
#: only so many distinct texts are remembered per column
_MEMO_LIMIT: Final = 20_000
#: a long text column stops being remembered if, by this many new texts, fewer texts repeated
_LONG_MEMO_TRIAL: Final = 1_000
#: header cells longer than this are values or guidance, not headings
_MAX_HEADING_CHARS: Final = 120

# values.is_empty's placeholder phrases and its text cleaning: the fast paths must agree
# with values.coerce exactly (see _text_value; tests/unit/test_events.py checks it)
_clean = values._clean


_ASCII_SPACE: Final = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"


def _prefixes(pattern: re.Pattern[str], k: int = 2) -> frozenset[str] | None:
    """Every string of up to ``k`` characters a match of ``pattern`` can begin with (its
    first ``k`` characters, or the whole match if shorter), ASCII only; under IGNORECASE in
    every case. None when that cannot be told from the parsed pattern (a class that is not
    a list of characters, or too many possibilities)."""
    try:
        from re import _constants as C  # type: ignore[attr-defined]
        from re import _parser  # type: ignore[attr-defined]

        parsed = list(_parser.parse(pattern.pattern, pattern.flags))
    except (ImportError, AttributeError, re.error):
        return None

    class _Unknown(Exception):
        pass

    def charset(items: list[Any]) -> set[str]:
        chars: set[str] = set()
        for op, arg in items:
            if op is C.LITERAL:
                chars.add(chr(arg))
            elif op is C.RANGE and arg[1] - arg[0] < 128:
                chars.update(map(chr, range(arg[0], arg[1] + 1)))
            elif op is C.CATEGORY and arg is C.CATEGORY_SPACE:
                chars.update(_ASCII_SPACE)
            else:
                raise _Unknown
        return chars

    found: set[str] = set()
    steps = 0

    def walk(stack: list[list[Any]], prefix: str) -> None:
        nonlocal steps
        steps += 1
        if steps > 20_000:
            raise _Unknown
        if len(prefix) == k or not stack:
            found.add(prefix)
            return
        nodes = stack[-1]
        if not nodes:
            walk(stack[:-1], prefix)
            return
        (op, arg), rest = nodes[0], nodes[1:]
        base = [*stack[:-1], rest]
        if op is C.LITERAL:
            walk(base, prefix + chr(arg))
        elif op is C.IN:
            for ch in charset(list(arg)):
                walk(base, prefix + ch)
        elif op is C.BRANCH:
            for alternative in arg[1]:
                walk([*base, list(alternative)], prefix)
        elif op is C.SUBPATTERN:
            walk([*base, list(arg[-1])], prefix)
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
            low, high, body = arg
            if low == 0:
                walk(base, prefix)
            if high == 0:
                return
            again = [(op, (max(low - 1, 0), high if high is C.MAXREPEAT else high - 1, body))]
            walk([*base, again, list(body)], prefix)
        elif op is C.AT:
            walk(base, prefix)
        else:
            raise _Unknown

    try:
        walk([parsed], "")
    except (_Unknown, RecursionError):
        return None
    if pattern.flags & re.IGNORECASE:
        cased: set[str] = set()
        for p in found:
            variants = [""]
            for ch in p:
                variants = [v + c for v in variants for c in {ch.lower(), ch.upper()}]
            cased.update(variants)
        found = cased
    return frozenset(found)


_PLACEHOLDER_MATCH = values._PLACEHOLDERS.match
#: the first two characters (or fewer) a placeholder phrase may begin with; None: unknown
_MAYBE_PLACEHOLDER: Final = _prefixes(values._PLACEHOLDERS)


def _starts_placeholder(text: str) -> bool:
    """Whether a placeholder phrase matches at the start of ``text`` (the regex is skipped
    when no phrase can begin with its first two characters)."""
    maybe = _MAYBE_PLACEHOLDER
    if maybe is not None and text[:2].isascii() and text[:2] not in maybe and text[:1] not in maybe:
        return False
    return _PLACEHOLDER_MATCH(text) is not None


@dataclass(frozen=True, slots=True)
class EventsResult:
    rows: list[dict[str, Value]]
    issues: list[ReadIssue]
    approximate: list[tuple[int, str]]


class EventsReader:
    """Reads a chronology's events: :meth:`map_header`, :meth:`read_row` for each row below
    it, then :meth:`finish`."""

    def __init__(self, form: FormDef, ctx: FormsContext) -> None:
        self._form = form
        self._matcher = matcher_for(form)
        self._blank: dict[str, Value] = {"row": 0, **dict.fromkeys(c.id for c in form.events)}
        self._converters = {c.id: _converter(c, ctx) for c in form.events}
        #: a header must name these (the event's date and description), or any three columns
        self._key_columns = frozenset(c.id for c in form.events if c.mandatory and c.type in ("date", "longtext"))
        self._event_column = next((c.id for c in form.events if c.mandatory and c.type == "longtext"), None)
        self._date_columns = frozenset(c.id for c in form.events if c.type == "date")
        #: the event's date column: a row without it is looked at twice; "row" if none
        self._date_key = next((c.id for c in form.events if c.mandatory and c.type == "date"), "row")
        self._plan: list[tuple[int, str, Converter]] | None = None
        self._rows: list[dict[str, Value]] = []
        self._issues: list[ReadIssue] = []
        self._approximate: list[tuple[int, str]] = []

    # -- the header -----------------------------------------------------------------------
    def match_header(self, cells: Sequence[object]) -> dict[int, str] | None:
        """Like :meth:`map_header`, without adopting the mapping (to compare candidate rows)."""
        found: dict[int, str] = {}
        taken: set[str] = set()
        for index, cell in enumerate(cells):
            if not isinstance(cell, str):
                continue
            text = cell.strip()
            if not text or len(text) > _MAX_HEADING_CHARS:
                continue
            column = self._matcher.match_column(text, self._form.events)
            if column is not None and column not in taken:
                found[index] = column
                taken.add(column)
        if self._key_columns and self._key_columns <= taken:
            return found
        return found if len(found) >= 3 else None

    def map_header(self, cells: Sequence[object]) -> dict[int, str] | None:
        """Cell index -> event column id when ``cells`` are the events' column headings (the
        date and event columns at least, or any three columns); None otherwise. A mapping
        found is adopted for the rows read after it."""
        found = self.match_header(cells)
        if found is not None:
            self.use_header(found)
        return found

    def use_header(self, mapping: dict[int, str]) -> None:
        """Adopt a header mapping found with :meth:`match_header`."""
        self._plan = [(i, c, self._converters[c]) for i, c in sorted(mapping.items())]

    # -- the rows -------------------------------------------------------------------------
    def read_row(self, row_number: int, cells: Sequence[object]) -> None:
        """Read one row below the header (``row_number`` as the source shows it). Blank and
        decorative rows are skipped; rows before a header was mapped are ignored."""
        plan = self._plan
        if plan is None:
            return
        width = len(cells)
        row = self._blank.copy()
        filled = 0
        problems: list[tuple[str, str]] | None = None
        approximate: list[str] | None = None
        for index, column, convert in plan:
            if index >= width:
                break
            raw = cells[index]
            if not raw and (raw == "" or raw is None):  # `not raw` first: cheap for every type
                continue
            value = convert(raw)
            if value is None:
                continue
            filled += 1
            if isinstance(value, _Flagged):
                if value.problem is not None:
                    if problems is None:
                        problems = []
                    problems.append((column, value.problem))
                    continue
                if value.approximate:
                    if approximate is None:
                        approximate = []
                    approximate.append(column)
                row[column] = value.value
            else:
                row[column] = value
        if not filled:
            return
        # a normal event has a readable date and more than one cell: no second look
        if (filled == 1 or problems is not None or row[self._date_key] is None) and self._decorative(cells):
            return
        row["row"] = row_number
        self._rows.append(row)
        if problems is not None:
            for column, problem in problems:
                self._issues.append(ReadIssue(field=column, row=row_number, message=problem))
        if approximate is not None:
            self._approximate.extend((row_number, column) for column in approximate)

    def _decorative(self, cells: Sequence[object]) -> bool:
        """A row drawn as a divider, or one lone title, number or month heading."""
        assert self._plan is not None
        width = len(cells)
        present = [
            (column, cells[index], convert)
            for index, column, convert in self._plan
            if index < width and not _blank(cells[index])
        ]
        if not present:
            return True
        if all(type(raw) is str and not raw.strip(_DIVIDER_CHARS) for _, raw, _ in present):
            return True  # a divider drawn across the row
        if len(present) != 1:
            return False
        column, raw, convert = present[0]
        if column == self._event_column:
            return False  # an event without a date: the checks report the missing date
        if column in self._date_columns:
            if isinstance(raw, dt.date | dt.datetime):
                return False
            if isinstance(raw, int | float) and not isinstance(raw, bool):
                return 1900 <= raw <= 2100  # a year heading typed as a number
            if isinstance(raw, str):
                if _HEADING.fullmatch(raw.strip()):
                    return True
                return _as_tuple(convert(raw))[0] is None  # a title in the date column; a date stays
        return True  # a lone title, note or pre-filled number in any other column

    def read_word_table(self, header: Sequence[object], body: Iterable[tuple[int, Sequence[object]]]) -> EventsResult:
        """A whole table at once: its header row's cells and (row number, cells) below it.
        No events when the header does not name the event columns."""
        if self.map_header(header) is not None:
            for number, cells in body:
                self.read_row(number, cells)
        return EventsResult(*self.finish())

    # -- the result -----------------------------------------------------------------------
    def finish(self) -> tuple[list[dict[str, Value]], list[ReadIssue], list[tuple[int, str]]]:
        """(rows, issues, approximate). The rows are checked in one go against a model
        generated from the form's event columns (:func:`event_row_adapter`);
        a mismatch is a fault of the reader, not of the file."""
        rows = self._rows
        try:
            event_row_adapter(self._form).validate_python(rows)
        except ValidationError as exc:
            raise ReaderFault("chronology rows do not match the catalogue's event columns") from exc
        return rows, self._issues, self._approximate


def _blank(raw: object) -> bool:
    return raw is None or (type(raw) is str and not raw.strip())


# --- the generated row schema -------------------------------------------------------------
_PY_TYPES: Final[dict[str, Any]] = {
    "integer": int | None,
    "yesno": bool | None,
    "checkboxes": list[str] | None,
}
_adapters: dict[tuple[str, str, tuple[tuple[str, str], ...]], TypeAdapter[list[dict[str, Value]]]] = {}


def event_row_adapter(form: FormDef) -> TypeAdapter[list[dict[str, Value]]]:
    """``TypeAdapter(list[EventRow])`` for the form's event rows, ``EventRow`` generated from
    the catalogue's event columns: ``row: int`` and one key a column (str, int, bool or list
    of str by column type, or None); strict, every key present, no other key. Built once
    per form version.

    ``EventRow`` is a TypedDict rather than a BaseModel: validating 50,000 rows costs about
    1.5-2 µs a row that way, against 3.5-4 µs when a model instance is built for each row
    (the spec allows 3 µs), and the rows stay the plain dicts the Document holds."""
    key = (form.id, form.version, tuple((c.id, c.type) for c in form.events))
    found = _adapters.get(key)
    if found is None:
        fields: dict[str, Any] = {"row": int}
        for c in form.events:
            fields[c.id] = _PY_TYPES.get(c.type, str | None)
        name = f"EventRow_{form.id}_{form.version.replace('.', '_')}"
        made = TypedDict(name, fields)  # type: ignore[misc]
        row_type: Any = made
        row_type.__pydantic_config__ = ConfigDict(strict=True, extra="forbid")
        adapter: Any = TypeAdapter(list[row_type])
        found = adapter
        _adapters[key] = found
    return found


# --- converters -------------------------------------------------------------------------
def _text_value(raw: str, multiline: bool) -> str | None:
    """``coerce("text" | "longtext", raw).value`` for the common case, or None when the text
    needs the full treatment (it may be empty or hold a placeholder).

    Exact: a line whose first character is a letter or digit and which does not *start*
    with a placeholder phrase cannot be emptied by :func:`values.is_empty`: no placeholder
    phrase starts with a space, and only filler may remain once they are removed. Which
    letters a phrase can start with is read from values' pattern itself (_prefixes)."""
    if raw.isascii() and not (
        "\n" in raw
        or "\t" in raw
        or "\r" in raw
        or "\x0b" in raw
        or "\x0c" in raw
        or "\x1c" in raw
        or "\x1d" in raw
        or "\x1e" in raw
        or "\x1f" in raw
    ):  # one line, nothing to clean (single-character tests are the fast ones)
        text = raw.strip()
        if "  " in text:
            text = " ".join(text.split())
        if text and text[0].isalnum() and not _starts_placeholder(text):
            return text
        return None
    cleaned = _clean(raw)
    if not multiline:
        text = " ".join(cleaned.split())
        if text and text[0].isalnum() and not _starts_placeholder(text):
            return text
        return None
    # a placeholder may run over a line break, so the first line is tried with the rest
    if _starts_placeholder(cleaned.lstrip()):
        return None
    kept: list[str] = []
    for line in cleaned.split("\n"):
        text = " ".join(line.split())
        if not text:
            continue
        if not text[0].isalnum() or _starts_placeholder(text):
            return None
        kept.append(text)
    return "\n".join(kept) if kept else None


def _converter(column: Column, ctx: FormsContext) -> Converter:
    type_ = column.type
    choices = column.choices
    agencies = ctx.agencies
    prefix = ctx.forms.case_reference_prefix
    coerce = values.coerce

    def slow(raw: Any) -> Converted:
        found = coerce(type_, raw, choices=choices, agencies=agencies, case_prefix=prefix)
        if found.problem is None and not found.approximate:
            return found.value
        return _Flagged(found.value, found.problem, found.approximate)

    if type_ in ("text", "longtext"):
        multiline = type_ == "longtext"
        # a short text column repeats itself (roles, identifiers): remember its answers.
        # A long text column repeats itself only when pasted from stock phrases: it is
        # remembered while that pays (see _LONG_MEMO_TRIAL), and its repeats then share
        # one string (less memory) as well as skipping the conversion
        text_memo: dict[str, Converted] | None = {}
        seen = 0
        hits = 0

        def text(raw: Any) -> Converted:
            nonlocal text_memo, seen, hits
            if type(raw) is not str:
                return slow(raw)
            memo = text_memo
            if memo is not None:
                hit = memo.get(raw, _MISSING)
                if hit is not _MISSING:
                    hits += 1
                    return hit  # type: ignore[return-value]
            found = _text_value(raw, multiline)
            result = found if found is not None else slow(raw)
            if memo is not None:
                if len(memo) < _MEMO_LIMIT:
                    memo[raw] = result
                if multiline:
                    seen += 1
                    if seen == _LONG_MEMO_TRIAL and hits < seen:
                        text_memo = None  # mostly distinct texts: stop remembering
            return result

        return text

    if type_ == "time":

        def time(raw: Any) -> Converted:
            kind = type(raw)
            if kind is dt.time or kind is dt.datetime:
                return f"{raw.hour:02d}:{raw.minute:02d}"
            return slow(raw)

        return time

    if type_ == "integer":

        def integer(raw: Any) -> Converted:
            kind = type(raw)
            if kind is int:
                return raw  # type: ignore[no-any-return]
            if kind is float and raw.is_integer():
                return int(raw)
            return slow(raw)

        return integer

    memo: dict[str, Converted] = {}

    def remembered(raw: Any) -> Converted:
        if type(raw) is str:
            hit = memo.get(raw, _MISSING)
            if hit is _MISSING:
                hit = slow(raw)
                if len(memo) < _MEMO_LIMIT:
                    memo[raw] = hit
            return hit  # type: ignore[return-value]
        return slow(raw)

    if type_ == "date":

        def date(raw: Any) -> Converted:
            kind = type(raw)
            if (kind is dt.date or kind is dt.datetime) and 1900 <= raw.year <= 2100:
                return dt.date.isoformat(raw)
            return remembered(raw)

        return date

    return remembered
