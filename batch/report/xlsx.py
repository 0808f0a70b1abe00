"""Reconciliation report as an Excel workbook: Summary (with a chart), Payouts, Attempts.

Amounts are written as exact numbers with their currency's decimals; every text cell is
neutralised against formula injection; times are UTC (Excel has no time zones). Written in
openpyxl's write-only mode: rows go to the file as they come (a cell object costs ~300 bytes).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeAlias

from openpyxl import Workbook
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE, Cell, WriteOnlyCell
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from batch.markets import CURRENCY_DECIMALS
from batch.report.approvals import ApprovalState
from batch.report.lines import ATTEMPT_COLUMNS, BatchReport, Column, Line, Value
from batch.report.sections import context_lines, summary_sections
from batch.report.text import cell_text

# openpyxl's Sheet: it borrows page setup, widths, filters and charts from
# Worksheet at runtime, which its type stubs do not show.
Sheet: TypeAlias = Any
TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="305496")
TITLE_FONT = Font(bold=True, size=14)
SECTION_FONT = Font(bold=True, size=12)
# Whole-row highlights on the Payouts sheet: what needs a person's attention.
STATE_FILLS = {
    "FAILED": PatternFill("solid", fgColor="FFC7CE"),
    "UNKNOWN": PatternFill("solid", fgColor="FFEB9C"),
    "SUBMITTING": PatternFill("solid", fgColor="FFEB9C"),
    "SUBMITTED": PatternFill("solid", fgColor="FFEB9C"),
}


def money_format(currency: str | None) -> str:
    """Excel number format for an amount in this currency (2 dp USD/LRD, 0 dp RWF)."""
    if currency is None or currency not in CURRENCY_DECIMALS:
        return "General"
    places = CURRENCY_DECIMALS[currency]
    return "#,##0" + ("." + "0" * places if places else "")


def write_xlsx(report: BatchReport, path: Path) -> None:
    """Write the workbook to `path`."""
    book = Workbook(write_only=True)
    _summary_sheet(_sheet(book, "Summary"), report)
    rows_sheet = _sheet(book, report.rows_title)
    _table_sheet(rows_sheet, report.row_columns, report.payouts, highlight=True)
    _table_sheet(_sheet(book, "Attempts"), ATTEMPT_COLUMNS, report.attempts, highlight=False)
    for table in report.extra:  # e.g. a collection's summary per currency and its ageing
        _table_sheet(_sheet(book, table.title), table.columns, table.lines, highlight=False)
    book.save(path)


def _sheet(book: Workbook, title: str) -> Sheet:
    """A new sheet with its print setup (a write-only sheet writes that before its rows)."""
    sheet = book.create_sheet(title)
    _print_to_page_width(sheet)
    return sheet


def _print_to_page_width(sheet: Sheet) -> None:
    """Landscape pages (the report gets printed for the books): the Summary fits one page
    width; the wide tables repeat their header row on every page instead."""
    sheet.page_setup.orientation = "landscape"
    if sheet.title == "Summary":
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0  # as many pages down as needed
    else:
        sheet.print_title_rows = "1:1"


def _text(value: str) -> str:
    """Text as a cell holds it: control and bidi characters shown, formula starts neutralised,
    and anything else Excel refuses dropped."""
    return ILLEGAL_CHARACTERS_RE.sub("", cell_text(value))


def _put(
    cell: Cell, value: Value, *, currency: str | None = None, money: bool = False
) -> Cell:
    """Set one value: text neutralised, amounts exact, times as naive UTC; returns the cell."""
    if isinstance(value, str):
        cell.value = _text(value)
        cell.data_type = "s"
    elif isinstance(value, datetime):
        cell.value = value.astimezone(UTC).replace(tzinfo=None)
        cell.number_format = TIME_FORMAT
    else:
        cell.value = value  # int, Decimal (written as its exact text) or None
        if money and isinstance(value, Decimal):
            cell.number_format = money_format(currency)
    return cell


put_cell = _put  # the review workbook (report/review.py) writes its cells the same way


def _bare(value: Value, *, money: bool) -> tuple[bool, Value]:
    """(True, what to append) when a value needs no style of its own: openpyxl then writes it
    through one shared cell. A Cell object per value costs ~3x (openpyxl takes it for a bad
    value first: an exception and its message per cell)."""
    if isinstance(value, str):
        text = _text(value)
        return text not in ERROR_CODES, text  # "#N/A" must stay text, not an Excel error
    if isinstance(value, datetime) or (money and isinstance(value, Decimal)):
        return False, value
    return True, value  # int, Decimal, None


def _table_sheet(
    sheet: Sheet, columns: Sequence[Column], lines: Sequence[Line], *,
    highlight: bool,
) -> None:
    # Widths and frozen panes first: a write-only sheet writes them before its first row.
    for j, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(j)].width = column.width
    sheet.freeze_panes = "A2"
    heads = [WriteOnlyCell(sheet, column.header) for column in columns]
    for head in heads:
        head.font, head.fill = HEADER_FONT, HEADER_FILL
    sheet.append(heads)
    for line in lines:
        fill = STATE_FILLS.get(str(line.get("state"))) if highlight else None
        cells: list[Cell | Value] = []
        for column in columns:
            value, money = line.get(column.key), column.kind == "money"
            if fill is None:
                bare, plain = _bare(value, money=money)
                if bare:
                    cells.append(plain)
                    continue
            currency = line.get(column.currency_key) if column.currency_key else None
            cell = _put(
                WriteOnlyCell(sheet), value, money=money,
                currency=currency if isinstance(currency, str) else None,
            )
            if fill is not None:
                cell.fill = fill
            cells.append(cell)
        sheet.append(cells)
    last = get_column_letter(len(columns))
    sheet.auto_filter.ref = f"A1:{last}{max(1, len(lines) + 1)}"


class _Writer:
    """Writes the Summary sheet top to bottom."""

    def __init__(self, sheet: Sheet) -> None:
        self.sheet = sheet
        self.row = 1  # the row the next line goes to

    def _append(self, cells: Iterable[Cell]) -> None:
        self.sheet.append(list(cells))
        self.row += 1

    def line(self, *values: Value, currency: str | None = None, font: Font | None = None) -> int:
        cells = [
            _put(WriteOnlyCell(self.sheet), value, currency=currency,
                 money=isinstance(value, Decimal))
            for value in values
        ]
        if font is not None:
            for cell in cells:
                cell.font = font
        self._append(cells)
        return self.row - 1

    def header(self, *titles: str) -> None:
        cells = [WriteOnlyCell(self.sheet, title) for title in titles]
        for cell in cells:
            cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        self._append(cells)

    def section(self, title: str) -> None:
        self._append([])
        self.line(title, font=SECTION_FONT)


def _summary_sheet(sheet: Sheet, report: BatchReport) -> None:
    for letter, width in zip("ABCDEF", (30, 44, 24, 16, 16, 30), strict=True):
        sheet.column_dimensions[letter].width = width
    i = report.identity
    w = _Writer(sheet)
    w.line(f"Reconciliation report: {i.name}", font=TITLE_FONT)
    if i.watermark:
        w.line(i.watermark, font=TITLE_FONT)
    for label, value in (
        ("Batch", i.name), ("Batch id", i.batch_id), ("Source file", i.source_file),
        ("Pay period", i.period), ("Purpose", i.purpose),
        ("Content hash", i.content_hash), ("Ledger", i.ledger),
        ("Created (UTC)", i.created_at), ("Started (UTC)", i.started_at),
        ("Finished (UTC)", i.finished_at), ("Report generated (UTC)", i.generated_at),
        ("Rows", report.rows), ("Situation", report.situation),
    ):
        w.line(label, value)
    for label, fact in context_lines(report):  # issue 13: environment, who, cancelled
        w.line(label, fact)

    w.section("Outcome")
    w.header("State", "Rows")
    first = w.row
    shown = [(s, n) for s, n in report.counts.items() if n]
    for state, n in shown:
        w.line(state, n)
    if shown:
        _outcome_chart(sheet, first, w.row - 1)

    w.section("Money by state and currency")
    w.header("State", "Currency", "Rows", "Amount")
    for t in report.totals:
        w.line(t.state, t.currency, t.rows, t.amount, currency=t.currency)

    _added_sections(w, report)  # issue 13: reconciliation, total debit, sign-off

    w.section("Fees (predicted vs charged)")
    w.header("Currency", "Predicted, all rows", "Predicted, completed rows", "Charged",
             "Difference")
    for f in report.fees:
        w.line(f.currency, f.predicted, f.predicted_completed, f.charged, f.difference,
               currency=f.currency)

    w.section("Failed and skipped rows by reason")
    w.header("State", "Reason", "Rows", "Currency", "Amount", "Sheet rows")
    for g in report.failures:
        sheet_rows = ", ".join(str(r) for r in g.rows)
        if not g.amounts:
            w.line(g.state, g.reason, len(g.rows), None, None, sheet_rows)
        for currency, amount in sorted(g.amounts.items()):
            w.line(g.state, g.reason, g.currency_rows[currency], currency, amount, sheet_rows,
                   currency=currency)

    if report.approvals is not None:
        _approvals_section(w, report.approvals)

    w.section("Rows still in flight (run `paybatch reconcile` to settle them)")
    w.header("Row", "Name", "State", "Reference IDs tried", "Amount", "Currency")
    for line in report.in_flight:
        cur = line.get("currency")
        w.line(line["row"], line["name"], line["state"], line["reference_ids"], line["amount"],
               cur, currency=cur if isinstance(cur, str) else None)


def _approvals_section(w: _Writer, state: ApprovalState) -> None:
    w.section(f"Approvals: {len(state.approvers)} of {state.required} required "
              f"({'; '.join(state.reasons) or 'none required'})")
    w.line("Plan hash", state.plan_hash)
    w.line("Planned by", state.maker)
    w.header("Approver", "Approved (UTC)", "Plan hash", "Signature", "Status", "Why")
    for a in state.lines:
        w.line(a.approver, a.approved_at, a.plan_hash, a.signature, a.status, a.why)
def _added_sections(w: _Writer, report: BatchReport) -> None:
    """The Summary tables of `report.sections` (issue 13), each under its title."""
    for section in summary_sections(report):
        w.section(section.title)
        w.header(*section.headers)
        for values, currency in zip(section.rows, section.currencies, strict=True):
            w.line(*values, currency=currency)


def _outcome_chart(sheet: Sheet, first: int, last: int) -> None:
    """A bar chart of rows per state, beside the identity block."""
    chart = BarChart()
    chart.type = "bar"
    chart.title = "Rows by outcome"
    chart.legend = None
    chart.y_axis.title = "Rows"
    values = Reference(sheet, min_col=2, min_row=first - 1, max_row=last)
    chart.add_data(values, titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=first, max_row=last))
    chart.height, chart.width = 7.5, 14
    sheet.add_chart(chart, "H2")
