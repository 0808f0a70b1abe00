"""Reconciliation report as an Excel workbook: Summary (with a chart), Payouts, Attempts.

Amounts are written as exact numbers with their currency's decimals; every text cell is
neutralised against formula injection; times are UTC (Excel has no time zones). Written with
xlsxwriter in constant-memory mode: each row goes to a temporary file as soon as the next one
starts, so a 100,000-row batch costs the memory of one row (issue 16: ~0.1 ms per row, where
openpyxl's write-only cells cost ~1 ms). openpyxl stays the tool for reading workbooks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from xlsxwriter import Workbook  # type: ignore[import-untyped]

from batch.markets import CURRENCY_DECIMALS
from batch.report.approvals import ApprovalState
from batch.report.lines import ATTEMPT_COLUMNS, BatchReport, Column, Line, Value
from batch.report.sections import context_lines, summary_sections
from batch.report.text import cell_text
from batch.report.xlsx_sheet import TableSheet

TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
HEADER: dict[str, Any] = {
    "bold": True, "font_color": "#FFFFFF", "bg_color": "#305496", "pattern": 1,
}
TITLE: dict[str, Any] = {"bold": True, "font_size": 14}
SECTION: dict[str, Any] = {"bold": True, "font_size": 12}
# Whole-row highlights on the Payouts sheet: what needs a person's attention.
STATE_FILLS = {
    "FAILED": "#FFC7CE",
    "UNKNOWN": "#FFEB9C",
    "SUBMITTING": "#FFEB9C",
    "SUBMITTED": "#FFEB9C",
}
# Characters XML 1.0 (so Excel) refuses in a cell: dropped, as openpyxl's writer did.
_ILLEGAL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
_EPOCH = datetime(1899, 12, 30)  # Excel's day 0 (with its 1900 leap-year bug built in)
_DAY = 86400.0


def money_format(currency: str | None) -> str:
    """Excel number format for an amount in this currency (2 dp USD/LRD, 0 dp RWF)."""
    if currency is None or currency not in CURRENCY_DECIMALS:
        return "General"
    places = CURRENCY_DECIMALS[currency]
    return "#,##0" + ("." + "0" * places if places else "")


def excel_time(value: datetime) -> float:
    """A time as Excel's serial day number, in UTC."""
    naive = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return (naive - _EPOCH).total_seconds() / _DAY


def _text(value: str) -> str:
    """Text as a cell holds it: control and bidi characters shown (issue 12), formula starts
    neutralised, and anything else Excel refuses dropped."""
    return _ILLEGAL.sub("", cell_text(value))


class _Formats:
    """The workbook's cell formats, made once each: (number format, fill, font) -> Format."""

    def __init__(self, book: Any) -> None:
        self.book = book
        self._made: dict[tuple[str | None, str | None, str | None], Any] = {}
        self._fonts: dict[str, dict[str, Any]] = {
            "title": TITLE, "section": SECTION, "header": HEADER,
        }

    def get(
        self, number: str | None = None, fill: str | None = None, font: str | None = None
    ) -> Any:
        key = (number, fill, font)
        if key not in self._made:
            spec: dict[str, Any] = dict(self._fonts[font]) if font else {}
            if number is not None:
                spec["num_format"] = number
            if fill is not None:
                spec.update(bg_color=fill, pattern=1)
            self._made[key] = self.book.add_format(spec) if spec else None
        return self._made[key]


def write_xlsx(report: BatchReport, path: Path) -> None:
    """Write the workbook to `path`."""
    book = Workbook(str(path), {"constant_memory": True, "in_memory": False})
    try:
        formats = _Formats(book)
        _summary_sheet(book, formats, report)
        _table_sheet(book, formats, report.rows_title, report.row_columns, report.payouts,
                     highlight=True)
        _table_sheet(book, formats, "Attempts", ATTEMPT_COLUMNS, report.attempts,
                     highlight=False)
        for table in report.extra:  # e.g. a collection's summary per currency and its ageing
            _table_sheet(book, formats, table.title, table.columns, table.lines,
                         highlight=False)
    finally:
        book.close()


def _print_setup(sheet: Any, *, one_page_wide: bool) -> None:
    """Landscape pages (the report gets printed for the books): the Summary fits one page
    width; the wide tables repeat their header row on every page instead."""
    sheet.set_landscape()
    if one_page_wide:
        sheet.fit_to_pages(1, 0)  # as many pages down as needed
    else:
        sheet.repeat_rows(0)


