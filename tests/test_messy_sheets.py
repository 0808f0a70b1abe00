"""Real-world messy payroll sheets, end to end through load + validate (CSV and XLSX)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sheets import write_csv, write_xlsx

from batch.load import load_sheet
from batch.validate import ValidationOptions, validate_sheet
from batch.validation_report import ValidationReport


@pytest.fixture(params=["csv", "xlsx"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def check(
    tmp_path: Path, rows: list[list[Any]], kind: str = "csv", **options: Any
) -> ValidationReport:
    writer = write_csv if kind == "csv" else write_xlsx
    path = writer(tmp_path / f"sheet.{kind}", rows)
    return validate_sheet(load_sheet(path), ValidationOptions(**options))


def outcomes(report: ValidationReport) -> list[tuple[Any, ...]]:
    return [(r.row, r.status, r.amount, r.currency) for r in report.rows]


def messages(report: ValidationReport) -> list[tuple[int, str, str]]:
    return [(p.row, p.column, p.message) for p in report.problem_list()]


def test_currency_marks_in_amount_cells(tmp_path: Path, kind: str) -> None:
    rows = [
        ["Name", "Phone", "Amount", "Currency"],
        ["Musu Dolo", "0770123456", "$1,250.00", "USD"],
        ["Sando Kollie", "0886220145", "L$ 5,000", ""],  # the cell says LRD
        ["Ama Uwase", "0788123456", "RWF 15\u00a0000", "rwf"],
        ["Jean Mugabo", "0788123457", "USD 10", "RWF"],  # contradicts the currency column
    ]
    report = check(tmp_path, rows, kind, default_country="LR")
    rows_seen = outcomes(report)
    assert rows_seen[:2] == [
        (2, "valid", Decimal("1250.00"), "USD"),
        (3, "valid", Decimal("5000.00"), "LRD"),
    ]
    assert rows_seen[3][1] == "invalid"
    assert (5, "amount", "names USD but the row's currency is RWF") in messages(report)


def test_european_and_negative_amounts_are_rejected_with_reasons(tmp_path: Path) -> None:
    rows = [
        ["Name", "Phone", "Amount", "Currency"],
        ["A", "0770123456", "1 250,00", "USD"],
        ["B", "0886220145", "(1,250.00)", "USD"],
        ["C", "0770123457", "1.250", "USD"],
    ]
    found = messages(check(tmp_path, rows, default_country="LR"))
    assert [(row, column) for row, column, _ in found] == [
        (2, "amount"),
        (3, "amount"),
        (4, "amount"),
    ]
    assert "comma as the decimal mark" in found[0][2]
    assert "is negative" in found[1][2]
    assert "is ambiguous" in found[2][2]


def test_float_noise_in_amounts_is_rounded_to_cents(tmp_path: Path) -> None:
    rows = [
        ["Name", "Phone", "Amount", "Currency"],
        ["A", "0770123456", "1250.0000000001", "USD"],
        ["B", "0886220145", "0.30000000000000004", "USD"],
    ]
    report = check(tmp_path, rows, default_country="LR")
    assert report.ok
    assert report.totals == {"USD": Decimal("1250.30")}
