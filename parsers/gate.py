"""The gate: decide from an attachment's bytes whether any parser may look at it.

The type is decided by content, never by the file name, and nothing is decompressed beyond
the small package parts and the first few KB of each XML part, so a normal file costs a few
milliseconds. Each refusal is a ``core.model.Rejection`` whose reason a practitioner can act
on; no reason repeats the file name or anything from the document.

What is checked here, in this order (the first failing check gives the rejection):

1. **Size**: the attachment is at most ``max_file_bytes`` (DOC-UNSAFE).
2. **Legacy and other formats**, by magic bytes: an OLE2 compound file is a legacy
   .doc/.xls, or a password-protected .docx/.xlsx when its directory names the
   ``EncryptionInfo``/``EncryptedPackage`` streams (the directory is parsed minimally; the
   UTF-16LE names are searched for if it cannot be); a PDF; anything that does not start as
   a zip (DOC-UNREADABLE).
3. **The zip directory, without decompressing**: the end-of-directory record's member count
   before the directory is parsed; the central directory itself (``BadZipFile``); every
   member's local header present, in place, named as in the directory and not overlapping
   another member (a truncated or spliced file); deflate or stored only (DOC-UNREADABLE).
   Member count, duplicate names (case-insensitive, as OPC part names are), declared sizes
   per member and in total, and the compression ratio of members over 1 MiB (DOC-UNSAFE).
   Member names alone already refuse VBA (``vbaProject.bin``, ``vbaData.xml``), ActiveX
   and Excel 4 macro-sheet folders ("macros") and ``xl/externalLinks/`` ("links").
   Encrypted members are DOC-UNREADABLE ("password protected"), as spec/forms.md lists
   encryption under that rule.
4. **The package**: ``[Content_Types].xml`` and ``_rels/.rels`` are read in full (they are
   small, their size is capped; their prolog is checked as in 6 before lxml parses them,
   with entities, DTDs and the network off); the main part named by the ``officeDocument`` relationship
   must have exactly the plain document or workbook content type. Macro-enabled main
   types, any VBA, ActiveX or Excel 4 macro-sheet part or content type, anywhere, are
   DOC-UNSAFE ("macros or active content"). Templates, binary workbooks and other Office
   files are DOC-UNREADABLE.
5. **Relationships**: every ``.rels`` part is read likewise (4 MiB each, 16 MiB in all);
   a VBA/ActiveX relationship type is "macros"; an ``External`` target is allowed only for
   a hyperlink; any other external target (attached template, linked OLE
   object, external workbook, frame, sub-document, linked picture, mail-merge source) and
   any part under ``xl/externalLinks/`` is DOC-UNSAFE ("links to other files").
6. **Every other XML (and VML) part's prolog**, from its first 4 KB only (a part the caller
   asks to ``keep``, one the reader parses anyway, is decompressed in full and handed over):
   no ``<!DOCTYPE``/``<!ENTITY`` before the root element, the root reached within those 4 KB, and a plain encoding
   (UTF-8/UTF-16 or a Latin code page; UTF-7 and the like are refused) (DOC-UNSAFE).
7. **Worksheets** (xlsx): ``<dimension ref=...>`` read from the same first bytes; a sheet
   claiming more than ``max_sheet_cells`` cells or a reference outside Excel's grid is
   DOC-UNSAFE. Each dimension found is recorded in ``GateResult.sheets``.

What is *not* checked here, and where it is handled:

- A sheet may omit ``<dimension>`` or understate it and still hold a cell at XFD1048576;
  only reading the whole sheet shows that. The xlsx reader must bound the area by the cell
  references it meets (``max_sheet_cells``), and runs in ``parsers.isolation.IsolatedRunner`` (memory cap and
  timeout), where even a library that aborts the process only costs the worker.
- Declared sizes can lie. Python's zipfile never returns more than the declared size (and
  fails the CRC); anything else is caught by the worker's memory cap and timeout.
- Parsers themselves use lxml with ``resolve_entities=False``, ``no_network=True``,
  ``load_dtd=False``, ``huge_tree=False`` (as this module does for the package parts).
"""

