"""Coercing a raw cell or paragraph value to the normalised value of its field type.

Pure functions, no I/O. Every reader (Word, Excel) calls :func:`coerce` with the raw value it
found and the field's type; the result is a :class:`Coerced` holding the normalised value
(spec/forms.md "Value types") or, when the value cannot be read with confidence, ``None``
and a ``problem`` saying why. Nothing is guessed: an ambiguous value is a problem, not a
best effort. Problems never quote the value (it may be personal data).

Decisions worth knowing:

- Numeric dates are always day-first (UK). Two-digit years: 00-69 are 20xx, 70-99 are 19xx.
  A month alone ("Mar 2025") is the first of the month, marked approximate; a "?" or "c."
  prefix (or a trailing "?") marks a date approximate; a year alone is a problem ("give at
  least a month"), since "1 January" would be a guess.
- Tick marks: ☒ ☑ ✓ ✔ ✅ ⊠, a standalone "X"/"x", "[x]", "(x)" and the word "Yes" tick an option;
  ☐ □ "[ ]" "( )" and the word "No" leave it unticked. A cross (✗ ✘ ❌) is *not* a tick: people
  use it both to select and to reject, so an option marked only with a cross counts as not
  ticked, and when nothing else is ticked the value is a problem ("marked with a cross").
- A value with a problem has ``value=None``; an empty value has neither value nor problem.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from core.agencies import AgencyRegistry
from core.catalogue.schema import FieldType
from core.model import Value

__all__ = [
    "Coerced",
    "Raw",
    "coerce",
    "excel_serial_to_date",
    "find_case_references",
    "is_empty",
    "option_key",
    "parse_date",
    "parse_tick",
    "parse_time",
    "ticked_options",
]

Raw = str | int | float | bool | dt.date | dt.datetime | dt.time | list[str] | None


@dataclass(frozen=True, slots=True)
class Coerced:
    """A value as read: normalised ``value`` (None when empty or unreadable), the ``problem``
    that stopped it being read with confidence, and whether a date is ``approximate``."""

    value: Value
    problem: str | None = None
    approximate: bool = False


EMPTY: Final = Coerced(None)

# --- messages (never quote the value) ------------------------------------------------------
DATE_PROBLEM: Final = "not a date we can read; use dd/mm/yyyy"
YEAR_ONLY_PROBLEM: Final = "a year alone is not enough; give at least a month and year, or dd/mm/yyyy"
TIME_PROBLEM: Final = "not a time we can read; use HH:MM (24 hour)"
EMAIL_PROBLEM: Final = "not an email address we can read"
PHONE_FEW: Final = "too few digits for a phone number"
PHONE_MANY: Final = "too many digits for a phone number"
PHONE_PROBLEM: Final = "not a phone number we can read"
YESNO_PROBLEM: Final = "not a yes or no answer we can read; answer Yes or No"
BOTH_TICKED: Final = "more than one option is ticked; tick only one"
CROSS_PROBLEM: Final = "marked with a cross, which could mean either; tick the option with ☒ or X"
NHS_LENGTH: Final = "an NHS number has 10 digits"
NHS_CHECK: Final = "not a valid NHS number (the check digit does not match)"
INTEGER_PROBLEM: Final = "not a whole number"
AGENCY_PROBLEM: Final = "not an agency we know; use the agency's name as listed"
NO_AGENCIES: Final = "no agencies are configured to match against"
CASE_REF_MANY: Final = "more than one case reference; give one"

# --- whitespace and quotes ----------------------------------------------------------------
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_SPACES = re.compile(r"[^\S\n]+")  # horizontal whitespace (nbsp and tabs included)
_ANY_SPACE = re.compile(r"\s+")
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\v\f\u2028\u2029\x85]")
_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2010": "-",
        "\u2011": "-",
    }
)


#: one translation table for _clean: invisible characters out, quotes and dashes straight,
#: every line break but "\r" (which may pair with "\n") made "\n"
_CLEAN = {**_INVISIBLE, **_QUOTES, **{ord(c): "\n" for c in "\v\f\u2028\u2029\x85"}}
#: runs of horizontal whitespace that are not already a single space
_SPACE_RUNS = re.compile(r"[^\S\n]{2,}|[^\S\n ]")


#: the ASCII characters _CLEAN changes (every other key is beyond ASCII)
_CLEAN_ASCII = tuple(chr(c) for c in _CLEAN if c < 128)
#: whether printable ASCII text is left as it is by _CLEAN (its ASCII keys are all control
#: characters), so that str.isprintable() alone can show there is nothing to translate
_PRINTABLE_ASCII_IS_CLEAN = not any(c.isprintable() for c in _CLEAN_ASCII)
#: in ASCII text, what " ".join(text.split()) changes inside a line: str.split()'s ASCII
#: whitespace other than the space, and a run of spaces
_SPLIT_ASCII = ("  ", *(chr(c) for c in range(128) if chr(c) != " " and chr(c).isspace()))
#: from this length on, _clean and _single_spaced search for what they would change before
#: translating or splitting (shorter texts are cheaper to translate or split at once)
_SEARCH_FIRST = 256


def _clean(text: str) -> str:
    """Invisible characters removed, line breaks unified; quotes and dashes straightened.
    (One pass of str.translate: the same as _LINE_BREAKS after _INVISIBLE, but C-fast.)"""
    if "\r" in text:
        text = text.translate(_INVISIBLE).replace("\r\n", "\n").replace("\r", "\n")
    if text.isascii():
        if len(text) >= _SEARCH_FIRST:
            if not any(c in text for c in _CLEAN_ASCII):
                return text  # nothing to translate (a long narrative mostly is plain ASCII)
        elif _PRINTABLE_ASCII_IS_CLEAN and text.isprintable():
            return text  # nothing to translate (most short values: one C-level check)
    return text.translate(_CLEAN)


def _single_spaced(text: str) -> str:
    """``" ".join(text.split())``: runs of whitespace made one space, the ends stripped.
    Plain ASCII text already so is returned as it is, found with a few C-level substring
    searches instead of splitting a long narrative into words and joining them again (a
    short text is split at once: the searches would cost more)."""
    if (
        len(text) >= _SEARCH_FIRST
        and text.isascii()
        and text[:1] != " "
        and text[-1:] != " "
        and not any(c in text for c in _SPLIT_ASCII)
    ):
        return text
    return " ".join(text.split())


def _one_line(text: str) -> str:
    # str.split() splits on exactly the characters re's \s matches: the same as
    # _ANY_SPACE.sub(" ", ...).strip(), without the regex
    return _single_spaced(_clean(text))


# --- emptiness ----------------------------------------------------------------------------
_PLACEHOLDERS = re.compile(
    r"(?:click\s+or\s+tap\s+(?:here\s+)?to\s+enter\s+(?:text|a\s+date)"
    r"|click\s+here\s+to\s+enter\s+(?:text|a\s+date)"
    r"|choose\s+an\s+item|select\s+(?:an?\s+)?(?:item|option)|please\s+select|select\s+one"
    r"|enter\s+(?:text|a\s+date|date)(?:\s+here)?|type\s+here|insert\s+text(?:\s+here)?"
    r"|dd\s*[/.-]\s*mm\s*[/.-]\s*yy(?:yy)?|hh\s*:\s*mm)\s*\.?",
    re.IGNORECASE,
)
_FILLER = re.compile(r"[\s_.…]*")
#: every word the placeholder texts are made of: a text whose first word is not one of these
#: is a value, found without running the placeholder pattern over a long narrative
_PLACEHOLDER_WORDS = frozenset(
    [
        "click",
        "or",
        "tap",
        "here",
        "to",
        "enter",
        "text",
        "a",
        "date",
        "choose",
        "an",
        "item",
        "select",
        "option",
        "please",
        "one",
        "type",
        "insert",
        "dd",
        "mm",
        "yy",
        "yyyy",
        "hh",
    ]
)
_FIRST_WORD = re.compile(r"[^\W_]+")


def is_empty(raw: Raw) -> bool:
    """None, "", whitespace, blank fill lines ("____") and Word's placeholder texts
    ("Click or tap here to enter text.", "Choose an item.", "dd/mm/yyyy") are empty.
    "N/A", "None" and "-" are values (a person wrote them); ``False`` is a value."""
    if raw is None:
        return True
    if isinstance(raw, list):
        return all(is_empty(item) for item in raw)
    if not isinstance(raw, str):
        return isinstance(raw, float) and math.isnan(raw)
    first = _FIRST_WORD.search(raw)
    if first is None:
        return _FILLER.fullmatch(raw.translate(_INVISIBLE)) is not None
    if first.group().lower() not in _PLACEHOLDER_WORDS:
        return False
    text = raw.translate(_INVISIBLE)
    return _FILLER.fullmatch(_PLACEHOLDERS.sub("", text)) is not None


# --- dates --------------------------------------------------------------------------------
_MONTHS: Final = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
    "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9,
    "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12,
    "december": 12,
}  # fmt: skip
_MONTH = r"(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAY = r"(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?\.?,?\s+)?"
_ORD = r"(?:st|nd|rd|th)?"
_YEAR = r"(?P<y>\d{4}|\d{2})"
_DATE_FORMS: Final = (
    # 2025-03-03, 2025/3/3, 2025.03.03 (year first is never ambiguous)
    re.compile(r"(?P<y>\d{4})\s*([-/.])\s*(?P<m>\d{1,2})\s*\2\s*(?P<d>\d{1,2})"),
    # 3/3/25, 03-03-2025, 03.03.2025: day first
    re.compile(_WEEKDAY + r"(?P<d>\d{1,2})\s*([-/.])\s*(?P<m>\d{1,2})\s*\2\s*" + _YEAR),
    # 3 March 2025, 3rd Mar 2025, Monday 3rd of March, 2025, 03-Mar-25
    re.compile(_WEEKDAY + r"(?P<d>\d{1,2})" + _ORD + r"(?:\s+of)?[\s\-/.]*" + _MONTH + r",?[\s\-/.]*" + _YEAR),
    # March 3, 2025; Mar 3rd 2025
    re.compile(_WEEKDAY + _MONTH + r"\s*(?P<d>\d{1,2})" + _ORD + r",?\s+" + _YEAR),
)
_MONTH_FORMS: Final = (
    re.compile(_MONTH + r",?[\s\-/.]*(?P<y>\d{4})"),  # Mar 2025, March, 2025
    re.compile(_MONTH + r"\s*(?:-|')\s*(?P<y>\d{2})"),  # Mar-25 (Excel's mmm-yy), March '25
    re.compile(r"(?P<m>\d{1,2})\s*[/.-]\s*(?P<y>\d{4})"),  # 03/2025
    re.compile(r"(?P<y>\d{4})\s*-\s*(?P<m>\d{1,2})"),  # 2025-03
)
_COMPACT = re.compile(r"\d{8}")
_TIME_SUFFIX = re.compile(
    r"(?:[\sT,]+(?:at\s+)?\d{1,2}[:.]\d{2}(?:[:.]\d{2}(?:\.\d+)?)?\s*(?:[ap]\.?m\.?)?"
    r"(?:\s*(?:z|utc|gmt|bst|[+-]\d{2}:?\d{2}))?)$",
    re.IGNORECASE,
)
_APPROX_PREFIX = re.compile(
    r"^(?:\?+|c\.|ca\.|circa\b|approx(?:imately|\.)?|about\b|around\b|est(?:imated|\.)?)\s*",
    re.IGNORECASE,
)
_APPROX_SUFFIX = re.compile(r"\s*(?:\?+|\((?:approx(?:imate)?|est(?:imated)?)\.?\))$", re.IGNORECASE)
_YEAR_ONLY = re.compile(r"(?:19|20)\d{2}s?")
_MIN_YEAR: Final = 1900
_MAX_YEAR: Final = 2100
_EXCEL_EPOCH: Final = dt.date(1899, 12, 30)
# serials for 1910-01-01 and 2100-12-31: a number outside is not read as an Excel date
_SERIAL_MIN: Final = 3654
_SERIAL_MAX: Final = 73415


def excel_serial_to_date(serial: float) -> dt.date:
    """The day an Excel (1900 date system) serial number stands for; a fraction (the time of
    day) is dropped. Excel's fictitious 29 February 1900 (serial 60) raises ValueError."""
    if math.isnan(serial) or serial < 1:
        raise ValueError("an Excel date serial starts at 1")
    day = math.floor(serial)
    if day == 60:
        raise ValueError("Excel serial 60 is the fictitious 29 February 1900")
    if day < 60:
        return dt.date(1899, 12, 31) + dt.timedelta(days=day)
    return _EXCEL_EPOCH + dt.timedelta(days=day)


