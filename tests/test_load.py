"""Loading CSV and XLSX sheets: encodings, delimiters, title blocks, aliases, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sheets import csv_text, payroll, write_csv, write_xlsx

from batch.errors import SheetError
from batch.intake.headers import canonical_column
from batch.intake.load import load_sheet

ROWS = payroll(
    ["Musu Dolo", "0770123456", "1,250.00", "USD", "LR"],
    ["Kpàdeh Flomo", "0886220145", "850", "USD", "LR"],
)


def _cells(path: Path, **kwargs: object) -> list[tuple[object, ...]]:
    sheet = load_sheet(path, **kwargs)  # type: ignore[arg-type]
    return sheet.frame.select("_row", "name", "phone", "amount").rows()


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252"])
def test_csv_delimiters_and_encodings(tmp_path: Path, delimiter: str, encoding: str) -> None:
    path = write_csv(tmp_path / "p.csv", ROWS, delimiter=delimiter, encoding=encoding)
    assert _cells(path) == [
        (2, "Musu Dolo", "0770123456", "1,250.00"),
        (3, "Kpàdeh Flomo", "0886220145", "850"),
    ]


def test_excel_unicode_text_is_utf16_tab_separated(tmp_path: Path) -> None:
    # Excel's "Unicode text" export: UTF-16LE with BOM, tab-separated.
    path = tmp_path / "p.txt"
    path.write_bytes(b"\xff\xfe" + csv_text(ROWS, "\t").encode("utf-16-le"))
    assert _cells(path)[1] == (3, "Kpàdeh Flomo", "0886220145", "850")


def test_cells_stay_text_leading_zeros_and_long_numbers(tmp_path: Path) -> None:
    rows = payroll(
        ["A", "0770123456", "00012.50", "USD", "LR"], ["B", "231770123456789", "1", "", ""]
    )
    frame = load_sheet(write_csv(tmp_path / "p.csv", rows)).frame
    assert frame.get_column("phone").to_list() == ["0770123456", "231770123456789"]
    assert frame.get_column("amount").to_list() == ["00012.50", "1"]


def test_title_block_above_header_keeps_excel_row_numbers(tmp_path: Path) -> None:
    rows = [["Acme Ltd payroll"], ["November 2026", "", ""], [], *ROWS]
    sheet = load_sheet(write_csv(tmp_path / "p.csv", rows))
    assert sheet.header_row == 4
    assert sheet.frame.get_column("_row").to_list() == [5, 6]


def test_quoted_newline_counts_as_one_excel_row(tmp_path: Path) -> None:
    rows = payroll(["Musu\nDolo", "0770123456", "5", "USD", "LR"], ["B", "0886220145", "6", "", ""])
    assert [r[0] for r in _cells(write_csv(tmp_path / "p.csv", rows))] == [2, 3]


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("Full Name", "name"),
        ("BENEFICIARY", "name"),
        ("employee_name", "name"),
        ("MSISDN", "phone"),
        ("MoMo Number", "phone"),
        ("Phone number", "phone"),
        ("wallet", "phone"),
        ("Net Pay", "amount"),
        ("Net salary (USD)", "amount"),
        ("CCY", "currency"),
        ("Country Code", "country"),
        ("Employee ID", "external_id"),
        ("staff-id", "external_id"),
        ("E-mail", "email"),
        ("Remarks", "note"),
        ("Gross pay", None),
    ],
)
def test_header_aliases(header: str, column: str | None) -> None:
    assert canonical_column(header) == column


def test_xlsx_first_sheet_title_block_and_float_phones(tmp_path: Path) -> None:
    rows = [["Payroll November"], [], ["Employee Name", "Mobile", "Net Pay", "Ccy"]]
    rows += [["Musu Dolo", 231770123456, 1250.5, "USD"], ["Sando", "0886220145", 850, "USD"]]
    path = write_xlsx(tmp_path / "p.xlsx", rows, extra_sheets=1)
    sheet = load_sheet(path)
    assert sheet.kind == "xlsx" and sheet.header_row == 3
    assert _cells(path) == [
        (4, "Musu Dolo", "231770123456", "1250.5"),
        (5, "Sando", "0886220145", "850"),
    ]


def test_xlsx_leading_empty_rows_keep_row_numbers(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet["B4"], sheet["C4"], sheet["D4"] = "Name", "Phone", "Amount"
    sheet["B5"], sheet["C5"], sheet["D5"] = "Musu", "0770123456", 5
    book.save(tmp_path / "p.xlsx")
    assert _cells(tmp_path / "p.xlsx") == [(5, "Musu", "0770123456", "5")]


def test_xlsx_named_sheet(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.append(["just notes"])
    book.create_sheet("November").append(["Name", "Phone", "Amount"])
    book["November"].append(["Musu", "0770123456", 5])
    book.save(tmp_path / "p.xlsx")
    assert _cells(tmp_path / "p.xlsx", sheet="November") == [(2, "Musu", "0770123456", "5")]
    with pytest.raises(SheetError, match="has no sheet 'December' \\(sheets: Sheet, November\\)"):
        load_sheet(tmp_path / "p.xlsx", sheet="December")
    with pytest.raises(SheetError, match="it seems to be on sheet 'November': pass --sheet"):
        load_sheet(tmp_path / "p.xlsx")


def _corrupt_xlsx(tmp_path: Path) -> Path:
    good = write_xlsx(tmp_path / "good.xlsx", ROWS).read_bytes()
    path = tmp_path / "bad.xlsx"
    path.write_bytes(good[: len(good) // 2])  # truncated download
    return path


def _encrypted_xlsx(tmp_path: Path) -> Path:
    # Excel saves a password-protected workbook as an OLE container holding "EncryptedPackage".
    path = tmp_path / "locked.xlsx"
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    path.write_bytes(ole + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 512)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.csv", "missing.csv: no such file"),
        (lambda d: d, "is a directory"),
        (lambda d: _write(d / "empty.csv", b""), "empty.csv: is empty"),
        (lambda d: _write(d / "blank.csv", b" \r\n\r\n"), "blank.csv: is empty"),
        (lambda d: _write(d / "pic.png", b"\x89PNG\r\n\x1a\n\x00\x00"), "not a CSV or XLSX"),
        # Text under an Excel name is read as the CSV it is (content sniffed, not the suffix).
        (lambda d: _write(d / "fake.xlsx", b"Name,Phone\n"), "fake.xlsx: header on row 1 lacks"),
        (lambda d: _write(d / "fake.xlsx", b"\x00\x01junk"), "fake.xlsx: is not a valid Excel"),
        (_corrupt_xlsx, "bad.xlsx: is not a readable Excel file"),
        (_encrypted_xlsx, "locked.xlsx: is password-protected"),
        (lambda d: _write(d / "t.csv", b"hello,world\n1,2\n"), "no recognisable header"),
        (
            lambda d: _write(d / "t.csv", b"Name,Phone,Currency\nA,0770123456,USD\n"),
            "lacks required column\\(s\\): amount",
        ),
        (
            lambda d: _write(d / "t.csv", b"Name,Full name,Phone,Amount\nA,B,0770123456,5\n"),
            "'Name' and 'Full name' both mean name",
        ),
        (lambda d: _write(d / "t.csv", b"Name,Phone,Amount\n,,\n"), "but no data rows"),
    ],
)
def test_unreadable_files_raise_one_clear_sheet_error(
    tmp_path: Path, make: object, message: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(SheetError, match=message) as caught:
        load_sheet(path)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(str(path))


def test_sheet_option_on_csv_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SheetError, match="--sheet applies to Excel files only"):
        load_sheet(write_csv(tmp_path / "p.csv", ROWS), sheet="Nov")


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


_FIXTURE_OK = [HealthCheck.function_scoped_fixture]
_SHEETISH = st.sampled_from(list('Name,Phone;Amount\t"\r\n 0123456789abcé'))


@settings(max_examples=60, deadline=None, suppress_health_check=_FIXTURE_OK)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.text(alphabet=_SHEETISH, max_size=200).map(lambda t: t.encode("utf-8")),
    )
)
def test_arbitrary_bytes_load_or_raise_sheet_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    try:
        sheet = load_sheet(path)
    except SheetError as exc:
        assert "\n" not in str(exc)
    else:
        assert sheet.frame.height >= 1


def test_sample_generator_reproduces_the_csv_samples(tmp_path: Path, samples: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_samples", samples / "make_samples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, writer in [
        ("payroll_liberia.csv", module.write_liberia),
        ("payroll_rwanda.csv", module.write_rwanda),
        ("payroll_messy.csv", module.write_messy),
    ]:
        writer(tmp_path / name)
        assert (tmp_path / name).read_bytes() == (samples / name).read_bytes(), name
