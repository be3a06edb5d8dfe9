"""Settings values the inside needs, built once by intake's composition root.

Nothing here reads files or the environment: intake.settings loads config.toml into these.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from core.agencies import AgencyRegistry
from core.catalogue import Catalogue

DEFAULT_ABBREVIATIONS: tuple[str, ...] = ()


class ReadingLimits(BaseModel):
    """Limits for untrusted files: the zip gate and the isolated worker."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_file_bytes: int = 25 * 1024 * 1024
    max_members: int = 2000
    max_unpacked_bytes: int = 300 * 1024 * 1024
    max_member_bytes: int = 200 * 1024 * 1024
    max_ratio: int = 120
    max_sheet_cells: int = 5_000_000
    worker_timeout_s: float = 1.8
    #: extra time allowed per MiB of unpacked XML, for legitimately large chronologies
    worker_timeout_per_mib_s: float = 0.08
    worker_memory_mb: int = 300


class QualitySettings(BaseModel):
    """Thresholds of the quality rules (spec/forms.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gap_months: int = 6
    min_words: int = 40
    standard_abbreviations: tuple[str, ...] = DEFAULT_ABBREVIATIONS
    pasted_notes_max_chars: int = 3000
    duplicate_similarity: float = 0.9


class FormsSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    case_reference_prefix: str = "SSCP"


class FormsContext(BaseModel):
    """Everything a reader or a checker needs about forms, built once and passed in (picklable)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    catalogue: Catalogue
    agencies: AgencyRegistry = Field(default_factory=AgencyRegistry)
    forms: FormsSettings = Field(default_factory=FormsSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    limits: ReadingLimits = Field(default_factory=ReadingLimits)
