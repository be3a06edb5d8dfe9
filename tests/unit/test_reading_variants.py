"""Reading returned documents as agencies really send them (spec/forms.md "Reading returned
documents"): one variant per behaviour, each with the values a correct reader must get.

The corpus lives in tests/fixtures/variants.py; tests/fixtures/README.md lists it.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from core.catalogue import Catalogue, load_catalogue
from core.model import Document
from core.settings import FormsContext
from tests.fixtures.variants import VARIANTS, Variant, agency_registry

README = Path(__file__).resolve().parents[1] / "fixtures" / "README.md"


def _context() -> FormsContext:
    try:
        from tests.fixtures.sample import fixture_context
    except ImportError:
        return FormsContext(catalogue=load_catalogue(), agencies=agency_registry())
    return fixture_context()


_CTX: list[FormsContext] = []
_READ: dict[str, Document] = {}
_BUILT: dict[str, bytes] = {}


def built(variant: Variant) -> bytes:
    if variant.name not in _BUILT:
        _BUILT[variant.name] = variant.build()
    return _BUILT[variant.name]


def read(variant: Variant) -> Document:
    """The variant as the reader reads it, read once per test session."""
    if variant.name not in _READ:
        from parsers.read import read_document

        if not _CTX:
            _CTX.append(_context())
        _READ[variant.name] = read_document(built(variant), variant.filename, _CTX[0])
    return _READ[variant.name]


def _params(predicate: object = None) -> list[object]:
    chosen = [v for v in VARIANTS if predicate is None or predicate(v)]  # type: ignore[operator]
    return [pytest.param(v, id=v.name) for v in chosen]


# --- the corpus itself (passes before the readers exist) -------------------------------------------


@pytest.mark.parametrize("variant", _params())
def test_every_variant_builds_into_an_office_file_of_its_kind(variant: Variant) -> None:
    data = built(variant)
    main_part = "word/document.xml" if variant.filename.endswith(".docx") else "xl/workbook.xml"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert main_part in zf.namelist()


def test_variant_names_and_filenames_are_unique() -> None:
    names = [v.name for v in VARIANTS]
    files = [v.filename for v in VARIANTS]
    assert sorted(set(names)) == sorted(names)
    assert sorted(set(files)) == sorted(files)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.mark.parametrize("variant", _params(lambda v: v.form is not None))
def test_every_expectation_names_a_field_of_the_form(variant: Variant, catalogue: Catalogue) -> None:
    assert variant.form is not None
    form = catalogue.get(variant.form)
    field_ids = {f.id for f in form.fields}
    named = set(variant.expect_fields) | set(variant.expect_problems) | set(variant.expect_approximate)
    named |= set(variant.expect_tables or {})
    assert set() == named - field_ids
    event_ids = {c.id for c in form.events} | {"row"}
    row_keys = {k for r in variant.expect_rows or [] for k in r}
    row_keys |= {c for _, c in (*variant.expect_approximate_cells, *variant.expect_issues)}
    assert set() == row_keys - event_ids
    for table_id, rows in (variant.expect_tables or {}).items():
        columns = {c.id for c in form.field(table_id).columns} | {"row"}
        assert set() == {k for r in rows for k in r} - columns


def test_the_readme_lists_every_variant() -> None:
    text = README.read_text(encoding="utf-8")
    assert [] == [v.name for v in VARIANTS if f"`{v.name}`" not in text]


# --- what the reader must get -------------------------------------------------------------------


@pytest.mark.parametrize("variant", _params())
def test_the_document_is_read_as_its_form(variant: Variant) -> None:
    doc = read(variant)
    assert doc.rejection is None
    assert variant.form == doc.form


@pytest.mark.parametrize("variant", _params(lambda v: bool(v.expect_fields)))
def test_each_expected_field_has_its_normalised_value(variant: Variant) -> None:
    doc = read(variant)
    actual = {field_id: doc.value(field_id) for field_id in variant.expect_fields}
    assert variant.expect_fields == actual


@pytest.mark.parametrize("variant", _params(lambda v: bool(v.expect_fields)))
def test_fields_read_with_a_value_carry_no_problem(variant: Variant) -> None:
    doc = read(variant)
    problems = {
        field_id: doc.fields[field_id].problem
        for field_id in variant.expect_fields
        if field_id in doc.fields and doc.fields[field_id].problem is not None
    }
    assert {} == problems


@pytest.mark.parametrize("variant", _params(lambda v: bool(v.expect_problems)))
def test_a_value_that_cannot_be_read_is_reported_on_its_field_not_guessed(variant: Variant) -> None:
    doc = read(variant)
    for field_id in variant.expect_problems:
        found = doc.fields.get(field_id)
        assert found is not None, f"{field_id} was not found at all"
        assert (None, True) == (found.value, bool(found.problem)), field_id


@pytest.mark.parametrize("variant", _params(lambda v: bool(v.expect_approximate)))
def test_an_approximate_date_is_marked_approximate(variant: Variant) -> None:
    doc = read(variant)
    marked = {f for f in variant.expect_approximate if f in doc.fields and doc.fields[f].approximate}
    assert set(variant.expect_approximate) == marked


@pytest.mark.parametrize("variant", _params(lambda v: v.expect_rows is not None))
def test_the_chronology_events_are_read(variant: Variant) -> None:
    doc = read(variant)
    expected = variant.expect_rows or []
    actual = [{k: row.get(k) for k in want} for want, row in zip(expected, doc.rows, strict=False)]
    assert len(expected) == len(doc.rows)
    assert expected == actual


@pytest.mark.parametrize("variant", _params(lambda v: bool(v.expect_approximate_cells)))
def test_approximate_event_dates_are_listed(variant: Variant) -> None:
    doc = read(variant)
    marked = {(row, column) for row, column in doc.approximate}
    assert [] == [cell for cell in variant.expect_approximate_cells if cell not in marked]


@pytest.mark.parametrize("variant", _params(lambda v: bool(v.expect_issues)))
def test_unreadable_cells_are_listed_per_cell(variant: Variant) -> None:
    doc = read(variant)
    listed = {(i.row, i.field) for i in doc.issues}
    assert [] == [cell for cell in variant.expect_issues if cell not in listed]


@pytest.mark.parametrize("variant", _params(lambda v: v.expect_tables is not None))
def test_the_repeating_tables_are_read_without_blank_rows(variant: Variant) -> None:
    doc = read(variant)
    for table_id, expected in (variant.expect_tables or {}).items():
        rows = doc.tables.get(table_id, [])
        actual = [{k: row.get(k) for k in want} for want, row in zip(expected, rows, strict=False)]
        assert (table_id, len(expected)) == (table_id, len(rows))
        assert expected == actual


@pytest.mark.parametrize("variant", _params(lambda v: bool(v.expect_references)))
def test_a_case_reference_written_anywhere_is_seen(variant: Variant) -> None:
    doc = read(variant)
    assert [] == [ref for ref in variant.expect_references if ref not in doc.references_seen]
