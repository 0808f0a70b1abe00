"""Read a payout sheet (CSV or XLSX) into text cells with Excel row numbers; no validation rules."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from batch.errors import SheetError
from batch.intake.excel import HEADER_SCAN_ROWS, OLE_MAGIC, guarded, read_excel, suggest_sheet
from batch.intake.excel_formats import show_percent_cells
from batch.intake.headers import CANONICAL_COLUMNS, HeaderMatch, find_header, short
from batch.intake.html_export import HTML_AS_EXCEL, looks_like_html
from batch.intake.workbook import WorkbookFindings, findings_for

ROW = "_row"  # column holding the row number Excel shows (1-based)
BLANK = "_blank"  # True when every cell of the row is empty
RAGGED = "_ragged"  # CSV only: the row has more fields than the header
CELLS = "_cells"  # Sheet.phoneless: the row's non-empty cells, joined by " | "

_HEADER_SCAN_ROWS = HEADER_SCAN_ROWS
_SNIFF_BYTES = 64 * 1024
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = OLE_MAGIC
_EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
_DELIMITERS = (",", ";", "\t")
_SHOWN_HEADERS = 20  # ignored headers named in the notice
_SEP_LINE = re.compile(r"^sep=(.)[ \t]*\r?\n", re.IGNORECASE)


@dataclass(frozen=True)
class Sheet:
    """A loaded sheet: canonical text columns plus `_row`, `_blank` and `_ragged`, one row per
    data row."""

    file: str
    frame: pl.DataFrame
    header_row: int  # Excel row number of the header
    headers: dict[str, str]  # canonical column -> header as written in the sheet
    kind: str  # "csv" or "xlsx"
    notices: tuple[str, ...] = field(default=())
    # Every cell of the last non-blank row, mapped or not: a totals row often says "Total"
    # in a column paybatch does not use.
    last_row_cells: tuple[str, ...] = field(default=())
    # `_row` and `_cells` (every non-empty cell, mapped or not, joined by " | ") of the
    # non-blank rows without a phone: where totals, subtotals and notes are found.
    phoneless: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema={ROW: pl.Int64, CELLS: pl.String})
    )
    # XLSX: what the workbook hides (hidden rows, unsaved formulas...); see intake/workbook.py
    workbook: WorkbookFindings = field(default_factory=WorkbookFindings)

    def __len__(self) -> int:
        return self.frame.height


def load_sheet(path: Path, *, sheet: str | None = None) -> Sheet:
    """Load a CSV or XLSX payout sheet; every failure to read the file raises SheetError."""
    name = str(path)
    data = read_file(path)
    with unreadable_as_sheet_error(name):
        raw = read_cells(path, data, sheet)
        if raw.kind == "xlsx" and sheet is None:
            if find_header(raw.grid.head(_HEADER_SCAN_ROWS).rows()) is None:
                suggest_sheet(name, data)
        loaded = _shape(name, raw.grid, raw.kind, raw.ragged, list(raw.notices))
        if data.startswith(_ZIP_MAGIC):
            loaded = replace(loaded, workbook=findings_for(data, sheet, raw.grid))
        return loaded


@dataclass(frozen=True)
class RawCells:
    """A sheet's cells as text, before any header is looked for (payout or collection)."""

    grid: pl.DataFrame
    kind: str  # "csv" or "xlsx"
    ragged: list[int] = field(default_factory=list)  # CSV records wider than the header
    notices: tuple[str, ...] = ()


def read_file(path: Path) -> bytes:
    """The file's bytes; a missing, unreadable, empty or lock file raises SheetError."""
    name = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SheetError(name, "no such file") from None
    except IsADirectoryError:
        raise SheetError(name, "is a directory, not a CSV or XLSX file") from None
    except OSError as exc:
        raise SheetError(name, f"cannot be read ({exc.strerror})") from None
    if path.name.startswith("~$"):
        raise SheetError(
            name, f"is Excel's lock file for an open workbook; use {path.name[2:]!r} instead"
        )
    if data.isspace() or not data:  # isspace stops at the first other byte; strip copies
        raise SheetError(name, "is empty")
    return data


@contextmanager
def unreadable_as_sheet_error(name: str) -> Iterator[None]:
    """The readers' other failures on a hostile file become one SheetError (issue 12)."""
    try:
        yield
    except SheetError:
        raise
    except Exception as exc:
        what = f"{type(exc).__name__}: {_first_line(exc)}"
        raise SheetError(name, f"cannot be read ({short(what, 200)})") from None