from __future__ import annotations

import io
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Literal

from lxml import etree

from core.model import Rejection
from core.settings import ReadingLimits

Media = Literal["docx", "xlsx"]

DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
_MAIN_TYPES: dict[str, Media] = {DOCX_MAIN: "docx", XLSX_MAIN: "xlsx"}
_TEMPLATE_TYPES = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
    }
)

#: How many bytes of each XML part the prolog check decompresses.
HEAD_BYTES = 4096
#: Members smaller than this are not held to the compression-ratio limit.
RATIO_FLOOR_BYTES = 1024 * 1024
#: Caps on the package parts read in full.
MAX_CONTENT_TYPES_BYTES = 1024 * 1024
MAX_RELS_BYTES = 4 * 1024 * 1024
MAX_RELS_TOTAL_BYTES = 16 * 1024 * 1024

EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLUMNS = 16_384

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_LOCAL = b"PK\x03\x04"
_ZIP_END = b"PK\x05\x06"
#: What zipfile and zlib raise for a damaged archive or member.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    struct.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
)
_PKG_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
_DEFAULT = f"{{{_PKG_NS}}}Default"
_OVERRIDE = f"{{{_PKG_NS}}}Override"
_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"

_MACRO_NAMES = frozenset(
    {
        "vbaproject.bin",
        "vbadata.xml",
        "vbaprojectsignature.bin",
        "vbaprojectsignatureagile.bin",
        "vbaprojectsignaturev3.bin",
    }
)
_MACRO_FOLDERS = frozenset({"activex", "macrosheets"})
_MACRO_TYPE_MARKERS = ("macroenabled", "vbaproject", "vbadata", "activex", "macrosheet")
#: any of the markers, anywhere (one search instead of one per marker)
_MACRO_TYPE = re.compile("|".join(map(re.escape, _MACRO_TYPE_MARKERS)))
_MACRO_REL_TYPES = frozenset(
    {"vbaproject", "wordvbadata", "activexcontrol", "activexcontrolbinary", "attachedtoolbars", "xlmacrosheet"}
)
_ALLOWED_ENCODINGS = frozenset(
    {
        "utf-8",
        "utf8",
        "utf-16",
        "utf-16le",
        "utf-16be",
        "us-ascii",
        "ascii",
        "iso-8859-1",
        "latin1",
        "windows-1252",
        "cp1252",
    }
)

# Reasons, for a practitioner. None names the file or quotes the document.
TOO_LARGE = "the file is larger than the {mb} MB allowed for an attachment"
OLD_WORD = "the file is in the old Word format (.doc); please save it as .docx and send it again"
OLD_EXCEL = "the file is in the old Excel format (.xls); please save it as .xlsx and send it again"
OLD_OFFICE = "the file is in an old Word or Excel format (.doc/.xls); please save it as .docx/.xlsx and send it again"
PROTECTED = "the file is password protected; please remove the password and send it again"
PDF = "the file is a PDF; please send the Word or Excel form (.docx/.xlsx) itself"
NOT_OFFICE = "the file is not a Word or Excel file (.docx/.xlsx), or it is damaged"
DAMAGED = "the file is damaged or incomplete; please save it again and send it again"
TEMPLATE = "the file is a Word or Excel template; please save it as a .docx/.xlsx document and send it again"
BINARY_WORKBOOK = "the file is an Excel binary workbook (.xlsb); please save it as .xlsx and send it again"
TOO_MANY_PARTS = "the file has far more internal parts than a Word or Excel form, so it was not opened"
DUPLICATE_PARTS = "the file's internal structure is ambiguous (a part appears twice), so it was not opened"
UNPACKS_LARGE = "the file unpacks to far more than its size, so it was not opened"
MACROS = "the file contains macros or active content; please save it as a plain .docx/.xlsx and send it again"
EXTERNAL = (
    "the file links to other files (an external template, workbook or object); "
    "please remove the links and send it again"
)
DECLARATIONS = "the file contains markup that Word and Excel never write and that can be harmful, so it was not opened"
HUGE_SHEET = (
    "a sheet in the workbook spans far more cells than can be read; "
    "please copy the data into a new workbook and send it again"
)


