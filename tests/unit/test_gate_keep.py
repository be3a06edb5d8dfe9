"""The gate hands the Word reader the parts it read in full, and keeping them changes no verdict."""

from __future__ import annotations

import io
import zipfile
import zlib

import pytest

from core.settings import ReadingLimits
from parsers import gate
from tests.fixtures import hostile
from tests.fixtures.hostile import HOSTILE, NORMAL, build

LIMITS = ReadingLimits()
KEEP: dict[gate.Media, tuple[str, ...]] = {"docx": ("word/document.xml", "docProps/custom.xml")}


def verdict(result: gate.GateResult) -> tuple[object, ...]:
    return (result.media, result.rejection, result.unpacked_bytes, result.sheets)


@pytest.mark.parametrize("name", sorted(HOSTILE) + sorted(NORMAL))
def test_keeping_parts_changes_no_verdict(name: str) -> None:
    data = build(name)
    expected = verdict(gate.inspect(data, "report.docx", LIMITS))
    assert expected == verdict(gate.inspect(data, "report.docx", LIMITS, keep=KEEP))


def test_a_kept_part_is_the_part_as_zipfile_reads_it_and_an_absent_one_is_none() -> None:
    data = build("plain docx")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        expected = {"word/document.xml": zf.read("word/document.xml"), "docProps/custom.xml": None}
    assert expected == dict(gate.inspect(data, "referral.docx", LIMITS, keep=KEEP).parts)


def test_a_kept_part_with_a_bad_checksum_is_left_to_the_reader() -> None:
    # a body larger than the first bytes the gate reads of a part it does not keep
    long = hostile.edit(build("plain docx"), "word/document.xml", b"</w:body>", b"<w:p/>" * 2000 + b"</w:body>")
    members = hostile.members_of(long)
    damaged = [
        (name, packed, method, crc ^ 1 if name == "word/document.xml" else crc, size, flags)
        for name, packed, method, crc, size, flags in members
    ]
    result = gate.inspect(hostile.raw_zip(damaged), "referral.docx", LIMITS, keep=KEEP)
    assert ("docx", ["docProps/custom.xml"]) == (result.media, sorted(result.parts))
    assert ("docx", None) == verdict(gate.inspect(hostile.raw_zip(damaged), "referral.docx", LIMITS))[:2]


def test_parts_are_kept_only_for_the_media_asked() -> None:
    result = gate.inspect(build("chronology xlsx"), "chronology.xlsx", LIMITS, keep=KEEP)
    assert ("xlsx", {}) == (result.media, dict(result.parts))


def test_a_small_part_with_a_bad_checksum_is_damaged() -> None:
    content = b'<?xml version="1.0"?><Properties/>'
    members = [m for m in hostile.members_of(build("plain docx")) if m[0] != "docProps/app.xml"]
    members.append(("docProps/app.xml", content, zipfile.ZIP_STORED, zlib.crc32(content) ^ 1, len(content), 0))
    result = gate.inspect(hostile.raw_zip(members), "referral.docx", LIMITS)
    assert ("DOC-UNREADABLE", gate.DAMAGED) == (
        result.rejection.rule if result.rejection else None,
        result.rejection.reason if result.rejection else None,
    )


def test_a_body_damaged_past_its_first_bytes_is_refused_by_the_reader_not_raised() -> None:
    from parsers.read import read_document
    from tests.fixtures.sample import fixture_context

    long = hostile.edit(build("plain docx"), "word/document.xml", b"</w:body>", b"<w:p/>" * 2000 + b"</w:body>")
    members = [
        (name, packed[:-6] + b"\xff" * 20 + packed[-6:], method, crc, size, flags)
        if name == "word/document.xml"
        else (name, packed, method, crc, size, flags)
        for name, packed, method, crc, size, flags in hostile.members_of(long)
    ]
    doc = read_document(hostile.raw_zip(members), "referral.docx", fixture_context())
    assert "DOC-UNREADABLE" == (doc.rejection.rule if doc.rejection else None)
