"""The schema check built from the catalogue: FIELD-REQUIRED, FIELD-INVALID, and the two
conditional-field rules REF-DEATH-DATE and DOI-DETAILS."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from core.catalogue import Column, Condition, FieldDef
from core.model import Document, Finding, Severity, Value
from validators.base import CheckContext, Rule, is_blank, row_prefix
from validators.view import DocView, iso_date, view_of

_TIME = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_NHS = re.compile(r"\d{10}")
_DEATH = "death"

_HINTS: dict[str, str] = {
    "date": "Please write dates as dd/mm/yyyy.",
    "time": "Please write times as hh:mm on the 24-hour clock.",
    "email": "Please give a full email address, such as name@example.org.",
    "yesno": "Please answer Yes or No.",
    "choice": "Please choose one of the options printed on the form.",
    "checkboxes": "Please tick options printed on the form.",
    "agency": "Please name your agency as the form's guidance lists it.",
    "nhs_number": "Please check the NHS number: it has 10 digits.",
    "integer": "Please write a whole number.",
}


def nhs_number_is_valid(digits: str) -> bool:
    """The NHS number's Modulus 11 check digit (10 digits, no spaces)."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def _hint(kind: str, ctx: CheckContext) -> str:
    if kind == "case_ref":
        return f"Please give the case reference as {ctx.forms.forms.case_reference_prefix}-YYYY-NNN."
    return _HINTS.get(kind, "Please check what you wrote.")


@functools.lru_cache(maxsize=8)
def _case_ref(prefix: str) -> re.Pattern[str]:
    """A normalised case reference with this (configured) prefix: PREFIX-YYYY-NNN."""
    return re.compile(re.escape(prefix) + r"-\d{4}-\d{3,}")


def _is_valid(kind: str, choices: tuple[str, ...], value: Value, ctx: CheckContext) -> bool:
    """Whether a (non-empty) normalised value has the shape its type promises."""
    if kind in ("text", "longtext", "phone"):
        return isinstance(value, str)
    if kind == "date":
        return iso_date(value) is not None
    if kind == "time":
        return isinstance(value, str) and _TIME.fullmatch(value) is not None
    if kind == "email":
        return isinstance(value, str) and _EMAIL.fullmatch(value) is not None
    if kind == "yesno":
        return isinstance(value, bool)
    if kind == "choice":
        return isinstance(value, str) and (not choices or value in choices)
    if kind == "checkboxes":
        return isinstance(value, list) and all(v in choices for v in value)
    if kind == "agency":
        known = ctx.forms.agencies
        return isinstance(value, str) and (not known.agencies or known.get(value) is not None)
    if kind == "case_ref":
        return isinstance(value, str) and _case_ref(ctx.forms.forms.case_reference_prefix).fullmatch(value) is not None
    if kind == "nhs_number":
        return isinstance(value, str) and _NHS.fullmatch(value) is not None and nhs_number_is_valid(value)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return True


def condition_holds(doc: Document, condition: Condition) -> bool:
    value = doc.value(condition.field)
    if isinstance(condition.equals, bool):
        return value is condition.equals
    return isinstance(value, str) and value.casefold() == condition.equals.casefold()


def _is_death_date(f: FieldDef) -> bool:
    return f.id == "date_of_death" and f.required_when is not None and f.required_when.field == "harm_type"


def _is_doi_details(f: FieldDef) -> bool:
    rw = f.required_when
    return rw is not None and rw.equals is True and f.id == f"{rw.field}_details"


