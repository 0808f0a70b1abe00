"""Collection sheets: the payout reading rules with a collection's columns (pure)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import openpyxl

from batch.intake.collection import DEFAULT_ITEM, validate_collection
from batch.options import ValidationOptions

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "collections_liberia.csv"


def _problems(path: Path) -> list[tuple[int, str, str]]:
    report = validate_collection(path, ValidationOptions())
    return [(p.row, p.column, p.message) for p in report.problems]


def test_the_sample_groups_rows_sharing_an_invoice_key() -> None:
    report = validate_collection(SAMPLE, ValidationOptions())
    assert report.ok and len(report.invoices) == 8
    school = next(i for i in report.invoices if i.invoice_key == "SCH-01")
    assert (school.sheet_row, school.phone, school.total) == (3, "231770000102", Decimal("165"))
    assert [(x.name, x.qty, x.unit_price) for x in school.items] == [
        ("Term 2 tuition", 1, Decimal("120.00")), ("Exercise books", 6, Decimal("1.50")),
        ("Uniform", 2, Decimal("18.00"))]
    assert school.note == "Term 2 fees" and str(school.due_date) == "2026-12-15"


def test_an_excel_sheet_with_a_title_block_names_excel_rows(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Kollie Academy — term 2 fees"])
    sheet.append([])
    sheet.append(["Student name", "Mobile number", "Invoice no", "Description", "Qty",
                  "Price each", "Currency", "Country", "Due"])
    sheet.append(["Ann Doe", "0770000501", "T-1", "Tuition", 1, 100, "USD", "LR",
                  "2026-12-15"])
    sheet.append(["Ann Doe", "0770000501", "T-1", "Books", "two", 2.5, "USD", "LR", ""])
    sheet.append(["Ben Doe", "0770000502", "", "", 1, 80, "USD", "LR", "15/12/2026"])
    path = tmp_path / "fees.xlsx"
    book.save(path)
    assert _problems(path) == [
        (4, "invoice_key", "belongs to an invoice with an invalid row (5)"),
        (5, "qty", "is not a whole number from 1 to 1,000,000"),
        (6, "due_date", "is not a date (write it like 2026-12-15)"),
    ]


def test_defaults_and_invoice_consistency(tmp_path: Path) -> None:
    path = tmp_path / "dues.csv"
    path.write_text(
        "Member,Phone,Amount,Currency,Country,Invoice,Note\n"
        "Ann,231770000601,10,USD,LR,,\n"
        "Ben,231770000602,12,USD,LR,,December dues\n"
        "Cy,231770000603,5,USD,LR,K1,\n"
        "Cy,231770000604,5,LRD,LR,K1,\n"
        "Dee,231770000605,,USD,LR,,\n",
        encoding="utf-8",
    )
    report = validate_collection(path, ValidationOptions())
    by_row = {i.sheet_row: i for i in report.invoices}
    assert by_row[2].items[0].name == DEFAULT_ITEM and by_row[2].note == DEFAULT_ITEM
    assert by_row[3].items[0].name == "December dues"
    problems = [(p.row, p.column) for p in report.problems]
    assert (5, "phone") in problems and (5, "currency") in problems
    assert (6, "amount") in problems
    assert sorted(by_row) == [2, 3]


def test_amount_must_equal_quantity_times_unit_price(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(
        "Customer,Phone,Quantity,Unit price,Amount,Currency,Country\n"
        "Ann,231770000701,3,2.50,7.50,USD,LR\n"
        "Ben,231770000702,3,2.50,8.00,USD,LR\n",
        encoding="utf-8",
    )
    assert _problems(path) == [(3, "amount", "is not quantity x unit price (3 x 2.50 = 7.50)")]
