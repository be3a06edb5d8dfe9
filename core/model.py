"""The values that flow through the service: a document read from a file, its findings.

One way through: bytes -> ``Document`` (parsers) -> ``list[Finding]`` (validators).
Everything here is plain data: no I/O, no parsing.

Values are kept *normalised* as forms.md's table of value types says:
dates "YYYY-MM-DD", times "HH:MM", yes/no as bool, choices as the canonical option text,
agencies as ids, emails lower-cased, NHS numbers as 10 digits, checkboxes as the list of
ticked option texts, integers as int.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

#: A normalised value as it appears in JSON output.
Value = str | int | bool | list[str] | None


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Location(BaseModel):
    """Where a value was read, so that a reply or a page can point to it.

    Word: ``kind="table"`` with 1-based ``table``/``row``/``cell`` (nested tables are
    numbered in document order, as a person counts them), or ``kind="paragraph"`` with a
    1-based ``paragraph``. Excel: ``kind="cell"`` with ``sheet`` and an A1 ``ref``.
    ``kind="property"`` for a custom document property.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["table", "paragraph", "cell", "property"]
    table: int | None = None
    row: int | None = None
    cell: int | None = None
    paragraph: int | None = None
    sheet: str | None = None
    ref: str | None = None

    def describe(self) -> str:
        if self.kind == "table":
            return f"table {self.table}, row {self.row}, cell {self.cell}"
        if self.kind == "paragraph":
            return f"paragraph {self.paragraph}"
        if self.kind == "cell":
            return f"sheet {self.sheet!r}, cell {self.ref}"
        return "document properties"


class FieldValue(BaseModel):
    """One field as read. ``value`` is None when the field is empty *or* unreadable;
    ``problem`` says why it could not be read with confidence (never guessed)."""

    value: Value = None
    location: Location | None = None
    problem: str | None = None
    approximate: bool = False


class ReadIssue(BaseModel):
    """A value in a table or chronology row that could not be read with confidence.

    ``message`` explains the problem without repeating the value (it may be personal)."""

    model_config = ConfigDict(frozen=True)

    field: str  # a table column id or chronology column id
    row: int  # the source row number (sheet row for Excel, table row for Word)
    message: str
    table: str | None = None  # the table field id; None for chronology events


class Rejection(BaseModel):
    """Why a file was not read at all: the gate or the worker refused it."""

    model_config = ConfigDict(frozen=True)

    rule: Literal["DOC-UNREADABLE", "DOC-UNSAFE"]
    reason: str  # for a practitioner: "the file is password protected", no personal data


class Document(BaseModel):
    """A returned document as read against the catalogue.

    ``fields`` holds the scalar fields found (keyed by field id); a catalogue field that
    was not found at all is absent. ``tables`` holds repeating Word tables (rows as dicts
    of column id to value, with the source row under ``"row"``). ``rows`` holds
    chronology events, each a dict with ``"row"`` (the source row number) and the column
    ids. Cells that could not be read are None in the row and listed in ``issues``;
    approximate chronology dates are listed in ``approximate`` as (row, column).
    """

    filename: str
    media: Literal["docx", "xlsx"] | None = None
    form: str | None = None
    version: str | None = None
    identified_by: Literal["properties", "labels"] | None = None
    rejection: Rejection | None = None
    fields: dict[str, FieldValue] = Field(default_factory=dict)
    tables: dict[str, list[dict[str, Value]]] = Field(default_factory=dict)
    table_locations: dict[str, Location] = Field(default_factory=dict)
    rows: list[dict[str, Value]] = Field(default_factory=list)
    rows_location: str | None = None  # "sheet 'Chronology'" or "table 3"
    issues: list[ReadIssue] = Field(default_factory=list)
    approximate: list[tuple[int, str]] = Field(default_factory=list)
    #: case references (already normalised) seen anywhere in the text of the document
    references_seen: list[str] = Field(default_factory=list)

    def value(self, field_id: str) -> Value:
        found = self.fields.get(field_id)
        return None if found is None else found.value


class Finding(BaseModel):
    """One quality finding. ``message`` names the field's printed label (and row for a
    chronology) and says what to do; it never quotes a value from the document."""

    model_config = ConfigDict(frozen=True)

    rule: str
    severity: Severity
    field: str | None = None
    row: int | None = None
    message: str


class CheckedDocument(BaseModel):
    """A document and every finding about it: what ``intake check`` reports."""

    document: Document
    findings: list[Finding]

    @property
    def has_errors(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings)


M = TypeVar("M", bound=BaseModel)

_new = object.__new__
#: defaults that a builder may share between instances, as model_construct does for them
_IMMUTABLE = (type(None), bool, int, float, str)
_REQUIRED: Final = object()  # marks a required field in a builder's template


def _data_setter(model: type, name: str) -> Callable[[Any, Any], None]:
    """The ``__set__`` of the data descriptor (a slot, or ``__dict__``) that
    ``object.__setattr__(instance, name, value)`` calls on an instance of ``model``."""
    for klass in model.__mro__:
        if name in klass.__dict__:
            setter: Callable[[Any, Any], None] = klass.__dict__[name].__set__
            return setter
    raise AttributeError(name)


def direct_builder(model: type[M]) -> Callable[..., M]:
    """A function doing what ``model.model_construct(**values)`` does (no validation; the
    defaults of the fields not given; the given names as the fields set), built once per
    class so that each call only copies a template dict: a fifth of model_construct's cost,
    which loops over every field and copies its default each time.

    Used only where the model allows it: no aliases, no private attributes, no post-init
    hook, no extra fields kept, only immutable plain defaults. A call that passes a name
    that is no field, or leaves out a required one, goes to ``model_construct``."""
    fields = model.__pydantic_fields__
    direct = (
        model.__new__ is object.__new__
        and all(f.alias is None and f.validation_alias is None for f in fields.values())
        and all(
            f.is_required() or (f.default_factory is None and type(f.default) in _IMMUTABLE) for f in fields.values()
        )
        and not model.__private_attributes__
        and not model.__pydantic_post_init__
        and not model.__pydantic_root_model__
        and model.model_config.get("extra") != "allow"
    )
    if not direct:
        return model.model_construct
    # every field in declaration order, so that the dict is ordered as model_construct's
    template: dict[str, Any] = {name: _REQUIRED if f.is_required() else f.default for name, f in fields.items()}
    names = frozenset(fields)
    required = frozenset(name for name, f in fields.items() if f.is_required())

    # the setters object.__setattr__ would find for these names, looked up once
    set_dict, set_fields_set, set_extra, set_private = (
        _data_setter(model, name)
        for name in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")
    )

    def build(**values: Any) -> M:
        if not (required <= values.keys() <= names):
            return model.model_construct(**values)
        made: M = _new(model)
        set_dict(made, template | values)
        set_fields_set(made, set(values))
        set_extra(made, None)
        set_private(made, None)
        return made

    build.__doc__ = f"``{model.__name__}.model_construct(**values)``, built directly."
    return build


#: ``Location.model_construct`` / ``FieldValue.model_construct`` without the per-field loop
#: (a Word form builds a hundred of them)
new_location: Final = direct_builder(Location)
new_field_value: Final = direct_builder(FieldValue)


class CaseFacts(BaseModel):
    """What a checker may know of the case a document names (for CASE-MISMATCH)."""

    model_config = ConfigDict(frozen=True)

    reference: str
    child_name: str | None = None
    child_dob: str | None = None  # "YYYY-MM-DD"