def _full_year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        return 2000 + year if year < 70 else 1900 + year
    return year


def _make_date(year: int, month: int, day: int, approximate: bool) -> Coerced:
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        return Coerced(None, DATE_PROBLEM)
    try:
        return Coerced(dt.date(year, month, day).isoformat(), None, approximate)
    except ValueError:
        return Coerced(None, DATE_PROBLEM)


def _date_from_number(number: float) -> Coerced:
    if math.isnan(number) or math.isinf(number):
        return Coerced(None, DATE_PROBLEM)
    if float(number).is_integer() and _MIN_YEAR <= number <= _MAX_YEAR:
        return Coerced(None, YEAR_ONLY_PROBLEM)
    if _SERIAL_MIN <= number <= _SERIAL_MAX:
        return Coerced(excel_serial_to_date(number).isoformat())
    return Coerced(None, DATE_PROBLEM)


def parse_date(text_or_value: Raw) -> Coerced:
    """A date as "YYYY-MM-DD" (see the module docstring for the forms read)."""
    raw = text_or_value
    if is_empty(raw):
        return EMPTY
    if isinstance(raw, dt.datetime):
        return _make_date(raw.year, raw.month, raw.day, False)
    if isinstance(raw, dt.date):
        return _make_date(raw.year, raw.month, raw.day, False)
    if isinstance(raw, bool | dt.time):
        return Coerced(None, DATE_PROBLEM)
    if isinstance(raw, int | float):
        return _date_from_number(raw)
    if isinstance(raw, list):
        items = [x for x in raw if not is_empty(x)]
        return parse_date(items[0]) if len(items) == 1 else Coerced(None, DATE_PROBLEM)
    return _parse_date_text(raw)


