"""Real-world messy payroll sheets, end to end through load + validate (CSV and XLSX)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sheets import check, write_csv

from batch.errors import SheetError
from batch.intake.load import load_sheet
from batch.intake.outcome import ValidationReport
from batch.intake.validate import validate_sheet
from batch.options import ValidationOptions


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


@pytest.mark.parametrize(
    ("phone", "e164"),
    [
        ("+231-77-012-3456", "231770123456"),
        ("(077) 012 3456", "231770123456"),
        ("231 770 123 456", "231770123456"),
        ("tel:+231770123456", "231770123456"),
        ("Tel: 0770123456", "231770123456"),
        ("'0770123456", "231770123456"),  # Excel's text-forcing apostrophe
        ("770123456", "231770123456"),  # Excel dropped the leading 0
        ("\u202d+231 77 012 3456\u202c", "231770123456"),  # invisible marks from a copy-paste
        ("\uff10\uff17\uff17\uff10\uff11\uff12\uff13\uff14\uff15\uff16", "231770123456"),
    ],
)
def test_phone_forms_real_sheets_contain(tmp_path: Path, phone: str, e164: str) -> None:
    rows = [["Name", "Phone", "Amount", "Currency"], ["Musu Dolo", phone, "10", "USD"]]
    report = check(tmp_path, rows, default_country="LR")
    assert [(r.status, r.phone) for r in report.rows] == [("valid", e164)]


@pytest.mark.parametrize(
    "phone",
    ["0770123456/0880123456", "0770123456 / 0886220145", "0770123456; 0886220145",
     "0770123456 or 0886220145", "0770123456, 0886220145"],
)  # fmt: skip
def test_two_numbers_in_one_cell_are_rejected_clearly(tmp_path: Path, phone: str) -> None:
    rows = [["Name", "Phone", "Amount", "Currency"], ["Musu Dolo", phone, "10", "USD"]]
    found = messages(check(tmp_path, rows, default_country="LR"))
    assert found == [(2, "phone", "holds two phone numbers; put one number per row")]


def test_names_emails_currency_and_country_words_are_tidied(tmp_path: Path, kind: str) -> None:
    rows = [
        ["Name", "Phone", "Amount", "Currency", "Country", "Email"],
        ["  Kpàdeh   O'Neil\u00a0Flomo ", "0770123456", "10", " usd ", "Liberia", " k@x.com "],
        ["Jean-Paul\nMugabo", "0788123456", "10", "FRW", "rwanda", ""],
        ["Ama Uwase", "0788123457", "10", "RWF", "Republic of Rwanda", "a b@x.com"],
    ]
    report = check(tmp_path, rows, kind)
    assert [(r.name, r.currency, r.country) for r in report.rows] == [
        ("Kpàdeh O'Neil Flomo", "USD", "LR"),
        ("Jean-Paul Mugabo", "RWF", "RW"),
        ("Ama Uwase", "RWF", "RW"),
    ]
    assert messages(report) == [(4, "email", "is not a valid email address")]
    assert report.payout_rows()[0].email == "k@x.com"


@pytest.mark.parametrize(
    "header",
    [
        ["Employee Name", "MoMo No.", "Net Pay", "Emp. No"],
        ["Full Name", "Mobile Money Number", "Amount (USD)", "Staff ID"],
        ["Staff Name", "Mobile No", "Take-home pay", "Employee Code"],
    ],
)
def test_column_aliases_real_exports_use(tmp_path: Path, header: list[str]) -> None:
    rows = [header, ["Musu Dolo", "0770123456", "1,250.00", "E001"]]
    report = check(tmp_path, rows, default_country="LR", default_currency="USD")
    assert report.ok
    assert report.payout_rows()[0].external_id == "E001"


def test_currency_named_in_the_amount_header(tmp_path: Path) -> None:
    rows = [["Name", "Phone", "Net Pay (LRD)"], ["Musu Dolo", "0770123456", "5,000"]]
    report = check(tmp_path, rows, default_country="LR")
    assert report.ok and report.totals == {"LRD": Decimal("5000.00")}


def test_old_mac_line_ends_and_excel_sep_line(tmp_path: Path) -> None:
    cr = tmp_path / "cr.csv"
    cr.write_bytes(b"Name,Phone,Amount,Currency\rA,0770123456,10,USD\rB,0886220145,20,USD\r")
    assert check_file(cr).counts["valid"] == 2
    # Excel hides the "sep=;" line, so the header is row 1 and the first payout row 2.
    sep = tmp_path / "sep.csv"
    sep.write_bytes(b"sep=;\r\nName;Phone;Amount;Currency\r\nA;0770123456;1,250.00;USD\r\n")
    report = check_file(sep)
    assert [(r.row, r.status, r.amount) for r in report.rows] == [(2, "valid", Decimal("1250.00"))]


def check_file(path: Path, **options: Any) -> ValidationReport:
    return validate_sheet(load_sheet(path), ValidationOptions(default_country="LR", **options))


def test_lock_file_and_text_under_an_excel_name(tmp_path: Path) -> None:
    lock = tmp_path / "~$payroll.xlsx"
    lock.write_bytes(b"\x05jsmith" + b"\x00" * 50)
    with pytest.raises(SheetError, match="lock file .* use 'payroll.xlsx'"):
        load_sheet(lock)
    fake = write_csv(tmp_path / "payroll.xlsx", [["Name", "Phone", "Amount", "Currency"],
                                                ["A", "0770123456", "10", "USD"]])  # fmt: skip
    report = check_file(fake)
    assert report.ok and "really a text (CSV) file" in report.notices[0]


def test_data_on_another_sheet_suggests_sheet_option(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    cover = book.active
    assert cover is not None
    cover.title = "Summary"
    cover.append(["Payroll summary, see next sheet"])
    data = book.create_sheet("November 2026")
    data.append(["Name", "Phone", "Amount", "Currency"])
    data.append(["A", "0770123456", 10, "USD"])
    path = tmp_path / "book.xlsx"
    book.save(path)
    with pytest.raises(SheetError) as raised:
        load_sheet(path)
    assert "--sheet 'November 2026' (sheets: Summary, November 2026)" in str(raised.value)
    assert load_sheet(path, sheet="November 2026").frame.height == 1
