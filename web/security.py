"""Passwords, tokens, the security headers on every response, and safe downloads.

Passwords: argon2id (argon2-cffi's PasswordHasher, RFC 9106's low-memory profile), at least
12 characters and no composition rules (NIST SP 800-63B); a one-time password is 100 bits
from ``secrets``. Session ids are 256 random bits; the database keeps only their SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Awaitable, Callable, MutableMapping
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from starlette.datastructures import MutableHeaders
from starlette.responses import Response

MIN_PASSWORD_LENGTH = 12
#: long passphrases are welcome; a megabyte is not
MAX_PASSWORD_LENGTH = 256
ONE_TIME_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# -- passwords ---------------------------------------------------------------------------------


def password_problem(password: str) -> str | None:
    """Why a new password is refused (a message for the person), or None when it is fine."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Password must be {MIN_PASSWORD_LENGTH} characters or more"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Password must be {MAX_PASSWORD_LENGTH} characters or fewer"
    return None


def one_time_password() -> str:
    """Four groups of five easy-to-read characters (about 99 bits), e.g. ``k7mq2-x9pzt-rw4hn-c3vjd``."""
    return "-".join("".join(secrets.choice(ONE_TIME_ALPHABET) for _ in range(5)) for _ in range(4))


def hash_password(hasher: PasswordHasher, password: str) -> str:
    return str(hasher.hash(password))


def verify_password(hasher: PasswordHasher, password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches. With no hash (no such user) a dummy hash is checked, so an
    unknown account costs the same time as a wrong password."""
    target = password_hash if password_hash is not None else _dummy_hash(hasher)
    try:
        ok = bool(hasher.verify(target, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    return ok and password_hash is not None


def needs_rehash(hasher: PasswordHasher, password_hash: str) -> bool:
    try:
        return bool(hasher.check_needs_rehash(password_hash))
    except InvalidHashError:
        return True


@lru_cache(maxsize=8)
def _dummy_hash(hasher: PasswordHasher) -> str:
    return str(hasher.hash(secrets.token_urlsafe(16)))


# -- tokens ------------------------------------------------------------------------------------


def new_session_id() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def account_key(email: str) -> str:
    """The per-account limit's key: the SHA-256 of the lower-cased email (nothing typed is kept)."""
    return sha256_hex(email.strip().lower())


def tokens_match(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


#: a plain address: RFC 5322's atext before the @, letters, digits and hyphens in the domain's labels
EMAIL_SHAPE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*")


def looks_like_email(text: str) -> bool:
    return len(text) <= 254 and EMAIL_SHAPE.fullmatch(text) is not None


def is_loopback_url(url: str) -> bool:
    return (urlsplit(url).hostname or "") in LOOPBACK_HOSTS


# -- headers -----------------------------------------------------------------------------------

STATIC_PREFIXES = ("/assets/", "/govuk/", "/static/")
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()"
)


def content_security_policy(nonce: str) -> str:
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
            "base-uri 'none'",
        )
    )


class SecurityHeaders:
    """Pure ASGI middleware, outermost (outside Starlette's error handling, so a 500 page gets
    them too). A fresh CSP nonce per request is left in ``scope["state"]["csp_nonce"]``
    (``request.state.csp_nonce``)."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        static = str(scope.get("path", "")).startswith(STATIC_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                # a route's own policy (a download's "sandbox") is added to ours
                own = headers.get("Content-Security-Policy")
                policy = content_security_policy(nonce)
                headers["Content-Security-Policy"] = f"{policy}; {own}" if own else policy
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "no-referrer"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                headers["Cross-Origin-Resource-Policy"] = "same-origin"
                headers["Permissions-Policy"] = PERMISSIONS_POLICY
                if static:
                    headers["Cache-Control"] = "public, max-age=86400"
                else:
                    headers["Cache-Control"] = "no-store"
                    headers["Pragma"] = "no-cache"
                if self.hsts:
                    headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
            await send(message)

        await self.app(scope, receive, send_with_headers)


# -- downloads ---------------------------------------------------------------------------------

DOWNLOAD_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pdf": "application/pdf",
}
MAX_FILENAME = 150


def safe_filename(name: str | None, default: str = "download") -> str:
    """A name safe for Content-Disposition and a person's Downloads folder: no directories, no
    control characters or quotes, no leading dots or formula characters, at most 150 characters."""
    text = unicodedata.normalize("NFC", name or "")
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = re.sub(r'["<>:|?*;]', "_", text).strip().lstrip(".=+-@ ")
    if len(text) > MAX_FILENAME:
        stem, dot, ext = text.rpartition(".")
        text = (stem[: MAX_FILENAME - len(ext) - 1] + "." + ext) if dot and len(ext) <= 10 else text[:MAX_FILENAME]
    return text or default


def download_response(data: bytes, filename: str | None) -> Response:
    """The bytes as an attachment (never rendered inline), with a safe name. The type comes from
    an allow-list by extension, else application/octet-stream."""
    name = safe_filename(filename)
    ascii_name = name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    ext = ("." + name.rpartition(".")[2].lower()) if "." in name else ""
    media_type = DOWNLOAD_TYPES.get(ext, "application/octet-stream")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
    return Response(
        content=data,
        media_type=media_type,
        headers={"Content-Disposition": disposition, "Content-Security-Policy": "sandbox"},
    )
