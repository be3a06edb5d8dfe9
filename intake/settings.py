"""Settings: config.toml (or --config / INTAKE_CONFIG) -> a frozen Settings value.

Read once by the composition root; adapters get the parts they need. Unknown or malformed
settings are refused with a message that names the setting (never a value: secrets may sit
beside it).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.agencies import Agency, AgencyRegistry
from core.catalogue import Catalogue, load_catalogue
from core.errors import ConfigError
from core.settings import FormsContext, FormsSettings, QualitySettings, ReadingLimits

ENV_CONFIG = "INTAKE_CONFIG"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    forms: FormsSettings = Field(default_factory=FormsSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    reading: ReadingLimits = Field(default_factory=ReadingLimits)
    agencies: tuple[Agency, ...] = ()

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


def settings_from_dict(data: dict[str, object], *, source: str = "config") -> Settings:
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            problems.append(f"{where}: {err['msg']}")
        raise ConfigError(f"{source}: " + "; ".join(problems)) from exc
    _refuse_unsafe(settings, source)
    return settings


def _refuse_unsafe(settings: Settings, source: str) -> None:
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