@functools.lru_cache(maxsize=4096)
def _parse_date_text(raw: str) -> Coerced:
    text = _one_line(raw).lower()
    approximate = False
    stripped = _APPROX_PREFIX.sub("", text, count=1)
    if stripped != text:
        approximate, text = True, stripped
    stripped = _APPROX_SUFFIX.sub("", text, count=1)
    if stripped != text:
        approximate, text = True, stripped
    text = _TIME_SUFFIX.sub("", text, count=1).strip(" ,")
    if not text:
        return Coerced(None, DATE_PROBLEM)
    for form in _DATE_FORMS:
        m = form.fullmatch(text)
        if m:
            groups = m.groupdict()
            month = _MONTHS[groups["mon"]] if groups.get("mon") else int(groups["m"])
            return _make_date(_full_year(groups["y"]), month, int(groups["d"]), approximate)
    for form in _MONTH_FORMS:
        m = form.fullmatch(text)
        if m:
            groups = m.groupdict()
            month = _MONTHS[groups["mon"]] if groups.get("mon") else int(groups["m"])
            return _make_date(_full_year(groups["y"]), month, 1, True)
    if _COMPACT.fullmatch(text):
        return _compact_date(text, approximate)
    if _YEAR_ONLY.fullmatch(text):
        return Coerced(None, YEAR_ONLY_PROBLEM)
    if re.fullmatch(r"\d+(?:\.\d+)?", text):  # a serial number stored as text
        return _date_from_number(float(text))
    return Coerced(None, DATE_PROBLEM)


