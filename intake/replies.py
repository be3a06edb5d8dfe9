"""The reply to an agency: composed from facts the pipeline decided, rendered to RFC 5322 bytes.

Pure: no I/O. What goes in is chosen so that nothing personal can come out:

    ReplyFacts (case reference, positions, form titles, findings)  -> compose() -> ReplyDraft
    ReplyDraft + From, Message-ID, Date                             -> render()  -> bytes

A reply names the case reference and each document by its position in the sender's email
and its catalogue form title. It never names the child, the family or the incident, never
repeats the sender's subject, an attachment's filename or any value from a document, quotes
nothing and attaches nothing (spec/intake.md "Replies must not leak"). Findings'
messages name the form's printed label and the row, never a value (core.model.Finding).
The one reply goes to the authenticated From address only; a display name that came with it
is dropped (it is the sender's words, and may be anything).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses
from typing import Literal
from zoneinfo import ZoneInfo

from core.cases import DocumentStatus, ExceptionReason, ReplyDraft
from core.model import Finding, Severity

#: a person looks at a queued message within this many working days (the reply says so)
REVIEW_WORKING_DAYS = 2
#: References carries the original's first ID and the latest ones, at most this many in all
MAX_REFERENCES = 10
#: headers every automatic reply carries (RFC 3834; Exchange's own suppression header).
#: No "Precedence": RFC 3834 says not to use it.
AUTO_HEADERS: dict[str, str] = {"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}
#: headers render() sets itself; a draft may not carry them (nor Cc/Bcc/Reply-To at all)
RESERVED_HEADERS = frozenset(
    h.casefold()
    for h in (
        "From",
        "To",
        "Cc",
        "Bcc",
        "Reply-To",
        "Sender",
        "Subject",
        "Date",
        "Message-ID",
        "In-Reply-To",
        "References",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Content-Disposition",
    )
)

_LONDON = ZoneInfo("Europe/London")
_WIDTH = 76
_MSG_ID = re.compile(r"<[^<>\s@]{1,200}@[^<>\s@]{1,200}>")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_CASE_REFERENCE = re.compile(r"SSCP-\d{4}-\d{3,}")


@dataclass(frozen=True)
class DocumentOutcome:
    """One attachment of the sender's email, as the reply may speak of it."""

    #: 1-based attachment number in the sender's email
    position: int
    #: the catalogue form's title ("Chronology of Significant Events"); None if not recognised
    form_title: str | None
    #: None when not filed (queued, for instance)
    status: DocumentStatus | None
    findings: tuple[Finding, ...] = ()
    #: "this replaces version 1 you sent earlier"
    superseded_version: int | None = None


@dataclass(frozen=True)
class ReplyFacts:
    """What the pipeline decided about one incoming message: all a reply may draw on."""

    #: the authenticated From address (never Reply-To)
    to: str
    #: the original's Message-ID, and its References
    in_reply_to: str | None
    references: tuple[str, ...]
    received: dt.datetime
    #: filed: the case filed against. Queued: the reference the sender gave, if any
    #: (never pass the reference of a case found by the child's details)
    case_reference: str | None
    outcome: Literal["filed", "queued", "no_attachment", "rejected"]
    documents: tuple[DocumentOutcome, ...]
    queue_reason: ExceptionReason | None = None


# --- composing ----------------------------------------------------------------------------------


def compose(facts: ReplyFacts, *, review_working_days: int = REVIEW_WORKING_DAYS) -> ReplyDraft:
    """The reply for one incoming message. Raises ValueError for facts that cannot be replied to
    (no single plain address to reply to)."""
    to = reply_address(facts.to)
    reference = _reference(facts)
    received = _long_date(facts.received)
    documents = tuple(sorted(facts.documents, key=lambda d: d.position))

    if facts.outcome == "no_attachment" or (
        facts.outcome == "queued" and facts.queue_reason is ExceptionReason.NO_ATTACHMENT and not documents
    ):
        subject = f"Received: your email of {received}"
        paragraphs = [
            f"We received your email of {received}"
            + (f" about case {reference}" if reference else "")
            + ". Nothing was attached to it, so there was nothing for us to file.",
            "If you meant to send a form, please reply with it attached. If your email needs a "
            f"response from the business unit, a person will look at it within {review_working_days} "
            "working days.",
        ]
        sections: list[str] = []
    elif facts.outcome == "queued":
        subject = f"Received: case {reference}" if reference else f"Received: your email of {received}"
        paragraphs = [
            _arrived(len(documents), received, reference),
            _queue_explanation(facts.queue_reason, reference),
            f"A person in the business unit will look at it within {review_working_days} working days. "
            "You do not need to send it again.",
        ]
        sections = [_document_section(d) for d in documents]
    else:
        needs_changes = [d for d in documents if d.status is not DocumentStatus.ACCEPTED]
        accepted = len(documents) - len(needs_changes)
        if reference is None:
            subject = f"Received: your email of {received}"
        elif needs_changes or facts.outcome == "rejected" or not documents:
            subject = f"Changes needed: case {reference}"
        else:
            subject = f"Received: case {reference} — {_count(accepted, 'document')} accepted"
        paragraphs = [_arrived(len(documents), received, reference)]
        if needs_changes:
            paragraphs.append(
                "Please make the changes listed below and send the corrected document back to this "
                "address, keeping the case reference in it. Advice is for your information: it "
                "does not stop a document being accepted."
            )
        elif documents:
            paragraphs.append(
                "Thank you: every document was accepted." if accepted > 1 else "Thank you: the document was accepted."
            )
        sections = [_document_section(d) for d in documents]

    body = _join(paragraphs, sections)
    return ReplyDraft(
        to=to,
        subject=subject,
        body=body,
        in_reply_to=_message_id_or_none(facts.in_reply_to),
        references=_references(facts.references, facts.in_reply_to),
        headers=dict(AUTO_HEADERS),
    )


