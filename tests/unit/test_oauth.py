"""OAuth2 tokens for XOAUTH2: from a command (no shell) or from Entra client credentials,
cached, refreshed five minutes before they expire, and never quoted in an error."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from core.errors import ConfigError
from intake.errors import MailboxRefused, MailboxUnavailable
from intake.oauth import CommandTokenProvider, EntraTokenProvider, token_provider_for
from intake.settings import OAuth2Settings


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def token_command(tmp_path: Path, body: str) -> str:
    """A command running a small Python script; ``runs`` counts its runs in a file."""
    script = tmp_path / "token.py"
    script.write_text(
        "import pathlib, sys, time\n"
        f"runs = pathlib.Path({str(tmp_path / 'runs')!r})\n"
        "n = int(runs.read_text()) + 1 if runs.exists() else 1\n"
        "runs.write_text(str(n))\n" + body
    )
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"


def runs(tmp_path: Path) -> int:
    return int((tmp_path / "runs").read_text())


def test_a_bare_token_is_cached_for_the_default_lifetime_less_five_minutes(tmp_path):
    clock = Clock()
    provider = CommandTokenProvider(token_command(tmp_path, "print(f'token-{n}')"), now=clock)

    first = provider.token()
    clock.t += 44 * 60
    cached = provider.token()
    clock.t += 2 * 60  # 46 minutes: within five minutes of the assumed 50
    refreshed = provider.token()

    assert ("token-1", "token-1", "token-2") == (first, cached, refreshed)
    assert 2 == runs(tmp_path)


def test_a_json_token_is_refreshed_five_minutes_before_it_expires(tmp_path):
    clock = Clock()
    body = "import json; print(json.dumps({'access_token': f'jt-{n}', 'expires_in': 600}))"
    provider = CommandTokenProvider(token_command(tmp_path, body), now=clock)

    first = provider.token()
    clock.t += 299
    cached = provider.token()
    clock.t += 2
    refreshed = provider.token()

    assert ("jt-1", "jt-1", "jt-2") == (first, cached, refreshed)


def test_the_command_runs_without_a_shell():
    provider = CommandTokenProvider("printf %s $HOME")

    assert "$HOME" == provider.token()


def test_a_failing_command_is_refused_without_quoting_its_output(tmp_path):
    body = "print('secret-looking-output-9f2'); print('oops', file=sys.stderr); sys.exit(3)"
    provider = CommandTokenProvider(token_command(tmp_path, body))

    with pytest.raises(MailboxRefused, match="exit status 3") as refused:
        provider.token()

    assert "secret-looking-output-9f2" not in str(refused.value)


def test_a_missing_program_is_refused():
    with pytest.raises(MailboxRefused, match="could not be run"):
        CommandTokenProvider("/nonexistent/get-token --now").token()


def test_a_command_that_hangs_is_unavailable(tmp_path):
    provider = CommandTokenProvider(token_command(tmp_path, "time.sleep(5)"), timeout_s=0.3)

    with pytest.raises(MailboxUnavailable, match="did not finish"):
        provider.token()


@pytest.mark.parametrize(
    "body",
    ["print('')", "print('{\"expires_in\": 60}')", "print('{broken json')", "print('two words')"],
    ids=["empty", "json-without-token", "malformed-json", "two-words"],
)
def test_output_without_a_usable_token_is_refused(tmp_path, body):
    with pytest.raises(MailboxRefused):
        CommandTokenProvider(token_command(tmp_path, body)).token()


def test_an_empty_command_is_a_config_error():
    with pytest.raises(ConfigError):
        CommandTokenProvider("  ")


# ---- Entra --------------------------------------------------------------------------------


class FakeMsalApp:
    instances: ClassVar[list[FakeMsalApp]] = []
    answers: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, client_id: str, authority: str, client_credential: str) -> None:
        self.client_id, self.authority, self.secret = client_id, authority, client_credential
        self.calls: list[list[str]] = []
        FakeMsalApp.instances.append(self)

    def acquire_token_for_client(self, scopes: list[str]) -> dict[str, Any]:
        self.calls.append(scopes)
        return FakeMsalApp.answers.pop(0)


@pytest.fixture
def fake_msal(monkeypatch):
    import msal

    FakeMsalApp.instances, FakeMsalApp.answers = [], []
    monkeypatch.setattr(msal, "ConfidentialClientApplication", FakeMsalApp)
    return FakeMsalApp


def test_entra_tokens_are_cached_until_five_minutes_before_expiry(fake_msal):
    fake_msal.answers = [{"access_token": "e1", "expires_in": 3600}, {"access_token": "e2", "expires_in": 3600}]
    clock = Clock()
    provider = EntraTokenProvider("tenant-1", "client-1", "client-secret-x7", "scope/.default", now=clock)

    first = provider.token()
    clock.t += 3600 - 301
    cached = provider.token()
    clock.t += 2
    refreshed = provider.token()

    assert ("e1", "e1", "e2") == (first, cached, refreshed)
    [app] = fake_msal.instances
    assert ("client-1", "https://login.microsoftonline.com/tenant-1") == (app.client_id, app.authority)
    assert [["scope/.default"], ["scope/.default"]] == app.calls


def test_an_entra_refusal_is_refused_without_the_secret(fake_msal):
    fake_msal.answers = [
        {"error": "invalid_client", "error_description": "bad secret client-secret-x7", "error_codes": [7000215]}
    ]
    provider = EntraTokenProvider("tenant-1", "client-1", "client-secret-x7")

    with pytest.raises(MailboxRefused, match="invalid_client") as refused:
        provider.token()

    assert "client-secret-x7" not in str(refused.value)
    assert "client-secret-x7" not in repr(provider)


# ---- from settings ------------------------------------------------------------------------


def test_no_oauth2_settings_means_no_provider():
    assert token_provider_for(None, {}) is None


def test_a_token_command_in_the_settings_gives_a_command_provider():
    provider = token_provider_for(OAuth2Settings(token_command="echo t"), {})

    assert isinstance(provider, CommandTokenProvider)


def test_entra_settings_take_the_secret_from_the_environment(fake_msal):
    settings = OAuth2Settings(tenant_id="tenant-1", client_id="client-1")

    provider = token_provider_for(settings, {"INTAKE_OAUTH2_CLIENT_SECRET": "s3"})

    assert isinstance(provider, EntraTokenProvider)
    with pytest.raises(ConfigError, match="INTAKE_OAUTH2_CLIENT_SECRET"):
        token_provider_for(settings, {})


def test_oauth2_settings_without_a_source_are_a_config_error():
    with pytest.raises(ConfigError, match="token_command"):
        token_provider_for(OAuth2Settings(), {})
