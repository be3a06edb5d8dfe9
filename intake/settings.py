"""Settings: config.toml (or --config / INTAKE_CONFIG) -> a frozen Settings value.

Read once by the composition root; adapters get the parts they need. Unknown or malformed
settings are refused with a message that names the setting (never a value: secrets may sit
beside it).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from core.agencies import Agency, AgencyRegistry
from core.catalogue import Catalogue, load_catalogue
from core.errors import ConfigError
from core.settings import FormsContext, FormsSettings, QualitySettings, ReadingLimits

ENV_CONFIG = "INTAKE_CONFIG"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServiceSettings(_Section):
    #: "development" runs on the embedded defaults; "production" refuses SQLite and a missing key
    mode: Literal["development", "production"] = "development"
    #: where the embedded defaults keep their data: var/mail (Maildir inbox), var/outbox,
    #: var/blobs, var/intake.sqlite3
    data_dir: str = "var"
    timezone: str = "Europe/London"
    #: the From of replies when no [smtp] section names one (the embedded Maildir outbox)
    reply_from: str = "safeguarding-reviews@partnership.example.org"


class OAuth2Settings(_Section):
    """XOAUTH2 for IMAP/SMTP: a token from a command, or from Microsoft Entra client credentials."""

    token_command: str | None = None
    tenant_id: str | None = None
    client_id: str | None = None
    #: the client secret comes from INTAKE_OAUTH2_CLIENT_SECRET, never from the file
    scope: str = "https://outlook.office365.com/.default"


class ImapSettings(_Section):
    """The partnership's mailbox. No [imap] section: the embedded Maildir inbox (var/mail)."""

    name: str = "default"
    host: str
    port: int = 993
    tls: Literal["ssl", "starttls", "none"] = "ssl"
    username: str
    #: better from INTAKE_IMAP_PASSWORD; refused in the file in production mode
    password: SecretStr | None = None
    oauth2: OAuth2Settings | None = None
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    exceptions_folder: str = "Exceptions"
    timeout_s: float = 30.0
    batch_size: int = 50
    idle: bool = True
    #: a CA bundle for a private certificate authority (tests use a self-signed one)
    ca_file: str | None = None


class SmtpSettings(_Section):
    """Where replies go out. No [smtp] section: the embedded Maildir outbox (var/outbox)."""

    host: str
    port: int = 587
    tls: Literal["ssl", "starttls", "none"] = "starttls"
    username: str | None = None
    #: better from INTAKE_SMTP_PASSWORD; refused in the file in production mode
    password: SecretStr | None = None
    oauth2: OAuth2Settings | None = None
    from_address: str
    timeout_s: float = 30.0
    ca_file: str | None = None


class DatabaseSettings(_Section):
    #: None: SQLite in the data directory
    url: str | None = None


class StorageSettings(_Section):
    #: None: blobs/ in the data directory
    dir: str | None = None
    #: the key for originals at rest: INTAKE_STORAGE_KEY (base64, 32 bytes) or this file
    key_file: str | None = None


class ScreeningSettings(_Section):
    #: Authentication-Results headers are believed only from these authserv-ids
    trusted_authserv_ids: tuple[str, ...] = ()
    #: refuse (queue) mail whose SPF/DKIM/DMARC did not pass
    require_authentication: bool = False


class PollingSettings(_Section):
    interval_s: float = 120.0
    outbox_interval_s: float = 30.0
    #: replies to one sender in an hour, at most
    replies_per_sender_per_hour: int = 20


class WebSettings(_Section):
    """The business unit's web app (`intake serve`, and beside the daemon in `intake run`)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    #: where people reach the app (default http://HOST:PORT); not loopback: Strict-Transport-Security is sent
    base_url: str | None = None
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_absolute_hours: int = Field(default=12, ge=1, le=7 * 24)
    #: `intake run` serves the web app beside the daemon
    serve_with_daemon: bool = True
    #: created when no user exists yet; its one-time password is printed once to the terminal
    first_admin: str = "admin@localhost"
    #: in development mode, also a business unit account to work the queue with
    first_business_unit: str | None = "caseworker@localhost"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    service: ServiceSettings = Field(default_factory=ServiceSettings)
    #: one mailbox ([imap]) or several ([[imap]], each with its own name)
    imap: ImapSettings | tuple[ImapSettings, ...] | None = None
    smtp: SmtpSettings | None = None
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    screening: ScreeningSettings = Field(default_factory=ScreeningSettings)
    polling: PollingSettings = Field(default_factory=PollingSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    forms: FormsSettings = Field(default_factory=FormsSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    reading: ReadingLimits = Field(default_factory=ReadingLimits)
    agencies: tuple[Agency, ...] = ()

    @property
    def mailboxes(self) -> tuple[ImapSettings, ...]:
        if self.imap is None:
            return ()
        return self.imap if isinstance(self.imap, tuple) else (self.imap,)

    @property
    def data_path(self) -> Path:
        return Path(self.service.data_dir)

    @property
    def reply_from(self) -> str:
        return self.smtp.from_address if self.smtp is not None else self.service.reply_from

    def forms_context(self, catalogue: Catalogue | None = None) -> FormsContext:
        return FormsContext(
            catalogue=catalogue if catalogue is not None else load_catalogue(),
            agencies=AgencyRegistry(agencies=self.agencies),
            forms=self.forms,
            quality=self.quality,
            limits=self.reading,
        )


def config_path(explicit: str | None) -> Path | None:
    """The config file to read: --config, then $INTAKE_CONFIG, then ./config.toml if present."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(ENV_CONFIG)
    if env:
        return Path(env)
    local = Path("config.toml")
    return local if local.is_file() else None