def _compact_date(text: str, approximate: bool) -> Coerced:
    """20250303 or 03032025: read only when exactly one of the two readings is a date."""
    readings = {
        r.value
        for r in (
            _make_date(int(text[:4]), int(text[4:6]), int(text[6:]), approximate),
            _make_date(int(text[4:]), int(text[2:4]), int(text[:2]), approximate),
        )
        if r.value is not None
    }
    if len(readings) == 1:
        return Coerced(readings.pop(), None, approximate)
    return Coerced(None, DATE_PROBLEM)


# --- times --------------------------------------------------------------------------------
_TIME_FORMS: Final = (
    re.compile(r"(?P<h>\d{1,2})\s*[:.h]\s*(?P<m>\d{2})(?:[:.]\d{2}(?:\.\d+)?)?\s*(?P<ap>[ap])?"),
    re.compile(r"(?P<h>\d{1,2})\s*(?P<ap>[ap])"),
    re.compile(r"(?P<h>\d{1,2})(?P<m>\d{2})"),
)
_TIME_WORDS: Final = {"noon": "12:00", "midday": "12:00", "midnight": "00:00"}


def _hhmm(hour: int, minute: int) -> Coerced:
    if 0 <= hour <= 23 and 0 <= minute <= 59:
        return Coerced(f"{hour:02d}:{minute:02d}")
    return Coerced(None, TIME_PROBLEM)


def parse_time(raw: Raw) -> Coerced:
    """A time of day as "HH:MM" (24 hour): "14:30", "2.30pm", "14.30", "1430", "2pm",
    a ``datetime.time``, or an Excel day fraction (0.604166… is 14:30)."""
    if is_empty(raw):
        return EMPTY
    if isinstance(raw, dt.datetime | dt.time):
        return _hhmm(raw.hour, raw.minute)
    if isinstance(raw, bool | dt.date):
        return Coerced(None, TIME_PROBLEM)
    if isinstance(raw, int) or (isinstance(raw, float) and raw.is_integer() and raw >= 1):
        number = int(raw)
        return _hhmm(number // 100, number % 100) if 0 <= number <= 2359 else Coerced(None, TIME_PROBLEM)
    if isinstance(raw, float):
        if math.isnan(raw) or raw < 0:
            return Coerced(None, TIME_PROBLEM)
        minutes = round((raw % 1) * 24 * 60)
        return _hhmm(*divmod(minutes, 60)) if minutes < 24 * 60 else Coerced("00:00")
    if isinstance(raw, list):
        items = [x for x in raw if not is_empty(x)]
        return parse_time(items[0]) if len(items) == 1 else Coerced(None, TIME_PROBLEM)
    if not isinstance(raw, str):
        return Coerced(None, TIME_PROBLEM)
    text = _one_line(raw).lower().replace(".m.", "m").replace(".m", "m")
    approximate = False
    stripped = _APPROX_PREFIX.sub("", text, count=1)
    if stripped != text:
        approximate, text = True, stripped
    text = re.sub(r"\s*(?:hrs?|hours|m)$", "", text).strip()
    if text in _TIME_WORDS:
        return Coerced(_TIME_WORDS[text], None, approximate)
    for form in _TIME_FORMS:
        m = form.fullmatch(text)
        if m:
            groups = m.groupdict()
            hour, minute = int(groups["h"]), int(groups.get("m") or 0)
            ap = groups.get("ap")
            if ap:
                if not 1 <= hour <= 12:
                    return Coerced(None, TIME_PROBLEM)
                hour = hour % 12 + (12 if ap == "p" else 0)
            result = _hhmm(hour, minute)
            return Coerced(result.value, result.problem, approximate and result.problem is None)
    return Coerced(None, TIME_PROBLEM)


# --- email and phone ----------------------------------------------------------------------
_EMAIL = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~.-]+@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}")
_ANGLE = re.compile(r"<([^<>]*)>")


