"""What a workbook hides from whoever checks it in Excel (issue 16): hidden or filtered-out rows
and hidden sheets are errors unless --include-hidden; hidden columns, formula errors, formulas
with no saved value, number formats hiding decimals and merged cells are warnings with the cell
address; footer sign-off lines are notes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import xlsxwriter
from click.testing import CliRunner

from batch.cli import main
from batch.errors import SheetError
from batch.intake.load import load_sheet
from batch.intake.validate import validate_sheet
from batch.intake.workbook import shown_decimals
from batch.options import ValidationOptions

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "payroll_hidden.xlsx"
LR = ValidationOptions(default_country="LR")


def _problems(path: Path, options: ValidationOptions = LR) -> dict[int, list[str]]:
    report = validate_sheet(load_sheet(path), options)
    found: dict[int, list[str]] = {}
    for p in report.problem_list():
        found.setdefault(p.row, []).append(p.message)
    return found


def test_the_sample_names_every_hidden_thing_by_its_cell() -> None:
    report = validate_sheet(load_sheet(SAMPLE), LR)
    by_row = {r.row: r for r in report.rows}
    problems = _problems(SAMPLE)
    assert set(problems) == {4, 6, 10}  # the footer lines are notes, not 4 errors each
    assert problems[4] == ["D4: the cell shows #REF!; fix it in Excel"]
    assert problems[6] == ["D6: formula with no saved value: open and save it in Excel"]
    assert "hidden in Excel" in problems[10][0] and "--include-hidden" in problems[10][0]
    assert by_row[14].status == by_row[15].status == "skipped"
    warnings = [n for n in report.notices if n.startswith("warning: ")]
    text = "\n".join(warnings)
    assert "F ('Bonus')" in text  # the hidden column
    assert "D8 shows 1,101 but holds 1,100.5" in text
    assert "A14:E14" in text and "D4 (#REF!)" in text and "D6" in text
    assert by_row[8].status == "valid" and str(by_row[8].amount) == "1100.50"  # stored, paid


def test_include_hidden_pays_the_hidden_row_and_says_so() -> None:
    report = validate_sheet(
        load_sheet(SAMPLE), ValidationOptions(default_country="LR", include_hidden=True)
    )
    row10 = next(r for r in report.rows if r.row == 10)
    assert row10.status == "valid" and str(row10.amount) == "77013.91"
    assert any("10" in n and "--include-hidden" in n for n in report.notices)


def _book(path: Path, *, hidden_row: int | None = None, filtered: bool = False,
          hide_first_sheet: bool = False) -> Path:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Pay")
    rows = [
        ["Name", "Phone", "Amount", "Currency"],
        ["Musu Dolo", "0770 123 456", 100, "USD"],
        ["Sando Kollie", "0886 123 456", 200, "USD"],
        ["Fatu Kamara", "0881 404 567", 300, "USD"],
    ]
    for r, cells in enumerate(rows):
        sheet.write_row(r, 0, cells)
    if hidden_row is not None:
        sheet.set_row(hidden_row - 1, None, None, {"hidden": True})
    if filtered:
        sheet.autofilter(0, 0, len(rows) - 1, 3)
        sheet.filter_column("C", "x < 250")
    if hide_first_sheet:
        other = book.add_worksheet("Visible")
        other.write_row(0, 0, ["Name", "Phone", "Amount", "Currency"])
        other.write_row(1, 0, ["Jartu Wesseh", "0779 112 233", 5, "USD"])
        other.activate()
        sheet.hide()
    book.close()
    return path


def test_a_row_hidden_by_a_filter_is_an_error(tmp_path: Path) -> None:
    problems = _problems(_book(tmp_path / "f.xlsx", hidden_row=4, filtered=True))
    assert list(problems) == [4] and "row is filtered out in Excel" in problems[4][0]


def test_a_workbook_hiding_nothing_has_no_warnings(tmp_path: Path) -> None:
    report = validate_sheet(load_sheet(_book(tmp_path / "plain.xlsx")), LR)
    assert report.ok and not [n for n in report.notices if n.startswith("warning")]


def test_a_hidden_sheet_is_refused_unless_included(tmp_path: Path) -> None:
    path = _book(tmp_path / "s.xlsx", hide_first_sheet=True)
    with pytest.raises(SheetError, match="sheet 'Pay' is hidden in Excel"):
        validate_sheet(load_sheet(path), LR)
    report = validate_sheet(
        load_sheet(path), ValidationOptions(default_country="LR", include_hidden=True)
    )
    assert report.counts["valid"] == 3


def test_cli_validate_refuses_the_hidden_row_and_include_hidden_accepts_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hr.xlsx"
    _book(path, hidden_row=3)
    refused = CliRunner().invoke(main, ["validate", str(path), "--country", "LR"])
    assert refused.exit_code == 1 and "hidden in Excel" in refused.output
    accepted = CliRunner().invoke(
        main, ["validate", str(path), "--country", "LR", "--include-hidden"]
    )
    assert accepted.exit_code == 0, accepted.output
    assert "included because of --include-hidden" in accepted.output


def test_the_sample_warnings_are_printed(tmp_path: Path) -> None:
    shutil.copy(SAMPLE, tmp_path / "hr.xlsx")
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "hr.xlsx"), "--country", "LR"])
    assert result.exit_code == 1
    assert "warning: amounts whose number format hides decimals" in result.output


@pytest.mark.parametrize(
    ("code", "places"),
    [("#,##0.00", 2), ("0", 0), ("#,##0", 0), ("General", None), ("0.0%", None),
     ("yyyy-mm-dd", None), ('"US$"#,##0.0;[Red]-#,##0.0', 1), ("@", None)],
)
def test_shown_decimals(code: str, places: int | None) -> None:
    assert shown_decimals(code) == places


def test_run_refuses_the_hidden_row_and_include_hidden_pays_it_recorded(  # type: ignore[no-untyped-def]
    sandbox, tmp_path: Path
) -> None:
    from batch.ledger import Ledger
    from tests.engine_helpers import QUICK_PAYOUTS, cli

    sandbox.set_faults(**QUICK_PAYOUTS)
    path, ledger = _book(tmp_path / "hr.xlsx", hidden_row=3), tmp_path / "l.db"
    code, _, err = cli(["run", str(path), "--country", "LR", "--yes"], sandbox.base_url, ledger)
    assert code == 1 and "1 invalid row(s)" in err
    assert sandbox.executions() == []  # the HR export's hidden row is not paid silently
    code, out, err = cli(
        ["run", str(path), "--country", "LR", "--yes", "--include-hidden"], sandbox.base_url,
        ledger,
    )
    assert code == 0, err
    assert {s: n for s, n in out["counts"].items() if n} == {"COMPLETED": 3}
    with Ledger(ledger) as opened:
        batch = opened.batch_by_id(out["batch_id"])
    assert batch is not None and batch.options["include_hidden"] is True