@dataclass(frozen=True, slots=True)
class SheetExtent:
    """A worksheet's ``<dimension>`` as declared in its first bytes (not a proof of its size)."""

    part: str  # e.g. "xl/worksheets/sheet1.xml"
    ref: str  # e.g. "A1:F200"
    rows: int
    columns: int

    @property
    def cells(self) -> int:
        return self.rows * self.columns


@dataclass(frozen=True, slots=True)
class GateResult:
    media: Media | None  # None when rejected
    rejection: Rejection | None
    #: the sum of the declared sizes of the XML parts a reader parses (for worker timeouts)
    unpacked_bytes: int = 0
    #: the worksheets' declared dimensions (xlsx only), in part-name order
    sheets: tuple[SheetExtent, ...] = ()
    #: the parts the caller asked ``inspect`` to keep: name -> the part's bytes, read in full
    #: and prolog-checked, or None when the package has no part of that name; a name left
    #: out could not be read in full here, and the reader reads it itself (and meets the error)
    parts: Mapping[str, bytes | None] = field(default_factory=dict, compare=False, repr=False)

    @property
    def accepted(self) -> bool:
        return self.rejection is None

    def timeout_s(self, limits: ReadingLimits) -> float:
        """The time to allow the isolated reader for this file."""
        mib = self.unpacked_bytes / (1024 * 1024)
        return limits.worker_timeout_s + limits.worker_timeout_per_mib_s * mib


class _Refused(Exception):
    def __init__(self, rule: Literal["DOC-UNREADABLE", "DOC-UNSAFE"], reason: str) -> None:
        super().__init__(reason)
        self.rejection = Rejection(rule=rule, reason=reason)


def _unreadable(reason: str) -> _Refused:
    return _Refused("DOC-UNREADABLE", reason)


def _unsafe(reason: str) -> _Refused:
    return _Refused("DOC-UNSAFE", reason)


def inspect(
    data: bytes,
    filename: str,
    limits: ReadingLimits,
    keep: Mapping[Media, Collection[str]] | None = None,
) -> GateResult:
    """Accept or refuse an attachment from its bytes; see the module docstring for the checks.

    ``filename`` is accepted for the callers' convenience only: the type is decided by
    content, and no reason repeats the name.

    ``keep``: for each media, XML parts (exact names) the reader will parse anyway. The
    gate then decompresses those parts in full instead of their first bytes (the prolog
    check is the same) and hands them over in ``GateResult.parts``, so the reader need not
    open the zip again. It changes nothing in what is accepted or refused.
    """
    del filename  # never used to decide anything
    try:
        return _inspect(data, limits, keep or {})
    except _Refused as refused:
        return GateResult(media=None, rejection=refused.rejection)


