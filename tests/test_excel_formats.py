"""Percent- and date-formatted Excel cells in the amount or phone column are rejected, never paid
as 0.05 or 45992."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from batch.intake.load import load_sheet
from batch.intake.validate import validate_sheet
from batch.options import ValidationOptions

HEADER = ["Name", "Phone", "Amount", "Currency"]


def workbook(path: Path, rows: list[tuple[list[Any], dict[int, str]]], title: bool) -> Path:
    """Rows with number formats per column index (1-based); optional title block above."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    if title:
        sheet.append(["Payroll, December"])
        sheet.append([])
    sheet.append(HEADER)
    for cells, formats in rows:
        sheet.append(cells)
        for column, number_format in formats.items():
            sheet.cell(sheet.max_row, column).number_format = number_format
    book.save(path)
    return path


def problems(path: Path) -> list[tuple[int, str, str, str]]:
    report = validate_sheet(load_sheet(path), ValidationOptions(default_country="LR"))
    return [(p.row, p.column, p.value, p.message) for p in report.problem_list()]


PERCENT = "is a percentage, not an amount (is the column formatted as Percent?)"
DATE = "is a date, not an amount (is the column formatted as Date?)"


@pytest.mark.parametrize("title", [False, True])
def test_percent_and_date_amounts_are_rejected(tmp_path: Path, title: bool) -> None:
    rows: list[tuple[list[Any], dict[int, str]]] = [
        (["A", 231770123456, 0.05, "USD"], {3: "0%"}),
        (["B", 231770123457, 0.125, "USD"], {3: "0.00%"}),
        (["C", 231770123458, 1.5, "USD"], {3: "0.0%;[Red]-0.0%"}),  # a custom percent format
        (["D", 231770123459, datetime.date(2025, 12, 1), "USD"], {3: "yyyy-mm-dd"}),
        (["E", 231886220145, 45992, "USD"], {3: "d/m/yyyy"}),  # a number shown as a date
        (["F", 231555301778, 1250.5, "USD"], {3: "#,##0.00"}),  # fine
    ]
    path = workbook(tmp_path / "fmt.xlsx", rows, title)
    first = 4 if title else 2  # title, empty row, header: data from row 4
    assert problems(path) == [
        (first, "amount", "5%", PERCENT),
        (first + 1, "amount", "12.5%", PERCENT),
        (first + 2, "amount", "150%", PERCENT),
        (first + 3, "amount", "2025-12-01 00:00:00", DATE),
        (first + 4, "amount", "2025-12-01 00:00:00", DATE),
    ]


def test_percent_and_date_phones_are_rejected(tmp_path: Path) -> None:
    rows: list[tuple[list[Any], dict[int, str]]] = [
        (["A", datetime.datetime(2025, 12, 1, 10, 30), 10, "USD"], {2: "yyyy-mm-dd h:mm"}),
        (["B", 2.3177012345, 10, "USD"], {2: "0%"}),
    ]
    assert problems(workbook(tmp_path / "fmt.xlsx", rows, False)) == [
        (
            2,
            "phone",
            "2025-12-01 10:30:00",
            "is a date, not a phone number (is the column formatted as Date?)",
        ),
        (3, "phone", "231.77012345%", "is not a phone number"),
    ]


def test_a_workbook_without_percent_styles_reads_as_before(tmp_path: Path) -> None:
    rows: list[tuple[list[Any], dict[int, str]]] = [(["A", 231770123456, 0.05, "USD"], {})]
    path = workbook(tmp_path / "plain.xlsx", rows, False)
    report = validate_sheet(load_sheet(path), ValidationOptions(default_country="LR"))
    assert report.ok and str(report.rows[0].amount) == "0.05"
