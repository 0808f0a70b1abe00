"""The report's big tables are written as prepared cell XML (xlsx_table.TableRows), not cell by
cell through xlsxwriter: whatever a line holds, the workbook must read back (openpyxl) as
the same values, number formats and fills that xlsxwriter's own cells would have given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xlsxwriter import Workbook  # type: ignore[import-untyped]

from batch.report.columns import Column
from batch.report.xlsx_sheet import shown_text
from batch.report.xlsx_style import STATE_FILLS, TIME_FORMAT, Formats, money_format
from batch.report.xlsx_table import table_sheets

COLUMNS = (
    Column("state", "State"),
    Column("name", "Name"),
    Column("amount", "Amount", "money", "currency"),
    Column("currency", "Currency"),
    Column("at", "At", "time"),
    Column("tries", "Tries", "int"),
)

_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
_line = st.fixed_dictionaries({
    "state": st.sampled_from(["COMPLETED", "NEW", *STATE_FILLS]),
    "name": st.none() | _text | st.sampled_from(["=1+1", " pad ", "_x0041_", "<r>x</r>", "a&b"]),
    "amount": st.none() | st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"),
                                      places=2, allow_nan=False),
    "currency": st.none() | st.sampled_from(["USD", "LRD", "RWF", "XYZ"]),
    "at": st.none() | st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1),
                                   timezones=st.sampled_from([UTC, None])),
    "tries": st.none() | st.integers(min_value=0, max_value=10**9),
})


def _write(path: Path, lines: list[dict[str, object]]) -> None:
    book = Workbook(str(path), {"constant_memory": True, "in_memory": False})
    try:
        table_sheets(book, Formats(book), [("Rows", COLUMNS, lines, True)])  # type: ignore[list-item]
    finally:
        book.close()


def _expected_text(value: str) -> str | None:
    shown = shown_text(value)
    return shown or None  # an empty text cell reads back as empty


def _read_text(read: object) -> object:
    # Excel shows an escaped look-alike "_x005F_x0041_" as "_x0041_"; openpyxl leaves it.
    return read.replace("_x005F_", "_") if isinstance(read, str) else read


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_line, min_size=1, max_size=8))
def test_prepared_rows_read_back_as_what_each_line_holds(
    tmp_path: Path, lines: list[dict[str, object]]
) -> None:
    path = tmp_path / "rows.xlsx"
    _write(path, lines)
    sheet = openpyxl.load_workbook(path)["Rows"]
    assert [c.value for c in sheet[1]] == [c.header for c in COLUMNS]
    for r, line in enumerate(lines, start=2):
        cells = {c.key: sheet.cell(r, j + 1) for j, c in enumerate(COLUMNS)}
        fill = STATE_FILLS.get(str(line["state"]))
        for key, cell in cells.items():
            value = line[key]
            if fill is not None:  # a highlighted row fills every cell, empty ones too
                assert cell.fill.fgColor.rgb == "FF" + fill.lstrip("#"), (key, line)
            if value is None:
                assert cell.value is None
            elif key == "amount":
                assert Decimal(str(cell.value)) == value
                currency = line["currency"]
                known = currency if currency in ("USD", "LRD", "RWF") else None
                if known or fill is not None:
                    assert cell.number_format == money_format(known)  # type: ignore[arg-type]
            elif key == "at":
                assert isinstance(value, datetime) and isinstance(cell.value, datetime)
                naive = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
                assert abs(cell.value - naive) < timedelta(milliseconds=1)
                assert cell.number_format == TIME_FORMAT
            elif key == "tries":
                assert cell.value == value
            else:
                assert _read_text(cell.value) == _expected_text(str(value)), (key, line)
