"""Which form (and version) a returned document is.

The template's custom properties first (TemplateId / TemplateVersion); failing those, the
headings and the labels: each form is scored by its title and by the share of its fields
whose labels appear in the document; the best above a threshold wins, else None (the
validators then raise DOC-UNKNOWN). A chronology is recognised by its event column headings,
which must stand together in one row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from core.catalogue import Catalogue, FormDef
from parsers.labels import FieldMatcher, form_title_score

IdentifiedBy = Literal["properties", "labels"]

PROP_ID = "TemplateId"
PROP_VERSION = "TemplateVersion"

#: a form is chosen by its labels when at least this share of its fields was found ...
MIN_SHARE = 0.25
#: ... or when its title is printed and at least this share was found
MIN_SHARE_WITH_TITLE = 0.1
TITLE_SCORE = 0.8
#: event columns that must appear in one row for a chronology sent as a Word table
MIN_EVENT_COLUMNS = 3
#: only texts this short can be labels (longer ones are values or guidance)
MAX_LABEL_CHARS = 120
#: only this many texts from the top are tried as a title
TITLE_TEXTS = 12

_matchers: dict[tuple[str, str, int], FieldMatcher] = {}


def matcher_for(form: FormDef) -> FieldMatcher:
    """A FieldMatcher for the form, built once per form definition."""
    key = (form.id, form.version, id(form))
    found = _matchers.get(key)
    if found is None:
        found = FieldMatcher(form)
        _matchers[key] = found
    return found


def by_properties(props: dict[str, str], catalogue: Catalogue) -> FormDef | None:
    """The form the template properties name; an unknown version of a known form is read
    with the form's current version (the validators judge the version)."""
    form_id = props.get(PROP_ID, "").strip()
    if not form_id:
        return None
    version = props.get(PROP_VERSION, "").strip() or None
    found = catalogue.find(form_id, version)
    if found is None and version is not None:
        found = catalogue.find(form_id, None)
    return found


def identify(
    props: dict[str, str],
    texts: Sequence[str],
    catalogue: Catalogue,
    rows: Sequence[Sequence[str]] = (),
) -> tuple[FormDef | None, IdentifiedBy | None]:
    """(form, how it was identified), or (None, None) when the document is no known form.

    ``texts``: the document's paragraph texts and label-cell texts, in document order (the
    first few are tried as titles). ``rows``: the cell texts of table rows that may be
    column headings (the first rows of each table), for chronologies sent as Word tables.
    """
    found = by_properties(props, catalogue)
    if found is not None:
        return found, "properties"
    best = by_labels(texts, catalogue, rows)
    return (best, "labels") if best is not None else (None, None)


def by_labels(texts: Sequence[str], catalogue: Catalogue, rows: Sequence[Sequence[str]] = ()) -> FormDef | None:
    # a "Label: value" text counts by its label
    heads = (t.partition(":")[0] if ":" in t else t for t in texts)
    short = [t for t in dict.fromkeys(t.strip() for t in heads) if t and len(t) <= MAX_LABEL_CHARS]
    tops = [t for t in texts[:TITLE_TEXTS] if t.strip()]
    scored: list[tuple[float, int, int, FormDef]] = []
    for rank, form in enumerate(catalogue):
        matcher = matcher_for(form)
        title = max((form_title_score(t, form) for t in tops), default=0.0)
        wanted = [f.id for f in form.fields]
        found: set[str] = set()
        for text in short:
            hit = matcher.match(text, None)
            if hit is not None:
                found.add(hit.field_id)
        share = len(found & set(wanted)) / len(wanted) if wanted else 0.0
        if form.form.layout == "chronology":
            columns = max((_event_columns(matcher, row, form) for row in rows), default=0)
            if columns < MIN_EVENT_COLUMNS:
                continue
            share = max(share, columns / max(1, len(form.events)))
        enough = share >= MIN_SHARE or (title >= TITLE_SCORE and share >= MIN_SHARE_WITH_TITLE)
        if not enough:
            continue
        current = 1 if form.form.status == "current" else 0
        scored.append((share + 0.5 * title, current, -rank, form))
    if not scored:
        return None
    scored.sort(key=lambda s: (round(s[0], 6), s[1], s[2]), reverse=True)
    return scored[0][3]


def _event_columns(matcher: FieldMatcher, row: Sequence[str], form: FormDef) -> int:
    ids: set[str] = set()
    for text in row:
        if text and len(text) <= MAX_LABEL_CHARS:
            hit = matcher.match_column(text, form.events)
            if hit is not None:
                ids.add(hit)
    return len(ids)
