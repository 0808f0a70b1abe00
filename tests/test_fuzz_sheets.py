"""Hostile sheets (issue 12): generated CSV and XLSX bytes through `paybatch validate --json`.

Each must end with exit 0, 1 or 2, at most one line on stderr, no traceback, within 10 s,
and print output in proportion to its size. The default suite runs a bounded, repeatable
number of cases (PAYBATCH_FUZZ_EXAMPLES raises it; tests/perf/bench_hostile.py counts
thousands); named cases below pin each cause the issue found.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from hostile_sheets import csv_bytes, problems_of, validate_file, xlsx_bytes
from hypothesis import HealthCheck, given, settings
from sheets import payroll, write_xlsx

from batch.cli import main

EXAMPLES = int(os.environ.get("PAYBATCH_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # timed by validate_file itself: 10 s
    database=None,
    derandomize=os.environ.get("PAYBATCH_FUZZ_RANDOM") != "1",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _check(tmp_path: Path, suffix: str, data: bytes) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    outcome = validate_file(path)
    assert problems_of(outcome, len(data)) == []


@FUZZ
@given(data=csv_bytes())
def test_generated_csv_files_end_cleanly(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    _check(tmp_path_factory.mktemp("csv"), ".csv", data)


@FUZZ
@given(data=xlsx_bytes())
def test_generated_xlsx_files_end_cleanly(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    _check(tmp_path_factory.mktemp("xlsx"), ".xlsx", data)


# -- the causes found by the adversarial run, one each ---------------------------------------


def _validate(path: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["validate", "--json", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def _one_line_error(path: Path, *fragments: str) -> None:
    code, out, err = _validate(path)
    assert code == 1 and json.loads(out)["error_type"] == "SheetError"
    assert err.count("\n") == 1 and err.startswith(f"paybatch: error: {path}: "), err
    for fragment in fragments:
        assert fragment in err, err


def test_ragged_row_with_a_badly_quoted_field(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text('Name,Phone,Amount,Currency\nJo,0770123456,1,USD,x,y\n"Al,0880123456,2,USD\n')
    code, out, err = _validate(path)
    assert code == 1 and err.count("\n") <= 1 and "Traceback" not in err


def test_field_over_the_csv_module_limit(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    note = "x" * 200_000
    path.write_text(
        f"Name,Phone,Amount,Currency\nJo,231770123456,1,USD,{note}\nAl,231880123456,2,USD\n"
    )
    code, out, err = _validate(path)
    assert code == 1 and err == ""
    rows = json.loads(out)["rows"]
    assert [r["row"] for r in rows if r["status"] == "invalid"] == [2]  # the extra cell


def _percent_book(tmp_path: Path) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Name", "Phone", "Amount", "Currency"])
    sheet.append(["Jo", "0770123456", 0.05, "USD"])
    sheet["C2"].number_format = "0.00%"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _without(data: bytes, member: str, replacement: bytes | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            if info.filename != member:
                target.writestr(info, source.read(info))
            elif replacement is not None:
                target.writestr(info, replacement)
    return out.getvalue()


@pytest.mark.parametrize(
    ("member", "replacement"),
    [
        ("[Content_Types].xml", None),
        ("docProps/core.xml", b"<?xml version='1.0'?><broken"),
        ("docProps/core.xml", b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>"),
    ],
)
def test_percent_workbook_the_second_reader_cannot_open(
    tmp_path: Path, member: str, replacement: bytes | None
) -> None:
    path = tmp_path / "percent.xlsx"
    path.write_bytes(_without(_percent_book(tmp_path), member, replacement))
    code, out, err = _validate(path)
    assert code in (0, 1) and err.count("\n") <= 1 and "Traceback" not in err


def test_a_worksheet_part_that_is_no_worksheet_is_one_line(tmp_path: Path) -> None:
    # calamine logs "'x' not a valid worksheet" through Python's logging: with no handler
    # (click's runner without pytest's), logging's last resort printed it on stderr.
    path = tmp_path / "doctype.xlsx"
    doctype = b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>"
    path.write_bytes(_without(_percent_book(tmp_path), "xl/worksheets/sheet1.xml", doctype))
    _one_line_error(path, "no recognisable header row")


def test_workbook_without_its_workbook_part(tmp_path: Path) -> None:
    path = tmp_path / "nobook.xlsx"
    path.write_bytes(_without(_percent_book(tmp_path), "xl/workbook.xml"))
    _one_line_error(path, "not a readable Excel file")


def test_huge_number_formatted_as_minutes_is_a_line_not_a_panic(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = write_xlsx(tmp_path / "mmss.xlsx", payroll(["Jo", "0770123456", -1e15, "USD", "LR"]))
    book = openpyxl.load_workbook(path)
    sheet = book.active
    assert sheet is not None
    sheet["C2"].number_format = "mm:ss"
    book.save(path)
    _one_line_error(path, "cannot convert")
    native = capfd.readouterr()
    assert "panicked" not in native.err and "backtrace" not in native.err


def test_ten_thousand_copies_of_one_phone_are_listed_briefly(tmp_path: Path) -> None:
    path = tmp_path / "same.csv"
    path.write_text("Name,Phone,Amount,Currency\n" + "Jo,231770123456,10,USD\n" * 10_000)
    code, out, _ = _validate(path)
    assert code == 1 and len(out) < 4_000_000  # was 592 MB
    rows = json.loads(out)["rows"]
    assert rows[0]["problems"][0]["message"] == (
        "same phone and currency as 9,999 other rows: 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, … and "
        "9,989 more (pass --allow-duplicates if each is meant)"
    )
    assert rows[5]["problems"][0]["message"] == (
        "same phone and currency as 9,999 other rows: 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, … and "
        "9,989 more (pass --allow-duplicates if each is meant)"
    )


def test_small_duplicate_groups_name_every_other_row(tmp_path: Path) -> None:
    path = tmp_path / "three.csv"
    path.write_text("Name,Phone,Amount,Currency\n" + "Jo,231770123456,10,USD\n" * 3)
    code, out, _ = _validate(path)
    messages = [r["problems"][0]["message"] for r in json.loads(out)["rows"]]
    assert messages == [
        f"same phone and currency as row(s) {rows} (pass --allow-duplicates if each is meant)"
        for rows in ("3, 4", "2, 4", "2, 3")
    ]


@pytest.mark.parametrize(
    ("cell", "column", "message"),
    [
        ("7" * 32_000, "phone", "is too long to be a phone number (32,000 characters)"),
        ("0770123456 / " + "1" * 100_000, "phone", "is too long to be a phone number"),
        ("1" + " " * 100_000 + "x", "amount", "is too long to be an amount"),
        ("$" * 50_000 + "1", "amount", "is too long to be an amount"),
    ],
)
def test_long_cells_are_rejected_before_any_pattern_runs(
    tmp_path: Path, cell: str, column: str, message: str
) -> None:
    phone, amount = (cell, "10") if column == "phone" else ("231770123456", cell)
    path = tmp_path / "long.csv"
    path.write_text(f'Name,Phone,Amount,Currency\nJo,"{phone}","{amount}",USD\n')
    outcome = validate_file(path, limit=10.0)  # was 36 s (32,000 digits), minutes (100 KB)
    assert outcome.seconds < 5 and outcome.exit_code == 1
    code, out, _ = _validate(path)
    problem = json.loads(out)["rows"][0]["problems"][0]
    assert problem["column"] == column and problem["message"].startswith(message)


def test_a_long_header_cell_is_not_matched_or_scanned(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("Name,Phone,Amount," + "(" * 100_000 + "\nJo,0770123456,1,USD\n")
    outcome = validate_file(path, limit=10.0)  # was 27 s
    assert outcome.seconds < 5 and outcome.exit_code == 1
    code, out, _ = _validate(path)
    notices = json.loads(out)["notices"]
    assert any("(((… (100,000 characters)" in n for n in notices)


def test_a_date_cell_openpyxl_warns_about_prints_nothing(tmp_path: Path) -> None:
    # openpyxl warned "Cell C3 is marked as a date but the serial value ... is outside the
    # limits" on stderr (and under -W error lost the percent reading altogether).
    book = openpyxl.load_workbook(io.BytesIO(_percent_book(tmp_path)))
    sheet = book.active
    assert sheet is not None
    sheet.append(["Al", "0880123456", -700000, "USD"])
    sheet["C3"].number_format = "yyyy-mm-dd"
    path = tmp_path / "dates.xlsx"
    book.save(path)
    code, out, err = _validate(path)
    assert code == 1 and err == ""
    problems = json.loads(out)["rows"][0]["problems"]
    assert [p["value"] for p in problems if p["column"] == "amount"] == ["5%"]
