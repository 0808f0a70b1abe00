"""Rows that are not payouts: subtotals and totals inside the sheet, notes below the data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sheets
from click.testing import CliRunner
from sheets import write_csv, write_xlsx

from batch.cli import main
from batch.intake.load import load_sheet
from batch.intake.outcome import ValidationReport
from batch.intake.validate import validate_sheet
from batch.options import ValidationOptions

HEADER = ["Department", "Name", "Phone", "Amount", "Currency"]
A = ["Finance", "Musu Dolo", "0770123456", "1,250.00", "USD"]
B = ["Finance", "Sando Kollie", "0886220145", "850", "USD"]
C = ["Operations", "Famatta Kpoto", "0555301778", "300.50", "USD"]
D = ["Operations", "Jallah Kromah", "0777210987", "99.50", "USD"]


def check(tmp_path: Path, rows: list[list[Any]], kind: str = "csv") -> ValidationReport:
    report: ValidationReport = sheets.check(tmp_path, [HEADER, *rows], kind, default_country="LR")
    return report


def statuses(report: ValidationReport) -> dict[int, str]:
    return {r.row: r.status for r in report.rows}


def test_department_subtotals_and_grand_total_are_skipped(tmp_path: Path, kind: str) -> None:
    rows = [
        A,
        B,
        ["Subtotal Finance", "", "", "2,100.00", ""],  # row 4
        C,
        D,
        ["", "Total Operations", "", "400", ""],  # row 7: the word in the name column
        ["Grand total", "", "", "2500", "USD"],  # row 8
    ]
    report = check(tmp_path, rows, kind)
    assert report.ok, report.problem_list()
    assert statuses(report) == {
        2: "valid",
        3: "valid",
        4: "skipped",
        5: "valid",
        6: "valid",
        7: "skipped",
        8: "skipped",
    }
    assert report.counts == {"valid": 4, "invalid": 0, "skipped": 3, "total": 7}
    assert str(report.totals["USD"]) == "2500.00"
    assert "row 4: totals row (2100) skipped; it equals the sum of the rows above" in (
        report.notices
    )
    assert "row 7: subtotal row (400) skipped; it equals the sum of rows 5-6" in report.notices
    assert any(n.startswith("row 8: totals row (2500)") for n in report.notices)


@pytest.mark.parametrize("word", ["Subtotal", "Sum", "TOTAL:", "Total Finance", "sub-total"])
def test_total_words(tmp_path: Path, word: str) -> None:
    report = check(tmp_path, [A, B, [word, "", "", "2100", ""], C])
    assert statuses(report)[4] == "skipped" and report.ok


def test_a_trailing_total_after_subtotals_is_the_sum_of_every_payout_row(tmp_path: Path) -> None:
    rows = [A, B, ["Subtotal", "", "", "2100", ""], C, ["Subtotal", "", "", "300.50", ""]]
    rows.append(["Total", "", "", "2400.50", ""])
    report = check(tmp_path, rows)
    assert report.ok and report.counts["skipped"] == 3


def test_subtotal_that_does_not_add_up_is_an_error_saying_what_was_expected(
    tmp_path: Path, kind: str
) -> None:
    rows = [A, B, ["Subtotal Finance", "", "", "2000", ""], C, D, ["Subtotal", "", "", "401", ""]]
    report = check(tmp_path, rows, kind)
    assert not report.ok
    assert [(p.row, p.column, p.value, p.message) for p in report.problem_list()] == [
        (
            4,
            "amount",
            "2000",
            "looks like a totals row, but 2000 is not the sum of the rows above (expected 2100)",
        ),
        (
            7,
            "amount",
            "401",
            "looks like a totals row, but 401 is not the sum of rows 5-6 (expected 400)",
        ),
    ]
    assert statuses(report)[4] == "invalid" and statuses(report)[7] == "invalid"


def test_grand_total_that_does_not_add_up_names_the_sum_of_all_rows(tmp_path: Path) -> None:
    rows = [A, B, ["Subtotal", "", "", "2100", ""], C, ["Grand Total", "", "", "2100", ""]]
    report = check(tmp_path, rows)
    assert [p.message for p in report.problem_list()] == [
        "looks like a totals row, but 2100 is not the sum of the rows above (expected 2400.5)"
    ]


def test_a_row_with_a_phone_is_never_skipped_as_a_total(tmp_path: Path) -> None:
    rows = [A, B, ["Total", "Sum Kollie", "0555301778", "2100", "USD"]]
    report = check(tmp_path, rows)
    assert statuses(report)[4] == "valid" and report.counts["skipped"] == 0


def test_total_word_with_an_amount_that_is_not_an_amount_stays_a_row_problem(
    tmp_path: Path,
) -> None:
    report = check(tmp_path, [A, B, ["Total", "", "", "n/a", ""]])
    assert {p.column for p in report.problem_list() if p.row == 4} >= {"phone", "amount"}


@pytest.mark.parametrize(
    "notes",
    [
        [["Prepared by: Jane Doe", "", "", "", ""]],
        [["", "Approved:", "", "", ""], ["", "Signed", "", "", ""]],
        [["Checked by", "M. Flomo", "", "", ""]],
        [["", "", "", "", ""], ["Paid on the 28th as usual", "", "", "", ""]],
    ],
)
def test_notes_below_the_data_are_skipped_with_their_row_numbers(
    tmp_path: Path, kind: str, notes: list[list[str]]
) -> None:
    report = check(tmp_path, [A, B, *notes], kind)
    assert report.ok, report.problem_list()
    note_rows = [4 + i for i, n in enumerate(notes) if any(n)]
    assert [r.row for r in report.rows if r.status == "skipped"] == note_rows
    listed = ", ".join(map(str, note_rows))
    assert any(
        n.startswith(f"row(s) {listed}: notes below the data skipped") for n in report.notices
    )


def test_notes_after_a_totals_row_are_skipped_too(tmp_path: Path) -> None:
    rows = [A, B, ["TOTAL", "", "", "2100", ""], ["Prepared by: Finance", "", "", "", ""]]
    report = check(tmp_path, rows)
    assert report.ok and report.counts["skipped"] == 2


def test_a_remark_between_payout_rows_is_still_an_invalid_row(tmp_path: Path) -> None:
    report = check(tmp_path, [A, ["Prepared by: Jane", "", "", "", ""], B])
    assert statuses(report)[3] == "invalid" and not report.ok


def test_a_trailing_row_with_an_employee_id_is_a_forgotten_payee_not_a_note(
    tmp_path: Path,
) -> None:
    header = ["Name", "Phone", "Amount", "Currency", "Employee ID"]
    rows = [header, A[1:] + ["E1"], ["Hawa Sirleaf", "", "", "USD", "E2"]]
    path = write_csv(tmp_path / "sheet.csv", rows)
    report = validate_sheet(load_sheet(path), ValidationOptions(default_country="LR"))
    assert statuses(report)[3] == "invalid"


def test_cli_validate_accepts_a_sheet_with_subtotals_and_notes(tmp_path: Path) -> None:
    rows = [
        HEADER,
        A,
        B,
        ["Subtotal", "", "", "2100", ""],
        ["Prepared by: Jane Doe", "", "", "", ""],
    ]
    path = write_xlsx(tmp_path / "payroll.xlsx", rows)
    result = CliRunner().invoke(main, ["validate", str(path), "--country", "LR", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(r["row"], r["status"]) for r in data["rows"]] == [
        (2, "valid"),
        (3, "valid"),
        (4, "skipped"),
        (5, "skipped"),
    ]
    assert data["counts"] == {"valid": 2, "invalid": 0, "skipped": 2, "total": 4}
