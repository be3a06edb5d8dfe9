"""Presenting checked documents: the JSON contract of `intake check --json` and the
report a person reads."""

from __future__ import annotations

from typing import Any

from core.catalogue import Catalogue
from core.model import CheckedDocument, Severity


def as_json(checked: CheckedDocument, catalogue: Catalogue) -> dict[str, Any]:
    """One object of the `intake check --json` array (the command-line contract)."""
    doc = checked.document
    form = catalogue.find(doc.form, doc.version) if doc.form else None
    fields: dict[str, Any] = {}
    tables: dict[str, Any] = {}
    if form is not None:
        for f in form.fields:
            if f.type == "table":
                tables[f.id] = doc.tables.get(f.id, [])
            else:
                fields[f.id] = doc.value(f.id)
    return {
        "file": doc.filename,
        "form": doc.form,
        "version": doc.version,
        "fields": fields,
        "tables": tables,
        "rows": doc.rows,
        "findings": [
            {
                "rule": x.rule,
                "severity": x.severity.value,
                "field": x.field,
                "row": x.row,
                "message": x.message,
            }
            for x in checked.findings
        ],
    }


def as_text(checked: CheckedDocument, catalogue: Catalogue) -> str:
    """A report a person reads: what the file is, then what to change, then advice."""
    doc = checked.document
    form = catalogue.find(doc.form, doc.version) if doc.form else None
    if form is not None:
        what = f"{form.form.title} (template {form.id} version {form.version})"
    elif doc.rejection is not None:
        what = "not read"
    else:
        what = "not recognised as one of the partnership's forms"
    errors = [x for x in checked.findings if x.severity is Severity.ERROR]
    warnings = [x for x in checked.findings if x.severity is Severity.WARNING]
    verdict = "needs changes" if errors else "accepted"
    lines = [f"{doc.filename}: {what}: {verdict}"]
    if doc.rows or (form is not None and form.form.layout == "chronology"):
        lines.append(f"  {len(doc.rows)} events read")
    if errors:
        lines.append("  Please change:")
        lines.extend(f"  {i}. {x.message} [{x.rule}]" for i, x in enumerate(errors, 1))
    if warnings:
        lines.append("  Advice:")
        lines.extend(f"  - {x.message} [{x.rule}]" for x in warnings)
    return "\n".join(lines)
