"""Real legacy .xls (xlwt) and OpenDocument .ods (odfpy) sheets load like .xlsx, through calamine,
with the rows numbered as the spreadsheet shows them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import xlwt
from odf.opendocument import OpenDocumentSpreadsheet
from odf.table import Table, TableCell, TableRow
from odf.text import P

from batch.intake.load import load_sheet
from batch.intake.validate import validate_sheet
from batch.options import ValidationOptions

ROWS: list[list[Any]] = [
    ["Payroll, December"],
    [],
    ["Name", "Phone", "Amount", "Currency"],
    ["Musu Dolo", "0770123456", 1250.5, "USD"],
    ["Sando Kollie", 231886220145, 850, "USD"],
    ["", "", "", ""],
    ["No Phone", "", 10, "USD"],
]


def write_ods(path: Path, rows: list[list[Any]]) -> Path:
    doc = OpenDocumentSpreadsheet()
    table = Table(name="Payroll")
    for row in rows:
        line = TableRow()
        for value in row:
            number = isinstance(value, int | float)
            kind = {"valuetype": "float", "value": value} if number else {"valuetype": "string"}
            cell = TableCell(**kind)
            if value != "":
                cell.addElement(P(text=str(value)))
            line.addElement(cell)
        table.addElement(line)
    doc.spreadsheet.addElement(table)
    doc.save(str(path))
    return path


def write_xls(path: Path, rows: list[list[Any]]) -> Path:
    book = xlwt.Workbook()
    sheet = book.add_sheet("Payroll")
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            sheet.write(i, j, value)
    book.save(str(path))
    return path


@pytest.mark.parametrize(("suffix", "writer"), [(".ods", write_ods), (".xls", write_xls)])
def test_xls_and_ods_load_and_validate(tmp_path: Path, suffix: str, writer: Any) -> None:
    path = writer(tmp_path / f"payroll{suffix}", ROWS)
    sheet = load_sheet(path)
    assert sheet.header_row == 3
    report = validate_sheet(sheet, ValidationOptions(default_country="LR"))
    assert [(r.row, r.status, r.phone, r.amount) for r in report.rows] == [
        (4, "valid", "231770123456", Decimal("1250.50")),
        (5, "valid", "231886220145", Decimal("850.00")),
        (7, "invalid", None, Decimal("10.00")),
    ]
    assert [(p.row, p.column) for p in report.problem_list()] == [(7, "phone")]


@pytest.mark.parametrize(("suffix", "writer"), [(".ods", write_ods), (".xls", write_xls)])
def test_xls_and_ods_unknown_sheet_is_one_clear_line(
    tmp_path: Path, suffix: str, writer: Any
) -> None:
    from batch.errors import SheetError

    path = writer(tmp_path / f"payroll{suffix}", ROWS)
    with pytest.raises(SheetError, match=r"has no sheet 'Nope' \(sheets: Payroll\)"):
        load_sheet(path, sheet="Nope")
