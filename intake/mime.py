"""MIME decoding: the raw bytes of an email -> an InboundMessage (headers, body, files).

    decode(raw, trusted_authserv_ids=("mx.partnership.example.org",)) -> InboundMessage

Mail from outside is hostile until shown otherwise, so decoding never raises: a header that
cannot be read becomes None or "" and a problem is noted (``InboundMessage.problems``, plain
words with no personal data in them, for staff).

What is reached:
- every part with a file name or ``Content-Disposition: attachment``;
- inside forwarded messages (message/rfc822, or an attached ``.eml``), recursively:
  ``found_in="forwarded message"``;
- inside Outlook's winmail.dat (application/ms-tnef), read with tnefparse:
  ``found_in="winmail.dat"``; the TNEF body is ignored (the MIME body carries the text);
- images with a Content-ID or ``disposition: inline`` (signature logos) are kept but marked
  ``inline_image=True``, for the pipeline to ignore.

File names are decoded (RFC 2231, encoded-words) and made safe: base name only, no control or
format characters, no drive letters or leading dots, length capped. They are names to show a
person, never paths.

Limits (MimeLimits): a message too large, with too many parts, nested too deeply, with too
many attachments or too large an attachment stops there with a problem, never an exception.
A message too large, or with far more parts than the limit (counted before parsing, since
Python's parser is slow on hundreds of thousands of parts and recurses on deep nesting), keeps
its headers only; otherwise the files found before a limit was reached are kept.

Authentication-Results (RFC 8601) are believed only from the receiving MTA's own authserv-ids
(``trusted_authserv_ids``), and only the first (topmost) such header, which is the one the
receiving MTA prepended; the MTA must strip look-alikes that arrive from outside. An SPF or
DKIM "pass" for a domain that does not align with the From domain (equal, or one a subdomain
of the other) is recorded as "unaligned", so that AuthResult.passed cannot be satisfied by
someone else's domain; likewise DMARC for another header.from.

References: the msg-ids of ``References``, or of ``In-Reply-To`` when References is absent
(RFC 5322 3.6.4). Both raw headers stay in ``headers``.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import html
import mimetypes
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header, make_header
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import Message
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from typing import Any

from tnefparse.tnef import TNEF

from core.mail import Attachment, AuthResult, InboundMessage

MiB = 1024 * 1024


@dataclass(frozen=True)
class MimeLimits:
    max_bytes: int = 40 * MiB
    max_parts: int = 200
    max_depth: int = 8
    max_attachments: int = 30
    max_attachment_bytes: int = 25 * MiB
    #: body text kept for case matching and for staff; the rest is cut
    max_body_chars: int = 200_000
    #: header fields kept in InboundMessage.headers, and the length of each value
    max_headers: int = 300
    max_header_chars: int = 4_000


# -- the problems, in words staff read (never with personal data) -----------------------------

TOO_LARGE = "the message is too large"
TOO_MANY_PARTS = "the message has too many parts"
TOO_DEEP = "the message is nested too deeply"
TOO_MANY_ATTACHMENTS = "the message has too many attachments"
ATTACHMENT_TOO_LARGE = "an attachment is too large"
BAD_FROM = "the From header could not be read"
SEVERAL_FROM = "the From header names more than one address"
BAD_HEADERS = "some headers could not be read"
BAD_TNEF = "a winmail.dat could not be opened"
BAD_FORWARD = "a forwarded message could not be opened"
BODY_CUT = "the body text was cut short"
UNREADABLE = "the message could not be read"

FOUND_ATTACHED = "attachment"
FOUND_FORWARDED = "forwarded message"
FOUND_TNEF = "winmail.dat"

_PR_ATTACH_MIME_TAG = 0x370E
_TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
_MSG_ID = re.compile(r"<[^<>\s]+>")
_DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?)+$")
_MAX_FILENAME = 150
_DRIVE = re.compile(r"^[A-Za-z]:")


class _Stop(Exception):
    """The part count ran out: stop walking, keep what was found."""


@dataclass
class _Body:
    plain: str | None = None
    html: str | None = None


@dataclass
class _Walk:
    limits: MimeLimits
    parts: int = 0
    attachments: list[Attachment] = field(default_factory=list)
    bodies: list[_Body] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def note(self, problem: str) -> None:
        if problem not in self.problems:
            self.problems.append(problem)

    def count_part(self) -> None:
        self.parts += 1
        if self.parts > self.limits.max_parts:
            self.note(TOO_MANY_PARTS)
            raise _Stop

    def add(self, filename: str, content_type: str, data: bytes, found_in: str, inline_image: bool = False) -> None:
        if len(self.attachments) >= self.limits.max_attachments:
            self.note(TOO_MANY_ATTACHMENTS)
            return
        if len(data) > self.limits.max_attachment_bytes:
            self.note(ATTACHMENT_TOO_LARGE)
            return
        self.attachments.append(
            Attachment(
                filename=safe_filename(filename),
                content_type=content_type,
                data=data,
                found_in=found_in,
                inline_image=inline_image,
            )
        )


# -- the entry point ------------------------------------------------------------------------


def decode(
    raw: bytes, *, trusted_authserv_ids: Sequence[str] = (), limits: MimeLimits = MimeLimits()
) -> InboundMessage:
    """The message in ``raw``, decoded; never raises on malformed mail."""
    walk = _Walk(limits)
    headers_only = True  # the pipeline queues such a message with its problem
    if len(raw) > limits.max_bytes:
        walk.note(TOO_LARGE)
    elif _too_many_parts(raw, limits):
        walk.note(TOO_MANY_PARTS)
    else:
        headers_only = False
    parsing = _policy()
    msg = _parse(_header_block(raw[: limits.max_bytes]) if headers_only else raw, parsing)
    if msg is None and not headers_only:  # the parser is lenient; this is a last resort
        walk.note(UNREADABLE)
        headers_only = True
        msg = _parse(_header_block(raw), parsing)
    if msg is None:
        return InboundMessage(message_id=None, sender=None, problems=(*walk.problems, UNREADABLE))

    headers = _headers(msg, walk, parsing)
    sender, sender_name = _from(msg, walk)
    reply_to = _first_address(msg, "reply-to")
    subject = _clean_text(headers.get("subject", ""))
    if not headers_only:
        body = _Body()
        walk.bodies.append(body)
        try:
            _walk_part(msg, 0, FOUND_ATTACHED, body, walk)
        except _Stop:
            pass
        except Exception:  # a bug or an unforeseen malformation: keep what was found
            walk.note(UNREADABLE)
    return InboundMessage(
        message_id=_message_id(headers.get("message-id", "")),
        sender=sender,
        sender_name=sender_name,
        reply_to=reply_to,
        subject=subject,
        date=_date(headers.get("date", "")),
        references=_references(headers),
        body_text=_body_text(walk),
        attachments=tuple(walk.attachments),
        auth=authentication_results(
            _all_raw(msg, "authentication-results"), trusted_authserv_ids, sender.rpartition("@")[2] if sender else None
        ),
        headers=headers,
        problems=tuple(walk.problems),
    )


def _too_many_parts(raw: bytes, limits: MimeLimits) -> bool:
    """Far more parts than the limit, seen before parsing: Python's parser slows down badly on
    hundreds of thousands of parts, and recurses on deep nesting. Each part has at most one
    Content-Type and one delimiter line ("--boundary"); base64 never contains either."""
    return (
        raw.lower().count(b"content-type:") > 2 * limits.max_parts + 10
        or raw.count(b"\n--") > 10 * limits.max_parts + 10
    )


def _header_block(raw: bytes) -> bytes:
    for end in (b"\r\n\r\n", b"\n\n"):
        at = raw.find(end)
        if at >= 0:
            return raw[: at + len(end)]
    return raw


# -- headers --------------------------------------------------------------------------------


def _raw_items(msg: Message) -> list[tuple[str, str]]:
    try:
        return [(str(k), str(v)) for k, v in msg.raw_items()]
    except Exception:
        return []


def _all_raw(msg: Message, name: str) -> list[str]:
    return [_unfold(v) for k, v in _raw_items(msg) if k.lower() == name]


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n[ \t]+", " ", value).strip()


def _headers(msg: Message, walk: _Walk, parsing: policy.EmailPolicy[Any] = policy.default) -> dict[str, str]:
    """Lower-cased names -> the first value, decoded (encoded-words) where possible."""
    found: dict[str, str] = {}
    for name, raw in _raw_items(msg)[: walk.limits.max_headers]:
        key = name.lower().strip()
        if key in found:
            continue
        try:
            value = _header_value(parsing, name, raw)
        except Exception:
            walk.note(BAD_HEADERS)
            value = _unfold(raw)
        found[key] = _clean_text(value)[: walk.limits.max_header_chars]
    return found


def _header_value(parsing: policy.EmailPolicy[Any], name: str, raw: str) -> str:
    """``str(parsing.header_fetch_parse(name, raw))``. An unstructured header (Subject,
    Received, X-...) in plain ASCII without encoded words parses to its raw value without line
    breaks, so that is returned without building the parse tree (most of a message's headers;
    the registry's parse is the costliest part of decoding one)."""
    if raw.isascii() and "=?" not in raw and _unstructured(name):
        return raw.replace("\r", "").replace("\n", "")
    return str(parsing.header_fetch_parse(name, raw))


def _unstructured(name: str) -> bool:
    kind = _REGISTRY.registry.get(name.lower(), _REGISTRY.default_class)
    return issubclass(kind, UnstructuredHeader)


_REGISTRY = HeaderRegistry()
#: the control characters (Unicode category Cc: U+0000-U+001F, U+007F-U+009F)
_CONTROLS = [*range(0x20), *range(0x7F, 0xA0)]
_CONTROLS_TO_SPACE = dict.fromkeys(_CONTROLS, " ")
_CONTROLS_BUT_LINES_DROPPED = dict.fromkeys((c for c in _CONTROLS if chr(c) not in "\n\t"), None)


def _clean_text(text: str) -> str:
    """One line, without control characters (each one a space)."""
    return text.translate(_CONTROLS_TO_SPACE).strip()


def _address(value: Address) -> str | None:
    spec = (value.addr_spec or "").strip().lower()
    local, at, domain = spec.rpartition("@")
    if not at or not local or not _DOMAIN.match(domain.rstrip(".")):
        return None
    if any(unicodedata.category(c) in ("Cc", "Cf") or (c.isspace() and not local.startswith('"')) for c in local):
        return None
    return f"{local}@{domain.rstrip('.')}"


def _addresses(msg: Message, name: str) -> list[Address] | None:
    try:
        header: Any = msg[name]
    except Exception:
        return None
    if header is None:
        return []
    try:
        return list(header.addresses)
    except Exception:
        return None


def _from(msg: Message, walk: _Walk) -> tuple[str | None, str | None]:
    if "from" not in {k.lower() for k, _ in _raw_items(msg)}:
        return None, None
    addresses = _addresses(msg, "from")
    if not addresses:
        walk.note(BAD_FROM)
        return None, None
    if len(addresses) > 1:
        walk.note(SEVERAL_FROM)
        return None, None
    sender = _address(addresses[0])
    if sender is None:
        walk.note(BAD_FROM)
        return None, None
    name = _clean_text(addresses[0].display_name or "")
    return sender, name or None


def _first_address(msg: Message, name: str) -> str | None:
    for address in _addresses(msg, name) or []:
        found = _address(address)
        if found:
            return found
    return None


def _message_id(value: str) -> str | None:
    match = _MSG_ID.search(value)
    if match:
        return match.group(0)[:998]
    value = value.strip()
    if value and not any(c.isspace() for c in value):
        return f"<{value[:996]}>"
    return None


def _references(headers: dict[str, str]) -> tuple[str, ...]:
    ids = _MSG_ID.findall(headers.get("references", "")) or _MSG_ID.findall(headers.get("in-reply-to", ""))
    return tuple(ids[-100:])


def _date(value: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


# -- the MIME tree --------------------------------------------------------------------------


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:
        return "application/octet-stream"


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if name is None:
        return None
    return decode_words(str(name))


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        return None


def _payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        return b""
    return data if isinstance(data, bytes) else b""


def _text(part: Message) -> str:
    data = _payload(part)
    try:
        charset = part.get_content_charset() or "utf-8"
        return data.decode(charset, errors="replace")
    except (LookupError, UnicodeError):
        return data.decode("utf-8", errors="replace")


def _walk_part(part: Message, depth: int, found_in: str, body: _Body, walk: _Walk) -> None:
    walk.count_part()
    if depth > walk.limits.max_depth:
        walk.note(TOO_DEEP)
        return
    ctype = _content_type(part)
    if part.is_multipart():
        if ctype == "message/rfc822" or ctype.startswith("message/"):
            inner = part.get_payload()
            if ctype == "message/rfc822" and isinstance(inner, list) and inner and isinstance(inner[0], Message):
                _forwarded(_base64_message(part, inner[0]), depth + 1, walk)
            return  # message/delivery-status and the like: headers, nothing to reach
        payload = part.get_payload()
        for sub in payload if isinstance(payload, list) else []:
            if isinstance(sub, Message):
                _walk_part(sub, depth + 1, found_in, body, walk)
        return

    filename = _filename(part)
    disposition = _disposition(part)
    if ctype in _TNEF_TYPES or (filename or "").strip().lower() == "winmail.dat":
        _tnef(_payload(part), filename or "winmail.dat", depth + 1, walk)
        return
    if ctype == "message/rfc822" or (filename or "").lower().endswith(".eml"):
        # not parsed as a message by the parser (an encoded message/rfc822, or an .eml file)
        data = _payload(part)
        inner_msg = _parse(data) if data else None
        if inner_msg is not None and _looks_like_message(inner_msg):
            _forwarded(inner_msg, depth + 1, walk)
            return
    if filename is None and disposition != "attachment" and ctype in ("text/plain", "text/html"):
        if ctype == "text/plain" and body.plain is None:
            body.plain = _text(part)
        elif ctype == "text/html" and body.html is None:
            body.html = _text(part)
        return
    inline_image = ctype.startswith("image/") and (part.get("content-id") is not None or disposition == "inline")
    if filename is None and disposition != "attachment" and not inline_image:
        return  # an unnamed inline part of another type: nothing a person sent as a file
    walk.add(filename or "", ctype, _payload(part), found_in, inline_image)


def _base64_message(part: Message, inner: Message) -> Message:
    """A message/rfc822 sent base64-encoded (against RFC 2046, but some clients do): the parser
    reads the base64 lines as a body without headers; decode them and parse again."""
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    if encoding != "base64" or inner.keys() or inner.is_multipart():
        return inner
    text = inner.get_payload()
    try:
        data = base64.b64decode(str(text), validate=False)
    except (ValueError, TypeError):
        return inner
    return _parse(data) or inner


class _HeaderCache(HeaderRegistry):
    """policy.default's header factory, each (name, value) parsed once per message: the parser
    and the walk ask for the same Content-Type several times, and the header objects are
    immutable. One per decode (not shared between threads)."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[tuple[str, str], BaseHeader] = {}

    def __call__(self, name: str, value: str) -> BaseHeader:
        key = (name, value)
        found = self._made.get(key)
        if found is None:
            found = self._made[key] = super().__call__(name, value)
        return found


def _policy() -> policy.EmailPolicy[Any]:
    return policy.default.clone(header_factory=_HeaderCache())


def _parse(data: bytes, parsing: policy.EmailPolicy[Any] | None = None) -> Message | None:
    try:
        parsed: Message = BytesParser(policy=parsing or _policy()).parsebytes(data)
        return parsed
    except Exception:
        return None


def _looks_like_message(msg: Message) -> bool:
    names = {k.lower() for k, _ in _raw_items(msg)}
    return bool(names & {"from", "subject", "message-id", "date"})


def _forwarded(inner: Message, depth: int, walk: _Walk) -> None:
    body = _Body()
    walk.bodies.append(body)
    try:
        _walk_part(inner, depth, FOUND_FORWARDED, body, walk)
    except _Stop:
        raise
    except Exception:
        walk.note(BAD_FORWARD)


def _tnef(data: bytes, filename: str, depth: int, walk: _Walk) -> None:
    """The files in a winmail.dat; the winmail.dat itself when it cannot be opened."""
    try:
        tnef = TNEF(data, do_checksum=False)
        _tnef_attachments(tnef, depth, walk)
    except _Stop:
        raise
    except Exception:
        walk.note(BAD_TNEF)
        walk.add(filename, "application/ms-tnef", data, FOUND_ATTACHED)


def _tnef_attachments(tnef: Any, depth: int, walk: _Walk) -> None:
    if depth > walk.limits.max_depth:
        walk.note(TOO_DEEP)
        return
    for item in tnef.attachments:
        walk.count_part()
        embedded = getattr(item, "embed", None)
        if embedded is not None:
            _tnef_attachments(embedded, depth + 1, walk)
            continue
        name = _tnef_name(item)
        data = item.data if isinstance(item.data, bytes) else b""
        walk.add(name, _tnef_type(item, name), data, FOUND_TNEF)


def _tnef_type(item: Any, name: str) -> str:
    for prop in getattr(item, "mapi_attrs", ()):
        if getattr(prop, "name", None) == _PR_ATTACH_MIME_TAG:
            with contextlib.suppress(Exception):
                value = str(prop.data).strip("\x00").strip().lower()
                if re.fullmatch(r"[a-z0-9.+-]+/[a-z0-9.+-]+", value) and value != "application/octet-stream":
                    return value
    return mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"


def _tnef_name(item: Any) -> str:
    name: object = None
    with contextlib.suppress(Exception):  # tnefparse decodes the short name as UTF-8; Outlook writes cp1252
        name = item.long_filename()
    if isinstance(name, str) and name.strip("\x00").strip():
        return name.strip("\x00")
    raw = getattr(item, "_name", b"")
    if isinstance(raw, bytes):
        return raw.decode("cp1252", errors="replace").strip("\x00")
    return str(raw).strip("\x00")


# -- file names -----------------------------------------------------------------------------


def decode_words(text: str) -> str:
    """``text`` with any RFC 2047 encoded-words decoded (left as it is when they are broken)."""
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except Exception:
        return text


def safe_filename(name: str) -> str:
    """A name to show a person: never a path.

    Base name only (after "/" and "\\"), no drive letter, no control or format characters
    (a right-to-left override can disguise "exe.docx"), no leading dots or trailing dots and
    spaces, at most 150 characters with the extension kept; "attachment" when nothing is left.
    """
    name = unicodedata.normalize("NFC", decode_words(name))
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp"))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _DRIVE.sub("", name).replace(":", "_")
    name = " ".join(name.split())
    name = name.lstrip(". ").rstrip(". ")
    if len(name) > _MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10 and stem:
            name = stem[: _MAX_FILENAME - len(ext) - 1].rstrip(". ") + "." + ext
        else:
            name = name[:_MAX_FILENAME].rstrip(". ")
    return name or "attachment"


# -- body -----------------------------------------------------------------------------------

_DROP = re.compile(r"<(script|style|head|title)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_BREAK = re.compile(r"<\s*(br|/p|/div|/tr|/li|/h[1-6]|/table|p|div|tr|li)\b[^>]*>", re.IGNORECASE)
_CELL = re.compile(r"<\s*/?t[dh]\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


def html_to_text(markup: str) -> str:
    """Crude text of an HTML body: tags stripped, entities decoded, never rendered."""
    text = _COMMENT.sub(" ", markup)
    text = _DROP.sub(" ", text)
    text = _BREAK.sub("\n", text)
    text = _CELL.sub(" ", text)
    text = _TAG.sub("", text)
    text = html.unescape(text)
    lines = (" ".join(line.split()) for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _body_text(walk: _Walk) -> str:
    texts = []
    for body in walk.bodies:
        if body.plain is not None and body.plain.strip():
            texts.append(body.plain.strip())
        elif body.html is not None:
            texts.append(html_to_text(body.html))
    text = "\n\n".join(t for t in texts if t)
    text = text.translate(_CONTROLS_BUT_LINES_DROPPED)  # control characters but line breaks and tabs
    if len(text) > walk.limits.max_body_chars:
        walk.note(BODY_CUT)
        text = text[: walk.limits.max_body_chars]
    return text


# -- Authentication-Results (RFC 8601) ------------------------------------------------------


def _strip_comments(value: str) -> str:
    out: list[str] = []
    depth = 0
    quoted = False
    escaped = False
    for c in value:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(c)
            continue
        if c == "\\":
            escaped = True
            if depth == 0:
                out.append(c)
            continue
        if quoted:
            if c == '"':
                quoted = False
            out.append(c)
        elif c == "(":
            depth += 1
        elif c == ")" and depth:
            depth -= 1
        elif depth == 0:
            if c == '"':
                quoted = True
            out.append(c)
    return "".join(out)


def _split_semicolons(value: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for c in value:
        if c == '"':
            quoted = not quoted
        if c == ";" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
    parts.append("".join(current))
    return parts


_RESINFO = re.compile(r"^\s*([a-z0-9_-]+)(?:\s*/\s*\d+)?\s*=\s*([a-z0-9_-]+)(.*)$", re.DOTALL)
_PROP = re.compile(r"([a-z0-9_-]+)\.([a-z0-9_.-]+)\s*=\s*(\"[^\"]*\"|[^\s;]+)")


def parse_authentication_results(value: str) -> tuple[str, list[tuple[str, str, dict[str, str]]]]:
    """(authserv-id, [(method, result, {ptype.property: value})]) of one header's value."""
    parts = _split_semicolons(_strip_comments(value))
    head = parts[0].split()
    authserv_id = head[0].lower() if head else ""
    results: list[tuple[str, str, dict[str, str]]] = []
    for part in parts[1:]:
        match = _RESINFO.match(part.lower())
        if not match:
            continue
        props = {f"{t}.{p}": v.strip('"') for t, p, v in _PROP.findall(match.group(3))}
        results.append((match.group(1), match.group(2), props))
    return authserv_id, results


def _domain_of(value: str | None) -> str | None:
    if not value:
        return None
    return value.rpartition("@")[2].strip().strip("<>").rstrip(".").lower() or None


def _aligned(domain: str, from_domain: str) -> bool:
    return domain == from_domain or domain.endswith("." + from_domain) or from_domain.endswith("." + domain)


def _verdict(candidates: list[tuple[str, str | None]], from_domain: str | None, *, exact: bool = False) -> str | None:
    """One method's result: "pass" when a pass aligns with the From domain, else the first."""
    if not candidates:
        return None
    unaligned = False
    for result, domain in candidates:
        if result != "pass":
            continue
        if domain is None or from_domain is None:
            return "pass"
        if (domain == from_domain) if exact else _aligned(domain, from_domain):
            return "pass"
        unaligned = True
    return "unaligned" if unaligned else candidates[0][0]


def authentication_results(
    values: Sequence[str], trusted_authserv_ids: Sequence[str], from_domain: str | None
) -> AuthResult:
    """The verdicts of the first header (top down) whose authserv-id is trusted; nothing else."""
    trusted = {t.strip().lower() for t in trusted_authserv_ids if t.strip()}
    if not trusted:
        return AuthResult()
    for value in values:
        authserv_id, results = parse_authentication_results(value)
        if authserv_id not in trusted:
            continue
        spf = [(r, _domain_of(p.get("smtp.mailfrom") or p.get("smtp.helo"))) for m, r, p in results if m == "spf"]
        dkim = [(r, _domain_of(p.get("header.d") or p.get("header.i"))) for m, r, p in results if m == "dkim"]
        dmarc = [(r, _domain_of(p.get("header.from"))) for m, r, p in results if m == "dmarc"]
        return AuthResult(
            spf=_verdict(spf, from_domain),
            dkim=_verdict(dkim, from_domain),
            dmarc=_verdict(dmarc, from_domain, exact=True),
            authserv_id=authserv_id,
        )
    return AuthResult()


__all__ = [
    "ATTACHMENT_TOO_LARGE",
    "BAD_FROM",
    "BAD_TNEF",
    "TOO_DEEP",
    "TOO_LARGE",
    "TOO_MANY_ATTACHMENTS",
    "TOO_MANY_PARTS",
    "MimeLimits",
    "authentication_results",
    "decode",
    "decode_words",
    "html_to_text",
    "parse_authentication_results",
    "safe_filename",
]
