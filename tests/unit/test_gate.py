"""The gate refuses every hostile attachment with the right rule, cheaply, and lets normal ones through."""

from __future__ import annotations

import io
import statistics
import time
import zipfile
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.settings import ReadingLimits
from parsers import gate
from tests.fixtures import hostile
from tests.fixtures.hostile import HOSTILE, NORMAL, build

LIMITS = ReadingLimits()


def timed_inspect(data: bytes, filename: str, limits: ReadingLimits = LIMITS) -> tuple[gate.GateResult, float]:
    start = time.perf_counter()
    result = gate.inspect(data, filename, limits)
    return result, time.perf_counter() - start


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_every_hostile_file_is_refused_with_its_rule_in_well_under_a_second(name: str) -> None:
    _, expected_rule, filename = HOSTILE[name]
    result, seconds = timed_inspect(build(name), filename)
    assert (None, expected_rule) == (result.media, result.rejection.rule if result.rejection else None)
    assert seconds < 0.5


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_refusal_never_repeats_the_file_name(name: str) -> None:
    result = gate.inspect(build(name), "Alex Example referral.docx", LIMITS)
    assert result.rejection is not None
    assert "Alex" not in result.rejection.reason
    assert "Example" not in result.rejection.reason


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("password protected docx", gate.PROTECTED),
        ("encrypted zip member", gate.PROTECTED),
        ("legacy doc", gate.OLD_WORD),
        ("legacy xls", gate.OLD_EXCEL),
        ("pdf named docx", gate.PDF),
        ("docm renamed docx", gate.MACROS),
        ("vbaProject.bin in plain docx", gate.MACROS),
        ("external workbook link", gate.EXTERNAL),
        ("attached remote template", gate.EXTERNAL),
        ("zip bomb", gate.UNPACKS_LARGE),
        ("100 MB of xml", gate.UNPACKS_LARGE),
        ("billion laughs", gate.DECLARATIONS),
        ("2-cell sheet A1 and XFD1048576", gate.HUGE_SHEET),
        ("truncated docx", gate.DAMAGED),
        ("spliced docx", gate.DAMAGED),
        ("overlapping members", gate.DAMAGED),
    ],
)
def test_the_reason_tells_the_practitioner_what_is_wrong(name: str, expected: str) -> None:
    result = gate.inspect(build(name), HOSTILE[name][2], LIMITS)
    assert expected == (result.rejection.reason if result.rejection else None)


def test_a_legacy_doc_whose_text_mentions_encryption_is_still_an_old_word_file() -> None:
    result = gate.inspect(hostile.legacy_doc_mentioning_encryption(), "report.doc", LIMITS)
    assert gate.OLD_WORD == (result.rejection.reason if result.rejection else None)


@pytest.mark.parametrize("name", sorted(NORMAL))
def test_normal_files_pass_in_milliseconds(name: str) -> None:
    _, media, filename = NORMAL[name]
    data = build(name)
    runs = [timed_inspect(data, filename) for _ in range(5)]
    result = runs[0][0]
    assert (media, None) == (result.media, result.rejection)
    assert statistics.median(seconds for _, seconds in runs) < 0.05


def test_the_type_is_decided_by_content_not_by_name() -> None:
    result = gate.inspect(build("plain docx"), "chronology.xlsx", LIMITS)
    assert ("docx", None) == (result.media, result.rejection)


def test_unpacked_bytes_is_the_declared_size_of_the_xml_parts() -> None:
    data = build("docx with picture")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        expected = sum(i.file_size for i in archive.infolist() if i.filename.endswith((".xml", ".rels")))
        pictures = sum(i.file_size for i in archive.infolist() if i.filename.endswith(".png"))
    assert pictures > 0
    assert expected == gate.inspect(data, "report.docx", LIMITS).unpacked_bytes


def test_the_worksheet_dimensions_are_recorded() -> None:
    result = gate.inspect(build("chronology xlsx"), "chronology.xlsx", LIMITS)
    expected = (gate.SheetExtent(part="xl/worksheets/sheet1.xml", ref="A1:D1001", rows=1001, columns=4),)
    assert expected == result.sheets


def test_a_sheet_over_the_cell_limit_is_refused() -> None:
    limits = ReadingLimits(max_sheet_cells=4000)  # the chronology declares 4,004 cells
    result = gate.inspect(build("chronology xlsx"), "chronology.xlsx", limits)
    assert gate.HUGE_SHEET == (result.rejection.reason if result.rejection else None)


def test_a_file_over_the_size_cap_is_refused_before_anything_else() -> None:
    data = build("plain docx")
    limits = ReadingLimits(max_file_bytes=len(data) - 1)
    result = gate.inspect(data, "referral.docx", limits)
    assert ("DOC-UNSAFE", None) == (result.rejection.rule if result.rejection else None, result.media)


