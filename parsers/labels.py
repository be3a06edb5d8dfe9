"""Recognising labels, section headings, column headers and form titles in returned documents.

Pure and cheap: a :class:`FieldMatcher` is built once per form version and answers each
label with a dict lookup when the label is exact (after :func:`normalise_label`), and with a
small weighted token-set comparison over *this form's* labels otherwise.

How a fuzzy match is decided (spec/forms.md "Reading returned documents"):

- Labels become token sets: stop-words dropped ("the", "of", "your", "please", ...), a plural
  or possessive "s" dropped, a few abbreviations expanded ("DOB", "tel", "no.", "ref").
- Tokens are weighted by how rare they are among the form's fields: a word used by many
  labels ("date", "name") counts for less than one used by a single field ("birth").
  A word unknown to the form counts half.
- The score is the weighted Jaccard similarity, best over a field's label and aliases. It
  must reach :data:`THRESHOLD`, and the runner-up must trail by :data:`MARGIN`, else the
  answer is None: a near-tie is never guessed. A label whose words all appear in the labels
  of two or more fields ("Name", "Role", "Period covered") is ambiguous: None. Short labels
  are resolved by section only through the catalogue's ``section_aliases``.
- A label that says "date" (or "time") is only compared with date (time) fields, and the
  words it shares only with other kinds of field ("Date of *event*") are read as context.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from core.catalogue.schema import Column, FormDef

__all__ = [
    "MARGIN",
    "THRESHOLD",
    "FieldMatcher",
    "LabelMatch",
    "form_title_score",
    "label_tokens",
    "normalise_label",
]

#: the least weighted-Jaccard score a fuzzy match needs
THRESHOLD: Final = 0.5
#: how far the runner-up must trail the best fuzzy candidate
MARGIN: Final = 0.1
#: labels longer than this many tokens are sentences, not labels: no fuzzy match
_MAX_TOKENS: Final = 16
_UNKNOWN_WEIGHT: Final = 0.5

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
                         "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"'})  # fmt: skip
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_BRACKETED = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
_NUMBERING = re.compile(r"^\s*\(?(?:q\s*\d+[a-z]?|\d+(?:\.\d+)*[a-z]?)(?:[.):]+\s*|\s+)")
_LETTERING = re.compile(r"^\s*\(?(?:[a-h]|i{1,3}|iv|vi{0,3}|ix|x)[.)]\s+")
_INITIALS = re.compile(r"(?<=\b[a-z])\.(?=[a-z]\b)")  # d.o.b. -> dob.
_NON_WORD = re.compile(r"[\W_]+")


@functools.lru_cache(maxsize=8192)
def normalise_label(text: str) -> str:
    """A label as compared: lower-case; quotes and apostrophes dropped; "&" is "and"; a
    bracketed hint removed ("Date of birth (dd/mm/yyyy)" -> "date of birth"); leading
    numbering ("1.", "2)", "a)", "Q3") removed; punctuation (a trailing ":" or "*" too)
    becomes spaces; whitespace collapsed."""
    t = text.translate(_INVISIBLE).translate(_QUOTES).casefold()
    t = t.replace("'", "").replace('"', "").replace("&", " and ")
    unbracketed = _BRACKETED.sub(" ", t)
    if _NON_WORD.sub("", unbracketed):
        t = unbracketed
    t = _INITIALS.sub("", t)
    for _ in range(2):  # "1. a) Name"
        t = _LETTERING.sub("", _NUMBERING.sub("", t))
    return _NON_WORD.sub(" ", t).strip()


def _with_brackets(text: str) -> str:
    """The label with a bracketed part kept as words ("Approved by (name)" -> "approved by name")."""
    t = _BRACKETED.sub(lambda m: " " + m.group(0)[1:-1] + " ", text)
    return normalise_label(t)


_STOP: Final = frozenset(
    ("the", "of", "a", "an", "your", "please", "enter", "this", "these", "here", "is", "are", "was", "were",
     "and", "or", "any", "give", "provide", "insert", "type", "write")
)  # fmt: skip
_EXPAND: Final = {
    "dob": ("date", "birth"),
    "dod": ("date", "death"),
    "tel": ("phone",),
    "telephone": ("phone",),
    "mobile": ("phone",),
    "e": (),  # "e mail"
    "mail": ("email",),
    "no": ("number",),
    "num": ("number",),
    "ref": ("reference",),
    "organization": ("organisation",),
    "signature": ("signed",),
    "sign": ("signed",),
    "approval": ("approved",),
    "approver": ("approved",),
}


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith("sses"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


@functools.lru_cache(maxsize=8192)
def label_tokens(key: str) -> frozenset[str]:
    """The token set of a normalised label, as fuzzy matching compares it."""
    out: set[str] = set()
    for word in key.split():
        if word in _STOP:
            continue
        stem = _stem(word)
        out.update(_EXPAND.get(stem, _EXPAND.get(word, (stem,))))
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class LabelMatch:
    field_id: str
    score: float  # 1.0 exact (label, alias or section alias); lower for fuzzy
    exact: bool


_TYPE_HINTS: Final = (("date", "date"), ("time", "time"))
#: small words that tell two otherwise equal labels apart ("Period covered from" / "... to"):
#: they keep their full weight however many labels use them
_KEY_WORDS: Final = frozenset({"from", "to", "start", "end", "before", "after", "by", "on"})


class _Index:
    """Exact keys and token sets of a set of labelled things (fields, columns, sections)."""

    __slots__ = ("_exact", "_kinds", "_sets", "_vocab_of_kind", "_weights")

    def __init__(self, entries: Iterable[tuple[str, str, Sequence[str]]]) -> None:
        self._exact: dict[str, set[str]] = {}
        self._sets: list[tuple[str, frozenset[str]]] = []
        self._kinds: dict[str, str] = {}
        per_id: dict[str, set[str]] = {}
        for ident, kind, labels in entries:
            self._kinds[ident] = kind
            for label in labels:
                for key in {normalise_label(label), _with_brackets(label)}:
                    if key:
                        self._exact.setdefault(key, set()).add(ident)
                        tokens = label_tokens(key)
                        if tokens:
                            self._sets.append((ident, tokens))
                            per_id.setdefault(ident, set()).update(tokens)
        frequency: dict[str, int] = {}
        for id_tokens in per_id.values():
            for t in id_tokens:
                frequency[t] = frequency.get(t, 0) + 1
        self._weights = {t: 1.0 if t in _KEY_WORDS else 1.0 / n for t, n in frequency.items()}
        self._vocab_of_kind: dict[str, set[str]] = {}
        for ident, id_tokens in per_id.items():
            self._vocab_of_kind.setdefault(self._kinds[ident], set()).update(id_tokens)

    def exact(self, key: str) -> set[str]:
        return self._exact.get(key, set())

    def fuzzy(self, key: str) -> list[tuple[float, str]]:
        """(score, id) for every candidate, best first, each id once."""
        tokens = label_tokens(key)
        if not tokens or len(tokens) > _MAX_TOKENS:
            return []
        kind: str | None = None
        for hint, hinted_kind in _TYPE_HINTS:
            if hint in tokens:
                kind = hinted_kind
                break
        if kind is not None:
            own = self._vocab_of_kind.get(kind, set())
            # words only other kinds of field use are context ("Date of event")
            tokens = frozenset(t for t in tokens if t in own or t not in self._weights)
        weights = self._weights
        best: dict[str, float] = {}
        containing: set[str] = set()
        for ident, label in self._sets:
            if kind is not None and self._kinds[ident] != kind:
                continue
            if any(hint in label and hint not in tokens for hint, _ in _TYPE_HINTS):
                continue  # "Incident" is not "Date of incident"
            common = tokens & label
            if not common:
                continue
            if common == tokens:
                containing.add(ident)
            inter = sum(weights.get(t, _UNKNOWN_WEIGHT) for t in common)
            union = inter + sum(weights.get(t, _UNKNOWN_WEIGHT) for t in tokens ^ label)
            score = inter / union
            if score > best.get(ident, 0.0):
                best[ident] = score
        if len(containing) > 1:
            # words dropped from several fields' labels ("Role": author's or manager's?)
            return [(1.0, i) for i in sorted(containing)]
        return sorted(((s, i) for i, s in best.items()), reverse=True)


def _decide(scored: list[tuple[float, str]]) -> tuple[float, str] | None:
    """The best candidate if it is good enough and clear of the runner-up, else None."""
    if not scored or scored[0][0] < THRESHOLD:
        return None
    best_score = scored[0][0]
    close = [(s, i) for s, i in scored if s > best_score - MARGIN]
    return close[0] if len(close) == 1 else None


def _fuzzy_score(score: float) -> float:
    return round(min(score, 0.99), 3)


_SECTION_WORD = re.compile(r"^\s*(?:section|part|step)\s*(?:\d+(?:\.\d+)*|[a-z]\b|[ivx]+\b)?\s*[.:)\-]*\s*", re.I)
_LEADING_NUMBER = re.compile(r"^\s*(?:section|part|step)?\s*(\d+)(?:[\s.:)\-]|$)", re.I)


class FieldMatcher:
    """Recognises one form version's labels, section headings and column headers."""

    def __init__(self, form: FormDef) -> None:
        self.form = form
        self._in_section: dict[str, set[str]] = {}
        for f in form.fields:
            self._in_section.setdefault(f.section, set()).add(f.id)
        self._fields = _Index((f.id, f.type, f.all_labels) for f in form.fields)
        self._section_aliases: dict[tuple[str, str], set[str]] = {}
        for f in form.fields:
            for alias in f.section_aliases:
                for key in {normalise_label(alias), _with_brackets(alias)}:
                    self._section_aliases.setdefault((f.section, key), set()).add(f.id)
        self._sections = _Index(
            (s.id, "section", (s.title, *s.aliases, _SECTION_WORD.sub("", s.title))) for s in form.sections
        )
        self._section_numbers: dict[str, str] = {}
        for s in form.sections:
            m = _LEADING_NUMBER.match(s.title)
            if m:
                self._section_numbers.setdefault(m.group(1), s.id)
        self._cache: dict[tuple[str, str | None], LabelMatch | None] = {}
        self._column_indexes: dict[tuple[tuple[str, str, str, tuple[str, ...]], ...], _Index] = {}
        self._column_cache: dict[tuple[object, str], str | None] = {}
        #: id(columns) -> (columns, their signature, text -> answer): a reader asks about
        #: the same column tuple of the form many times; the tuple is kept so its id is not
        #: reused, and its answers are looked up without hashing the signature
        self._signatures: dict[
            int,
            tuple[Sequence[Column], tuple[tuple[str, str, str, tuple[str, ...]], ...], dict[str, str | None]],
        ] = {}
        self._section_cache: dict[str, str | None] = {}

    # -- fields ------------------------------------------------------------------------------
    def match(self, text: str, section: str | None = None) -> LabelMatch | None:
        """The field a label names, or None. Exact label or alias first; a field's
        section aliases ("Date") only when ``section`` is that field's section; otherwise
        a fuzzy match (see the module docstring)."""
        cache_key = (text, section)
        try:
            return self._cache[cache_key]
        except KeyError:
            pass
        found = self._match(text, section)
        if len(self._cache) < 20_000:
            self._cache[cache_key] = found
        return found

    def _match(self, text: str, section: str | None) -> LabelMatch | None:
        key = normalise_label(text)
        if not key:
            return None
        keys = [key]
        bracketed = _with_brackets(text)
        if bracketed != key:
            keys.append(bracketed)
        in_section = self._in_section.get(section, set()) if section else set()
        for k in keys:
            if section is not None:
                ids = self._section_aliases.get((section, k), set())
                if len(ids) == 1:
                    return LabelMatch(next(iter(ids)), 1.0, True)
            ids = self._fields.exact(k)
            if len(ids) == 1:
                return LabelMatch(next(iter(ids)), 1.0, True)
            if len(ids) > 1:
                local = ids & in_section
                if len(local) == 1:
                    return LabelMatch(next(iter(local)), 1.0, True)
                return None
        best: tuple[float, str] | None = None
        for k in keys:
            found = _decide(self._fields.fuzzy(k))
            if found is not None and (best is None or found[0] > best[0]):
                best = found
        if best is None:
            return None
        return LabelMatch(best[1], _fuzzy_score(best[0]), False)

    def split_label_value(self, text: str, section: str | None = None) -> tuple[LabelMatch, str] | None:
        """("Date of birth: 03/03/2015") -> (the match for child_dob, "03/03/2015"), when the
        part before the first colon (outside brackets) or tab names a field; else None."""
        depth = 0
        for i, ch in enumerate(text):
            if ch in "([":
                depth += 1
            elif ch in ")]":
                depth = max(0, depth - 1)
            elif (ch == ":" and depth == 0) or ch == "\t":
                label = text[:i]
                if not normalise_label(label):
                    return None
                found = self.match(label, section)
                return None if found is None else (found, text[i + 1 :].strip())
        return None

    # -- sections ----------------------------------------------------------------------------
    def match_section(self, text: str) -> str | None:
        """The section a heading names ("Section 3: Incident", "3. Incident", an alias),
        or None."""
        try:
            return self._section_cache[text]
        except KeyError:
            pass
        found = self._match_section(text)
        if len(self._section_cache) < 20_000:
            self._section_cache[text] = found
        return found

    def _match_section(self, text: str) -> str | None:
        rest = _SECTION_WORD.sub("", text)
        for candidate in (text, rest):
            key = normalise_label(candidate)
            if key:
                ids = self._sections.exact(key)
                if len(ids) == 1:
                    return next(iter(ids))
        key = normalise_label(rest)
        if not key:  # "Section 3" alone
            number = _LEADING_NUMBER.match(text)
            return self._section_numbers.get(number.group(1)) if number else None
        found = _decide(self._sections.fuzzy(key))
        return None if found is None else found[1]

    # -- columns -----------------------------------------------------------------------------
    def match_column(self, text: str, columns: Sequence[Column]) -> str | None:
        """The column a header cell names (label, alias, or a clear fuzzy match), or None."""
        known = self._signatures.get(id(columns))
        answers: dict[str, str | None] | None = None
        if known is not None and known[0] is columns:
            signature, answers = known[1], known[2]
            try:
                return answers[text]
            except KeyError:
                pass
        else:
            signature = tuple((c.id, c.type, c.label, c.aliases) for c in columns)
            if isinstance(columns, tuple) and len(self._signatures) < 256:
                answers = {}
                self._signatures[id(columns)] = (columns, signature, answers)
        index = self._column_indexes.get(signature)
        if index is None:
            index = _Index((c.id, c.type, (c.label, *c.aliases)) for c in columns)
            self._column_indexes[signature] = index
        cache_key = (signature, text)
        if cache_key in self._column_cache:
            found = self._column_cache[cache_key]
            if answers is not None and len(answers) < 20_000:
                answers[text] = found
            return found
        found = _match_in(index, text)
        if len(self._column_cache) < 20_000:
            self._column_cache[cache_key] = found
        if answers is not None and len(answers) < 20_000:
            answers[text] = found
        return found


