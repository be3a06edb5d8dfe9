"""DOC-*: is this a readable, safe, known form, and which template version."""

from __future__ import annotations

from collections.abc import Iterator

from core.model import Document, Finding, Severity
from validators.base import CheckContext, Rule
from validators.view import view_of


class _RejectionRule(Rule):
    gate = True

    def check(self, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
        if doc.rejection is not None and doc.rejection.rule == self.id:
            yield self.finding(
                f"We could not read this file: {doc.rejection.reason}. "
                "Please send it again as a Word (.docx) or Excel (.xlsx) file made from our template."
            )


class Unreadable(_RejectionRule):
    id = "DOC-UNREADABLE"
    severity = Severity.ERROR
    description = "not a readable .docx/.xlsx (corrupt, encrypted, legacy .doc/.xls, PDF)"


class Unsafe(_RejectionRule):
    id = "DOC-UNSAFE"
    severity = Severity.ERROR
    description = "macro-enabled, oversized when unpacked, external references, or a parser bomb"

    def check(self, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
        if doc.rejection is not None and doc.rejection.rule == self.id:
            yield self.finding(
                f"We could not open this file safely: {doc.rejection.reason}. "
                "Please save it as a plain Word (.docx) or Excel (.xlsx) file without macros "
                "or links and send it again."
            )


class Unknown(Rule):
    id = "DOC-UNKNOWN"
    severity = Severity.ERROR
    description = "not recognised as any form in the catalogue"
    gate = True

    def check(self, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
        if doc.rejection is None and view_of(doc, ctx) is None:
            yield self.finding(
                "We did not recognise this document as one of the partnership's forms. "
                "Please use the current template from the partnership's website."
            )


class OldVersion(Rule):
    id = "DOC-OLD-VERSION"
    severity = Severity.WARNING
    description = "an older template version that is still accepted"

    def check(self, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
        view = view_of(doc, ctx)
        if view is None or view.form.form.status != "accepted":
            return
        current = ctx.forms.catalogue.find(view.form.id, None)
        newer = f" (version {current.version})" if current is not None else ""
        yield self.finding(
            f"This is an older version ({view.form.version}) of the {view.form.form.title} template. "
            f"We have accepted it, but please use the current template{newer} next time."
        )


RULES: tuple[Rule, ...] = (Unreadable(), Unsafe(), Unknown(), OldVersion())