class Required(Rule):
    id = "FIELD-REQUIRED"
    severity = Severity.ERROR
    description = "a mandatory field is empty (conditional ones included)"

    def check(self, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
        view = view_of(doc, ctx)
        if view is None:
            return
        nil = view.nil_return
        for f in view.form.fields:
            if _is_death_date(f) or _is_doi_details(f):
                continue  # REF-DEATH-DATE and DOI-DETAILS say it better
            required = f.mandatory or (f.required_when is not None and condition_holds(doc, f.required_when))
            if nil and f.nil_exempt:
                required = False
            if f.type == "table":
                yield from self._table(view, f, required)
                continue
            found = doc.fields.get(f.id)
            if found is not None and found.problem is not None:
                continue  # FIELD-INVALID
            value = None if found is None else found.value
            # the label only for a finding (most fields give none)
            if f.type == "checkboxes":
                ticked = len(value) if isinstance(value, list) else 0
                least = max(f.min_selected, 1 if required else 0)
                if ticked < least and (required or ticked > 0):
                    what = "option" if least == 1 else "options"
                    yield self.finding(f'"{view.label(f.id)}": please tick at least {least} {what}.', field=f.id)
            elif required and is_blank(value):
                label = view.label(f.id)
                if f.type == "yesno":
                    yield self.finding(f'"{label}" is not answered. Please answer Yes or No.', field=f.id)
                else:
                    yield self.finding(f'"{label}" is empty. Please fill it in.', field=f.id)
        if view.is_chronology:
            yield from self._events(view)

    def _table(self, view: DocView, f: FieldDef, required: bool) -> Iterator[Finding]:
        rows = view.doc.tables.get(f.id, [])
        if required and not rows:
            yield self.finding(f'"{view.label(f.id)}" has no rows. Please fill in at least one row.', field=f.id)
        mandatory = [c for c in f.columns if c.mandatory]
        if not mandatory:
            return
        unreadable = {(i.row, i.field) for i in view.doc.issues if i.table == f.id}
        for n, r in enumerate(rows, start=1):
            number = r.get("row")
            row = number if isinstance(number, int) and not isinstance(number, bool) else n
            for c in mandatory:
                if is_blank(r.get(c.id)) and (row, c.id) not in unreadable:
                    yield self.finding(
                        f'{row_prefix(row)}"{view.label(f.id)}", "{c.label}" is empty. Please fill it in.',
                        field=c.id,
                        row=row,
                    )

    def _events(self, view: DocView) -> Iterator[Finding]:
        rows = view.doc.rows
        numbers = view.row_numbers
        unreadable = view.unreadable_cells
        for c in view.form.events:
            if not c.mandatory:
                continue
            message = f'"{c.label}" is empty. Please fill it in.'
            cid = c.id
            empty = [i for i, r in enumerate(rows) if (v := r.get(cid)) is None or (type(v) is str and not v.strip())]
            for i in empty:
                if (numbers[i], cid) not in unreadable:
                    yield self.finding(f"Row {numbers[i]}: {message}", field=cid, row=numbers[i])


#: event and table column types worth a shape check (free text is always valid)
_CHECKED_COLUMN_TYPES = frozenset(
    ["date", "time", "email", "yesno", "choice", "agency", "integer", "nhs_number", "case_ref"]
)


class Invalid(Rule):
    id = "FIELD-INVALID"
    severity = Severity.ERROR
    description = "not a valid date, time, email, choice, agency, NHS number, case reference"

    def check(self, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
        view = view_of(doc, ctx)
        if view is None:
            return
        for f in view.form.fields:
            if f.type == "table":
                continue
            found = doc.fields.get(f.id)
            if found is None:
                continue
            if found.problem is not None:
                yield self.finding(
                    f'"{view.label(f.id)}" could not be read: {_sentence(found.problem)} {_hint(f.type, ctx)}',
                    field=f.id,
                )
            elif not is_blank(found.value) and not _is_valid(f.type, f.choices, found.value, ctx):
                yield self.finding(f'"{view.label(f.id)}" could not be read. {_hint(f.type, ctx)}', field=f.id)
        for issue in doc.issues:
            kind, label = self._issue_column(view, issue.table, issue.field)
            yield self.finding(
                f"Row {issue.row}: {label} could not be read: {_sentence(issue.message)} {_hint(kind, ctx)}",
                field=issue.field,
                row=issue.row,
            )
        for f in view.form.fields:
            if f.type == "table":
                yield from self._cells(
                    view,
                    ctx,
                    columns=f.columns,
                    rows=doc.tables.get(f.id, []),
                    numbers=None,
                    prefix=f'"{view.label(f.id)}", ',
                )
        if view.is_chronology:
            yield from self._cells(
                view, ctx, columns=view.form.events, rows=doc.rows, numbers=view.row_numbers, prefix=""
            )

    def _issue_column(self, view: DocView, table: str | None, column_id: str) -> tuple[str, str]:
        columns = view.form.events if table is None else view.fields[table].columns if table in view.fields else ()
        for c in columns:
            if c.id == column_id:
                prefix = "" if table is None else f'"{view.label(table)}", '
                return c.type, f'{prefix}"{c.label}"'
        return "", f'"{column_id.replace("_", " ").capitalize()}"'

    def _cells(
        self,
        view: DocView,
        ctx: CheckContext,
        *,
        columns: tuple[Column, ...],
        rows: list[dict[str, Value]],
        numbers: list[int] | None,
        prefix: str,
    ) -> Iterator[Finding]:
        for c in columns:
            if c.type not in _CHECKED_COLUMN_TYPES:
                continue
            bad = _bad_cells(view, c, rows, ctx, chronology=numbers is not None)
            for i in bad:
                if numbers is not None:
                    row = numbers[i]
                else:
                    number = rows[i].get("row")
                    row = number if isinstance(number, int) and not isinstance(number, bool) else i + 1
                yield self.finding(
                    f'Row {row}: {prefix}"{c.label}" could not be read. {_hint(c.type, ctx)}', field=c.id, row=row
                )


def _bad_cells(
    view: DocView, c: Column, rows: list[dict[str, Value]], ctx: CheckContext, *, chronology: bool
) -> list[int]:
    """Indexes of the rows whose cell in column ``c`` is filled but not valid (one
    comprehension per type: a 50,000-row chronology pays no per-cell function call)."""
    cid = c.id
    if c.type == "date" and chronology:
        dates = view.column_dates(cid)
        return [i for i, d in enumerate(dates) if d is None and (v := rows[i].get(cid)) is not None and v != ""]
    # the usual value is tested first; a bool is True or False (no subclasses)
    if c.type == "yesno":
        return [
            i
            for i, r in enumerate(rows)
            if (v := r.get(cid)) is not None and v is not True and v is not False and v != ""
        ]
    if c.type == "integer":
        return [i for i, r in enumerate(rows) if type(v := r.get(cid)) is not int and v is not None and v != ""]
    if c.type == "choice" and c.choices:
        allowed = frozenset(c.choices)
        return [
            i
            for i, r in enumerate(rows)
            if not (type(v := r.get(cid)) is str and v in allowed)
            and v is not None
            and v != ""
            and (not isinstance(v, str) or v not in allowed)
        ]
    kind, choices = c.type, c.choices
    # a column repeats its few values (times, agencies): each distinct text is judged once
    known: dict[str, bool] = {}
    bad: list[int] = []
    for i, r in enumerate(rows):
        v = r.get(cid)
        if v is None or v == "":
            continue
        if type(v) is str:
            ok = known.get(v)
            if ok is None:
                ok = known[v] = _is_valid(kind, choices, v, ctx)
        else:
            ok = _is_valid(kind, choices, v, ctx)
        if not ok:
            bad.append(i)
    return bad


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".")
    return (text[:1].lower() + text[1:] + ".") if text else "it is unclear."


class DeathDate(Rule):
    id = "REF-DEATH-DATE"
    severity = Severity.ERROR
    description = "harm_type Death with no date_of_death"

    def check(self, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
        view = view_of(doc, ctx)
        if view is None or "date_of_death" not in view.fields or "harm_type" not in view.fields:
            return
        harm = doc.value("harm_type")
        death = doc.fields.get("date_of_death")
        if not (isinstance(harm, str) and harm.casefold() == _DEATH):
            return
        if death is not None and death.problem is not None:
            return  # FIELD-INVALID
        if death is None or is_blank(death.value):
            yield self.finding(
                f'"{view.label("harm_type")}" says the child died, but "{view.label("date_of_death")}" '
                "is empty. Please add the date of death.",
                field="date_of_death",
            )


class DeclarationDetails(Rule):
    id = "DOI-DETAILS"
    severity = Severity.ERROR
    description = 'a "yes" without details'

    def check(self, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
        view = view_of(doc, ctx)
        if view is None:
            return
        for f in view.form.fields:
            details = view.fields.get(f"{f.id}_details")
            if f.type != "yesno" or details is None or doc.value(f.id) is not True:
                continue
            found = doc.fields.get(details.id)
            if found is not None and found.problem is not None:
                continue
            if found is None or is_blank(found.value):
                yield self.finding(
                    f'You answered Yes to "{view.label(f.id)}" but "{view.label(details.id)}" is empty. '
                    "Please give the details.",
                    field=details.id,
                )


RULES: tuple[Rule, ...] = (Required(), Invalid(), DeathDate(), DeclarationDetails())
