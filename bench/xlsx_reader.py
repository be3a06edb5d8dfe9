"""The chronology reader's costs, split up, against the floor measured in the same run.

    .venv/bin/python -m bench.xlsx_reader [--sizes 1000 10000 50000] [--repeat 5]

For each size, two files of the same chronology: as openpyxl writes it (inline strings, what
tests/fixtures/filler.py gives) and as Excel writes it (a shared-strings table). Printed per
file: the floor (zip + lxml iterparse of the events sheet and of the shared strings),
python-calamine's cell values alone, read_xlsx, and read_xlsx + validators.check, each as a
median and a ratio to the floor; the events loop and the pydantic validation per row; then
the peak RSS of a fresh process that reads and checks the largest file.
Targets (the forms issue): read and checked in at most 2x the floor at 50,000 rows, peak
memory under 250 MB, linear from 1,000 to 50,000 rows, validation under 3 us a row.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import io
import re
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from lxml import etree
from python_calamine import CalamineWorkbook

from bench.forms import median_time
from parsers.events import event_row_adapter
from parsers.xlsx_reader import read_xlsx
from tests.fixtures.filler import fill
from tests.fixtures.sample import complete_events, complete_values, fixture_context
from validators import CheckContext, check

RESULTS = Path(__file__).resolve().parent / "results"
RECEIVED = dt.date(2026, 11, 28)
_INLINE = re.compile(
    rb'<c r="([A-Z]+\d+)"((?: s="\d+")?) t="inlineStr"><is><t(?: xml:space="preserve")?>(.*?)</t></is></c>', re.S
)


def with_shared_strings(data: bytes) -> bytes:
    """The workbook rewritten with a shared-strings table, as Excel saves it."""
    table: dict[bytes, int] = {}
    parts: dict[str, bytes] = {}
    count = 0
    with zipfile.ZipFile(io.BytesIO(data)) as zin:
        names = zin.namelist()
        for name in names:
            body = zin.read(name)
            if name.startswith("xl/worksheets/sheet"):

                def shared(m: re.Match[bytes]) -> bytes:
                    nonlocal count
                    count += 1
                    index = table.setdefault(m.group(3), len(table))
                    return b'<c r="%s"%s t="s"><v>%d</v></c>' % (m.group(1), m.group(2), index)

                body = _INLINE.sub(shared, body)
            parts[name] = body
    items = b"".join(b'<si><t xml:space="preserve">%s</t></si>' % t for t in table)
    parts["xl/sharedStrings.xml"] = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">'
        % (count, len(table))
        + items
        + b"</sst>"
    )
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>",
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    )
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>",
        b'<Relationship Id="rIdShared" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for name in [*names, "xl/sharedStrings.xml"]:
            zout.writestr(name, parts[name])
    return out.getvalue()


def events_part(zf: zipfile.ZipFile) -> str:
    """The part of the sheet named "Chronology" (the template's second sheet)."""
    return "xl/worksheets/sheet2.xml"


def floor(data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        if "xl/sharedStrings.xml" in zf.namelist():
            with zf.open("xl/sharedStrings.xml") as f:
                for _, el in etree.iterparse(f, tag="{*}si"):
                    el.clear()
        with zf.open(events_part(zf)) as f:
            for _, el in etree.iterparse(f, tag="{*}row"):
                el.clear()


def calamine_only(data: bytes) -> None:
    CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name("Chronology").to_python(skip_empty_area=False)


def files(n: int) -> list[tuple[str, bytes]]:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"xlsx-reader-{n}.xlsx"
    if not path.exists():
        form = fixture_context().catalogue.get("chronology")
        path.write_bytes(fill(form, complete_values("chronology"), complete_events(n)))
    inline = path.read_bytes()
    return [("inline strings", inline), ("shared strings", with_shared_strings(inline))]


def peak_rss_mb(data: bytes) -> float:
    path = RESULTS / "xlsx-reader-peak.xlsx"
    path.write_bytes(data)
    code = (
        "import resource, sys, datetime as dt\n"
        "from pathlib import Path\n"
        "from tests.fixtures.sample import fixture_context\n"
        "from parsers.xlsx_reader import read_xlsx\n"
        "from validators import CheckContext, check\n"
        "ctx = fixture_context()\n"
        "data = Path(sys.argv[1]).read_bytes()\n"
        "doc = read_xlsx(data, 'c.xlsx', ctx)\n"
        "check(doc, CheckContext(forms=ctx, received=dt.date(2026, 11, 28)))\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0]) / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 50_000])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    ctx = fixture_context()
    adapter = event_row_adapter(ctx.catalogue.get("chronology"))
    per_row: dict[tuple[str, int], float] = {}
    largest = b""
    for n in args.sizes:
        for kind, data in files(n):
            read_xlsx(data, "c.xlsx", ctx)  # warm
            timings: dict[str, list[float]] = {"floor": [], "calamine": [], "read": [], "read+check": []}
            for _ in range(args.repeat):  # interleaved: every subject sees the same machine
                timings["floor"].append(median_time(functools.partial(floor, data), 1))
                timings["calamine"].append(median_time(functools.partial(calamine_only, data), 1))
                timings["read"].append(median_time(functools.partial(read_xlsx, data, "c.xlsx", ctx), 1))
                start = time.perf_counter()
                doc = read_xlsx(data, "c.xlsx", ctx)
                check(doc, CheckContext(forms=ctx, received=RECEIVED))
                timings["read+check"].append(time.perf_counter() - start)
            med = {k: statistics.median(v) for k, v in timings.items()}
            doc = read_xlsx(data, "c.xlsx", ctx)
            assert len(doc.rows) == n, (len(doc.rows), n)
            validate = median_time(functools.partial(adapter.validate_python, doc.rows), 3)
            per_row[(kind, n)] = med["read"] / n
            print(f"{n:>6} rows, {kind} ({len(data) // 1024} KB):")
            for k in ("floor", "calamine", "read", "read+check"):
                print(f"   {k:<11} {med[k] * 1000:8.1f} ms  {med[k] / med['floor']:5.2f}x floor")
            print(f"   read {med['read'] / n * 1e6:.2f} us/row; pydantic validation {validate / n * 1e6:.2f} us/row")
            if kind == "shared strings":
                largest = data
    first, last = min(args.sizes), max(args.sizes)
    for kind in ("inline strings", "shared strings"):
        growth = per_row[(kind, last)] / per_row[(kind, first)]
        print(f"read time per row, {last} vs {first} rows ({kind}): {growth:.2f}x (1.0 is linear)")
    print(f"peak RSS of a process reading and checking {last} rows: {peak_rss_mb(largest):.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
