"""The fixture corpus, read and checked end to end: every quality rule id has a real file
that shows it, every filled template is clean, and tests/fixtures/README.md lists it all.

Files: tests/fixtures/flawed.py (one mistake each), variants.py (reading rules),
hostile.py (files the gate refuses).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from core.model import Document, Finding, Severity
from parsers.read import read_document
from tests.fixtures import flawed
from tests.fixtures.filler import filled_document
from tests.fixtures.flawed import FLAWED, PERSONAL, Flawed
from tests.fixtures.hostile import HOSTILE
from tests.fixtures.sample import complete_events, fixture_context
from tests.fixtures.variants import VARIANTS
from validators import RULES, CheckContext, check

README = Path(__file__).resolve().parents[1] / "fixtures" / "README.md"
SEVERITY = {rule.id: rule.severity for rule in RULES}

_CHECKED: dict[str, tuple[Document, list[Finding]]] = {}


def checked(item: Flawed) -> tuple[Document, list[Finding]]:
    """The flawed file as read and checked, once per test session."""
    if item.name not in _CHECKED:
        ctx = fixture_context()
        doc = read_document(flawed.build(item.name), item.filename, ctx)
        _CHECKED[item.name] = doc, check(doc, CheckContext(forms=ctx, received=item.received, case=item.case))
    return _CHECKED[item.name]


def _params() -> list[object]:
    return [pytest.param(item, id=item.name) for item in FLAWED]


# --- the corpus itself ------------------------------------------------------------------------


def test_flawed_names_and_file_names_are_unique() -> None:
    assert len(FLAWED) == len({f.name for f in FLAWED})
    assert len(FLAWED) == len({f.filename for f in FLAWED})


@pytest.mark.parametrize("item", _params())
def test_a_flawed_file_names_known_rules_and_only_warnings_come_along(item: Flawed) -> None:
    assert set() == (item.rules | item.also) - SEVERITY.keys()
    assert set() == item.rules & item.also
    assert [] == [r for r in item.also if SEVERITY[r] is not Severity.WARNING]


def test_the_flawed_files_cover_exactly_the_rule_ids() -> None:
    shown = set().union(*(f.rules for f in FLAWED))
    assert sorted(SEVERITY) == sorted(shown)


# --- each flawed file, read and checked ----------------------------------------------------------


@pytest.mark.parametrize("item", _params())
def test_a_flawed_file_shows_its_rules(item: Flawed) -> None:
    _, findings = checked(item)
    assert sorted(item.rules) == sorted(item.rules & {f.rule for f in findings})


@pytest.mark.parametrize("item", _params())
def test_a_flawed_file_shows_nothing_else(item: Flawed) -> None:
    _, findings = checked(item)
    assert sorted(item.rules | item.also) == sorted({f.rule for f in findings})


@pytest.mark.parametrize("item", _params())
def test_findings_about_a_flawed_file_repeat_no_personal_value(item: Flawed) -> None:
    _, findings = checked(item)
    leaks = [(f.rule, value) for f in findings for value in PERSONAL if value.casefold() in f.message.casefold()]
    assert [] == leaks


def test_the_planted_child_is_read_back() -> None:
    (item,) = [f for f in FLAWED if f.name == "referral-death-without-date"]
    doc, _ = checked(item)
    expected = (flawed.CHILD_NAME, flawed.CHILD_DOB, flawed.NHS_NUMBER)
    assert expected == (doc.value("child_name"), doc.value("child_dob"), doc.value("child_nhs_number"))


# --- the clean baseline ----------------------------------------------------------------------------


@pytest.mark.parametrize("form_id", [f.id for f in fixture_context().catalogue.current()])
def test_a_filled_template_of_every_current_form_has_no_findings(form_id: str) -> None:
    ctx = fixture_context()
    name, data = filled_document(form_id)
    doc = read_document(data, name, ctx)
    assert (form_id, []) == (doc.form, check(doc, CheckContext(forms=ctx, received=date(2026, 11, 1))))


@pytest.mark.parametrize("form_id", [f.id for f in fixture_context().catalogue.current()])
def test_the_planted_values_of_every_current_form_have_no_findings(form_id: str) -> None:
    ctx = fixture_context()
    form = ctx.catalogue.get(form_id)
    chronology = form.form.layout == "chronology"
    data = flawed.fill(form, flawed.planted(form_id), complete_events(12) if chronology else None)
    doc = read_document(data, f"{form_id}.{'xlsx' if chronology else 'docx'}", ctx)
    assert [] == check(doc, CheckContext(forms=ctx, received=flawed.RECEIVED))


# --- the README lists the corpus ---------------------------------------------------------------------


def test_the_readme_lists_every_variant_hostile_and_flawed_file() -> None:
    text = README.read_text(encoding="utf-8")
    names = [v.name for v in VARIANTS] + list(HOSTILE) + [f.name for f in FLAWED]
    assert [] == [name for name in names if f"`{name}`" not in text]


def test_the_readme_tables_of_hostile_and_flawed_files_are_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert flawed.hostile_table() in text
    assert flawed.readme_table() in text