def _email(text: str) -> Coerced:
    address = _one_line(text)
    angled = _ANGLE.search(address)
    if angled:  # "A Person <a.person@example.org>"
        address = angled.group(1).strip()
    address = re.sub(r"^mailto:", "", address, flags=re.IGNORECASE).strip().rstrip(".,;").lower()
    local = address.split("@", 1)[0]
    if _EMAIL.fullmatch(address) and not local.startswith(".") and not local.endswith(".") and ".." not in address:
        return Coerced(address)
    return Coerced(None, EMAIL_PROBLEM)


_PHONE_CHARS = re.compile(r"[0-9+()\s.\-/]+")
_EXTENSION = re.compile(r"\s*(?:ext\.?|extension|x)\s*\d{1,6}$", re.IGNORECASE)


def _phone(text: str) -> Coerced:
    shown = _one_line(text)
    body = _EXTENSION.sub("", shown)
    if not _PHONE_CHARS.fullmatch(body) or body.count("+") > 1 or ("+" in body and not body.startswith("+")):
        return Coerced(None, PHONE_PROBLEM)
    digits = re.sub(r"\D", "", body.replace("(0)", ""))
    if body.startswith("+44") or digits.startswith("0044"):
        digits = "0" + digits[2:] if body.startswith("+") else "0" + digits[4:]
    elif body.startswith("+") or digits.startswith("00"):  # outside the UK: E.164 allows 15
        count = len(digits.lstrip("0"))
        if count < 7:
            return Coerced(None, PHONE_FEW)
        return Coerced(shown) if count <= 15 else Coerced(None, PHONE_MANY)
    if len(digits) < 10:
        return Coerced(None, PHONE_FEW)
    if len(digits) > 11:
        return Coerced(None, PHONE_MANY)
    if not digits.startswith("0"):
        return Coerced(None, PHONE_PROBLEM)
    return Coerced(shown)


# --- ticks, yes/no, choices ---------------------------------------------------------------
_TICKED_WORDS: Final = frozenset({"yes", "y", "true", "ticked", "checked", "selected"})
_UNTICKED_WORDS: Final = frozenset({"no", "n", "false", "unticked", "unchecked"})
_TICK_SYMBOLS: Final = "☒☑✓✔✅⊠🗹🗷"
_UNTICK_SYMBOLS: Final = "☐□▢❏❑❒⬜◻"
_CROSS_SYMBOLS: Final = "✗✘❌❎"
_MARK = re.compile(
    r"(?P<tick>[\[(]\s*[xX✓✔]\s*[\])]|[" + _TICK_SYMBOLS + r"]|(?<![^\s\[(:|-])[xX](?![^\s\]).,;:|-]))"
    r"|(?P<untick>[\[(]\s*[\])]|[" + _UNTICK_SYMBOLS + r"])"
    r"|(?P<cross>[" + _CROSS_SYMBOLS + r"])"
    r"|(?P<yes>(?<![A-Za-z0-9])yes(?![A-Za-z0-9]))"
    r"|(?P<no>(?<![A-Za-z0-9])no(?![A-Za-z0-9]))",
    re.IGNORECASE,
)
_GAP = re.compile(r"[\s:;,.\-=|/>]*")


def parse_tick(text: str) -> bool | None:
    """A single tick box's text: "☒ ☑ ✓ ✔ X [x] (x) Yes" -> True, "☐ [ ] ( ) No" -> False,
    anything else (a cross ✗ included) -> None."""
    t = _one_line(text).lower().rstrip(".!")
    if not t:
        return None
    if t in _TICKED_WORDS or t in ("x", "[x]", "(x)", "[✓]", "[✔]") or (len(t) == 1 and t in _TICK_SYMBOLS):
        return True
    if t in _UNTICKED_WORDS or re.fullmatch(r"\[\s*\]|\(\s*\)", t) or (len(t) == 1 and t in _UNTICK_SYMBOLS):
        return False
    return None


