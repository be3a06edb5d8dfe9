"""Document -> list[Finding]: the schema check built from the catalogue and the quality rules.

    check(doc, CheckContext(forms=forms_context, received=date.today()))

Each rule is a small class with ``id``, ``severity``, ``description`` and ``check()``
(validators.rules.*); the checklist runs them all and collects every finding.
"""

from __future__ import annotations

from core.compiled import attach

# before any module of the package is imported: their compiled builds, when current
attach(__name__, __path__)

from core.model import Document, Finding  # noqa: E402
from validators.base import CheckContext, Rule  # noqa: E402
from validators.checklist import Checklist  # noqa: E402
from validators.rules import ALL_RULES  # noqa: E402

#: every rule, one per rule id of spec/forms.md's "Quality rules" table
RULES: tuple[Rule, ...] = ALL_RULES

_CHECKLIST = Checklist(RULES)


def check(doc: Document, ctx: CheckContext) -> list[Finding]:
    """Every finding about ``doc``, gate findings alone when it was not read or not known."""
    return _CHECKLIST.run(doc, ctx)


__all__ = ["RULES", "CheckContext", "Checklist", "Rule", "check"]
