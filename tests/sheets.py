"""Helpers that write real payout sheets (CSV in any encoding, XLSX via openpyxl) for tests."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openpyxl

HEADER = ["Name", "Phone", "Amount", "Currency", "Country"]


def csv_text(rows: Sequence[Sequence[Any]], delimiter: str = ",") -> str:
    """CSV text of rows, quoted as Excel would."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if cell is None else cell for cell in row])
    return out.getvalue()


def write_csv(
    path: Path,
    rows: Sequence[Sequence[Any]],
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> Path:
    """Write rows as a CSV file in `encoding` ("utf-8-sig" adds a BOM; "utf-16" adds one too)."""
    path.write_bytes(csv_text(rows, delimiter).encode(encoding))
    return path


def write_xlsx(
    path: Path, rows: Sequence[Sequence[Any]], *, title: str = "Sheet1", extra_sheets: int = 0
) -> Path:
    """Write rows to a real XLSX workbook; numbers stay numbers, as Excel keeps them."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(list(row))
    for index in range(extra_sheets):
        book.create_sheet(f"Other{index}").append(["Name", "Phone", "Amount"])
    book.save(path)
    return path


def payroll(*rows: Sequence[Any]) -> list[list[Any]]:
    """A header plus rows (name, phone, amount, currency, country)."""
    return [list(HEADER), *[list(r) for r in rows]]


def check(tmp_path: Path, rows: list[list[Any]], kind: str = "csv", **options: Any) -> Any:
    """Write `rows` as a CSV or XLSX sheet in tmp_path, then load and validate it."""
    from batch.intake.load import load_sheet
    from batch.intake.validate import validate_sheet
    from batch.options import ValidationOptions

    writer = write_csv if kind == "csv" else write_xlsx
    path = writer(tmp_path / f"sheet.{kind}", rows)
    return validate_sheet(load_sheet(path), ValidationOptions(**options))