def _match_in(index: _Index, text: str) -> str | None:
    key = normalise_label(text)
    if not key:
        return None
    keys = [key]
    bracketed = _with_brackets(text)
    if bracketed != key:
        keys.append(bracketed)
    for k in keys:
        ids = index.exact(k)
        if len(ids) == 1:
            return next(iter(ids))
        if ids:
            return None
    for k in keys:
        found = _decide(index.fuzzy(k))
        if found is not None:
            return found[1]
    return None


_TITLE_STOP: Final = _STOP | {"form", "template", "proforma", "pro", "forma", "version"}


def _title_tokens(text: str) -> frozenset[str]:
    return frozenset(t for t in label_tokens(normalise_label(text)) if t not in _TITLE_STOP and not t.isdigit())


def form_title_score(text: str, form: FormDef) -> float:
    """How well a heading or title names this form, 0.0 to 1.0: 1.0 for the title or a
    title alias (normalised, "Form" ignored); 0.9 down to 0.7 when the text holds every word
    of one and adds a few (a partnership's name, a year); otherwise a scaled token overlap
    (at most 0.85)."""
    words = _title_tokens(text)
    if not words:
        return 0.0
    best = 0.0
    for title in (form.form.title, *form.form.title_aliases):
        tokens = _title_tokens(title)
        if not tokens:
            continue
        if tokens == words:
            return 1.0
        if tokens <= words:
            score = max(0.7, 0.9 - 0.02 * len(words - tokens))
        else:
            score = 0.85 * len(tokens & words) / len(tokens | words)
        best = max(best, score)
    return best
