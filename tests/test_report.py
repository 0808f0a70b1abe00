"""The reconciliation report against a real ledger: contents, totals, XLSX cells, CSV, JSON."""

from __future__ import annotations

import csv
import json
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from _report_ledger import BATCH, FEES, NO_MONEY, ROWS, Built, build

from batch import errors
from batch.ledger import Ledger, RowRecord
from batch.markets import from_minor
from batch.report.files import (
    load_report,
    neutralise,
    report_json,
    report_path,
    write_report,
    write_run_report,
)
from batch.report.lines import ATTEMPT_COLUMNS, PAYOUT_COLUMNS, BatchReport, in_one_pass
from batch.report.xlsx import money_format


@pytest.fixture
def built(tmp_path: Path) -> Built:
    return build(tmp_path / "paybatch.db")


@pytest.fixture
def report(built: Built) -> BatchReport:
    with Ledger(built.path) as ledger:
        return load_report(ledger, BATCH)


def by_row(report: BatchReport) -> dict[int, dict[str, object]]:
    return {int(str(line["row"])): line for line in report.payouts}


# -- contents ------------------------------------------------------------------------------


def test_one_line_per_sheet_row_in_sheet_order(report: BatchReport) -> None:
    rows = [line["row"] for line in report.payouts]
    assert rows == sorted([*ROWS, 11])


def test_lines_carry_the_ledger_facts(built: Built, report: BatchReport) -> None:
    lines = by_row(report)
    alice = lines[2]
    name, phone, minor, cur, country, ext, _, _ = ROWS[2]
    assert (alice["name"], alice["phone"], alice["external_id"]) == (name, phone, ext)
    assert alice["amount"] == from_minor(minor, cur) and alice["currency"] == cur
    assert alice["state"] == "COMPLETED" and alice["provider_transaction_id"] == "TX-2"
    assert alice["reference_ids"] == built.refs[2][0]
    assert alice["predicted_fee"] == Decimal(FEES[2]) == alice["actual_fee"]
    assert alice["payee_amount"] == from_minor(minor, cur)
    assert alice["payer_amount"] == from_minor(minor, cur) + Decimal(FEES[2])

    failed = lines[4]
    assert failed["state"] == "FAILED"
    assert failed["failure_reason"] == f"payout FAILED: {NO_MONEY}"
    assert failed["gateway_message"] == NO_MONEY
    assert failed["actual_fee"] is None  # a failed payout is not charged
    # Issue 13: nor debited, whatever amounts its answer quoted.
    assert failed["payer_amount"] is None and failed["payee_amount"] is None
    failed_attempts = [a for a in report.attempts if a["row"] == 4]
    assert failed_attempts and all(a["payer_amount"] is None for a in failed_attempts)

    retried = lines[9]
    assert retried["reference_ids"] == " ".join(built.refs[9]) and retried["attempts"] == 2
    assert retried["provider_transaction_id"] == "TX-9b" and retried["state"] == "COMPLETED"

    assert lines[6]["state"] == "UNKNOWN" and lines[6]["execute_error"]
    assert lines[10]["reference_ids"] is None  # failed before anything was sent
    assert lines[11]["state"] == "SKIPPED" and "not a number" in str(lines[11]["problems"])


def test_summary_identity_failures_and_in_flight(built: Built, report: BatchReport) -> None:
    i = report.identity
    assert (i.name, i.source_file, i.content_hash) == (BATCH, "payroll_nov.xlsx", "c" * 64)
    assert i.ledger == str(built.path.resolve())
    assert i.started_at is not None and i.finished_at is None
    assert [line["row"] for line in report.in_flight] == [6, 7]
    groups = {(g.state, g.reason): g for g in report.failures}
    # Grouped by reason (issue 13): the gateway's message, amounts and ids masked.
    money = groups[("FAILED", f"gateway: {NO_MONEY}")]
    assert money.example == NO_MONEY
    assert money.rows == (4, 5)
    assert money.amounts == {"LRD": from_minor(ROWS[4][2], "LRD"), "RWF": Decimal(ROWS[5][2])}
    assert report.failures[0] is money  # the largest FAILED group comes first
    assert report.exit_code == 4


def test_totals_equal_the_ledgers(built: Built, report: BatchReport) -> None:
    with Ledger(built.path) as ledger:
        summary = ledger.summary(built.batch_id)
        counts = ledger.counts(built.batch_id)
    assert summary is not None
    assert {s: n for s, n in report.counts.items() if n} == counts
    ledger_money = {
        (state, cur): from_minor(minor, cur)
        for cur, states in summary.money.items() for state, minor in states.items()
    }
    assert {(t.state, t.currency): t.amount for t in report.totals} == ledger_money
    assert {f.currency: f.predicted for f in report.fees} == summary.fees
    # And the lines add up to the totals.
    from_lines: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in report.payouts:
        if line["amount"] is not None:
            from_lines[(str(line["state"]), str(line["currency"]))] += line["amount"]  # type: ignore[operator]
    assert dict(from_lines) == ledger_money


