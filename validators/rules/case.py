"""CASE-MISMATCH: the form names a case, but its child is not that case's child."""

from __future__ import annotations

import re
from collections.abc import Iterator

from core.model import Document, Finding, Severity
from validators.base import CheckContext, Rule
from validators.view import iso_date, view_of

_NON_WORD = re.compile(r"[\W_]+")


def normalise_name(name: str) -> str:
    """Case, punctuation and spacing ignored: "Child A" equals "child a"."""
    return " ".join(_NON_WORD.sub(" ", name.replace("\u2019", "'").replace("'", "")).casefold().split())


class CaseMismatch(Rule):
    id = "CASE-MISMATCH"
    severity = Severity.ERROR
    description = "the child's date of birth or name conflicts with the case it names"

    def check(self, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
        case = ctx.case
        view = view_of(doc, ctx)
        if case is None or view is None or doc.value("case_reference") != case.reference:
            return
        dob = iso_date(doc.value("child_dob"))
        if dob is not None and case.child_dob is not None and dob != case.child_dob:
            yield self.finding(
                f'"{view.label("child_dob")}" does not match the case this form names. '
                "Please check the case reference and the date of birth.",
                field="child_dob",
            )
        name = doc.value("child_name")
        if (
            isinstance(name, str)
            and name.strip()
            and case.child_name is not None
            and normalise_name(name) != normalise_name(case.child_name)
        ):
            yield self.finding(
                f'"{view.label("child_name")}" does not match the case this form names. '
                "Please check the case reference and the child's name or identifier.",
                field="child_name",
            )


RULES: tuple[Rule, ...] = (CaseMismatch(),)