def _table_sheet(
    book: Any, formats: _Formats, title: str, columns: Sequence[Column], lines: Sequence[Line],
    *, highlight: bool,
) -> None:
    sheet = book.add_worksheet(title, worksheet_class=TableSheet)
    _print_setup(sheet, one_page_wide=False)
    for j, column in enumerate(columns):
        sheet.set_column(j, j, column.width)
    sheet.freeze_panes(1, 0)
    header = formats.get(font="header")
    for j, column in enumerate(columns):
        sheet.write_string(0, j, column.header, header)
    plan: list[tuple[int, str, str, str | None]] = [
        (j, c.key, c.kind, c.currency_key) for j, c in enumerate(columns)
    ]
    # The undecorated writers: the public ones first test whether the row is "A1" text.
    write_string, write_number = sheet._write_string, sheet._write_number
    time_format = formats.get(TIME_FORMAT)
    money = {cur: formats.get(money_format(cur)) for cur in CURRENCY_DECIMALS}
    r = 0
    for line in lines:
        r += 1
        fill = STATE_FILLS.get(str(line.get("state"))) if highlight else None
        if fill is not None:
            _filled_row(sheet, formats, r, plan, line, fill)
            continue
        for j, key, kind, currency_key in plan:
            value = line.get(key)
            if value is None:
                continue
            if kind == "text":
                write_string(r, j, _text(str(value)))
            elif kind == "money":
                currency = line.get(currency_key) if currency_key else None
                write_number(r, j, value, money.get(str(currency)) if currency else None)
            elif kind == "time":
                assert isinstance(value, datetime)
                write_number(r, j, excel_time(value), time_format)
            elif isinstance(value, str):  # an int column holding text: keep it as text
                write_string(r, j, _text(value))
            else:
                write_number(r, j, value)
    sheet.autofilter(0, 0, max(1, r), len(columns) - 1)


def _filled_row(
    sheet: Any, formats: _Formats, r: int, plan: list[tuple[int, str, str, str | None]],
    line: Line, fill: str,
) -> None:
    """One highlighted row: every cell of the table carries the fill, empty ones too."""
    for j, key, kind, currency_key in plan:
        value = line.get(key)
        if value is None:
            sheet._write_blank(r, j, None, formats.get(fill=fill))
        elif kind == "money":
            currency = line.get(currency_key) if currency_key else None
            number = money_format(currency if isinstance(currency, str) else None)
            sheet._write_number(r, j, value, formats.get(number, fill))
        elif kind == "time":
            assert isinstance(value, datetime)
            sheet._write_number(r, j, excel_time(value), formats.get(TIME_FORMAT, fill))
        elif isinstance(value, str):
            sheet._write_string(r, j, _text(value), formats.get(fill=fill))
        else:
            sheet._write_number(r, j, value, formats.get(fill=fill))


class _Writer:
    """Writes the Summary sheet top to bottom."""

    def __init__(self, sheet: Any, formats: _Formats) -> None:
        self.sheet, self.formats = sheet, formats
        self.row = 1  # the (1-based) row the next line goes to

    def line(self, *values: Value, currency: str | None = None, font: str | None = None) -> int:
        r = self.row - 1
        for j, value in enumerate(values):
            if isinstance(value, str):
                self.sheet.write_string(r, j, _text(value), self.formats.get(font=font))
            elif isinstance(value, datetime):
                self.sheet.write_number(
                    r, j, excel_time(value), self.formats.get(TIME_FORMAT, font=font)
                )
            elif isinstance(value, Decimal):
                self.sheet.write_number(
                    r, j, value, self.formats.get(money_format(currency), font=font)
                )
            elif value is not None:
                self.sheet.write_number(r, j, value, self.formats.get(font=font))
        self.row += 1
        return self.row - 1

    def header(self, *titles: str) -> None:
        for j, title in enumerate(titles):
            self.sheet.write_string(self.row - 1, j, title, self.formats.get(font="header"))
        self.row += 1

    def section(self, title: str) -> None:
        self.row += 1
        self.line(title, font="section")


def _summary_sheet(book: Any, formats: _Formats, report: BatchReport) -> None:
    sheet = book.add_worksheet("Summary")
    _print_setup(sheet, one_page_wide=True)
    for j, width in enumerate((30, 44, 24, 16, 16, 30)):
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