def test_fees_predicted_vs_charged(report: BatchReport) -> None:
    usd = next(f for f in report.fees if f.currency == "USD")
    completed = [r for r, v in ROWS.items() if v[3] == "USD" and r in (2, 3, 9)]
    predicted = sum((Decimal(FEES[r]) for r in completed), Decimal(0))
    charged = sum(
        (line["actual_fee"] for line in report.payouts if line["row"] in completed),  # type: ignore[misc]
        Decimal(0),
    )
    assert usd.predicted_completed == predicted and usd.charged == charged
    assert usd.difference == charged - predicted != 0
    assert usd.predicted == sum(Decimal(FEES[r]) for r in FEES if ROWS[r][3] == "USD")


def test_unknown_batch_is_one_clear_error(built: Built) -> None:
    with Ledger(built.path) as ledger, pytest.raises(errors.InputError, match="no such batch"):
        load_report(ledger, "nope")


# -- XLSX ----------------------------------------------------------------------------------


@pytest.fixture
def xlsx(report: BatchReport, tmp_path: Path) -> Path:
    path = tmp_path / "out" / "report.xlsx"
    assert write_report(report, path) == [path]
    return path


@pytest.fixture
def book(xlsx: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(xlsx)


def test_xlsx_sheets_headers_and_layout(book: openpyxl.Workbook) -> None:
    assert book.sheetnames == ["Summary", "Payouts", "Attempts"]
    for name, columns in (("Payouts", PAYOUT_COLUMNS), ("Attempts", ATTEMPT_COLUMNS)):
        sheet = book[name]
        assert [c.value for c in sheet[1]] == [c.header for c in columns]
        assert all(c.font.bold for c in sheet[1])
        assert sheet.freeze_panes == "A2"
        assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(columns)).column_letter}" \
            f"{sheet.max_row}"
        assert sheet.column_dimensions["B"].width >= 20
    assert book["Payouts"].max_row == 1 + 10
    assert book["Attempts"].max_row == 1 + 8  # 7 rows sent once, row 9 twice
    assert len(book["Summary"]._charts) == 1


def test_xlsx_money_is_exact_with_currency_formats(book: openpyxl.Workbook, xlsx: Path) -> None:
    sheet = book["Payouts"]
    col = {c.value: c.column for c in sheet[1]}
    for r in range(2, sheet.max_row + 1):
        row = sheet.cell(r, col["Row"]).value
        if row == 11:
            continue  # skipped: no valid amount
        _, _, minor, cur, *_ = ROWS[row]
        amount = sheet.cell(r, col["Amount"])
        assert Decimal(str(amount.value)) == from_minor(minor, cur)
        assert amount.number_format == money_format(cur)
    assert money_format("USD") == money_format("LRD") == "#,##0.00"
    assert money_format("RWF") == "#,##0"
    with zipfile.ZipFile(xlsx) as z:  # the file holds the exact decimal, not a float's noise
        xml = z.read("xl/worksheets/sheet2.xml").decode()
    stored = re.findall(r'<c r="E\d+" s="\d+"(?: t="n")?><v>([^<]+)</v>', xml)
    expected = [from_minor(ROWS[r][2], ROWS[r][3]) for r in sorted(ROWS)]
    assert [Decimal(v) for v in stored] == expected


def test_xlsx_neutralises_formula_injection(book: openpyxl.Workbook) -> None:
    sheet = book["Payouts"]
    col = {c.value: c.column for c in sheet[1]}
    row3 = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, 1).value == 3)
    name, _, _, _, _, ext, note, email = ROWS[3]
    for header, raw in (("Name", name), ("External ID", ext), ("Note", note), ("Email", email)):
        cell = sheet.cell(row3, col[header])
        assert cell.data_type == "s" and cell.value == "'" + str(raw)
    row7 = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, 1).value == 7)
    assert sheet.cell(row7, col["Note"]).value == "'\tTabbed"
    row2 = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, 1).value == 2)
    na = sheet.cell(row2, col["Note"])  # text that reads like an Excel error stays text
    assert na.data_type == "s" and na.value == "#N/A"
    for s in book:
        for cells in s.iter_rows():
            assert not any(c.data_type == "f" for c in cells)


def test_xlsx_highlights_failed_rows(book: openpyxl.Workbook) -> None:
    sheet = book["Payouts"]
    col = {c.value: c.column for c in sheet[1]}
    for r in range(2, sheet.max_row + 1):
        state = sheet.cell(r, col["State"]).value
        colour = sheet.cell(r, col["Name"]).fill.fgColor.rgb
        if state == "FAILED":
            assert colour.endswith("FFC7CE")
        elif state == "COMPLETED":
            assert sheet.cell(r, col["Name"]).fill.fill_type is None


def test_xlsx_summary_shows_totals_fees_and_reasons(book: openpyxl.Workbook,
                                                    report: BatchReport) -> None:
    values = [c for row in book["Summary"].iter_rows(values_only=True) for c in row if c]
    assert BATCH in values and "payroll_nov.xlsx" in values and report.situation in values
    assert f"gateway: {NO_MONEY}" in values
    cells = {(r[0], r[1]): r for r in book["Summary"].iter_rows(values_only=True)}
    for t in report.totals:
        assert Decimal(str(cells[(t.state, t.currency)][3])) == t.amount


