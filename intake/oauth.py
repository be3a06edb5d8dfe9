"""OAuth2 access tokens for XOAUTH2 logins (IMAP, SMTP), from a command or Microsoft Entra.

    TokenProvider            token() -> str, fresh enough to log in with now
    CommandTokenProvider     runs a configured command (no shell); stdout is the token, or JSON
                             {"access_token": ..., "expires_in": seconds}
    EntraTokenProvider       client credentials with msal (tenant, client id, secret, scope)
    token_provider_for       the provider the [imap.oauth2] / [smtp.oauth2] settings ask for

Tokens are cached and refreshed REFRESH_MARGIN_S before they expire. Errors never carry a
token or a secret: a command's output and stderr are not quoted.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from core.errors import ConfigError
from intake.errors import MailboxRefused, MailboxUnavailable
from intake.settings import OAuth2Settings

#: refresh this long before a token expires
REFRESH_MARGIN_S = 5 * 60.0
#: how long a token is taken to live when its source does not say
DEFAULT_LIFETIME_S = 50 * 60.0
#: where the Entra client secret comes from (never the config file)
CLIENT_SECRET_ENV = "INTAKE_OAUTH2_CLIENT_SECRET"  # noqa: S105 - a variable name

Now = Callable[[], float]


class TokenProvider(Protocol):
    def token(self) -> str:
        """An access token valid for at least a few minutes more."""
        ...


class _Cached:
    """A token and the monotonic time after which it must be fetched again."""

    def __init__(self, now: Now) -> None:
        self._now = now
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = threading.Lock()

    def get(self, fetch: Callable[[], tuple[str, float | None]]) -> str:
        with self._lock:
            if self._token is not None and self._now() < self._refresh_at:
                return self._token
            token, lifetime = fetch()
            life = DEFAULT_LIFETIME_S if lifetime is None else lifetime
            self._token = token
            self._refresh_at = self._now() + max(0.0, life - REFRESH_MARGIN_S)
            return token


class CommandTokenProvider:
    """Runs ``command`` (split with shlex, no shell) for a token, at most once per lifetime.

    The command prints the bare token, or a JSON object with ``access_token`` and optionally
    ``expires_in`` (seconds). A command that cannot run, fails or prints nothing usable:
    MailboxRefused; one that does not finish within ``timeout_s``: MailboxUnavailable."""

    def __init__(self, command: str, *, timeout_s: float = 30.0, now: Now = time.monotonic) -> None:
        self._argv = shlex.split(command)
        if not self._argv:
            raise ConfigError("oauth2.token_command is empty")
        self._timeout_s = timeout_s
        self._cache = _Cached(now)

    @property
    def _program(self) -> str:
        return self._argv[0]

    def token(self) -> str:
        return self._cache.get(self._run)

    def _run(self) -> tuple[str, float | None]:
        try:
            done = subprocess.run(
                self._argv, capture_output=True, timeout=self._timeout_s, check=False, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired as exc:
            raise MailboxUnavailable(
                f"oauth2 token command {self._program!r} did not finish within {self._timeout_s:g} s"
            ) from exc
        except OSError as exc:
            raise MailboxRefused(
                f"oauth2 token command {self._program!r} could not be run: {exc.strerror or type(exc).__name__}"
            ) from exc
        if done.returncode != 0:
            raise MailboxRefused(
                f"oauth2 token command {self._program!r} failed with exit status {done.returncode}"
                " (its output is not shown: it may hold secrets)"
            )
        return _parse_token_output(done.stdout, self._program)


def _parse_token_output(stdout: bytes, program: str) -> tuple[str, float | None]:
    try:
        text = stdout.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise MailboxRefused(f"oauth2 token command {program!r} printed something that is not UTF-8") from exc
    if not text:
        raise MailboxRefused(f"oauth2 token command {program!r} printed no token")
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:  # not chained: the error keeps the whole output
            raise MailboxRefused(f"oauth2 token command {program!r} printed malformed JSON") from None
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token.strip():
            raise MailboxRefused(f"oauth2 token command {program!r} printed JSON without an access_token")
        return token.strip(), _lifetime(data.get("expires_in"))
    if len(text.split()) != 1:
        raise MailboxRefused(f"oauth2 token command {program!r} printed more than one word")
    return text, None


def _lifetime(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


class EntraTokenProvider:
    """Client-credentials tokens from Microsoft Entra ID (msal), cached until 5 minutes before
    they expire. Refusals and network failures never quote the client secret."""

    def __init__(
        self,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        scope: str = "https://outlook.office365.com/.default",
        *,
        now: Now = time.monotonic,
        authority_host: str = "https://login.microsoftonline.com",
    ) -> None:
        self._tenant_id = tenant_id
        self._client_id = client_id
        self._secret = client_secret
        self._scope = scope
        self._authority = f"{authority_host.rstrip('/')}/{tenant_id}"
        self._app: Any = None
        self._cache = _Cached(now)

    def __repr__(self) -> str:  # never show the secret
        return (
            f"EntraTokenProvider(tenant_id={self._tenant_id!r}, client_id={self._client_id!r}, scope={self._scope!r})"
        )

    def token(self) -> str:
        return self._cache.get(self._acquire)

    def _acquire(self) -> tuple[str, float | None]:
        import msal

        try:
            if self._app is None:
                self._app = msal.ConfidentialClientApplication(
                    self._client_id, authority=self._authority, client_credential=self._secret
                )
            result = self._app.acquire_token_for_client(scopes=[self._scope])
        except ValueError as exc:  # msal: a malformed authority or tenant
            raise MailboxRefused(f"entra: tenant {self._tenant_id!r} refused: {type(exc).__name__}") from None
        except Exception as exc:  # requests' connection errors, timeouts
            raise MailboxUnavailable(f"entra: token endpoint unreachable ({type(exc).__name__})") from None
        if not isinstance(result, dict):
            raise MailboxUnavailable("entra: no answer from the token endpoint")
        token = result.get("access_token")
        if not isinstance(token, str) or not token:
            error = str(result.get("error") or "no access_token")
            codes = result.get("error_codes") or []
            detail = f" (AADSTS{codes[0]})" if codes else ""
            raise MailboxRefused(f"entra: client {self._client_id!r} got no token: {error}{detail}")
        return token, _lifetime(result.get("expires_in"))


def token_provider_for(oauth: OAuth2Settings | None, environ: Mapping[str, str]) -> TokenProvider | None:
    """The provider the settings ask for; None when no OAuth2 is configured."""
    if oauth is None:
        return None
    if oauth.token_command:
        return CommandTokenProvider(oauth.token_command)
    if oauth.tenant_id and oauth.client_id:
        secret = environ.get(CLIENT_SECRET_ENV)
        if not secret:
            raise ConfigError(f"oauth2 with tenant_id and client_id needs the client secret in {CLIENT_SECRET_ENV}")
        return EntraTokenProvider(oauth.tenant_id, oauth.client_id, secret, oauth.scope)
    raise ConfigError("oauth2 needs token_command, or tenant_id and client_id")
