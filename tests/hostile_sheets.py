"""Hostile payout sheets (issue 12): hypothesis strategies over CSV and XLSX bytes, and the one
check every such file must pass through `paybatch validate --json`.

Shared by tests/test_fuzz_sheets.py (bounded, in the default suite) and
tests/perf/bench_hostile.py (thousands of cases, counted).
"""

from __future__ import annotations

import io
import signal
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
from hypothesis import strategies as st
from sheets import csv_text

HEADERS = ["Name", "Phone", "Amount", "Currency", "Country", "Employee ID", "Email", "Note"]
# Cells a payroll sheet holds, and cells an attacker or a broken export puts there.
PLAIN_CELLS = [
    "Jo Doe", "0770123456", "231770123456", "+250788123456", "0881234567", "1,250.00", "100",
    "15 000", "USD", "LRD", "RWF", "LR", "RW", "E1", "jo@example.com", "", " ", "Total",
]
HOSTILE_CELLS = [
    "[/bold]", "[bold red]x[/]", "[link=http://evil]click[/link]", "\x1b[31mred\x1b[0m",
    "\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\", "\x1b[2J\x1b[H", "\x07", "\x9b31m",
    "\u202eevil\u202c", "\u2066x\u2069", "=HYPERLINK(\"http://x\")", "+1", "@SUM(A1)", "\r", "\n",
    "\"", "\"\"", "a\"b", ",", ";", "\t", "\x00", "-1e15", "1e308", "NaN", "inf", "(1,250.00)",
    "0770123456/0880123456", "((((((((", "$$$$", "1.250", "2026-11-30", "5%", "\ufeff",
    "\ud7ff", "𝟘𝟟𝟟𝟘𝟙𝟚𝟛𝟜𝟝𝟞", "’", "Totals", "grand total",
]


def _long(char: str) -> st.SearchStrategy[str]:
    return st.integers(50, 3000).map(lambda n: char * n)


cells = st.one_of(
    st.sampled_from(PLAIN_CELLS),
    st.sampled_from(HOSTILE_CELLS),
    st.text(max_size=12),
    _long("7"),
    _long("("),
    _long(" "),
    st.tuples(st.sampled_from(["0770123456 ", "1,", "USD "]), _long("9")).map("".join),
)


@st.composite
def sheet_rows(draw: st.DrawFn) -> list[list[Any]]:
    """A header (often the real one, sometimes a hostile one) and rows of any width."""
    width = draw(st.integers(1, 8))
    if draw(st.booleans()):
        header: list[Any] = HEADERS[: max(3, width)]
    else:
        header = draw(st.lists(st.one_of(st.sampled_from(HEADERS), cells), min_size=1, max_size=8))
    rows: list[list[Any]] = [header]
    repeated = draw(st.sampled_from(PLAIN_CELLS[:5]))
    for _ in range(draw(st.integers(0, 12))):
        row = draw(st.lists(cells, min_size=0, max_size=len(header) + 2))
        if row and draw(st.integers(0, 3)) == 0:
            row[min(1, len(row) - 1)] = repeated  # same phone on several rows
        rows.append(row)
    if draw(st.integers(0, 4)) == 0:  # many copies of one row
        rows += [["Jo", repeated, "10", "USD", "LR"]] * draw(st.integers(2, 200))
    return rows


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` with a few bytes flipped, dropped or inserted, or cut short."""
    out = bytearray(data)
    for _ in range(draw(st.integers(0, 3))):
        # Where, as a share of the length: the draws never depend on the data itself.
        where = draw(st.integers(0, 2**16 - 1))
        if not out:
            continue
        at = where * len(out) >> 16
        action = draw(st.sampled_from(["flip", "drop", "insert", "cut"]))
        if action == "flip":
            out[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "drop":
            del out[at]
        elif action == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=4))
        else:
            del out[at:]
    return bytes(out)


@st.composite
def csv_bytes(draw: st.DrawFn) -> bytes:
    """A CSV sheet as bytes: any delimiter and encoding, sometimes damaged."""
    rows = draw(sheet_rows())
    text = csv_text(rows, draw(st.sampled_from([",", ";", "\t"])))
    if draw(st.integers(0, 3)) == 0:
        text = text.replace('"', "", 1)  # a badly quoted field
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))
    data = text.encode(encoding, errors="replace")
    return draw(mutated(data)) if draw(st.integers(0, 3)) == 0 else data


_NUMBER_FORMATS = ["General", "0.00%", "mm:ss", "yyyy-mm-dd", "0", "@", "#,##0.00", "[h]:mm:ss"]
_XLSX_VALUES = st.one_of(
    cells.filter(lambda c: "\x00" not in c),
    st.integers(-(10**15), 10**15),
    st.sampled_from([-1e15, 1e15, 0.05, 231770123456.0, 2.31770123456e11, -0.5, 1e-9]),
    st.floats(allow_nan=False, allow_infinity=False),
)
_MEMBERS = [
    "xl/workbook.xml", "[Content_Types].xml", "xl/styles.xml", "docProps/core.xml",
    "xl/worksheets/sheet1.xml", "xl/_rels/workbook.xml.rels", "xl/sharedStrings.xml",
]
_GARBAGE = [
    b"", b"not xml", b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>",
    b"<?xml version='1.0'?><broken", b"\xff\xfe\x00",
]


def _xlsx(rows: list[list[Any]], formats: list[str]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            try:
                cell = sheet.cell(row=r, column=c, value=value)
            except Exception:  # openpyxl refuses some characters; the cell stays empty
                continue
            if formats and r > 1:
                cell.number_format = formats[(r + c) % len(formats)]
    out = io.BytesIO()
    book.save(out)
    return _repeatable(out.getvalue())


_CORE = (
    b"<?xml version='1.0' encoding='UTF-8'?><cp:coreProperties xmlns:cp='http://schemas."
    b"openxmlformats.org/package/2006/metadata/core-properties'/>"
)


def _repeatable(data: bytes) -> bytes:
    """The same workbook with fixed times (openpyxl stamps the save time), so that the same
    draws always give the same bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = _CORE if info.filename == "docProps/core.xml" else source.read(info)
            fixed = zipfile.ZipInfo(info.filename, date_time=(2026, 11, 30, 0, 0, 0))
            fixed.compress_type = info.compress_type
            target.writestr(fixed, content)
    return out.getvalue()


@st.composite
def xlsx_bytes(draw: st.DrawFn) -> bytes:
    """An XLSX workbook as bytes: odd values and number formats, sometimes a damaged package."""
    rows = draw(sheet_rows())
    rows = [rows[0]] + [
        [draw(_XLSX_VALUES) if draw(st.integers(0, 2)) == 0 else v for v in row] for row in rows[1:]
    ]
    formats = draw(st.lists(st.sampled_from(_NUMBER_FORMATS), max_size=3))
    data = _xlsx(rows, formats)
    damage = draw(st.sampled_from(["none", "none", "member", "bytes"]))
    if damage == "member":
        data = _replace_member(data, draw(st.sampled_from(_MEMBERS)), draw(
            st.one_of(st.none(), st.sampled_from(_GARBAGE))
        ))
    elif damage == "bytes":
        data = draw(mutated(data))
    return data


def _replace_member(data: bytes, member: str, content: bytes | None) -> bytes:
    """The package with `member` dropped (content None) or replaced."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            if info.filename != member:
                target.writestr(info, source.read(info))
            elif content is not None:
                target.writestr(info, content)
    return out.getvalue()


# -- the check ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What `validate --json` did with one file."""

    exit_code: int
    traceback: str | None  # the exception that escaped, if one did
    seconds: float
    stdout_bytes: int
    stderr: str
    hung: bool = False


class _Hang(Exception):
    pass


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    def expire(_signum: int, _frame: object) -> None:
        raise _Hang

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def validate_file(path: Path, *, limit: float = 10.0) -> Outcome:
    """Run `paybatch validate --json PATH` in this process (click's runner), timed."""
    import traceback

    from click.testing import CliRunner

    from batch.cli import main

    started = time.perf_counter()
    try:
        with _time_limit(limit):
            result = CliRunner().invoke(main, ["validate", "--json", str(path)])
    except _Hang:
        return Outcome(-1, None, time.perf_counter() - started, 0, "", hung=True)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # a Rust panic (pyo3's PanicException) escapes click's runner
        return Outcome(-1, traceback.format_exc(), time.perf_counter() - started, 0, "")
    seconds = time.perf_counter() - started
    escaped = None
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        if isinstance(result.exception, _Hang):
            return Outcome(-1, None, seconds, 0, "", hung=True)
        assert result.exc_info is not None
        escaped = "".join(traceback.format_exception(*result.exc_info))
    stderr = result.stderr
    return Outcome(result.exit_code, escaped, seconds, len(result.stdout_bytes), stderr)


def problems_of(outcome: Outcome, size: int) -> list[str]:
    """Everything wrong with one outcome (empty when the file was handled as it must be)."""
    found = []
    if outcome.hung:
        found.append("hung (over the time limit)")
    if outcome.traceback:
        found.append(f"traceback:\n{outcome.traceback}")
    elif outcome.exit_code not in (0, 1, 2):
        found.append(f"exit code {outcome.exit_code}")
    if "Traceback" in outcome.stderr:
        found.append(f"traceback on stderr: {outcome.stderr}")
    if len(outcome.stderr.splitlines()) > 1:
        found.append(f"stderr is not one line: {outcome.stderr!r}")
    if outcome.stdout_bytes > 400 * size + 8000:  # a few hundred bytes of JSON per input byte
        found.append(f"output {outcome.stdout_bytes} bytes for {size} bytes of input")
    return found