def _inspect(data: bytes, limits: ReadingLimits, keep: Mapping[Media, Collection[str]]) -> GateResult:
    if len(data) > limits.max_file_bytes:
        raise _unsafe(TOO_LARGE.format(mb=limits.max_file_bytes // (1024 * 1024)))
    if data.startswith(_OLE2_MAGIC):
        raise _unreadable(_ole2_reason(data))
    if b"%PDF-" in data[:1024]:
        raise _unreadable(PDF)
    if not data.startswith(_ZIP_LOCAL):
        raise _unreadable(NOT_OFFICE)
    _check_end_record(data, limits)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_ERRORS as exc:
        raise _unreadable(DAMAGED) from exc
    with zf:
        infos = zf.infolist()
        start_dir = int(getattr(zf, "start_dir", len(data)))
    _check_directory(infos, limits)
    _check_local_headers(data, infos, start_dir)
    _check_sizes(infos, limits)
    by_name = {info.filename.casefold(): info for info in infos}
    _check_part_names(infos)
    view = memoryview(data)
    media, root_rels = _check_package(view, by_name)
    _check_relationships(view, infos, rels_info=by_name["_rels/.rels"], root_rels=root_rels)
    wanted = keep.get(media, ())
    parts: dict[str, bytes | None] = dict.fromkeys(wanted)
    sheets = _check_xml_prologs(view, infos, media, limits, parts)
    unpacked = sum(i.file_size for i in infos if i.filename.casefold().endswith((".xml", ".rels")))
    return GateResult(media=media, rejection=None, unpacked_bytes=unpacked, sheets=sheets, parts=parts)


# --- 2. OLE2 compound files ---------------------------------------------------------------


def _ole2_reason(data: bytes) -> str:
    try:
        names = _cfb_stream_names(data)
    except (struct.error, ValueError, IndexError):
        names = {n for n in _CFB_NAMES if n.encode("utf-16-le") in data}
    if {"EncryptionInfo", "EncryptedPackage"} & names:
        return PROTECTED
    if "WordDocument" in names:
        return OLD_WORD
    if {"Workbook", "Book"} & names:
        return OLD_EXCEL
    return OLD_OFFICE


_CFB_NAMES = ("EncryptionInfo", "EncryptedPackage", "WordDocument", "Workbook", "Book")
_CFB_END = 0xFFFFFFFE


def _cfb_stream_names(data: bytes) -> set[str]:
    """The names in a compound file's directory (MS-CFB).

    Only the FAT entries of the directory's own sectors are looked up, and every loop is
    bounded by the number of sectors the file can hold, so a crafted file costs little.
    """
    shift = struct.unpack_from("<H", data, 30)[0]
    if shift not in (9, 12):
        raise ValueError("sector size")
    size = 1 << shift
    per_sector = size // 4
    sectors_in_file = len(data) // size
    first_dir = struct.unpack_from("<I", data, 48)[0]
    first_difat = struct.unpack_from("<I", data, 68)[0]
    difat = list(struct.unpack_from("<109I", data, 76))
    difat_sector, seen = first_difat, 0
    while difat_sector < _CFB_END and seen <= sectors_in_file and len(difat) * per_sector <= sectors_in_file:
        entries = struct.unpack_from(f"<{per_sector}I", data, (difat_sector + 1) * size)
        difat.extend(entries[:-1])
        difat_sector, seen = entries[-1], seen + 1

    def next_sector(sector: int) -> int:
        fat_sector = difat[sector // per_sector]
        offset = (fat_sector + 1) * size + (sector % per_sector) * 4
        return int(struct.unpack_from("<I", data, offset)[0])

    names: set[str] = set()
    sector, visited = first_dir, set[int]()
    while sector < _CFB_END and sector not in visited and len(visited) <= sectors_in_file:
        visited.add(sector)
        base = (sector + 1) * size
        if base + size > len(data):
            raise ValueError("directory outside the file")
        for offset in range(base, base + size, 128):
            length, kind = struct.unpack_from("<HB", data, offset + 64)
            if kind in (1, 2, 5) and 2 <= length <= 64:
                names.add(data[offset : offset + length - 2].decode("utf-16-le", errors="replace"))
        sector = next_sector(sector)
    return names


# --- 3. the zip directory -----------------------------------------------------------------


def _check_end_record(data: bytes, limits: ReadingLimits) -> None:
    """Refuse a huge member count before zipfile parses every directory entry."""
    at = data.rfind(_ZIP_END, max(0, len(data) - 65_557))
    if at < 0 or at + 22 > len(data):
        raise _unreadable(DAMAGED)
    total = struct.unpack_from("<H", data, at + 10)[0]
    if total != 0xFFFF and total > limits.max_members:  # 0xFFFF: the count is in the zip64 record
        raise _unsafe(TOO_MANY_PARTS)


def _check_directory(infos: list[zipfile.ZipInfo], limits: ReadingLimits) -> None:
    if not infos:
        raise _unreadable(NOT_OFFICE)
    if len(infos) > limits.max_members:
        raise _unsafe(TOO_MANY_PARTS)
    for info in infos:
        if info.flag_bits & 0x1:
            raise _unreadable(PROTECTED)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _unreadable(NOT_OFFICE)


def _check_local_headers(data: bytes, infos: list[zipfile.ZipInfo], directory_start: int) -> None:
    """Every member's local header where the directory says, in order, none overlapping.

    Costs one 30-byte read per member; catches a file cut short or spliced, and the
    overlapping-member trick some zip bombs use.
    """
    limit = min(directory_start, len(data))
    previous_end = 0
    for info in sorted(infos, key=lambda i: i.header_offset):
        offset = info.header_offset
        if offset < previous_end or offset + 30 > limit or data[offset : offset + 4] != _ZIP_LOCAL:
            raise _unreadable(DAMAGED)
        name_length, extra_length = struct.unpack_from("<HH", data, offset + 26)
        name_start = offset + 30
        end = name_start + name_length + extra_length + info.compress_size
        if end > limit:
            raise _unreadable(DAMAGED)
        name = info.orig_filename
        try:
            # an ASCII name is the same bytes in either encoding (and ASCII is C-fast)
            expected = name.encode("ascii" if name.isascii() else "utf-8" if info.flag_bits & 0x800 else "cp437")
        except UnicodeEncodeError:
            expected = None
        if expected is not None and data[name_start : name_start + name_length] != expected:
            raise _unreadable(DAMAGED)
        previous_end = end


def _check_sizes(infos: list[zipfile.ZipInfo], limits: ReadingLimits) -> None:
    total = 0
    for info in infos:
        size = info.file_size
        total += size
        if size > limits.max_member_bytes or total > limits.max_unpacked_bytes:
            raise _unsafe(UNPACKS_LARGE)
        if size > RATIO_FLOOR_BYTES and size > limits.max_ratio * info.compress_size:
            raise _unsafe(UNPACKS_LARGE)


def _check_part_names(infos: list[zipfile.ZipInfo]) -> None:
    seen: set[str] = set()
    for info in infos:
        name = info.filename.casefold()
        if name in seen:
            raise _unsafe(DUPLICATE_PARTS)
        seen.add(name)
        parts = name.split("/")
        if parts[-1] in _MACRO_NAMES or _MACRO_FOLDERS & set(parts[:-1]):
            raise _unsafe(MACROS)
        if name.startswith("xl/externallinks/"):
            raise _unsafe(EXTERNAL)


# --- 4. the package -----------------------------------------------------------------------

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
)


_MIN_READ = 4096  # zipfile.ZipExtFile.MIN_READ_SIZE
_MAX_N = (1 << 31) - 1  # zipfile.ZipExtFile.MAX_N
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # zipfile.structFileHeader


def _unpack(data: memoryview, info: zipfile.ZipInfo, n: int) -> bytes:
    """What ``zf.open(info).read(n)`` returns (``n`` < 0: the whole member), and raising
    what it raises, without zipfile's per-member file objects.

    Mirrors zipfile: the local header's signature and name are checked, deflate output is
    cut at the declared size, and the CRC is checked once the end of the member is reached
    (so a first-bytes read of a part larger than ``n`` checks no CRC, as zipfile's does not).
    """
    offset = info.header_offset
    header = _LOCAL_HEADER.unpack_from(data, offset)  # struct.error when cut short
    if header[0] != _ZIP_LOCAL:
        raise zipfile.BadZipFile("bad magic number for file header")
    name_start = offset + _LOCAL_HEADER.size
    name_length, extra_length = header[10], header[11]
    if info.flag_bits & 0x60:
        raise NotImplementedError("compressed patched data or strong encryption")
    local_name = bytes(data[name_start : name_start + name_length])
    # an ASCII name decodes the same in either encoding (and ASCII is C-fast)
    encoding = "ascii" if local_name.isascii() else "utf-8" if header[3] & 0x800 else "cp437"
    if local_name.decode(encoding) != info.orig_filename:
        raise zipfile.BadZipFile("file name in directory and header differ")
    position = name_start + name_length + extra_length
    compress_left = info.compress_size
    left = info.file_size
    deflated = info.compress_type == zipfile.ZIP_DEFLATED
    if deflated and (n < 0 or n >= left):
        whole = _inflate_whole(data[position : position + compress_left], info)
        if whole is not None:
            return whole
        # anything unusual: the step-by-step read below gives zipfile's exact result
    inflater = zlib.decompressobj(-15) if deflated else None
    eof = False
    if n < 0:
        n = _MAX_N
    out: list[bytes] = []
    while n > 0 and not eof:
        # ZipExtFile._read1(n) with _read2 inlined
        chunk = inflater.unconsumed_tail if inflater is not None else b""
        if inflater is None or n > len(chunk):
            want = n - len(chunk)
            if compress_left > 0:
                size = min(max(want, _MIN_READ), compress_left)
                read = bytes(data[position : position + size])
                position += len(read)
                compress_left -= len(read)
                if not read:
                    raise EOFError
                chunk += read
        if inflater is None:
            piece = chunk
            eof = compress_left <= 0
        else:
            piece = inflater.decompress(chunk, max(n, _MIN_READ))
            eof = inflater.eof or (compress_left <= 0 and not inflater.unconsumed_tail)
            if eof:
                piece += inflater.flush()
        piece = piece[:left]
        left -= len(piece)
        if left <= 0:
            eof = True
        # the CRC of everything read, worked out only when the end is reached (a head of a
        # larger part never reaches it)
        if eof and zlib.crc32(piece, zlib.crc32(b"".join(out))) != info.CRC:
            raise zipfile.BadZipFile("bad CRC-32")
        if n < len(piece):
            out.append(piece[:n])
            break
        out.append(piece)
        n -= len(piece)
    return b"".join(out)


def _inflate_whole(packed: memoryview, info: zipfile.ZipInfo) -> bytes | None:
    """A deflated member inflated in one call, when that is plainly what the step-by-step
    read in ``_unpack`` returns: all its declared compressed bytes present, the deflate
    stream ending, exactly the declared size out and the CRC matching. None otherwise
    (a damaged member is left to the step-by-step read, which fails as zipfile does)."""
    if len(packed) != info.compress_size:
        return None
    inflater = zlib.decompressobj(-15)
    try:
        # never more than one byte past the declared size, however much the stream holds
        out = inflater.decompress(packed, info.file_size + 1)
    except zlib.error:
        return None
    if not inflater.eof or len(out) != info.file_size or zlib.crc32(out) != info.CRC:
        return None
    return out


def _read_small_xml(data: memoryview, info: zipfile.ZipInfo, cap: int) -> etree._Element:
    if info.file_size > cap:
        raise _unsafe(UNPACKS_LARGE)
    try:
        raw = _unpack(data, info, cap + 1)
    except _ZIP_ERRORS as exc:
        raise _unreadable(DAMAGED) from exc
    if len(raw) > cap:
        raise _unsafe(UNPACKS_LARGE)
    _check_head(raw[:HEAD_BYTES], whole=len(raw) <= HEAD_BYTES)
    try:
        return etree.fromstring(raw, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise _unreadable(DAMAGED) from exc


def _check_package(data: memoryview, by_name: dict[str, zipfile.ZipInfo]) -> tuple[Media, etree._Element]:
    """The main part's media, and the parsed ``_rels/.rels`` (for the relationship checks)."""
    types_info = by_name.get("[content_types].xml")
    rels_info = by_name.get("_rels/.rels")
    if types_info is None or rels_info is None:
        raise _unreadable(NOT_OFFICE)
    types = _read_small_xml(data, types_info, MAX_CONTENT_TYPES_BYTES)
    defaults: dict[str, str] = {}
    overrides: dict[str, str] = {}
    for element in types:
        content_type = (element.get("ContentType") or "").strip()
        if _MACRO_TYPE.search(content_type.casefold()):
            raise _unsafe(MACROS)
        tag = element.tag
        if tag == _DEFAULT:
            defaults[(element.get("Extension") or "").casefold()] = content_type
        elif tag == _OVERRIDE:
            overrides[(element.get("PartName") or "").lstrip("/").casefold()] = content_type

    root_rels = _read_small_xml(data, rels_info, MAX_RELS_BYTES)
    main: str | None = None
    for rel in root_rels:
        if (rel.get("Type") or "").rsplit("/", 1)[-1] == "officeDocument":
            main = posixpath.normpath("/" + (rel.get("Target") or "").strip()).lstrip("/").casefold()
            break
    if main is None or main not in by_name:
        raise _unreadable(NOT_OFFICE)
    content_type = overrides.get(main) or defaults.get(main.rsplit(".", 1)[-1], "")
    if content_type in _MAIN_TYPES:
        return _MAIN_TYPES[content_type], root_rels
    if content_type in _TEMPLATE_TYPES:
        raise _unreadable(TEMPLATE)
    if ".binary." in content_type:
        raise _unreadable(BINARY_WORKBOOK)
    raise _unreadable(NOT_OFFICE)


# --- 5. relationships ---------------------------------------------------------------------


def _check_relationships(
    data: memoryview, infos: list[zipfile.ZipInfo], rels_info: zipfile.ZipInfo, root_rels: etree._Element
) -> None:
    """Every .rels part (``_rels/.rels``, ``rels_info``, was read and parsed already: ``root_rels``)."""
    rels = [info for info in infos if info.filename.casefold().endswith(".rels")]
    if sum(info.file_size for info in rels) > MAX_RELS_TOTAL_BYTES:
        raise _unsafe(UNPACKS_LARGE)
    for info in rels:
        parsed = root_rels if info is rels_info else _read_small_xml(data, info, MAX_RELS_BYTES)
        for rel in parsed:
            kind = (rel.get("Type") or "").rsplit("/", 1)[-1].casefold()
            if kind in _MACRO_REL_TYPES:
                raise _unsafe(MACROS)
            if (rel.get("TargetMode") or "").strip().casefold() == "external" and kind != "hyperlink":
                raise _unsafe(EXTERNAL)


# --- 6 and 7. XML prologs and sheet dimensions ---------------------------------------------

_PROLOG_ITEM = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->)", re.DOTALL)
_SPACE = re.compile(r"\s*")
_ENCODING = re.compile(r"""^<\?xml[^>]*?\bencoding\s*=\s*["']([^"']*)["']""")
_DIMENSION = re.compile(r"""<(?:[A-Za-z_][\w.-]*:)?dimension\s+ref\s*=\s*["']([^"']*)["']""")
_CELL = re.compile(r"^\$?([A-Z]{1,3})\$?([0-9]{1,7})$")


def _decode_head(head: bytes) -> str:
    if head.startswith((b"\xff\xfe", b"<\x00")):
        return head.decode("utf-16-le", errors="replace").lstrip("\ufeff")
    if head.startswith((b"\xfe\xff", b"\x00<")):
        return head.decode("utf-16-be", errors="replace").lstrip("\ufeff")
    return head.decode("utf-8", errors="replace").lstrip("\ufeff")


#: after an XML declaration: white space, then the root element's "<" (not "<?" or "<!")
_ROOT_START = re.compile(rb"[ \t\r\n]*<[^?!]")


def _check_head(head: bytes, *, whole: bool) -> None:
    """``_check_prolog``'s verdict, found without decoding the head in the common case: an
    ASCII XML declaration with an allowed (or no) encoding, white space, then the root
    element, and no ``<!ENTITY`` anywhere in the head. Any other head, including every one
    that is refused, goes to ``_check_prolog`` itself (tests/unit/test_gate.py compares the
    two on generated heads)."""
    if head.startswith(b"<?xml") and b"<!ENTITY" not in head:
        end = head.find(b"?>", 2) + 2
        if end > 1 and _ROOT_START.match(head, end) is not None:
            declaration = head[:end]
            if declaration.isascii():
                match = _ENCODING.match(declaration.decode("ascii"))
                if match is None:
                    if b"encoding" not in declaration:  # (an unclosed quote would read on)
                        return
                elif match.group(1).strip().casefold() in _ALLOWED_ENCODINGS:
                    return
    _check_prolog(head, whole=whole)


def _check_prolog(head: bytes, *, whole: bool) -> str:
    """Refuse a DTD or entity declaration before the root element; return the decoded head."""
    text = _decode_head(head)
    if "<!ENTITY" in text:
        raise _unsafe(DECLARATIONS)
    match = _ENCODING.match(text)
    if match and match.group(1).strip().casefold() not in _ALLOWED_ENCODINGS:
        raise _unsafe(DECLARATIONS)
    position = 0
    while (item := _PROLOG_ITEM.match(text, position)) is not None and item.end() > position:
        position = item.end()
    # what follows the prolog, after any whitespace (\s is what str.strip() strips); found
    # in place rather than by copying the rest of the head
    spaces = _SPACE.match(text, position)  # always matches (perhaps nothing)
    rest = spaces.end() if spaces is not None else position
    if text.startswith("<!", rest):
        raise _unsafe(DECLARATIONS)
    if not text.startswith("<", rest) and not whole:
        raise _unsafe(DECLARATIONS)  # 4 KB of prolog and still no root element
    return text


def _check_xml_prologs(
    data: memoryview,
    infos: list[zipfile.ZipInfo],
    media: Media,
    limits: ReadingLimits,
    parts: dict[str, bytes | None],
) -> tuple[SheetExtent, ...]:
    """Check every XML part's prolog; the parts named in ``parts`` are read in full into it
    (one that cannot be read in full is dropped from it and checked as any other)."""
    sheets: list[SheetExtent] = []
    for info in infos:
        name = info.filename
        folded = name.casefold()
        if not folded.endswith((".xml", ".vml")) or folded == "[content_types].xml":
            continue  # the content types and every .rels part were checked when read in full
        head: bytes | None = None
        if name in parts:
            try:
                whole = _unpack(data, info, -1)
            except _ZIP_ERRORS:
                del parts[name]  # the reader reads it again, and meets the error itself
            else:
                parts[name] = whole
                head = whole[:HEAD_BYTES]
        if head is None:
            try:
                head = _unpack(data, info, HEAD_BYTES)
            except _ZIP_ERRORS as exc:
                raise _unreadable(DAMAGED) from exc
        complete = info.file_size <= HEAD_BYTES
        if media == "xlsx" and folded.startswith("xl/"):
            text = _check_prolog(head, whole=complete)  # a sheet's dimension is read from it
            if found := _DIMENSION.search(text):
                sheets.append(_sheet_extent(name, found.group(1), limits))
        else:
            _check_head(head, whole=complete)
    return tuple(sorted(sheets, key=lambda s: s.part))


def _sheet_extent(part: str, ref: str, limits: ReadingLimits) -> SheetExtent:
    corners = [_cell(corner) for corner in ref.strip().upper().split(":")]
    if len(corners) not in (1, 2):
        raise _unreadable(DAMAGED)
    first, last = corners[0], corners[-1]
    if first is None or last is None:
        raise _unreadable(DAMAGED)
    if not all(1 <= r <= EXCEL_MAX_ROWS and 1 <= c <= EXCEL_MAX_COLUMNS for r, c in (first, last)):
        raise _unsafe(HUGE_SHEET)
    rows, columns = abs(last[0] - first[0]) + 1, abs(last[1] - first[1]) + 1
    if rows * columns > limits.max_sheet_cells:
        raise _unsafe(HUGE_SHEET)
    return SheetExtent(part=part, ref=ref, rows=rows, columns=columns)


def _cell(ref: str) -> tuple[int, int] | None:
    """(row, column) of an A1 reference, not yet checked against the grid."""
    match = _CELL.match(ref)
    if match is None:
        return None
    column = 0
    for letter in match.group(1):
        column = column * 26 + ord(letter) - 64
    return int(match.group(2)), column
