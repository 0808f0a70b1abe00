"""`paybatch validate` end to end through click: output, --json, exit codes, bad files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sheets import payroll, write_csv, write_xlsx

from batch.cli import main


def run(*args: str) -> tuple[int, str, str]:
    # Wide enough that no problem message wraps inside its table cell.
    result = CliRunner().invoke(main, ["validate", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def test_clean_sample_exits_0_with_counts_and_totals(samples: Path) -> None:
    code, out, err = run(str(samples / "payroll_liberia.csv"))
    assert code == 0 and err == ""
    assert "OK — 25 row(s): 25 valid, 0 invalid, 0 skipped" in out
    assert "Total of valid rows: LRD 473,550.00 · USD 14,046.50" in out


def test_messy_sample_lists_every_problem_with_its_row(samples: Path) -> None:
    code, out, _ = run(str(samples / "payroll_messy.csv"), "--max-amount", "5000")
    assert code == 1
    assert "Problems" in out and "Row" in out and "Column" in out
    for fragment in [
        "name is missing",
        "scientific",
        "fixed-line",
        "Ghana (GH)",
        "RWF cannot be paid in LR",
        "has 3 decimal",
        "above --max-amount 5000",
        "same phone and currency as row(s) 21",
        "same external id as row(s) 23",
        "not a valid email",
        "totals row",
    ]:
        assert fragment in " ".join(out.split()), fragment


def test_json_output_is_one_object(samples: Path) -> None:
    code, out, _ = run(str(samples / "payroll_messy.csv"), "--json")
    data = json.loads(out)
    assert code == 1 and data["ok"] is False
    assert data["file"].endswith("payroll_messy.csv")
    assert data["counts"] == {"valid": 2, "invalid": 23, "skipped": 1, "total": 26}
    row = next(r for r in data["rows"] if r["row"] == 17)
    assert row["status"] == "invalid"
    assert row["problems"] == [
        {"column": "amount", "value": "720.125", "message": "has 3 decimal place(s); USD allows 2"}
    ]


def test_quiet_prints_only_the_summary(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", payroll(["A", "0770123456", "five", "USD", "LR"]))
    code, out, _ = run(str(path), "--quiet")
    assert code == 1
    assert out.strip() == f"{path}: NOT OK — 1 row(s): 0 valid, 1 invalid, 0 skipped"


def test_defaults_and_sheet_options(tmp_path: Path) -> None:
    import openpyxl

    path = write_xlsx(tmp_path / "p.xlsx", [["notes"]])
    book = openpyxl.load_workbook(path)
    sheet = book.create_sheet("Nov")
    sheet.append(["Name", "Phone", "Amount"])
    sheet.append(["Musu", "0770123456", 5])
    book.save(path)
    code, out, _ = run(str(path), "--sheet", "Nov", "--country", "lr", "--currency", "usd")
    assert code == 0, out
    assert "USD 5.00" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), (b"", "is empty"), (b"a,b\n1,2\n", "no recognisable header")],
)
def test_bad_file_gives_one_line_and_exit_1(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "p.csv"
    if content is not None:
        path.write_bytes(content)
    code, out, err = run(str(path))
    assert code == 1 and out == ""
    assert err == f"paybatch: error: {path}: {message}\n" or (
        err.count("\n") == 1 and message in err and str(path) in err
    )
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "args",
    [["--country", "NG"], ["--currency", "EUR"], ["--max-amount", "-3"], ["--max-amount", "x"]],
)
def test_bad_options_are_usage_errors(samples: Path, args: list[str]) -> None:
    code, _, err = run(str(samples / "payroll_liberia.csv"), *args)
    assert code == 2 and "Traceback" not in err


def test_help_has_an_example() -> None:
    result = CliRunner().invoke(main, ["validate", "--help"])
    assert result.exit_code == 0
    assert "paybatch validate samples/payroll_liberia.csv" in result.stdout


def test_python_dash_m_batch(samples: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "batch", "validate", str(samples / "payroll_excel.xlsx"), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["counts"]["skipped"] == 1 and data["totals"] == {
        "LRD": "137500.75",
        "USD": "5700.75",
    }