def read_cells(path: Path, data: bytes, sheet: str | None) -> RawCells:
    """The cells of an Excel workbook's sheet, or of a CSV (whatever its file name says)."""
    name = str(path)
    if data.startswith(_ZIP_MAGIC) or data.startswith(_OLE_MAGIC):
        grid = read_excel(name, data, sheet)
        if data.startswith(_ZIP_MAGIC):  # a Percent cell reads as 0.05: show it as 5%
            grid = guarded(name, lambda: show_percent_cells(data, sheet, grid))
        return RawCells(grid, "xlsx")  # Excel has no fields to miscount
    notices: tuple[str, ...] = ()
    if path.suffix.lower() in _EXCEL_SUFFIXES:
        if looks_like_html(data):
            raise SheetError(name, HTML_AS_EXCEL)
        if b"\x00" in data[:_SNIFF_BYTES] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise SheetError(name, "is not a valid Excel file (corrupt, or not really .xlsx)")
        # Text saved under an Excel name ("Save as CSV" kept .xlsx): read what it really is.
        notices = (f"{path.name} is really a text (CSV) file, not Excel; read as CSV",)
    if sheet is not None:
        raise SheetError(name, "--sheet applies to Excel files only; this is a CSV file")
    grid, ragged = _read_csv(name, data)
    return RawCells(grid, "csv", ragged, notices)


