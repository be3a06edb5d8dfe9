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


IMAP = {"host": "imap.example.org", "username": "reviews@example.org"}
SMTP = {"host": "smtp.example.org", "from_address": "reviews@example.org"}
PRODUCTION = {
    "service": {"mode": "production"},
    "database": {"url": "postgresql+psycopg://intake@db.example.org/intake"},
    "imap": IMAP,
    "smtp": SMTP,
}


def test_a_production_config_with_postgresql_and_secrets_from_the_environment_starts() -> None:
    env = {"INTAKE_IMAP_PASSWORD": "a long random secret", "INTAKE_SMTP_PASSWORD": "another one"}

    settings = settings_from_dict(PRODUCTION, environ=env)

    assert settings.mailboxes[0].password is not None
    assert "a long random secret" == settings.mailboxes[0].password.get_secret_value()


def test_production_refuses_sqlite() -> None:
    with pytest.raises(ConfigError, match="PostgreSQL"):
        settings_from_dict({**PRODUCTION, "database": {"url": "sqlite:///var/intake.sqlite3"}}, environ={})


def test_production_refuses_a_password_written_in_the_file() -> None:
    with pytest.raises(ConfigError, match="INTAKE_IMAP_PASSWORD"):
        settings_from_dict({**PRODUCTION, "imap": {**IMAP, "password": "s3cret-but-in-file"}}, environ={})


def test_production_refuses_plain_text_mail() -> None:
    with pytest.raises(ConfigError, match=r"imap\.tls"):
        settings_from_dict({**PRODUCTION, "imap": {**IMAP, "tls": "none"}}, environ={})


def test_a_placeholder_password_is_refused_even_in_development() -> None:
    with pytest.raises(ConfigError, match="placeholder"):
        settings_from_dict({"imap": {**IMAP, "password": "changeme"}}, environ={})


def test_several_mailboxes_each_take_their_own_password_from_the_environment() -> None:
    mailboxes = [{**IMAP, "name": "reviews"}, {**IMAP, "name": "referrals"}]

    settings = settings_from_dict({"imap": mailboxes}, environ={"INTAKE_IMAP_PASSWORD_REFERRALS": "pw for referrals"})

    assert ["reviews", "referrals"] == [m.name for m in settings.mailboxes]
    assert [None, "pw for referrals"] == [m.password and m.password.get_secret_value() for m in settings.mailboxes]


def test_the_error_for_a_bad_setting_never_repeats_a_secret() -> None:
    with pytest.raises(ConfigError) as refused:
        settings_from_dict({"imap": {**IMAP, "password": "changeme", "port": "not a port"}}, environ={})

    assert "changeme" not in str(refused.value)
