"""DATE-* and SIGNOFF-BEFORE-CONTENT. Dates are compared as ISO strings, which sort as dates."""

from __future__ import annotations

from collections.abc import Iterator

from core.model import Document, Finding, Severity
from validators.base import CheckContext, Rule
from validators.view import DocView, view_of

#: date fields that say when something happened to the child (DATE-BEFORE-BIRTH, SIGNOFF)
EVENT_DATE_FIELDS: tuple[str, ...] = ("incident_date", "date_agency_aware", "offence_date", "charge_date")
#: (start, end) pairs: the end may not come before the start
ORDERED_PAIRS: tuple[tuple[str, str], ...] = (
    ("period_from", "period_to"),
    ("practice_from", "practice_to"),
    ("child_dob", "date_of_death"),
    ("offence_date", "charge_date"),
)
#: fields that say when the form was approved or signed off
SIGNOFF_FIELDS: tuple[str, ...] = ("signoff_date", "approval_date")
EVENT_START = "date"
EVENT_END = "end_date"


def _event_date_columns(view: DocView) -> list[str]:
    return [c.id for c in view.form.events if c.type == "date"] if view.is_chronology else []


class Future(Rule):
    id = "DATE-FUTURE"
    severity = Severity.ERROR
    description = "a date after the day the document was received"

    def check(self, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
        view = view_of(doc, ctx)
        if view is None:
            return
        received = ctx.received.isoformat()
        for f in view.form.fields:
            if f.type == "date":
                value = view.date(f.id)
                if value is not None and value > received:
                    yield self.finding(
                        f'"{view.label(f.id)}" is later than the day we received the form. Please check the date.',
                        field=f.id,
                    )
        numbers = view.row_numbers
        for column in _event_date_columns(view):
            message = f'"{view.row_label(column)}" is later than the day we received the chronology. Please check it.'
            for i, value in enumerate(view.column_dates(column)):
                if value is not None and value > received:
                    yield self.finding(f"Row {numbers[i]}: {message}", field=column, row=numbers[i])


class BeforeBirth(Rule):
    id = "DATE-BEFORE-BIRTH"
    severity = Severity.WARNING
    description = "an event before the child's date of birth"

    def check(self, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
        view = view_of(doc, ctx)
        if view is None:
            return
        dob = view.date("child_dob")
        if dob is None:
            return
        dob_label = view.label("child_dob")
        for field_id in EVENT_DATE_FIELDS:
            value = view.date(field_id) if field_id in view.fields else None
            if value is not None and value < dob:
                yield self.finding(
                    f'"{view.label(field_id)}" is before the child\'s "{dob_label}". '
                    "Please check both dates; if it is right (for example during pregnancy), say so.",
                    field=field_id,
                )
        if not view.is_chronology or EVENT_START not in view.columns:
            return
        numbers = view.row_numbers
        message = (
            f'"{view.row_label(EVENT_START)}" is before the child\'s "{dob_label}". '
            "Please check it; if it is right (for example during pregnancy), say so in the event."
        )
        for i, value in enumerate(view.column_dates(EVENT_START)):
            if value is not None and value < dob:
                yield self.finding(f"Row {numbers[i]}: {message}", field=EVENT_START, row=numbers[i])


class Approximate(Rule):
    id = "DATE-APPROXIMATE"
    severity = Severity.WARNING
    description = 'an approximate date ("?", month only)'

    def check(self, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
        view = view_of(doc, ctx)
        if view is None:
            return
        advice = "Please give the exact date if the records show it."
        for f in view.form.fields:
            found = doc.fields.get(f.id)
            if found is not None and found.approximate:
                yield self.finding(f'"{view.label(f.id)}" is approximate. {advice}', field=f.id)
        for row, column in doc.approximate:
            yield self.finding(f'Row {row}: "{view.row_label(column)}" is approximate. {advice}', field=column, row=row)


class Order(Rule):
    id = "DATE-ORDER"
    severity = Severity.ERROR
    description = "an end before its start (period_to before period_from, death before birth)"

    def check(self, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
        view = view_of(doc, ctx)
        if view is None:
            return
        for start, end in ORDERED_PAIRS:
            if start not in view.fields or end not in view.fields:
                continue
            first, last = view.date(start), view.date(end)
            if first is not None and last is not None and last < first:
                yield self.finding(
                    f'"{view.label(end)}" is before "{view.label(start)}". Please check both dates.', field=end
                )
        if not view.is_chronology or EVENT_START not in view.columns or EVENT_END not in view.columns:
            return
        numbers = view.row_numbers
        message = f'"{view.row_label(EVENT_END)}" is before "{view.row_label(EVENT_START)}". Please check both dates.'
        ends = view.column_dates(EVENT_END)
        for i, first in enumerate(view.column_dates(EVENT_START)):
            last = ends[i]
            if first is not None and last is not None and last < first:
                yield self.finding(f"Row {numbers[i]}: {message}", field=EVENT_END, row=numbers[i])


class SignoffBeforeContent(Rule):
    id = "SIGNOFF-BEFORE-CONTENT"
    severity = Severity.WARNING
    description = "signed off before the latest event it covers"

    def check(self, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
        view = view_of(doc, ctx)
        if view is None:
            return
        signoffs = [(f, view.date(f)) for f in SIGNOFF_FIELDS if f in view.fields]
        signoffs = [(f, d) for f, d in signoffs if d is not None]
        if not signoffs:
            return
        latest: str | None = None
        latest_row: int | None = None
        latest_field: str | None = None
        for field_id in (*EVENT_DATE_FIELDS, "date_of_death"):
            value = view.date(field_id) if field_id in view.fields else None
            if value is not None and (latest is None or value > latest):
                latest, latest_field = value, field_id
        numbers = view.row_numbers
        for column in _event_date_columns(view):
            dates = [d for d in view.column_dates(column) if d is not None]
            if not dates:
                continue
            top = max(dates)
            if latest is None or top > latest:
                latest, latest_field = top, None
                latest_row = numbers[view.column_dates(column).index(top)]
        if latest is None:
            return
        what = f'"{view.label(latest_field)}"' if latest_field is not None else f"the event in row {latest_row}"
        for field_id, signed in signoffs:
            if signed is not None and signed < latest:
                yield self.finding(
                    f'"{view.label(field_id)}" is before {what}. Please sign off after the content is '
                    "complete, or check the dates.",
                    field=field_id,
                )


RULES: tuple[Rule, ...] = (Future(), BeforeBirth(), Approximate(), Order(), SignoffBeforeContent())