def option_key(text: str) -> str:
    """How options are compared: case, punctuation, spacing and quotes ignored, "&" is "and"."""
    return _option_key(text)


@functools.lru_cache(maxsize=8192)
def _option_key(text: str) -> str:
    t = _clean(text).lower().replace("&", " and ").replace("'", "").replace('"', "")
    return re.sub(r"[\W_]+", " ", t).strip()


@functools.lru_cache(maxsize=1024)
def _option_pattern(option: str) -> re.Pattern[str] | None:
    words = re.findall(r"[^\W_]+", option.replace("'", "").replace("\u2019", "").lower())
    if not words:
        return None
    # apostrophes may or may not be typed inside a word ("Coroner's" / "Coroners")
    parts = ["['\u2019]?".join(re.escape(ch) for ch in w) for w in words]
    return re.compile(r"(?<![^\W_])" + r"[^\w☒☑✓✔☐□]*".join(parts) + r"(?![^\W_])", re.IGNORECASE)


def _scan(text: str, options: Sequence[str]) -> tuple[dict[str, bool | None], bool] | None:
    """Each option found in ``text`` with its state (True ticked, False unticked, None no
    mark beside it), and whether any cross was seen; None when the text has no marks."""
    found: list[tuple[int, int, str]] = []
    for option in options:
        pattern = _option_pattern(option)
        if pattern is not None:
            found.extend((m.start(), m.end(), option) for m in pattern.finditer(text))
    # a shorter option inside a longer one ("Other" in "Other ethnic group") is not itself
    found.sort(key=lambda f: (f[0], -(f[1] - f[0])))
    spans: list[tuple[int, int, str]] = []
    for start, end, option in found:
        if spans and start < spans[-1][1]:
            continue
        spans.append((start, end, option))
    marks: list[tuple[int, int, str]] = []
    cursor = 0
    for start, end, _ in [*spans, (len(text), len(text), "")]:
        for m in _MARK.finditer(text, cursor, start):
            kind = m.lastgroup or ""
            marks.append((m.start(), m.end(), kind))
        cursor = max(cursor, end)
    if not any(kind in ("tick", "untick", "cross") for _, _, kind in marks) and not (
        spans and any(kind in ("yes", "no") for _, _, kind in marks)
    ):
        return None
    crossed = any(kind == "cross" for _, _, kind in marks)

    def pair(before: bool) -> dict[int, str]:
        """option span index -> mark kind, each mark used once, adjacent only."""
        taken: dict[int, str] = {}
        used: set[int] = set()
        for i, (start, end, _) in enumerate(spans):
            for j, (m_start, m_end, kind) in enumerate(marks):
                if j in used:
                    continue
                gap = text[m_end:start] if before else text[end:m_start]
                if (m_end <= start if before else m_start >= end) and _GAP.fullmatch(gap):
                    taken[i] = kind
                    used.add(j)
                    break
        return taken

    def same_line(taken: dict[int, str], before: bool) -> int:
        """How many pairs have their mark on the option's own line ("Option: Yes")."""
        count = 0
        for i in taken:
            start, end, _ = spans[i]
            near = text[max(0, start - 12) : start] if before else text[end : end + 12]
            line = near.rsplit("\n", 1)[-1] if before else near.split("\n", 1)[0]
            count += any(m.start() >= 0 for m in _MARK.finditer(line))
        return count

    before, after = pair(True), pair(False)
    # more pairs wins; on a tie the reading with more marks on their option's own line
    # ("Police investigation: Yes" on separate lines), then before, as templates print it
    rank_before = (len(before), same_line(before, True))
    rank_after = (len(after), same_line(after, False))
    chosen = before if rank_before >= rank_after else after
    states: dict[str, bool | None] = {}
    for i, (_, _, option) in enumerate(spans):
        paired = chosen.get(i)
        state = True if paired in ("tick", "yes") else (False if paired is not None else None)
        if states.get(option) is not True:
            states[option] = state
    return states, crossed


def ticked_options(text: str, options: Sequence[str]) -> list[str] | None:
    """The options ticked in ``text`` where the options are printed beside tick marks
    ("☐ Female ☒ Male", "Yes [x]  No [ ]", "Police investigation: Yes"), in the order of
    ``options``; [] when marks are shown but none is ticked; None when the text shows no
    tick marks at all. A mark stands immediately before or after its option (the reading
    that pairs more options with marks wins; before, as the templates print it, on a tie)."""
    scanned = _scan(_clean(text), options)
    if scanned is None:
        return None
    states, _ = scanned
    return [o for o in options if states.get(o) is True]


def _match_option(text: str, choices: Sequence[str]) -> str | None:
    key = _option_key(text)
    if not key:
        return None
    hits = [c for c in choices if _option_key(c) == key]
    return hits[0] if len(hits) == 1 else None


