"""CHRON-* and NIL-RETURN-CONFLICT: the events of a chronology, and nil returns.

Every rule is linear over the rows (CHRON-DUPLICATE groups by date first, then compares
only neighbours in two sort orders of each date's texts).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator
from difflib import SequenceMatcher

from core.model import Document, Finding, Severity
from validators.base import CheckContext, Rule
from validators.view import CELL_SEP, NIL_RETURN_FIELD, Blob, DocView, view_of

EVENT_START = "date"
EVENT_TEXT = "event"
ACTION = "action_outcome"
#: matched at the start of an event cell (lower-cased) that contains "involve"
_NOT_INVOLVED = re.compile(
    r"[^\w" + CELL_SEP + r"]*"
    r"(?:(?:(?:this|the|our|my)\s+)?(?:agency|service|team|organisation)\s+)?"
    r"(?:(?:was|were|has|have|had)\s+)?"
    r"(?:(?:not|never)\s+(?:been\s+)?involved\b|no\s+(?:agency\s+|service\s+)?involvement\b)"
)
_NON_WORD = re.compile(r"[^0-9a-z]+")
#: CHRON-DUPLICATE: characters of the start and end an event is blocked on; how many
#: earlier events of a block each event is compared with
_KEY = 12
_WINDOW = 8
_MAX_COMPARISONS = 300
_TRIM = " \t\r\n.,;:!?-\"'"


def _chronology(doc: Document, ctx: CheckContext) -> DocView | None:
    view = view_of(doc, ctx)
    return view if view is not None and view.is_chronology else None


def more_than_months_apart(earlier: str, later: str, months: int) -> bool:
    """Whether ISO date ``later`` is after ``earlier`` plus ``months`` calendar months
    (the day clamped to the month's end, as a person counts: 31 Jan + 1 month = 28/29 Feb)."""
    apart = (int(later[:4]) - int(earlier[:4])) * 12 + int(later[5:7]) - int(earlier[5:7])
    return apart > months or (apart == months and later[8:10] > earlier[8:10])


class Empty(Rule):
    id = "CHRON-EMPTY"
    severity = Severity.ERROR
    description = "a chronology with no events and no nil return"

    def check(self, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
        view = _chronology(doc, ctx)
        if view is None or doc.rows or view.nil_return:
            return
        nil = f' and tick "{view.label(NIL_RETURN_FIELD)}"' if NIL_RETURN_FIELD in view.fields else ""
        yield self.finding(
            "The chronology has no events. Please add the events, or, if your agency had no "
            f"involvement in the period, say so{nil}.",
            field=EVENT_START,
        )


class NilReturnConflict(Rule):
    id = "NIL-RETURN-CONFLICT"
    severity = Severity.WARNING
    description = 'a nil return with events or narrative, or events with "not involved"'

    def check(self, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
        view = view_of(doc, ctx)
        if view is None:
            return
        nil_field = view.form.form.nil_return_field
        if nil_field is not None and nil_field != NIL_RETURN_FIELD and doc.value(nil_field) is False:
            # the analysis cannot exist without involvement; a summary may explain the nil return
            filled = [f for f in view.form.fields if f.nil_exempt and f.analysis and view.text(f.id)]
            if filled:
                names = ", ".join(f'"{view.label(f.id)}"' for f in filled)
                yield self.finding(
                    f'"{view.label(nil_field)}" is answered No (a nil return), but {names} '
                    f"{'is' if len(filled) == 1 else 'are'} filled in. Please either answer Yes, "
                    "or leave the analysis sections empty.",
                    field=nil_field,
                )
        if not view.is_chronology:
            return
        if doc.value(NIL_RETURN_FIELD) is True and doc.rows:
            yield self.finding(
                f'"{view.label(NIL_RETURN_FIELD)}" is ticked, but the chronology lists events. '
                "Please either untick it or remove the events.",
                field=NIL_RETURN_FIELD,
            )
        if EVENT_TEXT not in view.columns:
            return
        numbers = view.row_numbers
        blob = view.blob(EVENT_TEXT)
        for i in sorted(j for k in _says_not_involved(blob) for j in blob.every(k)):
            yield self.finding(
                f"Row {numbers[i]}: the event says your agency was not involved. Please leave such "
                "periods out of the chronology; if your agency had no involvement at all, make a nil return.",
                field=EVENT_TEXT,
                row=numbers[i],
            )


def _says_not_involved(blob: Blob) -> Iterator[int]:
    """Index of each cell that starts by saying the agency was not involved."""
    low = blob.lower
    k = 0
    cells = len(blob.starts)
    while k < cells:
        start = blob.starts[k]
        end = blob.starts[k + 1] - 1 if k + 1 < cells else len(blob.text)
        if low is None:
            cell = blob.text[start:end].lower()
            if "involve" in cell and _NOT_INVOLVED.match(cell):
                yield blob.indexes[k]
            k += 1
            continue
        hit = low.find("involve", start)
        if hit == -1:
            return
        if hit >= end:  # jump to the cell holding the next hit
            k = bisect_right(blob.starts, hit) - 1
            continue
        if _NOT_INVOLVED.match(low, start, end):
            yield blob.indexes[k]
        k += 1


class OutOfOrder(Rule):
    id = "CHRON-ORDER"
    severity = Severity.WARNING
    description = "events not in date order"

    def check(self, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
        view = _chronology(doc, ctx)
        if view is None or EVENT_START not in view.columns:
            return
        latest = ""
        for i, value in enumerate(view.column_dates(EVENT_START)):
            if value is None:
                continue
            if value < latest:
                row = view.row_numbers[i]
                yield self.finding(
                    f"Row {row}: this event is earlier than an event above it. "
                    "Please put the events in date order, oldest first.",
                    field=EVENT_START,
                    row=row,
                )
                return
            latest = value


class OutsidePeriod(Rule):
    id = "CHRON-OUTSIDE-PERIOD"
    severity = Severity.WARNING
    description = "an event outside period_from..period_to"

    def check(self, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
        view = _chronology(doc, ctx)
        if view is None or EVENT_START not in view.columns:
            return
        start, end = view.date("period_from"), view.date("period_to")
        if start is None and end is None:
            return
        low, high = start or "0000-00-00", end or "9999-99-99"
        message = (
            f'"{view.row_label(EVENT_START)}" is outside the period covered '
            f'("{view.label("period_from")}" to "{view.label("period_to")}"). '
            "Please check the date, or leave the event out if it is not needed."
        )
        numbers = view.row_numbers
        for i, value in enumerate(view.column_dates(EVENT_START)):
            if value is not None and (value < low or value > high):
                yield self.finding(f"Row {numbers[i]}: {message}", field=EVENT_START, row=numbers[i])


class Duplicate(Rule):
    id = "CHRON-DUPLICATE"
    severity = Severity.WARNING
    description = "the same date and near-identical event text twice"

    def check(self, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
        view = _chronology(doc, ctx)
        if view is None or EVENT_START not in view.columns or EVENT_TEXT not in view.columns:
            return
        threshold = ctx.forms.quality.duplicate_similarity
        rows = doc.rows
        # block on (date, first characters) and (date, last characters): a near-identical
        # copy differs little, so it shares its start or its end with the original
        dates = view.column_dates(EVENT_START)
        shared = {d for d, n in Counter(dates).items() if n > 1 and d is not None}
        blocks: dict[tuple[str, str, bool], list[int]] = {}
        # texts repeat (a template's stock phrases): each distinct cell is trimmed and
        # normalised once, and a row holds its normalised text by reference
        trimmed: dict[str, str] = {}
        normal_of: dict[str, str] = {}
        normalised: dict[int, str] = {}
        for i, value in enumerate(dates):
            if value not in shared:
                continue
            cell = rows[i].get(EVENT_TEXT)
            if not isinstance(cell, str):
                continue
            text = trimmed.get(cell)
            if text is None:
                text = trimmed[cell] = cell.strip(_TRIM).lower()
            if text:
                blocks.setdefault((value, text[:_KEY], True), []).append(i)
                blocks.setdefault((value, text[-_KEY:], False), []).append(i)
                found = normal_of.get(cell)
                if found is None:
                    found = normal_of[cell] = _normal_text(cell)
                normalised[i] = found
        duplicate_of: dict[int, int] = {}  # later index -> earlier index
        budget = [_MAX_COMPARISONS]
        for indexes in blocks.values():
            if len(indexes) < 2:
                continue
            for k in range(1, len(indexes)):
                later = indexes[k]
                b = normalised[later]
                # a block's indexes rise: once an earlier one is not below the match
                # already found for ``later``, none after it in the window is either
                for earlier in indexes[max(0, k - _WINDOW) : k]:
                    if duplicate_of.get(later, later) <= earlier:
                        break
                    if _similar(normalised[earlier], b, threshold, budget):
                        duplicate_of[later] = earlier
                        break
        numbers = view.row_numbers
        for later in sorted(duplicate_of):
            row = numbers[later]
            yield self.finding(
                f"Row {row}: this event looks like a repeat of row {numbers[duplicate_of[later]]} "
                "(same date, nearly the same text). Please remove one, or say how they differ.",
                field=EVENT_TEXT,
                row=row,
            )


def _normal_text(cell: str) -> str:
    return _NON_WORD.sub(" ", cell.lower()).strip()


def _similar(a: str, b: str, threshold: float, budget: list[int]) -> bool:
    """difflib's ratio on normalised text, after its cheap upper bounds. ``budget`` caps
    the difflib comparisons of one document; past it only identical texts count."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if not la or not lb or 2.0 * min(la, lb) / (la + lb) < threshold or budget[0] <= 0:
        return False
    budget[0] -= 1
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    return matcher.quick_ratio() >= threshold and matcher.ratio() >= threshold


class Gap(Rule):
    id = "CHRON-GAP"
    severity = Severity.WARNING
    description = "no events for longer than the configured span inside the period"

    def check(self, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
        view = _chronology(doc, ctx)
        if view is None or EVENT_START not in view.columns or not doc.rows:
            return
        months = ctx.forms.quality.gap_months
        start, end = view.date("period_from"), view.date("period_to")
        first_row: dict[str, int] = {}
        for i, value in enumerate(view.column_dates(EVENT_START)):
            if value is not None and value not in first_row:
                first_row[value] = i
        low, high = start or "0000-00-00", end or "9999-99-99"
        dates = sorted(d for d in first_row if low <= d <= high)
        if not dates and (start is None or end is None):
            return
        numbers = view.row_numbers
        span = f"{months} month{'s' if months != 1 else ''}"
        advice = "Please check whether events are missing, or say why there was no contact."
        previous = start if start is not None else dates[0]
        previous_row: int | None = None
        for d in dates:
            if more_than_months_apart(previous, d, months):
                row = numbers[first_row[d]]
                since = "the start of the period covered" if previous_row is None else f"row {previous_row}"
                yield self.finding(
                    f"Row {row}: there are no events for more than {span} between {since} and this event. " + advice,
                    field=EVENT_START,
                    row=row,
                )
            previous, previous_row = d, numbers[first_row[d]]
        if end is not None and more_than_months_apart(previous, end, months):
            since = "the start of the period covered" if previous_row is None else f"row {previous_row}"
            yield self.finding(
                f"There are no events for more than {span} between {since} and the end of the period covered. "
                + advice,
                field=EVENT_START,
                row=previous_row,
            )


class NoAction(Rule):
    id = "CHRON-NO-ACTION"
    severity = Severity.WARNING
    description = "an event with no action / outcome"

    def check(self, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
        view = _chronology(doc, ctx)
        if view is None or ACTION not in view.columns:
            return
        message = f'"{view.row_label(ACTION)}" is empty. Please record the action taken, or why no action was taken.'
        numbers = view.row_numbers
        unreadable = view.unreadable_cells
        for i, r in enumerate(doc.rows):
            value = r.get(ACTION)
            blank = value is None or (isinstance(value, str) and not value.strip())
            if blank and (numbers[i], ACTION) not in unreadable:
                yield self.finding(f"Row {numbers[i]}: {message}", field=ACTION, row=numbers[i])


RULES: tuple[Rule, ...] = (
    Empty(),
    NilReturnConflict(),
    OutOfOrder(),
    OutsidePeriod(),
    Duplicate(),
    Gap(),
    NoAction(),
)
