"""What an XLSX cell's number format says and its value does not: a Percent cell reads as 0.05,
so such cells are shown as Excel shows them (5%) and the amount and phone rules reject them.
(Date-formatted numbers need nothing here: calamine already reads them as dates.)"""

from __future__ import annotations

import io
import warnings
import zipfile
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import fromstring

import polars as pl

_STYLES = "xl/styles.xml"


def _has_percent_style(data: bytes) -> bool:
    """Whether any cell style of the workbook is a percent format (read from styles.xml alone,
    which is small: the usual workbook has none, and then no cell needs a look)."""
    # Here, not at the top: openpyxl is ~0.1 s of every command's start-up, and only .xlsx
    # sheets need it.
    from openpyxl.styles.numbers import BUILTIN_FORMATS
    from openpyxl.styles.stylesheet import Stylesheet

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as book:
            styles = Stylesheet.from_tree(fromstring(book.read(_STYLES)))  # type: ignore[arg-type]
    except (KeyError, zipfile.BadZipFile, SyntaxError, TypeError, ValueError):
        return False  # no styles, or unreadable ones: calamine's reading stands
    custom = {f.numFmtId: f.formatCode for f in styles.numFmts.numFmt}
    codes = (
        custom.get(xf.numFmtId) or BUILTIN_FORMATS.get(xf.numFmtId, "") for xf in styles.cellXfs.xf
    )
    return any("%" in code for code in codes)


def _as_percent(value: object) -> str | None:
    try:
        return f"{(Decimal(str(value)) * 100).normalize():f}%"
    except (InvalidOperation, ValueError):
        return None


def show_percent_cells(data: bytes, sheet: str | None, grid: pl.DataFrame) -> pl.DataFrame:
    """`grid` (text cells, grid row i = Excel row i + 1) with every numeric Percent-formatted
    cell written as Excel displays it ("5%" for 0.05)."""
    if not _has_percent_style(data):
        return grid
    try:
        found = _percent_cells(data, sheet, grid.width)
    except Exception:  # openpyxl cannot read what calamine could (issue 12): its reading stands
        return grid
    for column, found_cells in found.items():
        name = grid.columns[column]
        # openpyxl and calamine may disagree on a damaged sheet's extent: only shared cells.
        cells = {row: text for row, text in found_cells.items() if row < grid.height}
        rows = pl.Series(list(cells), dtype=pl.Int64)
        texts = pl.Series(list(cells.values()), dtype=pl.String)
        grid = grid.with_columns(grid.get_column(name).scatter(rows, texts))
    return grid


def _percent_cells(data: bytes, sheet: str | None, width: int) -> dict[int, dict[int, str]]:
    """Grid column -> grid row -> text of every numeric Percent-formatted cell."""
    with warnings.catch_warnings():
        # "Cell C3 is marked as a date but the serial value … is outside the limits": printed
        # on stderr beside paybatch's own line (issue 12); the cells stay calamine's reading.
        warnings.simplefilter("ignore")
        return _read_percent_cells(data, sheet, width)


def _read_percent_cells(data: bytes, sheet: str | None, width: int) -> dict[int, dict[int, str]]:
    import openpyxl  # slow to read a whole sheet; only when a percent style exists at all

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        worksheet = book[sheet] if sheet else book.worksheets[0]
        first_column = worksheet.min_column or 1
        found: dict[int, dict[int, str]] = {}  # grid column -> grid row -> text
        for row in worksheet.iter_rows():
            for cell in row:
                value = getattr(cell, "value", None)
                if isinstance(value, int | float) and "%" in (cell.number_format or ""):
                    shown = _as_percent(value)
                    if shown is None or cell.column is None or cell.row is None:
                        continue
                    column = cell.column - first_column
                    if 0 <= column < width:
                        found.setdefault(column, {})[cell.row - 1] = shown
    finally:
        book.close()
    return found
