"""Reading and checking forms, as ratios against floors measured in the same run.

    .venv/bin/python -m bench.forms [--rows 50000] [--repeat 7]

Floors (spec: the forms issue):
- a Word form: open the zip and parse word/document.xml with lxml;
- a chronology: open the zip and iterparse the sheet plus the shared strings.
Targets: a typical Word form (about 60 fields, 2,000 words) read, identified and checked in
at most 5x its floor (in one process; the isolated worker's overhead printed beside it); a
chronology of 50,000 rows read and checked in at most 2x its floor with peak memory under
250 MB, growing linearly from 1,000 to 50,000 rows; pydantic validation under 3 us a row.
The machine is noisy: every figure is a median, and floors and subjects are interleaved; the
Word form is measured in three such blocks spread through the run, and the middle one counts.
The Word path runs as deployed, with the modules `make install` compiles (scripts/compile.py);
the same measurement with every module interpreted is printed beside it, for comparison.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import io
import json
import os
import statistics
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import etree

from core.compiled import INTERPRETED_ENV
from core.model import Value
from core.settings import FormsContext
from intake.checking import DocumentChecker
from intake.settings import Settings
from parsers.read import read_document
from tests.fixtures.filler import fill
from tests.fixtures.sample import complete_events, complete_values, fixture_context
from validators import CheckContext, check

RESULTS = Path(__file__).resolve().parent / "results"
RECEIVED = dt.date(2026, 11, 28)
NARRATIVE = (
    "The health visitor recorded that the family attended the appointment and that the "
    "child appeared well cared for, with weight and development within the expected range. "
    "The practitioner discussed safe sleeping and the support available from the children's "
    "centre, and agreed to review progress at the next planned contact in four weeks. "
)


def median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved(floor: Callable[[], object], subject: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median times of floor and subject, run alternately so both see the same machine."""
    floor(), subject()  # warm
    ft, st = [], []
    for _ in range(repeat):
        ft.append(median_time(floor, 1))
        st.append(median_time(subject, 1))
    return statistics.median(ft), statistics.median(st)


# --- a typical Word form ---------------------------------------------------------------


