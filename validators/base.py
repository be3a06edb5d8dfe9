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
from typing import ClassVar, Final

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
        # the inputs are ours and already valid: no validation, and what model_construct
        # would do done directly (a tenth of its cost; 50,000 findings stay cheap)
        return make_finding(self.id, self.severity, field, row, message)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"


_FINDING_FIELDS: Final = ("rule", "severity", "field", "row", "message")
_set_attr = object.__setattr__
_new = object.__new__


def _can_build_directly() -> bool:
    """Whether a Finding can be made as ``model_construct`` would, by setting its dict:
    exactly these fields, no aliases, no private attributes, no post-init hook."""
    fields = Finding.__pydantic_fields__
    return (
        tuple(fields) == _FINDING_FIELDS
        and all(f.alias is None and f.validation_alias is None for f in fields.values())
        and not Finding.__private_attributes__
        and not Finding.__pydantic_post_init__
        and not Finding.__pydantic_root_model__
        and Finding.model_config.get("extra") != "allow"
    )


_DIRECT: Final = _can_build_directly()


def make_finding(rule: str, severity: Severity, field: str | None, row: int | None, message: str) -> Finding:
    """``Finding.model_construct(rule=..., severity=..., field=..., row=..., message=...)``,
    the same object built without its per-field loop."""
    if not _DIRECT:
        return Finding.model_construct(rule=rule, severity=severity, field=field, row=row, message=message)
    found: Finding = _new(Finding)
    _set_attr(found, "__dict__", {"rule": rule, "severity": severity, "field": field, "row": row, "message": message})
    _set_attr(found, "__pydantic_fields_set__", set(_FINDING_FIELDS))
    _set_attr(found, "__pydantic_extra__", None)
    _set_attr(found, "__pydantic_private__", None)
    return found


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