def _not_an_option(choices: Sequence[str]) -> str:
    return "not one of the options: " + ", ".join(choices)


def _ticks_for(text: str, choices: Sequence[str]) -> tuple[list[str], bool] | None:
    scanned = _scan(_clean(text), choices)
    if scanned is None:
        return None
    states, crossed = scanned
    return [o for o in choices if states.get(o) is True], crossed


def _choice(text: str, choices: Sequence[str]) -> Coerced:
    exact = _match_option(text, choices)
    if exact is not None:
        return Coerced(exact)
    ticks = _ticks_for(text, choices)
    if ticks is not None:
        ticked, crossed = ticks
        if len(ticked) == 1:
            return Coerced(ticked[0])
        if len(ticked) > 1:
            return Coerced(None, BOTH_TICKED)
        return Coerced(None, CROSS_PROBLEM) if crossed else EMPTY
    return Coerced(None, _not_an_option(choices))


def _yesno(raw: Raw) -> Coerced:
    if isinstance(raw, bool):
        return Coerced(raw)
    if isinstance(raw, int | float) and raw in (0, 1):
        return Coerced(bool(raw))
    if isinstance(raw, list):
        items = [x for x in raw if not is_empty(x)]
        return _yesno(items[0]) if len(items) == 1 else Coerced(None, YESNO_PROBLEM)
    if not isinstance(raw, str):
        return Coerced(None, YESNO_PROBLEM)
    tick = parse_tick(raw)
    if tick is not None:
        return Coerced(tick)
    text = _one_line(raw)
    # "Yes - see section 5", "No." : a leading answer followed by punctuation
    lead = re.match(r"(yes|no)\b\s*(?:[,.;:(\-]|$)", text, re.IGNORECASE)
    if lead:
        return Coerced(lead.group(1).lower() == "yes")
    ticks = _ticks_for(text, ("Yes", "No"))
    if ticks is not None:
        ticked, crossed = ticks
        if len(ticked) == 1:
            return Coerced(ticked[0] == "Yes")
        if len(ticked) > 1:
            return Coerced(None, BOTH_TICKED)
        return Coerced(None, CROSS_PROBLEM) if crossed else EMPTY
    return Coerced(None, YESNO_PROBLEM)


_LIST_SPLIT = re.compile(r"\s*(?:\n|;|•|·|▪|◦|\u2023)\s*")
_BULLET = re.compile(r"^(?:[-*•·▪◦>]+|\(?\d{1,2}[.)]|\(?[a-z][.)])\s+", re.IGNORECASE)


def _checkbox_items(items: Sequence[str], choices: Sequence[str]) -> Coerced:
    chosen: set[str] = set()
    unknown = 0
    for raw_item in items:
        item = _BULLET.sub("", _one_line(raw_item))
        if is_empty(item):
            continue
        hit = _match_option(item, choices)
        if hit is not None:
            chosen.add(hit)
            continue
        parts = [p for p in item.split(",") if not is_empty(p)]
        hits = [_match_option(p, choices) for p in parts]
        if parts and all(h is not None for h in hits):
            chosen.update(h for h in hits if h is not None)
        else:
            unknown += 1
    if unknown:
        return Coerced(None, _not_an_option(choices))
    return Coerced([c for c in choices if c in chosen] or None)


def _checkboxes(raw: Raw, choices: Sequence[str]) -> Coerced:
    if isinstance(raw, list):
        return _checkbox_items(raw, choices)
    if not isinstance(raw, str):
        return Coerced(None, _not_an_option(choices))
    ticks = _ticks_for(raw, choices)
    if ticks is not None:
        ticked, crossed = ticks
        if ticked:
            return Coerced(ticked)
        return Coerced(None, CROSS_PROBLEM) if crossed else EMPTY
    return _checkbox_items(_LIST_SPLIT.split(_clean(raw)), choices)


# --- references and numbers ---------------------------------------------------------------
@functools.lru_cache(maxsize=16)
def _case_ref_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(
        r"(?<![^\W_])" + re.escape(prefix) + r"[\s\-/_.:#]*((?:19|20)\d{2})[\s\-/_.]*(\d{1,4})(?!\d)",
        re.IGNORECASE,
    )


def find_case_references(text: str, prefix: str = "SSCP") -> list[str]:
    """Case references in ``text``, normalised ("sscp 2026 7" -> "SSCP-2026-007"), in order
    of first appearance, each once."""
    seen: dict[str, None] = {}
    for m in _case_ref_pattern(prefix).finditer(_clean(text)):
        seen.setdefault(f"{prefix.upper()}-{m.group(1)}-{int(m.group(2)):03d}")
    return list(seen)


