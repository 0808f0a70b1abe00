"""Cells as XML, and a sheet that takes whole rows of them (xlsxwriter's own cells cost ~5 us).

xlsxwriter lets a workbook add sheets of a subclass (`add_worksheet(worksheet_class=...)`).
In constant-memory mode xlsxwriter keeps one row of cells and writes it out as XML when the
next row starts; a TableSheet instead takes a whole row as its XML, made by `text_cell` and
`number_cell` (or the same f-strings inlined in xlsx_table's hot loop; an empty cell with a
format is `<c r="B7" s="N"/>`) exactly as xlsxwriter makes each cell, and writes it in one
go. It relies on what the report's sheets never use: row or column formats (a cell without a
format of its own would inherit them), so `set_row`/`set_column` formats are refused.
"""

from __future__ import annotations

import re
from typing import Any

from xlsxwriter.utility import (  # type: ignore[import-untyped]
    _preserve_whitespace,
    _utf16_len,
    _utf16_truncate,
)
from xlsxwriter.worksheet import Worksheet  # type: ignore[import-untyped]

from batch.report.text import cell_text

_STRMAX = 32767  # Excel's longest cell text, in UTF-16 units (xlsxwriter cuts longer ones)
# Characters XML 1.0 (so Excel) refuses in a cell: dropped, as openpyxl's writer did.
_ILLEGAL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
# What xlsxwriter's in-line string writer changes: "_xHHHH_" look-alikes, control characters,
# XML's own characters, the two non-characters; spaces at either end need "preserve".
_NEEDS_CARE = re.compile(r"_x[0-9a-fA-F]{4}_|[\x00-\x08\x0b-\x1f&<>\ufffe\uffff]|^\s|\s$")
# Text that goes into a cell as it is: printable ASCII that neither cell_text (formula starts,
# control characters) nor the XML (escapes, "_xHHHH_" look-alikes, spaces at either end)
# changes, and too short to pass Excel's limit. Most of a report's cells are such text; the
# rest take the careful way. (str methods and `in`: a regex search costs ~4x as much.)
_CHANGED_AT_START = "=+-@ "
_PLAIN_MAX = _STRMAX // 2


def shown_text(value: str) -> str:
    """Text as a cell holds it: control and bidi characters shown (issue 12), formula starts
    neutralised, and anything else Excel refuses dropped."""
    return _ILLEGAL.sub("", cell_text(value))


def inline_string(text: str) -> str:
    """The `<is>` element of an in-line string cell holding `text`, as xlsxwriter writes it
    (too long a text cut to Excel's limit, control characters as _xHHHH_, XML escaped,
    whitespace at either end kept). Unlike xlsxwriter, text that looks like rich-text XML
    ("<r>…</r>") is escaped too: it is a sheet's text, never markup (xlsxwriter wrote it as
    it was, and "<r>x</r>" made a workbook Excel cannot open)."""
    if len(text) > _PLAIN_MAX and _utf16_len(text) > _STRMAX:
        text = _utf16_truncate(text, _STRMAX)
    if not _NEEDS_CARE.search(text):
        return f"<is><t>{text}</t></is>"
    text = Worksheet._escape_control_characters(text)
    preserve = ' xml:space="preserve"' if _preserve_whitespace(text) else ""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<is><t{preserve}>{text}</t></is>"


def plain_text(value: str) -> bool:
    """Whether `value` goes into a cell's XML as it is (see _CHANGED_AT_START)."""
    return (
        value.isascii() and value.isprintable() and len(value) <= _PLAIN_MAX
        and value[:1] not in _CHANGED_AT_START and value[-1:] != " "  # "" is in any str
        and "&" not in value and "<" not in value and ">" not in value and "_x" not in value
    )


def text_cell(ref: str, style: str, value: str) -> str:
    """Cell `ref` (e.g. "B7") holding `value` as shown_text, with `style` (' s="N"' or "").
    Empty text is a blank cell, as xlsxwriter's write_string makes it (none without a style)."""
    if not value:
        return f'<c r="{ref}"{style}/>' if style else ""
    if plain_text(value):
        return f'<c r="{ref}"{style} t="inlineStr"><is><t>{value}</t></is></c>'
    return f'<c r="{ref}"{style} t="inlineStr">{inline_string(shown_text(value))}</c>'


def number_cell(ref: str, style: str, value: object) -> str:
    """Cell `ref` holding a number (int, float, Decimal), written as xlsxwriter writes one:
    16 significant digits; a Decimal as its own digits."""
    return f'<c r="{ref}"{style}><v>{value:.16G}</v></c>'


class TableSheet(Worksheet):  # type: ignore[misc]
    """A constant-memory worksheet that also takes whole rows as prepared XML."""

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

    def write_row_xml(self, row: int, cells: str, first_col: int, last_col: int) -> None:
        """Write row `row` (0-based) whole: `cells` is its `<c>` elements in column order,
        `first_col`..`last_col` the columns they fill. Rows only go forward."""
        first = row == 0 and self.dim_rowmax is None  # type: ignore[has-type]  # nothing yet
        if not self.constant_memory or (row <= self.previous_row and not first):
            raise ValueError(f"TableSheet: row {row} is not after the last row written")
        self._write_single_row(row)  # what xlsxwriter holds (e.g. the header) goes first
        if not cells:
            return
        if row >= self.xls_rowmax:
            raise ValueError(f"TableSheet: row {row + 1} is past Excel's last row")
        # The sheet's used area (its <dimension>), as xlsxwriter keeps it cell by cell
        # (xlsxwriter's attributes are untyped: hence the ignores).
        if self.dim_rowmin is None:  # type: ignore[has-type]
            self.dim_rowmin = row
        self.dim_rowmax = row
        if self.dim_colmin is None or first_col < self.dim_colmin:  # type: ignore[has-type]
            self.dim_colmin = first_col
        if self.dim_colmax is None or last_col > self.dim_colmax:  # type: ignore[has-type]
            self.dim_colmax = last_col
        self.fh.write(f'<row r="{row + 1}">{cells}</row>')
