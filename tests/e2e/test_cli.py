"""The command-line contract, run as a person (or another tool) runs it: `intake ...`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.catalogue import load_catalogue

REPO = Path(__file__).resolve().parents[2]


def intake(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "intake.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def blank_templates(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("templates")
    done = intake("templates", "build", str(out))
    assert 0 == done.returncode, done.stderr
    return sorted(out.iterdir())


@pytest.fixture(scope="module")
def checked_blanks(blank_templates: list[Path]) -> list[dict[str, Any]]:
    done = intake("check", "--json", "--received", "2026-11-28", *map(str, blank_templates))
    assert 1 == done.returncode, done.stderr  # blank forms miss mandatory fields: errors
    result: list[dict[str, Any]] = json.loads(done.stdout)
    return result


def test_templates_build_writes_one_template_per_current_form(blank_templates: list[Path]) -> None:
    expected = sorted(
        f"{f.id}-{f.version}.{'xlsx' if f.form.layout == 'chronology' else 'docx'}" for f in load_catalogue().current()
    )
    assert expected == [p.name for p in blank_templates]


def test_every_blank_template_is_identified(checked_blanks: list[dict[str, Any]]) -> None:
    expected = {(f.id, f.version) for f in load_catalogue().current()}
    assert expected == {(c["form"], c["version"]) for c in checked_blanks}


def test_a_blank_template_reports_only_missing_fields(checked_blanks: list[dict[str, Any]]) -> None:
    # a blank chronology also has no events: CHRON-EMPTY is what is missing there
    rules = {f["rule"] for c in checked_blanks for f in c["findings"]}
    assert rules <= {"FIELD-REQUIRED", "CHRON-EMPTY"}


def test_a_blank_template_reports_every_mandatory_field_missing(
    checked_blanks: list[dict[str, Any]],
) -> None:
    catalogue = load_catalogue()
    for checked in checked_blanks:
        form = catalogue.get(checked["form"], checked["version"])
        mandatory = {f.id for f in form.fields if f.mandatory}
        reported = {f["field"] for f in checked["findings"] if f["rule"] == "FIELD-REQUIRED"}
        assert mandatory == reported, form.id
        assert all(v in (None, []) for v in checked["fields"].values()), form.id


def test_json_output_keeps_the_contracts_keys(checked_blanks: list[dict[str, Any]]) -> None:
    for checked in checked_blanks:
        assert {"file", "form", "version", "fields", "tables", "rows", "findings"} == set(checked)
        for finding in checked["findings"]:
            assert {"rule", "severity", "field", "row", "message"} == set(finding)
            assert finding["severity"] in ("error", "warning")


def test_the_report_for_a_person_names_the_form_and_what_to_change(blank_templates: list[Path]) -> None:
    referral = next(p for p in blank_templates if p.name.startswith("referral-"))

    done = intake("check", "--received", "2026-11-28", str(referral))

    assert 1 == done.returncode
    assert "Practice Review Referral Form" in done.stdout
    assert "needs changes" in done.stdout
    assert "Date of referral" in done.stdout


def test_a_missing_file_means_the_command_could_not_run(tmp_path: Path) -> None:
    done = intake("check", str(tmp_path / "absent.docx"))

    assert 2 == done.returncode
    assert "no such file" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_received_date_means_the_command_could_not_run(blank_templates: list[Path]) -> None:
    done = intake("check", "--received", "28/11/2026", str(blank_templates[0]))

    assert 2 == done.returncode
    assert "YYYY-MM-DD" in done.stderr


def test_a_malformed_config_means_the_command_could_not_run(tmp_path: Path, blank_templates: list[Path]) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[quality]\ngap_months = 'six'\n", encoding="utf-8")

    done = intake("--config", str(config), "check", str(blank_templates[0]))

    assert 2 == done.returncode
    assert "quality.gap_months" in done.stderr
    assert "Traceback" not in done.stderr
