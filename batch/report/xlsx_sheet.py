"""A leaner cell writer for the report's big tables (xlsxwriter's own costs ~5 us a cell).

xlsxwriter lets a workbook add sheets of a subclass (`add_worksheet(worksheet_class=...)`).
This one writes the two commonest cells of a constant-memory sheet, numbers and in-line
strings (and blanks), with one f-string each, exactly as xlsxwriter would; anything else goes to
xlsxwriter. It relies on what the report's tables never use: row or column formats (a cell
without a format of its own would inherit them), so `set_row`/`set_column` formats are refused.
"""

from __future__ import annotations

import re
from typing import Any

from xlsxwriter.utility import xl_rowcol_to_cell_fast  # type: ignore[import-untyped]
from xlsxwriter.worksheet import Worksheet  # type: ignore[import-untyped]

# What xlsxwriter's in-line string writer changes: "_xHHHH_" look-alikes, control characters,
# XML's own characters, the two non-characters; and spaces at either end need "preserve".
_NEEDS_CARE = re.compile(r"_x[0-9a-fA-F]{4}_|[\x00-\x08\x0b-\x1f&<>\ufffe\uffff]|^\s|\s$")


class TableSheet(Worksheet):  # type: ignore[misc]
    """A constant-memory worksheet whose number and plain-text cells are written directly."""

    def set_column(self, first: int, last: int, width: float | None = None,
                   cell_format: Any = None, options: Any = None) -> int:
        if cell_format is not None:
            raise ValueError("TableSheet: column formats are not supported")
        return int(super().set_column(first, last, width, None, options))

    def set_row(self, row: int, height: float | None = None, cell_format: Any = None,
                options: Any = None) -> int:
        if cell_format is not None:
            raise ValueError("TableSheet: row formats are not supported")
        return int(super().set_row(row, height, None, options))

    def _write_cell(self, row: int, col: int, cell: Any) -> None:
        kind = cell.__class__.__name__
        fmt = cell.format
        style = f' s="{fmt._get_xf_index()}"' if fmt else ""
        if kind == "Number":
            self.fh.write(
                f'<c r="{xl_rowcol_to_cell_fast(row, col)}"{style}><v>{cell.number:.16G}</v></c>'
            )
        elif kind == "String" and self.constant_memory and not _NEEDS_CARE.search(cell.string):
            self.fh.write(
                f'<c r="{xl_rowcol_to_cell_fast(row, col)}"{style} t="inlineStr">'
                f"<is><t>{cell.string}</t></is></c>"
            )
        elif kind == "Blank":
            self.fh.write(f'<c r="{xl_rowcol_to_cell_fast(row, col)}"{style}/>')
        else:
            super()._write_cell(row, col, cell)