def test_the_member_limit_is_the_configured_one() -> None:
    limits = ReadingLimits(max_members=5)
    result = gate.inspect(build("plain docx"), "referral.docx", limits)
    assert gate.TOO_MANY_PARTS == (result.rejection.reason if result.rejection else None)


def test_a_highly_compressible_member_over_a_mebibyte_is_refused_by_ratio() -> None:
    document = b"<w:document>" + b"<w:p/>" * 400_000 + b"</w:document>"  # 2.4 MB, ratio far above 120
    data = hostile.rewrite(build("plain docx"), {"word/document.xml": document})
    result = gate.inspect(data, "referral.docx", LIMITS)
    assert gate.UNPACKS_LARGE == (result.rejection.reason if result.rejection else None)


def test_a_powerpoint_file_is_not_a_word_or_excel_file() -> None:
    data = hostile.edit(
        build("plain docx"),
        "[Content_Types].xml",
        b"wordprocessingml.document.main+xml",
        b"presentationml.presentation.main+xml",
    )
    result = gate.inspect(data, "referral.docx", LIMITS)
    assert ("DOC-UNREADABLE", gate.NOT_OFFICE) == (
        result.rejection.rule if result.rejection else None,
        result.rejection.reason if result.rejection else None,
    )


def test_a_utf7_encoded_part_is_refused() -> None:
    data = hostile.edit(build("plain docx"), "word/styles.xml", b"encoding='UTF-8'", b"encoding='UTF-7'")
    result = gate.inspect(data, "referral.docx", LIMITS)
    assert gate.DECLARATIONS == (result.rejection.reason if result.rejection else None)


def test_the_worker_timeout_grows_with_the_unpacked_size() -> None:
    limits = ReadingLimits(worker_timeout_s=2.0, worker_timeout_per_mib_s=0.5)
    result = gate.GateResult(media="xlsx", rejection=None, unpacked_bytes=4 * 1024 * 1024)
    assert 4.0 == result.timeout_s(limits)


# --- the prolog's fast path gives the full check's verdict ---------------------------------

_DECLARATIONS = [
    b"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>",
    b'<?xml version="1.0" encoding="utf-8"?>',
    b'<?xml version="1.0"?>',
    b"<?xml version='1.0' encoding='UTF-7'?>",
    b"<?xml version='1.0' encoding = 'windows-1252' ?>",
    b"<?xml version='1.0' encoding='utf-8?>",  # an unclosed quote
    b"<?xml version='1.0' encoding\x1c=\x1c'utf-7'?>",
    b"<?xml version='1.0' x='>' encoding='utf-7'?>",
    b"<?xml version='1.0' encoding='\xc3\xa9'?>",
    b"<?xml version='1.0'",  # no end
    b"",
]
_BETWEEN = [b"", b"\r\n", b" \t\n", b"\x0c", b"\xc2\xa0", b"<!-- note -->", b"<?pi data?>", b"\n<!--x"]
_NEXT = [
    b"<w:document xmlns:w='urn:x'>",
    b"<!DOCTYPE d [<!ENTITY e 'x'>]><d/>",
    b"<!ENTITY e 'x'>",
    b"<?another?>",
    b"< d/>",
    b"<\xc3\xa9/>",
    b"text before the root",
    b"<",
    b"",
]
_AFTER = [b"", b"<p>caf\xc3\xa9</p>", b"<p>&lt;!ENTITY</p>", b"<!ENTITY late 'x'>", b"'quote'", b"\xff\xfe"]


def _verdict(check: Callable[[], object]) -> str | None:
    try:
        check()
    except gate._Refused as refused:
        return refused.rejection.reason
    return None


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b" "]),
    st.sampled_from(_DECLARATIONS),
    st.lists(st.sampled_from(_BETWEEN), max_size=2),
    st.sampled_from(_NEXT),
    st.lists(st.sampled_from(_AFTER), max_size=3),
    st.integers(min_value=1, max_value=gate.HEAD_BYTES),
    st.booleans(),
)
def test_the_fast_prolog_check_gives_the_full_checks_verdict(
    bom: bytes,
    declaration: bytes,
    between: list[bytes],
    after_declaration: bytes,
    rest: list[bytes],
    cut: int,
    whole: bool,
) -> None:
    head = (bom + declaration + b"".join(between) + after_declaration + b"".join(rest))[:cut]
    assert _verdict(lambda: gate._check_head(head, whole=whole)) == _verdict(
        lambda: gate._check_prolog(head, whole=whole)
    )