def _reference(facts: ReplyFacts) -> str | None:
    ref = facts.case_reference
    if ref is None or not _CASE_REFERENCE.fullmatch(ref.strip()):
        return None  # a reference is the only free text a reply repeats: only its own shape
    if facts.outcome == "queued" and facts.queue_reason in (
        ExceptionReason.POSSIBLE_DUPLICATE,
        ExceptionReason.UNKNOWN_SENDER,
    ):
        return None  # a case found from the child's details is not the sender's to learn
    return ref.strip()


def _arrived(n: int, received: str, reference: str | None) -> str:
    what = f"your email of {received} with {_count(n, 'attachment')}" if n else f"your email of {received}"
    return f"We received {what}" + (f" for case {reference}." if reference else ".")


def _queue_explanation(reason: ExceptionReason | None, reference: str | None) -> str:
    match reason:
        case ExceptionReason.NO_CASE if reference:
            return (
                f"The case reference {reference} does not match an open case we hold. Please check "
                "the reference; the business unit will link your email to the right case."
            )
        case ExceptionReason.NO_CASE:
            return (
                "We could not match it to a case reference: please include the case reference "
                "(SSCP-YYYY-NNN) in the form when you next send one."
            )
        case ExceptionReason.CASE_CONFLICT:
            return (
                "The details in the form do not agree with the case reference it gives, so we have "
                "not filed it. Please check the case reference in the form."
            )
        case ExceptionReason.POSSIBLE_DUPLICATE:
            return "It needs a check by a person before a new case is opened from it."
        case ExceptionReason.UNRECOGNISED_DOCUMENT:
            return (
                "We did not recognise an attachment as one of the partnership's forms. Please use "
                "the current templates; other documents are filed by a person."
            )
        case ExceptionReason.UNSAFE_FILE:
            return (
                "An attachment could not be opened safely (for example, it is password protected, "
                "damaged, or contains macros). Please send it again as a plain Word or Excel file."
            )
        case ExceptionReason.NO_ATTACHMENT:
            return "Nothing was attached to it that we could file."
        case ExceptionReason.PROCESSING_FAULT:
            return "We could not finish processing it automatically."
        case _:
            return "It needs a check by a person before it is filed."


def _document_section(doc: DocumentOutcome) -> str:
    name = doc.form_title or "not recognised as one of the partnership's forms"
    head = f"Attachment {doc.position}: {name}"
    errors = [f for f in doc.findings if f.severity is Severity.ERROR]
    warnings = [f for f in doc.findings if f.severity is not Severity.ERROR]
    lines: list[str] = []
    if doc.status is DocumentStatus.ACCEPTED:
        lines.append(f"{head} — accepted.")
    elif doc.status is DocumentStatus.REJECTED:
        lines.append(f"{head} — could not be accepted.")
    elif doc.status is DocumentStatus.NEEDS_CHANGES:
        lines.append(f"{head} — changes needed.")
    else:
        lines.append(f"{head} — not filed yet.")
    if doc.superseded_version is not None:
        lines.append(_wrap(f"This replaces version {doc.superseded_version} you sent earlier."))
    if errors:
        lines.append("")
        lines.append("What to change:" if doc.status is not DocumentStatus.REJECTED else "Why:")
        width = len(str(len(errors)))
        for i, finding in enumerate(errors, start=1):
            lines.append(_wrap(_clean(finding.message), first=f"{i:>{width}}. ", rest=" " * (width + 2)))
    if warnings:
        lines.append("")
        lines.append("Advice (no change is needed for the document to be accepted):")
        for finding in warnings:
            lines.append(_wrap(_clean(finding.message), first="- ", rest="  "))
    return "\n".join(lines)


