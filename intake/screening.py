"""Screening: who sent a decoded message, and may anything ever be sent back?

    screen(msg, registry, settings.screening) -> Screening(automated, agencies, authenticated, distrust)

Automated mail (never answered, RFC 3834 and practice), checked in this order:
- BOUNCE: a delivery status notification (multipart/report; report-type=delivery-status), or
  a From of MAILER-DAEMON / postmaster;
- AUTO_REPLY: Auto-Submitted present and not "no"; X-Autoreply, X-Autorespond (or
  X-Autoresponse); Precedence: auto_reply; a read receipt (multipart/report;
  report-type=disposition-notification); and Outlook's out-of-office, see below;
- LIST: List-Id or List-Unsubscribe; Precedence: list, bulk or junk;
- BOUNCE again: an empty return path (Return-Path: <>) with none of the above. RFC 3834 asks
  auto-responders for a null return path too, so a null path alone is checked last.

Outlook out-of-office. Exchange and Outlook put ``X-Auto-Response-Suppress`` on mail they
generate, but also on some ordinary mail (meeting requests, mail merges, mail sent by some
gateways), so its presence alone would silently ignore real submissions. The choice made
here: X-Auto-Response-Suppress counts as an auto-reply only together with a subject that
starts the way Outlook's automatic replies do ("Automatic reply:", "Out of office:",
"Autoreply:", "Auto-reply:", "Auto response:", "Abwesend:"/"Abwesenheitsnotiz:" as Exchange
writes them in some locales). A subject of that form without the header is not enough either:
a person may well write "Out of office cover - referral attached".

The sender: the From domain's agencies in the registry (subdomains match; a shared domain
gives several). Distrust, for the exception queue, in this order: "no sender" (no readable
From), "unknown domain", "authentication failed" (only when settings.require_authentication
and the trusted Authentication-Results did not pass).
"""

from __future__ import annotations

import re

from core.agencies import AgencyRegistry
from core.mail import Automated, InboundMessage, Screening
from intake.settings import ScreeningSettings

NO_SENDER = "no sender"
UNKNOWN_DOMAIN = "unknown domain"
AUTHENTICATION_FAILED = "authentication failed"

_BOUNCE_LOCAL_PARTS = frozenset({"mailer-daemon", "postmaster"})
_AUTO_REPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-autoresponse")
_LIST_HEADERS = ("list-id", "list-unsubscribe")
_OOF_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto[- ]?reply|auto[- ]?response|out of (the )?office|abwesend|abwesenheitsnotiz)\s*:",
    re.IGNORECASE,
)
_WORD = re.compile(r"""\s*"?([a-z0-9_-]+)""", re.IGNORECASE)
_REPORT_TYPE = re.compile(r"""report-type\s*=\s*"?([a-z0-9-]+)"?""", re.IGNORECASE)


def _token(value: str) -> str:
    """The first word of a header value, lower-cased ("No (comment)" -> "no")."""
    match = _WORD.match(value)
    return match.group(1).lower() if match else ""


def _report_type(msg: InboundMessage) -> str | None:
    ctype = msg.headers.get("content-type", "")
    if not ctype.lower().lstrip().startswith("multipart/report"):
        return None
    match = _REPORT_TYPE.search(ctype)
    return match.group(1).lower() if match else ""


def _from_daemon(msg: InboundMessage) -> bool:
    if msg.sender is not None:
        return msg.sender.partition("@")[0] in _BOUNCE_LOCAL_PARTS
    # "From: MAILER-DAEMON" with no domain does not decode to an address
    words = re.split(r"[\s<>@\"()]+", msg.headers.get("from", "").lower())
    return any(w in _BOUNCE_LOCAL_PARTS for w in words)


def _null_return_path(msg: InboundMessage) -> bool:
    if "return-path" not in msg.headers:
        return False
    return msg.headers["return-path"].strip().strip("<>").strip() == ""


def is_automated(msg: InboundMessage) -> Automated | None:
    """What kind of automated message ``msg`` is, or None for mail a person wrote."""
    headers = msg.headers
    report = _report_type(msg)
    if report == "delivery-status" or _from_daemon(msg):
        return Automated.BOUNCE

    precedence = _token(headers.get("precedence", ""))
    if "auto-submitted" in headers and _token(headers["auto-submitted"]) != "no":
        return Automated.AUTO_REPLY
    if any(name in headers for name in _AUTO_REPLY_HEADERS):
        return Automated.AUTO_REPLY
    if precedence == "auto_reply" or report == "disposition-notification":
        return Automated.AUTO_REPLY
    if "x-auto-response-suppress" in headers and _OOF_SUBJECT.match(msg.subject):
        return Automated.AUTO_REPLY

    if any(name in headers for name in _LIST_HEADERS) or precedence in ("list", "bulk", "junk"):
        return Automated.LIST

    if _null_return_path(msg):
        return Automated.BOUNCE
    return None


def screen(msg: InboundMessage, registry: AgencyRegistry, settings: ScreeningSettings) -> Screening:
    """Who sent ``msg`` and whether a reply may ever go back to them."""
    automated = is_automated(msg)
    authenticated = msg.auth.passed
    if msg.sender is None:
        return Screening(automated=automated, authenticated=authenticated, distrust=NO_SENDER)
    domain = msg.sender.rpartition("@")[2]
    agencies = tuple(a.id for a in registry.by_domain(domain))
    distrust: str | None = None
    if not agencies:
        distrust = UNKNOWN_DOMAIN
    elif settings.require_authentication and not authenticated:
        distrust = AUTHENTICATION_FAILED
    return Screening(automated=automated, agencies=agencies, authenticated=authenticated, distrust=distrust)


__all__ = ["AUTHENTICATION_FAILED", "NO_SENDER", "UNKNOWN_DOMAIN", "is_automated", "screen"]