def _decode(name: str, data: bytes) -> tuple[str, bytes]:
    """Text of a CSV as Excel writes them (UTF-8 with or without BOM, UTF-16 with BOM, or
    cp1252), and the same text as UTF-8 bytes for polars."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
            return text, text.encode("utf-8")
        except UnicodeDecodeError:
            raise SheetError(name, "is not valid UTF-16 text") from None
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise SheetError(name, "is not a CSV or XLSX file (binary content)")
    try:
        text = data.decode("utf-8-sig")
        return text, data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    except UnicodeDecodeError:
        pass
    # Excel's "CSV" on Windows writes cp1252; latin-1 covers its five unassigned bytes.
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return text, text.encode("utf-8")


def _sample_rows(text: str, delimiter: str) -> list[list[str]]:
    sample = text[:_SNIFF_BYTES]
    reader = csv.reader(io.StringIO(sample), delimiter=delimiter)
    rows: list[list[str]] = []
    try:
        for row in reader:
            rows.append(row)
            if len(rows) >= _HEADER_SCAN_ROWS:
                break
    except csv.Error:
        pass
    return rows


def _read_csv(name: str, data: bytes) -> tuple[pl.DataFrame, list[int]]:
    """The CSV as a text grid, and the 0-based records with more fields than the header."""
    text, utf8 = _decode(name, data)
    if "\r" in text and "\n" not in text:  # old Mac line ends, which polars does not split on
        text = text.replace("\r", "\n")
        utf8 = text.encode("utf-8")
    # Excel writes "sep=;" as a first line, then hides it: row 1 is the line after it.
    declared = _SEP_LINE.match(text)
    if declared:
        text = text[declared.end() :]
        utf8 = text.encode("utf-8")
    # The delimiter is the one under which a header row names the most known columns.
    best: tuple[int, str, int] | None = None
    for delimiter in (declared.group(1),) if declared else _DELIMITERS:
        rows = _sample_rows(text, delimiter)
        match = find_header(rows)
        score = len(match.columns) if match else 0
        width = len(rows[match.index]) if match else max((len(r) for r in rows), default=0)
        if best is None or score > best[0]:
            best = (score, delimiter, width)
    assert best is not None
    _, delimiter, width = best
    if width == 0:
        raise SheetError(name, "is empty")
    try:
        return _polars_csv(utf8, delimiter, width, ragged=False), []
    except pl.exceptions.ComputeError as exc:
        if "more fields" not in str(exc):
            raise SheetError(name, f"is not a readable CSV file ({_first_line(exc)})") from None
    # Some row has more fields than the header: usually an unquoted comma in an amount.
    # Rare, so the exact (slower) csv module finds which rows, for a problem on each.
    widths = _record_widths(name, text, delimiter)
    widest = max(widths)
    header_index = next((i for i, w in enumerate(widths) if w == width), 0)
    ragged = [i for i, w in enumerate(widths) if i > header_index and w > width]
    try:
        return _polars_csv(utf8, delimiter, widest, ragged=True), ragged
    except pl.exceptions.ComputeError:  # polars and csv disagree: a badly quoted field
        raise SheetError(
            name,
            'is not a readable CSV file (badly quoted fields: a " opens a field that does not '
            "close where a row ends)",
        ) from None


def _record_widths(name: str, text: str, delimiter: str) -> list[int]:
    """The number of fields of each CSV record (one pass; a field may be as long as the file)."""
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 1))
    try:
        return [len(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error as exc:
        raise SheetError(name, f"is not a readable CSV file ({exc})") from None
    finally:
        csv.field_size_limit(limit)


def _polars_csv(utf8: bytes, delimiter: str, width: int, *, ragged: bool) -> pl.DataFrame:
    try:
        return pl.read_csv(
            utf8,
            has_header=False,
            separator=delimiter,
            schema={f"column_{i + 1}": pl.String for i in range(width)},
            missing_columns="insert",
            truncate_ragged_lines=ragged,
            raise_if_empty=False,
        )
    except pl.exceptions.ComputeError:
        raise
    except pl.exceptions.PolarsError as exc:
        raise pl.exceptions.ComputeError(_first_line(exc)) from None


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _shape(
    name: str, grid: pl.DataFrame, kind: str, ragged: list[int], notices: list[str] | None = None
) -> Sheet:
    """Find the header, keep canonical columns below it, and number rows as Excel does."""
    top = grid.head(_HEADER_SCAN_ROWS).rows()
    match = find_header(top)
    if match is None:
        raise SheetError(
            name, "has no recognisable header row (expected columns like name, phone, amount)"
        )
    if match.duplicates:
        column, first, second = match.duplicates[0]
        raise SheetError(
            name, f"columns {short(first)!r} and {short(second)!r} both mean {column}; keep one"
        )
    if match.missing:
        missing = ", ".join(match.missing)
        raise SheetError(
            name, f"header on row {match.index + 1} lacks required column(s): {missing}"
        )
    frame = _data_frame(grid, match, ragged)
    if frame.filter(~pl.col(BLANK)).height == 0:
        raise SheetError(name, f"has a header on row {match.index + 1} but no data rows")
    notices = list(notices or [])
    if match.ignored:
        shown = ", ".join(short(h) for h in match.ignored[:_SHOWN_HEADERS])
        more = len(match.ignored) - _SHOWN_HEADERS
        shown += f" … and {more} more" if more > 0 else ""
        notices.append(f"ignored column(s) not used for payouts: {shown}")
    last = frame.filter(~pl.col(BLANK)).get_column(ROW).max()
    assert isinstance(last, int)
    cells = tuple(c.strip() for c in grid.row(last - 1) if c is not None and c.strip())
    return Sheet(
        name,
        frame,
        match.index + 1,
        match.headers,
        kind,
        tuple(notices),
        cells,
        phoneless(grid, frame),
    )


def phoneless(grid: pl.DataFrame, frame: pl.DataFrame) -> pl.DataFrame:
    """Every cell of the non-blank rows whose phone is empty (usually few), for spotting
    totals and notes whatever column their words are in."""
    rows = frame.filter(~pl.col(BLANK) & _text("phone").is_null()).get_column(ROW)
    picked = grid.select(pl.all().gather(rows - 1))  # row n of the sheet is grid row n - 1
    cells = pl.concat_str([_text(c) for c in grid.columns], separator=" | ", ignore_nulls=True)
    return picked.select(pl.lit(rows).alias(ROW), cells.alias(CELLS))


def _text(column: str) -> pl.Expr:
    stripped = pl.col(column).str.strip_chars()
    return pl.when(stripped != "").then(stripped)


def _data_frame(grid: pl.DataFrame, match: HeaderMatch, ragged: list[int]) -> pl.DataFrame:
    names = grid.columns
    body = grid.slice(match.index + 1)
    filled = [pl.col(c).str.strip_chars().fill_null("") != "" for c in names]
    selected = [
        (pl.col(names[match.columns[c]]) if c in match.columns else pl.lit(None, pl.String)).alias(
            c
        )
        for c in CANONICAL_COLUMNS
    ]
    row = pl.int_range(match.index + 2, match.index + 2 + body.height, dtype=pl.Int64)
    return body.select(
        row.alias(ROW), *selected, (~pl.any_horizontal(filled)).alias(BLANK)
    ).with_columns(pl.col(ROW).is_in([index + 1 for index in ragged]).alias(RAGGED))
