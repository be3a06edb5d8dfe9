"""Settings: config.toml is read into frozen values; bad settings are refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from intake.settings import Settings, config_path, load_settings, settings_from_dict

REPO = Path(__file__).resolve().parents[2]


def test_the_shipped_config_lists_the_partnerships_twelve_agencies() -> None:
    settings = load_settings(REPO / "config.toml")

    assert 12 == len(settings.agencies)
    assert "gmp" == settings.forms_context().agencies.match("Greater Manchester Police")


def test_thresholds_come_from_config() -> None:
    settings = settings_from_dict({"quality": {"gap_months": 3, "min_words": 10}})

    assert (3, 10) == (settings.quality.gap_months, settings.quality.min_words)


def test_an_unknown_setting_is_refused_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"quality\.gap_weeks"):
        settings_from_dict({"quality": {"gap_weeks": 3}})


def test_an_agency_defined_twice_is_refused() -> None:
    agency = {"id": "gmp", "name": "Greater Manchester Police"}
    with pytest.raises(ConfigError, match="defined twice: gmp"):
        settings_from_dict({"agencies": [agency, agency]})


def test_a_worker_too_small_to_read_anything_is_refused() -> None:
    with pytest.raises(ConfigError, match="worker_memory_mb"):
        settings_from_dict({"reading": {"worker_memory_mb": 8}})


def test_a_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_invalid_toml_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[quality\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad)


def test_the_config_file_is_chosen_from_flag_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INTAKE_CONFIG", "/etc/from-env.toml")

    assert Path("given.toml") == config_path("given.toml")
    assert Path("/etc/from-env.toml") == config_path(None)
    monkeypatch.delenv("INTAKE_CONFIG")
    assert config_path(None) is None


def test_no_config_file_means_embedded_defaults() -> None:
    assert Settings() == load_settings(None)