def _case_ref(text: str, prefix: str) -> Coerced:
    found = find_case_references(text, prefix)
    if len(found) == 1:
        return Coerced(found[0])
    if len(found) > 1:
        return Coerced(None, CASE_REF_MANY)
    return Coerced(None, f"not a case reference we can read; use {prefix.upper()}-YYYY-NNN")


def nhs_check_digit(nine_digits: str) -> int | None:
    """The Modulus 11 check digit of the first nine digits; None when none is possible (10)."""
    total = sum(int(d) * w for d, w in zip(nine_digits, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def _nhs(raw: Raw) -> Coerced:
    if isinstance(raw, bool):
        return Coerced(None, NHS_LENGTH)
    if isinstance(raw, float):
        if not raw.is_integer():
            return Coerced(None, NHS_LENGTH)
        raw = int(raw)
    if isinstance(raw, int):
        text = f"{raw:010d}" if 0 <= raw < 10**10 else str(raw)
    elif isinstance(raw, str):
        text = re.sub(r"[\s\-.]", "", _clean(raw))
    else:
        return Coerced(None, NHS_LENGTH)
    if not re.fullmatch(r"\d{10}", text):
        return Coerced(None, NHS_LENGTH)
    if nhs_check_digit(text[:9]) != int(text[9]):
        return Coerced(None, NHS_CHECK)
    return Coerced(text)


def _integer(raw: Raw) -> Coerced:
    if isinstance(raw, bool):
        return Coerced(None, INTEGER_PROBLEM)
    if isinstance(raw, int):
        return Coerced(raw)
    if isinstance(raw, float):
        return Coerced(int(raw)) if raw.is_integer() else Coerced(None, INTEGER_PROBLEM)
    if isinstance(raw, str):
        text = _one_line(raw)
        m = re.fullmatch(r"([+-]?)(\d{1,3}(?:,\d{3})+|\d+)(?:\.0+)?", text)
        if m:
            return Coerced(int(m.group(1) + m.group(2).replace(",", "")))
    return Coerced(None, INTEGER_PROBLEM)


# --- text ---------------------------------------------------------------------------------
def _as_text(raw: Raw) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool):
        return "Yes" if raw else "No"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, dt.datetime):
        return raw.date().isoformat() if raw.time() == dt.time() else raw.isoformat(" ", "minutes")
    if isinstance(raw, dt.time):
        return raw.strftime("%H:%M")
    if isinstance(raw, list):
        return "\n".join(raw)
    return str(raw)


def _longtext(raw: Raw) -> str:
    # each line's runs of whitespace made one space and its ends stripped: the same as
    # _SPACE_RUNS.sub(" ", line).strip() (a line holds no "\n"), several times faster
    text = _clean(_as_text(raw))
    if "\n" not in text:  # one line (a typed answer mostly is): the same, without generators
        line = _single_spaced(text)
        return line if line and not is_empty(line) else ""
    lines = (_single_spaced(line) for line in text.split("\n"))
    return "\n".join(line for line in lines if line and not is_empty(line))


# --- the entry point ----------------------------------------------------------------------
def coerce(
    type_: FieldType,
    raw: Raw,
    *,
    choices: Sequence[str] = (),
    agencies: AgencyRegistry | None = None,
    case_prefix: str = "SSCP",
) -> Coerced:
    """The normalised value of ``raw`` read as a field of type ``type_``.

    Empty (see :func:`is_empty`) gives ``Coerced(None)`` for every type. ``choices`` are the
    options of a choice or checkboxes field; ``agencies`` matches agency fields;
    ``case_prefix`` is the configured case reference prefix. A "table" is not a scalar and
    raises ValueError (readers coerce its cells by column type)."""
    if type_ == "table":
        raise ValueError("a table is read cell by cell, by column type")
    if is_empty(raw):
        return EMPTY
    if type_ == "text":
        return Coerced(_one_line(_as_text(raw)) or None)
    if type_ == "longtext":
        return Coerced(_longtext(raw) or None)
    if type_ == "date":
        return parse_date(raw)
    if type_ == "time":
        return parse_time(raw)
    if type_ == "yesno":
        return _yesno(raw)
    if type_ == "checkboxes":
        return _checkboxes(raw, choices)
    if type_ == "integer":
        return _integer(raw)
    if type_ == "nhs_number":
        return _nhs(raw)
    text = _one_line(_as_text(raw))
    if type_ == "choice":
        return _choice(text, choices)
    if type_ == "email":
        return _email(text)
    if type_ == "phone":
        return _phone(text)
    if type_ == "case_ref":
        return _case_ref(text, case_prefix)
    if type_ == "agency":
        if agencies is None:
            return Coerced(None, NO_AGENCIES)
        found = agencies.match(text)
        return Coerced(found) if found is not None else Coerced(None, AGENCY_PROBLEM)
    raise ValueError(f"unknown field type {type_!r}")
