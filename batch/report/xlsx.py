"""Reconciliation report as an Excel workbook: Summary (with a chart), Payouts, Attempts.

Amounts are written as exact numbers with their currency's decimals; every text cell is
neutralised against formula injection; times are UTC (Excel has no time zones). Written with
xlsxwriter in constant-memory mode, each row as XML straight to its sheet's temporary file
(xlsx_sheet), so a 100,000-row batch costs the memory of one row and ~0.1 ms per row (issue
16; openpyxl's write-only cells cost ~1 ms). openpyxl stays the tool for reading workbooks.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from xlsxwriter import Workbook  # type: ignore[import-untyped]
from xlsxwriter.utility import xl_col_to_name  # type: ignore[import-untyped]

from batch.report.approvals import ApprovalState
from batch.report.lines import ATTEMPT_COLUMNS, BatchReport, Value
from batch.report.sections import context_lines, summary_sections
from batch.report.xlsx_sheet import TableSheet, number_cell, text_cell
from batch.report.xlsx_style import TIME_FORMAT, Formats, excel_time
from batch.report.xlsx_style import money_format as money_format  # tests import it from here
from batch.report.xlsx_table import Table, print_setup, table_sheets

_SUMMARY_WIDTHS = (30, 44, 24, 16, 16, 30)


def write_xlsx(report: BatchReport, path: Path) -> None:
    """Write the workbook to `path`."""
    book = Workbook(str(path), {"constant_memory": True, "in_memory": False})
    try:
        formats = Formats(book)
        _summary_sheet(book, formats, report)
        tables: list[Table] = [
            (report.rows_title, report.row_columns, report.payouts, True),
            ("Attempts", ATTEMPT_COLUMNS, report.attempts, False),
            # e.g. a collection's summary per currency and its ageing
            *((t.title, t.columns, t.lines, False) for t in report.extra),
        ]
        table_sheets(book, formats, tables)
    finally:
        book.close()


class _Writer:
    """Writes the Summary sheet top to bottom, a row of cell XML at a time."""

    def __init__(self, sheet: Any, formats: Formats) -> None:
        self.sheet, self.formats = sheet, formats
        self.row = 1  # the (1-based) row the next line goes to

    def line(self, *values: Value, currency: str | None = None, font: str | None = None) -> int:
        style, n = self.formats.style, self.row
        cells, filled = [], []
        for j, value in enumerate(values):
            ref = f"{xl_col_to_name(j)}{n}"
            if isinstance(value, str):
                cells.append(text_cell(ref, style(font=font), value))
            elif isinstance(value, datetime):
                cells.append(number_cell(ref, style(TIME_FORMAT, font=font), excel_time(value)))
            elif isinstance(value, Decimal):
                cells.append(number_cell(ref, style(money_format(currency), font=font), value))
            elif value is not None:
                cells.append(number_cell(ref, style(font=font), value))
            else:
                continue
            filled.append(j)
        if filled:
            self.sheet.write_row_xml(n - 1, "".join(cells), filled[0], filled[-1])
        self.row += 1
        return self.row - 1

    def header(self, *titles: str) -> None:
        self.line(*titles, font="header")

    def section(self, title: str) -> None:
        self.row += 1
        self.line(title, font="section")


def _summary_sheet(book: Any, formats: Formats, report: BatchReport) -> None:
    sheet = book.add_worksheet("Summary", worksheet_class=TableSheet)
    print_setup(sheet, one_page_wide=True)
    for j, width in enumerate(_SUMMARY_WIDTHS):
        sheet.set_column(j, j, width)
    i = report.identity
    w = _Writer(sheet, formats)
    w.line(f"Reconciliation report: {i.name}", font="title")
    if i.watermark:
        w.line(i.watermark, font="title")
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
        _outcome_chart(book, sheet, first, w.row - 1)

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
    """Who approved the plan, and whether each approval counts (issue 17)."""
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


def _outcome_chart(book: Any, sheet: Any, first: int, last: int) -> None:
    """A bar chart of rows per state, beside the identity block (rows are 1-based here)."""
    chart = book.add_chart({"type": "bar"})
    chart.add_series({
        "name": ["Summary", first - 2, 1],
        "categories": ["Summary", first - 1, 0, last - 1, 0],
        "values": ["Summary", first - 1, 1, last - 1, 1],
    })
    chart.set_title({"name": "Rows by outcome"})
    chart.set_legend({"none": True})
    chart.set_x_axis({"name": "Rows"})  # a bar chart's value axis is its horizontal one
    chart.set_size({"width": 529, "height": 283})  # 14 x 7.5 cm
    sheet.insert_chart("H2", chart)