# -- CSV and JSON --------------------------------------------------------------------------


def test_csv_round_trip(report: BatchReport, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    written = write_report(report, path)
    assert written == [path, tmp_path / "r.summary.csv", tmp_path / "r.attempts.csv"]
    frame = pl.read_csv(path, infer_schema=False)
    assert frame.columns == [c.header for c in PAYOUT_COLUMNS]
    assert frame.height == len(report.payouts)
    for got, line in zip(frame.iter_rows(named=True), report.payouts, strict=True):
        for c in PAYOUT_COLUMNS:
            want = line[c.key]
            if want is None:
                assert got[c.header] is None
            elif c.kind == "text":
                assert got[c.header] == neutralise(str(want))
            elif c.kind == "money":
                assert Decimal(got[c.header]) == want
            elif c.kind == "time":
                assert got[c.header] == want.isoformat()  # type: ignore[union-attr]
            else:
                assert int(got[c.header]) == want
    with path.open(encoding="utf-8-sig", newline="") as f:
        names = [r["Name"] for r in csv.DictReader(f)]
    assert names[1].startswith("'=") and names[-1] == "'=2+2"


def test_csv_summary_totals(report: BatchReport, tmp_path: Path) -> None:
    write_report(report, tmp_path / "r.csv")
    summary = pl.read_csv(tmp_path / "r.summary.csv", infer_schema=False)
    money = {
        (r["item"], r["currency"]): Decimal(r["value"])
        for r in summary.iter_rows(named=True) if r["section"] == "money"
    }
    assert money == {(t.state, t.currency): t.amount for t in report.totals}


def test_json_report(report: BatchReport, tmp_path: Path, built: Built) -> None:
    path = tmp_path / "r.json"
    write_report(report, path)
    data = json.loads(path.read_text(), parse_float=Decimal)
    assert data == json.loads(json.dumps(report_json(report)), parse_float=Decimal)
    summary = data["summary"]
    assert summary["batch"] == BATCH and summary["exit_code"] == 4
    assert summary["ledger"] == str(built.path.resolve())
    assert len(data["payouts"]) == 10 and len(data["attempts"]) == 8
    paid = sum(Decimal(p["amount"]) for p in data["payouts"]
               if p["state"] == "COMPLETED" and p["currency"] == "USD")
    assert {"state": "COMPLETED", "currency": "USD", "rows": 3, "amount": str(paid)} in \
        summary["totals"]


def test_unknown_format_is_refused(report: BatchReport, tmp_path: Path) -> None:
    with pytest.raises(errors.InputError, match=r"\.xlsx, \.csv or \.json"):
        write_report(report, tmp_path / "r.txt")
    assert not (tmp_path / "r.txt").exists()


def test_run_report_is_written_next_to_the_ledger(built: Built) -> None:
    with Ledger(built.path) as ledger:
        path = write_run_report(ledger, built.batch_id)
    assert path == report_path(built.path, BATCH)
    assert openpyxl.load_workbook(path).sheetnames == ["Summary", "Payouts", "Attempts"]
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []


def test_xlsx_prints_landscape_with_the_summary_on_one_page_width(book: openpyxl.Workbook) -> None:
    summary, payouts = book["Summary"], book["Payouts"]
    assert summary.page_setup.orientation == "landscape"
    assert summary.sheet_properties.pageSetUpPr.fitToPage is True
    # 1 is the file format's default for fitToWidth: xlsxwriter leaves it out
    assert summary.page_setup.fitToWidth in (None, 1)
    assert summary.page_setup.fitToHeight == 0
    assert payouts.page_setup.orientation == "landscape"
    assert payouts.print_title_rows == "$1:$1"


def test_a_streamed_reports_tables_are_read_in_one_pass(built: Built) -> None:
    """The XLSX writer fills Payouts and Attempts from one pass over a streamed batch's rows
    (in_one_pass): each table gets its lines in order, and the ledger is read once for both
    (plus the summary's pass), not once per table."""
    with Ledger(built.path) as ledger:
        passes = 0
        read = ledger.each_row_read_only

        def counted(batch_id: int) -> Iterator[RowRecord]:
            nonlocal passes
            passes += 1
            return read(batch_id)

        ledger.each_row_read_only = counted  # type: ignore[method-assign]
        streamed = load_report(ledger, BATCH, stream=True)
        assert passes == 1  # the summary
        tables: dict[int, list[dict[str, object]]] = defaultdict(list)
        for i, line in in_one_pass([streamed.payouts, streamed.attempts]):
            tables[i].append(line)
        assert passes == 2
        assert tables[0] == list(load_report(ledger, BATCH).payouts)
        assert tables[1] == list(load_report(ledger, BATCH).attempts)
        assert [line["row"] for line in tables[1]] == sorted(line["row"] for line in tables[1])
