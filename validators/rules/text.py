"""TEXT-*: what the narrative says (abbreviations, pasted notes, identifiers, length).

Narrative text is every field and column the catalogue marks ``narrative``. Each event
column is joined into one string (see validators.view.Blob) and scanned with one regex call,
so a 50,000-row chronology costs a few C-level scans, not 150,000 Python-level searches.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass

from core.model import Document, Finding, Severity
from validators.base import CheckContext, Rule, row_prefix
from validators.rules.fields import nhs_number_is_valid
from validators.view import CELL_SEP, Blob, DocView, join_cells, view_of

#: the child's own details: never "someone else's" identifiers
CHILD_ADDRESS = "child_address"
CHILD_NHS_NUMBER = "child_nhs_number"
GLOSSARY = "glossary"
GLOSSARY_ABBREVIATION = "abbreviation"

#: words people write in capitals that are not abbreviations
_CAPITAL_WORDS = frozenset(
    [
        "AM",
        "PM",
        "OK",
        "NO",
        "YES",
        "NOT",
        "AND",
        "OR",
        "BUT",
        "THE",
        "TO",
        "OF",
        "IN",
        "ON",
        "AT",
        "IS",
        "IT",
        "BE",
        "WAS",
        "ARE",
        "HE",
        "SHE",
        "WE",
        "ME",
        "MY",
        "US",
        "ALL",
        "DID",
        "DO",
        "HAS",
        "HAD",
        "VERY",
        "ONLY",
        "NEVER",
        "NOW",
    ]
)

# One scan per column finds every token the text rules care about. The pattern starts
# with a character class, so the regex engine skips in C to the few characters worth trying
# (a leading \b or lookbehind would make it try every position of a 5 MB column); the
# lookbehinds come after that first character instead.
_TOKENS = re.compile(
    r"[A-Z0-9+<&{\\:](?:"
    r"(?P<colon>(?<=:))"
    r"|(?<=[A-Z])(?<!\w[A-Z])(?:"  # a word starting with a capital
    r"(?P<ni>(?<=[A-CEGHJ-PR-TW-Z])[A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b)"
    r"|(?P<postcode>[A-Z]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2}\b)"
    r"|(?P<abbreviation>[A-Z]{1,5})s?\b)"
    r"|(?<=[0-9+])(?<![0-9+][0-9+])(?:"  # a run of digits
    r"(?P<phone>(?<=0)(?:[ -]?\d){9,10}(?!\d)|(?<=\+)44 ?(?:\(0\) ?)?(?:[ -]?\d){9,10}(?!\d))"
    r"|(?P<nhs>(?<=\d)\d{2}[ -]?\d{3}[ -]?\d{4}(?!\d)))"
    r"|(?P<markup>(?<=<)(?i:/?\s*(?:br|p|div|span|font|b|i|u|strong|em|table|tr|td|th|li|ul|ol|html|body"
    r"|head)\b[^>" + CELL_SEP + r"]{0,200}>)"
    r"|(?<=&)(?i:nbsp|amp|lt|gt|quot|apos|\#\d{1,5}|\#x[0-9a-f]{1,4});"
    r"|(?<=\{)\\rtf|(?<=\\)(?:par|pard|b0|fs?\d+)\b)"
    r")"
)


def _shape(c: str) -> str:
    """The class of an ASCII character in ``_SHAPES``."""
    if "A" <= c <= "Z":
        return "A"
    if "0" <= c <= "9":
        return "0"
    if c in " -":
        return "_"
    return "!" if c in ":+<&{\\" else "."


#: Plain ASCII text ``_TOKENS`` cannot match at all, told apart by a C-level pass instead of
#: the regex engine (which tries its leading character class at every character, the
#: bulk of a narrative's scan). Every match starts with one of ``:+<&{\\`` (a colon, a
#: "+44" phone number, markup), or with a capital followed by a capital or a digit (an
#: abbreviation, NI number or postcode), or with a digit followed by a digit, a space or a
#: hyphen (a phone or NHS number). ``_SHAPES`` maps each byte to its class ("A" capital,
#: "0" digit, "_" space or hyphen, "!" one of those starts, "." anything else), and a text
#: whose classes hold none of "!", "AA", "A0", "00", "0_" holds no token. (Beyond ASCII,
#: ``\d`` takes other digits too: such a text is always scanned.)
_SHAPES = bytes.maketrans(bytes(range(128)), "".join(_shape(chr(b)) for b in range(128)).encode("ascii"))


#: longer texts (a chronology's joined column) almost always hold a token: the pre-test would
#: only add its pass to the scan
_PRE_TEST_CHARS = 16_384


def _may_hold_tokens(text: str) -> bool:
    """False only when ``_TOKENS`` cannot match anywhere in ``text`` (see ``_SHAPES``).
    The one-byte searches come first: they are several times faster than the pairs."""
    if len(text) > _PRE_TEST_CHARS or not text.isascii():
        return True
    shapes = text.encode("ascii").translate(_SHAPES)
    if b"!" in shapes or b"AA" in shapes:
        return True
    return b"0" in shapes and (b"A0" in shapes or b"00" in shapes or b"0_" in shapes)


#: what comes before a colon in a system stamp (matched on lower-cased text)
_STAMP_BEFORE_COLON = re.compile(
    r"\b(?:(?:created|entered|modified|updated|amended|recorded|authored|printed"
    r"|last\s+(?:updated|modified|amended))(?:\s+(?:by|on|at))?"
    r"|\d{1,2}/\d{1,2}/\d{2,4}\s+\d{1,2}:\d{2})\s*$"
)
_SECONDS_AFTER_COLON = re.compile(r"\d{2}\b")
#: stamps without a colon, each with a literal start (fast to search), on lower-cased text;
#: with that start, which lower-cased text without it cannot match (a C-level substring
#: search rules most texts out before the regex engine walks them)
_STAMP_PHRASES = (
    ("entered", re.compile(r"entered\s+in\s+error")),
    ("page", re.compile(r"page\s+\d+\s+of\s+\d+\b")),
)
#: "Created by:" is at most this far before its colon
_STAMP_WINDOW = 40
_IDENTIFIERS = frozenset(["ni", "postcode", "phone", "nhs"])
_KIND_NAMES = {
    "phone": "a phone number",
    "nhs": "an NHS number",
    "ni": "a National Insurance number",
    "postcode": "a postcode",
}
_DIGITS = re.compile(r"\D")


@dataclass
class Scan:
    """What one scan of a column (or field) found."""

    abbreviations: dict[str, int]  # abbreviation -> offset of its first use
    identifiers: list[tuple[int, str, str]]  # (blob index, kind, matched text)
    pasted: list[tuple[int, str]]  # (blob index, "stamp" or "markup")


def scan(blob: Blob) -> Scan:
    abbreviations: dict[str, int] = {}
    identifiers: list[tuple[int, str, str]] = []
    pasted: list[tuple[int, str]] = []
    colons: list[int] = []
    text = blob.text
    for m in _TOKENS.finditer(text) if _may_hold_tokens(text) else ():
        kind = m.lastgroup
        if kind == "abbreviation":
            word = text[m.start() : m.end("abbreviation")]
            if word not in abbreviations:
                abbreviations[word] = m.start()
        elif kind == "colon":
            colons.append(m.start())
        elif kind in _IDENTIFIERS:
            identifiers.append((blob.index_at(m.start()), kind, m.group()))
        else:  # markup: the unnamed RTF alternatives report no group
            pasted.append((blob.index_at(m.start()), "markup"))
    stamps = _stamps(blob, colons) if colons or blob.text else []
    return Scan(abbreviations, identifiers, pasted + stamps)


def abbreviations_in(text: str) -> set[str]:
    """The abbreviations a scan of ``text`` finds (``scan(join_cells([text])).abbreviations``),
    without the rest of the scan: a glossary entry needs no stamps or identifiers."""
    return {text[m.start() : m.end("abbreviation")] for m in _TOKENS.finditer(text) if m.lastgroup == "abbreviation"}


def _stamps(blob: Blob, colons: list[int]) -> list[tuple[int, str]]:
    low = blob.lower
    flags = 0 if low is not None else re.IGNORECASE
    folded = low if low is not None else blob.text
    found: list[tuple[int, str]] = []
    before = _STAMP_BEFORE_COLON if not flags else re.compile(_STAMP_BEFORE_COLON.pattern, flags)
    for colon in colons:
        stamp = before.search(folded, max(0, colon - _STAMP_WINDOW), colon)
        if stamp is None:
            continue
        # a date and time counts as a stamp only with seconds: "12/03/2025 14:32:07"
        if not stamp.group()[:1].isdigit() or _SECONDS_AFTER_COLON.match(folded, colon + 1) is not None:
            found.append((blob.index_at(colon), "stamp"))
    for start, phrase in _STAMP_PHRASES:
        if not flags and start not in folded:
            continue  # case-sensitive on lower-cased text: no match without its start
        pattern = phrase if not flags else re.compile(phrase.pattern, flags)
        found.extend((blob.index_at(m.start()), "stamp") for m in pattern.finditer(folded))
    return found


@dataclass
class _Source:
    """One narrative field, table column or event column, joined for scanning."""

    field: str
    label: str  # as printed, quoted: '"Event"' or '"Immediate actions taken", "Action"'
    blob: Blob
    rows: list[int | None]  # the row number of each blob index (None for a scalar field)
    # ``scan``, once made (a plain attribute: see Blob.lower on functools.cached_property)
    _scan: Scan | None = dataclasses.field(default=None, init=False, repr=False, compare=False)

    @property
    def scan(self) -> Scan:
        if self._scan is None:
            self._scan = scan(self.blob)
        return self._scan

    def row_at(self, pos: int) -> int | None:
        return self.rows[self.blob.index_at(pos)]

    def long_cells(self, limit: int) -> list[int]:
        """Blob indexes of the cells longer than ``limit`` characters (every copy)."""
        blob = self.blob
        starts = blob.starts
        ends = [*starts[1:], len(blob.text) + 1]
        return [
            i
            for k, (a, b) in enumerate(zip(starts, ends, strict=True))
            if b - a - 1 > limit
            for i in blob.every(blob.indexes[k])
        ]


def _sources(view: DocView) -> list[_Source]:
    sources: list[_Source] = []
    for f in view.narrative_fields():
        if f.id == CHILD_ADDRESS:
            continue
        text = view.text(f.id)
        if text is not None:
            sources.append(_Source(f.id, f'"{view.label(f.id)}"', Blob(text, [0], [0]), [None]))
    for table, column in view.narrative_table_columns():
        table_rows = view.doc.tables.get(table.id, [])
        blob = join_cells([r.get(column.id) for r in table_rows])
        if blob.text:
            rows: list[int | None] = []
            for n, r in enumerate(table_rows, start=1):
                number = r.get("row")
                rows.append(number if isinstance(number, int) and not isinstance(number, bool) else n)
            sources.append(_Source(column.id, f'"{table.label}", "{column.label}"', blob, rows))
    if view.is_chronology:
        numbers: list[int | None] = list(view.row_numbers)
        for column in view.narrative_columns():
            blob = view.blob(column.id)
            if blob.text:
                sources.append(_Source(column.id, f'"{column.label}"', blob, numbers))
    return sources


def _narrative(doc: Document, ctx: CheckContext) -> tuple[DocView, list[_Source]] | None:
    view = view_of(doc, ctx)
    if view is None:
        return None
    memo = ctx._memo
    if memo.get("sources_for") is not view:
        memo["sources_for"] = view
        memo["sources"] = _sources(view)
    sources = memo["sources"]
    assert isinstance(sources, list)
    return view, sources


class Abbreviation(Rule):
    id = "TEXT-ABBREVIATION"
    severity = Severity.WARNING
    description = "an abbreviation not in the glossary or the partnership's standard list"

    def check(self, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
        found = _narrative(doc, ctx)
        if found is None:
            return
        view, sources = found
        known = {a.strip().upper() for a in ctx.forms.quality.standard_abbreviations}
        known.add(ctx.forms.forms.case_reference_prefix.upper())
        known |= _CAPITAL_WORDS
        has_glossary = GLOSSARY in view.fields
        for r in doc.tables.get(GLOSSARY, []):
            value = r.get(GLOSSARY_ABBREVIATION)
            if isinstance(value, str):
                known.add(value.strip().upper())
                known.update(abbreviations_in(value))
        # first place seen: (source order, blob index) of each unknown abbreviation
        first: dict[str, tuple[int, int, int]] = {}
        for s, source in enumerate(sources):
            local = {w: p for w, p in source.scan.abbreviations.items() if w not in known}
            for word, pos in local.items():
                index = source.blob.index_at(pos)
                place = (index if source.rows[0] is not None else -1, s, pos)
                if word not in first or place < first[word]:
                    first[word] = place
        where = "add it to the glossary" if has_glossary else "write it out in full the first time it is used"
        for word, (_, s, pos) in sorted(first.items(), key=lambda item: item[1]):
            source = sources[s]
            row = source.row_at(pos)
            yield self.finding(
                f'{row_prefix(row)}{source.label} uses the abbreviation "{word}", which is not explained. '
                f"Please {where}.",
                field=source.field,
                row=row,
            )


class PastedNotes(Rule):
    id = "TEXT-PASTED-NOTES"
    severity = Severity.WARNING
    description = "signs of pasted case notes: system stamps, very long cells, markup"

    def check(self, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
        found = _narrative(doc, ctx)
        if found is None:
            return
        _, sources = found
        limit = ctx.forms.quality.pasted_notes_max_chars
        for source in sources:
            signs: dict[int, set[str]] = {}
            every = source.blob.every
            for first, kind in source.scan.pasted:
                for index in every(first):
                    signs.setdefault(index, set()).add(kind)
            for index in source.long_cells(limit):
                signs.setdefault(index, set()).add("long")
            for index in sorted(signs, key=lambda i: (source.rows[i] or 0, i)):
                row = source.rows[index]
                kinds = signs[index]
                what = [
                    text
                    for kind, text in (
                        ("stamp", "system stamps"),
                        ("markup", "formatting code"),
                        ("long", f"more than {limit} characters"),
                    )
                    if kind in kinds
                ]
                yield self.finding(
                    f"{row_prefix(row)}{source.label} looks like pasted case notes ({', '.join(what)}). "
                    "Please summarise the facts in your own words.",
                    field=source.field,
                    row=row,
                )


class PersonalData(Rule):
    id = "TEXT-PERSONAL-DATA"
    severity = Severity.WARNING
    description = "identifiers that may not be needed: NHS or NI numbers, phone numbers, postcodes"

    def check(self, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
        found = _narrative(doc, ctx)
        if found is None:
            return
        _view, sources = found
        own_nhs = doc.value(CHILD_NHS_NUMBER)
        address = doc.value(CHILD_ADDRESS)
        own_postcodes = (
            {t.replace(" ", "") for _, k, t in scan(join_cells([address])).identifiers if k == "postcode"}
            if isinstance(address, str)
            else set()
        )
        for source in sources:
            kinds_at: dict[int, set[str]] = {}
            every = source.blob.every
            for first, kind, text in source.scan.identifiers:
                if kind == "nhs":
                    digits = _DIGITS.sub("", text)
                    if not nhs_number_is_valid(digits) or digits == own_nhs:
                        continue
                elif kind == "postcode" and text.replace(" ", "") in own_postcodes:
                    continue
                for index in every(first):
                    kinds_at.setdefault(index, set()).add(kind)
            for index in sorted(kinds_at, key=lambda i: (source.rows[i] or 0, i)):
                row = source.rows[index]
                names = [name for kind, name in _KIND_NAMES.items() if kind in kinds_at[index]]
                yield self.finding(
                    f"{row_prefix(row)}{source.label} seems to contain {' and '.join(names)}. "
                    "Please remove identifiers the review does not need.",
                    field=source.field,
                    row=row,
                )


class TooShort(Rule):
    id = "TEXT-TOO-SHORT"
    severity = Severity.WARNING
    description = "an analysis section under the configured word count"

    def check(self, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
        view = view_of(doc, ctx)
        if view is None:
            return
        least = ctx.forms.quality.min_words
        for f in view.form.fields:
            text = view.text(f.id) if f.analysis else None
            if text is None:
                continue
            # at most least + 1 pieces: the exact count whenever it is under ``least``
            words = len(text.split(maxsplit=max(least, 0)))
            if words < least:
                yield self.finding(
                    f'"{view.label(f.id)}" has {words} word{"s" if words != 1 else ""}. Please write at least '
                    f"{least} words: what happened, why, and what it means for the child.",
                    field=f.id,
                )


RULES: tuple[Rule, ...] = (Abbreviation(), PastedNotes(), PersonalData(), TooShort())
