"""Cases, submissions and the exception queue: the business unit's words as values."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class CaseKind(StrEnum):
    RAPID_REVIEW = "rapid_review"
    LOCAL_REVIEW = "local_review"
    SERIOUS_OFFENCE_REVIEW = "serious_offence_review"
    GOOD_OUTCOME_REVIEW = "good_outcome_review"


#: the kind of case a referral form opens
KIND_OF_REFERRAL: dict[str, CaseKind] = {
    "referral": CaseKind.RAPID_REVIEW,
    "serious_offence": CaseKind.SERIOUS_OFFENCE_REVIEW,
    "good_outcome": CaseKind.GOOD_OUTCOME_REVIEW,
}


class ExceptionReason(StrEnum):
    """Why a message needs a person (spec/intake.md's table). Values are the CLI's words."""

    UNKNOWN_SENDER = "unknown_sender"
    NO_CASE = "no_case"
    CASE_CONFLICT = "case_conflict"
    POSSIBLE_DUPLICATE = "possible_duplicate"
    UNRECOGNISED_DOCUMENT = "unrecognised_document"
    UNSAFE_FILE = "unsafe_file"
    NO_ATTACHMENT = "no_attachment"
    PROCESSING_FAULT = "processing_fault"


#: the actions the business unit can take on an item of each reason
ACTIONS: dict[ExceptionReason, tuple[str, ...]] = {
    ExceptionReason.UNKNOWN_SENDER: ("accept_as_agency", "reject", "mark_junk"),
    ExceptionReason.NO_CASE: ("link_to_case", "open_new_case"),
    ExceptionReason.CASE_CONFLICT: ("link_to_case", "correct", "reject"),
    ExceptionReason.POSSIBLE_DUPLICATE: ("merge_into_case", "open_new_case"),
    ExceptionReason.UNRECOGNISED_DOCUMENT: ("file_as_supporting", "reject"),
    ExceptionReason.UNSAFE_FILE: ("reject_with_reply", "file_as_supporting"),
    ExceptionReason.NO_ATTACHMENT: ("link_as_correspondence", "dismiss"),
    ExceptionReason.PROCESSING_FAULT: ("retry",),
}


class DocumentStatus(StrEnum):
    ACCEPTED = "accepted"
    NEEDS_CHANGES = "needs_changes"
    REJECTED = "rejected"


class ReturnState(StrEnum):
    ASKED = "asked"
    RECEIVED = "received"
    NEEDS_CHANGES = "needs_changes"
    ACCEPTED = "accepted"
    NIL_RETURN = "nil_return"


class CaseSummary(BaseModel):
    """A case as matching and filing need it."""

    model_config = ConfigDict(frozen=True)

    reference: str
    kind: CaseKind
    child_name: str | None
    child_dob: dt.date | None
    aware: dt.date | None = None
    open: bool = True


class NewCase(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: CaseKind
    child_name: str | None
    child_dob: dt.date | None
    aware: dt.date | None = None
    reference: str | None = None  # brought over from before; None: the next free one


class ReplyDraft(BaseModel):
    """A reply as composed: no personal data, addressed to the authenticated sender only."""

    model_config = ConfigDict(frozen=True)

    to: str
    subject: str
    body: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    headers: dict[str, str] = Field(default_factory=dict)