def typical_word_form(ctx: FormsContext) -> bytes:
    """An agency summary report of about 60 fields and 2,000 words, as an author returns it."""
    form = ctx.catalogue.get("agency_summary")
    values = dict(complete_values("agency_summary"))
    narrative = [f.id for f in form.fields if f.type == "longtext"]
    words_each = 2000 // len(narrative)
    sentence_words = len(NARRATIVE.split())
    for field_id in narrative:
        values[field_id] = (NARRATIVE * (words_each // sentence_words + 1)).strip()
    # five actions and eight glossary entries: with the scalar fields, about 60 fields
    actions: list[dict[str, Value]] = [
        {
            "action": f"Action {i}: review how earlier attendances are shared",
            "owner": "Named Nurse",
            "due_date": "2026-03-31",
        }
        for i in range(1, 6)
    ]
    values["immediate_actions"] = actions
    glossary: list[dict[str, Value]] = [
        {"abbreviation": a, "meaning": m}
        for a, m in [
            ("ED", "Emergency department"),
            ("CP", "Community paediatrician"),
            ("HV", "Health visitor"),
            ("SN", "School nurse"),
            ("PN", "Practice nurse"),
            ("MW", "Midwife"),
            ("SW", "Social worker"),
            ("FSW", "Family support worker"),
        ]
    ]
    values["glossary"] = glossary
    return fill(form, values)


def count_fields(data: bytes, ctx: FormsContext) -> tuple[int, int]:
    doc = read_document(data, "report.docx", ctx)
    cells = sum(len(r) - 1 for rows in doc.tables.values() for r in rows)
    words = sum(len(str(v.value).split()) for v in doc.fields.values() if isinstance(v.value, str))
    return len(doc.fields) + cells, words


def word_floor(data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        etree.fromstring(zf.read("word/document.xml"))


def read_and_check(data: bytes, name: str, ctx: FormsContext) -> None:
    doc = read_document(data, name, ctx)
    check(doc, CheckContext(forms=ctx, received=RECEIVED))


# --- chronologies ----------------------------------------------------------------------


def chronology_file(rows: int, ctx: FormsContext) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"chronology-{rows}.xlsx"
    if not path.exists():
        form = ctx.catalogue.get("chronology")
        path.write_bytes(fill(form, complete_values("chronology"), complete_events(rows)))
    return path


def chronology_floor(data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        if "xl/sharedStrings.xml" in names:
            with zf.open("xl/sharedStrings.xml") as f:
                for _, el in etree.iterparse(f, tag="{*}si"):
                    el.clear()
        sheets = sorted(n for n in names if n.startswith("xl/worksheets/sheet"))
        for sheet in sheets:
            with zf.open(sheet) as f:
                for _, el in etree.iterparse(f, tag="{*}row"):
                    el.clear()


def peak_memory_mb(path: Path) -> float:
    """Peak RSS of a fresh process that reads and checks the file once."""
    code = (
        "import resource, sys, datetime as dt\n"
        "from pathlib import Path\n"
        "from tests.fixtures.sample import fixture_context\n"
        "from parsers.read import read_document\n"
        "from validators import CheckContext, check\n"
        "ctx = fixture_context()\n"
        "data = Path(sys.argv[1]).read_bytes()\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "doc = read_document(data, 'c.xlsx', ctx)\n"
        "check(doc, CheckContext(forms=ctx, received=dt.date(2026, 11, 28)))\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, base)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True, cwd=Path.cwd()
    ).stdout.split()
    return int(out[0]) / 1024


def pydantic_us_per_row(data: bytes, ctx: FormsContext) -> float:
    from parsers.events import event_row_adapter

    doc = read_document(data, "c.xlsx", ctx)
    adapter = event_row_adapter(ctx.catalogue.get("chronology"))
    rows = doc.rows
    seconds = median_time(lambda: adapter.validate_python(rows), 5)
    return seconds / len(rows) * 1e6


HOSTILE_SCRIPT = """
import datetime as dt, json, resource, sys, time
from intake.checking import DocumentChecker
from intake.settings import Settings
from tests.fixtures.hostile import HOSTILE
def worker_peak_kb(pid):
    if pid is None:
        return 0
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
times = {}
worker_peak = 0
with DocumentChecker(Settings()) as checker:
    checker.check(b"warm", "warm.docx", dt.date(2026, 11, 28))
    for name, (build, rule, filename) in sorted(HOSTILE.items()):
        data = build()
        start = time.perf_counter()
        checked = checker.check(data, filename, dt.date(2026, 11, 28))
        times[name] = (time.perf_counter() - start, [f.rule for f in checked.findings], rule)
        worker_peak = max(worker_peak, worker_peak_kb(checker.worker_pid))
peak = max(worker_peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
print(json.dumps({"times": times, "peak_kb": peak}))
"""


def hostile_files() -> tuple[dict[str, Any], float]:
    """Each hostile file through the isolated checker, as the service sees it; the peak RSS of
    the checker and of its worker (a worker killed for its memory was capped below 300 MB)."""
    out = subprocess.run(
        [sys.executable, "-c", HOSTILE_SCRIPT], capture_output=True, text=True, check=True, cwd=Path.cwd()
    ).stdout
    result = json.loads(out)
    return result["times"], result["peak_kb"] / 1024


INTERPRETED_SCRIPT = """
import json, sys
import bench.forms as bf
from tests.fixtures.sample import fixture_context
ctx = fixture_context()
word = bf.typical_word_form(ctx)
floor_t, ours_t = bf.word_block(word, ctx, int(sys.argv[1]))
print(json.dumps({"floor": floor_t, "ours": ours_t}))
"""


def compiled_modules() -> tuple[int, int]:
    """(modules of parsers and validators loaded from their compiled builds, modules loaded)."""
    loaded = [m for name, m in sys.modules.items() if name.split(".")[0] in ("parsers", "validators")]
    compiled = [m for m in loaded if not str(getattr(m, "__file__", "")).endswith(".py")]
    return len(compiled), len(loaded)


def interpreted_word(repeat: int) -> tuple[float, float]:
    """(floor, read and check) of the Word form in a process that ignores the compiled builds."""
    env = {**os.environ, INTERPRETED_ENV: "1"}
    out = subprocess.run(
        [sys.executable, "-c", INTERPRETED_SCRIPT, str(repeat)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path.cwd(),
        env=env,
    ).stdout
    result = json.loads(out)
    return result["floor"], result["ours"]


def word_block(word: bytes, ctx: FormsContext, repeat: int) -> tuple[float, float]:
    """(floor, read and check) of the Word form, interleaved."""
    return interleaved(lambda: word_floor(word), lambda: read_and_check(word, "report.docx", ctx), repeat)


def report_word(
    word: bytes, ctx: FormsContext, blocks: list[tuple[float, float]], repeat: int, report: dict[str, Any]
) -> bool:
    """Print the Word form's figures (the block with the median ratio against the target)."""
    fields, words = count_fields(word, ctx)
    floor_t, ours_t = sorted(blocks, key=lambda b: b[1] / b[0])[len(blocks) // 2]
    ratio = ours_t / floor_t
    settings = Settings(agencies=ctx.agencies.agencies, quality=ctx.quality, forms=ctx.forms)
    with DocumentChecker(settings) as checker:
        checker.check(word, "report.docx", RECEIVED)
        worker_t = median_time(lambda: checker.check(word, "report.docx", RECEIVED), repeat)
    compiled, loaded = compiled_modules()
    plain_floor, plain_ours = interpreted_word(repeat)
    print(f"Word form ({fields} fields, {words} words, {len(word) // 1024} KB)")
    print(
        "  blocks (start, middle, end of the run): "
        + ", ".join(f"{o * 1000:.2f} / {f * 1000:.2f} ms = {o / f:.2f}x" for f, o in blocks)
    )
    print(f"  floor (zip + lxml parse of word/document.xml)  {floor_t * 1000:8.2f} ms")
    print(
        f"  read, identify and check (one process)         {ours_t * 1000:8.2f} ms  {ratio:5.2f}x floor  (target <= 5x)"
    )
    print(
        f"  the same in the isolated worker                {worker_t * 1000:8.2f} ms  "
        f"(worker overhead {max(0.0, worker_t - ours_t) * 1000:.2f} ms)"
    )
    print(f"  modules of parsers and validators compiled (scripts/compile.py): {compiled} of {loaded}")
    print(
        f"  for comparison, all interpreted ({INTERPRETED_ENV}=1): floor {plain_floor * 1000:.2f} ms, "
        f"read, identify and check {plain_ours * 1000:.2f} ms, {plain_ours / plain_floor:.2f}x floor"
    )
    report["word"] = {
        "floor_ms": floor_t * 1000,
        "ours_ms": ours_t * 1000,
        "ratio": ratio,
        "block_ratios": [o / f for f, o in blocks],
        "worker_ms": worker_t * 1000,
        "compiled_modules": compiled,
        "interpreted_ratio": plain_ours / plain_floor,
    }
    return ratio <= 5


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    ctx = fixture_context()
    report: dict[str, Any] = {}
    ok = True

    word = typical_word_form(ctx)
    # the Word form is measured in three blocks, at the start, the middle and the end of the
    # run, and the block with the median ratio is the figure: a slow spell of the machine
    # (seen here: every time 20-70% longer for some seconds, the floor too) then moves at
    # most one block
    word_blocks = [word_block(word, ctx, args.repeat * 5)]

    print("Chronology (read and checked, one process)")
    per_row = {}
    sizes = sorted({1000, 10_000, args.rows})
    for n in sizes:
        path = chronology_file(n, ctx)
        data = path.read_bytes()
        rep = max(3, args.repeat if n <= 10_000 else 3)
        floor_t, ours_t = interleaved(
            functools.partial(chronology_floor, data), functools.partial(read_and_check, data, "c.xlsx", ctx), rep
        )
        per_row[n] = ours_t / n
        ratio = ours_t / floor_t
        print(
            f"  {n:>6} rows: floor {floor_t * 1000:8.1f} ms   ours {ours_t * 1000:8.1f} ms   "
            f"{ratio:5.2f}x floor   {ours_t / n * 1e6:6.2f} us/row"
        )
        report[f"chronology_{n}"] = {"floor_ms": floor_t * 1000, "ours_ms": ours_t * 1000, "ratio": ratio}
        if n == args.rows:
            ok &= ratio <= 2
            big = path
    growth = per_row[args.rows] / per_row[1000]
    print(f"  time per row at {args.rows} vs 1000 rows: {growth:.2f}x (linear is about 1)")
    peak = peak_memory_mb(big)
    ok &= peak < 250
    print(f"  peak memory reading and checking {args.rows} rows: {peak:.0f} MB (target < 250 MB)")
    us = pydantic_us_per_row(big.read_bytes(), ctx)
    ok &= us < 3
    print(f"  pydantic validation: {us:.2f} us a row (target < 3 us)")
    report.update({"growth": growth, "peak_mb": peak, "pydantic_us_per_row": us})

    word_blocks.append(word_block(word, ctx, args.repeat * 5))
    times, hostile_peak = hostile_files()
    slowest = max(times, key=lambda n: times[n][0])
    right = all(found == [rule] for _, found, rule in times.values())
    ok &= right and times[slowest][0] < 2 and hostile_peak < 300
    print(f"Hostile files ({len(times)}, through the isolated checker)")
    for name, (seconds, found, _rule) in sorted(times.items(), key=lambda kv: -kv[1][0])[:5]:
        print(f"  {name:<28} {seconds * 1000:8.1f} ms  {', '.join(found)}")
    print(f"  slowest {slowest}: {times[slowest][0] * 1000:.0f} ms (target < 2 s); every finding as expected: {right}")
    print(f"  peak memory of any process: {hostile_peak:.0f} MB (target < 300 MB)")
    report["hostile"] = {"slowest_ms": times[slowest][0] * 1000, "peak_mb": hostile_peak, "all_expected": right}

    word_blocks.append(word_block(word, ctx, args.repeat * 5))
    ok &= report_word(word, ctx, word_blocks, args.repeat * 5, report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "forms.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    print("all targets met" if ok else "SOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
