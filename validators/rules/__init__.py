"""The quality rules, one module per family (spec/forms.md, "Quality rules")."""

from __future__ import annotations

from validators.base import Rule
from validators.rules import case, chronology, dates, document, fields, text

#: every rule, in the order their findings are listed
ALL_RULES: tuple[Rule, ...] = (
    *document.RULES,
    *fields.RULES,
    *dates.RULES,
    *chronology.RULES,
    *text.RULES,
    *case.RULES,
)

__all__ = ["ALL_RULES"]
