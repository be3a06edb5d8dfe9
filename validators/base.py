"""The pieces every rule shares: the context a check runs in, and the rule's shape.

A rule is one small class with ``id``, ``severity``, ``description`` and ``check()``
(Mailman's rules): it looks at a document and yields findings, never raises for a bad
document, and never quotes a value from the document in a message.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from core.model import CaseFacts, Document, Finding, Severity
from core.settings import FormsContext


@dataclass(frozen=True)
class CheckContext:
    """What a check needs besides the document, built once per batch and passed in."""

    forms: FormsContext  # catalogue, agencies, quality thresholds
    received: dt.date  # DATE-FUTURE compares with this
    case: CaseFacts | None = None  # the case the document names, if known
    #: one-slot memo of the last document's prepared view (see validators.view)
    _memo: dict[str, object] = field(default_factory=dict, compare=False, repr=False, hash=False)


class Rule(ABC):
    """One quality rule. Subclasses set the three class attributes and ``check``."""

    id: ClassVar[str]
    severity: ClassVar[Severity]
    description: ClassVar[str]
    #: a gate rule runs first; when a gate rule finds anything, nothing else runs
    gate: ClassVar[bool] = False

    @abstractmethod
    def check(self, doc: Document, ctx: CheckContext) -> Iterable[Finding]:
        """Yield every finding of this rule about ``doc``."""

    def finding(self, message: str, field: str | None = None, row: int | None = None) -> Finding:
        # model_construct: the inputs are ours and already valid; this keeps 50,000 findings cheap
        return Finding.model_construct(rule=self.id, severity=self.severity, field=field, row=row, message=message)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"


def is_blank(value: object) -> bool:
    """Empty as a form means it: None, whitespace only, or an empty list."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list):
        return not value
    return False


def row_prefix(row: int | None) -> str:
    return "" if row is None else f"Row {row}: "
