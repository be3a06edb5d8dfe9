"""The quality rules, one module per family (spec/forms.md, "Quality rules")."""

from __future__ import annotations

from core.compiled import attach

# before any rule module is imported: their compiled builds, when current
attach(__name__, __path__)

from validators.base import Rule  # noqa: E402
from validators.rules import case, chronology, dates, document, fields, text  # noqa: E402

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