def load_settings(path: Path | None) -> Settings:
    if path is None:
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return settings_from_dict(data, source=str(path))


SECRET_ENV = {"imap": "INTAKE_IMAP_PASSWORD", "smtp": "INTAKE_SMTP_PASSWORD"}
PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "password", "secret", "example", "xxx", "todo"})


def settings_from_dict(
    data: Mapping[str, object], *, source: str = "config", environ: Mapping[str, str] | None = None
) -> Settings:
    env = os.environ if environ is None else environ
    in_file = {name for name in SECRET_ENV if _has_password(data.get(name))}
    data = dict(data)
    for name, var in SECRET_ENV.items():
        section = data.get(name)
        if isinstance(section, dict) and env.get(var):
            data[name] = {**section, "password": env[var]}
        elif isinstance(section, list):
            # several mailboxes: INTAKE_IMAP_PASSWORD_<NAME> for each
            data[name] = [
                {**m, "password": env[f"{var}_{str(m.get('name', '')).upper()}"]}
                if isinstance(m, dict) and env.get(f"{var}_{str(m.get('name', '')).upper()}")
                else m
                for m in section
            ]
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            problems.append(f"{where}: {err['msg']}")
        raise ConfigError(f"{source}: " + "; ".join(problems)) from exc
    _refuse_unsafe(settings, source, in_file)
    return settings


def _has_password(section: object) -> bool:
    if isinstance(section, list):
        return any(_has_password(m) for m in section)
    return isinstance(section, dict) and "password" in section


def _refuse_unsafe(settings: Settings, source: str, secrets_in_file: set[str] | None = None) -> None:
    production = settings.service.mode == "production"
    sections: list[tuple[str, ImapSettings | SmtpSettings]] = [("imap", m) for m in settings.mailboxes]
    if settings.smtp is not None:
        sections.append(("smtp", settings.smtp))
    names = [m.name for m in settings.mailboxes]
    if len(set(names)) != len(names):
        raise ConfigError(f"{source}: two [[imap]] mailboxes share a name")
    for name, section in sections:
        secret = section.password
        if secret is not None and secret.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
            raise ConfigError(f"{source}: {name}.password is a placeholder; set {SECRET_ENV[name]}")
        if production and secrets_in_file and name in secrets_in_file:
            raise ConfigError(f"{source}: {name}.password must come from {SECRET_ENV[name]} in production mode")
        if production and section.tls == "none":
            raise ConfigError(
                f'{source}: {name}.tls = "none" sends mail and passwords in clear text; refused in production'
            )
    if production:
        url = settings.database.url
        if url is None or url.startswith("sqlite"):
            raise ConfigError(
                f"{source}: database.url must name PostgreSQL in production mode (SQLite is for one machine)"
            )
        if settings.imap is None:
            raise ConfigError(f"{source}: production mode needs an [imap] mailbox")
        if settings.smtp is None:
            raise ConfigError(f"{source}: production mode needs an [smtp] server for replies")
        if settings.screening.require_authentication and not settings.screening.trusted_authserv_ids:
            raise ConfigError(f"{source}: screening.require_authentication needs trusted_authserv_ids")
    ids = [a.id for a in settings.agencies]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ConfigError(f"{source}: agencies defined twice: {', '.join(dupes)}")
    r = settings.reading
    if r.worker_memory_mb < 64:
        raise ConfigError(f"{source}: reading.worker_memory_mb is too small to read any document")
    if r.worker_timeout_s <= 0:
        raise ConfigError(f"{source}: reading.worker_timeout_s must be positive")
    if settings.quality.gap_months < 1:
        raise ConfigError(f"{source}: quality.gap_months must be at least 1")
