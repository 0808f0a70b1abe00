"""The report workbook's big tables (Payouts or Invoices, Attempts, a collection's tables).

Each table is a TableSheet: landscape pages repeating the header row, column widths, a frozen
styled header, a filter over the rows. Its lines become rows of cell XML (`TableRows`), the
same XML xlsxwriter would write cell by cell at a fraction of the cost; every sheet is its own
file until the workbook closes, so the tables of a streamed batch are filled in one pass over
its rows (`in_one_pass`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from xlsxwriter.utility import xl_col_to_name  # type: ignore[import-untyped]

from batch.markets import CURRENCY_DECIMALS
from batch.report.lines import Column, Line, in_one_pass
from batch.report.xlsx_sheet import TableSheet, plain_text, text_cell
from batch.report.xlsx_style import STATE_FILLS, TIME_FORMAT, Formats, excel_time, money_format

Table = tuple[str, Sequence[Column], Sequence[Line], bool]  # title, columns, lines, highlight


def print_setup(sheet: Any, *, one_page_wide: bool) -> None:
    """Landscape pages (the report gets printed for the books): the Summary fits one page
    width; the wide tables repeat their header row on every page instead."""
    sheet.set_landscape()
    if one_page_wide:
        sheet.fit_to_pages(1, 0)  # as many pages down as needed
    else:
        sheet.repeat_rows(0)


def table_sheets(book: Any, formats: Formats, tables: Sequence[Table]) -> None:
    """Add a sheet per table and fill them all in one pass over a streamed batch's rows."""
    sheets = [_start_table(book, formats, title, columns) for title, columns, _, _ in tables]
    rows = [TableRows(formats, columns, highlight) for _, columns, _, highlight in tables]
    last = [len(columns) - 1 for _, columns, _, _ in tables]
    written = [0] * len(tables)
    for i, line in in_one_pass([lines for _, _, lines, _ in tables]):
        r = written[i] = written[i] + 1
        sheets[i].write_row_xml(r, rows[i].xml(r, line), 0, last[i])
    for sheet, (_, columns, _, _), r in zip(sheets, tables, written, strict=True):
        sheet.autofilter(0, 0, max(1, r), len(columns) - 1)


def _start_table(book: Any, formats: Formats, title: str, columns: Sequence[Column]) -> Any:
    """A table's sheet with its print setup, widths, frozen header row and the header."""
    sheet = book.add_worksheet(title, worksheet_class=TableSheet)
    print_setup(sheet, one_page_wide=False)
    for j, column in enumerate(columns):
        sheet.set_column(j, j, column.width)
    sheet.freeze_panes(1, 0)
    header = formats.get(font="header")
    for j, column in enumerate(columns):
        sheet.write_string(0, j, column.header, header)
    return sheet


class TableRows:
    """A table's lines as rows of cell XML: per column, its letters in a cell reference, its
    key and kind. Highlighted rows (STATE_FILLS) carry the fill in every cell of the table,
    empty ones too. Text is written as shown_text (formula starts neutralised)."""

    def __init__(self, formats: Formats, columns: Sequence[Column], highlight: bool) -> None:
        self.formats, self.highlight = formats, highlight
        self.plan = [(xl_col_to_name(j), c.key, c.kind, c.currency_key)
                     for j, c in enumerate(columns)]
        # Unfilled money cells: the currency's format, none for a currency we do not know.
        self._money = {cur: money_format(cur) for cur in CURRENCY_DECIMALS}
        for number in (TIME_FORMAT, *self._money.values()):  # made in the order they always were
            formats.get(number)
        self._money_styles: dict[str, str] = {}  # currency -> style, made on first use

    def xml(self, r: int, line: Line) -> str:
        """Row `r` (0-based) of the sheet, holding `line`."""
        fill = STATE_FILLS.get(str(line.get("state"))) if self.highlight else None
        if fill is not None:
            return self._filled(r, line, fill)
        n = r + 1
        cells = []
        # The hot loop of a big report (~25 cells a row): number cells are number_cell's
        # f-string inlined, and styles are looked up once per currency, not per cell.
        money_styles = self._money_styles
        for letter, key, kind, currency_key in self.plan:
            value = line.get(key)
            if value is None:
                continue
            if kind == "text" or value.__class__ is str:  # an int column holding text: text
                text = str(value)
                if text and plain_text(text):  # most cells: text_cell's own fast way, inlined
                    cells.append(f'<c r="{letter}{n}" t="inlineStr"><is><t>{text}</t></is></c>')
                else:
                    cells.append(text_cell(f"{letter}{n}", "", text))
            elif kind == "time":
                assert isinstance(value, datetime)
                cells.append(f'<c r="{letter}{n}"{self._time_style()}>'
                             f"<v>{excel_time(value):.16G}</v></c>")
            elif kind == "money":
                currency = line.get(currency_key) if currency_key else None
                style = ""
                if currency:
                    known = money_styles.get(str(currency))
                    if known is None:
                        known = money_styles[str(currency)] = self._money_style(str(currency))
                    style = known
                cells.append(f'<c r="{letter}{n}"{style}><v>{value:.16G}</v></c>')
            else:
                cells.append(f'<c r="{letter}{n}"><v>{value:.16G}</v></c>')
        return "".join(cells)

    def _time_style(self) -> str:
        return self.formats.style(TIME_FORMAT)

    def _money_style(self, currency: str) -> str:
        """An unfilled money cell's style: its currency's format ("" for one we do not know)."""
        number = self._money.get(currency)
        return self.formats.style(number) if number else ""

    def _filled(self, r: int, line: Line, fill: str) -> str:
        style = self.formats.style
        plain = style(fill=fill)
        n = r + 1
        cells = []
        for letter, key, kind, currency_key in self.plan:
            value = line.get(key)
            if value is None:
                cells.append(f'<c r="{letter}{n}"{plain}/>')  # empty, with the fill
            elif kind == "time":
                assert isinstance(value, datetime)
                cells.append(f'<c r="{letter}{n}"{style(TIME_FORMAT, fill)}>'
                             f"<v>{excel_time(value):.16G}</v></c>")
            elif kind == "money":
                currency = line.get(currency_key) if currency_key else None
                number = money_format(currency if isinstance(currency, str) else None)
                cells.append(f'<c r="{letter}{n}"{style(number, fill)}><v>{value:.16G}</v></c>')
            elif isinstance(value, str):
                cells.append(text_cell(f"{letter}{n}", plain, value))
            else:
                cells.append(f'<c r="{letter}{n}"{plain}><v>{value:.16G}</v></c>')
        return "".join(cells)