def _join(paragraphs: Sequence[str], sections: Sequence[str]) -> str:
    parts = [_wrap(p) for p in paragraphs]
    parts.extend(sections)
    parts.append(
        _wrap(
            "This is an automatic reply from the partnership's secure mailbox. It does not repeat "
            "the details of your email or its attachments. To reach a person, reply to this "
            "email and the business unit will answer."
        )
    )
    return "\n\n".join(parts) + "\n"


def _wrap(text: str, first: str = "", rest: str = "") -> str:
    return textwrap.fill(
        text,
        width=_WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _clean(text: str) -> str:
    return " ".join(text.split())


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _long_date(when: dt.datetime) -> str:
    local = when.astimezone(_LONDON) if when.tzinfo is not None else when
    return f"{local.day} {local:%B %Y}"


# --- addresses and threading ---------------------------------------------------------------------


def reply_address(value: str) -> str:
    """The bare address a reply goes to: one addr-spec, any display name dropped."""
    if "\r" in value or "\n" in value:
        raise ValueError("the reply address must be a single line")
    parsed = getaddresses([value])
    if len(parsed) != 1:
        raise ValueError("a reply goes to exactly one address")
    _, addr = parsed[0]
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in addr):
        raise ValueError("the reply address is not a plain address")
    return addr


def _message_id_or_none(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value if _MSG_ID.fullmatch(value) else None


def _references(references: Sequence[str], in_reply_to: str | None) -> tuple[str, ...]:
    """The original's References and its Message-ID (RFC 5322 3.6.4), well-formed IDs only,
    capped: the first (the thread's root) and the latest."""
    ids: list[str] = []
    for ref in references:
        ids.extend(_MSG_ID.findall(ref))
    own = _message_id_or_none(in_reply_to)
    if own is not None:
        ids.append(own)
    seen: set[str] = set()
    unique = [i for i in ids if not (i in seen or seen.add(i))]  # type: ignore[func-returns-value]
    if len(unique) > MAX_REFERENCES:
        unique = [unique[0], *unique[-(MAX_REFERENCES - 1) :]]
    return tuple(unique)


def reply_message_id(incoming_row_id: int, domain: str) -> str:
    """The reply's Message-ID, the same every time for the same incoming message, so that a
    send repeated after a crash carries the same ID (and threads, and de-duplicates)."""
    if incoming_row_id < 0:
        raise ValueError("an incoming message's row id is not negative")
    domain = domain.strip().lower()
    if not _DOMAIN.fullmatch(domain):
        raise ValueError("not a domain for a Message-ID")
    tag = hashlib.sha256(f"sscp-intake-reply:{incoming_row_id}@{domain}".encode()).hexdigest()[:10]
    return f"<reply-{incoming_row_id}.{tag}@{domain}>"


# --- rendering ------------------------------------------------------------------------------------


def render(draft: ReplyDraft, *, from_address: str, message_id: str, date: dt.datetime) -> bytes:
    """The RFC 5322 message: text/plain UTF-8, CRLF line ends, no attachments."""
    if not _MSG_ID.fullmatch(message_id):
        raise ValueError("not a Message-ID")
    if date.tzinfo is None:
        raise ValueError("the Date of a reply must be timezone-aware")
    reserved = sorted(h for h in draft.headers if h.casefold() in RESERVED_HEADERS)
    if reserved:
        raise ValueError(f"a reply draft may not set these headers: {', '.join(reserved)}")

    msg = EmailMessage(policy=SMTP)
    msg["From"] = _address(reply_address(from_address))
    msg["To"] = _address(reply_address(draft.to))
    msg["Subject"] = " ".join(draft.subject.split())
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    in_reply_to = _message_id_or_none(draft.in_reply_to)
    if in_reply_to is not None:
        msg["In-Reply-To"] = in_reply_to
    references = _references(draft.references, None)
    if references:
        msg["References"] = " ".join(references)
    for name, value in {**AUTO_HEADERS, **draft.headers}.items():
        msg[name] = value
    body = draft.body.replace("\r\n", "\n").replace("\r", "\n")
    ascii_only = body.isascii() and all(len(line) <= 900 for line in body.split("\n"))
    msg.set_content(body, subtype="plain", charset="utf-8", cte="7bit" if ascii_only else "quoted-printable")
    return msg.as_bytes()


def _address(addr: str) -> Address:
    local, _, domain = addr.rpartition("@")
    return Address(username=local, domain=domain)
