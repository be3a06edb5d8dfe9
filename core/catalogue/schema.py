"""The shape of a form definition. One TOML file per form version lives in ``forms/``.

A form file looks like this (see forms/*.toml for the real ones)::

    [form]
    id = "referral"
    version = "2026.1"
    title = "Practice Review Referral Form"
    layout = "word"                 # "word" | "chronology"
    status = "current"              # "current" | "accepted" (older, still accepted)
    title_aliases = ["Rapid Review Referral"]
    guidance = ["Write facts, not opinions.", ...]

    [[sections]]
    id = "referrer"
    title = "1 Referrer"
    aliases = ["Referrer details"]

    [[fields]]
    id = "referral_date"
    section = "referrer"
    label = "Date of referral"
    type = "date"
    mandatory = true
    aliases = ["Referral date"]
    section_aliases = ["Date"]      # short labels valid only inside this field's section
    help = "The day you sent this referral."

Field ids and rule ids are a contract (spec/forms.md): keep them.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

FieldType = Literal[
    "text",
    "longtext",
    "date",
    "time",
    "email",
    "phone",
    "yesno",
    "choice",
    "agency",
    "case_ref",
    "nhs_number",
    "checkboxes",
    "integer",
    "table",
]
SCALAR_TYPES: frozenset[str] = frozenset(
    [
        "text",
        "longtext",
        "date",
        "time",
        "email",
        "phone",
        "yesno",
        "choice",
        "agency",
        "case_ref",
        "nhs_number",
        "checkboxes",
        "integer",
    ]
)


class Condition(BaseModel):
    """``mandatory when <field> equals <equals>`` (choice text or a yes/no bool)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str
    equals: str | bool


class Column(BaseModel):
    """A column of a repeating table or of the chronology's events."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    label: str
    type: FieldType
    mandatory: bool = False
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    help: str = ""
    #: narrative columns the text rules (abbreviations, pasted notes, personal data) read
    narrative: bool = False


class FieldDef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    section: str
    label: str
    type: FieldType
    mandatory: bool = False
    #: mandatory only when the condition holds (e.g. date_of_death when harm_type is Death)
    required_when: Condition | None = None
    #: mandatory fields that a nil return (the nil-return field answered No) may leave empty
    nil_exempt: bool = False
    aliases: tuple[str, ...] = ()
    section_aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    min_selected: int = 0
    columns: tuple[Column, ...] = ()
    help: str = ""
    #: an analysis section: TEXT-TOO-SHORT applies
    analysis: bool = False
    #: narrative text the text rules read
    narrative: bool = False

    @property
    def all_labels(self) -> tuple[str, ...]:
        return (self.label, *self.aliases)


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    title: str
    aliases: tuple[str, ...] = ()


class FormInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    version: str
    title: str
    layout: Literal["word", "chronology"]
    status: Literal["current", "accepted"] = "current"
    title_aliases: tuple[str, ...] = ()
    guidance: tuple[str, ...] = ()
    #: the yes/no field whose "No" makes the return a nil return (agency_summary)
    nil_return_field: str | None = None
    #: chronology: sheet names in the blank workbook
    details_sheet: str = "Details"
    events_sheet: str = "Chronology"


class FormDef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    form: FormInfo
    sections: tuple[Section, ...]
    fields: tuple[FieldDef, ...]
    #: chronology events, in the blank template's column order
    events: tuple[Column, ...] = ()

    @property
    def id(self) -> str:
        return self.form.id

    @property
    def version(self) -> str:
        return self.form.version

    @property
    def key(self) -> tuple[str, str]:
        return (self.form.id, self.form.version)

    @cached_property
    def _fields_by_id(self) -> dict[str, FieldDef]:
        return {f.id: f for f in self.fields}

    def field(self, field_id: str) -> FieldDef:
        return self._fields_by_id[field_id]

    @property
    def fields_by_id(self) -> Mapping[str, FieldDef]:
        """Every field by its id, built once (the definition is immutable; not to be changed)."""
        return self._fields_by_id

    @cached_property
    def table_fields(self) -> tuple[FieldDef, ...]:
        """The repeating-table fields, in the form's order."""
        return tuple(f for f in self.fields if f.type == "table")

    def fields_in(self, section_id: str) -> list[FieldDef]:
        return [f for f in self.fields if f.section == section_id]

    def label_of(self, field_id: str, column_id: str | None = None) -> str:
        """The label the blank template prints, for messages."""
        if self.form.layout == "chronology" and column_id is None:
            for c in self.events:
                if c.id == field_id:
                    return c.label
        if column_id is not None:
            for c in self.field(field_id).columns:
                if c.id == column_id:
                    return c.label
        return self.field(field_id).label

    @model_validator(mode="after")
    def _check(self) -> FormDef:
        problems: list[str] = []
        section_ids = [s.id for s in self.sections]
        if len(set(section_ids)) != len(section_ids):
            problems.append("duplicate section ids")
        ids = [f.id for f in self.fields]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            problems.append(f"duplicate field ids {dupes}")
        known = set(ids)
        for f in self.fields:
            if f.section not in section_ids:
                problems.append(f"field {f.id} names unknown section {f.section!r}")
            if f.type in ("choice", "checkboxes") and not f.choices:
                problems.append(f"field {f.id} of type {f.type} has no choices")
            if f.type == "table" and not f.columns:
                problems.append(f"table field {f.id} has no columns")
            if f.type != "table" and f.columns:
                problems.append(f"field {f.id} has columns but is not a table")
            if f.required_when is not None and f.required_when.field not in known:
                problems.append(f"field {f.id}: required_when names unknown field")
            col_ids = [c.id for c in f.columns]
            if len(set(col_ids)) != len(col_ids):
                problems.append(f"table {f.id} has duplicate column ids")
            for c in f.columns:
                problems.extend(_column_problems(f.id, c))
        ev_ids = [c.id for c in self.events]
        if len(set(ev_ids)) != len(ev_ids):
            problems.append("duplicate event column ids")
        for c in self.events:
            problems.extend(_column_problems("events", c))
        if self.form.layout == "chronology" and not self.events:
            problems.append("a chronology form needs event columns")
        nil = self.form.nil_return_field
        if nil is not None and nil not in known:
            problems.append(f"nil_return_field {nil!r} is not a field")
        if problems:
            raise ValueError(f"form {self.form.id} {self.form.version}: " + "; ".join(problems))
        return self


def _column_problems(owner: str, c: Column) -> list[str]:
    if c.type == "table":
        return [f"{owner}.{c.id}: a column cannot be a table"]
    if c.type in ("choice", "checkboxes") and not c.choices:
        return [f"{owner}.{c.id}: {c.type} column has no choices"]
    return []
